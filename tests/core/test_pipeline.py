"""ACTalkerPipeline on tiny random components: sampling, guidance, windows, save/load, from_svd.

The tiny denoiser (tests/core/tiny_models.py) has two fake branches, ``a`` and ``b``; its
PCM mixer is attention here (the pipeline does not care which mixer runs, and it keeps
these tests fast on a CPU). Each pipeline call is 1-2 steps on 3-5 frames of 16x16.
"""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from diffusers import AutoencoderKLTemporalDecoder, EulerDiscreteScheduler, UNetSpatioTemporalConditionModel

from actalker.core.config import Config
from actalker.core.pipeline import MODEL_INDEX, ACTalkerPipeline
from actalker.core.sampling import added_time_ids, crop_boxes, crop_points, encode_reference, fit_image, svd_scheduler_config
from actalker.errors import InputError, PluginError, ShapeError
from tests.core.tiny_models import randomize_new_modules, tiny_denoiser, tiny_pcm_config, tiny_registry, tiny_unet_config

SIZE = 16
BOX = [0.15, 0.1, 0.85, 0.95]


def tiny_vae() -> AutoencoderKLTemporalDecoder:
    torch.manual_seed(3)
    return AutoencoderKLTemporalDecoder(
        block_out_channels=(32, 32), down_block_types=("DownEncoderBlock2D",) * 2, layers_per_block=1,
        latent_channels=4, sample_size=SIZE,
    )


def tiny_config(**sampling) -> Config:
    s = dict(steps=1, height=SIZE, width=SIZE, window=25, window_shift=7, decode_chunk=2)
    s.update(sampling)
    return Config.model_validate({
        "sampling": s,
        "guidance": {"reference_scale": 2.0, "scales": {"a": 3.0, "b": 1.5}},
        "model": {
            "branches": {"a": {"modality": "sig_a"}, "b": {"modality": "sig_b", "options": {"tokens": 1}}},
            "pcm": tiny_pcm_config(mixer="attention"),
            "cond_dim": 8,
            "identity": {"kind": "learned", "dim": 12},
        },
    })


class CallLog:
    """Wraps the denoiser's forward to record (batch, frames) of every call."""

    def __init__(self, den):
        self.calls = []
        self._orig = den.forward

        def forward(sample, *args, **kwargs):
            self.calls.append(tuple(sample.shape[:2]))
            return self._orig(sample, *args, **kwargs)

        den.forward = forward
        self.den = den

    def restore(self):
        self.den.forward = self._orig


@pytest.fixture(scope="module")
def pipe():
    torch.manual_seed(0)
    reg = tiny_registry()
    den = tiny_denoiser(reg, pcm=tiny_pcm_config(mixer="attention"))
    randomize_new_modules(den)  # as after training: branches change the output
    den.eval()
    p = ACTalkerPipeline(den, tiny_vae().eval(), EulerDiscreteScheduler(**svd_scheduler_config()), None, tiny_config(), reg)
    p.progress = False
    return p


def portrait(h=SIZE, w=SIZE, seed=0) -> np.ndarray:
    return np.random.RandomState(seed).randint(0, 256, (h, w, 3), dtype=np.uint8)


def signals(frames=3, seed=0) -> dict:
    g = torch.Generator().manual_seed(seed)
    return {"a": torch.randn(frames, 3, 5, generator=g), "b": torch.randn(frames, 6, generator=g)}


def test_frames_shape_and_seed_determinism(pipe):
    kw = dict(boxes=BOX, num_frames=3)
    one = pipe(portrait(20, 24), signals(4), seed=1, **kw)
    assert one.shape == (3, SIZE, SIZE, 3) and one.dtype == np.uint8
    again = pipe(portrait(20, 24), signals(4), seed=1, **kw)
    assert np.array_equal(one, again)
    other = pipe(portrait(20, 24), signals(4), seed=2, output_type="pt", **kw)
    assert other.shape == (3, 3, SIZE, SIZE)
    assert not np.array_equal(one, ((other.clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy())


def test_every_scale_one_equals_one_fully_conditional_pass(pipe):
    """With all guidance scales 1 the pipeline runs one conditional pass per step and matches
    a plain sampling loop written here with the denoiser called directly."""
    feats, image, steps, seed = signals(3, seed=5), portrait(), 2, 11
    gates = {"a": 1.0, "b": 0.7}
    log = CallLog(pipe.denoiser)
    try:
        got = pipe(image, feats, gates=gates, boxes=BOX, num_inference_steps=steps, seed=seed,
                   reference_scale=1.0, guidance_scales={"a": 1.0, "b": 1.0}, output_type="latent")
    finally:
        log.restore()
    assert log.calls == [(1, 3)] * steps

    # the plain loop
    gen = torch.Generator().manual_seed(seed)
    ref_image, _ = fit_image(image, SIZE, SIZE)
    noise_aug = pipe.config.sampling.noise_aug_strength
    ref = encode_reference(pipe.vae, ref_image, noise_aug, gen)
    sched = EulerDiscreteScheduler(**svd_scheduler_config())
    sched.set_timesteps(steps)
    latents = torch.randn((1, 3, *ref.shape[1:]), generator=gen) * sched.init_noise_sigma
    reg = pipe.registry
    boxes = torch.tensor([BOX])
    masks = {name: spec.mask(None, boxes, SIZE, SIZE) for name, spec in reg.regions.items()}
    time_ids = added_time_ids(pipe.config.sampling.fps, pipe.config.sampling.motion_bucket_id, noise_aug)
    with torch.no_grad():
        for t in sched.timesteps:
            x = torch.cat([sched.scale_model_input(latents, t), ref[:, None].expand(-1, 3, -1, -1, -1)], dim=2)
            pred = pipe.denoiser(x, t, time_ids, conditions={k: v[None] for k, v in feats.items()}, gates=gates,
                                 region_masks=masks, face_mask=masks["whole"][:, None], return_dict=False)[0]
            latents = sched.step(pred, t, latents).prev_sample
    torch.testing.assert_close(got, latents, rtol=1e-5, atol=1e-5)


def test_guidance_passes_batched_equal_one_by_one(pipe):
    kw = dict(boxes=BOX, seed=3, output_type="latent")
    log = CallLog(pipe.denoiser)
    try:
        batched = pipe(portrait(), signals(2), **kw)
        assert log.calls == [(4, 2)]  # uncond, ref, ref+a, ref+a+b in one call
        single = pipe(portrait(), signals(2), guidance_batch=1, **kw)
        assert log.calls[1:] == [(1, 2)] * 4
    finally:
        log.restore()
    # batch size changes float rounding a little; guidance coefficients (up to 5.5) amplify it
    torch.testing.assert_close(batched, single, rtol=1e-3, atol=1e-3)
    plain = pipe(portrait(), signals(2), reference_scale=1.0, guidance_scales={"a": 1.0, "b": 1.0}, **kw)
    assert (plain - batched).abs().max() > 1e-3  # guidance does something


def test_closed_branch_costs_no_pass_and_its_features_do_not_matter(pipe):
    kw = dict(boxes=BOX, seed=4, output_type="latent")
    log = CallLog(pipe.denoiser)
    try:
        closed = pipe(portrait(), signals(2), gates={"b": 0.0}, **kw)
        assert log.calls == [(3, 2)]
    finally:
        log.restore()
    without = pipe(portrait(), {"a": signals(2)["a"]}, **kw)  # no signal: null features, gate 0
    torch.testing.assert_close(closed, without, rtol=0, atol=0)


def test_long_video_windows(pipe):
    kw = dict(boxes=BOX, seed=6, reference_scale=1.0, guidance_scales={"a": 1.0, "b": 1.0}, output_type="latent")
    log = CallLog(pipe.denoiser)
    try:
        out = pipe(portrait(), signals(5), num_inference_steps=2, window=3, window_shift=1, **kw)
    finally:
        log.restore()
    assert out.shape[:2] == (1, 5)
    assert log.calls == [(1, 3)] * 4  # 2 windows of 3 frames per step
    whole = pipe(portrait(), signals(5), num_inference_steps=1, window=5, **kw)
    default = pipe(portrait(), signals(5), num_inference_steps=1, window=25, **kw)
    torch.testing.assert_close(whole, default, rtol=0, atol=0)


class PCMGates:
    """Records the gates every PCM layer receives (a forward pre-hook on PCMLayer, so it
    does not depend on how the denoiser passes them)."""

    def __init__(self, den):
        from actalker.core.pcm import PCMLayer

        self.seen = []
        self.handles = [m.register_forward_pre_hook(self._hook, with_kwargs=True)
                        for m in den.modules() if isinstance(m, PCMLayer)]
        assert self.handles

    def _hook(self, module, args, kwargs):
        gates = args[2] if len(args) > 2 else kwargs["gates"]
        self.seen.append({k: v.detach().clone() for k, v in gates.items()})

    def remove(self):
        for h in self.handles:
            h.remove()


def test_per_frame_gate_schedule(pipe):
    kw = dict(boxes=BOX, seed=7, output_type="latent", reference_scale=1.0, guidance_scales={"a": 1.0, "b": 1.0})
    rec = PCMGates(pipe.denoiser)
    try:
        sched = pipe(portrait(), signals(3), gates={"b": [0.0, 0.0, 1.0]}, **kw)
    finally:
        rec.remove()
    # every PCM layer gets b's gate per frame, in frame order (not its mean, not reversed)
    assert rec.seen and all(torch.equal(g["b"].reshape(-1, 3), torch.tensor([[0.0, 0.0, 1.0]])) for g in rec.seen)
    assert all(torch.equal(g["a"].reshape(-1).unique(), torch.tensor([1.0])) for g in rec.seen)
    flat = pipe(portrait(), signals(3), gates={"b": 0.0}, **kw)
    reverse = pipe(portrait(), signals(3), gates={"b": [1.0, 0.0, 0.0]}, **kw)
    diff = (sched - flat).abs().amax(dim=(0, 2, 3, 4))
    assert diff[2] > 1e-4
    # frames 0 and 1 change only through the backbone's temporal layers: less than frame 2
    assert diff[2] > diff[0] and diff[2] > diff[1]
    assert (sched - reverse).abs().max() > 1e-4


def test_keyframe_gate_schedule_equals_its_per_frame_values(pipe):
    """The API takes keyframes (text or {TIME: VALUE}); the output records the schedule."""
    kw = dict(boxes=BOX, seed=7, output_type="latent", fps=2.0, reference_scale=1.0, guidance_scales={"a": 1.0, "b": 1.0})
    text = pipe(portrait(), signals(3), gates={"b": "0@0s,1@1s"}, return_dict=True, **kw)
    mapping = pipe(portrait(), signals(3), gates={"b": {"0s": 0, "2f": 1}}, **kw)
    per_frame = pipe(portrait(), signals(3), gates={"b": [0.0, 0.5, 1.0]}, **kw)
    assert torch.equal(text.frames, per_frame) and torch.equal(mapping, per_frame)
    assert text.settings.gates["b"]["schedule"] == "0@0s,1@1s"
    with pytest.raises(InputError, match="gate b: '1@1x': expected VALUE@TIME"):
        pipe(portrait(), signals(3), gates={"b": "0@0s,1@1x"}, **kw)


def test_save_and_load_round_trip(pipe, tmp_path):
    # Compared as floats: two instances with identical weights may differ by float32
    # rounding (~1e-5, kernel choice depends on allocation), which can flip a uint8 level;
    # a save/load defect (a lost or mis-mapped weight) changes the output by orders more.
    kw = dict(boxes=BOX, seed=8, reference_scale=1.0, guidance_scales={"a": 1.0, "b": 1.0}, output_type="pt")
    before = pipe(portrait(), signals(3), **kw)
    folder = pipe.save_pretrained(tmp_path / "model")
    index = json.loads((folder / MODEL_INDEX).read_text())
    assert set(index["components"]) == {"denoiser", "vae", "scheduler"}
    assert {b: v["modality"] for b, v in index["branches"].items()} == {"a": "sig_a", "b": "sig_b"}
    assert (folder / "denoiser" / "diffusion_pytorch_model.safetensors").is_file()
    assert (folder / "vae" / "diffusion_pytorch_model.safetensors").is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left

    loaded = ACTalkerPipeline.from_pretrained(folder, registry=tiny_registry())
    loaded.progress = False
    assert loaded.config == pipe.config and loaded.branch_names == ["a", "b"]
    assert loaded.scheduler.config.prediction_type == "v_prediction" and loaded.scheduler.config.use_karras_sigmas
    after = loaded(portrait(), signals(3), **kw)
    torch.testing.assert_close(after, before, rtol=0, atol=1e-4)
    sd_before, sd_after = pipe.denoiser.state_dict(), loaded.denoiser.state_dict()
    assert sd_before.keys() == sd_after.keys()
    assert all(torch.equal(sd_before[k], sd_after[k]) for k in sd_before)


def test_half_precision_model_runs_and_returns_float_frames(pipe, tmp_path):
    """The CUDA path loads in float16; bfloat16 runs the same dtype plumbing on a CPU."""
    folder = pipe.save_pretrained(tmp_path / "model")
    half = ACTalkerPipeline.from_pretrained(folder, dtype=torch.bfloat16, registry=tiny_registry())
    half.progress = False
    assert half.dtype == torch.bfloat16 and half.vae.dtype == torch.bfloat16
    kw = dict(boxes=BOX, seed=9, output_type="pt")
    low = half(portrait(), signals(2), **kw)
    full = pipe(portrait(), signals(2), **kw)
    assert low.dtype == torch.float32 and low.shape == full.shape and bool(torch.isfinite(low).all())
    # bfloat16 rounding moves frames by ~0.007 on average (max ~0.03 of the [-1, 1] range);
    # losing one branch moves them by ~0.055 (max ~0.35): the bounds tell the two apart
    assert (low - full).abs().mean() < 0.02 and (low - full).abs().max() < 0.1
    for lost in ({"a": 0.0}, {"b": 0.0}):
        without = pipe(portrait(), signals(2), gates=lost, **kw)
        assert (low - without).abs().mean() > 3 * (low - full).abs().mean(), lost


def test_load_errors(tmp_path, pipe):
    with pytest.raises(InputError, match="model folder not found"):
        ACTalkerPipeline.from_pretrained(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=f"{MODEL_INDEX} is missing"):
        ACTalkerPipeline.from_pretrained(tmp_path / "empty")
    folder = pipe.save_pretrained(tmp_path / "model")
    with pytest.raises(PluginError, match="sig_b"):
        ACTalkerPipeline.from_pretrained(folder, registry=tiny_registry(with_b=False))


def test_from_svd_uses_the_local_unet_vae_and_clip_identity(tmp_path):
    """SVD folder -> pipeline with SVD's image encoder as the identity encoder; it saves
    into the model folder (identity/) and reloads to the same output."""
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    torch.manual_seed(0)
    svd = tmp_path / "svd"
    unet = UNetSpatioTemporalConditionModel(**tiny_unet_config())
    unet.save_pretrained(svd / "unet")
    tiny_vae().save_pretrained(svd / "vae")
    EulerDiscreteScheduler(**svd_scheduler_config()).save_pretrained(svd / "scheduler")
    clip_cfg = CLIPVisionConfig(hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
                                image_size=32, patch_size=8, projection_dim=12)
    CLIPVisionModelWithProjection(clip_cfg).save_pretrained(svd / "image_encoder")

    cfg = tiny_config()
    cfg.model.identity.kind = "clip"
    p = ACTalkerPipeline.from_svd(svd, cfg, registry=tiny_registry())
    p.progress = False
    for name, w in unet.state_dict().items():
        assert torch.equal(p.denoiser.backbone.state_dict()[name], w), name
    emb = p.encode_identity(fit_image(portrait(), SIZE, SIZE)[0])
    assert emb.shape == (1, 12)
    kw = dict(boxes=BOX, seed=0, reference_scale=1.0, guidance_scales={"a": 1.0, "b": 1.0})
    out = p(portrait(), signals(2), **kw)
    assert out.shape == (2, SIZE, SIZE, 3)

    folder = p.save_pretrained(tmp_path / "model")
    assert json.loads((folder / MODEL_INDEX).read_text())["components"]["identity"].endswith("ClipIdentityEncoder")
    loaded = ACTalkerPipeline.from_pretrained(folder, registry=tiny_registry())
    loaded.progress = False
    assert np.array_equal(loaded(portrait(), signals(2), **kw), out)
    index = json.loads((folder / MODEL_INDEX).read_text())  # folders saved before the encoder left core/pipeline.py
    index["components"]["identity"] = "actalker.core.pipeline:ClipIdentityEncoder"
    (folder / MODEL_INDEX).write_text(json.dumps(index))
    old = ACTalkerPipeline.from_pretrained(folder, registry=tiny_registry())
    assert type(old.identity_encoder) is type(p.identity_encoder)
    assert torch.equal(old.encode_identity(fit_image(portrait(), SIZE, SIZE)[0]), emb)
    with pytest.raises(InputError, match="unet/config.json is missing"):
        ACTalkerPipeline.from_svd(tmp_path, tiny_config(), registry=tiny_registry())


def test_user_errors_are_one_line_and_early(pipe):
    feats = signals(3)
    cases = [
        (dict(gates={"zzz": 1.0}), InputError, "gate for unknown branch 'zzz'"),
        (dict(conditions={"zzz": feats["a"]}), InputError, "no branch 'zzz'"),
        (dict(conditions={"a": feats["a"]}, gates={"b": 1.0}), InputError, "'b' is open but no signal"),
        (dict(conditions={"a": torch.randn(3, 4, 5)}), ShapeError, r"expected \(frames, 3, 5\)"),
        (dict(num_frames=9), InputError, "has 3 frames; 9 are needed"),
        (dict(gates={"a": [1.0, 1.0]}), ShapeError, "per-frame schedule of 3"),
        (dict(gates={"a": -1.0}), InputError, ">= 0"),
        (dict(boxes=None), InputError, "reference face is needed"),
    ]
    for kwargs, err, msg in cases:
        call = dict(conditions=feats, boxes=BOX)
        call.update(kwargs)
        with pytest.raises(err, match=msg) as info:
            pipe(portrait(), **call)
        assert "\n" not in str(info.value)


def test_fit_image_crop_maps_landmarks():
    img = np.zeros((40, 80, 3), np.uint8)
    img[10:20, 50:60] = 255  # a white square right of centre
    x, crop = fit_image(img, 16, 16)
    assert x.shape == (1, 3, 16, 16) and crop == pytest.approx((0.25, 0.0, 0.75, 1.0))
    pts = torch.tensor([[55 / 80, 15 / 40, 0.0]])  # centre of the square, normalised to the input
    u, v = crop_points(pts, crop)[0, :2].tolist()
    assert x[0, :, int(v * 16), int(u * 16)].min() > 0.9  # still on the square after the crop
    box = crop_boxes(torch.tensor([[0.0, 0.0, 0.5, 0.5]]), crop)
    assert box[0].tolist() == pytest.approx([0.0, 0.0, 0.5, 0.5])


def test_decode_overlap_removes_chunk_edges():
    """Chunks with enough context decode exactly like one call over the whole clip; without
    context the temporal decoder's edge handling shows at every chunk boundary."""
    from actalker.core.sampling import decode_latents

    vae = tiny_vae().eval()
    for p in vae.decoder.parameters():  # random init has the time mixer at "image only"; make it mix
        p.data.add_(0.05 * torch.randn_like(p))
    lat = torch.randn(1, 7, 4, 4, 4, generator=torch.Generator().manual_seed(0))
    whole = decode_latents(vae, lat, decode_chunk=7)
    assert whole.shape == (1, 7, 3, 8, 8)  # two blocks: x2 up
    no_ctx = decode_latents(vae, lat, decode_chunk=2, overlap=0)
    one = decode_latents(vae, lat, decode_chunk=2, overlap=1)
    full_ctx = decode_latents(vae, lat, decode_chunk=2, overlap=7)
    assert (no_ctx - whole).abs().max() > 1e-3
    assert (one - whole).abs().mean() < (no_ctx - whole).abs().mean()
    torch.testing.assert_close(full_ctx, whole, atol=1e-5, rtol=0)
