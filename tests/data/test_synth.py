import json

import numpy as np
import pytest

from actalker.data.clip import Clip
from actalker.data.synth import signals
from actalker.data.synth.world import TRUTH_NAMES, make_clip
from actalker.media.face import MOTION_FEATURE_NAMES


def _r(a, b):
    return float(np.corrcoef(a, b)[0, 1])


def test_same_seed_same_clip_other_seed_differs():
    a = make_clip(7, 3, num_frames=12, size=32, speech_source="syllables")
    b = make_clip(7, 3, num_frames=12, size=32, speech_source="syllables")
    c = make_clip(8, 3, num_frames=12, size=32, speech_source="syllables")
    for k in ("frames", "audio", "landmarks", "motion"):
        np.testing.assert_array_equal(a[k], b[k])
    assert not np.array_equal(a["frames"], c["frames"]) and not np.array_equal(a["audio"], c["audio"])
    assert a["frames"].shape == (12, 32, 32, 3) and a["frames"].dtype == np.uint8
    assert len(a["audio"]) == 12 * 640 and set(a["truth"]) == set(TRUTH_NAMES)


@pytest.mark.parametrize("source", ["syllables", "espeak"])
def test_mouth_follows_audio_eyes_do_not(source):
    if source == "espeak" and not signals.espeak_available():
        pytest.skip("espeak-ng not installed (apt-get install espeak-ng); the syllable fallback is tested")
    rng = np.random.default_rng(0)
    fps, n = 25.0, 750  # 30 s
    audio, used = signals.speech(n / fps, rng, source)
    assert used == source and len(audio) == n * 640
    audio = signals.normalise_audio(audio, fps, n)
    mouth = signals.mouth_from_audio(audio, fps, n)
    env = signals.frame_rms(audio, fps, n)
    assert _r(mouth, env) > 0.9
    assert mouth.min() >= 0 and mouth.max() <= 1 and mouth.std() > 0.15  # it really moves
    track = signals.motion_track(n, fps, np.random.default_rng(1))
    assert abs(_r(track["eye_open"], env)) < 0.3 and abs(_r(track["brow_raise"], env)) < 0.3
    assert track["eye_open"].std() > 0.1 and track["eye_open"].min() < 0.1  # blinks close the eye


def test_motion_features_match_truth():
    c = make_clip(0, 0, num_frames=20, size=32, speech_source="syllables")
    col = {n: i for i, n in enumerate(MOTION_FEATURE_NAMES)}
    t, m = c["truth"], c["motion"]
    np.testing.assert_allclose(m[:, col["jawOpen"]], t["driver_mouth"])
    # the driver's mouth is talking-like but independent of the clip's own speech
    assert t["driver_mouth"].std() > 0.1
    long = make_clip(0, 1, num_frames=250, size=16, speech_source="syllables")["truth"]
    assert abs(_r(long["driver_mouth"], long["mouth_open"])) < 0.3
    np.testing.assert_allclose(m[:, col["eyeBlinkLeft"]], 1 - t["eye_open"], atol=1e-6)
    np.testing.assert_allclose(m[:, col["browInnerUp"]], t["brow_raise"])
    np.testing.assert_allclose(m[:, col["yaw"]], t["yaw"])


def test_synth_command_writes_world_and_sheet(tmp_path, capsys):
    from actalker.commands import synth

    class A:
        out, clips, seed, frames, size, fps = tmp_path / "w", 5, 1, 10, 32, 25.0
        clips_per_identity, speech, contact_sheet, quiet, prompts = 1, "syllables", tmp_path / "sheet.png", True, False
    assert synth.run(A) == 0
    m = json.loads((tmp_path / "w" / "manifest.json").read_text())
    assert len(m["clips"]) == 5 and m["kind"] == "synthetic"
    c = Clip.read(tmp_path / "w" / m["clips"][0]["path"])
    assert c.meta["source"]["speech"] == "syllables" and set(c.truth) == set(TRUTH_NAMES)
    from PIL import Image
    assert Image.open(tmp_path / "sheet.png").size[0] > 32 * 6


def test_auto_speech_falls_back_without_espeak(monkeypatch, tmp_path):
    monkeypatch.setattr(signals.shutil, "which", lambda name: None)
    audio, used = signals.speech(1.0, np.random.default_rng(0), "auto")
    assert used == "syllables" and len(audio) == 16000 and np.abs(audio).max() > 0.1
    from actalker.commands import synth
    from actalker.errors import InputError

    class A:
        out, clips, seed, frames, size, fps = tmp_path / "w", 1, 0, 4, 32, 25.0
        clips_per_identity, speech, contact_sheet, quiet, prompts = 1, "espeak", None, True, False
    with pytest.raises(InputError, match="espeak-ng is not installed"):
        synth.run(A)
