"""Shifted overlapping windows for long videos."""
from __future__ import annotations

import pytest
import torch

from actalker.core.windows import predict_windowed, window_coverage, window_indices


@pytest.mark.parametrize("num_frames", [1, 7, 25])
def test_short_video_is_one_window_in_order(num_frames):
    for step in range(4):
        (idx,) = window_indices(num_frames, window=25, shift=7, step=step)
        assert torch.equal(idx, torch.arange(num_frames))
    x = torch.randn(2, num_frames, 3)
    calls = []

    def predict(idx):
        calls.append(idx)
        return x[:, idx] * 2

    out = predict_windowed(predict, num_frames, window=25, shift=7, step=3)
    assert len(calls) == 1 and torch.equal(out, x * 2)


@pytest.mark.parametrize("num_frames,window,shift,overlap", [(26, 25, 7, 0), (60, 25, 7, 0), (61, 14, 3, 4), (100, 8, 5, 2)])
def test_every_frame_covered_every_step_and_windows_full(num_frames, window, shift, overlap):
    origins = set()
    for step in range(10):
        windows = window_indices(num_frames, window, shift, step, overlap)
        assert all(len(w) == window for w in windows)
        assert all(len(set(w.tolist())) == window for w in windows)  # no frame twice in a window
        cov = window_coverage(num_frames, window, shift, step, overlap)
        assert cov.shape == (num_frames,) and bool((cov >= 1).all())
        origins.add(int(windows[0][0]))
    assert len(origins) > 1  # the origin moves with the step


def test_windowed_average_gives_requested_length_and_exact_per_frame_values():
    num_frames, window = 53, 25
    per_frame = torch.randn(1, num_frames, 4, 2, 2)
    for step in range(5):
        out = predict_windowed(lambda idx: per_frame[:, idx].clone(), num_frames, window, shift=7, step=step)
        assert out.shape == per_frame.shape
        torch.testing.assert_close(out, per_frame)


def test_overlaps_are_averaged():
    num_frames, window = 30, 25
    # Each window predicts its own id; frames in two windows get the mean of both ids.
    windows = window_indices(num_frames, window, shift=7, step=1)
    counter = iter(range(len(windows)))
    out = predict_windowed(
        lambda idx: torch.full((1, len(idx)), float(next(counter))), num_frames, window, shift=7, step=1
    )
    want = torch.zeros(num_frames)
    cov = torch.zeros(num_frames)
    for i, w in enumerate(windows):
        want[w] += i
        cov[w] += 1
    torch.testing.assert_close(out[0], want / cov)
    assert bool((cov > 1).any())
