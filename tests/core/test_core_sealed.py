"""Core is sealed (issue 17): it imports only itself, the plugin API, errors and utils; callers
never reassign a pipeline's denoiser or config (``replace`` gives a new pipeline)."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

import actalker

CORE = Path(actalker.__file__).parent / "core"
ALLOWED = ("actalker.core", "actalker.errors", "actalker.plugins", "actalker.utils")


def imported_modules(source: str) -> list[str]:
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append(node.module)
        elif isinstance(node, ast.Import):
            out += [a.name for a in node.names]
    return out


def test_core_imports_nothing_above_it():
    bad = {str(f.relative_to(CORE)): m for f in sorted(CORE.rglob("*.py"))
           for m in imported_modules(f.read_text())
           if m.startswith("actalker") and not m.startswith(ALLOWED)}
    assert bad == {}


def test_pipeline_denoiser_and_config_are_not_reassigned():
    from actalker.core.pipeline import ACTalkerPipeline

    for name in ("denoiser", "config"):
        prop = getattr(ACTalkerPipeline, name)
        assert isinstance(prop, property) and prop.fset is None, name
    with pytest.raises(AttributeError):
        ACTalkerPipeline.__new__(ACTalkerPipeline).config = None
