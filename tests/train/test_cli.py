"""`actalker train` end to end on a synthetic world: one process in-process, and two CPU
processes under `accelerate launch`; the result loads as a pipeline folder."""
import json
import os
import socket
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
    record = json.loads((out / "model" / "actalker_model.json").read_text())["training_data"]  # for generate's notices
    assert record["kind"] == "synthetic" and record["root"] == str((root / "data").resolve())
    assert record["size"] == SIZE and record["fps"] == 12.5 and 1 <= record["clips"] <= 6 and record["source_sizes"] == ["16x16"]
    # --resume after the end: nothing left to do, same model, exit 0
    assert main(["train", "--config", str(config), f"train.output_dir={out}", "--no-progress", "--resume"]) == 0


def free_port() -> int:
    """A port nobody listens on now (not torchrun's default 29500, which parallel runs share)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch_two_processes(tmp_path, config, out, *overrides):
    """`actalker train` as 2 CPU processes (DDP over gloo) with per-sample random draws
    (tests/train/per_sample_rng.py), on a free port."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    # configs/accelerate/cpu_2proc.yaml: torchrun-launched processes that train on the CPU
    # (`accelerate launch --cpu --num_processes 2` would need MPI to start the second one).
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--config_file",
           str(REPO / "configs" / "accelerate" / "cpu_2proc.yaml"), "--main_process_port", str(free_port()),
           "-m", "tests.train.per_sample_rng", "train", "--config", str(config), f"train.output_dir={out}",
           "train.batch_size=1", "train.grad_accum=1", *overrides, "--no-progress"]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def train_one_process(monkeypatch, config, out, *overrides):
    """The same run in this process, one process with the global batch (2 = 2 x 1)."""
    from tests.train import per_sample_rng

    with monkeypatch.context() as m:
        per_sample_rng.install(m)
        assert main(["train", "--config", str(config), f"train.output_dir={out}", "train.batch_size=2",
                     "train.grad_accum=1", *overrides, "--no-progress"]) == 0


def weights(path: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(path / "model" / "denoiser" / "diffusion_pytorch_model.safetensors"))


def losses(out: Path) -> list:
    return [(r["step"], r["loss"]) for r in map(json.loads, (out / "log.jsonl").read_text().splitlines())]


def assert_same_training(got: Path, want: Path, steps: list[int]) -> None:
    import torch

    a, b = weights(got), weights(want)
    assert a.keys() == b.keys()
    for k in b:
        torch.testing.assert_close(a[k], b[k], rtol=1e-5, atol=1e-6, msg=k)
    la, lb = losses(got), losses(want)
    assert [s for s, _ in la] == [s for s, _ in lb] == steps
    for (_, x), (_, y) in zip(la, lb):
        assert abs(x - y) <= 1e-5 * abs(y), (la, lb)
    assert len(set(y for _, y in lb)) == len(lb)  # different batches each step: the check has teeth


def test_two_processes_equal_one_process_with_the_same_global_batch(world, tmp_path, monkeypatch):
    """2 processes x batch 1 train exactly like 1 process x batch 2 (same samples per step,
    gradients averaged by DDP), given the same random draws per sample."""
    root, config = world
    ddp, single = tmp_path / "ddp", tmp_path / "single"
    launch_two_processes(tmp_path, config, ddp, "train.checkpoint_every=2")
    ckpt = ddp / "checkpoints" / "step-00000002"
    assert (ckpt / "rng-0.safetensors").is_file() and (ckpt / "rng-1.safetensors").is_file()
    assert (ddp / "model" / "actalker_model.json").is_file()
    train_one_process(monkeypatch, config, single, "train.checkpoint_every=2")
    assert_same_training(ddp, single, [1, 2])  # only the main process logs, with the global mean loss


@pytest.mark.slow
def test_two_processes_resume_equals_uninterrupted_one_process_run(world, tmp_path, monkeypatch):
    """Stop a 2-process run at step 2, resume it under 2 processes to step 4: the result is
    the 4-step 1-process run with the same global batch (data order, optimizer, scheduler
    and step count all continue where they stopped)."""
    root, config = world
    ddp, single = tmp_path / "ddp", tmp_path / "single"
    launch_two_processes(tmp_path, config, ddp, "train.max_steps=2")
    log = launch_two_processes(tmp_path, config, ddp, "train.max_steps=4", "--resume")
    assert "at step 2" in log and "resumed from" in log
    train_one_process(monkeypatch, config, single, "train.max_steps=4")
    assert_same_training(ddp, single, [1, 2, 3, 4])


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
