"""How a pipeline is put together: from_svd takes every setting from the config and the SVD
folder (scheduler, dtype, face guider, condition width), replace shares what it does not
swap, and save_pretrained records each branch's plugin."""
from __future__ import annotations

import copy
import dataclasses
import json
import re

import numpy as np
import pytest
import torch
import tqdm.auto
import tqdm.std
from diffusers import AutoencoderKLTemporalDecoder, EulerDiscreteScheduler

from actalker.core.denoiser import ACTalkerDenoiser
from actalker.core.pipeline import MODEL_INDEX, ACTalkerPipeline
from actalker.core.sampling import make_scheduler, svd_scheduler_config
from actalker.core.windows import window_indices
from actalker.errors import ConfigError, InputError, PluginError, ShapeError
from actalker.plugins.spec import RegionSpec
from tests.core.svd_standins import save_tiny_svd, svd_config
from tests.core.test_pipeline import BOX, pipe, portrait, signals, tiny_config  # noqa: F401  (pipe is a fixture)
from tests.core.tiny_models import tiny_denoiser, tiny_pcm_config, tiny_registry, tiny_unet_config


def svd_folder(root, scheduler: dict | None = None):
    """The shared tiny SVD folder (svd_standins), its scheduler replaced by ``scheduler`` or,
    with None, its scheduler_config.json removed (a scheduler/ folder without one is no scheduler)."""
    svd = save_tiny_svd(root / "svd")
    if scheduler is None:
        (svd / "scheduler" / "scheduler_config.json").unlink()
    else:
        EulerDiscreteScheduler(**scheduler).save_pretrained(svd / "scheduler")
    return svd


def test_from_svd_builds_the_denoiser_from_the_config(tmp_path):
    svd = svd_folder(tmp_path)
    cfg = svd_config(svd)
    cfg.model.face_guider = False  # the defaults are True and 64: both must come from the config
    p = ACTalkerPipeline.from_svd(svd, cfg, registry=tiny_registry())
    assert p.config is cfg  # the given config, not the defaults
    assert p.denoiser.guider is None and p.denoiser.config.cond_dim == 8
    cfg.model.face_guider = True
    assert ACTalkerPipeline.from_svd(svd, cfg, registry=tiny_registry()).denoiser.guider is not None


def test_from_svd_reads_the_folders_scheduler_and_falls_back_to_svds(tmp_path):
    own = svd_scheduler_config()
    own["sigma_max"] = 123.0  # a setting make_scheduler() does not have
    with_own = svd_folder(tmp_path / "with", scheduler=own)
    p = ACTalkerPipeline.from_svd(with_own, svd_config(with_own), registry=tiny_registry())
    assert p.scheduler.config.sigma_max == 123.0
    bare = svd_folder(tmp_path / "without")
    q = ACTalkerPipeline.from_svd(bare, svd_config(bare), registry=tiny_registry())
    assert dict(q.scheduler.config) == dict(make_scheduler().config)


@pytest.mark.parametrize("torch_dtype", [None, torch.float64])
def test_from_svd_loads_the_weights_in_the_requested_dtype(tmp_path, monkeypatch, torch_dtype):
    """Loaded in the dtype, not loaded in float32 and cast after (a float32 copy of SVD's
    1.5B-parameter UNet is the peak this avoids); the identity encoder follows the dtype too."""
    seen = {}
    den_from_svd, vae_from_pretrained = ACTalkerDenoiser.from_svd.__func__, AutoencoderKLTemporalDecoder.from_pretrained.__func__

    def den_spy(cls, *args, **kw):
        seen["denoiser"] = kw
        return den_from_svd(cls, *args, **kw)

    def vae_spy(cls, *args, **kw):
        seen["vae"] = kw
        return vae_from_pretrained(cls, *args, **kw)
    monkeypatch.setattr(ACTalkerDenoiser, "from_svd", classmethod(den_spy))
    monkeypatch.setattr(AutoencoderKLTemporalDecoder, "from_pretrained", classmethod(vae_spy))
    svd = svd_folder(tmp_path, scheduler=svd_scheduler_config())
    p = ACTalkerPipeline.from_svd(svd, svd_config(svd), registry=tiny_registry(), torch_dtype=torch_dtype)  # clip identity
    assert seen["denoiser"]["torch_dtype"] == torch_dtype
    assert seen["vae"].get("torch_dtype") == torch_dtype
    want = torch_dtype or torch.float32
    for module in (p.denoiser, p.vae, p.identity_encoder):
        assert {t.dtype for t in module.parameters()} == {want}, type(module).__name__


def test_from_svd_refuses_a_unet_config(tmp_path):
    svd = svd_folder(tmp_path)
    cfg = svd_config(svd)
    cfg.model.unet.config = tiny_unet_config()
    with pytest.raises(ConfigError) as err:
        ACTalkerPipeline.from_svd(svd, cfg, registry=tiny_registry())
    assert str(err.value) == "from_svd takes the UNet from the SVD folder; leave model.unet.config empty"


def test_replace_swaps_only_what_it_is_given(pipe):  # noqa: F811
    pipe.progress = False
    same = pipe.replace()
    for attr in ("denoiser", "vae", "scheduler", "identity_encoder", "config", "registry"):
        assert getattr(same, attr) is getattr(pipe, attr), attr
    assert same.progress is False  # the caller's progress setting carries over
    other_cfg = tiny_config(steps=3)
    other = pipe.replace(config=other_cfg)
    assert other.config is other_cfg and other.denoiser is pipe.denoiser and other.scheduler is pipe.scheduler
    den = copy.copy(pipe.denoiser)  # training swaps in its live denoiser this way
    live = pipe.replace(denoiser=den)
    assert live.denoiser is den and live.config is pipe.config and live.vae is pipe.vae


def test_save_pretrained_records_each_branchs_plugin(pipe, tmp_path):  # noqa: F811
    folder = pipe.save_pretrained(tmp_path / "model")
    branches = json.loads((folder / MODEL_INDEX).read_text())["branches"]
    owners = pipe.registry.owners
    assert branches == {"a": {"modality": "sig_a", "plugin": owners["modality:sig_a"]},
                        "b": {"modality": "sig_b", "plugin": owners["modality:sig_b"]}}
    assert all(isinstance(b["plugin"], str) and b["plugin"] for b in branches.values())


# ------------------------------------------------------------------ the denoising loop

LOOP_KW = dict(seed=3, num_frames=3, output_type="latent", reference_scale=1.0, guidance_scales={"a": 1.0, "b": 1.0})


def test_callbacks_get_the_pipeline_step_and_timestep(pipe):  # noqa: F811
    seen = []

    def on_step(p, i, t, state):
        seen.append((p, i, t.item()))
        return None  # None keeps the latents
    pipe(portrait(), signals(3), boxes=BOX, num_inference_steps=2, callback_on_step_end=on_step, **LOOP_KW)
    assert [(p is pipe, i) for p, i, _ in seen] == [(True, 0), (True, 1)]
    sched = copy.deepcopy(pipe.scheduler)  # the pipeline steps a copy, set to this call's steps
    sched.set_timesteps(2)
    assert [t for *_, t in seen] == sched.timesteps.tolist()


@pytest.mark.parametrize("overlap", [0, 2])
def test_window_overlap_reaches_the_windows(pipe, overlap):  # noqa: F811
    kw = dict(LOOP_KW, num_frames=7)
    seen = []
    pipe(portrait(), signals(7), boxes=BOX, num_inference_steps=2, window=4, window_shift=1, window_overlap=overlap,
         callback_on_window=lambda p, step, w, idx, pred: seen.append((step, idx.tolist())), **kw)
    want = [(s, w.tolist()) for s in range(2) for w in window_indices(7, 4, 1, s, overlap)]
    assert seen == want
    other = [w.tolist() for w in window_indices(7, 4, 1, 0, 2 - overlap)]
    assert [idx for s, idx in seen if s == 0] != other  # the two settings do give different windows


def test_progress_bar_counts_denoising_steps(pipe, capsys, monkeypatch):  # noqa: F811
    class EveryUpdate(tqdm.std.tqdm):  # tqdm skips redraws within 0.1 s: show every one
        def __init__(self, *args, **kw):
            super().__init__(*args, mininterval=0, **kw)
    monkeypatch.setattr(tqdm.auto, "tqdm", EveryUpdate)
    pipe.progress = True
    try:
        pipe(portrait(), signals(3), boxes=BOX, num_inference_steps=2, **LOOP_KW)
    finally:
        pipe.progress = False
    err = capsys.readouterr().err
    assert "denoising:" in err and ("step/s" in err or "s/step" in err)
    assert re.findall(r"denoising: +\d+%\|[^|]*\| (\d)/(\d)", err)[-3:] == [("0", "2"), ("1", "2"), ("2", "2")]
    assert not err.endswith("\n")  # leave=False: the bar is cleared, not left behind
    pipe(portrait(), signals(3), boxes=BOX, num_inference_steps=2, **LOOP_KW)
    assert "denoising" not in capsys.readouterr().err  # progress off: silent


# ------------------------------------------------------------------ loading a model folder

def test_from_pretrained_keeps_the_saved_scheduler_and_moves_to_the_device(pipe, tmp_path):  # noqa: F811
    own = svd_scheduler_config()
    own["sigma_max"] = 123.0
    folder = ACTalkerPipeline(pipe.denoiser, pipe.vae, EulerDiscreteScheduler(**own), None, pipe.config,
                              pipe.registry).save_pretrained(tmp_path / "model")
    loaded = ACTalkerPipeline.from_pretrained(folder, registry=pipe.registry)
    assert loaded.scheduler.config.sigma_max == 123.0
    assert loaded.config.model_dump() == pipe.config.model_dump()  # the saved config, not the defaults
    assert loaded.device.type == "cpu" and loaded.dtype == torch.float32 and not loaded.denoiser.training
    on_meta = ACTalkerPipeline.from_pretrained(folder, device="meta", registry=pipe.registry)  # the device is applied
    assert {p.device.type for m in (on_meta.denoiser, on_meta.vae) for p in m.parameters()} == {"meta"}


def test_a_missing_plugin_names_the_model_folder_and_branch(pipe, tmp_path):  # noqa: F811
    folder = pipe.save_pretrained(tmp_path / "model")
    with pytest.raises(PluginError) as err:
        ACTalkerPipeline.from_pretrained(folder, registry=tiny_registry(with_b=False))
    assert str(err.value).startswith(f"model {folder} needs branch 'b': ")


# ------------------------------------------------------------------ small public helpers

def test_to_moves_every_module_and_ignores_what_is_not_given(pipe):  # noqa: F811
    q = ACTalkerPipeline(copy.deepcopy(pipe.denoiser), copy.deepcopy(pipe.vae), pipe.scheduler, None, pipe.config,
                         pipe.registry)
    assert q.to(dtype=torch.float64) is q
    assert q.dtype == torch.float64 and next(q.vae.parameters()).dtype == torch.float64 and q.device.type == "cpu"
    q.to()  # nothing given: nothing changes
    assert q.dtype == torch.float64


def test_unknown_branch_lists_the_branches(pipe):  # noqa: F811
    with pytest.raises(InputError) as err:
        pipe.branch("zz")
    assert str(err.value) == "the model has no branch 'zz' (branches: a, b)"
    bare = copy.copy(pipe)
    bare.branches = []
    with pytest.raises(InputError) as err:
        bare.branch("zz")
    assert str(err.value) == "the model has no branch 'zz' (branches: none)"


def test_features_may_be_arrays_lists_or_per_frame_tensors(pipe):  # noqa: F811
    t = torch.randn(4, 6, dtype=torch.float64)
    want = t.float()
    for value in (t, t.numpy(), t.tolist(), list(t), [np.asarray(r) for r in t.numpy()]):
        got = pipe._features("b", value)
        assert got.dtype == torch.float32 and torch.equal(got, want), type(value)


def test_face_region_rule(pipe):  # noqa: F811
    assert pipe.face_region() == "whole"  # every branch's solo region
    split = copy.copy(pipe)
    split.branches = [dataclasses.replace(b, solo_region=r) for b, r in zip(pipe.branches, ("upper", "whole"))]
    assert split.face_region() == ("face" if "face" in pipe.registry.regions else None)


# ------------------------------------------------------------------ the initial noise and the scheduler

def test_given_latents_replace_the_drawn_noise(pipe):  # noqa: F811
    def run(latents=None):
        return pipe(portrait(), signals(3), boxes=BOX, num_inference_steps=1, latents=latents, **LOOP_KW)
    shape = (1,) + tuple(run().shape[1:])
    noise = torch.randn(shape, generator=torch.Generator().manual_seed(11))
    given = run(noise)
    torch.testing.assert_close(run(noise.double()), given, rtol=0, atol=0)  # used as float32
    assert (run(torch.randn(shape)) - given).abs().max() > 1e-3  # the given noise is what is denoised
    assert (run() - given).abs().max() > 1e-3
    wrong = shape[:1] + (2,) + shape[2:]
    with pytest.raises(ShapeError) as err:
        run(torch.zeros(wrong))
    assert str(err.value) == f"latents must have shape {shape}, got {wrong}"


def test_sigma_overrides_reach_the_scheduler(pipe):  # noqa: F811
    seen = {}

    def first_sigma(p, i, t, state):
        seen.setdefault("t", []).append(t.item())
    base = pipe.replace(config=tiny_config(steps=2))
    base(portrait(), signals(3), boxes=BOX, callback_on_step_end=first_sigma, **LOOP_KW)
    default = seen.pop("t")
    for key in ("sigma_min", "sigma_max"):
        cfg = tiny_config(steps=2, **{key: 0.5 if key == "sigma_min" else 20.0})
        pipe.replace(config=cfg)(portrait(), signals(3), boxes=BOX, callback_on_step_end=first_sigma, **LOOP_KW)
        want = copy.deepcopy(pipe.scheduler).__class__.from_config(pipe.scheduler.config, **{key: getattr(cfg.sampling, key)})
        want.set_timesteps(2)
        assert seen.pop("t") == want.timesteps.tolist() != default, key


def test_condition_errors_name_the_problem(pipe):  # noqa: F811
    with pytest.raises(InputError) as err:
        pipe.prepare_conditions({"zz": torch.zeros(3, 2)}, None, None)
    assert str(err.value) == "the model has no branch 'zz' for the given signal (branches: a, b)"
    bare = copy.copy(pipe)
    bare.branches = []
    with pytest.raises(InputError) as err:
        bare.prepare_conditions({"zz": torch.zeros(3, 2)}, None, None)
    assert str(err.value) == "the model has no branch 'zz' for the given signal (branches: none)"
    with pytest.raises(InputError) as err:
        pipe.prepare_conditions({}, None, None)
    assert str(err.value) == "num_frames is needed when no signal is given"
    with pytest.raises(InputError) as err:
        pipe.prepare_conditions({}, None, 0)
    assert str(err.value) == "num_frames must be >= 1, got 0"
    assert pipe.prepare_conditions({}, None, 1)[0] == 1  # one frame is a video
    with pytest.raises(InputError) as err:
        pipe.prepare_conditions({"b": torch.zeros(2, 6)}, None, 3)
    assert str(err.value) == "the signal of branch 'b' has 2 frames; 3 are needed"


def test_gates_become_float32_per_frame_rows(pipe):  # noqa: F811
    branch = pipe.branch("b")
    for raw in (1, True, np.array([0.5, 1.0, 2.0, 9.0]), [0, 1, 1]):
        g = pipe._gate(branch, raw, 3, True)
        assert g.dtype == torch.float32 and g.shape == (1, 3), raw
    torch.testing.assert_close(pipe._gate(branch, np.array([0.5, 1.0, 2.0, 9.0]), 3, True), torch.tensor([[0.5, 1.0, 2.0]]))


def test_an_external_identity_kind_needs_its_encoder(pipe):  # noqa: F811
    clip = tiny_denoiser(pipe.registry, identity={"kind": "clip", "dim": 12})
    with pytest.raises(ConfigError) as err:
        ACTalkerPipeline(clip, pipe.vae, None, None, pipe.config, pipe.registry)
    assert str(err.value) == ("the model's identity kind is 'clip' but no identity encoder was given "
                              "(clip: the SVD folder's image_encoder/; arcface: pass identity_encoder=)")


def test_guidance_order_reaches_the_plan(pipe):  # noqa: F811
    kw = dict(boxes=BOX, seed=4, num_frames=3, output_type="latent", num_inference_steps=1, reference_scale=2.0,
              guidance_scales={"a": 3.0, "b": 1.5})
    ab = pipe(portrait(), signals(3), guidance_order=["a", "b"], **kw)
    ba = pipe(portrait(), signals(3), guidance_order=["b", "a"], **kw)
    assert (ab - ba).abs().max() > 1e-4  # chained guidance depends on the order
    torch.testing.assert_close(pipe(portrait(), signals(3), **kw), ab, rtol=0, atol=0)  # a, b: the branch order


# ------------------------------------------------------------------ the reference face and the model's dtype

def landmark_extent_region(name: str) -> RegionSpec:
    """The landmarks' bounding rectangle (nothing without landmarks): a region only the landmarks can place."""
    def mask(landmarks, boxes, height, width):
        out = torch.zeros(boxes.shape[0], height, width)
        if landmarks is not None:
            for i, pts in enumerate(landmarks):
                (x0, y0), (x1, y1) = pts[:, :2].amin(0).tolist(), pts[:, :2].amax(0).tolist()
                out[i, round(y0 * height):round(y1 * height), round(x0 * width):round(x1 * width)] = 1.0
        return out

    return RegionSpec(name=name, mask=mask)


def landmarks_spanning(x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    """(478, 3) random landmarks whose extent is exactly [x0, x1] x [y0, y1]."""
    pts = torch.rand(478, 3, generator=torch.Generator().manual_seed(0))
    pts[:, 0], pts[:, 1] = x0 + (x1 - x0) * pts[:, 0], y0 + (y1 - y0) * pts[:, 1]
    pts[0, :2], pts[1, :2] = torch.tensor([x0, y0]), torch.tensor([x1, y1])
    return pts.numpy()


def with_regions(base: ACTalkerPipeline, *specs: RegionSpec) -> ACTalkerPipeline:
    """A shallow copy of ``base`` whose registry has ``specs`` (replacing regions of the same name)."""
    q = copy.copy(base)
    q.registry = dataclasses.replace(base.registry, regions={**base.registry.regions, **{r.name: r for r in specs}})
    return q


def reference_of(q, monkeypatch, image, **call):
    """Run ``q`` once (one step, 3 frames) and return the Reference its prepare_reference built."""
    seen = {}
    original = q.prepare_reference
    monkeypatch.setattr(q, "prepare_reference", lambda *a: seen.setdefault("ref", original(*a)))
    q(image, signals(3), num_inference_steps=1, **call, **LOOP_KW)
    return seen["ref"]


def test_the_reference_landmarks_place_the_regions_in_the_cropped_frame(pipe, monkeypatch):  # noqa: F811
    q = with_regions(pipe, landmark_extent_region("lower"))
    # a 16 x 32 portrait covers the 16 x 16 frame after a centre crop of x in [0.25, 0.75]:
    # landmarks spanning x 0.375-0.625, y 0.5-0.75 of the portrait span x 0.25-0.75 of the frame
    ref = reference_of(q, monkeypatch, portrait(16, 32), landmarks=landmarks_spanning(0.375, 0.5, 0.625, 0.75), boxes=BOX)
    want = torch.zeros(1, 16, 16)
    want[:, 8:12, 4:12] = 1.0
    torch.testing.assert_close(ref.masks["lower"], want, rtol=0, atol=0)


def test_a_half_precision_model_gets_its_inputs_in_its_dtype(pipe, tmp_path, monkeypatch):  # noqa: F811
    """As diffusers' SVD pipeline does: the latents, SVD's time ids (bfloat16 rounds the
    noise-augmentation id, so the cast changes the video) and the masks reach the model in its dtype."""
    half = ACTalkerPipeline.from_pretrained(pipe.save_pretrained(tmp_path / "model"), dtype=torch.bfloat16,
                                            registry=tiny_registry())
    half.progress = False
    seen = []
    forward = half.denoiser.forward

    def spy(sample, timestep, added_time_ids, **kwargs):
        masks = [*kwargs["region_masks"].values(), kwargs["face_mask"]]
        seen.append((sample.dtype, added_time_ids.dtype, *{m.dtype for m in masks}))
        return forward(sample, timestep, added_time_ids, **kwargs)

    monkeypatch.setattr(half.denoiser, "forward", spy)
    half(portrait(), signals(3), boxes=BOX, num_inference_steps=1, **LOOP_KW)
    assert seen and set(seen) == {(torch.bfloat16,) * 3}  # latents, time ids, region and face masks


def test_per_frame_boxes_place_the_masks_with_the_first_frames_face(pipe):  # noqa: F811
    """Boxes may come per frame ((F, 4), e.g. from the driving video's tracker): the first
    frame's face places the masks (the rule of ``core.controls.region_masks``)."""
    first = pipe(portrait(), signals(3), boxes=BOX, num_inference_steps=1, **LOOP_KW)
    per_frame = [BOX, [0.0, 0.0, 0.5, 0.5], [0.5, 0.5, 1.0, 1.0]]
    torch.testing.assert_close(pipe(portrait(), signals(3), boxes=per_frame, num_inference_steps=1, **LOOP_KW),
                               first, rtol=0, atol=0)
    moved = pipe(portrait(), signals(3), boxes=per_frame[1:], num_inference_steps=1, **LOOP_KW)
    assert (moved - first).abs().max() > 1e-3  # the boxes do reach the masks


def test_only_a_masked_model_needs_the_reference_face(pipe):  # noqa: F811
    """Region masks need a face; with pcm.mask_mode 'none' no mask is used, so no face is needed."""
    unmasked = tiny_denoiser(pipe.registry, pcm=tiny_pcm_config(mixer="attention", mask_mode="none")).eval()
    out = pipe.replace(denoiser=unmasked)(portrait(), signals(3), num_inference_steps=1, **LOOP_KW)
    assert bool(torch.isfinite(out).all())
    with pytest.raises(InputError) as err:
        pipe(portrait(), signals(3), num_inference_steps=1, **LOOP_KW)
    assert str(err.value) == "the reference face is needed for the branches' region masks: pass landmarks and/or boxes"


def test_the_face_guider_gets_its_region_when_no_branch_uses_it(pipe, monkeypatch):  # noqa: F811
    """Branches whose solo regions differ leave the face guider the registry's 'face' region,
    which no branch masks: it is made from the reference face on its own."""
    q = with_regions(pipe, landmark_extent_region("face"))
    q.branches = [dataclasses.replace(b, solo_region=r) for b, r in zip(pipe.branches, ("upper", "whole"))]
    ref = reference_of(q, monkeypatch, portrait(), landmarks=landmarks_spanning(0.25, 0.5, 0.75, 0.75), boxes=BOX)
    assert q.face_region() == "face" and "face" not in ref.masks
    want = torch.zeros(1, 1, 16, 16)
    want[..., 8:12, 4:12] = 1.0  # the landmarks' extent, from the reference face's landmarks
    torch.testing.assert_close(ref.face_mask, want, rtol=0, atol=0)


def test_a_new_pipeline_validates_a_config_mapping_and_shows_progress(pipe):  # noqa: F811
    q = ACTalkerPipeline(pipe.denoiser, pipe.vae, None, None, pipe.config.model_dump(), pipe.registry)
    assert type(q.config) is type(pipe.config) and q.config.model_dump() == pipe.config.model_dump()
    assert q.progress is True  # long generations show a progress bar unless switched off
