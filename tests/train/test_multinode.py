"""Multi-node training as far as one machine allows: two "nodes" of one CPU process each on
localhost, started exactly as docs/cluster.md's srun line starts them on every node
(`accelerate launch ... --num_machines 2 --machine_rank R --main_process_ip ADDR`), train
together through the same entry point. The single-machine two-process run is
tests/train/test_cli.py::test_accelerate_launch_two_processes_on_cpu."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.train.test_cli import world  # noqa: F401  (the tiny config and its data)

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow  # two torch processes rendezvousing over TCP: about a minute on 2 busy cores
def test_two_nodes_on_localhost_train_together(world, tmp_path):  # noqa: F811
    _, config = world
    out, port = tmp_path / "run", _free_port()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    procs = []
    for rank in (0, 1):
        cmd = [sys.executable, "-m", "accelerate.commands.launch", "--config_file",
               str(REPO / "configs" / "accelerate" / "cpu_2proc.yaml"), "--num_machines", "2", "--num_processes", "2",
               "--machine_rank", str(rank), "--main_process_ip", "127.0.0.1", "--main_process_port", str(port),
               "-m", "actalker.cli", "train", "--config", str(config), f"train.output_dir={out}", "--no-progress"]
        procs.append(subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                      text=True))
    outputs = [p.communicate(timeout=600)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], "\n".join(o[-2000:] for o in outputs)
    ckpt = out / "checkpoints" / "step-00000002"
    assert (ckpt / "rng-0.safetensors").is_file() and (ckpt / "rng-1.safetensors").is_file()  # both ranks saved
    assert [json.loads(x)["step"] for x in (out / "log.jsonl").read_text().splitlines()] == [1, 2]
    assert (out / "model" / "actalker_model.json").is_file()
