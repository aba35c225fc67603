"""train.reference_blur: the reference frame loses a region's state for the chosen samples only."""
import pytest
import torch

from actalker.errors import ConfigError
from actalker.train.conditioning import randomize_controls
from actalker.train.reference_blur import blur_reference_regions, draw_reference_blur
from tests.train.test_conditioning import _setup


def _image_and_mask(n=3, size=32):
    g = torch.Generator().manual_seed(0)
    image = torch.rand(n, 3, size, size, generator=g) * 2 - 1
    mask = torch.zeros(n, size, size)
    mask[:, 4:12, 8:24] = 1.0  # the region
    return image, mask


def test_only_chosen_samples_and_only_near_their_region_change():
    image, mask = _image_and_mask()
    chosen = torch.tensor([True, False, True])
    out = blur_reference_regions(image, {"r": mask}, {"r": chosen})
    torch.testing.assert_close(out[1], image[1])  # not chosen: untouched
    far = torch.ones(32, 32, dtype=torch.bool)
    far[3:13, 7:25] = False  # the region plus its one-pixel soft edge
    torch.testing.assert_close(out[0][:, far], image[0][:, far])
    inside = out[0][:, 5:11, 9:23]
    assert (inside - image[0][:, 5:11, 9:23]).abs().mean() > 0.2  # the noise pattern is gone there
    assert inside.std() < 0.5 * image[0][:, 5:11, 9:23].std()  # ... replaced by a smooth blur
    torch.testing.assert_close(inside.mean(), image[0][:, 5:11, 9:23].mean(), atol=0.15, rtol=0)  # colour kept


def test_nothing_chosen_returns_the_image_and_a_missing_mask_is_named():
    image, mask = _image_and_mask()
    assert blur_reference_regions(image, {}, {"r": torch.zeros(3, dtype=torch.bool)}) is image
    with pytest.raises(ConfigError, match=r"reference_blur.*\['eyes'\]"):
        blur_reference_regions(image, {"r": mask}, {"eyes": torch.ones(3, dtype=torch.bool)})


def test_draw_rate_and_an_empty_setting_draws_nothing():
    g = torch.Generator().manual_seed(0)
    drawn = draw_reference_blur({"a": 0.25, "b": 1.0}, 4000, g)
    assert abs(float(drawn["a"].float().mean()) - 0.25) < 0.03 and bool(drawn["b"].all())
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    assert draw_reference_blur({}, 4, g1) == {}
    assert torch.equal(torch.rand(3, generator=g1), torch.rand(3, generator=g2))


def test_a_blurred_region_no_branch_steers_still_gets_its_mask(tmp_path):
    from actalker.plugins.registry import Registry
    from actalker.train.conditioning import ItemConditioning
    from tests.core.tiny_models import _box_region
    from tests.train.helpers import TinyClips

    cfg, pipe, _ = _setup(tmp_path)
    reg = pipe.registry
    registry = Registry(modalities=reg.modalities, regions={**reg.regions, "mid": _box_region("mid", 0.25, 0.75)},
                        plugins=reg.plugins, owners=reg.owners)
    item = ItemConditioning(pipe.branches, registry, cfg.data.fps, pipe.face_region(), extra_regions={"mid": 1.0})(
        TinyClips()[0])
    assert "mid" in item["region_masks"]
    with pytest.raises(Exception, match="nowhere"):
        ItemConditioning(pipe.branches, registry, cfg.data.fps, None, extra_regions={"nowhere": 1.0})


def test_the_training_step_blurs_the_reference_it_encodes(tmp_path):
    from actalker.train.step import micro_batch_loss

    losses = {}
    cfg0, pipe, batch = _setup(tmp_path, reference_blur={"upper": 0.0}, reference_dropout=0.0)
    cfg1 = cfg0.model_copy(update={"train": cfg0.train.model_copy(update={"reference_blur": {"upper": 1.0}})})
    for name, cfg in (("off", cfg0), ("on", cfg1)):
        with torch.no_grad():
            loss, stats = micro_batch_loss(pipe.denoiser, pipe, batch, cfg, torch.Generator().manual_seed(7), "cpu",
                                           pipe.face_region())
        losses[name] = (float(loss), stats)
    assert losses["off"][1]["reference_blurred_upper"] == 0.0 and losses["on"][1]["reference_blurred_upper"] == 1.0
    # same draws, only the reference differs; by more than rounding (an 8-px image once got a no-op blur)
    assert abs(losses["off"][0] - losses["on"][0]) > 1e-5
