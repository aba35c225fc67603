"""Control metrics on constructed tracks: followers, leak-free and leaking sequences."""
from __future__ import annotations

import numpy as np
import pytest

from actalker.errors import InputError, ShapeError
from actalker.eval.control import (aggregate, audio_envelope, bootstrap_ci, builtin_signals, clip_metrics, motion_eye_track,
                                   pearson)
from actalker.eval.runner import markdown_table, parse_gate_settings

N = 60


def _smooth(rng, n=N):
    return np.convolve(rng.normal(size=n + 8), np.ones(9) / 9, mode="valid")


def _tracks(seed):
    rng = np.random.default_rng(seed)
    return _smooth(rng), _smooth(rng)  # audio envelope, motion eye track: independent


def test_perfect_follower_and_leak_free():
    audio, eye = _tracks(0)
    m = clip_metrics(mouth=2 * audio + 1, eyes=0.1 * eye, audio_env=audio, motion_eye=eye)
    assert m["mouth_audio"] == pytest.approx(1.0) and m["eyes_motion"] == pytest.approx(1.0)
    assert m["leak_mouth_motion"] == pytest.approx(abs(np.corrcoef(audio, eye)[0, 1]), rel=1e-9)
    assert m["leak_mouth_motion"] > 0.01  # the two random tracks do correlate a little


def test_pearson_against_hand_values_and_numpy():
    # x = (1, 2, 3), y = (2, 4, 7): deviations (-1, 0, 1), (-7/3, -1/3, 8/3);
    # r = 5 / (sqrt(2) * sqrt(114) / 3) = 15 / sqrt(228)
    assert pearson([1, 2, 3], [2, 4, 7]) == pytest.approx(15 / np.sqrt(228), rel=1e-12)
    assert pearson([1, 2, 3], [7, 4, 2]) == pytest.approx(-15 / np.sqrt(228), rel=1e-12)  # sign kept
    assert pearson([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0, rel=1e-12)
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=50), rng.normal(size=50) + 0.1 * np.arange(50)
    assert pearson(a, b) == pytest.approx(np.corrcoef(a, b)[0, 1], rel=1e-12)
    assert pearson(a, 3 * a - 2) == pytest.approx(1.0, rel=1e-12)


def test_leaking_sequence_is_detected():
    rows, tracks = [], []
    for seed in range(12):
        audio, eye = _tracks(seed)
        eyes = eye + 1.5 * audio  # the eyes move with the audio: leakage
        rows.append(clip_metrics(audio, eyes, audio, eye))
        tracks.append({"measured": {"mouth": audio, "eyes": eyes}, "signals": builtin_signals(audio, eye)})
    agg = aggregate(rows, tracks)
    leak = agg["leak_eyes_audio"]
    assert leak["mean"] > 0.7 and leak["lo"] > leak["chance"] + 0.3
    assert agg["leak_mouth_motion"]["mean"] < 0.5  # the mouth does not leak


def test_truth_level_of_a_leakage_is_what_the_ground_truth_itself_reads():
    # The clip's truth mouth happens to correlate with the eye signal: a perfect model would
    # read that as leakage. The truth level says so (the chance level, another clip's
    # signal, does not); the measured leakage stays the generated mouth's own.
    rows, tracks = [], []
    for seed in range(8):
        audio, eye = _tracks(seed)
        mouth_truth = audio + 0.8 * eye  # coincidence in the data, not in the model
        truth = {"mouth_open": mouth_truth, "eye_open": eye}
        rows.append(clip_metrics(audio, eye, audio, eye, truth=truth))
        tracks.append({"measured": {"mouth": audio, "eyes": eye}, "signals": builtin_signals(audio, eye)})
        assert rows[-1]["leak_mouth_motion"] == pytest.approx(abs(np.corrcoef(audio, eye)[0, 1]), rel=1e-9)
        assert rows[-1]["floor_leak_mouth_motion"] == pytest.approx(abs(np.corrcoef(mouth_truth, eye)[0, 1]), rel=1e-9)
    agg = aggregate(rows, tracks)
    leak = agg["leak_mouth_motion"]
    assert leak["truth"] == pytest.approx(np.mean([r["floor_leak_mouth_motion"] for r in rows]))
    assert leak["truth"] > leak["chance"] + 0.2 and leak["truth"] > leak["mean"] + 0.2
    assert "floor_leak_mouth_motion" not in agg
    assert "truth" not in agg["mouth_audio"]  # following metrics have no leakage levels
    assert "(chance " in markdown_table({"settings": [{"name": "audio=1", "metrics": agg, "clips": rows}]})
    assert f"truth {leak['truth']:.2f})" in markdown_table({"settings": [{"name": "audio=1", "metrics": agg, "clips": rows}]})


def test_constant_track_follows_nothing():
    audio, _ = _tracks(1)
    assert pearson(np.full(N, 0.3), audio) == 0.0
    m = clip_metrics(np.zeros(N), np.zeros(N), audio, audio)
    assert m["mouth_audio"] == 0.0 and m["mouth_std"] == 0.0
    with pytest.raises(ShapeError):
        pearson(np.zeros(5), np.zeros(6))


def test_bootstrap_ci_brackets_the_mean_and_is_seeded():
    v = np.random.default_rng(2).normal(0.5, 0.1, 30)
    lo, hi = bootstrap_ci(v)
    assert lo < v.mean() < hi and hi - lo < 0.2
    assert bootstrap_ci(v) == (lo, hi)


def test_audio_envelope_and_motion_eye_track():
    t = np.arange(16000) / 16000
    audio = np.sin(2 * np.pi * 200 * t) * (t > 0.5)  # silence, then a tone
    env = audio_envelope(audio, 25.0, 25)
    assert env[:10].max() < 1e-6 and env[15:].min() > 0.6
    motion = np.zeros((4, 58), np.float32)
    from actalker.media.face import MOTION_FEATURE_NAMES

    motion[:, MOTION_FEATURE_NAMES.index("eyeBlinkLeft")] = [0, 1, 0.5, 0]
    motion[:, MOTION_FEATURE_NAMES.index("eyeBlinkRight")] = [0, 1, 0.5, 1]
    assert np.allclose(motion_eye_track(motion), [1, 0, 0.5, 0.5])


def test_gate_settings_and_table():
    s = parse_gate_settings("audio=1,motion=1; audio=1", ["audio", "motion"])
    assert s == [{"audio": 1.0, "motion": 1.0}, {"audio": 1.0, "motion": 0.0}]
    for bad in ("eeg=1", "audio=x", "audio=-1", " ; "):
        with pytest.raises(InputError):
            parse_gate_settings(bad, ["audio", "motion"])
    audio, eye = _tracks(3)
    rows = [clip_metrics(audio, eye, audio, eye)] * 3
    table = markdown_table({"settings": [{"name": "audio=1,motion=1", "clips": rows, "metrics": aggregate(rows)}]})
    assert "mouth~audio" in table and "+1.00" in table


def test_mouth_copying_the_drivers_mouth_is_caught_as_leakage():
    from actalker.eval.control import clip_metrics, motion_mouth_track
    from actalker.media.face import MOTION_FEATURE_NAMES

    rng = np.random.default_rng(3)
    n = 200
    motion = np.zeros((n, len(MOTION_FEATURE_NAMES)), np.float32)
    driver = np.clip(np.convolve(rng.random(n + 4), np.ones(5) / 5, "valid"), 0, 1)
    motion[:, MOTION_FEATURE_NAMES.index("jawOpen")] = driver
    audio_env = np.convolve(rng.random(n + 4), np.ones(5) / 5, "valid")
    leaking = clip_metrics(driver, rng.random(n), audio_env, motion_mouth=motion_mouth_track(motion))
    clean = clip_metrics(audio_env, rng.random(n), audio_env, motion_mouth=motion_mouth_track(motion))
    assert leaking["leak_mouth_driver"] > 0.99
    assert clean["leak_mouth_driver"] < 0.3 and clean["mouth_audio"] > 0.99


def test_every_metric_has_a_table_label():
    from actalker.eval.control import FOLLOW, LEAK
    from actalker.eval.runner import LABELS

    assert set(FOLLOW + LEAK) <= set(LABELS)
