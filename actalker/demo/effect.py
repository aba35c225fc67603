"""Where each signal acts: the per-pixel change that closing one branch's gate makes.

For every gate setting that closes exactly one branch of the all-open setting, the map is the
mean over frames of |all open - that setting| (grey levels, same noise seed, so the gate is
the only difference). The share of the map inside the branch's own region (its mask on the
reference face) says whether the signal steers its region and only it: a branch that acts
everywhere has a share near its region's share of the frame.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np


def gate_effects(videos: list[np.ndarray], settings: list[dict]) -> dict[str, np.ndarray]:
    """Branch -> (H, W) mean |all open - that branch closed| over frames and colour, for the
    settings (gates per video, aligned with ``videos``) that close exactly one branch of the
    all-open one. No all-open setting: {}."""
    is_open = [all(g > 0 for g in s.values()) for s in settings]
    if not any(is_open):
        return {}
    base = np.asarray(videos[is_open.index(True)], np.float32)
    out = {}
    for video, gates in zip(videos, settings):
        closed = [name for name, g in gates.items() if g == 0]
        if len(closed) == 1:
            out[closed[0]] = np.abs(base - np.asarray(video, np.float32)).mean(axis=(0, 3))
    return out


def share_inside(effect: np.ndarray, mask: np.ndarray) -> dict:
    """How the effect (H, W) sits against ``mask`` (H, W, values in [0, 1]): mean change inside
    and outside it (grey levels, mask-weighted), the share of the whole change inside it and
    the mask's share of the frame. A thin change everywhere adds up over a large outside, so
    the means say more than the share."""
    effect = np.asarray(effect, np.float64)
    mask = np.asarray(mask, np.float64).reshape(effect.shape)
    total, area = float(effect.sum()), float(mask.mean())
    inside = float((effect * mask).sum())
    return {"inside": inside / max(float(mask.sum()), 1e-9),
            "outside": (total - inside) / max(float((1 - mask).sum()), 1e-9),
            "share": inside / total if total > 0 else 0.0, "area": area}


def effect_picture(path, reference: np.ndarray, effects: dict[str, np.ndarray], masks: dict[str, np.ndarray],
                   regions: dict[str, str], title: Optional[str] = None) -> Path:
    """The portrait, then one heat map per branch with its region outlined; written atomically."""
    from matplotlib.colors import PowerNorm

    from actalker.eval.plots import headless_pyplot, save_figure

    plt = headless_pyplot()
    fig, axes = plt.subplots(1, len(effects) + 1, figsize=(3.2 * (len(effects) + 1) + 0.8, 3.4), squeeze=False)
    axes[0, 0].imshow(reference)
    axes[0, 0].set_title("portrait", fontsize=8)
    # one scale for all maps, so they compare; square-root, so a faint change still shows
    norm = PowerNorm(0.5, vmin=0, vmax=max((float(e.max()) for e in effects.values()), default=1.0) or 1.0)
    for ax, (branch, effect) in zip(axes[0, 1:], effects.items()):
        im = ax.imshow(effect, cmap="magma", norm=norm)
        s = share_inside(effect, masks[branch])
        ax.contour(masks[branch], levels=[0.5], colors="cyan", linewidths=0.8)
        ax.set_title(f"{branch} gate closed: mean |change|\ninside {regions[branch]} {s['inside']:.1f}, "
                     f"elsewhere {s['outside']:.1f}\n({s['share']:.0%} of it in {s['area']:.0%} of the frame)",
                     fontsize=8)
    for ax in axes[0]:
        ax.set_xticks([]), ax.set_yticks([])
    if effects:
        fig.colorbar(im, ax=axes[0, 1:].tolist(), shrink=0.8, label="grey levels")
    if title:
        fig.suptitle(title, fontsize=9)
    return save_figure(fig, path)


__all__ = ["effect_picture", "gate_effects", "share_inside"]
