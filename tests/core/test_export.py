"""Back to diffusers and loading options (issue 13): `actalker export` writes folders diffusers
loads; diffusers' UNet loader refuses a denoiser folder; fp16 variants, torch_dtype."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from diffusers import StableVideoDiffusionPipeline, UNetSpatioTemporalConditionModel
from PIL import Image

from actalker.cli import main
from actalker.core.pipeline import ACTalkerPipeline
from actalker.errors import InputError
from tests.core.svd_standins import SIZE, save_tiny_svd, svd_config
from tests.core.tiny_models import tiny_pcm_config, tiny_registry


@pytest.fixture(scope="module")
def svd_dir(tmp_path_factory):
    return save_tiny_svd(tmp_path_factory.mktemp("svd") / "svd")


@pytest.fixture(scope="module")
def trained(svd_dir, tmp_path_factory):
    """A model from the tiny SVD whose backbone and identity projection moved (as after
    training; the projection keeps a zero bias, as its init), saved as a model folder."""
    cfg = svd_config(svd_dir, reference_scale=3.0, reference_scale_min=1.0)
    pipe = ACTalkerPipeline.from_svd(svd_dir, cfg, registry=tiny_registry())
    gen = torch.Generator().manual_seed(3)
    with torch.no_grad():
        w = pipe.denoiser.backbone.conv_in.weight
        w.add_(0.1 * torch.randn(w.shape, generator=gen))
        p = pipe.denoiser.id_proj.proj.weight
        p.copy_(torch.eye(p.shape[0]) + 0.3 * torch.randn(p.shape, generator=gen))
    pipe.progress = False
    folder = pipe.save_pretrained(tmp_path_factory.mktemp("model") / "model")
    return pipe, folder


@pytest.fixture
def fake_plugins(monkeypatch):
    """The CLI loads the installed plugins; the tiny model's branch is a fake modality."""
    import actalker.plugins

    monkeypatch.setattr(actalker.plugins, "load_registry", lambda *a, **k: tiny_registry())


def portrait(seed: int = 1) -> np.ndarray:
    return np.random.RandomState(seed).randint(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)


def test_export_unet_loads_in_diffusers_with_the_trained_weights(trained, tmp_path, fake_plugins):
    pipe, folder = trained
    assert main(["export", str(folder), str(tmp_path / "unet"), "--format", "unet"]) == 0
    unet = UNetSpatioTemporalConditionModel.from_pretrained(tmp_path / "unet")
    mine = pipe.denoiser.backbone.state_dict()
    assert set(unet.state_dict()) == set(mine)
    assert all(torch.equal(v, mine[k]) for k, v in unet.state_dict().items())
    assert main(["export", str(folder), str(tmp_path / "half"), "--format", "unet", "--variant", "fp16",
                 "--dtype", "float16"]) == 0
    half = UNetSpatioTemporalConditionModel.from_pretrained(tmp_path / "half", variant="fp16", torch_dtype=torch.float16)
    assert half.conv_in.weight.dtype == torch.float16
    assert torch.equal(half.conv_in.weight, mine["conv_in.weight"].half())


def test_export_svd_pipeline_samples_as_the_model_with_branches_closed(trained, tmp_path, fake_plugins):
    pipe, folder = trained
    assert main(["export", str(folder), str(tmp_path / "svd_out")]) == 0
    svd = StableVideoDiffusionPipeline.from_pretrained(tmp_path / "svd_out")
    svd.set_progress_bar_config(disable=True)
    with torch.no_grad():  # the folded CLIP gives the token this model feeds the backbone
        token = pipe.denoiser.identity_token(pipe.encode_identity(torch.from_numpy(portrait()).permute(2, 0, 1)[None]
                                                                  .float() / 255 * 2 - 1), torch.zeros(1, 1))
        svd_token = svd._encode_image(Image.fromarray(portrait()), "cpu", 1, False)
    assert (token - svd_token).abs().max() < 1e-5
    ours = pipe(portrait(), {}, num_frames=3, seed=5, output_type="latent")
    theirs = svd(Image.fromarray(portrait()), height=SIZE, width=SIZE, num_frames=3, num_inference_steps=2, fps=7,
                 min_guidance_scale=1.0, max_guidance_scale=3.0, generator=torch.Generator().manual_seed(5),
                 output_type="latent").frames
    # W (V h) vs (W V) h round differently (1e-7); the first step at sigma 700 magnifies it
    torch.testing.assert_close(ours, theirs, rtol=1e-3, atol=2e-3)


def test_diffusers_unet_loader_refuses_the_denoiser_folder(trained):
    _, folder = trained
    with pytest.raises(EnvironmentError, match="config.json"):
        UNetSpatioTemporalConditionModel.from_pretrained(folder / "denoiser")


def test_export_svd_needs_the_clip_identity(tmp_path, capsys):
    from tests.core.test_pipeline import tiny_config, tiny_vae
    from tests.core.tiny_models import tiny_denoiser

    reg = tiny_registry()
    pipe = ACTalkerPipeline(tiny_denoiser(reg), tiny_vae(), None, None, tiny_config(), reg)
    from actalker.core.export import export_svd

    with pytest.raises(InputError, match="identity is 'learned'.*--format unet"):
        export_svd(pipe, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_fp16_variant_and_torch_dtype(tmp_path):
    svd = save_tiny_svd(tmp_path / "svd16", variant="fp16")
    assert (svd / "unet" / "diffusion_pytorch_model.fp16.safetensors").is_file()
    cfg = svd_config(svd)
    with pytest.raises(InputError, match="fp16"):
        ACTalkerPipeline.from_svd(svd, cfg, registry=tiny_registry())
    cfg.model.unet.variant = "fp16"
    pipe = ACTalkerPipeline.from_svd(svd, cfg, registry=tiny_registry(), torch_dtype=torch.float16)
    assert {p.dtype for p in pipe.denoiser.parameters()} == {torch.float16}
    assert pipe.vae.dtype == torch.float16
    assert not any(t.is_meta for t in pipe.denoiser.state_dict().values())


def test_loaders_never_build_a_random_backbone(svd_dir, tmp_path, monkeypatch):
    """from_svd and from_pretrained construct the UNet on the meta device (no storage, no
    random init) and assign the loaded tensors: the peak is the weights once."""
    from actalker.core.denoiser import ACTalkerDenoiser

    built = []
    init = ACTalkerDenoiser.__init__

    def spy(self, *args, **kwargs):
        init(self, *args, **kwargs)
        built.append(self.backbone.conv_in.weight.is_meta)

    monkeypatch.setattr(ACTalkerDenoiser, "__init__", spy)
    den = ACTalkerDenoiser.from_svd(svd_dir, branches={"a": {"modality": "sig_a"}}, identity={"kind": "clip", "dim": 16},
                                    pcm=tiny_pcm_config(mixer="attention"), registry=tiny_registry())
    den.save_pretrained(tmp_path / "den")
    loaded = ACTalkerDenoiser.from_pretrained(tmp_path / "den", registry=tiny_registry())
    assert built == [True, True]
    for model in (den, loaded):
        assert not any(t.is_meta for t in model.state_dict().values())
    assert all(torch.equal(v, den.state_dict()[k]) for k, v in loaded.state_dict().items())
