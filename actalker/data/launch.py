"""Preprocessing shards as one array job: ``actalker preprocess INPUT --out DATA --shards N
--launcher slurm|submitit-local``. Task i runs ``preprocess --shard i/N`` into DATA (a
folder every task can reach: a shared filesystem on a cluster), with as many workers as
the task's CPUs; ``--wait`` then merges the shards (``preprocess --merge DATA --out DATA``).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from actalker.data.preprocess import PreprocessOptions
from actalker.sweep.launch import LaunchOptions, make_executor, sbatch_parameters, submitit_command
from actalker.utils.atomic import write_text_atomic

JOBS = "shard_jobs.json"


@dataclass
class ShardJob:
    input: str
    out: str
    face_model: Optional[str]
    opts: PreprocessOptions
    shards: int
    workers: Optional[int] = None

    def __call__(self, i: int) -> dict:
        from actalker.data.preprocess import preprocess
        from actalker.data.workers import default_workers

        r = preprocess(self.input, self.out, self.face_model, self.opts, progress=False,
                       workers=self.workers or default_workers(), shard=(i, self.shards))
        return {k: len(r[k]) for k in ("written", "existing", "skipped", "failed")}

    def checkpoint(self, i: int):  # requeued on pre-emption; finished clips are skipped
        import submitit

        return submitit.helpers.DelayedSubmission(self, i)


def shard_sbatch_script(opts: LaunchOptions, shards: int, out: Path) -> str:
    from submitit.slurm.slurm import _make_sbatch_string

    folder = out.resolve() / ".submitit" / "%j"
    return _make_sbatch_string(command=submitit_command(folder), folder=folder, map_count=shards,
                               **sbatch_parameters(opts, f"preprocess-{out.name}"))


def submit_shards(job: ShardJob, opts: LaunchOptions) -> list:
    """Submit the N shard tasks (a Slurm array job); their ids go to OUT/shard_jobs.json."""
    out = Path(job.out).resolve()
    executor = make_executor(opts, out / ".submitit" / "%j", f"preprocess-{out.name}")
    jobs = executor.map_array(job, list(range(job.shards)))
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / JOBS, json.dumps({"launcher": opts.launcher, "shards": job.shards,
                                              "job_ids": [j.job_id for j in jobs]}, indent=1) + "\n")
    return jobs
