"""Pooled control metrics from an ``actalker eval control`` results JSON (for docs/results.md).

Per-clip r over short clips is noisy (chance |r| of two independent smooth tracks is about
0.2 over 100 frames), so beside the per-clip means of the eval command this pools all
frames of all clips after removing each clip's mean and scale from every track (within-clip
r, as the estimator validation does), and gives the same pooled r with the signal of the
next clip (the chance level of a leakage number).

    python -m actalker.demo.report RESULTS.json [MORE.json ...]
"""
from __future__ import annotations

import json
import sys

import numpy as np

from actalker.eval.control import pearson

PAIRS = (("mouth~audio", "mouth", "audio_env"), ("eyes~motion", "eyes", "motion_eye"),
         ("|mouth~motion|", "mouth", "motion_eye"), ("|mouth~driver mouth|", "mouth", "motion_mouth"),
         ("|eyes~audio|", "eyes", "audio_env"))


def _z(x) -> np.ndarray:
    x = np.asarray(x, np.float64)
    s = x.std()
    return (x - x.mean()) / s if s > 1e-9 else x * 0.0


def pooled(tracks: list[dict], part: str, signal: str, shift: int = 0):
    a, b = [], []
    for i, t in enumerate(tracks):
        other = tracks[(i + shift) % len(tracks)]
        if t.get(part) is None or other.get(signal) is None:
            return None
        n = min(len(t[part]), len(other[signal]))
        a.append(_z(t[part][:n]))
        b.append(_z(other[signal][:n]))
    return pearson(np.concatenate(a), np.concatenate(b))


def pooled_table(result: dict) -> str:
    head = "| gates | clips x frames | " + " | ".join(p[0] for p in PAIRS) + " |"
    lines = [head, "|" + "---|" * (len(PAIRS) + 2)]
    for s in result["settings"]:
        tr = s["tracks"]
        frames = sum(len(t["mouth"]) for t in tr)
        cells = []
        for label, part, signal in PAIRS:
            r = pooled(tr, part, signal)
            if r is None:
                cells.append("-")
                continue
            shown = abs(r) if label.startswith("|") else r
            chance = pooled(tr, part, signal, shift=1)
            cells.append(f"{shown:+.2f} (chance {abs(chance):.2f})" if label.startswith("|") else f"{shown:+.2f}")
        lines.append(f"| {s['name']} | {len(tr)} x {frames // max(len(tr), 1)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    for path in sys.argv[1:]:
        res = json.loads(open(path).read())
        print(f"## {path} ({res.get('model')})\n\nper-clip means (actalker eval control):\n\n{res.get('table')}\n")
        print(f"pooled within-clip r:\n\n{pooled_table(res)}\n")
