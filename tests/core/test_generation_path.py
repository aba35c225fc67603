"""The generation path checked against independent oracles written here (issue 18, items 1-2).

1. Windowed generation: with more frames than one window and signals and gates that change
   every frame, each window's denoiser call gets exactly its own frames' condition tokens
   and gates (a slice handing every window the first window's tokens fails here).
2. Guided passes: the guided output equals the chained sum over passes computed by hand,
   with the unconditional pass dropping the reference latent and identity and each pass
   getting null tokens for the branches outside its prefix.
"""
from __future__ import annotations

import torch

from actalker.core.windows import window_indices
from tests.core.test_pipeline import BOX, SIZE, pipe, portrait, signals  # noqa: F401  (pipe: fixture)


class Recorder:
    """Wraps the denoiser's forward and keeps the inputs of every call."""

    def __init__(self, den):
        self.calls: list[dict] = []
        self._orig, self.den = den.forward, den

        def forward(sample, timestep, *args, **kwargs):
            self.calls.append(dict(sample=sample.clone(), **{k: kwargs.get(k) for k in (
                "condition_tokens", "gates", "identity")}))
            return self._orig(sample, timestep, *args, **kwargs)

        den.forward = forward

    def restore(self):
        self.den.forward = self._orig


def test_each_window_gets_its_own_frames_tokens_and_gates(pipe):  # noqa: F811
    frames, window, shift, steps = 7, 3, 2, 2
    feats = signals(frames, seed=21)  # random per frame: every frame's tokens differ
    gates = {"a": torch.linspace(0.2, 1.0, frames), "b": torch.tensor([0.0, 0.0, 0.0, 1.0, 0.5, 0.8, 0.3])}
    rec = Recorder(pipe.denoiser)
    try:
        pipe(portrait(), feats, gates=gates, boxes=BOX, num_inference_steps=steps, window=window,
             window_shift=shift, seed=2, output_type="latent")
    finally:
        rec.restore()
    with torch.no_grad():
        real = pipe.denoiser.encode_conditions({k: v[None] for k, v in feats.items()})
        null = pipe.denoiser.encode_conditions({k: torch.zeros_like(v)[None] for k, v in feats.items()})

    expected = [idx for i in range(steps) for idx in window_indices(frames, window, shift, step=i)]
    assert len(expected) > steps  # several windows per step, and origins that move
    assert len({tuple(i.tolist()) for i in expected}) > 2
    assert len(rec.calls) == len(expected)
    for call, idx in zip(rec.calls, expected):
        rows = call["sample"].shape[0]
        assert call["sample"].shape[1] == len(idx)
        for k, sched in gates.items():
            torch.testing.assert_close(call["gates"][k], sched[idx][None].expand(rows, -1), rtol=0, atol=0)
        open_ = {k for k, g in gates.items() if bool((g[idx] > 0).any())}
        for k in feats:
            tok = call["condition_tokens"][k]
            # last pass: everything on; first pass (unconditional): null for every open branch
            torch.testing.assert_close(tok[-1:], real[k][:, idx], rtol=0, atol=0)
            torch.testing.assert_close(tok[:1], (null if k in open_ else real)[k][:, idx], rtol=0, atol=0)


def test_guided_output_is_the_chained_sum_of_passes_by_hand(pipe):  # noqa: F811
    """One window, one step, per-frame gates; the four passes (uncond, ref, ref+a,
    ref+a+b) are run here with the denoiser and combined with the paper's formula."""
    from diffusers import EulerDiscreteScheduler

    from actalker.core.sampling import added_time_ids, encode_reference, fit_image, svd_scheduler_config

    frames, seed, s_ref, s_a, s_b = 3, 13, 2.5, 3.0, 1.5
    feats = signals(frames, seed=9)
    gates = {"a": torch.tensor([1.0, 0.6, 0.9]), "b": torch.tensor([0.4, 1.0, 0.7])}
    image = portrait(seed=3)
    got = pipe(image, feats, gates=gates, boxes=BOX, num_inference_steps=1, seed=seed, guidance_batch=1,
               reference_scale=s_ref, guidance_scales={"a": s_a, "b": s_b}, guidance_order=["a", "b"],
               output_type="latent")

    s = pipe.config.sampling
    gen = torch.Generator().manual_seed(seed)
    ref = encode_reference(pipe.vae, fit_image(image, SIZE, SIZE)[0], s.noise_aug_strength, gen)
    sched = EulerDiscreteScheduler(**svd_scheduler_config())
    sched.set_timesteps(1)
    t = sched.timesteps[0]
    latents = torch.randn((1, frames, *ref.shape[1:]), generator=gen) * sched.init_noise_sigma
    x = sched.scale_model_input(latents, t)
    boxes = torch.tensor([BOX])
    masks = {name: spec.mask(None, boxes, SIZE, SIZE) for name, spec in pipe.registry.regions.items()}
    time_ids = added_time_ids(s.fps, s.motion_bucket_id, s.noise_aug_strength)
    real = {k: v[None] for k, v in feats.items()}
    null = {k: torch.zeros_like(v) for k, v in real.items()}  # the fake modalities' null features
    ref_on = ref[:, None].expand(-1, frames, -1, -1, -1)

    def eps(reference: bool, on: set) -> torch.Tensor:
        # identity None: the learned encoder reads the (zeroed or not) reference latent itself
        sample = torch.cat([x, ref_on if reference else torch.zeros_like(ref_on)], dim=2)
        cond = {k: (real[k] if k in on else null[k]) for k in real}
        with torch.no_grad():
            return pipe.denoiser(sample, t, time_ids, conditions=cond, gates={k: g[None] for k, g in gates.items()},
                                 region_masks=masks, face_mask=masks["whole"][:, None], return_dict=False)[0]

    e_u, e_ref, e_a, e_ab = eps(False, set()), eps(True, set()), eps(True, {"a"}), eps(True, {"a", "b"})
    guided = e_u + s_ref * (e_ref - e_u) + s_a * (e_a - e_ref) + s_b * (e_ab - e_a)
    want = sched.step(guided, t, latents).prev_sample
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)
    # the passes differ enough that dropping or swapping one would show
    assert min((e_u - e_ref).abs().max(), (e_a - e_ref).abs().max(), (e_ab - e_a).abs().max()) > 1e-3
