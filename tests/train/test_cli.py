"""`actalker train` end to end on a synthetic world: one process in-process, and two CPU
processes under `accelerate launch`; the result loads as a pipeline folder."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from actalker.cli import main
from tests.train.helpers import FRAMES, SIZE, TINY_UNET, TINY_VAE

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("world")
    assert main(["synth", "--out", str(root / "data"), "--clips", "6", "--frames", "8", "--size", "16",
                 "--fps", "12.5", "--speech", "syllables", "--clips-per-identity", "1", "--quiet"]) == 0
    small = {"hidden": 8, "tokens": 1}
    config = {
        "model": {
            "unet": {"config": {k: list(v) if isinstance(v, tuple) else v for k, v in TINY_UNET.items()}},
            "vae": {"config": {k: list(v) if isinstance(v, tuple) else v for k, v in TINY_VAE.items()}},
            "pcm": {"down_levels": [0], "up_levels": [0], "d_state": 4, "d_conv": 2, "width": 16},
            "branches": {"audio": {"options": {**small, "n_mels": 8}}, "motion": {"options": small}},
            "cond_dim": 8,
            "identity": {"kind": "learned", "dim": 12},
        },
        "data": {"root": str(root / "data"), "num_frames": FRAMES, "size": SIZE, "fps": 12.5},
        "sampling": {"steps": 2, "height": SIZE, "width": SIZE, "window": FRAMES},
        "train": {"max_steps": 2, "batch_size": 1, "checkpoint_every": 1, "log_every": 1, "tensorboard": True},
    }
    path = root / "tiny.yaml"
    path.write_text(yaml.safe_dump(config))
    return root, path


def test_train_command_writes_a_loadable_model(world, tmp_path):
    from actalker.core.pipeline import ACTalkerPipeline

    root, config = world
    out = tmp_path / "run"
    assert main(["train", "--config", str(config), f"train.output_dir={out}", "train.validate_every=2",
                 "--no-progress"]) == 0
    from actalker.media import read_video

    video, _ = read_video(out / "val" / "step-00000002.mp4")  # generated | real, side by side
    assert video.shape[0] == FRAMES and video.shape[2] == 2 * SIZE
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [1, 2] and all(r["loss"] > 0 for r in log)
    assert list((out / "tensorboard").iterdir())
    assert yaml.safe_load((out / "config.yaml").read_text())["train"]["max_steps"] == 2
    pipe = ACTalkerPipeline.from_pretrained(out / "model")
    assert pipe.branch_names == ["audio", "motion"]
    # --resume after the end: nothing left to do, same model, exit 0
    assert main(["train", "--config", str(config), f"train.output_dir={out}", "--no-progress", "--resume"]) == 0


def test_accelerate_launch_two_processes_on_cpu(world, tmp_path):
    root, config = world
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    # configs/accelerate/cpu_2proc.yaml: torchrun-launched processes that train on the CPU
    # (`accelerate launch --cpu --num_processes 2` would need MPI to start the second one).
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--config_file",
           str(REPO / "configs" / "accelerate" / "cpu_2proc.yaml"), "-m", "actalker.cli", "train", "--config", str(config), f"train.output_dir={out}", "train.checkpoint_every=2", "--no-progress"]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ckpt = out / "checkpoints" / "step-00000002"
    assert (ckpt / "rng-0.safetensors").is_file() and (ckpt / "rng-1.safetensors").is_file()
    assert (out / "model" / "actalker_model.json").is_file()
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [1, 2]  # only the main process logs


def test_train_command_reports_config_mistakes_in_one_line(world, tmp_path, capsys):
    root, config = world
    out = tmp_path / "run"
    assert main(["train", "--config", str(config), "data.root=null", f"train.output_dir={out}"]) == 2
    assert "data.root is not set" in capsys.readouterr().err
    assert main(["train", "--config", str(config), "train.trainabel=pcm", f"train.output_dir={out}"]) == 2
    assert "trainable" in capsys.readouterr().err
    assert main(["train", "--config", str(config), f"train.output_dir={out}", "train.max_steps=1",
                 "--no-progress"]) == 0
    assert main(["train", "--config", str(config), f"train.output_dir={out}", "model.cond_dim=16",
                 "--resume", "--no-progress"]) == 2
    assert "model.cond_dim" in capsys.readouterr().err
