import numpy as np
import pytest
import torch

from actalker.data.dataset import ClipDataset
from actalker.data.manifest import build_manifest
from actalker.errors import InputError
from tests.data.helpers import numbered_clip


@pytest.fixture
def root(tmp_path):
    # identities a, b, c -> one per split; all clips put in "train" by listing split="all"
    numbered_clip(tmp_path / "clips" / "a", n=40, identity="a")
    numbered_clip(tmp_path / "clips" / "b", n=40, identity="b", audio=False)
    numbered_clip(tmp_path / "clips" / "c", n=40, identity="c")
    build_manifest(tmp_path)
    return tmp_path


def test_window_shapes_values_and_audio_alignment(root):
    ds = ClipDataset(root, "all", num_frames=8, size=24, fps=25, require_audio=True, seed=3)
    assert len(ds) == 2
    item = ds[0]
    assert item["frames"].shape == (8, 3, 24, 24) and item["frames"].min() >= -1 and item["frames"].max() <= 1
    assert item["landmarks"].shape == (8, 478, 3) and item["boxes"].shape == (8, 4) and item["motion"].shape == (8, 58)
    idx = item["truth"]["index"].numpy()
    np.testing.assert_array_equal(np.diff(idx), 1)
    assert item["motion"][:, 0].tolist() == idx.tolist()
    assert item["audio"].shape == (8 * 640,)
    # the audio ramp encodes time: its first sample is the window's start time / clip duration
    assert abs(float(item["audio"][0]) - item["start"] / 1.6) < 1e-3
    assert abs(item["start"] - idx[0] / 25) < 1e-6


def test_fps_conversion_by_nearest_time(root):
    ds = ClipDataset(root, "all", num_frames=6, size=None, fps=12.5, seed=0)
    item = ds[1]
    idx = item["truth"]["index"].numpy()
    np.testing.assert_array_equal(np.diff(idx), 2)  # 25 -> 12.5 fps takes every 2nd frame
    assert (item["frames"][:, 0, 0, 0] + 1) * 127.5 == pytest.approx(torch.tensor(idx), abs=1e-3)
    assert "audio" not in item  # clip b has no audio
    ds50 = ClipDataset(root, "all", num_frames=20, size=None, fps=50, seed=0)
    i50 = ds50[0]["truth"]["index"].numpy()
    assert (np.diff(i50) >= 0).all() and np.bincount(i50.astype(int) - int(i50[0])).max() == 2  # each frame twice


def test_too_short_and_require_audio(root):
    with pytest.raises(InputError, match="no clips.*long enough"):
        ClipDataset(root, "all", num_frames=41, fps=25)
    assert len(ClipDataset(root, "all", num_frames=4, require_audio=False)) == 3


def test_dataloader_two_workers_random_windows(root):
    ds = ClipDataset(root, "all", num_frames=4, size=16, fps=25, require_audio=True, samples_per_clip=8)
    loader = torch.utils.data.DataLoader(ds, batch_size=4, num_workers=2, shuffle=False)
    starts = []
    for batch in loader:
        assert batch["frames"].shape == (4, 4, 3, 16, 16) and batch["audio"].shape == (4, 2560)
        assert len(batch["clip_id"]) == 4 and batch["truth"]["index"].shape == (4, 4)
        starts += batch["start"].tolist()
    assert len(starts) == 16 and len(set(starts)) > 4  # workers do not repeat each other's windows
    fixed = ClipDataset(root, "all", num_frames=4, require_audio=True, seed=1)
    assert fixed[0]["start"] == fixed[0]["start"]


def test_random_reference_comes_from_the_whole_clip(root):
    ds = ClipDataset(root, "all", num_frames=4, size=16, fps=25, seed=5, reference="random")
    first = ClipDataset(root, "all", num_frames=4, size=16, fps=25, seed=5)
    assert "reference" not in first[0]
    refs, gaps = set(), []
    for i in range(len(ds)):
        for rep in range(12):
            ds.seed = first.seed = 5 + 100 * rep
            item = ds[i]
            # frame k has every pixel = k: the reference says which frame it is
            k = int(round((float(item["reference"].mean()) + 1) * 127.5))
            assert item["reference"].shape == (3, 16, 16)
            assert item["reference_landmarks"].shape == (1, 478, 3) and item["reference_boxes"].shape == (1, 4)
            torch.testing.assert_close(item["frames"], first[i]["frames"])  # the window is unchanged
            refs.add(k)
            gaps.append(abs(k - int(item["truth"]["index"][0])))
    assert len(refs) > 10 and max(gaps) > 10  # spread over the clip, often far from the window
    with pytest.raises(InputError, match="reference"):
        ClipDataset(root, "all", num_frames=4, reference="last")
