"""`actalker plugins [--json]`."""
from __future__ import annotations

import argparse
import json

import pytest

from actalker.commands import plugins as command


def run(argv, capsys):
    parser = argparse.ArgumentParser(prog="actalker")
    command.register(parser.add_subparsers())
    args = parser.parse_args(argv)
    assert args.func(args) == 0
    return capsys.readouterr().out


def test_json_lists_plugins_sources_hooks_and_declarations(capsys, monkeypatch):
    monkeypatch.delenv("ACTALKER_PLUGINS", raising=False)
    data = json.loads(run(["plugins", "--json"], capsys))
    by_name = {p["name"]: p for p in data["plugins"]}
    assert by_name["regions"]["source"] == "builtin" and "upper_face" in by_name["regions"]["regions"]
    assert by_name["eeg"]["source"] == "entry point of actalker-eeg" and by_name["eeg"]["version"] == "0.1.0"
    assert by_name["blink"]["hooks"] == ["register_modalities"]
    assert by_name["headpose"]["modality_details"]["headpose"]["default_region"] == "full"
    assert data["not_loaded"] == []


def test_table_and_recovery_switch(capsys, monkeypatch):
    monkeypatch.setenv("ACTALKER_PLUGINS", "builtin")
    out = run(["plugins"], capsys)
    assert "regions 0.1.0  (builtin)" in out and "modality:   audio" in out
    listed = [line for line in out.splitlines() if line.startswith("not loaded (ACTALKER_PLUGINS): ")]
    assert len(listed) == 1 and {"blink", "eeg", "headpose"} <= set(listed[0].split(": ", 1)[1].split(", "))


def test_broken_selection_is_a_user_error(monkeypatch):
    from actalker.errors import PluginError

    monkeypatch.setenv("ACTALKER_PLUGINS", "nope")
    with pytest.raises(PluginError, match="unknown plugin"):
        command.collect()
