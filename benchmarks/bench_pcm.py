"""PCM layer vs full spatio-temporal self-attention over the same tokens, and denoiser steps.

    make bench                                   # the pytest-benchmark cases below
    .venv/bin/python benchmarks/bench_pcm.py     # the scaling table (markdown) + log-log slopes

Each scaling point runs in its own process so its peak RSS is its own (CPU has no
per-op allocator peak like CUDA's max_memory_allocated). One branch, mask mode none
(every token scanned: the worst case for PCM), width 64, 16 frames, batch 1.
"""
from __future__ import annotations

import argparse
import json
import math
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

WIDTH, FRAMES, COND_TOKENS = 64, 16, 2
SIDES = (8, 11, 16, 23, 32, 45, 64)  # 16 frames x side^2 tokens: 1k ... 64k, about 2x apart
ATTENTION_MAX_TOKENS = 65536  # above this full attention is too slow on a CPU: not run


def layer_and_inputs(mixer: str, side: int, frames: int = FRAMES):
    from actalker.core.pcm import PCMLayer

    torch.manual_seed(0)
    layer = PCMLayer(WIDTH, {"a": WIDTH}, scan_mode="spatiotemporal", mask_mode="none", mixer=mixer,
                     d_state=16, d_conv=4, expand=1, id_dim=WIDTH).eval()
    torch.nn.init.normal_(layer.out_proj.weight, std=0.02)
    x = torch.randn(1, frames, side * side, WIDTH)
    args = (x, {"a": torch.randn(1, frames, COND_TOKENS, WIDTH)}, {"a": torch.ones(1)}, None, torch.randn(1, WIDTH))
    return layer, args


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def measure_one(mixer: str, side: int, repeats: int) -> dict:
    torch.set_num_threads(1)  # one thread: OpenMP spin-waits on shared, busy cores would swamp the timings
    layer, args = layer_and_inputs(mixer, side)
    base = _rss_mb()
    times, cpu = [], []
    with torch.no_grad():
        layer(*args)  # warm-up
        for _ in range(repeats):
            t0, c0 = time.perf_counter(), time.process_time()
            layer(*args)
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)  # CPU seconds: robust when other jobs share the cores
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - base
    return {"mixer": mixer, "tokens": FRAMES * side * side, "seconds": min(times), "cpu_seconds": min(cpu),
            "peak_mb": max(peak, 0.0)}


def slope(points: list[tuple[float, float]]) -> float:
    xs, ys = [math.log(p[0]) for p in points], [math.log(p[1]) for p in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)


def denoiser_step(size: str) -> float:
    """Seconds for one no-grad denoiser forward (B=1) at the tiny or a mid-size config."""
    from tests.core.tiny_models import randomize_new_modules, tiny_denoiser, tiny_inputs, tiny_unet_config

    torch.manual_seed(0)
    if size == "tiny":
        den, inp = tiny_denoiser(), tiny_inputs(batch=1)
    else:
        unet = tiny_unet_config(
            block_out_channels=(64, 128, 256), num_attention_heads=(2, 4, 8), cross_attention_dim=64,
            down_block_types=("CrossAttnDownBlockSpatioTemporal",) * 2 + ("DownBlockSpatioTemporal",),
            up_block_types=("UpBlockSpatioTemporal",) + ("CrossAttnUpBlockSpatioTemporal",) * 2, layers_per_block=2)
        den = tiny_denoiser(unet=unet, pcm={"down_levels": [0, 1], "up_levels": [1, 2], "d_state": 16, "width": None},
                            cond_dim=64)
        inp = tiny_inputs(batch=1, frames=8, size=32, mask_size=64)
    randomize_new_modules(den, scale=0.02)
    den.eval()
    with torch.no_grad():
        den(**inp)
        t0 = time.perf_counter()
        den(**inp)
    return time.perf_counter() - t0


# ---- pytest-benchmark cases (make bench) ---------------------------------------------------
@pytest.mark.benchmark
@pytest.mark.parametrize("mixer", ["mamba", "attention"])
@pytest.mark.parametrize("side", [8, 16])
def test_pcm_layer(benchmark, mixer, side):
    layer, args = layer_and_inputs(mixer, side)
    with torch.no_grad():
        out = benchmark(layer, *args)
    assert out.shape == args[0].shape


@pytest.mark.benchmark
def test_pcm_scales_linearly(benchmark):
    def sweep():
        pts = []
        for side in (8, 16, 32):
            layer, args = layer_and_inputs("mamba", side)
            with torch.no_grad():
                layer(*args)
                best = math.inf
                for _ in range(3):
                    t0 = time.process_time()
                    layer(*args)
                    best = min(best, time.process_time() - t0)
            pts.append((FRAMES * side * side, best))
        return slope(pts)

    assert benchmark.pedantic(sweep, rounds=1, iterations=1) <= 1.15


@pytest.mark.benchmark
@pytest.mark.parametrize("size", ["tiny", "mid"])
def test_denoiser_step(benchmark, size):
    assert benchmark.pedantic(denoiser_step, args=(size,), rounds=1, iterations=1) > 0


# ---- the report ---------------------------------------------------------------------------
def report() -> None:
    rows = []
    for mixer in ("mamba", "attention"):
        for side in SIDES:
            tokens = FRAMES * side * side
            if mixer == "attention" and tokens > ATTENTION_MAX_TOKENS:
                continue
            repeats = 5 if tokens <= 4096 else 3 if tokens <= 16384 else 2
            proc = subprocess.run([sys.executable, __file__, "--one", mixer, str(side), str(repeats)],
                                  capture_output=True, text=True, check=True)
            rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
            print(f"  {rows[-1]}", file=sys.stderr)
    print(f"machine: {platform.machine()} {platform.processor() or ''}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads allowed, 1 used per layer measurement")
    print("\n| mixer | tokens | wall (s) | CPU (s) | peak RSS increase (MiB) |\n|---|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['mixer']} | {r['tokens']} | {r['seconds']:.4f} | {r['cpu_seconds']:.4f} | {r['peak_mb']:.1f} |")
    for mixer in ("mamba", "attention"):
        mine = [r for r in rows if r["mixer"] == mixer]
        wall = slope([(r["tokens"], r["seconds"]) for r in mine])
        cpu = slope([(r["tokens"], r["cpu_seconds"]) for r in mine])
        mem = [(r["tokens"], r["peak_mb"]) for r in mine if r["peak_mb"] > 1]
        print(f"\n{mixer}: log-log slope wall {wall:.2f}, CPU {cpu:.2f}"
              + (f", memory {slope(mem):.2f}" if len(mem) > 1 else ""))
    for size in ("tiny", "mid"):
        print(f"denoiser step ({size}): {denoiser_step(size):.3f} s")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--one", nargs=3, metavar=("MIXER", "SIDE", "REPEATS"))
    a = ap.parse_args()
    if a.one:
        print(json.dumps(measure_one(a.one[0], int(a.one[1]), int(a.one[2]))))
    else:
        report()
