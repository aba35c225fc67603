"""The embedded demo model: where it lives, how it is exported and loaded.

``actalker/assets/demo_model/`` is a pipeline folder (``ACTalkerPipeline.save_pretrained``)
with the weights stored in float16 to stay small; ``load_demo_pipeline`` casts them back to
float32 on the CPU. ``export_demo_model(src, dst)`` writes a trained model folder there.
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Optional

import torch

DEMO_MODEL_DIR = Path(__file__).resolve().parent.parent / "assets" / "demo_model"
MAX_BYTES = 20 * 1024 * 1024


def demo_model_present(path: Optional[Path] = None) -> bool:
    path = Path(path or DEMO_MODEL_DIR)
    return (path / "actalker_model.json").is_file() and any(path.rglob("*.safetensors"))


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())


def load_demo_pipeline(path: Optional[Path] = None, registry=None):
    """The shipped pipeline in float32 on the CPU (weights are stored in float16)."""
    from actalker.core.pipeline import ACTalkerPipeline

    return ACTalkerPipeline.from_pretrained(Path(path or DEMO_MODEL_DIR), device="cpu", dtype=torch.float32,
                                            registry=registry)


def export_demo_model(src, dst=None, half: bool = True, note: Optional[str] = None) -> Path:
    """Copy a trained model folder to ``dst`` (default: the package's demo_model), weights in fp16.
    ``note``: how the training data was made, kept in the training-data record (its root is a
    path on the training machine, which tells a reader of the shipped model nothing)."""
    from actalker.core.pipeline import ACTalkerPipeline

    dst = Path(dst or DEMO_MODEL_DIR)
    pipe = ACTalkerPipeline.from_pretrained(Path(src))
    if half:
        pipe.to(dtype=torch.float16)
    tmp = dst.with_name(dst.name + ".export")
    if tmp.exists():
        shutil.rmtree(tmp)
    pipe.save_pretrained(tmp)
    _carry_training_data(Path(src), tmp, note)
    size = folder_bytes(tmp)
    if size > MAX_BYTES:
        shutil.rmtree(tmp)
        raise RuntimeError(f"exported model is {size / 2**20:.1f} MB, over the {MAX_BYTES / 2**20:.0f} MB limit")
    if dst.exists():
        shutil.rmtree(dst)
    tmp.rename(dst)
    return dst


def _carry_training_data(src: Path, dst: Path, note: Optional[str] = None) -> None:
    """The source folder's record of its training data (actalker.train.data_record) goes along,
    its root relative to the working directory when under it: the export is shipped, and
    this machine's absolute paths mean nothing on another."""
    from actalker.core.model_folder import read_index
    from actalker.train.data_record import KEY, write_training_data

    record = read_index(src).get(KEY)
    if record and record.get("root"):
        root = Path(record["root"])
        if root.is_absolute() and root.is_relative_to(Path.cwd()):
            record = {**record, "root": str(root.relative_to(Path.cwd()))}
    if record is not None and note:
        record = {**record, "note": note}
    write_training_data(dst, record)


if __name__ == "__main__":  # python -m actalker.demo.model SRC [DST] [--note TEXT]
    import argparse

    ap = argparse.ArgumentParser(prog="python -m actalker.demo.model", description=export_demo_model.__doc__)
    ap.add_argument("src", help="trained model folder (a run's model/)")
    ap.add_argument("dst", nargs="?", help="default: the package's demo_model")
    ap.add_argument("--note", help="how the training data was made (kept in the model's training-data record)")
    args = ap.parse_args()
    out = export_demo_model(args.src, args.dst, note=args.note)
    print(f"exported {args.src} -> {out} ({folder_bytes(out) / 2**20:.1f} MB)")
