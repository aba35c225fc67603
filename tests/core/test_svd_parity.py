"""Starting from SVD computes what SVD computes (issue 13), on a tiny SVD saved by diffusers:

- training with ``identity.kind: clip`` gets SVD's frozen CLIP image encoder, and at step 0
  (fresh branches) the denoiser's output equals diffusers' UNet with that CLIP context;
- the CLIP preprocessing is SVD's own (its antialiased resize), the embedding SVD's;
- with the branch null and SVD's per-frame guidance ramp, the pipeline's latents equal
  ``StableVideoDiffusionPipeline``'s on the same seed.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from actalker.core.framing import fit_image
from actalker.core.resize import svd_resize
from tests.core.svd_standins import SIZE, save_tiny_svd, svd_config, tiny_svd_pipeline
from tests.core.tiny_models import tiny_registry


@pytest.fixture(scope="module")
def svd_dir(tmp_path_factory):
    return save_tiny_svd(tmp_path_factory.mktemp("svd") / "svd")


@pytest.fixture(scope="module")
def svd_pipe(svd_dir):
    from diffusers import StableVideoDiffusionPipeline

    pipe = StableVideoDiffusionPipeline.from_pretrained(svd_dir)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def portrait(seed: int = 0, size: int = SIZE) -> np.ndarray:
    return np.random.RandomState(seed).randint(0, 256, (size, size, 3), dtype=np.uint8)


def test_svd_resize_is_diffusers_resize_bit_for_bit():
    from diffusers.pipelines.stable_video_diffusion.pipeline_stable_video_diffusion import _resize_with_antialiasing

    x = torch.rand(2, 3, 61, 90) * 2 - 1
    for size in ((224, 224), (32, 32), (40, 17)):
        assert torch.equal(svd_resize(x, size), _resize_with_antialiasing(x, size)), size


def test_training_with_clip_identity_starts_as_svd_exactly(svd_dir, svd_pipe):
    """build_pipeline (what `actalker train` builds) with identity.kind clip: SVD's image
    encoder, frozen; at step 0 the denoiser equals diffusers' UNet given SVD's own CLIP context."""
    from actalker.train.build import build_pipeline

    pipe = build_pipeline(svd_config(svd_dir), tiny_registry())
    enc = pipe.identity_encoder
    assert enc is not None and not any(p.requires_grad for p in enc.parameters())
    img = portrait()
    with torch.no_grad():
        svd_ctx = svd_pipe._encode_image(Image.fromarray(img), "cpu", 1, False)  # (1, 1, 16)
        ours = pipe.encode_identity(torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255 * 2 - 1)
    assert (ours - svd_ctx[:, 0]).abs().max() < 1e-6  # SVD's preprocessing (bicubic: ~1e-2 off)

    gen = torch.Generator().manual_seed(0)
    sample = torch.randn(1, 3, 8, 8, 8, generator=gen)
    time_ids = torch.tensor([[6.0, 127.0, 0.02]])
    feats = {"a": torch.randn(1, 3, 3, 5, generator=gen)}
    masks = {k: torch.ones(1, SIZE, SIZE) for k in ("whole", "lower")}
    with torch.no_grad():
        den = pipe.denoiser.eval()(sample, torch.tensor(2.5), time_ids, identity=svd_ctx[:, 0], conditions=feats,
                                   gates={"a": 1.0}, region_masks=masks, face_mask=masks["whole"]).sample
        ref = svd_pipe.unet(sample, torch.tensor(2.5), encoder_hidden_states=svd_ctx, added_time_ids=time_ids).sample
    assert torch.equal(den, ref)


def test_null_branch_and_svd_guidance_give_svd_latents(svd_dir, svd_pipe):
    from actalker.core.pipeline import ACTalkerPipeline

    cfg = svd_config(svd_dir, reference_scale=3.0, reference_scale_min=1.0)  # SVD's defaults
    pipe = ACTalkerPipeline.from_svd(svd_dir, cfg, registry=tiny_registry())
    pipe.progress = False
    img = portrait(1)
    ours = pipe(img, {}, num_frames=3, seed=7, output_type="latent")
    theirs = svd_pipe(Image.fromarray(img), height=SIZE, width=SIZE, num_frames=3, num_inference_steps=2, fps=7,
                      min_guidance_scale=1.0, max_guidance_scale=3.0, generator=torch.Generator().manual_seed(7),
                      output_type="latent").frames
    assert ours.shape == theirs.shape
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-5)
    fixed = pipe.replace(config=svd_config(svd_dir, reference_scale=3.0))(img, {}, num_frames=3, seed=7,
                                                                          output_type="latent")
    assert (fixed - theirs).abs().max() > 1e-3  # the ramp is what makes it SVD's


def test_arcface_identity_from_a_torchscript_file(tmp_path, svd_dir):
    """identity.kind arcface: the user's TorchScript model, one token; saved into the model folder."""
    from actalker.core.arcface import ArcFaceIdentityEncoder
    from actalker.core.pipeline import ACTalkerPipeline
    from actalker.errors import ConfigError, InputError

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(4), torch.nn.Flatten(), torch.nn.Linear(48, 10))
    torch.jit.script(net).save(str(tmp_path / "arcface.pt"))
    cfg = svd_config(svd_dir, kind="arcface")
    with pytest.raises(ConfigError, match="weights_path"):
        ACTalkerPipeline.from_svd(svd_dir, cfg, registry=tiny_registry())
    cfg.model.identity.weights_path = str(tmp_path / "arcface.pt")
    with pytest.raises(ConfigError, match="model.identity.dim=10"):
        ACTalkerPipeline.from_svd(svd_dir, cfg, registry=tiny_registry())
    cfg.model.identity.dim = 10
    pipe = ACTalkerPipeline.from_svd(svd_dir, cfg, registry=tiny_registry())
    assert isinstance(pipe.identity_encoder, ArcFaceIdentityEncoder)
    emb = pipe.encode_identity(fit_image(portrait(), SIZE, SIZE)[0])
    assert emb.shape == (1, 10) and torch.allclose(emb.norm(dim=-1), torch.ones(1))
    pipe.progress = False
    out = pipe(portrait(), {}, num_frames=2, seed=0, output_type="latent")
    folder = pipe.save_pretrained(tmp_path / "model")
    (tmp_path / "arcface.pt").rename(tmp_path / "moved.pt")  # the model folder carries its own copy
    loaded = ACTalkerPipeline.from_pretrained(folder, registry=tiny_registry())
    loaded.progress = False
    assert torch.equal(loaded(portrait(), {}, num_frames=2, seed=0, output_type="latent"), out)
    with pytest.raises(InputError, match="not found"):
        ArcFaceIdentityEncoder.from_pretrained(tmp_path / "arcface.pt")
