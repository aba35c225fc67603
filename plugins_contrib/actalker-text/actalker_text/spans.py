"""Prompt spans: reading the file, and which prompt each frame shows.

File (JSON; the synthetic world writes it as ``prompts.json`` beside each clip with
``actalker synth --prompts``)::

    {"spans": [{"start": 0.0, "end": 1.2, "text": "raised brows"},
               {"start": 1.2, "end": 2.0, "text": "eyes closed"}]}

``start``/``end`` in seconds (end exclusive). A frame outside every span gets the empty
prompt (the branch's "off" input). Optional ``format``/``version`` keys are ignored.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from actalker.errors import InputError

CLIP_FILE = "prompts.json"


def read_spans(path: str | Path) -> list[tuple[float, float, str]]:
    path = Path(path)
    try:
        raw = json.loads(path.read_text())
        spans = [(float(s["start"]), float(s["end"]), str(s["text"])) for s in raw["spans"]]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise InputError(
            f"text file {path}: expected JSON {{\"spans\": [{{\"start\": s, \"end\": s, \"text\": ...}}]}} "
            f"({type(err).__name__}: {err})"
        ) from err
    bad = [s for s in spans if not (np.isfinite(s[0]) and np.isfinite(s[1]) and 0 <= s[0] < s[1])]
    if bad:
        raise InputError(f"text file {path}: span {bad[0]} needs 0 <= start < end (seconds)")
    return spans


def prompts_at(spans: list[tuple[float, float, str]], times: np.ndarray) -> list[str]:
    """The prompt shown at each time (seconds); "" where no span covers it (later spans win)."""
    out = [""] * len(times)
    for start, end, text in spans:
        for i in np.nonzero((times >= start - 1e-9) & (times < end - 1e-9))[0]:
            out[i] = text
    return out


def spans_duration(spans: list[tuple[float, float, str]]) -> float:
    return max((e for _, e, _ in spans), default=0.0)
