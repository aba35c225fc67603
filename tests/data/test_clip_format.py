import json

import numpy as np
import pytest

from actalker.data.clip import Clip, write_clip
from actalker.errors import InputError
from tests.data.helpers import numbered_clip


def test_round_trip_npy(tmp_path):
    c = numbered_clip(tmp_path / "clips" / "a", n=12)
    r = Clip.read(c.path)
    assert (r.id, r.identity, r.fps, r.num_frames) == ("a", "person", 25.0, 12)
    f = r.frames()
    assert f.dtype == np.uint8 and f.shape == (12, 16, 16, 3) and f[7].max() == 7
    assert r.frames(3, 5)[:, 0, 0, 0].tolist() == [3, 4]
    assert r.landmarks.shape == (12, 478, 3) and r.landmarks.dtype == np.float32
    assert r.boxes.shape == (12, 4) and r.motion.shape == (12, 58)
    assert r.audio.dtype == np.float32 and len(r.audio) == 12 * 640
    assert abs(float(r.audio[-1]) - 1.0) < 1e-3  # 16-bit PCM keeps the ramp
    np.testing.assert_array_equal(r.truth["index"], np.arange(12))
    assert sorted(p.name for p in c.path.iterdir()) == sorted(
        ["meta.json", "frames.npy", "audio.wav", "landmarks.npy", "boxes.npy", "motion.npy", "truth.npz"])


def test_round_trip_mp4_no_audio(tmp_path):
    frames = np.full((6, 32, 32, 3), 120, np.uint8)
    c = write_clip(tmp_path / "b", clip_id="b", identity="x", fps=25, frames=frames,
                   landmarks=np.zeros((6, 478, 3)), boxes=np.zeros((6, 4)), motion=np.zeros((6, 58)),
                   frames_format="mp4")
    assert c.audio is None and c.truth == {} and not c.has_audio
    f = c.frames()
    assert f.shape == (6, 32, 32, 3) and abs(int(f.mean()) - 120) <= 3
    assert c.frames(2, 4).shape[0] == 2


def test_write_rejects_mismatched_shapes_and_leaves_nothing(tmp_path):
    with pytest.raises(ValueError, match="landmarks"):
        write_clip(tmp_path / "c", clip_id="c", identity="x", fps=25, frames=np.zeros((4, 8, 8, 3), np.uint8),
                   landmarks=np.zeros((3, 478, 3)), boxes=np.zeros((4, 4)), motion=np.zeros((4, 58)))
    assert not (tmp_path / "c").exists()


def test_failed_write_leaves_no_half_clip(tmp_path, monkeypatch):
    def boom(*a, **k):
        raise KeyboardInterrupt
    monkeypatch.setattr("actalker.data.clip.write_wav", boom)
    with pytest.raises(KeyboardInterrupt):
        numbered_clip(tmp_path / "d", n=4)
    assert list(tmp_path.iterdir()) == []


def test_read_errors_name_the_file(tmp_path):
    with pytest.raises(InputError, match="meta.json: missing"):
        Clip.read(tmp_path / "nope")
    c = numbered_clip(tmp_path / "e", n=5)
    np.save(c.path / "boxes.npy", np.zeros((4, 4), np.float32))
    with pytest.raises(InputError, match=r"boxes.npy: expected shape \(5, 4\)"):
        Clip.read(c.path).boxes
    meta = json.loads((c.path / "meta.json").read_text())
    (c.path / "meta.json").write_text(json.dumps({**meta, "version": 99}))
    with pytest.raises(InputError, match="version 1"):
        Clip.read(c.path)
