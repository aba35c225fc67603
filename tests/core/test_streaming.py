"""Streaming generation: windows in order with no gap, one window equals the non-streaming
path, and on the demo model no seam at the joins (frame-to-frame change there no larger
than inside windows)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from actalker.core.sampling import decode_latents, frames_to_uint8
from actalker.core.streaming import _decode, decode_context, window_starts
from actalker.demo.model import demo_model_present
from actalker.errors import InputError
from tests.core.test_pipeline import BOX, pipe, portrait, signals  # noqa: F401  (pipe: the tiny fixture)


def test_window_starts_cover_every_frame_and_end_at_the_last():
    assert window_starts(5, 8, 2) == [0]
    assert window_starts(20, 8, 2) == [0, 6, 12]
    assert window_starts(21, 8, 2) == [0, 6, 12, 13]


@pytest.mark.parametrize("chunk,overlap", [(2, 0), (3, 0), (2, 1), (4, 2)])
def test_a_range_decodes_as_in_the_whole_clip(pipe, chunk, overlap):  # noqa: F811
    """Frames start..stop decoded from the finished latents 0..done (done - stop >= the
    decode context, or the clip's end) equal the same frames of the whole clip's decode:
    a frame decoded at a chunk's edge showed as a jump at every window join."""
    from types import SimpleNamespace

    settings = SimpleNamespace(decode_chunk=chunk, decode_overlap=overlap)
    latents = torch.randn(1, 17, 4, 2, 2, generator=torch.Generator().manual_seed(chunk + 10 * overlap))
    whole = frames_to_uint8(decode_latents(pipe.vae, latents, chunk, overlap)[0])
    ctx = decode_context(settings)
    for start, stop in [(0, 5), (5, 9), (6, 11), (11, 17)]:
        done = 17 if stop == 17 else stop + ctx
        assert np.array_equal(_decode(pipe, latents, start, stop, done, settings), whole[start:stop]), (start, stop)


def test_one_window_equals_the_non_streaming_path(pipe):  # noqa: F811
    kw = dict(boxes=BOX, num_frames=3, seed=5, num_inference_steps=2)
    chunks = list(pipe.stream(portrait(), signals(3), **kw))
    assert len(chunks) == 1 and chunks[0].start == 0
    assert np.array_equal(chunks[0].frames, pipe(portrait(), signals(3), **kw))


def test_chunks_are_in_order_with_no_gap_and_report_progress(pipe):  # noqa: F811
    seen = []
    chunks = list(pipe.stream(portrait(), signals(11), boxes=BOX, num_frames=11, seed=0, num_inference_steps=1,
                              window=4, overlap=1, progress=lambda *a: seen.append(a)))
    starts = [c.start for c in chunks]
    assert starts[0] == 0 and all(b == a + len(c.frames) for a, b, c in zip(starts, starts[1:], chunks))
    assert sum(len(c.frames) for c in chunks) == 11 and chunks[-1].windows == len(window_starts(11, 4, 1))
    assert seen[0] == ("prepare", 0, 1) and seen[-1] == ("windows", chunks[-1].windows, chunks[-1].windows)
    with pytest.raises(InputError, match="overlap must be"):
        list(pipe.stream(portrait(), signals(11), boxes=BOX, num_frames=11, window=4, overlap=4))


@pytest.mark.skipif(not demo_model_present(), reason="needs the embedded demo model")
def test_no_seam_at_window_joins_on_the_demo_model():
    from actalker.demo.model import load_demo_pipeline
    from actalker.demo.run import conditions_for, make_inputs

    pipe = load_demo_pipeline()
    inputs = make_inputs(num_frames=26, size=int(pipe.config.sampling.height), fps=float(pipe.config.sampling.fps))
    face = inputs["face"]
    chunks = list(pipe.stream(np.asarray(face["frames"][0]), conditions_for(pipe, inputs), num_frames=26, seed=0,
                              num_inference_steps=3, landmarks=np.asarray(face["landmarks"][:1], np.float32),
                              boxes=np.asarray(face["boxes"][:1], np.float32)))
    video = np.concatenate([c.frames for c in chunks]).astype(np.float32)
    change = np.abs(np.diff(video, axis=0)).mean(axis=(1, 2, 3))  # change[i]: frame i -> i + 1
    joins = [c.start - 1 for c in chunks[1:]]
    inside = np.delete(change, joins)
    assert len(joins) >= 2
    assert change[joins].max() <= inside.max(), (change[joins], inside.max())
    assert change[joins].mean() <= inside.mean() * 1.25, (change[joins].mean(), inside.mean())
