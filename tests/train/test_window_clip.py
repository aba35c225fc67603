"""The clip a plugin's from_clip gets during training (a WindowClip): identity, the stored
rate, and a frame-indexed side file landing on the window's frames at another data.fps."""
from __future__ import annotations

import numpy as np
import pytest

from actalker.data.clip import Clip, write_clip
from actalker.data.dataset import ClipDataset
from actalker.data.manifest import build_manifest
from actalker.plugins.helpers import clip_source_frames, clip_times, frames_for_clip, side_file
from actalker.train.data import WindowClip

N = 40  # stored frames at 25 fps


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("clips")
    frames = np.zeros((N, 16, 16, 3), np.uint8)
    frames[:, 0, 0, 0] = np.arange(N)  # frame k carries k in one pixel
    clip = write_clip(root / "clips" / "c0", clip_id="c0", identity="person7", fps=25.0, frames=frames,
                      landmarks=np.zeros((N, 478, 3)), boxes=np.tile([0.2, 0.2, 0.8, 0.8], (N, 1)),
                      motion=np.zeros((N, 58)), truth={"marker": np.arange(N, dtype=np.float32)})
    np.save(clip.path / "marker.npy", np.arange(N) * 10.0)  # a side file indexed by STORED frame
    build_manifest(root)
    return root


@pytest.mark.parametrize("index", range(4))
def test_side_file_lands_on_the_window_frames_at_half_rate(data, index):
    ds = ClipDataset(data, split="all", num_frames=6, size=None, fps=12.5, seed=index)
    item = ds[index]
    win = WindowClip.from_item(item, 12.5)
    assert win.fps == 12.5 and win.source_fps == 25.0 and win.identity == "person7" and win.id == "c0"
    stored = item["truth"]["marker"].numpy()  # the stored frame each window frame shows
    assert np.array_equal(stored, item["frames"][:, 0, 0, 0].add(1).mul(127.5).round().numpy())
    assert np.all(np.diff(stored) == 2)  # every second stored frame at 12.5 fps
    assert np.array_equal(clip_source_frames(win), stored)
    assert np.allclose(clip_times(win), stored / 25.0)
    side = np.load(side_file(win, "marker.npy", "test"))
    assert np.array_equal(frames_for_clip(side, win, "marker.npy"), stored * 10)


def test_whole_stored_clip_is_its_own_window(data):
    clip = Clip.read(data / "clips" / "c0")
    assert clip.source_fps == clip.fps == 25.0
    assert np.array_equal(clip_source_frames(clip), np.arange(N))


def test_side_file_too_short_names_the_clip(data):
    ds = ClipDataset(data, split="all", num_frames=6, size=None, fps=12.5, seed=0)
    win = WindowClip.from_item(ds[0], 12.5)
    with pytest.raises(Exception, match="clip c0: marker.npy has 3 frames but frame"):
        frames_for_clip(np.zeros(3), win, "marker.npy")
    with pytest.raises(Exception, match="clip c0: missing .*nothing.npy"):
        side_file(win, "nothing.npy", "the test branch")
