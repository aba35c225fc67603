"""Load configs: omegaconf composes, pydantic validates in two phases.

Composition, in order (later wins):
  1. ``configs/base.yaml`` (package data in ``actalker/configs``; ``configs/`` at the repo
     root is a link to it).
  2. An optional named config: a name (``audio_only`` -> ``configs/audio_only.yaml``) or a
     path. It is a delta on the base. It may start from another delta with a top-level
     ``_base_: other`` (a name, or a path relative to the file), chains allowed.
  3. Dotlist overrides, e.g. ``model.branches.audio.gate=0.5``; ``branches.`` is short
     for ``model.branches.``.
Mappings merge key by key; lists are replaced. A branch set to null is removed, so a
delta can drop a branch of its base (``branches: {motion: null}``); the removed branch also
leaves ``guidance.order`` and ``guidance.scales``.

Validation: phase 1 is the core schema (``actalker.core.schema.Config``); an unknown key
names its full dotted path and the closest valid key. Phase 2 (``validate_branches``,
run by ``load_config`` when given a plugin registry) checks each branch's modality and
regions exist and validates its ``options`` with the modality's options model, writing
the completed options back so the saved config is fully resolved.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Optional

import yaml
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from actalker.core.branches import resolve_branch
from actalker.core.schema import Config, validate_config
from actalker.errors import ConfigError
from actalker.utils.atomic import write_text_atomic

if TYPE_CHECKING:  # pragma: no cover
    from actalker.plugins.registry import Registry

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
BASE_KEY = "_base_"


def available_configs() -> list[str]:
    return sorted(p.stem for p in CONFIG_DIR.glob("*.yaml") if p.stem != "base")


def _find(name_or_path: str | Path, relative_to: Optional[Path] = None) -> Path:
    text = str(name_or_path)
    candidates = [Path(text)]
    if relative_to is not None:
        candidates.insert(0, relative_to / text)
    if not text.endswith((".yaml", ".yml")):
        candidates.append(CONFIG_DIR / f"{text}.yaml")
    else:
        candidates.append(CONFIG_DIR / text)
    for path in candidates:
        if path.is_file():
            return path
    raise ConfigError(
        f"config '{text}' not found: expected a YAML file path or one of: {', '.join(available_configs()) or 'none'}"
    )


def _load_yaml(path: Path):
    try:
        cfg = OmegaConf.load(path)
    except (OmegaConfBaseException, yaml.YAMLError, OSError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ConfigError(f"config file {path} could not be read: {first}") from err
    if cfg is None or not OmegaConf.is_dict(cfg):
        raise ConfigError(f"config file {path} must be a YAML mapping of sections")
    return cfg


def _delta_chain(path: Path) -> list:
    """The delta at ``path`` and the deltas it inherits from, base-most first."""
    chain, seen = [], []
    while path is not None:
        if path.resolve() in seen:
            raise ConfigError(f"config {path} inherits from itself through {BASE_KEY}")
        seen.append(path.resolve())
        cfg = _load_yaml(path)
        parent = cfg.pop(BASE_KEY, None) if BASE_KEY in cfg else None
        chain.insert(0, cfg)
        if parent is None or Path(str(parent)).stem == "base":
            break  # every chain starts on base.yaml anyway
        path = _find(str(parent), relative_to=path.parent)
    return chain


def _dotlist(overrides: Iterable[str]):
    items = []
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override '{item}' must look like key.path=value")
        if item.split("=", 1)[0].strip() == BASE_KEY:  # only a YAML file names its parent
            raise ConfigError(f"override '{item}': {BASE_KEY} is set inside a config file; "
                              f"choose the config itself with --config")
        _check_flow_mapping(item)
        items.append(f"model.{item}" if item.startswith("branches.") else item)
    try:
        return OmegaConf.from_dotlist(items)
    except (OmegaConfBaseException, yaml.YAMLError) as err:  # a value is parsed as YAML: '[1, 2' fails there
        raise ConfigError(f"overrides {items} could not be parsed: {str(err).splitlines()[0]}") from err


# In YAML flow syntax "{eyes:8}" is one key, "eyes:8", with no value: a space must follow ':'.
_GLUED_PAIR = re.compile(r"[{,]\s*([A-Za-z_][\w.-]*):([^\s/,}][^,}]*)")


def _check_flow_mapping(item: str) -> None:
    key, value = (x.strip() for x in item.split("=", 1))
    glued = _GLUED_PAIR.search(value) if value.startswith("{") else None
    if glued:
        name, val = glued.group(1), glued.group(2).strip()
        raise ConfigError(f"override '{item}': YAML reads '{name}:{val}' as one key without a value; write "
                          f"'{key}={{{name}: {val}}}' (a space after ':') or '{key}.{name}={val}'")


def compose(name_or_path: str | Path | None = None, overrides: Iterable[str] = ()) -> dict[str, Any]:
    """Merge base, named delta and overrides into one plain dict (not validated yet)."""
    layers = [_load_yaml(CONFIG_DIR / "base.yaml")]
    if name_or_path:
        layers += _delta_chain(_find(name_or_path))
    layers.append(_dotlist(list(overrides)))
    try:
        merged = OmegaConf.to_container(OmegaConf.merge(*layers), resolve=True)
    except OmegaConfBaseException as err:
        raise ConfigError(f"config could not be composed: {str(err).splitlines()[0]}") from err
    branches = (merged.get("model") or {}).get("branches")
    if isinstance(branches, dict):
        merged["model"]["branches"] = {k: v for k, v in branches.items() if v is not None}
        removed = {k for k, v in branches.items() if v is None}
        guidance = merged.get("guidance")
        if removed and isinstance(guidance, dict):  # a removed branch leaves the guidance chain too
            if isinstance(guidance.get("order"), list):
                guidance["order"] = [b for b in guidance["order"] if b not in removed]
            if isinstance(guidance.get("scales"), dict):
                guidance["scales"] = {k: v for k, v in guidance["scales"].items() if k not in removed}
    return merged


# Phase 1 lives with the schema (core); re-exported here for callers of the loader.
validate_core = validate_config


def validate_branches(cfg: Config, registry: "Registry") -> Config:
    """Phase 2: modalities and regions exist; options pass the plugin's options model
    (actalker.core.branches decides); the completed options are written back."""
    for name, branch in cfg.model.branches.items():
        branch.options = resolve_branch(name, branch, registry).options.model_dump(mode="json")
    return cfg


def load_config(
    name_or_path: str | Path | None = None,
    overrides: Iterable[str] = (),
    registry: Optional["Registry"] = None,
) -> tuple[Config, dict[str, Any]]:
    """Compose and validate; phase 2 runs only when a plugin ``registry`` is given.

    Returns the validated ``Config`` and its fully resolved plain dict (what
    ``save_resolved_config`` writes).
    """
    cfg = validate_core(compose(name_or_path, overrides))
    if registry is not None:
        validate_branches(cfg, registry)
    return cfg, cfg.model_dump(mode="json")


def save_resolved_config(cfg: Config | dict[str, Any], path: str | Path) -> Path:
    """Write the resolved config as YAML, atomically (saved beside every output)."""
    data = cfg.model_dump(mode="json") if isinstance(cfg, Config) else cfg
    text = yaml.safe_dump(data, sort_keys=False, default_flow_style=False)
    write_text_atomic(path, text)
    return Path(path)
