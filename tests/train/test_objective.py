"""The EDM v-prediction objective matches diffusers' Euler v-prediction sampler."""
import math

import torch

from actalker.core.sampling import make_scheduler
from actalker.train.objective import edm_loss, make_noise, precondition, rand_log_normal


def test_preconditioning_matches_euler_v_prediction_scheduler():
    sched = make_scheduler()
    sched.set_timesteps(6)
    x = torch.randn(1, 2, 4, 3, 3)
    out = torch.randn_like(x)
    for i, t in enumerate(sched.timesteps):
        sigma = sched.sigmas[i].reshape(1)
        p = precondition(sigma)
        sched._step_index = None
        sched._init_step_index(t)
        torch.testing.assert_close(sched.scale_model_input(x, t), p.c_in * x)
        torch.testing.assert_close(p.c_noise, t.reshape(1).float(), rtol=1e-5, atol=1e-5)
        # The scheduler's denoised estimate for v-prediction (its step(), written out).
        s = float(sigma)
        denoised = out * (-s / (s**2 + 1) ** 0.5) + x / (s**2 + 1)
        torch.testing.assert_close(p.c_skip * x + p.c_out * out, denoised)


def test_weighted_loss_is_mse_on_v_and_zero_for_the_oracle():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 2, 4, 3, 3, generator=g)
    ref = torch.randn_like(x)
    noise = torch.randn(x.shape, generator=g)
    sigma = torch.tensor([0.05, 1.0, 30.0])
    s = sigma.view(-1, 1, 1, 1, 1)
    v = (noise - s * x) / (1 + s**2).sqrt()  # v target (Salimans & Ho) in EDM's sigma terms
    seen = {}

    def oracle(sample, timestep, **kw):
        seen.update(kw, sample=sample, timestep=timestep)
        return v

    loss, per = edm_loss(oracle, x, ref, sigma, noise, extra=1)
    assert float(loss) < 1e-10
    assert seen["extra"] == 1 and seen["sample"].shape == (3, 2, 8, 3, 3)
    torch.testing.assert_close(seen["sample"][:, :, 4:], ref)  # reference is not scaled
    torch.testing.assert_close(seen["timestep"], 0.25 * sigma.log())

    wrong = torch.randn(x.shape, generator=g)
    loss, per = edm_loss(lambda *a, **k: wrong, x, ref, sigma, noise)
    torch.testing.assert_close(per, ((wrong - v) ** 2).flatten(1).mean(1), rtol=1e-4, atol=1e-5)


def test_sigma_sampling_is_log_normal():
    g = torch.Generator().manual_seed(0)
    sig = rand_log_normal((20000,), 0.7, 1.6, g)
    assert abs(float(sig.log().mean()) - 0.7) < 0.05
    assert abs(float(sig.log().std()) - 1.6) < 0.05


def test_noise_offset_is_shared_per_channel():
    lat = torch.zeros(64, 4, 4, 8, 8)
    plain = make_noise(lat, 0.0, torch.Generator().manual_seed(1))
    offset = make_noise(lat, 0.5, torch.Generator().manual_seed(1))
    shift = offset - plain  # the same N(0, 0.25) for every frame and pixel of a channel
    assert torch.allclose(shift, shift[:, :1, :, :1, :1].expand_as(shift))
    assert math.isclose(float(shift[:, 0, :, 0, 0].std()), 0.5, rel_tol=0.15)


def test_region_loss_weight_counts_only_inside_the_branch_regions():
    from types import SimpleNamespace

    from actalker.train.step import region_loss_weight

    mouth = torch.zeros(2, 8, 8)
    mouth[:, 4:8, 2:6] = 1.0  # = latent cells (2:4, 1:3) of the 4x4 grid
    masks = {"mouth": mouth, "upper_face": torch.zeros(2, 8, 8), "face": torch.ones(2, 8, 8)}
    branches = [SimpleNamespace(region="mouth"), SimpleNamespace(region="upper_face")]
    assert region_loss_weight(masks, branches, 0.0, (4, 4)) is None
    w = region_loss_weight(masks, branches, 3.0, (4, 4))
    assert w.shape == (2, 1, 1, 4, 4)
    assert float(w[0, 0, 0, 2, 1]) == 4.0 and float(w[0, 0, 0, 0, 0]) == 1.0
    assert float(w.sum()) == 2 * (16 + 3 * 4)

    # In the loss: an error only outside the regions costs the same as without weights; the
    # same error inside costs 1 + w times as much.
    g = torch.Generator().manual_seed(0)
    x = torch.zeros(2, 1, 4, 4, 4)
    sigma = torch.ones(2)
    noise = torch.randn(x.shape, generator=g)
    v = noise / 2 ** 0.5
    for where, factor in (((0, 0), 1.0), ((2, 1), 4.0)):
        out = v.clone()
        out[..., where[0], where[1]] += 1.0
        plain, _ = edm_loss(lambda *a, **k: out, x, x, sigma, noise)
        weighted, _ = edm_loss(lambda *a, **k: out, x, x, sigma, noise, loss_weight=w)
        torch.testing.assert_close(weighted, factor * plain)


def test_part_loss_weight_adds_inside_its_own_region_on_top_of_the_branches():
    from types import SimpleNamespace

    from actalker.train.step import region_loss_weight

    face = torch.zeros(1, 8, 8)
    face[:, 0:8, 0:8] = 1.0
    eyes = torch.zeros(1, 8, 8)
    eyes[:, 2:4, 2:4] = 1.0  # one latent cell of the 4x4 grid, (1, 1)
    eyes[:, 2:3, 4:6] = 1.0  # half of cell (1, 2): area-averaged
    masks = {"upper_face": face, "eyes": eyes}
    branches = [SimpleNamespace(region="upper_face")]
    w = region_loss_weight(masks, branches, 4.0, (4, 4), {"eyes": 8.0})
    assert float(w[0, 0, 0, 1, 1]) == 1 + 4 + 8 and float(w[0, 0, 0, 1, 2]) == 1 + 4 + 4
    assert float(w[0, 0, 0, 3, 3]) == 1 + 4
    alone = region_loss_weight(masks, branches, 0.0, (4, 4), {"eyes": 8.0})  # a part weight needs no branch weight
    assert float(alone[0, 0, 0, 1, 1]) == 9.0 and float(alone[0, 0, 0, 0, 0]) == 1.0
    assert region_loss_weight(masks, branches, 0.0, (4, 4), {"eyes": 0.0}) is None


def test_training_with_a_part_weight_on_a_region_no_branch_uses(tmp_path):
    from actalker.train.conditioning import training_regions
    from actalker.train.loop import train
    from tests.train.helpers import tiny_config, tiny_parts

    cfg = tiny_config(tmp_path, max_steps=1, part_loss_weight={"whole": 2.0}, reference_blur={"lower": 0.2})
    assert training_regions(cfg.train) == ["lower", "whole"]
    result = train(cfg, parts=tiny_parts(cfg), progress=False)  # the items carry the "whole" masks the loss reads
    assert result.step == 1 and result.model_dir is not None
