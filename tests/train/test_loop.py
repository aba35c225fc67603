"""The training loop: learning, accumulation, checkpoints, exact resume, stop on SIGTERM."""
import json
import signal

import pytest
import torch
from safetensors.torch import load_file

from actalker.train.checkpoint import latest_checkpoint
from actalker.train.conditioning import ItemConditioning
from actalker.train.loop import make_loader, make_optimizer, train, train_generator
from actalker.train.step import micro_batch_loss
from actalker.train.trainable import select_trainable
from tests.train.helpers import TinyClips, tiny_config, tiny_parts


def _transform(cfg, pipe):
    return ItemConditioning(pipe.branches, pipe.registry, cfg.data.fps, pipe.face_region())


def _weights(path):
    return load_file(str(path / "denoiser" / "diffusion_pytorch_model.safetensors"))


def test_loss_is_finite_and_falls_on_a_fixed_batch(tmp_path):
    cfg = tiny_config(tmp_path, condition_dropout=0.0, gate_dropout=0.0, reference_dropout=0.0, noise_offset=0.0,
                      trainable="all")
    pipe = tiny_parts(cfg).pipeline
    named = select_trainable(pipe.denoiser, "all")
    opt = torch.optim.AdamW([p for _, p in named], lr=2e-3, weight_decay=0.0)
    batch = next(iter(make_loader(cfg, TinyClips(), _transform(cfg, pipe))))
    losses = []
    for _ in range(20):  # same sigma, noise and controls every step: the loss is a function of the weights
        loss, _ = micro_batch_loss(pipe.denoiser, pipe, batch, cfg, torch.Generator().manual_seed(7), "cpu",
                                   pipe.face_region())
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert all(torch.isfinite(torch.tensor(losses)))
    assert losses[-1] < 0.5 * losses[0], losses
    assert sum(losses[-5:]) < sum(losses[:5])


def test_gradient_accumulation_averages_the_micro_batches(tmp_path):
    cfg = tiny_config(tmp_path / "run", max_steps=1, batch_size=1, grad_accum=2, grad_clip=0.0, weight_decay=0.0)
    result = train(cfg, parts=tiny_parts(cfg), progress=False)
    trained = _weights(result.model_dir)

    def manual(micro_batches: int):
        pipe = tiny_parts(cfg).pipeline  # the same initial weights
        named = select_trainable(pipe.denoiser, cfg.train.trainable)
        opt = torch.optim.AdamW([p for _, p in named], lr=cfg.train.lr, weight_decay=0.0)
        gen = train_generator(cfg.seed, 0)
        torch.manual_seed(cfg.seed)
        batches = iter(make_loader(cfg, TinyClips(), _transform(cfg, pipe)))
        for _ in range(micro_batches):
            loss, _ = micro_batch_loss(pipe.denoiser, pipe, next(batches), cfg, gen, "cpu", pipe.face_region())
            (loss / 2).backward()
        opt.step()
        return {k: v.detach() for k, v in pipe.denoiser.state_dict().items()}

    both = manual(2)
    for k, v in trained.items():
        torch.testing.assert_close(v, both[k], rtol=1e-5, atol=1e-6)
    first_only = manual(1)
    assert any(not torch.allclose(trained[k], first_only[k], atol=1e-6) for k in trained)


class SignalAt(TinyClips):
    """Raises a real SIGTERM in this process while the loop loads its ``at``-th item."""

    def __init__(self, at: int):
        super().__init__()
        self.at, self.loads = at, 0

    def __getitem__(self, i):
        self.loads += 1
        if self.loads == self.at:
            signal.raise_signal(signal.SIGTERM)
        return super().__getitem__(i)


def test_sigterm_checkpoint_and_resume_are_bit_identical(tmp_path):
    common = dict(max_steps=4, batch_size=1, grad_accum=2, ema_decay=0.9, checkpoint_every=100, warmup_steps=2)
    cfg = tiny_config(tmp_path / "straight", **common)
    straight = train(cfg, parts=tiny_parts(cfg), progress=False)
    assert straight.stopped_by is None and straight.step == 4

    cfg = tiny_config(tmp_path / "killed", **common)
    parts = tiny_parts(cfg)
    parts.dataset = SignalAt(at=4)  # during step 2's second micro-batch (1 item per micro-batch)
    stopped = train(cfg, parts=parts, progress=False)
    assert stopped.stopped_by == signal.SIGTERM and stopped.step == 2 and stopped.model_dir is None
    ckpt = latest_checkpoint(tmp_path / "killed")
    assert ckpt.name == "step-00000002"
    assert json.loads((ckpt / "state.json").read_text())["step"] == 2
    assert not list((tmp_path / "killed" / "checkpoints").glob(".tmp*"))

    with pytest.raises(Exception, match="--resume"):
        train(cfg, parts=tiny_parts(cfg), progress=False)
    resumed = train(cfg, resume=True, parts=tiny_parts(cfg), progress=False)
    assert resumed.step == 4

    a, b = _weights(straight.model_dir), _weights(resumed.model_dir)  # EMA weights (ema_decay is set)
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    for name in ("model.safetensors", "ema.safetensors"):
        x = load_file(str(straight.checkpoint / name))
        y = load_file(str(resumed.checkpoint / name))
        assert all(torch.equal(x[k], y[k]) for k in x)
    init = tiny_parts(cfg).pipeline.denoiser.state_dict()
    assert any(not torch.equal(init[k], a[k]) for k in a)  # it did train


def test_checkpoint_round_trip_restores_weights_and_optimizer(tmp_path):
    from accelerate import Accelerator

    from actalker.train.checkpoint import load_checkpoint

    cfg = tiny_config(tmp_path, max_steps=2, checkpoint_every=2)
    parts = tiny_parts(cfg)
    result = train(cfg, parts=parts, progress=False)
    saved = load_file(str(result.checkpoint / "model.safetensors"))
    live = parts.pipeline.denoiser.state_dict()
    assert all(torch.equal(saved[k], live[k]) for k in saved)

    fresh = tiny_parts(cfg).pipeline.denoiser
    named = select_trainable(fresh, cfg.train.trainable)
    opt = make_optimizer([p for _, p in named], cfg.train, torch.device("cpu"))  # the trainer's own grouping
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)
    acc = Accelerator()
    model, opt, sched = acc.prepare(fresh, opt, sched)
    gen = torch.Generator()
    state = load_checkpoint(acc, result.checkpoint, gen)
    assert state["step"] == 2
    loaded = fresh.state_dict()
    assert all(torch.equal(saved[k], loaded[k]) for k in saved)
    assert all(int(s["step"]) == 2 for s in opt.state_dict()["state"].values())
    assert len(opt.state_dict()["state"]) == len(named)


def test_back_to_back_runs_in_one_process_with_other_precision(tmp_path):
    # accelerate's process-wide state must not leak from one run into the next (sweeps).
    for precision in ("bf16", "no"):
        cfg = tiny_config(tmp_path / precision, max_steps=1, mixed_precision=precision)
        result = train(cfg, parts=tiny_parts(cfg), progress=False)
        assert result.model_dir is not None and result.step == 1
