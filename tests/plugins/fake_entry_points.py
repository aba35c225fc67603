"""Stand-ins for installed entry points (``actalker.plugins.manager.entry_points`` is swapped
for a list that adds these to the real ones)."""
from __future__ import annotations

import types

from actalker.plugins import manager


class FakeDist:
    def __init__(self, name: str, version: str = "0.0.1"):
        self.name, self.version, self.metadata = name, version, {"Name": name}


class FakeEntryPoint:
    """An entry point whose ``load`` returns ``obj`` or raises ``error``."""

    def __init__(self, name: str, obj: types.ModuleType | None = None, error: Exception | None = None):
        self.name, self.value = name, f"{name}_pkg.plugin"
        self.dist = FakeDist(f"actalker-{name}")
        self.obj, self.error = obj, error

    def load(self):
        if self.error is not None:
            raise self.error
        return self.obj


def add_entry_points(monkeypatch, *fakes: FakeEntryPoint) -> None:
    real = manager.entry_points()
    monkeypatch.setattr(manager, "entry_points", lambda: sorted([*real, *fakes], key=lambda ep: ep.name))
