"""Config loading: omegaconf composition, phase-1 schema errors, phase-2 plugin options."""
from __future__ import annotations

import pytest
import yaml

from actalker.config import compose, load_config, save_resolved_config
from actalker.errors import ConfigError, PluginError
from actalker.plugins import load_registry

ONLY_BLINK = ["model.branches.audio=null", "model.branches.motion=null", "branches.blink.gate=0.5"]


def test_base_has_audio_and_motion_branches():
    cfg, resolved = load_config()
    assert set(cfg.model.branches) >= {"audio", "motion"}
    assert resolved["model"]["branches"]["audio"]["options"] == {}


def test_dotlist_overrides_and_branch_removal():
    cfg, _ = load_config(overrides=["branches.audio.gate=0.5", "model.branches.motion=null", "seed=3"])
    assert cfg.model.branches["audio"].gate == 0.5 and "motion" not in cfg.model.branches and cfg.seed == 3


@pytest.mark.parametrize(
    "override, message",
    [
        ("model.branches.audio.gaet=1", "unknown key 'model.branches.audio.gaet'; did you mean 'model.branches.audio.gate'?"),
        ("sampling.stesp=4", "unknown key 'sampling.stesp'; did you mean 'sampling.steps'?"),
        ("modle.cond_dim=4", "unknown key 'modle'; did you mean 'model'?"),
        ("sampling.steps=many", "'sampling.steps': Input should be a valid integer"),
    ],
)
def test_phase1_errors_name_the_key(override, message):
    with pytest.raises(ConfigError) as err:
        load_config(overrides=[override])
    assert message in str(err.value) and "\n" not in str(err.value)


def test_bad_override_syntax():
    with pytest.raises(ConfigError, match="override 'seed' must look like key.path=value"):
        load_config(overrides=["seed"])


def test_a_flow_mapping_without_spaces_is_explained():
    # "{eyes:8}" is YAML for the key "eyes:8" with no value, not eyes -> 8
    with pytest.raises(ConfigError) as err:
        load_config("demo", overrides=["train.part_loss_weight={eyes:8}"])
    assert str(err.value) == ("override 'train.part_loss_weight={eyes:8}': YAML reads 'eyes:8' as one key without a "
                              "value; write 'train.part_loss_weight={eyes: 8}' (a space after ':') or "
                              "'train.part_loss_weight.eyes=8'")
    for ok in ("train.part_loss_weight={eyes: 3}", "train.part_loss_weight.eyes=3"):
        assert load_config("demo", overrides=[ok])[0].train.part_loss_weight == {"eyes": 3.0}


def test_named_delta_with_base_chain(tmp_path):
    (tmp_path / "one.yaml").write_text("model:\n  branches:\n    motion: null\nseed: 5\n")
    (tmp_path / "two.yaml").write_text("_base_: one.yaml\nmodel:\n  branches:\n    audio: {gate: 0.25}\n")
    cfg, resolved = load_config(tmp_path / "two.yaml", overrides=["seed=6"])
    assert list(cfg.model.branches) == ["audio"] and cfg.model.branches["audio"].gate == 0.25 and cfg.seed == 6
    assert "_base_" not in resolved


def test_inheritance_cycle_and_missing_config(tmp_path):
    (tmp_path / "a.yaml").write_text("_base_: b.yaml\n")
    (tmp_path / "b.yaml").write_text("_base_: a.yaml\n")
    with pytest.raises(ConfigError, match="inherits from itself"):
        load_config(tmp_path / "a.yaml")
    with pytest.raises(ConfigError, match="config 'no_such_config' not found"):
        load_config("no_such_config")


def test_missing_config_lists_the_embedded_names_without_base():
    from actalker.config import available_configs

    assert available_configs() == ["demo"]  # base.yaml is the root of every config, not a choice
    with pytest.raises(ConfigError) as err:
        load_config("no_such_config")
    assert str(err.value).endswith("expected a YAML file path or one of: demo")


def test_config_dir_names_and_yml_files(tmp_path, monkeypatch):
    import actalker.config as config

    monkeypatch.setattr(config, "CONFIG_DIR", tmp_path)
    with pytest.raises(ConfigError, match="one of: none$"):
        config._find("nothing")
    for name in ("base.yaml", "wide.yaml", "tall.yaml", "tiny.yml"):
        (tmp_path / name).write_text("seed: 4\n")
    assert config._find("tiny.yml") == tmp_path / "tiny.yml"  # an embedded .yml by its file name
    with pytest.raises(ConfigError, match="one of: tall, wide$"):
        config._find("nothing")


def test_config_lookup_order_and_suffixes(tmp_path, monkeypatch):
    from actalker.config import CONFIG_DIR, _find

    assert _find("demo") == CONFIG_DIR / "demo.yaml" and _find("demo.yaml") == CONFIG_DIR / "demo.yaml"
    (tmp_path / "mine.yml").write_text("seed: 3\n")
    assert load_config(tmp_path / "mine.yml")[0].seed == 3
    # a _base_ name resolves beside the file that names it before the working directory
    work, here = tmp_path / "work", tmp_path / "here"
    work.mkdir(), here.mkdir()
    (work / "parent.yaml").write_text("seed: 1\n")
    (here / "parent.yaml").write_text("seed: 2\n")
    (here / "child.yaml").write_text("_base_: parent.yaml\n")
    monkeypatch.chdir(work)
    assert _find("parent.yaml", relative_to=here) == here / "parent.yaml"
    assert load_config(here / "child.yaml")[0].seed == 2


def test_unreadable_and_non_mapping_files_are_one_line_errors(tmp_path, monkeypatch):
    (tmp_path / "bad.yaml").write_text("seed: [1, 2\n")
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path / "bad.yaml")
    assert str(err.value) == f"config file {tmp_path / 'bad.yaml'} could not be read: while parsing a flow sequence"
    (tmp_path / "odd.yaml").write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match=r"^config file .*odd.yaml must be a YAML mapping of sections$"):
        load_config(tmp_path / "odd.yaml")

    import actalker.config as config

    def fail(path):
        raise OSError()  # no message: the error's type stands in

    monkeypatch.setattr(config.OmegaConf, "load", fail)
    with pytest.raises(ConfigError, match=r"could not be read: OSError$"):
        load_config(tmp_path / "bad.yaml")


@pytest.mark.parametrize("override, message", [
    ("seed=[1, 2", "overrides ['seed=[1, 2'] could not be parsed: while parsing a flow sequence"),
    ("seed=${nope}", "config could not be composed: Interpolation key 'nope' not found"),
    ("_base_=demo", "override '_base_=demo': _base_ is set inside a config file; choose the config itself with --config"),
    ("_base_=a=b", "override '_base_=a=b': _base_ is set inside a config file; choose the config itself with --config"),
])
def test_override_errors_are_the_first_line_of_the_cause(override, message):
    with pytest.raises(ConfigError) as err:
        load_config(overrides=[override])
    assert str(err.value) == message


def test_delta_chain_child_wins_and_interpolations_resolve(tmp_path):
    (tmp_path / "parent.yaml").write_text("seed: 1\ntrain: {output_dir: parent}\n")
    (tmp_path / "child.yaml").write_text("_base_: parent.yaml\nseed: 2\ntrain:\n  output_dir: runs/s${seed}\n")
    cfg, resolved = load_config(tmp_path / "child.yaml")
    assert cfg.seed == 2 and resolved["train"]["output_dir"] == "runs/s2"
    # a named config is a delta on base.yaml: what it does not set comes from base
    base, demo = compose(), compose("demo")
    assert demo["guidance"]["order"] == base["guidance"]["order"] == ["audio", "motion"]  # demo.yaml sets no order
    assert demo["model"]["pcm"]["d_state"] != base["model"]["pcm"]["d_state"]


def test_phase2_validates_branch_options_with_the_plugin():
    reg = load_registry("builtin,blink")
    cfg, resolved = load_config(overrides=ONLY_BLINK + ["branches.blink.options.smooth=3"], registry=reg)
    assert resolved["model"]["branches"]["blink"]["options"] == {"smooth": 3, "hidden": 32, "tokens": 1}
    with pytest.raises(ConfigError) as err:
        load_config(overrides=ONLY_BLINK + ["branches.blink.options.smoth=3"], registry=reg)
    assert "unknown key 'model.branches.blink.options.smoth'; did you mean 'model.branches.blink.options.smooth'?" in str(err.value)
    with pytest.raises(ConfigError, match="'model.branches.blink.options.smooth': Input should be greater than or equal to 1"):
        load_config(overrides=ONLY_BLINK + ["branches.blink.options.smooth=0"], registry=reg)


def test_completed_options_are_plain_yaml_values():
    # the EEG plugin's bands are tuples in its options model; the config keeps what YAML
    # writes (lists), so the in-memory config equals the saved one
    pytest.importorskip("actalker_eeg")
    cfg, resolved = load_config(overrides=["branches.eeg.gate=1"], registry=load_registry("builtin,eeg"))
    bands = cfg.model.branches["eeg"].options["bands"]
    assert bands and all(type(b) is list for b in bands.values())
    assert cfg.model.branches["eeg"].options == resolved["model"]["branches"]["eeg"]["options"]


def test_phase2_checks_modality_and_region_names():
    reg = load_registry("builtin,blink")
    with pytest.raises(PluginError, match=r"model.branches.lips: unknown modality 'lips' \(installed: audio, blink, motion\)"):
        load_config(overrides=ONLY_BLINK + ["branches.lips.gate=1"], registry=reg)
    cfg, _ = load_config(overrides=ONLY_BLINK + ["branches.lids.modality=blink"], registry=reg)
    assert cfg.model.branches["lids"].options["hidden"] == 32  # a second branch of the same modality
    with pytest.raises(PluginError, match="model.branches.blink: unknown region 'nose'"):
        load_config(overrides=ONLY_BLINK + ["branches.blink.region=nose"], registry=reg)


def test_saved_config_reloads_identically(tmp_path):
    cfg, resolved = load_config(overrides=["branches.audio.gate=0.5", "seed=9"])
    path = save_resolved_config(cfg, tmp_path / "run" / "config.yaml")
    assert yaml.safe_load(path.read_text()) == resolved
    assert load_config(path)[1] == resolved
    assert not [p for p in path.parent.iterdir() if p.name != "config.yaml"]  # no temp files left


def test_saved_config_reads_in_schema_order_block_style_and_takes_a_dict(tmp_path):
    # a reader scans the saved file top-down as the schema documents it: sections in schema
    # order (not alphabetical), lists one item per line
    cfg, resolved = load_config()
    text = save_resolved_config(cfg, tmp_path / "a.yaml").read_text()
    sections = [line[:-1] for line in text.splitlines() if line and not line[0].isspace() and line.endswith(":")]
    assert sections == [k for k in type(cfg).model_fields if isinstance(resolved[k], dict)] != sorted(sections)
    assert "    down_levels:\n    - 0\n    - 1\n    - 2\n" in text
    assert save_resolved_config(resolved, tmp_path / "b.yaml").read_text() == text  # a plain dict too


def test_compose_does_not_validate():
    assert compose(overrides=["anything.goes=1"])["anything"] == {"goes": 1}
