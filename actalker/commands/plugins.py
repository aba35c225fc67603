"""`actalker plugins [--json]`: the loaded plugins, their versions, where they come from,
the hooks they implement and the modalities and regions they add.
`actalker plugins --options [NAME] [--json]`: every modality's (or NAME's) branch options
with type, default and description, from its options model (``plugins/options_table.py``).

``ACTALKER_PLUGINS`` selects which plugins load (see docs/plugins.md); installed entry
points it leaves out are listed as not loaded. An installed plugin that fails is listed as
BROKEN with its one-line reason (the others work); ``ACTALKER_DISABLE_PLUGINS`` switches
plugins off by name.
"""
from __future__ import annotations

import json
from dataclasses import asdict


def register(subparsers) -> None:
    p = subparsers.add_parser("plugins", help="List installed plugins, their hooks, modalities and regions.")
    p.add_argument("--json", action="store_true", help="Print machine-readable JSON instead of a table.")
    p.add_argument("--options", nargs="?", const="", default=None, metavar="NAME",
                   help="List the branch options of every modality (or of modality NAME): type, default, description.")
    p.set_defaults(func=run)


def run_options(name: str, as_json: bool) -> int:
    from actalker.plugins import load_registry
    from actalker.plugins.options_table import option_rows, text_table

    rows = option_rows(load_registry(), name or None)
    print(json.dumps(rows, indent=2) if as_json else text_table(rows))
    return 0


def collect() -> dict:
    from actalker.plugins import load_registry

    reg = load_registry()
    plugins = []
    for info in reg.plugins:
        item = asdict(info)
        item.pop("extra", None)
        item["hooks"], item["modalities"], item["regions"] = list(info.hooks), list(info.modalities), list(info.regions)
        item["modality_details"] = {
            m: {
                "default_region": reg.modalities[m].default_region,
                "solo_region": reg.modalities[m].solo_region,
                "default_gate": reg.modalities[m].default_gate,
                "cli_flag": reg.modalities[m].cli_flag,
                "description": reg.modalities[m].description,
            }
            for m in info.modalities
        }
        plugins.append(item)
    return {"plugins": plugins, "not_loaded": list(reg.not_loaded), **problem_rows(reg)}


def problem_rows(reg) -> dict:
    """The installed plugins that are not working: broken (with the one-line reason) and
    switched off by ACTALKER_DISABLE_PLUGINS."""
    broken = [{"name": b.name, "version": b.version, "source": b.source, "reason": b.reason} for b in reg.broken]
    return {"broken": broken, "disabled": list(reg.disabled)}


def format_problems(data: dict) -> list[str]:
    lines = [f"{b['name']} {b['version']}  ({b['source']})  BROKEN: {b['reason']}" for b in data.get("broken", [])]
    if data.get("disabled"):
        lines.append(f"switched off (ACTALKER_DISABLE_PLUGINS): {', '.join(data['disabled'])}")
    return lines


def format_table(data: dict) -> str:
    lines = []
    for p in data["plugins"]:
        lines.append(f"{p['name']} {p['version']}  ({p['source']})")
        lines.append(f"  hooks:      {', '.join(p['hooks']) or '-'}")
        for m, d in p["modality_details"].items():
            flag = f", --{d['cli_flag']}" if d["cli_flag"] else ""
            lines.append(f"  modality:   {m} (region {d['default_region']}, alone {d['solo_region']}{flag}) {d['description']}")
        if p["regions"]:
            lines.append(f"  regions:    {', '.join(p['regions'])}")
    if data["not_loaded"]:
        lines.append(f"not loaded (ACTALKER_PLUGINS): {', '.join(data['not_loaded'])}")
    lines += format_problems(data)
    return "\n".join(lines)


def run(args) -> int:
    if args.options is not None:
        return run_options(args.options, args.json)
    data = collect()
    print(json.dumps(data, indent=2) if args.json else format_table(data))
    return 0
