"""Merge shard outputs (``actalker preprocess --shard i/n``) into one data folder.

Clip folders are linked (or copied, across filesystems) into ``out/clips`` unless they are
already there (shards may write into one shared folder); the manifest is rebuilt over all
clips, so splits stay identity-disjoint (a split is a function of the identity's name,
whichever shard found it). The shards' reports are combined into ``out/preprocess_report.json``;
a shard missing from a set, or shards that listed different inputs (their assignments
could overlap), is reported before anything is written.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from actalker.data.manifest import build_manifest, load_manifest
from actalker.data.preprocess import REPORT
from actalker.errors import InputError
from actalker.utils.atomic import write_text_atomic
from actalker.utils.files import link_or_copy

LISTS = ("written", "existing", "skipped", "failed")


def read_shard_reports(dirs: list[Path]) -> list[dict]:
    """Every shard report (preprocess_report*.json, not an earlier merge's) in ``dirs``."""
    seen, reports = set(), []
    for d in dirs:
        for path in sorted(d.glob("preprocess_report*.json")):
            if path.resolve() in seen:
                continue
            seen.add(path.resolve())
            try:
                rep = json.loads(path.read_text())
            except (OSError, ValueError) as err:
                raise InputError(f"{path}: not a readable preprocess report ({err})") from None
            if not rep.get("merged_from"):
                reports.append({**rep, "_path": str(path)})
    return reports


def check_shards(reports: list[dict]) -> list[str]:
    """Missing shards as 'i/n'; InputError when shards of one set listed different inputs."""
    sets: dict[tuple[str, int], dict[int, dict]] = {}  # one set per (input, n): data sets may be merged too
    for rep in reports:
        if rep.get("shard"):
            i, n = (int(x) for x in rep["shard"].split("/"))
            sets.setdefault((str(rep.get("input")), n), {})[i] = rep
    missing = []
    for (source, n), found in sorted(sets.items()):
        counts = {rep.get("input_videos") for rep in found.values()}
        if len(counts) > 1:
            ranked = sorted(found.values(), key=lambda r: r.get("input_videos") or 0)
            a, b = ranked[0], ranked[-1]
            raise InputError(f"shards {a['shard']} and {b['shard']} listed different inputs ({a.get('input_videos')} vs "
                             f"{b.get('input_videos')} videos), so they may overlap: re-run the shards on the same input")
        missing += [f"{i}/{n} of {source}" for i in range(n) if i not in found]
    return missing


def gather_clips(dirs: list[Path], out: Path) -> tuple[list[str], list[str]]:
    """(clips brought into out/clips, clip ids found in two shards with different content)."""
    from actalker.utils.atomic import atomic_dir

    brought, conflicts = [], []
    for d in dirs:
        if d.resolve() == out.resolve():
            continue
        for meta in sorted((d / "clips").glob("*/meta.json")):
            target = out / "clips" / meta.parent.name
            if (target / "meta.json").is_file():
                if (target / "meta.json").read_bytes() != meta.read_bytes():
                    conflicts.append(meta.parent.name)
                continue
            with atomic_dir(target) as tmp:
                shutil.copytree(meta.parent, tmp, copy_function=link_or_copy, dirs_exist_ok=True)
            brought.append(meta.parent.name)
    return brought, conflicts


def merge_shards(shard_dirs: list[str | Path], out: str | Path) -> dict:
    """Combine shard outputs into ``out``; returns the merged report."""
    from actalker.utils.paths import check_writable_output

    dirs = [Path(d).expanduser() for d in shard_dirs]
    out = check_writable_output(out, "output folder", is_dir=True)
    for d in dirs:
        if not (d / "clips").is_dir() and not list(d.glob("preprocess_report*.json")):
            raise InputError(f"{d}: not a preprocess output (no clips/ folder, no preprocess_report*.json)")
    reports = read_shard_reports(dirs)
    missing = check_shards(reports)
    brought, conflicts = gather_clips(dirs, out)
    merged = {"merged_from": [r["_path"] for r in reports], "missing_shards": missing,
              "brought": len(brought), "conflicts": conflicts}
    for key in LISTS:
        merged[key] = [x for r in reports for x in r.get(key, [])]
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / REPORT, json.dumps(merged, indent=1))
    build_manifest(out)
    load_manifest(out)  # the check every reader makes: identity-disjoint splits, clip folders present
    return merged
