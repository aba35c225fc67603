"""`actalker sweep SWEEP.yaml [--out DIR] [--only NAME ...] [--dry-run]`: train and evaluate
every variant of a sweep file (see docs/ablations.md).

Each (variant, seed) runs in OUT/<variant>/seed-<s> with its resolved config; finished
runs are skipped, interrupted ones resume, a failing one is recorded and the rest go on.
OUT/results.csv, results.md and results.png are rewritten after every run. The exit
status is 0 when every selected run finished, 1 when some failed.
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
    p.add_argument("--dry-run", action="store_true", help="list the runs, their state and overrides; run nothing")
    p.add_argument("--in-process", action="store_true", help="train in this process instead of a subprocess per run")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args) -> int:
    from actalker.errors import ConfigError
    from actalker.sweep.runner import plan, run_sweep
    from actalker.sweep.spec import load_sweep

    sweep = load_sweep(args.sweep)
    for item in args.extra:
        if "=" not in item:
            raise ConfigError(f"--set {item!r} must look like key.path=value")
    out = args.out or Path(sweep.spec.output_dir or Path("runs") / "sweeps" / sweep.name)
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
    records = run_sweep(sweep, out, args.only, args.extra, in_process=args.in_process, progress=not args.no_progress)
    failed = [r for r in records if r.status != "done"]
    print(f"{len(records) - len(failed)} of {len(records)} runs done; results in {out}/results.md, results.csv, results.png")
    return 1 if failed else 0
