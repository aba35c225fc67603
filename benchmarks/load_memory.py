"""Peak memory of loading the backbone: ``ACTalkerDenoiser.from_svd`` and
``ACTalkerPipeline.from_pretrained``'s denoiser load, against diffusers' own UNet loader.

A UNet of SVD's architecture at reduced width (``--width``: the first block's channels; SVD
has 320) is saved once as a diffusers folder (``unet/``) under ``--dir``; then each loader
runs in a fresh subprocess and reports its peak RSS (VmHWM) minus the RSS after imports,
i.e. what the load itself costs: once when the loader returns, and again after every
loaded tensor has been read once (diffusers hands back memory-mapped safetensors, which
are resident only once read; a model in use reads them all), and the loader's wall time. The denoiser has no branches (the control path is small;
this measures the backbone).

    nice -n 19 OMP_NUM_THREADS=1 .venv/bin/python benchmarks/load_memory.py --width 160
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

CASES = ("diffusers_unet", "from_svd", "denoiser_from_pretrained")


def _rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1])
    raise RuntimeError(field)


def unet_config(width: int) -> dict:
    return dict(block_out_channels=(width, 2 * width, 4 * width, 4 * width), cross_attention_dim=1024,
                num_attention_heads=(5, 10, 20, 20), num_frames=14, sample_size=96)


def prepare(root: Path, width: int) -> None:
    import torch
    from diffusers import UNetSpatioTemporalConditionModel

    if (root / "unet" / "config.json").is_file() and (root / "denoiser").is_dir():
        return
    torch.manual_seed(0)
    unet = UNetSpatioTemporalConditionModel(**unet_config(width))
    unet.save_pretrained(root / "unet")
    n = sum(p.numel() for p in unet.parameters())
    (root / "params.json").write_text(json.dumps({"unet_params": n}))
    del unet
    from actalker.core.denoiser import ACTalkerDenoiser

    ACTalkerDenoiser.from_svd(root, branches={}, identity={"kind": "clip", "dim": 1024},
                              face_guider=False).save_pretrained(root / "denoiser")


def run_case(root: Path, case: str) -> dict:
    import ctypes

    import torch  # noqa: F401  (imports before the baseline)
    from diffusers import UNetSpatioTemporalConditionModel

    from actalker.core.denoiser import ACTalkerDenoiser

    ctypes.CDLL("libc.so.6").mallopt(-3, 64 * 1024)  # M_MMAP_THRESHOLD: freed blocks go back at once
    base = _rss_kib("VmRSS:")
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
    start = time.perf_counter()
    if case == "diffusers_unet":
        model = UNetSpatioTemporalConditionModel.from_pretrained(root / "unet")
    elif case == "from_svd":
        model = ACTalkerDenoiser.from_svd(root, branches={}, identity={"kind": "clip", "dim": 1024}, face_guider=False)
    else:
        model = ACTalkerDenoiser.from_pretrained(root / "denoiser")
    seconds = time.perf_counter() - start
    at_load = _rss_kib("VmHWM:") - base
    total = 0.0
    for t in [*model.parameters(), *model.buffers()]:  # touch every tensor: memory-mapped weights become resident
        total += float(t.detach().float().sum())
    peak = _rss_kib("VmHWM:") - base
    n = sum(p.numel() for p in model.parameters())
    return {"case": case, "peak_mib": round(peak / 1024, 1), "load_peak_mib": round(at_load / 1024, 1),
            "seconds": round(seconds, 1), "params": n, "weights_mib": round(n * 4 / 2**20, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--width", type=int, default=160)
    ap.add_argument("--dir", default="/tmp/actalker_load_memory")
    ap.add_argument("--case", choices=CASES, help=argparse.SUPPRESS)  # one case, in a subprocess
    args = ap.parse_args()
    root = Path(args.dir) / f"w{args.width}"
    if args.case:
        print(json.dumps(run_case(root, args.case)))
        return
    root.mkdir(parents=True, exist_ok=True)
    prepare(root, args.width)
    for case in CASES:
        out = subprocess.run([sys.executable, __file__, "--width", str(args.width), "--dir", args.dir, "--case", case],
                             capture_output=True, text=True, check=True)
        row = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{row['case']:26s} load {row['seconds']:6.1f} s   peak while loading {row['load_peak_mib']:8.1f} MiB   "
              f"peak once every tensor is read {row['peak_mib']:8.1f} MiB   weights {row['weights_mib']:8.1f} MiB "
              f"({row['params'] / 1e6:.0f} M parameters)", flush=True)


if __name__ == "__main__":
    main()
