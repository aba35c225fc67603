"""preprocess: nothing written is an error (one line, exit 2), and a bad --out is found
before any video is decoded."""
from __future__ import annotations

import numpy as np
import pytest

from actalker.cli import main
from actalker.errors import OutputError


@pytest.fixture
def fake_video(tmp_path):
    p = tmp_path / "in" / "talk.mp4"
    p.parent.mkdir()
    p.write_bytes(b"not decoded in these tests")
    return p


@pytest.fixture
def no_tracker(monkeypatch, tmp_path):
    """A tracker that needs no model file (these tests never reach tracking)."""
    import actalker.media.face as face

    class Tracker:
        def __init__(self, *a, **k):
            pass

    monkeypatch.setattr(face, "FaceTracker", Tracker)


def _no_decoding(monkeypatch):
    import actalker.data.preprocess as pre

    def fail(*a, **k):
        raise AssertionError("the video was processed before the output folder was checked")

    monkeypatch.setattr(pre, "process_video", fail)


def test_out_under_a_regular_file_fails_before_any_work(fake_video, tmp_path, monkeypatch, no_tracker, capsys):
    _no_decoding(monkeypatch)
    (tmp_path / "file").write_text("x")
    assert main(["preprocess", str(fake_video), "--out", str(tmp_path / "file" / "data"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: cannot write output folder") and "is a regular file" in err and "\n" not in err


def test_read_only_out_fails_before_any_work(fake_video, tmp_path, monkeypatch, no_tracker):
    import tempfile

    from actalker.data.preprocess import preprocess

    _no_decoding(monkeypatch)

    def read_only(*a, **k):  # root ignores chmod: simulate a read-only mount
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    with pytest.raises(OutputError, match="not writable") as err:
        preprocess(fake_video, tmp_path / "ro" / "data", progress=False)
    assert "\n" not in str(err.value)


def test_single_file_skipped_is_an_error(fake_video, tmp_path, monkeypatch, no_tracker, capsys):
    import actalker.data.preprocess as pre

    monkeypatch.setattr(pre, "process_video", lambda *a, **k: ("skipped", "no face: found in 0% of frames, need 50%"))
    out = tmp_path / "data"
    assert main(["preprocess", str(fake_video), "--out", str(out), "--quiet"]) == 2
    printed = capsys.readouterr()
    assert printed.out == ""  # one line in all, not a "skipped" line before the error
    assert printed.err == f"error: preprocess wrote no clip from {fake_video}: no face: found in 0% of frames, need 50%\n"
    assert (out / "preprocess_report.json").is_file()  # the reason stays on disk
    assert not list((out / "clips").glob("*")) if (out / "clips").exists() else True


def test_folder_with_every_video_skipped_is_an_error(fake_video, tmp_path, monkeypatch, no_tracker, capsys):
    import actalker.data.preprocess as pre

    (fake_video.parent / "other.mp4").write_bytes(b"x")
    monkeypatch.setattr(pre, "process_video", lambda *a, **k: ("skipped", "too few frames"))
    # --workers 1: the patched process_video lives in this process only (workers are spawned)
    assert main(["preprocess", str(fake_video.parent), "--out", str(tmp_path / "data"), "--quiet", "--workers", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("error: preprocess wrote no clip: all 2 videos in") and "preprocess_report.json" in err


def test_already_done_is_not_an_error(fake_video, tmp_path, monkeypatch, no_tracker):
    import actalker.data.preprocess as pre

    monkeypatch.setattr(pre, "process_video", lambda *a, **k: ("existing", "talk-abc"))
    monkeypatch.setattr(pre, "build_manifest", lambda out: None)
    assert main(["preprocess", str(fake_video), "--out", str(tmp_path / "data"), "--quiet"]) == 0


@pytest.mark.needs_shared
def test_real_video_without_a_face_exits_2(tmp_path, face_model_path, capsys):
    from actalker.media.video import write_video

    y, x = np.mgrid[:64, :64]
    frames = np.repeat(np.stack([x * 4, y * 4, np.full_like(x, 90)], -1).astype(np.uint8)[None], 30, 0)
    t = np.arange(int(1.2 * 16000)) / 16000
    video = write_video(tmp_path / "wall.mp4", frames, 25, audio=(0.2 * np.sin(2 * np.pi * 220 * t)).astype(np.float32))
    code = main(["preprocess", str(video), "--out", str(tmp_path / "data"), "--face-model", str(face_model_path),
                 "--min-frames", "10", "--quiet"])
    printed = capsys.readouterr()
    assert code == 2 and printed.out == "" and len(printed.err.splitlines()) == 1, printed
    assert printed.err.startswith(f"error: preprocess wrote no clip from {video}: no face")
