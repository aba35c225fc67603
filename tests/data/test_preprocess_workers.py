"""preprocess --workers N writes the same clips as one worker, records a failing video and
goes on, resumes; --shard i/n splits without overlap and --merge combines the shards."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from actalker.cli import main
from actalker.data.preprocess import PreprocessOptions, preprocess
from tests.data.helpers import ContentTracker, synthetic_videos

OPTS = PreprocessOptions(size=32, min_frames=25)


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("videos")
    synthetic_videos(folder)
    return folder


def clip_files(out: Path) -> dict[str, bytes]:
    """Every file of every clip, by relative path (meta.json, npy arrays, frames.mp4, audio)."""
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted((out / "clips").rglob("*")) if p.is_file()}


def test_workers_write_the_same_clips_as_one(videos, tmp_path):
    one = preprocess(videos, tmp_path / "one", None, OPTS, progress=False, workers=1, tracker=ContentTracker())
    two = preprocess(videos, tmp_path / "two", None, OPTS, progress=False, workers=2, tracker=ContentTracker())
    assert len(one["written"]) == 4 and one == two  # the report too, in video order
    a, b = clip_files(tmp_path / "one"), clip_files(tmp_path / "two")
    assert sorted(a) == sorted(b) and len(a) >= 4 * 5
    assert [k for k in a if a[k] != b[k]] == []  # byte for byte, arrays and mp4 alike
    ma, mb = (json.loads((tmp_path / d / "manifest.json").read_text()) for d in ("one", "two"))
    assert ma == mb


def test_a_failing_video_is_recorded_and_the_others_go_on(videos, tmp_path):
    out = tmp_path / "out"
    r = preprocess(videos, out, None, OPTS, progress=False, workers=2, tracker=ContentTracker(fail_frames=31))
    assert len(r["written"]) == 3 and len(r["failed"]) == 1
    bad = r["failed"][0]
    assert bad["file"].endswith("talk1.mp4") and bad["error"] == "RuntimeError: tracker crashed on a 31-frame video"
    assert "Traceback" in bad["traceback"]
    assert json.loads((out / "preprocess_report.json").read_text())["failed"][0]["error"] == bad["error"]
    again = preprocess(videos, out, None, OPTS, progress=False, workers=1, tracker=ContentTracker())
    assert len(again["existing"]) == 3 and len(again["written"]) == 1 and not again["failed"]  # resumed


def test_a_dying_worker_fails_its_videos_not_the_run(videos, tmp_path):
    out = tmp_path / "out"
    r = preprocess(videos, out, None, OPTS, progress=False, workers=2, tracker=ContentTracker(die_frames=31))
    died = [f for f in r["failed"] if "worker process died" in f["error"]]
    assert any(f["file"].endswith("talk1.mp4") for f in died) and len(r["written"]) + len(r["failed"]) == 4
    assert json.loads((out / "preprocess_report.json").read_text())["failed"] == r["failed"]  # a re-run retries them


def test_shards_split_without_overlap_and_merge(videos, tmp_path):
    whole = preprocess(videos, tmp_path / "whole", None, OPTS, progress=False, tracker=ContentTracker())
    parts = [preprocess(videos, tmp_path / f"s{i}", None, OPTS, progress=False, shard=(i, 3), tracker=ContentTracker())
             for i in range(3)]
    ids = [c for p in parts for c in p["written"]]
    assert sorted(ids) == sorted(whole["written"]) and [p["videos"] for p in parts] == [2, 1, 1]
    assert (tmp_path / "s0" / "preprocess_report.shard-0-of-3.json").is_file()
    assert main(["preprocess", "--merge", *(str(tmp_path / f"s{i}") for i in range(3)), "--out", str(tmp_path / "m")]) == 0
    merged = json.loads((tmp_path / "m" / "manifest.json").read_text())
    assert merged == json.loads((tmp_path / "whole" / "manifest.json").read_text())
    assert clip_files(tmp_path / "m") == clip_files(tmp_path / "whole")


def test_merge_names_a_missing_shard(videos, tmp_path, capsys):
    for i in (0, 2):
        preprocess(videos, tmp_path / "shared", None, OPTS, progress=False, shard=(i, 3), tracker=ContentTracker())
    assert main(["preprocess", "--merge", str(tmp_path / "shared"), "--out", str(tmp_path / "shared")]) == 1
    assert "no report from shard(s) 1/3" in capsys.readouterr().out
    m = json.loads((tmp_path / "shared" / "manifest.json").read_text())
    assert len(m["clips"]) == 3 and set(m["splits"]["train"]).isdisjoint(m["splits"]["test"])


@pytest.mark.parametrize("argv, message", [
    (["--shard", "3/3"], "--shard '3/3': expected i/n with 0 <= i < n"),
    (["--shard", "x"], "expected i/n"),
    (["--workers", "0"], "--workers 0: need at least 1"),
])
def test_bad_options_one_line(videos, tmp_path, capsys, argv, message):
    assert main(["preprocess", str(videos), "--out", str(tmp_path / "o"), *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_merge_two_sharded_data_sets_and_refuse_shards_of_a_changed_input(videos, tmp_path, capsys):
    import shutil

    other = tmp_path / "other"
    shutil.copytree(videos, other)
    for k in (0, 1):  # other people, so other clip ids
        (other / f"person{k}").rename(other / f"guest{k}")
    for src, name in ((videos, "a"), (other, "b")):  # two inputs, both in 2 shards
        for i in range(2):
            preprocess(src, tmp_path / name, None, OPTS, progress=False, shard=(i, 2), tracker=ContentTracker())
    assert main(["preprocess", "--merge", str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(tmp_path / "ab")]) == 0
    merged = json.loads((tmp_path / "ab" / "manifest.json").read_text())
    assert len(merged["clips"]) == 8 and merged["identities"] == ["guest0", "guest1", "person0", "person1"]
    changed = tmp_path / "changed"
    shutil.copytree(videos, changed)
    preprocess(changed, tmp_path / "c", None, OPTS, progress=False, shard=(0, 2), tracker=ContentTracker())
    (changed / "person0" / "talk0.mp4").rename(changed / "person0" / "late.mp4")
    shutil.copy(changed / "person0" / "late.mp4", changed / "person0" / "extra.mp4")
    preprocess(changed, tmp_path / "c", None, OPTS, progress=False, shard=(1, 2), tracker=ContentTracker())
    assert main(["preprocess", "--merge", str(tmp_path / "c"), "--out", str(tmp_path / "c")]) == 2
    assert "listed different inputs (4 vs 5 videos), so they may overlap" in capsys.readouterr().err


def test_merge_refuses_a_non_shard_folder(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["preprocess", "--merge", str(tmp_path / "empty"), "--out", str(tmp_path / "m")]) == 2
    assert "not a preprocess output" in capsys.readouterr().err


def test_shard_assignment_is_stable_and_disjoint():
    from actalker.data.shard import shard_videos

    base = Path("/data")
    vids = [base / f"p{k % 7}" / f"v{k}.mp4" for k in range(50)]
    shards = [shard_videos(vids[::-1], base, (i, 4)) for i in range(4)]  # listing order does not matter
    assert sorted(v for s in shards for v in s) == sorted(vids)
    assert shards == [shard_videos(vids, base, (i, 4)) for i in range(4)]


@pytest.mark.slow  # about 25 s on 2 busy cores
@pytest.mark.needs_shared
def test_real_mediapipe_workers_match_one_worker(tmp_path, face_model_path):
    """The real tracker in spawned workers gives the very same clips (landmarks, motion,
    crops) as in this process."""
    from tests.conftest import shared_file
    from actalker.media.audio import read_audio
    from actalker.media.video import read_video, write_video

    frames, fps = read_video(shared_file("media/driving_talk.mp4"), max_frames=90)
    audio = read_audio(shared_file("media/speech_52s.mp3"))[: 2 * 16000]
    for k in range(3):
        write_video(tmp_path / "in" / f"p{k}" / "talk.mp4", frames[k * 30:k * 30 + 30], fps, audio=audio[: 30 * 640])
    runs = {w: preprocess(tmp_path / "in", tmp_path / f"w{w}", str(face_model_path), OPTS, progress=False, workers=w)
            for w in (1, 2)}
    assert len(runs[1]["written"]) == 3 and runs[1] == runs[2]
    a, b = clip_files(tmp_path / "w1"), clip_files(tmp_path / "w2")
    assert sorted(a) == sorted(b) and [k for k in a if a[k] != b[k]] == []
