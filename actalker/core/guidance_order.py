"""The guidance chain's order and scales, completed for every branch (torch-free: the
config loader calls it)."""
from __future__ import annotations

from typing import Iterable, Mapping, Sequence

from actalker.errors import ConfigError


def resolve_order(branches: Iterable[str], order: Sequence[str] = ()) -> tuple[str, ...]:
    """The chain order: ``order`` first (every name must be a branch), then the other branches."""
    branches = list(branches)
    for name in order:
        if name not in branches:
            known = ", ".join(branches) or "none"
            raise ConfigError(f"guidance.order names branch '{name}', which the model lacks (branches: {known})")
    if len(set(order)) != len(order):
        raise ConfigError(f"guidance.order lists a branch twice: {list(order)}")
    return tuple(order) + tuple(b for b in branches if b not in order)


DEFAULT_BRANCH_SCALE = 1.0  # a branch without a scale: its stage is added once, unamplified


def complete_guidance(branches: Iterable[str], order: Sequence[str] = (),
                      scales: Mapping[str, float] | None = None) -> tuple[list[str], dict[str, float]]:
    """The explicit chain of a model: every branch in ``order`` (the given ones first, then
    the rest in branch order) and a scale for every branch (``DEFAULT_BRANCH_SCALE`` where
    none is given). Config loading writes these back, so the resolved config shows them."""
    branches = list(branches)
    scales = dict(scales or {})
    for name in scales:
        if name not in branches:
            known = ", ".join(branches) or "none"
            raise ConfigError(f"guidance.scales has branch '{name}', which the model lacks (branches: {known})")
    full = list(resolve_order(branches, order))
    return full, {b: float(scales.get(b, DEFAULT_BRANCH_SCALE)) for b in full}
