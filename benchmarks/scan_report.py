"""Selective-scan benchmark: chunked vs reference vs mambapy's pscan, time and peak memory.

    .venv/bin/python benchmarks/scan_report.py [--repeat 5] [--cases small,medium,large] [--threads N]

prints a Markdown table. Timing: best of ``--repeat`` runs after one warm-up, in this process.
Memory: each (case, implementation, mode) runs once in a fresh subprocess; the number is the
peak resident set size (VmHWM, reset through /proc/self/clear_refs after the inputs exist)
minus the resident size at that moment, i.e. what the operation adds on top of its inputs
(intermediates, saved tensors, outputs, gradients), with glibc's mmap threshold fixed at
64 KiB so freed blocks are not kept around. RSS counts torch's CPU allocations, which
tracemalloc does not see. ``bench_scan.py`` runs the same cases under pytest-benchmark.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time

import torch

CASES = {"small": (2, 128, 16, 1024), "medium": (2, 128, 16, 4096), "large": (1, 256, 16, 16384)}
IMPLS = ("chunked", "reference", "mambapy", "floor")


def make_inputs(b, d, N, L, grad: bool, seed: int = 0):
    """float32 inputs as a Mamba layer feeds them: delta > 0 (after softplus), S4D-real A."""
    g = torch.Generator().manual_seed(seed)
    t = {
        "u": torch.randn(b, d, L, generator=g),
        "delta": torch.rand(b, d, L, generator=g) * 0.1 + 1e-3,
        "A": -torch.arange(1.0, N + 1).repeat(d, 1),
        "B": torch.randn(b, N, L, generator=g),
        "C": torch.randn(b, N, L, generator=g),
    }
    return {k: v.requires_grad_(grad) for k, v in t.items()}


def _mambapy(u, delta, A, B, C):
    from mambapy.pscan import pscan  # benchmark-only dependency

    # the same work as the scan: decays, inputs, the scan itself and y = <x, C>; layout (b, L, d, N)
    dA = torch.exp(delta.transpose(1, 2).unsqueeze(-1) * A)
    dBu = (delta * u).transpose(1, 2).unsqueeze(-1) * B.transpose(1, 2).unsqueeze(2)
    hs = pscan(dA, dBu)
    return (hs @ C.transpose(1, 2).unsqueeze(-1)).squeeze(-1).transpose(1, 2)


def run_once(impl: str, inp: dict, mode: str):
    """One forward (no_grad) or forward+backward of ``impl`` on ``inp``."""
    from actalker.core.scan import selective_scan

    if impl == "floor":  # one elementwise pass materialising exp(delta*A) over (b, d, L, N)
        with torch.no_grad():
            return torch.exp(inp["delta"].unsqueeze(-1) * inp["A"].unsqueeze(1))
    fn = _mambapy if impl == "mambapy" else (lambda **kw: selective_scan(**kw, backend=impl))
    if mode == "fwd":
        with torch.no_grad():
            return fn(**inp)
    for v in inp.values():
        v.grad = None
    y = fn(**inp)
    y.backward(torch.ones_like(y))
    return y


def time_case(impl, case, mode, repeat):
    inp = make_inputs(*case, grad=(mode == "fwdbwd" and impl != "floor"))
    run_once(impl, inp, mode)
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        run_once(impl, inp, mode)
        best = min(best, time.perf_counter() - t0)
    return best


def _status_kib(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise RuntimeError(key)


def measure_peak_here(impl, case, mode) -> float:
    """MiB added on top of the inputs by one run (run in a fresh process; see module doc)."""
    run_once(impl, make_inputs(2, 4, 4, 32, grad=(mode == "fwdbwd" and impl != "floor")), mode)  # load code paths
    inp = make_inputs(*case, grad=(mode == "fwdbwd" and impl != "floor"))
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset the high-water mark to the current RSS
    base = _status_kib("VmRSS")
    run_once(impl, inp, mode)
    return (_status_kib("VmHWM") - base) / 1024


def measure_peak(impl, case, mode) -> float:
    cmd = [sys.executable, __file__, "--measure", impl, mode, *map(str, case)]
    # a fixed mmap threshold makes glibc return freed large blocks at once, so the peak is
    # what the operation holds, not what the allocator happened to keep from earlier steps
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536"}
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])["peak_mib"]


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__} ({torch.get_num_threads()} threads), Python {platform.python_version()}"


def report(case_names, repeat) -> str:
    rows, res = [], {}
    for name in case_names:
        case = CASES[name]
        impls = [i for i in IMPLS if i != "reference" or name == "small"]
        for mode in ("fwd", "fwdbwd"):
            for impl in impls:
                if impl == "floor" and mode == "fwdbwd":
                    continue
                t = time_case(impl, case, mode, repeat if impl != "reference" else max(1, repeat // 2))
                m = measure_peak(impl, case, mode)
                res[name, mode, impl] = (t, m)
    floor = {n: res[n, "fwd", "floor"][0] for n in case_names}
    rows.append("| (b, d, N, L) | pass | implementation | time (ms) | time / chunked | memory above inputs (MiB) | memory / chunked |")
    rows.append("|---|---|---|---:|---:|---:|---:|")
    for (name, mode, impl), (t, m) in res.items():
        tc, mc = res.get((name, mode, "chunked"), res[name, "fwd", "chunked"])
        rows.append(f"| {CASES[name]} | {'forward' if mode == 'fwd' else 'forward+backward'} | {impl} | "
                    f"{t * 1e3:.1f} | {t / tc:.2f} | {m:.1f} | {m / mc if mc > 0 else float('nan'):.2f} |")
    rows.append("")
    rows.append("chunked time / floor (floor = one pass materialising exp(delta*A) over (b, d, L, N)):")
    rows.append("")
    for name in case_names:
        rows.append(f"- {CASES[name]}: forward {res[name, 'fwd', 'chunked'][0] / floor[name]:.1f}x, "
                    f"forward+backward {res[name, 'fwdbwd', 'chunked'][0] / floor[name]:.1f}x")
    if "medium" in case_names and "small" in case_names:
        tc, mc = res["medium", "fwdbwd", "chunked"]
        tm, mm = res["medium", "fwdbwd", "mambapy"]
        tr = res["small", "fwdbwd", "reference"][0] / res["small", "fwdbwd", "chunked"][0]
        rows += ["", "Goals (forward+backward):", "",
                 f"- {CASES['medium']}: chunked {tc * 1e3:.0f} ms vs mambapy {tm * 1e3:.0f} ms "
                 f"({'met' if tc <= tm else 'MISSED'}: no slower)",
                 f"- {CASES['medium']}: chunked memory {mc:.1f} MiB = {mc / mm:.3f} of mambapy's {mm:.1f} MiB "
                 f"({'met' if mc <= mm / 4 else 'MISSED'}: at most 1/4)",
                 f"- {CASES['small']}: chunked is {tr:.1f}x faster than the reference "
                 f"({'met' if tr >= 20 else 'MISSED'}: at least 20x)"]
    return "\n".join(rows)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--cases", default="small,medium,large")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    p.add_argument("--measure", nargs=6, metavar=("IMPL", "MODE", "B", "D", "N", "L"), help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    if a.measure:
        impl, mode, *case = a.measure
        print(json.dumps({"peak_mib": measure_peak_here(impl, tuple(map(int, case)), mode)}))
        return
    print(f"Machine: {machine()}\n")
    print(report(a.cases.split(","), a.repeat))


if __name__ == "__main__":
    main()
