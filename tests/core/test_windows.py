"""Shifted overlapping windows for long videos."""
from __future__ import annotations

import pytest
import torch

from actalker.core.windows import predict_windowed, window_coverage, window_indices
from actalker.errors import ConfigError


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


def test_window_starts_and_coverage_by_hand():
    # F = 30, W = 25, shift 7, step 1: stride 25 -> 2 windows, origin 7, starts 7 and 7 + 15 = 22;
    # window 0 = 7..29, 0, 1; window 1 = 22..29, 0..16 (wrapping around the frame circle)
    windows = window_indices(30, 25, shift=7, step=1)
    assert [w.tolist() for w in windows] == [list(range(7, 30)) + [0, 1], list(range(22, 30)) + list(range(17))]
    want = [2, 2] + [1] * 5 + [2] * 10 + [1] * 5 + [2] * 8  # frames 0-1, 2-6, 7-16, 17-21, 22-29
    assert window_coverage(30, 25, shift=7, step=1).tolist() == want
    # F = 61, W = 14, overlap 4, shift 3, step 2: stride 10 -> 7 windows from origin 6, starts
    # 6 + round(j * 61 / 7) = 6, 15, 23, 32, 41, 50, 58
    windows = window_indices(61, 14, shift=3, step=2, overlap=4)
    assert [int(w[0]) for w in windows] == [6, 15, 23, 32, 41, 50, 58]
    cov = torch.zeros(61, dtype=torch.long)
    for s in (6, 15, 23, 32, 41, 50, 58):
        for k in range(14):
            cov[(s + k) % 61] += 1
    assert torch.equal(window_coverage(61, 14, shift=3, step=2, overlap=4), cov)
    assert cov.sum() == 7 * 14 and cov.min() == 1 and cov.max() == 2
    # the last window (58..60, 0..10) wraps: frames 4, 5 only in it, 6 also in the first (6..19),
    # 20 only in the second (15..28)
    assert window_coverage(61, 14, shift=3, step=2, overlap=4)[[4, 5, 6, 20]].tolist() == [1, 1, 2, 1]


def test_defaults_are_no_shift_step_zero_no_overlap():
    # F = 50, W = 25: no overlap -> 2 windows from 0; overlap 1 would give 3, shift or step 1
    # would move the origin. Each default is checked where changing it changes the answer.
    assert [w.tolist() for w in window_indices(50, 25)] == [list(range(25)), list(range(25, 50))]
    assert [int(w[0]) for w in window_indices(50, 25, shift=7)] == [0, 25]  # step defaults to 0
    assert [int(w[0]) for w in window_indices(50, 25, step=3)] == [0, 25]  # shift defaults to 0
    assert window_coverage(50, 25).tolist() == [1] * 50  # overlap 1 would cover some frames twice
    # F = 30, W = 25 from origin 0: windows 0..24 and 15..29, 0..9; any other origin moves the 2s
    at_origin_0 = [2] * 10 + [1] * 5 + [2] * 10 + [1] * 5
    assert window_coverage(30, 25, shift=7).tolist() == at_origin_0
    assert window_coverage(30, 25, step=3).tolist() == at_origin_0
    for kwargs in ({}, {"shift": 7}, {"step": 3}):
        calls = []

        def predict(idx):
            calls.append(idx.tolist())
            return torch.zeros(2, len(idx), 3)  # frames on dim 1 (the default frame_dim)

        predict_windowed(predict, 50, 25, **kwargs)
        assert calls == [list(range(25)), list(range(25, 50))], kwargs


@pytest.mark.parametrize(
    "args,message",
    [
        ((0, 25), "num_frames must be >= 1, got 0"),
        ((10, 0), "sampling.window must be >= 1, got 0"),
        ((10, 4, -1), "sampling.window_shift must be >= 0, got -1"),
        ((10, 4, 0, 0, 4), r"window overlap must be in \[0, window=4\), got 4"),
        ((10, 4, 0, 0, -1), r"window overlap must be in \[0, window=4\), got -1"),
    ],
)
def test_invalid_window_arguments_name_the_setting(args, message):
    with pytest.raises(ConfigError, match=f"^{message}$"):
        window_indices(*args)


def test_smallest_valid_arguments_are_accepted():
    assert [w.tolist() for w in window_indices(1, 1)] == [[0]]
    assert [w.tolist() for w in window_indices(3, 1)] == [[0], [1], [2]]
    # the largest overlap (window - 1): stride 1, one window per frame; shift 0 is valid
    assert [int(w[0]) for w in window_indices(4, 2, shift=0, step=5, overlap=1)] == [0, 1, 2, 3]
    # F == W: one window, in order, whatever the shift
    assert [w.tolist() for w in window_indices(5, 5, shift=3, step=1)] == [list(range(5))]


def test_single_window_is_the_prediction_itself_not_a_float32_average():
    # F <= W returns predict's output untouched; the averaging path would round float64 to float32
    x = torch.full((1, 6, 2), 1.0 + 2.0 ** -40, dtype=torch.float64)
    out = predict_windowed(lambda idx: x[:, idx], 6, window=8, shift=3, step=2)
    assert out.dtype == torch.float64 and torch.equal(out, x)


def test_windowed_prediction_uses_the_overlap_and_keeps_the_dtype():
    """Mutation survivors: the overlap not passed on to window_indices, and the average
    returned in float32 whatever the prediction's dtype."""
    from actalker.core.windows import predict_windowed, window_indices

    seen = []

    def predict(idx):
        seen.append(idx.tolist())
        return idx.to(torch.float64).view(1, -1, 1) + 0.5

    out = predict_windowed(predict, num_frames=12, window=6, overlap=2)
    assert seen == [w.tolist() for w in window_indices(12, 6, 0, 0, 2)]
    assert seen != [w.tolist() for w in window_indices(12, 6, 0, 0, 0)]  # the overlap changes the windows
    assert out.dtype == torch.float64
    assert torch.allclose(out.view(-1), torch.arange(12, dtype=torch.float64) + 0.5)
