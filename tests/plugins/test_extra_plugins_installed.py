"""The suite holds with third-party plugins installed: a working one (a modality, a
region and a CLI flag of its own) and one that fails to import, both real entry points
(a .dist-info folder on the path, as pip writes it)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from actalker.plugins import load_registry

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = '''
import torch
from pydantic import BaseModel, ConfigDict
from actalker.plugins import ModalitySpec, RegionSpec, hookimpl


class Opts(BaseModel):
    model_config = ConfigDict(extra="forbid")


@hookimpl
def register_regions(register):
    register(RegionSpec("nose_tip", lambda lm, boxes, h, w: torch.zeros(boxes.shape[0], h, w)))


@hookimpl
def register_modalities(register):
    register(ModalitySpec(name="xtra", options_model=Opts, feature_shape=lambda o: (1,),
                          load=lambda p, n, fps, o, on_short="error": torch.zeros(n, 1),
                          from_clip=lambda clip, o: torch.zeros(clip.num_frames, 1),
                          build_encoder=lambda o, dim: torch.nn.Linear(1, dim),
                          default_region="nose_tip", solo_region="nose_tip", cli_flag="xtra"))
'''
KEY_TESTS = ["tests/plugins", "tests/core/test_guidance.py", "tests/core/test_core_sealed.py", "tests/eval/test_control.py", "tests/test_cli_generate.py",
             "tests/train/test_window_clip.py"]


def install_extra_plugins(site: Path) -> Path:
    """A working plugin (actalker-xtra) and a broken one (actalker-xbroken) under ``site``."""
    (site / "actalker_xtra.py").write_text(PLUGIN)
    (site / "actalker_xbroken.py").write_text("import numpy_that_does_not_exist\n")
    for dist, ep in (("actalker_xtra", "xtra = actalker_xtra"), ("actalker_xbroken", "xbroken = actalker_xbroken")):
        info = site / f"{dist}-0.1.0.dist-info"
        info.mkdir(parents=True, exist_ok=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist.replace('_', '-')}\nVersion: 0.1.0\n")
        (info / "entry_points.txt").write_text(f"[actalker]\n{ep}\n")
    return site


def test_extra_installed_plugins_are_seen(tmp_path, monkeypatch):
    monkeypatch.delenv("ACTALKER_PLUGINS", raising=False)
    monkeypatch.syspath_prepend(str(install_extra_plugins(tmp_path)))
    reg = load_registry()
    assert "xtra" in reg.modalities and "nose_tip" in reg.regions and {"audio", "motion"} <= set(reg.modalities)
    assert [b.name for b in reg.broken] == ["xbroken"]


@pytest.mark.slow
def test_key_tests_pass_with_extra_plugins_installed(tmp_path):
    site = install_extra_plugins(tmp_path / "site")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    env.pop("ACTALKER_PLUGINS", None)
    here = Path(__file__).name
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x",
                          f"--deselect=tests/plugins/{here}::test_key_tests_pass_with_extra_plugins_installed", *KEY_TESTS],
                         cwd=ROOT, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
