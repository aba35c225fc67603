"""Sweeps through submitit: the Slurm dry run prints the sbatch file of each job, job
records drive collection and resubmission, and (slow) two tiny runs as parallel jobs
of submitit's LocalExecutor, one killed mid-training and resumed by the same command."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from actalker.cli import main

pytest.importorskip("submitit")
REPO = Path(__file__).resolve().parents[2]
CI = REPO / "sweeps" / "ci_tiny.yaml"


def test_slurm_dry_run_prints_each_jobs_sbatch_parameters(tmp_path, capsys):
    argv = ["sweep", str(CI), "--out", str(tmp_path / "o"), "--launcher", "slurm", "--partition", "gpu",
            "--gpus-per-run", "8", "--time-min", "2880", "--account", "lab", "--slurm-arg", "qos=high", "--dry-run"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    for line in ("#SBATCH --partition=gpu", "#SBATCH --gpus-per-node=8", "#SBATCH --nodes=1",
                 "#SBATCH --ntasks-per-node=1", "#SBATCH --cpus-per-task=64", "#SBATCH --time=2880",
                 "#SBATCH --signal=USR2@120", "#SBATCH --account=lab", "#SBATCH --qos=high",
                 "#SBATCH --job-name=ci_tiny-full-seed-0", "#SBATCH --job-name=ci_tiny-no_id_token-seed-0"):
        assert line in text
    assert "accelerate.commands.launch --multi_gpu --num_processes 8" in text and " train " in text
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("argv, message", [
    (["--launcher", "slurm"], "--launcher slurm needs --partition"),
    (["--launcher", "slrum"], "--launcher 'slrum': expected one of local, submitit-local, slurm"),
    (["--launcher", "slurm", "--partition", "p", "--slurm-arg", "qos"], "--slurm-arg 'qos' must look like key=value"),
    (["--accelerate-config", "nosuch.yaml"], "--accelerate-config nosuch.yaml: no such file"),
    (["--gpus-per-run", "2", "--in-process"], "--in-process trains in this process: it cannot use"),
])
def test_bad_launcher_options_one_line(tmp_path, capsys, argv, message):
    assert main(["sweep", str(CI), "--out", str(tmp_path / "o"), "--dry-run", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_job_records_decide_what_is_submitted(tmp_path):
    from actalker.sweep.jobs import read_job, record_job
    from actalker.sweep.launch import LaunchOptions
    from actalker.sweep.submit import classify

    d, opts = tmp_path / "run", LaunchOptions(launcher="submitit-local", max_attempts=2)
    assert classify(d, "new", opts) == "submit"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    record_job(d, "submitit-local", str(os.getpid()), tmp_path)  # this process: alive
    assert classify(d, "resume", opts) == "active" and classify(d, "done", opts) == "done"
    record_job(d, "submitit-local", str(dead.pid), tmp_path)
    assert read_job(d)["attempt"] == 2 and [h["job_id"] for h in read_job(d)["history"]] == [str(os.getpid())]
    assert classify(d, "resume", opts) == "gave_up"  # dead after its 2nd attempt
    assert classify(d, "resume", LaunchOptions(launcher="submitit-local", max_attempts=3)) == "submit"


def _tree(pid: int) -> list[int]:
    """pid and its descendants (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            children.setdefault(int(stat.read_text().rsplit(")", 1)[1].split()[1]), []).append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    out, todo = [], [pid]
    while todo:
        out.append(todo.pop())
        todo += children.get(out[-1], [])
    return out


def _until(cond, timeout: float, what: str) -> None:
    end = time.time() + timeout
    while not cond():
        if time.time() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.5)


@pytest.mark.slow  # two jobs of a few minutes on 2 busy cores
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="kills a job's process tree through /proc")
def test_two_local_jobs_in_parallel_one_killed_and_resumed(data, tmp_path, capsys):
    from actalker.sweep.jobs import pid_alive, read_job
    from actalker.train.checkpoint import latest_checkpoint

    out = tmp_path / "out"
    argv = ["sweep", str(CI), "--out", str(out), "--launcher", "submitit-local", "--set", f"data.root={data}",
            "train.max_steps=12", "--no-progress"]
    assert main(argv) == 0  # submits both runs and returns
    full, other = out / "full" / "seed-0", out / "no_id_token" / "seed-0"
    jobs = [read_job(full), read_job(other)]
    assert all(j["attempt"] == 1 for j in jobs) and all(pid_alive(int(j["job_id"])) for j in jobs)  # in parallel
    _until(lambda: latest_checkpoint(full / "train") is not None, 300, "a first checkpoint of the full run")
    for pid in _tree(int(jobs[0]["job_id"])):
        os.kill(pid, signal.SIGKILL)
    _until(lambda: (other / "done.json").is_file(), 600, "the other run to finish")
    _until(lambda: not pid_alive(int(jobs[0]["job_id"])), 30, "the killed job to end")
    assert not (full / "done.json").is_file()
    assert main(argv + ["--wait"]) == 0  # collects the finished run, resubmits the killed one
    assert capsys.readouterr().out.splitlines()[-1].startswith("2 done, 0 queued or running, 0 submitted, 0 failed")
    assert read_job(full)["attempt"] == 2 and read_job(other)["attempt"] == 1
    assert "resumed from" in (full / "train.log").read_text()
    steps = [json.loads(x)["step"] for x in (full / "train" / "log.jsonl").read_text().splitlines()]
    assert steps[-1] == 12 and steps[0] == 1
    rows = (out / "results.csv").read_text().splitlines()[1:]
    assert [r.split(",")[:2] for r in rows] == [["full", "done"], ["no_id_token", "done"]]
