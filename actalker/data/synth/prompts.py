"""Text prompts from the synthetic ground truth: per-time-span descriptions of the upper face.

Each frame is described by its brows ("raised brows" / "lowered brows" / nothing) and eyes
("eyes closed" / "eyes half closed" / "eyes open"); runs of frames with the same words
become one span. Written as ``prompts.json`` beside the clip (``actalker synth --prompts``),
the side file the ``text`` plugin (plugins_contrib/actalker-text) reads:

    {"format": "actalker-prompts", "version": 1,
     "spans": [{"start": 0.0, "end": 0.44, "text": "raised brows, eyes open"}, ...]}

``start``/``end`` are seconds from the clip's first frame (end exclusive); a frame at time
t takes the span with start <= t < end.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from actalker.utils.atomic import write_text_atomic

FILE_NAME = "prompts.json"
FORMAT, VERSION = "actalker-prompts", 1
BROW_RAISED, BROW_LOWERED = 0.7, 0.3  # brow_raise thresholds
EYES_CLOSED, EYES_HALF = 0.35, 0.7  # eye_open thresholds


def describe_frame(eye_open: float, brow_raise: float) -> str:
    """The words of one frame, e.g. "raised brows, eyes closed"."""
    parts = []
    if brow_raise >= BROW_RAISED:
        parts.append("raised brows")
    elif brow_raise <= BROW_LOWERED:
        parts.append("lowered brows")
    parts.append("eyes closed" if eye_open < EYES_CLOSED else "eyes half closed" if eye_open < EYES_HALF else "eyes open")
    return ", ".join(parts)


def prompts_from_truth(truth: dict[str, np.ndarray], fps: float) -> list[dict]:
    """Spans [{start, end, text}] (seconds) covering every frame of the truth tracks."""
    eye, brow = np.asarray(truth["eye_open"]), np.asarray(truth["brow_raise"])
    words = [describe_frame(float(e), float(b)) for e, b in zip(eye, brow)]
    spans, first = [], 0
    for i in range(1, len(words) + 1):
        if i == len(words) or words[i] != words[first]:
            spans.append({"start": round(first / fps, 6), "end": round(i / fps, 6), "text": words[first]})
            first = i
    return spans


def write_prompts(clip_dir: str | Path, spans: list[dict]) -> Path:
    path = Path(clip_dir) / FILE_NAME
    write_text_atomic(path, json.dumps({"format": FORMAT, "version": VERSION, "spans": spans}, indent=1) + "\n")
    return path
