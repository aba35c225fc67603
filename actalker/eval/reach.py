"""How far each branch's condition reaches into its region: a diagnostic of the PCM scan.

A branch scans its region's tokens (in raster order) together with its condition tokens.
This runs a model once on a held-out synthetic clip, captures every PCM layer's real
inputs, then re-runs each open branch with its condition shifted in time (another frame's
condition, or an unrelated random one of the same scale) and reports how much each region token's output changes, relative to its size,
by quarter of the region in scan order. A condition that only reaches the tokens next to
it in the sequence shows up as zeros in the first quarters (where the eyes sit in the
upper-face region): that was the motion branch of the first demo models
(docs/results.md). Run::

    python -m actalker.eval.reach --model actalker/assets/demo_model
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

QUARTERS = 4


def capture_pcm_inputs(pipe, inputs: dict, conditions: dict, num_frames: int) -> dict:
    """Run one short generation and keep each PCM layer's first call: {name: (args, kwargs)}."""
    seen, handles = {}, []
    for name, layer in pipe.denoiser.pcm_layers.items():
        def hook(module, args, kwargs, output, name=name):
            seen.setdefault(name, (args, kwargs))
        handles.append(layer.register_forward_hook(hook, with_kwargs=True))
    face = inputs["face"]
    try:
        pipe(np.asarray(face["frames"][0]), conditions, gates={b: 1.0 for b in conditions},
             landmarks=np.asarray(face["landmarks"][:1], np.float32), boxes=np.asarray(face["boxes"][:1], np.float32),
             num_frames=num_frames, num_inference_steps=2, fps=inputs["fps"], seed=0, progress=False)
    finally:
        for h in handles:
            h.remove()
    return seen


def _layer_args(layer, args, kwargs):
    names = ("x", "conds", "gates", "weights", "ident")
    got = dict(zip(names, args))
    got.update({k: v for k, v in kwargs.items() if k in names})
    return got["x"], got["conds"], got.get("weights") or {}, got.get("ident")


@torch.no_grad()
def branch_reach(layer, args, kwargs, change: str = "shift") -> dict[str, list[float]]:
    """{branch: relative output change per quarter of its kept tokens, first to last in scan order}.

    ``change``: ``shift`` = the condition of another frame (what the signal's own variation
    does); ``random`` = an unrelated condition of the same scale (what the scan can carry)."""
    x, conds, weights, ident = _layer_args(layer, args, kwargs)
    out = {}
    for name, cond in conds.items():
        branch, weight = layer.branches[name], weights.get(name)
        if weight is None:
            continue  # mask mode none: every token is in the region, quarters mean nothing
        if change == "shift":
            other = cond.roll(shifts=cond.shape[1] // 2, dims=1)
        else:
            other = torch.randn(cond.shape, generator=torch.Generator().manual_seed(0)).to(cond) * cond.std()
        run = lambda c: branch(x, c.to(x.dtype), ident, weight, layer.mask_mode, layer.scan_mode == "spatiotemporal")
        y, y2 = run(cond), run(other)
        rel = ((y - y2).norm(dim=-1) / y.norm(dim=-1).clamp_min(1e-6))  # (B, F, L)
        kept = weight > 0.5
        per_row = [rel[b, f][kept[b, f]] for b in range(rel.shape[0]) for f in range(rel.shape[1]) if kept[b, f].any()]
        if not per_row:
            continue
        quarters = [[] for _ in range(QUARTERS)]
        for r in per_row:  # quarters of each frame's region, in scan (raster) order
            for q, part in enumerate(torch.tensor_split(r, QUARTERS)):
                if part.numel():
                    quarters[q].append(part.mean())
        out[name] = [float(torch.stack(q).mean()) if q else float("nan") for q in quarters]
    return out


def reach_table(model_dir: Path, num_frames: int = 8, change: str = "shift") -> list[dict]:
    from actalker.demo.model import load_demo_pipeline
    from actalker.demo.run import conditions_for, make_inputs

    pipe = load_demo_pipeline(model_dir)
    s = pipe.config.sampling
    inputs = make_inputs(num_frames=num_frames, size=int(s.height), fps=float(s.fps), seed=1000, index=0)
    seen = capture_pcm_inputs(pipe, inputs, conditions_for(pipe, inputs), num_frames)
    rows = []
    for layer_name, (args, kwargs) in seen.items():
        for branch, quarters in branch_reach(pipe.denoiser.pcm_layers[layer_name], args, kwargs, change).items():
            rows.append({"layer": layer_name, "branch": branch, "quarters": quarters})
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", type=Path, required=True, help="model folder")
    p.add_argument("--frames", type=int, default=8)
    p.add_argument("--change", choices=("shift", "random"), default="shift",
                   help="shift: another frame's condition; random: an unrelated one of the same scale")
    args = p.parse_args(argv)
    print("| layer | branch | " + " | ".join(f"quarter {q + 1}" for q in range(QUARTERS)) + " |")
    print("|---|---|" + "---|" * QUARTERS)
    for r in reach_table(args.model, args.frames, args.change):
        print(f"| {r['layer']} | {r['branch']} | " + " | ".join(f"{v:.3f}" for v in r["quarters"]) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
