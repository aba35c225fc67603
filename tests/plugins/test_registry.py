"""Declarations are checked when registered; lookups fail with the installed names."""
from __future__ import annotations

import pytest
from pydantic import BaseModel

from actalker.errors import PluginError
from actalker.plugins import RegionSpec, load_registry, manager
from tests.plugins.helpers import plugin_module, toy_spec


def test_duplicate_modality_names_both_plugins():
    a = plugin_module("first_plugin", [toy_spec("dup")])
    b = plugin_module("second_plugin", [toy_spec("dup")])
    with pytest.raises(PluginError, match="modality 'dup' is declared by both plugin 'first_plugin' and plugin 'second_plugin'"):
        load_registry("builtin", plugins=[a, b])


def test_duplicate_of_builtin_region_names_both():
    mod = plugin_module("my_regions", regions=[RegionSpec("mouth", lambda *a: None)])
    with pytest.raises(PluginError, match="region 'mouth' is declared by both plugin 'regions' and plugin 'my_regions'"):
        load_registry("builtin", plugins=[mod])


def test_duplicate_cli_flag():
    mod = plugin_module("flaggy", [toy_spec("speech2", cli_flag="audio")])
    with pytest.raises(PluginError, match="cli flag 'audio' is declared by both plugin 'audio' and plugin 'flaggy'"):
        load_registry("builtin", plugins=[mod])


class _Loose(BaseModel):  # extra keys silently ignored: not allowed
    size: int = 2


@pytest.mark.parametrize(
    "decl, match",
    [
        ("not a spec", "passed str to register_modalities; expected a ModalitySpec"),
        (toy_spec("Bad-Name"), "named 'Bad-Name'"),
        (toy_spec(options_model=_Loose), "without extra='forbid'"),
        (toy_spec(options_model=dict), "expected a pydantic BaseModel"),
        (toy_spec(default_region="nose"), "default_region 'nose', which is not a known region"),
        (toy_spec(solo_region="nose"), "solo_region 'nose'"),
        (toy_spec(default_gate=-1.0), "default_gate -1.0"),
        (toy_spec(build_encoder=None), "build_encoder that is not callable"),
        (toy_spec(cli_flag="--x"), "cli_flag '--x'"),
    ],
)
def test_invalid_modality_declaration(decl, match):
    mod = plugin_module("bad_decl", [decl])
    with pytest.raises(PluginError, match=match) as err:
        load_registry("builtin", plugins=[mod])
    assert "plugin 'bad_decl'" in str(err.value)


def test_invalid_region_declaration():
    with pytest.raises(PluginError, match="plugin 'bad_region' passed int to register_regions"):
        load_registry("builtin", plugins=[plugin_module("bad_region", regions=[3])])


def test_hook_that_raises_names_the_plugin():
    def register_modalities(register):
        raise RuntimeError("boom")

    with pytest.raises(PluginError, match="plugin 'exploding' failed in register_modalities: RuntimeError: boom"):
        load_registry("builtin", plugins=[plugin_module("exploding", register_modalities=register_modalities)])


def test_plugin_region_usable_by_plugin_modality():
    region = RegionSpec("nose", lambda lm, boxes, h, w: None)
    reg = load_registry("builtin", plugins=[plugin_module("nosey", [toy_spec(default_region="nose")], [region])])
    assert reg.modality("toy").default_region == "nose" and reg.region("nose") is region
    assert {p.name: p for p in reg.plugins}["nosey"].regions == ("nose",)


def test_lookup_errors_list_installed_names():
    reg = load_registry("builtin")
    with pytest.raises(PluginError, match=r"unknown region 'nose' \(installed: brows, eyes, face, full, mouth, upper_face\)"):
        reg.region("nose")
    with pytest.raises(PluginError, match=r"unknown modality 'speech' \(installed: audio, motion\)$"):
        reg.modality("speech")


def test_missing_modality_hints_at_its_package(monkeypatch):
    with pytest.raises(PluginError, match="installed but not selected by ACTALKER_PLUGINS"):
        load_registry("builtin").modality("eeg")
    monkeypatch.setattr(manager, "entry_points", lambda: [])  # as if actalker-eeg were not installed
    with pytest.raises(PluginError, match="provided by the package actalker-eeg"):
        load_registry().modality("eeg")
