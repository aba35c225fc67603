"""Atomic, exactly resumable checkpoints, and a stop flag for SIGINT/SIGTERM.

A checkpoint is a folder ``output_dir/checkpoints/step-00000100`` holding accelerate's
state (model as safetensors, optimizer and LR scheduler; sharded under DeepSpeed/FSDP),
``ema.safetensors``, one ``rng-<rank>.safetensors`` per process and ``state.json``. All
processes write into one temporary sibling folder, which the main process renames into
place only when everyone is done, so a folder named ``step-*`` is always complete.

RNG states are stored as tensors (not pickles), so nothing here needs ``weights_only=False``;
accelerate's own pickled RNG file cannot be read back with ``weights_only=True`` and it
silently skips it, which is why we keep our own copy and delete accelerate's.

``state.json`` (written last) lists every file's size, so a truncated or emptied file is
found before loading (``checkpoint_problem``); ``--resume`` then falls back to the newest
complete checkpoint. Old checkpoints are renamed to a hidden ``.trash-*`` name before they
are deleted, so a kill mid-deletion never leaves a half-deleted ``step-*`` folder.
"""
from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import uuid
import zipfile
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from actalker.errors import InputError
from actalker.utils.paths import output_error, write_errno

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

def _to_trash(folder: Path) -> Optional[Path]:
    """Rename a folder to a hidden trash name (atomic); None if it is already gone."""
    trash = folder.with_name(f".trash-{folder.name}-{uuid.uuid4().hex[:8]}")
    try:
        os.replace(folder, trash)
    except FileNotFoundError:
        return None
    return trash


def discard(folder: Path) -> None:
    """Delete a folder so that it is never seen half-deleted under its own name: rename it
    to a hidden trash name first, then delete."""
    trash = _to_trash(folder)
    if trash is not None:
        shutil.rmtree(trash, ignore_errors=True)


def _sweep_leftovers(root: Path) -> None:
    """Trash and temporaries of a run killed mid-save or mid-rotation."""
    if root.is_dir():
        for p in root.iterdir():
            if p.name.startswith((".trash-", ".tmp-step-")):
                shutil.rmtree(p, ignore_errors=True)


def _folder_bytes(path: Optional[Path]) -> Optional[int]:
    if path is None or not path.is_dir():
        return None
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) or None


def save_checkpoint(accelerator, output_dir, step: int, meta: dict, generator: torch.Generator,
                    ema=None, keep: int = 0) -> Path:
    """Collective: every process must call it. Returns the final folder.

    With ``keep``, checkpoints that this save would rotate out are deleted *before* it (the
    newest is always kept), so a full disk gets their space; a failed save removes its
    temporary folder and raises a one-line OutputError."""
    root = checkpoint_root(output_dir)
    final = root / f"step-{step:08d}"
    tmp = root / f".tmp-step-{step:08d}"
    previous = latest_checkpoint(output_dir)
    try:
        if accelerator.is_main_process:
            _sweep_leftovers(root)
            if keep > 0:
                existing = list_checkpoints(output_dir)
                surplus = len(existing) + (final not in existing) - keep
                for old in existing[:-1][: max(0, surplus)]:  # never the newest: the save may fail
                    discard(old)
            tmp.mkdir(parents=True)
        accelerator.wait_for_everyone()
        _write_state(accelerator, tmp, step, meta, generator, ema)
    except BaseException as err:
        shutil.rmtree(tmp, ignore_errors=True)  # no half-written .tmp-step-* left behind
        code = write_errno(err)
        if code is not None:  # a checkpoint needs about as much as the previous one
            raise output_error(OSError(code, os.strerror(code)), final, "checkpoint",
                               needed=_folder_bytes(previous)) from None
        raise
    if accelerator.is_main_process:
        # re-saving the same step (a stop right after a periodic save, or replacing an
        # incomplete one after --resume fell back): the new folder takes the name at once
        replaced = _to_trash(final) if final.exists() else None
        os.replace(tmp, final)
        if replaced is not None:
            shutil.rmtree(replaced, ignore_errors=True)
        if keep > 0:
            for old in list_checkpoints(output_dir)[:-keep]:
                discard(old)
    accelerator.wait_for_everyone()
    return final


def _write_state(accelerator, tmp: Path, step: int, meta: dict, generator, ema) -> None:
    accelerator.save_state(str(tmp), safe_serialization=True)
    for pkl in tmp.glob("random_states_*.pkl"):  # a pickle we never read: our RNG copy is below
        pkl.unlink()
    save_file(capture_rng(generator), str(tmp / f"rng-{accelerator.process_index}.safetensors"))
    if accelerator.is_main_process and ema is not None:
        save_file(ema.state_dict(), str(tmp / "ema.safetensors"))
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:  # last: its presence and sizes vouch for every other file
        files = {str(f.relative_to(tmp)): f.stat().st_size for f in sorted(tmp.rglob("*")) if f.is_file()}
        (tmp / "state.json").write_text(json.dumps({"step": step, **meta, "files": files}, indent=2))


def checkpoint_problem(path: Path) -> Optional[str]:
    """Why the checkpoint folder cannot be resumed from (a short phrase), or None if whole."""
    state_file = path / "state.json"
    try:
        state = json.loads(state_file.read_text())
    except FileNotFoundError:
        return "state.json is missing"
    except (OSError, ValueError):
        return "state.json is truncated or corrupt"
    for name, size in (state.get("files") or {}).items():
        f = path / name
        if not f.is_file():
            return f"{name} is missing"
        if f.stat().st_size != size:
            return f"{name} is truncated ({f.stat().st_size} of {size} bytes)"
    for f in sorted(path.rglob("*")):
        why = _file_problem(f) if f.is_file() else None
        if why:
            return f"{f.relative_to(path)} {why}"
    if not list(path.glob("model*.safetensors")) and not list(path.glob("pytorch_model*")):
        return "the model weights file is missing"
    return None


def _file_problem(f: Path) -> Optional[str]:
    """A structural check of a weights/optimizer file without loading its tensors."""
    if f.stat().st_size == 0:
        return "is empty (0 bytes)"
    try:
        if f.suffix == ".safetensors":
            with safe_open(str(f), "pt") as handle:
                handle.keys()
        elif f.suffix in (".bin", ".pt", ".pth") and zipfile.is_zipfile(f) is False:
            return "is truncated or not a torch file"
    except Exception:  # safetensors raises its own error type for a short or junk header
        return "is truncated or corrupt"
    return None


def resume_checkpoint(output_dir, log: Callable[[str], None] = print) -> Optional[Path]:
    """The newest complete checkpoint; an incomplete newer one is skipped with one line.
    None when there is no checkpoint; InputError when none is complete."""
    found = list_checkpoints(output_dir)
    skipped = []
    for ckpt in reversed(found):
        why = checkpoint_problem(ckpt)
        if why is None:
            if skipped:
                log(f"warning: checkpoint {skipped[0][0].name} is incomplete ({skipped[0][1]}); "
                    f"resuming from {ckpt.name}, the newest complete one")
            return ckpt
        skipped.append((ckpt, why))
    if skipped:
        raise InputError(f"--resume: no complete checkpoint in {checkpoint_root(output_dir)} "
                         f"(newest {skipped[0][0].name}: {skipped[0][1]})")
    return None


def load_checkpoint(accelerator, path: Path, generator: torch.Generator, ema=None) -> dict:
    """Restore model/optimizer/scheduler (accelerate), EMA and this process's RNGs; returns state.json."""
    path = Path(path)
    why = checkpoint_problem(path)
    if why is not None:
        raise InputError(f"checkpoint {path} cannot be loaded: {why}")
    try:
        accelerator.load_state(str(path), load_kwargs={"weights_only": True})
    except ValueError as err:  # torch's optimizer refuses another grouping of the parameters
        if "parameter group" not in str(err):
            raise
        raise InputError(f"checkpoint {path} does not fit this model's optimizer: {err} (checkpoints written before "
                         "Mamba's A_log and D were exempted from weight decay have one group; resume them with the "
                         "actalker version that wrote them)") from None
    except RuntimeError as err:  # torch lists every mismatched tensor on its own line
        mismatch = [line.strip() for line in str(err).splitlines() if "size mismatch" in line or "Missing key" in line]
        if not mismatch:
            raise
        more = f" (and {len(mismatch) - 1} more)" if len(mismatch) > 1 else ""
        raise InputError(f"checkpoint {path} does not fit this model: {mismatch[0].rstrip('.')}{more}") from None
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
