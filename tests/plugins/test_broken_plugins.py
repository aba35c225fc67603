"""A broken installed plugin harms only itself: it is listed with its reason, every other
plugin and command works, a command that needs it names it, and one can be switched off."""
from __future__ import annotations

import argparse
import json

import pytest

from actalker import cli
from actalker.commands import plugins as plugins_command
from actalker.config import load_config
from actalker.errors import PluginError
from actalker.plugins import load_registry
from tests.plugins.fake_entry_points import FakeEntryPoint, add_entry_points
from tests.plugins.helpers import plugin_module, toy_spec

IMPORT_ERROR = ImportError("No module named 'numpyy'\nsecond line")


@pytest.fixture(autouse=True)
def _all_plugins(monkeypatch):
    monkeypatch.delenv("ACTALKER_PLUGINS", raising=False)
    monkeypatch.delenv("ACTALKER_DISABLE_PLUGINS", raising=False)


def _broken(reg, name):
    found = [b for b in reg.broken if b.name == name]
    assert found, f"{name} not listed as broken: {reg.broken}"
    return found[0]


def test_import_failure_is_listed_and_the_rest_loads(monkeypatch):
    add_entry_points(monkeypatch, FakeEntryPoint("gaze", error=IMPORT_ERROR))
    reg = load_registry()
    reason = _broken(reg, "gaze").reason
    assert "failed to import" in reason and "numpyy" in reason and "ACTALKER_DISABLE_PLUGINS=gaze" in reason
    assert "\n" not in reason
    assert {"audio", "motion", "blink"} <= set(reg.modalities)
    with pytest.raises(PluginError, match="unknown modality 'gaze'.*plugin 'gaze' is installed but broken: .*numpyy"):
        reg.modality("gaze")


@pytest.mark.parametrize("module, match", [
    (plugin_module("boom_mod", register_modalities=lambda register: 1 / 0), "failed in register_modalities: ZeroDivisionError"),
    (plugin_module("clash_mod", [toy_spec("audio")]), "modality 'audio' is declared by both plugin 'audio' and plugin 'gaze'"),
    (plugin_module("typo_mod", register_modalitys=lambda register: None), "implements an unknown hook"),
    (plugin_module("bad_mod", [toy_spec("gaze", default_region="nose")]), "default_region 'nose'"),
    (plugin_module("region_boom", [toy_spec("gaze")], register_regions=lambda register: register(3)),
     "passed int to register_regions"),  # fails in the first hook: its modalities are never asked for
])
def test_faulty_plugin_is_dropped_whole(monkeypatch, module, match):
    add_entry_points(monkeypatch, FakeEntryPoint("gaze", obj=module))
    reg = load_registry()
    assert match in _broken(reg, "gaze").reason
    assert "gaze" not in [p.name for p in reg.plugins]
    assert reg.owners["modality:audio"] == "audio" and "eyes" in reg.regions


def test_half_registered_plugin_leaves_nothing_behind(monkeypatch):
    def register_modalities(register):
        register(toy_spec("gaze"))
        raise RuntimeError("second declaration failed")

    add_entry_points(monkeypatch, FakeEntryPoint("gaze", obj=plugin_module("half_mod", register_modalities=register_modalities)))
    reg = load_registry()
    assert "gaze" not in reg.modalities and "modality:gaze" not in reg.owners
    assert "RuntimeError: second declaration failed" in _broken(reg, "gaze").reason


def test_plugins_command_lists_the_broken_one(monkeypatch, capsys):
    add_entry_points(monkeypatch, FakeEntryPoint("gaze", error=IMPORT_ERROR))
    parser = argparse.ArgumentParser()
    plugins_command.register(parser.add_subparsers())
    args = parser.parse_args(["plugins"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "modality:   audio" in out and "modality:   blink" in out
    row = [line for line in out.splitlines() if "BROKEN" in line]
    assert len(row) == 1 and row[0].startswith("gaze 0.0.1  (entry point of actalker-gaze)  BROKEN: ") and "numpyy" in row[0]
    data = json.loads(_run_json(parser, capsys))
    assert data["broken"][0]["name"] == "gaze" and "numpyy" in data["broken"][0]["reason"]


def _run_json(parser, capsys) -> str:
    args = parser.parse_args(["plugins", "--json"])
    args.func(args)
    return capsys.readouterr().out


def test_commands_that_do_not_need_it_work_and_one_that_does_names_it(monkeypatch, capsys):
    add_entry_points(monkeypatch, FakeEntryPoint("gaze", error=IMPORT_ERROR))
    reg = load_registry()
    cfg, _ = load_config("demo", registry=reg)  # an audio + motion config is unaffected
    assert set(cfg.model.branches) == {"audio", "motion"}
    with pytest.raises(PluginError, match="unknown modality 'gaze'.*broken.*numpyy"):
        load_config("demo", ["branches.gaze.gate=1"], registry=reg)
    with pytest.raises(SystemExit) as exit_:
        cli.main(["generate", "--model", "m", "--image", "i.png", "--out", "o.mp4", "--gaze", "g.csv"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "unrecognized arguments: --gaze g.csv" in err and "plugin 'gaze' is broken" in err and "numpyy" in err


def test_generate_help_names_the_broken_plugin(monkeypatch, capsys):
    add_entry_points(monkeypatch, FakeEntryPoint("gaze", error=IMPORT_ERROR))
    with pytest.raises(SystemExit):
        cli.main(["generate", "--help"])
    out = capsys.readouterr().out
    assert "--audio" in out and "Broken plugin 'gaze'" in out


def test_switch_one_plugin_off_by_name(monkeypatch, capsys):
    add_entry_points(monkeypatch, FakeEntryPoint("gaze", error=IMPORT_ERROR))
    monkeypatch.setenv("ACTALKER_DISABLE_PLUGINS", "gaze, actalker-blink")
    reg = load_registry()
    assert reg.broken == [] and sorted(reg.disabled) == ["blink", "gaze"]
    assert "blink" not in reg.modalities and {"audio", "eeg"} <= set(reg.modalities)
    with pytest.raises(PluginError, match="plugin 'blink' is switched off by ACTALKER_DISABLE_PLUGINS"):
        reg.modality("blink")
    assert "switched off (ACTALKER_DISABLE_PLUGINS): " in plugins_command.format_table(plugins_command.collect())
