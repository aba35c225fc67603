"""`actalker data check --config C [KEY=VALUE ...] [--split train]`: make every branch's
features from every clip of a split (what `actalker train` checks before step 1) and list
the clips whose data is missing or wrong, one line each."""
from __future__ import annotations


def register(subparsers) -> None:
    p = subparsers.add_parser("data", help="check a data folder against a config's branches")
    sub = p.add_subparsers(dest="data_command", metavar="WHAT", required=True)
    c = sub.add_parser("check", help="every branch's features from every clip (as training will need them)")
    c.add_argument("--config", "-c", default=None, help="config name or path (its branches and data.root)")
    c.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="config overrides, e.g. data.root=DATA")
    c.add_argument("--split", default=None, help="split to check (default: the config's data.train_split; 'all')")
    c.add_argument("--no-progress", action="store_true", help="no progress bar")
    c.set_defaults(func=run_check)


def run_check(args) -> int:
    from pathlib import Path

    from actalker.config import load_config
    from actalker.core.branches import resolve_branches
    from actalker.data.check import check_clips, require_clean
    from actalker.data.manifest import load_manifest, split_clips
    from actalker.errors import ConfigError
    from actalker.plugins import load_registry

    registry = load_registry()
    cfg, _ = load_config(args.config, args.overrides, registry=registry)
    if not cfg.data.root:
        raise ConfigError("data.root is not set: give the clip folder to check (data.root=DATA)")
    split = args.split or cfg.data.train_split
    entries = split_clips(load_manifest(Path(cfg.data.root)), split)
    branches = resolve_branches(cfg.model.branches, registry)
    problems = check_clips(branches.values(), cfg.data.root, entries, progress=not args.no_progress)
    for line in problems:
        print(line)
    require_clean(problems, len(entries), f"data.root {cfg.data.root} (split '{split}')")
    print(f"ok: {len(entries)} clips x {len(branches)} branches ({', '.join(branches)}) in {cfg.data.root} split '{split}'")
    return 0
