"""The pipeline's step interface: callbacks per window and per step, and the output object
carrying the settings as resolved (what `OUT.json` records)."""
from __future__ import annotations

import numpy as np
import torch

from actalker.core.windows import window_indices
from tests.core.test_pipeline import BOX, pipe, portrait, signals  # noqa: F401  (pipe: fixture)


def test_window_and_step_callbacks(pipe):  # noqa: F811
    seen, steps_seen = [], []

    def on_window(p, step, j, idx, pred):
        assert p is pipe and pred.shape[1] == len(idx)
        seen.append((step, j, tuple(idx.tolist())))

    def on_step(p, step, t, kw):
        steps_seen.append(step)
        return {"latents": torch.zeros_like(kw["latents"])} if step == 1 else None

    out = pipe(portrait(), signals(5), boxes=BOX, num_inference_steps=2, window=3, window_shift=1, seed=1,
               output_type="latent", callback_on_window=on_window, callback_on_step_end=on_step)
    want = [(i, j, tuple(idx.tolist())) for i in range(2) for j, idx in enumerate(window_indices(5, 3, 1, step=i))]
    assert seen == want and steps_seen == [0, 1]
    assert torch.count_nonzero(out) == 0  # the last step's callback replaced the latents


def test_output_carries_resolved_settings(pipe):  # noqa: F811
    kw = dict(boxes=BOX, seed=4, num_inference_steps=1)
    plain = pipe(portrait(), {"a": signals(3)["a"]}, **kw)
    out = pipe(portrait(), {"a": signals(3)["a"]}, return_dict=True, **kw)
    assert np.array_equal(out.frames, plain)
    s = out.settings
    cfg = pipe.config
    assert (s.num_frames, s.steps, s.seed, s.height, s.width) == (3, 1, 4, cfg.sampling.height, cfg.sampling.width)
    assert s.gates == {"a": 1.0, "b": 0.0}  # a: its default gate; b: no signal, so off
    assert s.reference_scale == cfg.guidance.reference_scale and s.guidance_scales == cfg.guidance.scales
    sched = pipe(portrait(), signals(3), gates={"b": [0.0, 0.5, 1.0]}, return_dict=True, **kw).settings
    assert sched.gates == {"a": 1.0, "b": [0.0, 0.5, 1.0]}
