"""``actalker sweep --launcher submitit-local|slurm``: one job per run, then collect.

Each invocation looks at every run's folder: a run with ``done.json`` is finished; one
whose recorded job (``job.json``) is still queued or running is left alone; any other
(new, failed, killed, pre-empted) is submitted, and resumes from its newest checkpoint,
up to ``--max-attempts`` jobs per run. Then the results tables are written from what is
on disk. So the same command submits a sweep, later collects it and resubmits what
failed; ``--wait`` blocks until this invocation's jobs end, then collects again.
"""
from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from actalker.sweep.jobs import RunJob, job_active, read_job, record_job
from actalker.sweep.launch import LaunchOptions, make_executor, sbatch_script
from actalker.sweep.runner import plan
from actalker.sweep.spec import Sweep

SUBMITIT_DIR = ".submitit"  # under the sweep's output folder: job pickles and logs, %j = job id


@dataclass
class Collected:
    done: list[str] = field(default_factory=list)
    active: list[str] = field(default_factory=list)
    submitted: list[str] = field(default_factory=list)
    gave_up: list[str] = field(default_factory=list)  # failed max_attempts times


def job_name(sweep: Sweep, key: str) -> str:
    return f"{sweep.name}-{key.replace('/', '-')}"


def classify(d: Path, state: str, opts: LaunchOptions) -> str:
    """done, active, gave_up or submit, for one run folder."""
    if state == "done":
        return "done"
    job = read_job(d)
    if job is None:
        return "submit"
    if job_active(job):
        return "active"
    return "gave_up" if int(job.get("attempt", 0)) >= opts.max_attempts else "submit"


def make_job(sweep_path: Path, out: Path, run, extra, opts: LaunchOptions) -> RunJob:
    return RunJob(str(Path(sweep_path).resolve()), str(out), run.variant, run.seed, list(extra),
                  opts.gpus_per_run, opts.accelerate_config, list(opts.eval_set))


def submit_sweep(sweep: Sweep, sweep_path: Path, out: Path, only, extra, opts: LaunchOptions, log=print) -> Collected:
    """Submit every run that needs a job. With opts.wait: wait for those jobs, then look
    again (resubmitting what failed, within max_attempts) until nothing is left to wait for."""
    got, jobs = submit_once(sweep, sweep_path, Path(out).resolve(), only, extra, opts, log)
    while opts.wait and jobs:
        for job in jobs:
            job.wait()
        got, jobs = submit_once(sweep, sweep_path, Path(out).resolve(), only, extra, opts, log)
    return got


def submit_once(sweep: Sweep, sweep_path: Path, out: Path, only, extra, opts: LaunchOptions, log=print):
    """(what each run is now, the jobs submitted by this call)."""
    got, jobs, executor = Collected(), [], None
    for run, d, state in plan(sweep, out, only, extra):
        what = classify(d, state, opts)
        if what != "submit":
            getattr(got, what).append(run.key)
            continue
        name = job_name(sweep, run.key)
        executor = executor or make_executor(opts, out / SUBMITIT_DIR / "%j", name)
        if opts.launcher == "slurm":
            executor.update_parameters(job_name=name)
        job = executor.submit(make_job(sweep_path, out, run, extra, opts))
        rec = record_job(d, opts.launcher, job.job_id, out / SUBMITIT_DIR / "%j")
        log(f"[{run.key}] submitted job {job.job_id} (attempt {rec['attempt']} of {opts.max_attempts})")
        got.submitted.append(run.key)
        jobs.append(job)
    return got, jobs


def job_train_command(sweep: Sweep, run, d: Path, opts: LaunchOptions) -> list[str]:
    """The training command a run's job starts (before its evaluation)."""
    from actalker.sweep.launch import accelerate_prefix
    from actalker.sweep.runner import train_command

    overrides = run.overrides + [f"train.output_dir={json.dumps(str((d / 'train').resolve()))}"]
    return accelerate_prefix(opts.gpus_per_run, opts.accelerate_config) + train_command(sweep.base, overrides, False)


def dry_run_text(sweep: Sweep, out: Path, only, extra, opts: LaunchOptions) -> str:
    """What --dry-run prints for a submitit launcher: each run's state and, for Slurm, the
    sbatch file submitit would write for its job."""
    lines = [f"sweep {sweep.name}: launcher {opts.launcher}, output {out}"]
    for run, d, state in plan(sweep, Path(out), only, extra):
        job = read_job(d)
        prior = f", last job {job['job_id']} (attempt {job['attempt']})" if job else ""
        lines.append(f"  {run.key:<32} {state:<7} {' '.join(run.delta) or '(base)'}{prior}")
        if state == "done":
            continue
        if opts.launcher == "slurm":
            script = sbatch_script(opts, job_name(sweep, run.key), Path(out).resolve() / SUBMITIT_DIR / "%j")
            lines += ["    " + ln for ln in script.splitlines() if ln.startswith("#SBATCH")]
        lines.append("    then in the job: " + shlex.join(job_train_command(sweep, run, d, opts)))
    return "\n".join(lines)
