"""`actalker eval estimator` on a tiny synth folder; `evaluate_control` with a stand-in
pipeline that returns the clip's own frames (a perfect generator) or a frozen frame."""
from __future__ import annotations

import json
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import yaml

from actalker.cli import main
from actalker.data.clip import Clip
from actalker.data.manifest import load_manifest
from actalker.eval.runner import evaluate_control


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth")
    assert main(["synth", "--out", str(root), "--clips", "3", "--frames", "40", "--size", "64",
                 "--speech", "syllables", "--prompts", "--quiet"]) == 0
    return root


def test_estimator_command(data, tmp_path, capsys):
    out = tmp_path / "est.json"
    assert main(["eval", "estimator", "--data", str(data), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "| mouth |" in text and "| eyes |" in text
    rep = json.loads(out.read_text())
    assert len(rep["clips"]) == 3 and rep["summary"]["mouth"]["pooled_r"] >= 0.9


def test_estimator_command_user_errors(tmp_path, capsys):
    assert main(["eval", "estimator", "--data", str(tmp_path / "none")]) == 2
    assert "manifest.json" in capsys.readouterr().err


def test_estimator_through_a_vae_reads_what_the_vae_lets_through(data, tmp_path, capsys):
    """A VAE whose decoder outputs one flat grey image leaves nothing to read: the
    estimator's r through it collapses (it is >= 0.9 on the frames themselves)."""
    import torch
    from diffusers import AutoencoderKLTemporalDecoder

    torch.manual_seed(0)
    vae = AutoencoderKLTemporalDecoder(block_out_channels=(32, 32), down_block_types=("DownEncoderBlock2D",) * 2,
                                       layers_per_block=1, latent_channels=4, sample_size=64)
    torch.nn.init.zeros_(vae.decoder.conv_out.weight)
    torch.nn.init.zeros_(vae.decoder.conv_out.bias)
    vae.save_pretrained(tmp_path / "model" / "vae")
    out = tmp_path / "est.json"
    assert main(["eval", "estimator", "--data", str(data), "--vae", str(tmp_path / "model"), "--out", str(out)]) == 0
    assert "through the VAE" in capsys.readouterr().out
    rep = json.loads(out.read_text())
    r = rep["summary"]["mouth"]["pooled_r"]
    print("pooled_r through a flat VAE:", r)
    assert rep["vae"] == str(tmp_path / "model")
    assert isinstance(r, float) and math.isfinite(r) and abs(r) < 0.5  # NaN or a missing value fails here
    assert main(["eval", "estimator", "--data", str(data), "--vae", str(tmp_path)]) == 2
    assert "no VAE there" in capsys.readouterr().err


class FakePipe:
    """Duck-types what evaluate_control uses: returns the clip's frames, or frame 0 frozen."""

    def __init__(self, clips, frozen=False, branches=("audio", "motion")):
        from actalker.plugins import load_registry

        self.by_ref = {c.frames(0, 1)[0].tobytes(): c for c in clips}
        self.frozen = frozen
        self.config = SimpleNamespace(sampling=SimpleNamespace(height=64, width=64))
        from actalker.core.branches import resolve_branches

        self.branches = list(resolve_branches({b: {} for b in branches}, load_registry()).values())
        self.branch_names = list(branches)

    def __call__(self, image, conditions, num_frames, **kw):
        frames = self.by_ref[np.asarray(image).tobytes()].frames()[:num_frames]
        return np.repeat(frames[:1], num_frames, 0) if self.frozen else frames


def test_evaluate_control_perfect_and_frozen_generator(data):
    clips = [Clip.read(data / e["path"]) for e in load_manifest(data)["clips"]]
    gates = [{"audio": 1.0, "motion": 1.0}]
    good = evaluate_control(FakePipe(clips), clips, gates, log=None)["settings"][0]["metrics"]
    assert good["mouth_audio"]["mean"] > 0.8 and good["mouth_truth"]["mean"] > 0.9
    frozen = evaluate_control(FakePipe(clips, frozen=True), clips, gates, log=None)["settings"][0]["metrics"]
    assert frozen["mouth_audio"]["mean"] == 0.0 and frozen["eyes_motion"]["mean"] == 0.0


def test_evaluate_control_measures_any_branch(data):
    """An audio + text model (text: a plugin driving the eyes) is scored on its own
    branches: eyes~text and its leakage into the mouth, and nothing about motion."""
    pytest.importorskip("actalker_text")
    from actalker.eval.runner import default_gate_text, markdown_table, parse_gate_settings

    clips = [Clip.read(data / e["path"]) for e in load_manifest(data)["clips"]]
    gates = parse_gate_settings(default_gate_text(["audio", "text"]), ["audio", "text"])
    assert [g for g in gates] == [{"audio": 1, "text": 1}, {"audio": 1, "text": 0}, {"audio": 0, "text": 1}]
    res = evaluate_control(FakePipe(clips, branches=("audio", "text")), clips, gates[:1], log=None)
    m = res["settings"][0]["metrics"]
    assert {"mouth_audio", "mouth_truth", "leak_eyes_audio", "eyes_text", "eyes_truth", "leak_mouth_text"} <= set(m)
    assert not any("motion" in k or "driver" in k for k in m)
    assert m["eyes_text"]["mean"] > 0.5 and m["eyes_truth"]["mean"] > 0.9 and "chance" in m["leak_mouth_text"]
    assert "eyes~text" in markdown_table(res) and "|mouth~text|" in markdown_table(res)
    frozen = evaluate_control(FakePipe(clips, frozen=True, branches=("audio", "text")), clips, gates[:1], log=None)
    assert frozen["settings"][0]["metrics"]["eyes_text"]["mean"] == 0.0


def test_estimator_vae_decodes_as_the_model_folder_says(tmp_path):
    from actalker.commands.eval import _decode_settings
    from actalker.core.config import SamplingConfig

    defaults = SamplingConfig()
    assert _decode_settings(tmp_path) == (defaults.decode_chunk, defaults.decode_overlap)
    (tmp_path / "config.yaml").write_text("sampling:\n  decode_chunk: 2\n  decode_overlap: 0\n  steps: 3\n")
    assert _decode_settings(tmp_path) == (2, 0)


def test_a_plugin_branch_with_its_own_measure(data, monkeypatch):
    """A plugin declares a measure (register_metrics) and a modality driving it: scored with
    the same rule, and leakage of the other branches into it too."""
    from actalker.eval.registry import MeasureSpec
    from actalker.plugins import ControlTarget
    from tests.plugins.fake_entry_points import FakeEntryPoint, add_entry_points
    from tests.plugins.helpers import plugin_module, toy_spec

    spec = toy_spec("browsy", default_region="face", drives=(ControlTarget("brows", truth="brow_raise"),))
    brow_pixels = lambda frames, lm, bx: frames[:, 20, 32].mean(-1).astype(float)  # noqa: E731
    mod = plugin_module("browsy_mod", [spec], register_metrics=lambda register: register(MeasureSpec("brows", brow_pixels)))
    add_entry_points(monkeypatch, FakeEntryPoint("browsy", obj=mod))
    clips = [Clip.read(data / e["path"]) for e in load_manifest(data)["clips"]]
    res = evaluate_control(FakePipe(clips, branches=("audio", "browsy")), clips, [{"audio": 1, "browsy": 1}], log=None)
    m = res["settings"][0]["metrics"]
    assert {"brows_browsy", "brows_truth", "leak_mouth_browsy", "leak_eyes_browsy", "leak_brows_audio", "brows_std"} <= set(m)
    spec2 = toy_spec("nosy", drives=(ControlTarget("nose"),))
    add_entry_points(monkeypatch, FakeEntryPoint("nosy", obj=plugin_module("nosy_mod", [spec2])))
    with pytest.raises(Exception, match="branch 'nosy' drives measure 'nose', which no plugin registers"):
        evaluate_control(FakePipe(clips, branches=("nosy",)), clips, [{"nosy": 1}], log=None)


def test_control_command_applies_set_overrides_and_records_the_guidance(data, tmp_path, capsys):
    from actalker.demo.model import DEMO_MODEL_DIR

    out = tmp_path / "c.json"
    args = ["eval", "control", "--model", str(DEMO_MODEL_DIR), "--data", str(data), "--split", "all", "--clips", "1",
            "--frames", "3", "--steps", "3", "--gates", "audio=1,motion=1", "--out", str(out)]
    assert main([*args, "--set", "guidance.outside_scale=1", "--set", "guidance.scales.audio=2.5"]) == 0
    saved = json.loads(out.read_text())
    assert saved["guidance"]["outside_scale"] == 1.0 and saved["guidance"]["scales"]["audio"] == 2.5
    assert saved["set"] == ["guidance.outside_scale=1", "guidance.scales.audio=2.5"]
    capsys.readouterr()
    assert main([*args, "--set", "guidance.outside_scal=1"]) == 2  # a typo is named, nothing run
    assert "outside_scal" in capsys.readouterr().err


def test_reference_row_reads_the_clips_through_the_models_vae(data, tmp_path, capsys):
    """`--reference-only` scores the clips' own frames through the demo model's VAE: the
    following metrics a perfect denoiser would reach (high on these clips), as the table's
    last row and under "reference" in the JSON, after the same frames as rendered (the ruler
    alone, "reference_frames"); no gate setting is generated."""
    from actalker.demo.model import DEMO_MODEL_DIR
    from actalker.eval.runner import REFERENCE_NAME, REFERENCE_NAMES

    out = tmp_path / "ref.json"
    args = ["eval", "control", "--model", str(DEMO_MODEL_DIR), "--data", str(data), "--split", "all",
            "--frames", "40", "--out", str(out)]
    assert main([*args, "--reference-only"]) == 0
    lines = capsys.readouterr().out.splitlines()
    table = [line for line in lines if line.startswith("| ")]
    assert table[-2].startswith(f"| {REFERENCE_NAMES['reference_frames']} | 3 |")  # the ruler alone, then the VAE
    assert table[-1].startswith(f"| {REFERENCE_NAME} | 3 |") and not any("audio=1" in line for line in lines)
    saved = json.loads(out.read_text())
    assert saved["settings"] == [] and len(saved["reference"]["clips"]) == 3
    model_steps = yaml.safe_load((Path(DEMO_MODEL_DIR) / "config.yaml").read_text())["sampling"]["steps"]
    assert saved["steps"] == model_steps  # no --steps: the step count the model folder owns, recorded
    m, raw = saved["reference"]["metrics"], saved["reference_frames"]["metrics"]
    print("reference through the demo VAE:", {k: round(m[k]["mean"], 3) for k in ("mouth_audio", "mouth_truth")},
          "as rendered:", {k: round(raw[k]["mean"], 3) for k in ("mouth_audio", "mouth_truth")})
    assert m["mouth_truth"]["mean"] > 0.8 and m["mouth_audio"]["mean"] > 0.7 and "chance" in m["leak_eyes_audio"]
    # the ruler on the rendered frames reads the truth almost exactly, and the VAE only loses
    assert raw["mouth_truth"]["mean"] > 0.95 and raw["mouth_truth"]["mean"] > m["mouth_truth"]["mean"]
    with pytest.raises(SystemExit):  # one or the other, as argparse says
        main([*args, "--reference-only", "--no-reference"])


def test_reference_through_a_flat_vae_follows_nothing(data, tmp_path):
    """The reference is read after the model's own VAE, not from the clip: a VAE whose decoder
    draws one flat image gives a reference that follows nothing."""
    import torch
    from diffusers import AutoencoderKLTemporalDecoder

    from actalker.eval.runner import evaluate_references, markdown_table

    torch.manual_seed(0)
    vae = AutoencoderKLTemporalDecoder(block_out_channels=(32, 32), down_block_types=("DownEncoderBlock2D",) * 2,
                                       layers_per_block=1, latent_channels=4, sample_size=64).eval()
    torch.nn.init.zeros_(vae.decoder.conv_out.weight)
    torch.nn.init.zeros_(vae.decoder.conv_out.bias)
    clips = [Clip.read(data / e["path"]) for e in load_manifest(data)["clips"]]
    pipe = FakePipe(clips)
    pipe.vae = vae
    pipe.config.sampling.decode_chunk, pipe.config.sampling.decode_overlap = 2, 0
    ref = evaluate_references(pipe, clips, num_frames=20, log=None)["reference"]
    assert ref["metrics"]["mouth_audio"]["mean"] == 0.0 and ref["metrics"]["eyes_motion"]["mean"] == 0.0
    table = markdown_table({"settings": [], "reference": ref})
    assert table.splitlines()[-1].startswith(f"| {ref['name']} | 3 | +0.00")
