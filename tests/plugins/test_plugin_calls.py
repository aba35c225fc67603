"""Plugin code that fails names the plugin, the branch and the clip; per-clip data is
checked before training (and by `actalker data check`); an encoder's output shape is
checked when the model is built."""
from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from actalker.cli import main
from actalker.core.branches import resolve_branches
from actalker.core.controls import conditions_from_clip
from actalker.errors import InputError, PluginError, ShapeError
from actalker.plugins import load_registry
from tests.plugins.helpers import plugin_module, toy_spec

CLIP = SimpleNamespace(id="clip7", num_frames=4, fps=25.0, start=0.0, path=None, truth={})


def branch(**spec_overrides):
    reg = load_registry("regions", plugins=[plugin_module("toy_plugin", [toy_spec(**spec_overrides)])])
    return resolve_branches({"mine": {"modality": "toy"}}, reg)["mine"]


def test_plain_exception_in_from_clip_names_plugin_branch_and_clip():
    def from_clip(clip, opts):
        raise KeyError("frame_rate")

    with pytest.raises(PluginError) as err:
        conditions_from_clip([branch(from_clip=from_clip)], CLIP)
    msg = str(err.value)
    assert msg.startswith("branch 'mine' (modality 'toy' of plugin 'toy_plugin'), from_clip on clip clip7 failed: KeyError")
    assert "\n" not in msg


def test_input_error_keeps_its_class_with_the_context():
    def from_clip(clip, opts):
        raise InputError("missing gaze.csv")

    with pytest.raises(InputError, match=r"^branch 'mine' .*on clip clip7: missing gaze.csv$"):
        conditions_from_clip([branch(from_clip=from_clip)], CLIP)


@pytest.mark.parametrize("features, match", [
    (torch.zeros(4, 3), r"returned shape \(4, 3\); expected \(4, 2\)"),
    (torch.zeros(2, 2), r"returned shape \(2, 2\); expected \(4, 2\)"),
    (torch.full((4, 2), float("nan")), "non-finite"),
])
def test_wrong_features_are_caught_at_the_clip(features, match):
    with pytest.raises(ShapeError, match=match):
        conditions_from_clip([branch(from_clip=lambda clip, opts: features)], CLIP)


def test_encoder_shape_checked_when_the_model_is_built():
    from tests.core.tiny_models import tiny_pcm_config, tiny_unet_config

    from actalker.core.denoiser import ACTalkerDenoiser

    spec = toy_spec(build_encoder=lambda o, dim: torch.nn.Linear(o.size, dim))  # (B, F, dim): no token axis
    reg = load_registry("regions", plugins=[plugin_module("flat_plugin", [spec])])
    with pytest.raises(ShapeError, match=r"branch 'toy' \(modality 'toy' of plugin 'flat_plugin'\), encoder maps "
                                         r"\(1, 2, 2\) to \(1, 2, 8\); expected \(1, 2, tokens, 8\)"):
        ACTalkerDenoiser(unet=tiny_unet_config(), pcm=tiny_pcm_config(), branches={"toy": {}}, cond_dim=8,
                         identity={"kind": "learned", "dim": 12}, registry=reg)


@pytest.fixture(scope="module")
def prompts_data(tmp_path_factory):
    pytest.importorskip("actalker_text")
    root = tmp_path_factory.mktemp("synth")
    assert main(["synth", "--out", str(root), "--clips", "3", "--frames", "12", "--size", "32",
                 "--speech", "syllables", "--prompts", "--quiet"]) == 0
    manifest = json.loads((root / "manifest.json").read_text())
    (root / manifest["clips"][1]["path"] / "prompts.json").unlink()  # one clip lacks its side file
    return root, manifest["clips"][1]["id"]


def test_data_check_command_lists_the_clip(prompts_data, capsys):
    root, bad = prompts_data
    args = ["data", "check", "--config", "demo", f"data.root={root}", "branches.motion=null", "branches.text.gate=1",
            "--split", "all", "--no-progress"]
    assert main(args) == 2
    out, err = capsys.readouterr()
    assert f"branch 'text' (modality 'text' of plugin 'text'), from_clip on clip {bad}: clip {bad}: missing" in out
    assert "1 problem(s) in 3 clips" in err and "prompts.json" in err
    assert main(args[:-3] + ["branches.text=null", "--split", "all", "--no-progress"]) == 0
    assert "ok: 3 clips x 1 branches (audio)" in capsys.readouterr().out


def test_training_checks_the_data_before_step_1(prompts_data):
    from actalker.config import load_config
    from actalker.train.build import build_dataset, check_training_data

    root, bad = prompts_data
    reg = load_registry()
    cfg, _ = load_config("demo", [f"data.root={root}", "data.train_split=all", "branches.motion=null",
                                  "branches.text.gate=1"], registry=reg)
    with pytest.raises(InputError, match=f"train.check_data=false skips this check.*clip {bad}: missing .*prompts.json"):
        check_training_data(cfg, build_dataset(cfg, "all"), reg)
