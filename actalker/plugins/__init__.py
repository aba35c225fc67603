"""Plugin system: control signals (modalities) and facial regions are pluggy plugins.

Built-in plugins load like third-party ones (``DEFAULT_PLUGINS``), then the entry-point
group ``actalker``. See docs/plugins.md for the tutorial and the ``ACTALKER_PLUGINS`` switch.

Names are resolved lazily (PEP 562) so ``import actalker.plugins.validation`` (used by the
config loader) does not pull in torch.
"""
from __future__ import annotations

import importlib
from typing import Any

# Module paths of the built-in plugins, loaded first, in this order.
DEFAULT_PLUGINS = (
    "actalker.plugins.builtin.regions",
    "actalker.plugins.builtin.audio",
    "actalker.plugins.builtin.motion",
)

_LAZY = {
    "hookimpl": "actalker.plugins.hookspecs",
    "ModalitySpec": "actalker.plugins.spec",
    "ControlTarget": "actalker.plugins.spec",
    "RegionSpec": "actalker.plugins.spec",
    "PluginInfo": "actalker.plugins.spec",
    "Registry": "actalker.plugins.registry",
    "load_registry": "actalker.plugins.registry",
}

__all__ = ["DEFAULT_PLUGINS", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'actalker.plugins' has no attribute '{name}'")
