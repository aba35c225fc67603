"""Launchers for sweep runs: ``local`` (runs one after another here, actalker.sweep.runner),
``submitit-local`` (submitit's LocalExecutor: every run a job on this machine, in parallel)
and ``slurm`` (submitit's SlurmExecutor: one sbatch job per run). submitit is an optional
extra: ``pip install 'actalker[cluster]'``.

A job trains with ``accelerate launch`` (``--gpus-per-run`` processes, or one CPU process
when 0) and then evaluates, in the run's folder, exactly as the local launcher does.
"""
from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from actalker.errors import ActalkerError, ConfigError

LAUNCHERS = ("local", "submitit-local", "slurm")
SIGNAL_DELAY_S = 120  # Slurm's USR2 this long before the time limit: submitit requeues the job


@dataclass
class LaunchOptions:
    launcher: str = "local"
    partition: Optional[str] = None
    gpus_per_run: int = 0
    cpus_per_run: Optional[int] = None
    time_min: int = 24 * 60
    mem_gb: Optional[int] = None
    account: Optional[str] = None
    slurm_args: list[str] = field(default_factory=list)  # extra sbatch options as key=value
    accelerate_config: Optional[str] = None
    max_attempts: int = 3
    wait: bool = False
    eval_set: list[str] = field(default_factory=list)  # --eval key=value: the sweep file's eval section

    def check(self) -> None:
        """One-line ConfigError for options that cannot work together."""
        if self.launcher not in LAUNCHERS:
            raise ConfigError(f"--launcher {self.launcher!r}: expected one of {', '.join(LAUNCHERS)}")
        if self.launcher == "slurm" and not self.partition:
            raise ConfigError("--launcher slurm needs --partition (the Slurm partition to submit to)")
        if self.gpus_per_run < 0 or (self.cpus_per_run is not None and self.cpus_per_run < 1):
            raise ConfigError("--gpus-per-run must be >= 0 and --cpus-per-run >= 1")
        if self.time_min < 1 or self.max_attempts < 1:
            raise ConfigError("--time-min and --max-attempts must be >= 1")
        for item in self.slurm_args:
            if "=" not in item or item.startswith("="):
                raise ConfigError(f"--slurm-arg {item!r} must look like key=value, e.g. qos=high")


def require_submitit():
    try:
        import submitit
    except ImportError:
        raise ActalkerError("this launcher needs submitit: pip install 'actalker[cluster]'") from None
    return submitit


def sbatch_parameters(opts: LaunchOptions, job_name: str) -> dict:
    """SlurmExecutor parameters (sbatch names) of one run's job: one node, one task (accelerate
    starts the GPU processes itself), the run's GPUs and CPUs, requeued before the time limit."""
    params = {"job_name": job_name, "partition": opts.partition, "nodes": 1, "ntasks_per_node": 1,
              "cpus_per_task": opts.cpus_per_run or max(1, 8 * opts.gpus_per_run), "time": opts.time_min,
              "signal_delay_s": SIGNAL_DELAY_S}
    if opts.gpus_per_run:
        params["gpus_per_node"] = opts.gpus_per_run
    if opts.mem_gb:
        params["mem"] = f"{opts.mem_gb}GB"
    if opts.account:
        params["account"] = opts.account
    extra = dict(item.split("=", 1) for item in opts.slurm_args)
    if extra:
        params["additional_parameters"] = extra
    return params


def submitit_command(folder: Path) -> str:
    return " ".join([sys.executable, "-u -m submitit.core._submit", shlex.quote(str(folder))])


def sbatch_script(opts: LaunchOptions, job_name: str, folder: Path) -> str:
    """The sbatch file submitit writes for this job (what --dry-run prints)."""
    from submitit.slurm.slurm import _make_sbatch_string

    return _make_sbatch_string(command=submitit_command(folder), folder=folder, **sbatch_parameters(opts, job_name))


def make_executor(opts: LaunchOptions, folder: Path, job_name: str):
    """A submitit executor writing its logs and pickles under ``folder`` (%j = job id)."""
    submitit = require_submitit()
    if opts.launcher == "slurm":
        ex = submitit.SlurmExecutor(folder=folder, max_num_timeout=opts.max_attempts)
        ex.update_parameters(**sbatch_parameters(opts, job_name))
    else:
        ex = submitit.LocalExecutor(folder=folder, max_num_timeout=opts.max_attempts)
        ex.update_parameters(timeout_min=opts.time_min, gpus_per_node=opts.gpus_per_run)
    return ex


def accelerate_prefix(gpus: int, config: Optional[str]) -> list[str]:
    """The command that starts ``actalker.cli`` under ``accelerate launch`` in a job."""
    cmd = [sys.executable, "-m", "accelerate.commands.launch"]
    if config:
        cmd += ["--config_file", str(config)]
    if gpus > 1:
        cmd += ["--multi_gpu", "--num_processes", str(gpus), "--num_machines", "1"]
    elif not config:
        cmd += ["--num_processes", "1", "--num_machines", "1"] + (["--cpu"] if gpus == 0 else [])
    return cmd + ["-m", "actalker.cli"]
