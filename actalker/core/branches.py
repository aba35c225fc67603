"""The one owner of what a branch's settings mean.

A config lists branches by name (``model.branches``); each names a modality plugin. This
module turns that section and a plugin registry into ``ControlBranch`` records and owns
every rule about them, so config validation, the denoiser, the pipeline and the CLI agree:

- a missing ``modality`` is the branch name; ``region`` / ``solo_region`` / ``gate`` set to
  null take the plugin's ``default_region`` / ``solo_region`` / ``default_gate``;
- options are validated by the plugin's options model (and saved completed);
- a gate the caller leaves out is the branch's default gate when its signal is given, else
  0 (a branch without a signal is off); a gate must be finite and >= 0, and cannot be open
  without a signal;
- the regions a model needs (normal and solo per branch, plus the face guider's) and which
  region the face guider uses.

No signal is named here: branches and modalities come from the config and the registry.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Optional, Sequence

from actalker.core.schema import BranchConfig, schema_defaults
from actalker.errors import ConfigError, InputError, PluginError
from actalker.plugins.validation import validate_options

if TYPE_CHECKING:  # pragma: no cover -- the config loader imports this module without torch
    import torch


@dataclass(frozen=True)
class ControlBranch:
    """One control branch with its plugin and every default filled in."""

    name: str
    modality: str
    spec: Any  # the plugin's ModalitySpec
    options: Any  # the plugin's validated options model
    region: str
    solo_region: str
    default_gate: float
    tokens: Optional[int]
    feature_shape: tuple[int, ...]

    def null_features(self, features: torch.Tensor) -> torch.Tensor:
        return self.spec.null_features(features)

    def saved(self) -> dict:
        """The resolved settings a model saves, so a reload keeps them if plugin defaults change."""
        return dict(modality=self.modality, gate=float(self.default_gate), region=self.region,
                    solo_region=self.solo_region, tokens=self.tokens, options=self.options.model_dump(mode="json"))


def branch_settings(name: str, raw: Any) -> dict:
    """The schema's branch fields over the given ones (a typo is an error naming the key)."""
    given = raw.model_dump() if hasattr(raw, "model_dump") else dict(raw or {})
    defaults = schema_defaults(BranchConfig)
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise ConfigError(f"model.branches.{name}: unknown key '{unknown[0]}' (valid: {', '.join(defaults)})")
    return {**defaults, **given}


def _modality(name: str, modality: str, registry, required: Mapping[str, str]):
    try:
        return registry.modality(modality)
    except PluginError as err:
        pkg = required.get(modality)
        if pkg is None:
            raise PluginError(f"model.branches.{name}: {err}") from err
        raise PluginError(f"this model's branch '{name}' needs modality '{modality}' from the package "
                          f"'{pkg}', which is not installed or not loaded; install it (pip install {pkg})") from err


def _region(name: str, key: str, region: str, registry) -> str:
    if registry.regions:  # a registry without region plugins (a test stand-in) cannot check names
        try:
            registry.region(region)
        except PluginError as err:
            raise PluginError(f"model.branches.{name}: {err}") from err
    return region


def resolve_branch(name: str, raw: Any, registry, required: Optional[Mapping[str, str]] = None) -> ControlBranch:
    """A config's branch entry (dict or BranchConfig) -> ControlBranch (errors name the key)."""
    if not str(name).isidentifier():
        raise ConfigError(f"model.branches: branch name '{name}' must be a Python identifier")
    b = branch_settings(name, raw)
    spec = _modality(name, b["modality"] or name, registry, dict(required or {}))
    key = f"model.branches.{name}"
    opts = validate_options(spec.options_model, b["options"] or {}, where=f"modality '{spec.name}' options",
                            prefix=f"{key}.options")
    return ControlBranch(
        name=name, modality=spec.name, spec=spec, options=opts,
        region=_region(name, "region", b["region"] or spec.default_region, registry),
        solo_region=_region(name, "solo_region", b["solo_region"] or spec.solo_region, registry),
        default_gate=float(spec.default_gate if b["gate"] is None else b["gate"]),
        tokens=b["tokens"], feature_shape=tuple(int(s) for s in spec.feature_shape(opts)),
    )


def resolve_branches(branches: Mapping[str, Any], registry,
                     required: Optional[Mapping[str, str]] = None) -> dict[str, ControlBranch]:
    return {name: resolve_branch(name, raw, registry, required) for name, raw in dict(branches or {}).items()}


# ---- gates --------------------------------------------------------------------------------
def check_gate_names(gates: Mapping[str, Any], names: Sequence[str], label: str = "gate") -> None:
    for name in gates:
        if name not in names:
            raise InputError(f"{label} for unknown branch '{name}' (the model's branches: {', '.join(names) or 'none'})")


def check_gate_values(name: str, gate: torch.Tensor, has_signal: bool, label: str = "gate") -> None:
    """A gate (a number or a per-frame schedule) is finite, >= 0, and closed without a signal."""
    import torch

    if not bool(torch.isfinite(gate).all()) or bool((gate < 0).any()):
        raise InputError(f"{label} of branch '{name}' must be finite and >= 0")
    if not has_signal and bool((gate > 0).any()):
        raise InputError(f"{label} of branch '{name}' is open but no signal was given for it "
                         "(a gate > 0 opens a branch without a signal: give its input)")


TRAINED_GATE_MAX = 1.0  # training opens a gate at 1 or closes it at 0 (actalker.train.conditioning)


def gate_notice(name: str, gate: torch.Tensor, label: str = "gate") -> Optional[str]:
    """A gate above the trained range is accepted (>= 0 is the rule) but said once: the
    branch's effect is extrapolated. None for a gate within [0, 1]."""
    import torch

    top = float(torch.as_tensor(gate).max())
    if top <= TRAINED_GATE_MAX:
        return None
    return (f"{label} of branch '{name}' reaches {top:g}, above {TRAINED_GATE_MAX:g}, the largest gate training "
            "uses: its effect is extrapolated and may overshoot")


def gate_or_default(branch: ControlBranch, gates: Mapping[str, Any], has_signal: bool) -> Any:
    """The caller's gate, else the default gate with a signal and 0 without one."""
    return gates.get(branch.name, branch.default_gate if has_signal else 0.0)


# ---- regions ------------------------------------------------------------------------------
def needed_regions(branches: Iterable[ControlBranch], face_region: Optional[str] = None) -> list[str]:
    """Regions any branch may steer (normal and solo) plus the face guider's region, once each."""
    names = []
    for b in branches:
        names += [b.region, b.solo_region]
    if face_region:
        names.append(face_region)
    return list(dict.fromkeys(names))


def face_region(branches: Sequence[ControlBranch], registry) -> Optional[str]:
    """Region of the face guider: the solo region all branches share (the whole face), else the
    registry's 'face' region."""
    solos = {b.solo_region for b in branches}
    if len(solos) == 1:
        return solos.pop()
    return "face" if "face" in registry.regions else None


__all__ = ["TRAINED_GATE_MAX", "ControlBranch", "branch_settings", "check_gate_names", "check_gate_values",
           "face_region", "gate_notice", "gate_or_default", "needed_regions", "resolve_branch", "resolve_branches"]
