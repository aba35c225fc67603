"""Plugin loading: fresh manager per call, the ACTALKER_PLUGINS switch, load errors."""
from __future__ import annotations

import pytest

from actalker.errors import PluginError
from actalker.plugins import load_registry, manager
from tests.plugins.helpers import plugin_module, toy_spec

CONTRIB = {"eeg": "actalker-eeg", "headpose": "actalker-headpose", "blink": "actalker-blink"}


def test_real_entry_points_of_contrib_plugins(monkeypatch):
    monkeypatch.delenv("ACTALKER_PLUGINS", raising=False)
    reg = load_registry()
    by_name = {p.name: p for p in reg.plugins}
    assert [p.name for p in reg.plugins[:3]] == ["regions", "audio", "motion"]  # built-ins first
    for name, dist in CONTRIB.items():
        assert by_name[name].source == f"entry point of {dist}"
        assert by_name[name].modalities == (name,)
        assert by_name[name].hooks == ("register_modalities",)
        assert name in reg.modalities


def test_fresh_manager_per_call():
    with_toy = load_registry(plugins=[plugin_module("toy_plugin", [toy_spec()])])
    assert "toy" in with_toy.modalities
    assert "toy" not in load_registry().modalities  # nothing leaks into the next call


@pytest.mark.parametrize(
    "value, present, absent",
    [
        ("", {"regions", "audio", "motion"}, set(CONTRIB)),
        ("builtin", {"regions", "audio", "motion"}, set(CONTRIB)),
        ("none", set(), {"regions", "audio"} | set(CONTRIB)),
        ("builtin,eeg", {"regions", "eeg"}, {"blink", "headpose"}),
        ("regions,actalker-blink", {"regions", "blink"}, {"audio", "eeg"}),
    ],
)
def test_env_switch(monkeypatch, value, present, absent):
    monkeypatch.setenv("ACTALKER_PLUGINS", value)
    names = {p.name for p in load_registry().plugins}
    assert present <= names and not (absent & names)


def test_env_switch_unknown_name(monkeypatch):
    monkeypatch.setenv("ACTALKER_PLUGINS", "builtin,eegg")
    with pytest.raises(PluginError, match=r"unknown plugin\(s\) eegg; available: .*eeg"):
        load_registry()


def test_names_argument_overrides_env(monkeypatch):
    monkeypatch.setenv("ACTALKER_PLUGINS", "none")
    assert "blink" in load_registry("builtin,blink").modalities


class _BrokenEntryPoint:
    name, value = "broken", "broken_pkg.plugin"
    dist = None

    def load(self):
        raise ImportError("No module named 'numpyy'\nsecond line")


def test_entry_point_that_fails_to_import(monkeypatch):
    monkeypatch.setattr(manager, "entry_points", lambda: [_BrokenEntryPoint()])
    reg = load_registry()  # the others load; the broken one is listed with its reason
    assert "audio" in reg.modalities
    msg = reg.broken[0].reason
    assert "plugin 'broken'" in msg and "broken_pkg.plugin" in msg and "numpyy" in msg
    assert "ACTALKER_DISABLE_PLUGINS=broken" in msg and "\n" not in msg
    monkeypatch.setenv("ACTALKER_DISABLE_PLUGINS", "broken")  # switched off by name
    assert load_registry().broken == []


def test_module_that_fails_to_import():
    with pytest.raises(PluginError, match="plugin 'no_such_plugin_mod_xyz'.*failed to import: ModuleNotFoundError"):
        load_registry(plugins=["no_such_plugin_mod_xyz"])


def test_misspelled_hookimpl_is_an_error():
    mod = plugin_module("typo_plugin", register_modalitys=lambda register: None)
    with pytest.raises(PluginError, match="plugin 'typo_plugin' implements an unknown hook.*register_modalitys"):
        load_registry(plugins=[mod])


def test_hookimpl_with_wrong_argument_is_an_error():
    mod = plugin_module("bad_args", register_regions=lambda registr: None)
    with pytest.raises(PluginError, match="plugin 'bad_args'.*invalid hook"):
        load_registry(plugins=[mod])


def test_placeholder_hooks_are_accepted():
    mod = plugin_module("future", register_metrics=lambda register: None, register_datasets=lambda register: None)
    info = {p.name: p for p in load_registry(plugins=[mod]).plugins}["future"]
    assert info.hooks == ("register_datasets", "register_metrics")
