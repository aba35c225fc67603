"""What a plugin declares: a modality (a control signal) or a facial region.

These are the only types a plugin needs to know. The core never names a signal: it sees
``ModalitySpec`` objects looked up by branch name in the registry.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Literal, Optional

import torch
from pydantic import BaseModel

if TYPE_CHECKING:  # pragma: no cover
    from actalker.data.clip import Clip

OnShort = Literal["error", "pad", "loop"]


def zeros_like_features(features: torch.Tensor) -> torch.Tensor:
    """Default unconditional input: all-zero raw features (the paper's "null" signal)."""
    return torch.zeros_like(features)


@dataclass(frozen=True)
class ControlTarget:
    """What a modality should drive, for `actalker eval control` (following and leakage).

    measure: a region measure of generated frames (built in: "mouth", "eyes" -- openness
             read by actalker.eval.openness), or None for a probe track that should drive
             nothing (leakage only);
    truth:   the ground-truth track of synthetic clips this modality controls
             (``clip.truth[truth]``, e.g. "eye_open"), scored as ``<measure>_truth``;
    track:   (clip, num_frames) -> the signal's own per-frame track (F,) or None; None here
             uses the truth track;
    name:    metric suffix (default: the branch name): following is ``<measure>_<name>``,
             leakage into every measure the branch does not drive ``leak_<measure>_<name>``.
    """

    measure: Optional[str]
    truth: Optional[str] = None
    track: Optional[Callable[[Any, int], Any]] = None
    name: Optional[str] = None


@dataclass(frozen=True)
class ModalitySpec:
    """A control signal: how it is read, encoded, where it acts and how it is switched off.

    name:           unique modality name, also the default branch name in configs.
    options_model:  pydantic model (``extra="forbid"``) of this modality's options.
    feature_shape:  options -> per-frame raw feature shape, e.g. ``(10, 80)``.
    load:           (path, num_frames, fps, options, on_short) -> float tensor (F, *feature_shape),
                    aligned to the output video's frames.
    from_clip:      (clip, options) -> float tensor (clip.num_frames, *feature_shape).
    build_encoder:  (options, dim) -> nn.Module mapping (B, F, *feature_shape) -> (B, F, T, dim).
    default_region: region name this branch steers when other branches are active.
    solo_region:    region it steers when it is the only active branch.
    default_gate:   gate used when the config or the user sets none.
    null_features:  features -> unconditional features of the same shape (for guidance/dropout).
    cli_flag:       `actalker generate --<cli_flag> PATH` shortcut, or None.
    drives:         ``ControlTarget``s: what this signal should move in generated frames
                    (measured by `actalker eval control`); () = not measured.
    """

    name: str
    options_model: type[BaseModel]
    feature_shape: Callable[[Any], tuple[int, ...]]
    load: Callable[..., torch.Tensor]
    from_clip: Callable[["Clip", Any], torch.Tensor]
    build_encoder: Callable[[Any, int], torch.nn.Module]
    default_region: str = "face"
    solo_region: str = "face"
    default_gate: float = 1.0
    null_features: Callable[[torch.Tensor], torch.Tensor] = zeros_like_features
    cli_flag: Optional[str] = None
    description: str = ""
    drives: tuple[ControlTarget, ...] = ()
    plugin: str = ""  # set by the registry: the plugin that declared it (for error messages)

    def parse_options(self, raw: dict | None) -> BaseModel:
        """Validate raw options with this modality's model (phase two of config checking)."""
        from actalker.plugins.validation import validate_options  # local: keeps this module light

        return validate_options(self.options_model, raw or {}, where=f"branch options of modality '{self.name}'")


@dataclass(frozen=True)
class RegionSpec:
    """A facial region: landmarks and face boxes per frame -> a soft mask per frame.

    mask: (landmarks (F, 478, 3) normalised or None, boxes (F, 4) normalised xyxy,
           height, width) -> float tensor (F, height, width) in [0, 1].
    """

    name: str
    mask: Callable[[Optional[torch.Tensor], torch.Tensor, int, int], torch.Tensor]
    description: str = ""


@dataclass(frozen=True)
class PluginInfo:
    """One loaded plugin, for `actalker plugins`."""

    name: str
    version: str
    source: str  # "builtin", "entry point <dist>", or "module <path>"
    hooks: tuple[str, ...] = ()
    modalities: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    extra: dict = field(default_factory=dict)


__all__ = ["ControlTarget", "ModalitySpec", "RegionSpec", "PluginInfo", "OnShort", "zeros_like_features", "Path"]
