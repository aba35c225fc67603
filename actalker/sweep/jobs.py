"""One sweep run as a scheduler job, and the record of its jobs in the run folder.

    <run folder>/job.json   {"launcher", "job_id", "attempt", "logs", "history": [...]}

``RunJob`` is what submitit pickles and runs on the node: it trains (``accelerate launch``)
and evaluates the run in its folder through ``execute_run``, so a job that starts again
after a failure, a kill or a pre-emption resumes from the run's newest checkpoint. Its
``checkpoint`` method makes submitit requeue it when Slurm signals the time limit or a
pre-emption (the training's own periodic checkpoints are what it resumes from).
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from actalker.utils.atomic import write_text_atomic

JOB = "job.json"
ACTIVE_SLURM = {"PENDING", "RUNNING", "REQUEUED", "CONFIGURING", "COMPLETING", "SUSPENDED", "RESIZING"}


@dataclass
class RunJob:
    sweep_path: str
    out: str
    variant: str
    seed: int
    extra: list[str] = field(default_factory=list)
    gpus: int = 0
    accelerate_config: Optional[str] = None
    eval_set: list[str] = field(default_factory=list)

    def __call__(self) -> dict:
        from actalker.sweep.launch import accelerate_prefix
        from actalker.sweep.runner import control_eval, execute_run, run_dir
        from actalker.sweep.spec import load_sweep

        sweep = load_sweep(self.sweep_path, self.eval_set)
        run = next(r for r in sweep.runs([self.variant], self.extra) if r.seed == self.seed)
        d = run_dir(Path(self.out), run)
        rec = execute_run(sweep, run, d, control_eval, in_process=False,
                          launch=accelerate_prefix(self.gpus, self.accelerate_config))
        if rec.status != "done":
            raise RuntimeError(f"run {run.key} failed: {rec.error}")
        return rec.as_dict()

    def checkpoint(self, *args, **kwargs):
        import submitit

        return submitit.helpers.DelayedSubmission(self)


def read_job(d: Path) -> Optional[dict]:
    try:
        return json.loads((d / JOB).read_text())
    except (OSError, ValueError):
        return None


def record_job(d: Path, launcher: str, job_id: str, logs: Path) -> dict:
    """Write the run's new job (attempt = previous + 1), keeping earlier ids in history."""
    prev = read_job(d) or {}
    history = prev.get("history", []) + ([{k: prev[k] for k in ("launcher", "job_id", "submitted")}] if prev else [])
    rec = {"launcher": launcher, "job_id": str(job_id), "attempt": int(prev.get("attempt", 0)) + 1,
           "submitted": time.strftime("%Y-%m-%dT%H:%M:%S"), "logs": str(logs), "history": history}
    d.mkdir(parents=True, exist_ok=True)
    write_text_atomic(d / JOB, json.dumps(rec, indent=1) + "\n")
    return rec


def pid_alive(pid: int) -> bool:
    """A live process (not a zombie) with this id."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True  # no /proc (macOS): kill(0) said it exists


def job_active(job: dict) -> bool:
    """Is the recorded job still queued or running?"""
    if job.get("launcher") == "slurm":
        import submitit

        return submitit.SlurmJob(job["logs"], job["job_id"]).state.upper() in ACTIVE_SLURM
    return pid_alive(int(job["job_id"]))  # a submitit LocalJob's id is its controller's pid
