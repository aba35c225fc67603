"""preprocess: a real talking video (../shared) into a clip; skip reasons and one-line
errors on synthetic inputs (they are all raised before any face tracking, so a placeholder
face-model file stands in and these always run)."""
import json

import numpy as np
import pytest

from actalker.data.clip import Clip
from actalker.data.preprocess import PreprocessOptions, preprocess
from actalker.errors import InputError


@pytest.fixture(scope="module")
def muxed(tmp_path_factory, driving_video_path, speech_path):
    from actalker.media.audio import read_audio
    from actalker.media.video import read_video, write_video

    frames, fps = read_video(driving_video_path, max_frames=50)
    audio = read_audio(speech_path)[: 2 * 16000]
    d = tmp_path_factory.mktemp("media")
    write_video(d / "talk.mp4", frames, fps, audio=audio)
    return d


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    """A 30-frame silent video, a still image and a placeholder face-model file."""
    from PIL import Image

    from actalker.media.video import write_video

    d = tmp_path_factory.mktemp("synthetic")
    frames = np.random.default_rng(0).integers(0, 255, (30, 64, 64, 3), dtype=np.uint8)
    write_video(d / "folder" / "silent.mp4", frames, 25)
    Image.fromarray(frames[0]).save(d / "still.png")
    (d / "placeholder.task").write_bytes(b"never loaded: every error here comes before face tracking")
    return d


@pytest.mark.needs_shared
def test_real_clip_written_then_skipped_on_rerun(muxed, tmp_path, face_model_path):
    opts = PreprocessOptions(size=64, min_frames=25)
    r = preprocess(muxed / "talk.mp4", tmp_path, str(face_model_path), opts, progress=False)
    assert len(r["written"]) == 1 and not r["skipped"]
    c = Clip.read(tmp_path / "clips" / r["written"][0])
    assert c.num_frames == 50 and c.frames().shape == (50, 64, 64, 3) and len(c.audio) == 2 * 16000
    assert c.meta["source"]["kind"] == "real" and c.identity == "talk"
    xy = c.landmarks[..., :2]
    assert 0.1 < xy.min() and xy.max() < 0.95  # the face sits inside the crop, with margin
    b = c.boxes[0]
    assert 0.3 < (b[2] - b[0]) < 0.75  # face about half the crop (margin 1.8)
    assert np.abs(c.motion).sum() > 0 and c.motion.shape == (50, 58)
    r2 = preprocess(muxed / "talk.mp4", tmp_path, str(face_model_path), opts, progress=False)
    assert r2["existing"] == r["written"] and not r2["written"]
    report = json.loads((tmp_path / "preprocess_report.json").read_text())
    assert report["existing"] == r["written"]
    assert json.loads((tmp_path / "manifest.json").read_text())["kind"] == "real"


def test_skip_reasons(synthetic, tmp_path):
    silent, model = synthetic / "folder" / "silent.mp4", str(synthetic / "placeholder.task")
    r = preprocess(silent, tmp_path, model, PreprocessOptions(min_frames=40), progress=False)
    assert r["skipped"][0]["reason"].startswith("too few frames: 30 at 25 fps")
    r = preprocess(silent, tmp_path, model, PreprocessOptions(min_frames=10), progress=False)
    assert r["skipped"][0]["reason"].startswith("no audio stream")
    assert not r["written"] and not list((tmp_path / "clips").glob("*"))
    report = json.loads((tmp_path / "preprocess_report.json").read_text())
    assert report["skipped"] == r["skipped"]


def test_bad_inputs_one_clear_line(synthetic, tmp_path):
    model = str(synthetic / "placeholder.task")
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00not a video" * 100)
    for path, pattern in ((bad, "broken.mp4"), (synthetic / "still.png", "still image"),
                          (tmp_path / "none.mp4", "not found")):
        with pytest.raises(InputError, match=pattern) as e:
            preprocess(path, tmp_path / "o", model, progress=False)
        assert "\n" not in str(e.value)
    with pytest.raises(InputError, match="face model not found"):
        preprocess(synthetic / "folder" / "silent.mp4", tmp_path / "o", str(tmp_path / "missing.task"), progress=False)
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "broken.mp4").write_bytes(bad.read_bytes())
    (folder / "silent.mp4").write_bytes((synthetic / "folder" / "silent.mp4").read_bytes())
    r = preprocess(folder, tmp_path / "o2", model, PreprocessOptions(min_frames=40), progress=False)
    reasons = sorted(s["reason"] for s in r["skipped"])  # a folder run records bad files and goes on
    assert len(reasons) == 2 and "broken.mp4" in reasons[0] and reasons[1].startswith("too few frames")
