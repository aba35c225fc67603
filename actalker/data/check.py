"""Check every branch's data on every clip before training (and `actalker data check`):
missing per-clip data is found in seconds, not when that clip is drawn mid-training.

Each branch's plugin ``from_clip`` runs on each whole stored clip (a training window is a
part of one); its features must have the branch's shape and be finite. Problems come back
as one line each, naming the branch, its plugin and the clip.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

from actalker.errors import ActalkerError, InputError

SHOWN = 5  # problems quoted in the error; the rest are counted


def check_clips(branches: Iterable, root: str | Path, entries: list[dict], progress: bool = False) -> list[str]:
    """One line per (clip, branch) whose features cannot be made; [] when all are fine."""
    from tqdm import tqdm

    from actalker.core.controls import conditions_from_clip
    from actalker.data.clip import Clip

    branches, problems = list(branches), []
    for e in tqdm(entries, desc="data check", unit="clip", disable=not progress):
        try:
            clip = Clip.read(Path(root) / e["path"])
        except ActalkerError as err:
            problems.append(str(err))
            continue
        for b in branches:
            try:
                conditions_from_clip([b], clip)
            except ActalkerError as err:
                problems.append(str(err))
    return problems


def require_clean(problems: list[str], clips: int, what: str) -> None:
    """An InputError quoting the first problems, or nothing."""
    if problems:
        more = f" (and {len(problems) - SHOWN} more)" if len(problems) > SHOWN else ""
        raise InputError(f"{what}: {len(problems)} problem(s) in {clips} clips: " + " | ".join(problems[:SHOWN]) + more)
