"""Hook specifications: what a plugin may implement, grouped by lifecycle.

Every hook receives a ``register`` callback owned by the host (as simonw/llm does), so the
host alone decides what a duplicate name or an invalid declaration means. A plugin module
implements a hook by defining a function of the same name decorated with
``actalker.plugins.hookimpl``::

    from actalker.plugins import hookimpl, ModalitySpec

    @hookimpl
    def register_modalities(register):
        register(ModalitySpec(name="blink", ...))

A misspelled hook name is an error at load time (``PluginManager.check_pending``).
"""
from __future__ import annotations

from typing import Any, Callable

import pluggy

PROJECT = "actalker"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# --- conditioning: what the model can be driven by and where it acts -------------------


@hookspec
def register_modalities(register: Callable[["ModalitySpec"], None]) -> None:  # noqa: F821
    """Declare control signals: call ``register(ModalitySpec(...))`` once per modality."""


@hookspec
def register_regions(register: Callable[["RegionSpec"], None]) -> None:  # noqa: F821
    """Declare facial regions: call ``register(RegionSpec(...))`` once per region."""


# --- later lifecycle stages: register_metrics is consumed by `actalker eval video`
# --- (actalker/eval/registry.py); register_datasets is still a placeholder ---------------


@hookspec
def register_metrics(register: Callable[[Any], None]) -> None:
    """Declare video metrics for `actalker eval video`: call ``register(MetricSpec(...))``
    (``actalker.eval.registry.MetricSpec``) once per metric; and region measures of
    generated frames for `actalker eval control`: ``register(MeasureSpec(...))``."""


@hookspec
def register_datasets(register: Callable[[Any], None]) -> None:
    """Placeholder for dataset readers (issue: data). Declarations are not consumed yet."""


HOOK_NAMES = ("register_modalities", "register_regions", "register_metrics", "register_datasets")
