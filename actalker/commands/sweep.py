"""`actalker sweep SWEEP.yaml [--out DIR] [--only NAME ...] [--dry-run] [--launcher L]`: train
and evaluate every variant of a sweep file (see docs/ablations.md, docs/cluster.md).

Each (variant, seed) runs in OUT/<variant>/seed-<s> with its resolved config; finished
runs are skipped, interrupted ones resume, a failing one is recorded and the rest go on.
OUT/results.csv, results.md and results.png are rewritten after every run. The exit
status is 0 when every selected run finished, 1 when some failed.

--launcher submitit-local or slurm submits one job per run instead (submitit, the extra
`actalker[cluster]`), records its id in the run folder (job.json) and returns; the same
command later collects finished runs, resubmits failed or pre-empted ones (they resume
from their checkpoints) and writes the tables. Exit status 0 unless a run failed
--max-attempts times. With the local launcher, --accelerate-config runs each training under
`accelerate launch` here (configs/accelerate/cpu_2proc.yaml: two CPU processes, 1.26x the
one-process speed of the demo recipe on 2 cores; train.batch_size is per process).
"""
from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser("sweep", help="ablation sweeps: train and evaluate config variants",
                              description=__doc__.split("\n\n", 1)[0], epilog=__doc__.split("\n\n", 1)[1],
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("sweep", type=Path, help="sweep file (YAML), e.g. sweeps/paper_ablation.yaml")
    p.add_argument("--out", type=Path, default=None, help="output folder (default: the file's output_dir or runs/sweeps/NAME)")
    p.add_argument("--only", nargs="+", default=None, metavar="NAME", help="run only these variants")
    p.add_argument("--set", nargs="+", default=[], metavar="KEY=VALUE", dest="extra",
                   help="config overrides for every run, e.g. data.root=data/synth (applied last)")
    p.add_argument("--eval", nargs="+", default=[], metavar="KEY=VALUE", dest="eval_set",
                   help="change the sweep file's eval section, e.g. data=heldout split=all frames=100")
    p.add_argument("--dry-run", action="store_true", help="list the runs, their state and overrides; run nothing")
    p.add_argument("--in-process", action="store_true", help="train in this process instead of a subprocess per run")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_launcher_args(p)
    p.set_defaults(func=run)


def add_launcher_args(p) -> None:
    g = p.add_argument_group("launching on a cluster (submitit; see docs/cluster.md)")
    g.add_argument("--launcher", default="local", help="local (default: here, one run after another), "
                   "submitit-local (one job per run on this machine) or slurm (one sbatch job per run)")
    g.add_argument("--partition", default=None, help="Slurm partition (needed with --launcher slurm)")
    g.add_argument("--gpus-per-run", type=int, default=0, help="GPUs of each run's job; accelerate starts one process each")
    g.add_argument("--cpus-per-run", type=int, default=None, help="CPUs of each run's job (default: 8 per GPU)")
    g.add_argument("--time-min", type=int, default=24 * 60, help="time limit of each job in minutes (default 1440)")
    g.add_argument("--mem-gb", type=int, default=None, help="memory of each job in GB (default: the partition's)")
    g.add_argument("--account", default=None, help="Slurm account")
    g.add_argument("--slurm-arg", nargs="+", default=[], metavar="KEY=VALUE", help="more sbatch options, e.g. qos=high")
    g.add_argument("--accelerate-config", default=None, help="accelerate config file for training in each job (also with the local launcher, e.g. configs/accelerate/cpu_2proc.yaml)")
    g.add_argument("--max-attempts", type=int, default=3, help="jobs per run before a failing run is given up")
    g.add_argument("--wait", action="store_true", help="wait for the jobs, resubmit failures, then write the tables")


def run(args) -> int:
    from actalker.errors import ConfigError
    from actalker.sweep.runner import plan, run_sweep
    from actalker.sweep.spec import load_sweep

    sweep = load_sweep(args.sweep, args.eval_set)
    for item in args.extra:
        if "=" not in item:
            raise ConfigError(f"--set {item!r} must look like key.path=value")
    out = args.out or Path(sweep.spec.output_dir or Path("runs") / "sweeps" / sweep.name)
    if args.launcher != "local":
        return run_submitit(args, sweep, out)
    launch = local_launch(args)
    if args.dry_run:
        from actalker.config import load_config

        print(f"sweep {sweep.name}: base {sweep.base or 'base.yaml'}, output {out}")
        for r, d, state in plan(sweep, out, args.only, args.extra):
            try:
                load_config(sweep.base, r.overrides)
                ok = ""
            except ConfigError as err:
                ok = f"  INVALID: {err}"
            print(f"  {r.key:<32} {state:<7} {' '.join(r.delta) or '(base)'}{ok}")
        return 0
    records = run_sweep(sweep, out, args.only, args.extra, in_process=args.in_process, progress=not args.no_progress,
                        launch=launch)
    failed = [r for r in records if r.status != "done"]
    print(f"{len(records) - len(failed)} of {len(records)} runs done; results in {out}/results.md, results.csv, results.png")
    return 1 if failed else 0


def local_launch(args):
    """--accelerate-config / --gpus-per-run with the local launcher: each run trains under
    ``accelerate launch`` here (e.g. configs/accelerate/cpu_2proc.yaml: two CPU processes)."""
    if not args.accelerate_config and not args.gpus_per_run:
        return None
    from actalker.errors import ConfigError

    if args.in_process:
        raise ConfigError("--in-process trains in this process: it cannot use --accelerate-config or --gpus-per-run")
    if args.accelerate_config and not Path(args.accelerate_config).is_file():
        raise ConfigError(f"--accelerate-config {args.accelerate_config}: no such file (an accelerate config YAML)")
    from actalker.sweep.launch import accelerate_prefix

    return accelerate_prefix(args.gpus_per_run, args.accelerate_config)


def launch_options(args):
    from actalker.sweep.launch import LaunchOptions

    opts = LaunchOptions(launcher=args.launcher, partition=args.partition, gpus_per_run=args.gpus_per_run,
                         cpus_per_run=args.cpus_per_run, time_min=args.time_min, mem_gb=args.mem_gb,
                         account=args.account, slurm_args=list(args.slurm_arg), max_attempts=args.max_attempts,
                         eval_set=list(args.eval_set),
                         accelerate_config=args.accelerate_config, wait=args.wait)
    opts.check()
    return opts


def run_submitit(args, sweep, out: Path) -> int:
    from actalker.sweep.launch import require_submitit
    from actalker.sweep.results import write_results
    from actalker.sweep.submit import dry_run_text, submit_sweep

    opts = launch_options(args)
    require_submitit()
    if args.dry_run:
        print(dry_run_text(sweep, out, args.only, args.extra, opts))
        return 0
    got = submit_sweep(sweep, args.sweep, out, args.only, args.extra, opts)
    write_results(out, sweep)
    print(f"{len(got.done)} done, {len(got.active)} queued or running, {len(got.submitted)} submitted, "
          f"{len(got.gave_up)} failed {opts.max_attempts} times; results in {out}/results.md (run again to collect)")
    return 1 if got.gave_up else 0
