"""Plots of measured openness against the driving signals over time (PNG, headless)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np


def _z(x) -> np.ndarray:
    """Zero mean, unit std (flat tracks stay flat at 0) so tracks share one axis."""
    x = np.asarray(x, np.float64)
    s = x.std()
    return (x - x.mean()) / s if s > 1e-9 else x - x.mean()


def headless_pyplot():
    """matplotlib.pyplot on the Agg backend: figures are only ever written to files here."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path) -> Path:
    """Write ``fig`` as a PNG at ``path`` (its folder made; atomic: the old file or the new
    one, never half of one) and close it."""
    from actalker.utils.atomic import atomic_path

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    headless_pyplot().close(fig)
    return path


def plot_tracks(path, panels: list[dict], fps: float, title: Optional[str] = None) -> Path:
    """One row per panel: {"title": str, "lines": {label: (F,) track}}; tracks are
    standardised (Pearson r compares shapes, not scales). Written atomically."""
    plt = headless_pyplot()
    fig, axes = plt.subplots(len(panels), 1, figsize=(8, 1.9 * len(panels) + 0.4), sharex=True, squeeze=False)
    for ax, panel in zip(axes[:, 0], panels):
        for label, track in panel["lines"].items():
            if track is None:
                continue
            t = np.arange(len(track)) / fps
            ax.plot(t, _z(track), label=label, lw=1.4 if label.startswith("measured") else 1.0)
        ax.set_title(panel.get("title", ""), fontsize=9, loc="left")
        ax.set_ylabel("z-score", fontsize=8)
        ax.legend(fontsize=7, loc="upper right", ncol=3)
        ax.grid(alpha=0.3)
    axes[-1, 0].set_xlabel("time (s)")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_clip(path, tracks: dict, fps: float, title: Optional[str] = None) -> Path:
    """The standard figure of one clip: mouth vs audio envelope (and truth), eyes vs motion
    eye track (and truth). ``tracks``: mouth, eyes, audio_env, motion_eye, optional truth."""
    truth = tracks.get("truth") or {}
    panels = [
        {"title": "mouth", "lines": {"measured mouth": tracks["mouth"], "audio envelope": tracks.get("audio_env"),
                                     "true mouth": truth.get("mouth_open")}},
        {"title": "eyes", "lines": {"measured eyes": tracks["eyes"], "motion eye track": tracks.get("motion_eye"),
                                    "true eyes": truth.get("eye_open")}},
    ]
    return plot_tracks(path, panels, fps, title)
