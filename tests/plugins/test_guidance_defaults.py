"""A new branch's guidance is explicit: a scale (default 1.0) and a place in
guidance.order, visible in the resolved (saved) config."""
from __future__ import annotations

import pytest
import yaml

from actalker.config import load_config, save_resolved_config
from actalker.core.guidance_order import DEFAULT_BRANCH_SCALE
from actalker.errors import ConfigError
from actalker.plugins import load_registry


@pytest.fixture(scope="module")
def reg():
    return load_registry("builtin,blink")


def test_new_branch_gets_a_scale_and_a_place_in_the_order(reg, tmp_path):
    cfg, resolved = load_config("demo", ["branches.blink.gate=1"], registry=reg)
    assert cfg.guidance.order == ["audio", "motion", "blink"]
    assert cfg.guidance.scales == {"audio": 3.0, "motion": 2.0, "blink": DEFAULT_BRANCH_SCALE} and DEFAULT_BRANCH_SCALE == 1.0
    saved = yaml.safe_load(save_resolved_config(resolved, tmp_path / "config.yaml").read_text())
    assert saved["guidance"]["order"] == ["audio", "motion", "blink"] and saved["guidance"]["scales"]["blink"] == 1.0


def test_given_order_first_then_the_rest(reg):
    cfg, _ = load_config("demo", ["branches.blink.gate=1", "guidance.order=[blink]", "guidance.scales.blink=3"], registry=reg)
    assert cfg.guidance.order == ["blink", "audio", "motion"] and cfg.guidance.scales["blink"] == 3.0
    cfg, _ = load_config("demo", ["branches.motion=null"], registry=reg)
    assert cfg.guidance.order == ["audio"] and cfg.guidance.scales == {"audio": 3.0}


def test_scale_for_a_missing_branch_is_an_error(reg):
    with pytest.raises(ConfigError, match="guidance.scales has branch 'blinky', which the model lacks"):
        load_config("demo", ["guidance.scales.blinky=2"], registry=reg)
