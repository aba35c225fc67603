"""The sweep file: a base config, a training budget, seeds and variants as config deltas.

    name: paper_ablation          # optional; default: the file's stem
    base: demo                    # config name (configs/NAME.yaml) or a path (relative to this file)
    overrides: {data: {size: 64}} # applied to every variant (nested mapping or a dotlist)
    budget: [train.max_steps=300] # the training budget, also applied to every variant
    seeds: [0]                    # default seeds of every variant
    eval: {clips: 8, split: test, frames: 25, steps: 10}
    variants:                     # a list of named deltas ...
      - {name: full, seeds: [0, 1]}
      - {name: no_pcm, delta: [model.pcm.enabled=false]}
      - {name: audio_only, delta: {model: {branches: {motion: null}}}}
    grid:                         # ... and/or a grid, expanded to one variant per combination
      model.pcm.d_state: [8, 16]  # -> variants "d_state=8", "d_state=16"
    orders:                       # expected orders, checked against seed noise in results.md
      - {metric: "mouth_audio[all]", variants: [full, no_pcm], label: the paper}

A delta is a dotlist (``key.path=value`` strings) or a nested mapping; both become a
dotlist on top of base + overrides + budget (later wins), so a branch set to null is
removed exactly as in ``actalker train`` overrides. Every problem is a one-line
``ConfigError`` naming the file and the key.
"""
from __future__ import annotations

import itertools
import json
import re
from pathlib import Path
from typing import Any, Optional, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from actalker.errors import ConfigError
from actalker.plugins.validation import describe_error

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.=+,-]*$")
Delta = Union[list[str], dict[str, Any], None]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EvalSpec(_Strict):
    clips: int = Field(8, ge=1, description="Held-out clips evaluated per run.")
    data: Optional[str] = Field(None, description="Folder of held-out clips (actalker synth); null = data.root.")
    split: str = Field("test", description="Split of that folder the clips come from ('all': every clip).")
    frames: Optional[int] = Field(None, ge=3, description="Frames generated per clip; null = the whole clip.")
    steps: Optional[int] = Field(None, ge=1, description="Denoising steps; null = the config's sampling.steps.")
    gates: Optional[str] = Field(None, description="Gate settings 'a=1,b=1;a=1,b=0'; null = all open, then each alone.")
    seed: int = Field(0, description="Sampling seed of the evaluation.")


class VariantSpec(_Strict):
    name: str = Field(..., description="Folder and table row name.")
    delta: Delta = Field(None, description="Dotlist or nested mapping on top of the base.")
    seeds: Optional[list[int]] = Field(None, description="Seeds of this variant; null = the sweep's.")


class OrderSpec(_Strict):
    metric: str = Field(..., description="A results column, e.g. 'eyes_motion[all]'.")
    variants: list[str] = Field(..., min_length=2, description="Variants expected from highest to lowest.")
    label: Optional[str] = Field(None, description="Whose claim this is (e.g. 'the paper').")


class SweepSpec(_Strict):
    name: Optional[str] = None
    base: Optional[str] = Field(None, description="Config name or path; null = base.yaml alone.")
    overrides: Delta = None
    budget: Delta = None
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)
    eval: EvalSpec = Field(default_factory=EvalSpec)
    variants: list[VariantSpec] = Field(default_factory=list)
    grid: dict[str, list[Any]] = Field(default_factory=dict)
    output_dir: Optional[str] = Field(None, description="Default output folder; null = runs/sweeps/NAME.")
    orders: list[OrderSpec] = Field(default_factory=list,
                                    description="Expected orders to check in results.md (actalker/sweep/noise.py).")

    @field_validator("seeds")
    @classmethod
    def _unique_seeds(cls, seeds: list[int]) -> list[int]:
        if len(set(seeds)) != len(seeds):
            raise ValueError(f"seeds must be distinct, got {seeds}")
        return seeds


class Run:
    """One (variant, seed) training + evaluation, in ``<out>/<variant>/seed-<seed>``."""

    def __init__(self, variant: str, seed: int, delta: list[str], overrides: list[str]):
        self.variant, self.seed = variant, seed
        self.delta = delta          # what defines the variant (shown in the table)
        self.overrides = overrides  # everything given to the config loader, in order

    @property
    def key(self) -> str:
        return f"{self.variant}/seed-{self.seed}"

    def __repr__(self) -> str:
        return f"Run({self.key})"


class Sweep:
    def __init__(self, spec: SweepSpec, path: Optional[Path], base: Optional[str], variants: list[tuple[str, list[str], list[int]]]):
        self.spec, self.path, self.base = spec, path, base
        self.variants = variants  # (name, delta dotlist, seeds)
        self.name = spec.name or (path.stem if path else "sweep")

    def common_overrides(self, extra: list[str] = ()) -> list[str]:
        where = self.path or "sweep"
        return (to_dotlist(self.spec.overrides, f"{where}: overrides") + to_dotlist(self.spec.budget, f"{where}: budget")
                + list(extra))

    def runs(self, only: Optional[list[str]] = None, extra: list[str] = ()) -> list[Run]:
        names = [v[0] for v in self.variants]
        for want in only or []:
            if want not in names:
                raise ConfigError(f"--only {want}: no such variant in {self.path or 'the sweep'}; variants: {', '.join(names)}")
        common = self.common_overrides(list(extra))
        out = []
        for name, delta, seeds in self.variants:
            if only and name not in only:
                continue
            for seed in seeds:
                out.append(Run(name, seed, delta, common + delta + [f"seed={seed}", f"train.seed={seed}"]))
        return out


def _value(v: Any) -> str:
    """A dotlist value that omegaconf parses back to ``v`` (JSON is YAML flow syntax)."""
    if isinstance(v, str):
        plain = re.fullmatch(r"[A-Za-z0-9_./:+-]+", v) is not None
        try:
            plain = plain and yaml.safe_load(v) == v  # "no", "1e3", "null" must stay strings
        except yaml.YAMLError:
            plain = False
        return v if plain else json.dumps(v)
    return json.dumps(v)


def _flatten(d: dict, prefix: str = "") -> list[str]:
    out = []
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out += _flatten(v, key + ".")
        else:
            out.append(f"{key}={_value(v)}")
    return out


def to_dotlist(delta: Delta, where: str) -> list[str]:
    """A delta as ``key=value`` strings: dotlists pass through (checked), mappings flatten."""
    if delta is None:
        return []
    if isinstance(delta, dict):
        return _flatten(delta)
    for item in delta:
        if not isinstance(item, str) or "=" not in item or item.startswith("="):
            raise ConfigError(f"{where}: delta item {item!r} must look like key.path=value")
    return list(delta)


def _grid_name(combo: dict[str, Any]) -> str:
    return ",".join(f"{k.split('.')[-1]}={v if not isinstance(v, (dict, list)) else json.dumps(v)}" for k, v in combo.items())


def expand(spec: SweepSpec, where: str) -> list[tuple[str, list[str], list[int]]]:
    variants = [(v.name, to_dotlist(v.delta, f"{where}: variant '{v.name}'"), v.seeds or spec.seeds)
                for v in spec.variants]
    if spec.grid:
        for key, values in spec.grid.items():
            if not values:
                raise ConfigError(f"{where}: grid key '{key}' has no values")
        keys = list(spec.grid)
        for combo in itertools.product(*(spec.grid[k] for k in keys)):
            c = dict(zip(keys, combo))
            variants.append((_grid_name(c), [f"{k}={_value(v)}" for k, v in c.items()], spec.seeds))
    if not variants:
        raise ConfigError(f"{where}: no variants (give 'variants' and/or 'grid')")
    _check_names(variants, where)
    _check_orders(spec.orders, [v[0] for v in variants], where)
    return variants


def _check_names(variants: list[tuple[str, list[str], list[int]]], where: str) -> None:
    seen = set()
    for name, _, seeds in variants:
        if not NAME_RE.match(name) or ".." in name:
            raise ConfigError(f"{where}: variant name '{name}' must use letters, digits and _ . = + , - only")
        if name in seen:
            raise ConfigError(f"{where}: two variants are named '{name}'")
        if len(set(seeds)) != len(seeds):
            raise ConfigError(f"{where}: variant '{name}' repeats a seed: {seeds}")
        seen.add(name)


def _check_orders(orders: list[OrderSpec], names: list[str], where: str) -> None:
    for i, order in enumerate(orders):
        for name in order.variants:
            if name not in names:
                raise ConfigError(f"{where}: orders[{i}] names variant '{name}', which the sweep does not have "
                                  f"(variants: {', '.join(names)})")
        if len(set(order.variants)) != len(order.variants):
            raise ConfigError(f"{where}: orders[{i}] names a variant twice: {order.variants}")


def _resolve_base(base: Optional[str], path: Optional[Path]) -> Optional[str]:
    """A base given as a path is made absolute relative to the sweep file; a name stays."""
    if base is None:
        return None
    if path is not None and base.endswith((".yaml", ".yml")):
        rel = (path.parent / base)
        if rel.is_file():
            return str(rel.resolve())
    return base


def parse_sweep(data: Any, path: Optional[Path] = None) -> Sweep:
    where = str(path) if path else "sweep"
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: a sweep file must be a YAML mapping (base, budget, seeds, variants, grid)")
    try:
        spec = SweepSpec.model_validate(data)
    except ValidationError as err:
        raise ConfigError(f"{where}: {describe_error(SweepSpec, err)}") from err
    return Sweep(spec, path, _resolve_base(spec.base, path), expand(spec, where))


def eval_overrides(items: list[str], where: str) -> dict:
    """``["frames=100", "data=heldout"]`` -> {"frames": 100, "data": "heldout"} (values read as YAML)."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{where}: --eval {item!r} must look like key=value (e.g. frames=100)")
        out[key.strip()] = yaml.safe_load(value) if value.strip() else None
    return out


def load_sweep(path: str | Path, eval_set: list[str] = ()) -> Sweep:
    """The sweep file at ``path``; ``eval_set`` ("key=value") changes its ``eval`` section."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"sweep file {path} not found")
    try:
        data = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, OSError, UnicodeDecodeError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ConfigError(f"sweep file {path} could not be read: {first}") from err
    if eval_set and isinstance(data, dict):
        data["eval"] = {**(data.get("eval") or {}), **eval_overrides(list(eval_set), str(path))}
    return parse_sweep(data, path)
