"""Per-item features and masks; per-batch gate, condition and reference dropout."""
import torch

from actalker.core.masks import resolve_branch_masks
from actalker.train.conditioning import ItemConditioning, randomize_controls
from actalker.train.data import collate
from tests.train.helpers import TinyClips, tiny_config, tiny_parts


def _setup(tmp_path, **train):
    cfg = tiny_config(tmp_path, **train)
    pipe = tiny_parts(cfg).pipeline
    transform = ItemConditioning(pipe.branches, pipe.registry, cfg.data.fps, pipe.face_region())
    batch = collate([transform(TinyClips()[i]) for i in range(6)])
    return cfg, pipe, batch


def test_item_features_come_from_the_plugins_and_masks_from_regions(tmp_path):
    cfg, pipe, batch = _setup(tmp_path)
    motion = batch["motion"]
    torch.testing.assert_close(batch["features"]["a"], motion[..., :15].reshape(6, 2, 3, 5))
    torch.testing.assert_close(batch["features"]["b"], motion[..., 15:21])
    assert set(batch["region_masks"]) == {"lower", "upper", "whole"}
    lower = pipe.registry.region("lower").mask(None, batch["boxes"][0, :1], 8, 8)[0]
    torch.testing.assert_close(batch["region_masks"]["lower"][0], lower)


def test_dropout_rates_and_null_features(tmp_path):
    cfg, pipe, batch = _setup(tmp_path, condition_dropout=1.0, gate_dropout=0.0, reference_dropout=1.0)
    c = randomize_controls(batch, pipe.branches, cfg.train, torch.Generator().manual_seed(0))
    assert all(bool((v == 0).all()) for v in c.conditions.values())  # null = zeros for these plugins
    assert all(bool((g == 1).all()) for g in c.gates.values())
    assert not bool(c.keep_reference.any())

    cfg, pipe, batch = _setup(tmp_path, condition_dropout=0.0, gate_dropout=1.0, reference_dropout=0.0)
    c = randomize_controls(batch, pipe.branches, cfg.train, torch.Generator().manual_seed(0))
    torch.testing.assert_close(c.conditions["a"], batch["features"]["a"])
    assert all(bool((g == 0).all()) for g in c.gates.values())
    assert bool(c.keep_reference.all())


def test_gate_dropout_gives_random_subsets_and_the_solo_rule_applies(tmp_path):
    cfg, pipe, batch = _setup(tmp_path, gate_dropout=0.5)
    c = randomize_controls(batch, pipe.branches, cfg.train, torch.Generator().manual_seed(3))
    open_a, open_b = c.gates["a"] > 0, c.gates["b"] > 0
    patterns = {(bool(x), bool(y)) for x, y in zip(open_a, open_b)}
    assert len(patterns) >= 3  # several subsets in one batch of 6 (seed fixed)
    assert bool((open_a & ~open_b).any()) and bool((open_a & open_b).any())
    n, f = 6, 2
    gates = {k: g[:, None].expand(n, f) for k, g in c.gates.items()}
    masks = resolve_branch_masks(gates, {b.name: b.region for b in pipe.branches},
                                 {b.name: b.solo_region for b in pipe.branches}, c.region_masks, n, f)
    whole = c.region_masks["whole"]
    for i in range(n):
        if open_a[i] and not open_b[i]:  # a alone steers its solo region (the whole face)
            torch.testing.assert_close(masks["a"][i, 0], whole[i])
        if open_a[i] and open_b[i]:
            torch.testing.assert_close(masks["a"][i, 0], c.region_masks["lower"][i])


def test_masks_follow_a_reference_drawn_elsewhere(tmp_path):
    cfg = tiny_config(tmp_path)
    pipe = tiny_parts(cfg).pipeline
    transform = ItemConditioning(pipe.branches, pipe.registry, cfg.data.fps, pipe.face_region())
    item = TinyClips()[0]
    moved = torch.tensor([[0.0, 0.5, 0.5, 1.0]])  # a face box unlike the window's
    item["reference_boxes"], item["reference_landmarks"] = moved, None
    masks = transform(item)["region_masks"]
    expect = pipe.registry.region("lower").mask(None, moved, 8, 8)[0]
    torch.testing.assert_close(masks["lower"], expect)
    assert not torch.allclose(masks["lower"], pipe.registry.region("lower").mask(None, item["boxes"][:1], 8, 8)[0])


def test_the_step_encodes_the_items_reference_when_there_is_one(tmp_path, monkeypatch):
    import actalker.train.step as step

    cfg, pipe, batch = _setup(tmp_path)
    seen = []
    real = step.encode_reference

    def spy(vae, image, *args, **kwargs):
        seen.append(image.clone())
        return real(vae, image, *args, **kwargs)

    monkeypatch.setattr(step, "encode_reference", spy)
    step.micro_batch_loss(pipe.denoiser, pipe, batch, cfg, torch.Generator().manual_seed(0), "cpu", pipe.face_region())
    torch.testing.assert_close(seen[-1], batch["frames"][:, 0])
    batch["reference"] = torch.zeros_like(batch["frames"][:, 0]) + 0.5
    step.micro_batch_loss(pipe.denoiser, pipe, batch, cfg, torch.Generator().manual_seed(0), "cpu", pipe.face_region())
    torch.testing.assert_close(seen[-1], batch["reference"])
