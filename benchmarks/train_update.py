"""The per-step weight update of training, before and after, in one run: AdamW's default
per-tensor loop against the fused kernel training uses, and an EMA written as a Python loop
of mul_/add_ against the one-call EMA of ``actalker.train.ema``.

    .venv/bin/python benchmarks/train_update.py [--config demo] [--calls 20] [--threads 2]

On the demo model's real parameters (random gradients). Prints seconds per call and the
ratio; also checks that both pairs compute the same update (to float tolerance), so the
speed-up is not bought with a different optimizer. Prints the load average with the table.
"""
from __future__ import annotations

import argparse
import os
import time

import torch


def _per_call(fn, calls: int) -> float:
    for _ in range(3):
        fn()
    t0 = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - t0) / calls


def _denoiser_params(config: str) -> list:
    from actalker.config import load_config
    from actalker.core.denoiser import ACTalkerDenoiser
    from actalker.plugins import load_registry

    registry = load_registry()
    cfg, _ = load_config(config, registry=registry)
    params = [p for p in ACTalkerDenoiser.from_model_config(cfg.model, registry=registry).parameters() if p.requires_grad]
    g = torch.Generator().manual_seed(0)
    for p in params:
        p.grad = torch.randn(p.shape, generator=g)
    return params


def adam_rows(params, calls: int) -> list[tuple[str, float]]:
    from actalker.train.loop import make_optimizer

    class _T:
        lr, weight_decay = 1e-4, 1e-2

    rows, results = [], []
    for name, make in (("AdamW, per-tensor loop (torch's CPU default)",
                        lambda ps: torch.optim.AdamW(ps, lr=_T.lr, weight_decay=_T.weight_decay, foreach=False)),
                       ("AdamW, fused (make_optimizer)", lambda ps: make_optimizer(ps, _T, torch.device("cpu")))):
        copies = [p.detach().clone().requires_grad_(True) for p in params]
        for c, p in zip(copies, params):
            c.grad = p.grad.clone()
        opt = make(copies)
        rows.append((name, _per_call(opt.step, calls)))
        results.append(copies)
    diff = max(float((a - b).detach().abs().max()) for a, b in zip(*results))
    assert diff < 1e-5, f"fused AdamW differs from the loop by {diff}"
    return rows


def ema_rows(params, calls: int) -> list[tuple[str, float]]:
    from actalker.train.ema import EMA

    named = [(str(i), p) for i, p in enumerate(params)]
    shadow = [torch.zeros_like(p) for p in params]  # both averages start at 0, away from the weights

    def loop():
        for s, p in zip(shadow, params):
            s.mul_(0.99).add_(p.detach(), alpha=0.01)

    ema = EMA(named, 0.99, warmup=False)
    for s in ema.shadow.values():
        s.zero_()
    rows = [("EMA, Python loop of mul_/add_", _per_call(loop, calls)),
            ("EMA, one _foreach_lerp_ (actalker.train.ema)", _per_call(lambda: ema.update(named), calls))]
    diff = max(float((s - ema.shadow[n]).abs().max()) for s, (n, _) in zip(shadow, named))
    assert diff < 1e-5, f"the EMA differs from the loop by {diff}"
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", default="demo")
    p.add_argument("--calls", type=int, default=20)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    params = _denoiser_params(args.config)
    print(f"{len(params)} tensors, {sum(p.numel() for p in params)} weights; threads {args.threads}; "
          f"load average {os.getloadavg()[0]:.2f}")
    for pair in (adam_rows(params, args.calls), ema_rows(params, args.calls)):
        (base_name, base), (new_name, new) = pair
        print(f"  {base_name:<48} {base * 1000:7.1f} ms")
        print(f"  {new_name:<48} {new * 1000:7.1f} ms   ({base / new:.1f}x)")


if __name__ == "__main__":
    main()
