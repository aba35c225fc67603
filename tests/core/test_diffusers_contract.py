"""The denoiser relies on diffusers internals: pin the tested range and check the contract, so
a diffusers upgrade fails here, loudly, instead of silently breaking gradient checkpointing."""
from __future__ import annotations

import inspect
import re
from importlib.metadata import version
from pathlib import Path

from packaging.requirements import Requirement

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def test_installed_diffusers_is_in_the_pinned_range():
    text = PYPROJECT.read_text()
    spec = next(Requirement(m) for m in re.findall(r'"(diffusers[^"]*)"', text))
    assert spec.specifier, "pyproject.toml must pin a diffusers range (the denoiser overrides a private method)"
    assert spec.specifier.contains(version("diffusers")), (version("diffusers"), str(spec))


def test_private_gradient_checkpointing_hook_has_the_overridden_signature():
    from diffusers.models import ModelMixin

    from actalker.core.denoiser import ACTalkerDenoiser

    theirs = list(inspect.signature(ModelMixin._set_gradient_checkpointing).parameters)
    ours = list(inspect.signature(ACTalkerDenoiser._set_gradient_checkpointing).parameters)
    assert theirs == ours == ["self", "enable", "gradient_checkpointing_func"]
