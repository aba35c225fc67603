"""Atomic, exactly resumable checkpoints, and a stop flag for SIGINT/SIGTERM.

A checkpoint is a folder ``output_dir/checkpoints/step-00000100`` holding accelerate's
state (model as safetensors, optimizer and LR scheduler; sharded under DeepSpeed/FSDP),
``ema.safetensors``, one ``rng-<rank>.safetensors`` per process and ``state.json``. All
processes write into one temporary sibling folder, which the main process renames into
place only when everyone is done, so a folder named ``step-*`` is always complete.

RNG states are stored as tensors (not pickles), so nothing here needs ``weights_only=False``;
accelerate's own pickled RNG file cannot be read back with ``weights_only=True`` and it
silently skips it, which is why we keep our own copy.
"""
from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from safetensors.torch import load_file, save_file

STEP_RE = re.compile(r"^step-(\d{8})$")


def checkpoint_root(output_dir: str | os.PathLike) -> Path:
    return Path(output_dir) / "checkpoints"


def list_checkpoints(output_dir) -> list[Path]:
    root = checkpoint_root(output_dir)
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if p.is_dir() and STEP_RE.match(p.name)]
    return sorted(found, key=lambda p: int(STEP_RE.match(p.name).group(1)))


def latest_checkpoint(output_dir) -> Optional[Path]:
    found = list_checkpoints(output_dir)
    return found[-1] if found else None


# ---- RNG states as tensors -------------------------------------------------------------

def capture_rng(generator: torch.Generator) -> dict[str, torch.Tensor]:
    version, mt, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "python.mt": torch.tensor(mt, dtype=torch.int64),
        "python.meta": torch.tensor([version, gauss is not None], dtype=torch.int64),
        "python.gauss": torch.tensor([gauss or 0.0], dtype=torch.float64),
        "numpy.keys": torch.from_numpy(keys.astype(np.int64)),
        "numpy.meta": torch.tensor([pos, has_gauss], dtype=torch.int64),
        "numpy.gauss": torch.tensor([cached], dtype=torch.float64),
        "torch.cpu": torch.get_rng_state(),
        "train.generator": generator.get_state(),
    }
    if torch.cuda.is_available():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            state[f"torch.cuda.{i}"] = s
    return state


def restore_rng(state: dict[str, torch.Tensor], generator: torch.Generator) -> None:
    version, has_gauss = state["python.meta"].tolist()
    gauss = float(state["python.gauss"][0]) if has_gauss else None
    random.setstate((version, tuple(state["python.mt"].tolist()), gauss))
    pos, np_has_gauss = state["numpy.meta"].tolist()
    np.random.set_state(
        ("MT19937", state["numpy.keys"].numpy().astype(np.uint32), pos, np_has_gauss, float(state["numpy.gauss"][0]))
    )
    torch.set_rng_state(state["torch.cpu"])
    generator.set_state(state["train.generator"])
    cuda = sorted(k for k in state if k.startswith("torch.cuda."))
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([state[k] for k in cuda])


# ---- save / load ------------------------------------------------------------------------

def save_checkpoint(accelerator, output_dir, step: int, meta: dict, generator: torch.Generator,
                    ema=None, keep: int = 0) -> Path:
    """Collective: every process must call it. Returns the final folder."""
    root = checkpoint_root(output_dir)
    final = root / f"step-{step:08d}"
    tmp = root / f".tmp-step-{step:08d}"
    if accelerator.is_main_process:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(tmp), safe_serialization=True)
    save_file(capture_rng(generator), str(tmp / f"rng-{accelerator.process_index}.safetensors"))
    if accelerator.is_main_process:
        if ema is not None:
            save_file(ema.state_dict(), str(tmp / "ema.safetensors"))
        (tmp / "state.json").write_text(json.dumps({"step": step, **meta}, indent=2))
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        if final.exists():  # re-saving the same step (e.g. a stop right after a periodic save)
            shutil.rmtree(final)
        os.replace(tmp, final)
        if keep > 0:
            for old in list_checkpoints(output_dir)[:-keep]:
                shutil.rmtree(old, ignore_errors=True)
    accelerator.wait_for_everyone()
    return final


def load_checkpoint(accelerator, path: Path, generator: torch.Generator, ema=None) -> dict:
    """Restore model/optimizer/scheduler (accelerate), EMA and this process's RNGs; returns state.json."""
    path = Path(path)
    accelerator.load_state(str(path), load_kwargs={"weights_only": True})
    if ema is not None:
        ema.load_state_dict(load_file(str(path / "ema.safetensors")))
    rng = path / f"rng-{accelerator.process_index}.safetensors"
    # RNG last: accelerate's loader may have touched the global RNGs.
    restore_rng(load_file(str(rng)), generator)
    return json.loads((path / "state.json").read_text())


# ---- stop on SIGINT / SIGTERM -----------------------------------------------------------

class StopFlag:
    """Signal handlers only set a flag; the loop checkpoints at the next step boundary and
    exits cleanly. A second signal restores the default behaviour (a stuck run can still die)."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        self.requested: Optional[int] = None
        self._previous: dict = {}

    def handler(self, signum, frame=None) -> None:
        if self.requested is not None:
            self.uninstall()
            signal.raise_signal(signum)
            return
        self.requested = signum

    def install(self) -> "StopFlag":
        for s in self.SIGNALS:
            try:
                self._previous[s] = signal.signal(s, self.handler)
            except ValueError:  # not the main thread (e.g. some notebook runners): no handlers
                pass
        return self

    def uninstall(self) -> None:
        for s, prev in self._previous.items():
            signal.signal(s, prev)
        self._previous.clear()

    def __enter__(self) -> "StopFlag":
        return self.install()

    def __exit__(self, *exc) -> None:
        self.uninstall()
