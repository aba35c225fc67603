"""The contributed plugins (installed as real packages, found by entry point) train and
generate through the real model with no change under actalker/core: a branch is one line
of config naming the modality."""
from __future__ import annotations

import csv

import numpy as np
import pytest
import yaml

from actalker.cli import main
from actalker.plugins import load_registry
from tests.train.test_cli import TINY_UNET, TINY_VAE

FRAMES, SIZE = 2, 16


def _installed(name: str) -> None:
    if name not in load_registry().modalities:
        pytest.skip(f"plugin package for modality '{name}' is not installed (make test installs plugins_contrib/*)")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("contrib")
    assert main(["synth", "--out", str(root / "data"), "--clips", "4", "--frames", "8", "--size", str(SIZE),
                 "--fps", "12.5", "--speech", "syllables", "--quiet"]) == 0
    return root


def _config(root, branches: dict) -> str:
    listify = lambda d: {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}  # noqa: E731
    cfg = {
        "model": {"unet": {"config": listify(TINY_UNET)}, "vae": {"config": listify(TINY_VAE)},
                  "pcm": {"down_levels": [0], "up_levels": [0], "d_state": 4, "d_conv": 2, "width": 16},
                  "branches": branches, "cond_dim": 8, "identity": {"kind": "learned", "dim": 12}},
        "guidance": {"order": [], "scales": {}},
        "data": {"root": str(root / "data"), "num_frames": FRAMES, "size": SIZE, "fps": 12.5},
        "sampling": {"steps": 2, "height": SIZE, "width": SIZE, "window": FRAMES, "fps": 12.5},
        "train": {"max_steps": 2, "batch_size": 1, "checkpoint_every": 2, "log_every": 1, "tensorboard": False},
    }
    path = root / f"{'_'.join(branches)}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return str(path)


def test_tutorial_blink_plugin_trains_and_generates(world, tmp_path):
    _installed("blink")
    from actalker.core.pipeline import ACTalkerPipeline

    config = _config(world, {"audio": None, "blink": {"options": {"hidden": 8}},
                             "motion": {"options": {"hidden": 8, "tokens": 1}}})
    run = tmp_path / "run"
    assert main(["train", "--config", config, f"train.output_dir={run}", "--no-progress"]) == 0
    pipe = ACTalkerPipeline.from_pretrained(run / "model")
    assert pipe.branch_names == ["blink", "motion"]

    # generate from the CLI with the plugin's own flag (--blink CSV), landmarks from a clip
    closure = tmp_path / "closure.csv"
    with closure.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["frame", "closure"])
        w.writerows([[i, (i % 2) * 1.0] for i in range(FRAMES)])
    clip = sorted((world / "data" / "clips").iterdir())[0]
    portrait = tmp_path / "portrait.png"
    from PIL import Image

    Image.fromarray(np.load(clip / "frames.npy")[0]).save(portrait)
    out = tmp_path / "out.mp4"
    assert main(["generate", "--model", str(run / "model"), "--image", str(portrait), "--blink", str(closure),
                 "--landmarks-from-clip", str(clip), "--frames", str(FRAMES), "--steps", "2",
                 "--gate", "motion=0", "--out", str(out), "--no-progress"]) == 0
    assert out.is_file() and out.stat().st_size > 0


@pytest.mark.parametrize("modality", ["eeg", "headpose"])
def test_other_contrib_plugins_train_from_config_alone(world, tmp_path, modality):
    _installed(modality)
    if modality == "eeg":  # EEG is not part of synthetic clips: give each clip a recording
        rng = np.random.default_rng(0)
        for clip in (world / "data" / "clips").iterdir():
            np.savez(clip / "eeg.npz", data=rng.standard_normal((4, 256 * 2)).astype(np.float32), sfreq=256.0)
    options = {"num_channels": 4} if modality == "eeg" else {}
    config = _config(world, {"audio": None, "motion": None, modality: {"options": options}})
    assert main(["train", "--config", config, f"train.output_dir={tmp_path / 'run'}", "--no-progress"]) == 0
    assert (tmp_path / "run" / "model" / "actalker_model.json").is_file()
