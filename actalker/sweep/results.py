"""Sweep results from the run folders on disk: CSV, Markdown table and a bar plot.

One row a variant: status, seeds, the delta that defines it, then every metric as
``mean`` (and ``<metric>_sd``, the standard deviation over seeds, when there are several).
``runs.csv`` has one row per (variant, seed). The plot shows the main metrics (the
all-branches-open control metrics when present) per variant: bar = mean over seeds, dots =
single seeds, error bar = +-1 sd over seeds. Everything is read back from ``done.json`` /
``error.txt``, so the tables always describe what is on disk, whichever runs this
invocation touched.
"""
from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import numpy as np

from actalker.sweep.noise import noise_text, orders_text
from actalker.sweep.spec import Sweep
from actalker.utils.atomic import write_text_atomic

MAIN_ORDER = ("mouth_audio", "eyes_motion", "leak_mouth_motion", "leak_eyes_audio", "mouth_truth", "eyes_truth")
MAX_PLOTTED = 4


def read_runs(sweep: Sweep, out: Path) -> list[dict]:
    """One dict per (variant, seed) of the sweep: status done / failed / pending."""
    rows = []
    for run in sweep.runs():
        d = Path(out) / run.variant / f"seed-{run.seed}"
        row = {"variant": run.variant, "seed": run.seed, "delta": " ".join(run.delta) or "(base)", "metrics": {},
               "status": "pending", "error": ""}
        if (d / "done.json").is_file():
            row["status"] = "done"
            row["metrics"] = {k: float(v) for k, v in json.loads((d / "done.json").read_text())["metrics"].items()}
        elif (d / "error.txt").is_file():
            row["status"] = "failed"
            row["error"] = (d / "error.txt").read_text(errors="replace").strip().splitlines()[0:1] or [""]
            row["error"] = row["error"][0]
        rows.append(row)
    return rows


def by_variant(runs: list[dict]) -> list[dict]:
    """Aggregate runs of a variant: mean and sd over its finished seeds."""
    order, groups = [], {}
    for r in runs:
        if r["variant"] not in groups:
            order.append(r["variant"])
            groups[r["variant"]] = []
        groups[r["variant"]].append(r)
    out = []
    for name in order:
        rs = groups[name]
        done = [r for r in rs if r["status"] == "done"]
        statuses = {r["status"] for r in rs}
        status = "done" if statuses == {"done"} else ("failed" if "failed" in statuses else (
            "partial" if done else "pending"))
        keys = sorted({k for r in done for k in r["metrics"]}, key=metric_sort_key)
        stats = {}
        for k in keys:
            vals = np.array([r["metrics"][k] for r in done if k in r["metrics"]], np.float64)
            stats[k] = {"mean": float(vals.mean()), "sd": float(vals.std(ddof=1)) if len(vals) > 1 else None,
                        "values": vals.tolist()}
        out.append({"variant": name, "status": status, "seeds": [r["seed"] for r in done],
                    "planned_seeds": [r["seed"] for r in rs], "delta": rs[0]["delta"], "metrics": stats,
                    "error": next((r["error"] for r in rs if r["error"]), "")})
    return out


def metric_sort_key(key: str):
    base, _, setting = key.partition("[")
    rank = MAIN_ORDER.index(base) if base in MAIN_ORDER else len(MAIN_ORDER)
    return (setting != "all]", setting, rank, base)


def metric_columns(variants: list[dict]) -> list[str]:
    return sorted({k for v in variants for k in v["metrics"]}, key=metric_sort_key)


def table_columns(columns: list[str]) -> list[str]:
    """Markdown columns: every control metric with all branches open, and per solo setting
    the two following metrics (the CSV has every column)."""
    from actalker.eval.control import FOLLOW, LEAK

    control = [c for c in columns if c.partition("[")[0] in FOLLOW + LEAK]
    if not control:
        return columns
    solo = [c for c in control if not c.endswith("[all]") and c.partition("[")[0] in ("mouth_audio", "eyes_motion")]
    return [c for c in control if c.endswith("[all]")] + solo


def main_metrics(columns: list[str]) -> list[str]:
    main = [c for c in columns if c.endswith("[all]") and c.partition("[")[0] in MAIN_ORDER[:4]]
    return (main or columns)[:MAX_PLOTTED]


def _fmt(stat) -> str:
    if stat is None:
        return "-"
    if stat["sd"] is None or not math.isfinite(stat["sd"]):
        return f"{stat['mean']:+.3f}"
    return f"{stat['mean']:+.3f} ± {stat['sd']:.3f}"


def csv_text(variants: list[dict], columns: list[str]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["variant", "status", "seeds", "delta"] + [x for c in columns for x in (c, f"{c}_sd")] + ["error"])
    for v in variants:
        cells = []
        for c in columns:
            s = v["metrics"].get(c)
            cells += ["" if s is None else f"{s['mean']:.6g}", "" if s is None or s["sd"] is None else f"{s['sd']:.6g}"]
        w.writerow([v["variant"], v["status"], " ".join(map(str, v["seeds"])), v["delta"]] + cells + [v["error"]])
    return buf.getvalue()


def runs_csv_text(runs: list[dict], columns: list[str]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["variant", "seed", "status", "delta"] + columns + ["error"])
    for r in runs:
        w.writerow([r["variant"], r["seed"], r["status"], r["delta"]]
                   + [f"{r['metrics'][c]:.6g}" if c in r["metrics"] else "" for c in columns] + [r["error"]])
    return buf.getvalue()


def markdown_text(variants: list[dict], columns: list[str]) -> str:
    """The table; cells are mean ± sd over seeds (sd only with several seeds)."""
    head = ["variant", "status", "seeds", "delta"] + columns
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for v in variants:
        status = v["status"] + (f" ({v['error']})" if v["error"] and v["status"] != "done" else "")
        cells = [v["variant"], status.replace("|", "\\|"), ",".join(map(str, v["seeds"])) or "-",
                 f"`{v['delta']}`"] + [_fmt(v["metrics"].get(c)) for c in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot(path: Path, variants: list[dict], metrics: list[str], title: str) -> Path | None:
    """Bar per variant for each main metric; dots = seeds, error bars = sd over seeds."""
    shown = [v for v in variants if v["metrics"]]
    if not shown or not metrics:
        return None
    from actalker.eval.plots import headless_pyplot, save_figure

    fig, axes = headless_pyplot().subplots(1, len(metrics), figsize=(max(4.0, 0.6 * len(shown) + 1.5) * len(metrics), 3.8),
                             squeeze=False)
    x = np.arange(len(shown))
    for ax, m in zip(axes[0], metrics):
        means = [v["metrics"][m]["mean"] if m in v["metrics"] else np.nan for v in shown]
        sds = [v["metrics"][m]["sd"] or 0.0 if m in v["metrics"] else 0.0 for v in shown]
        ax.bar(x, means, yerr=sds, capsize=3, color="#7aa6c2", edgecolor="#2b5d7d")
        for i, v in enumerate(shown):
            vals = v["metrics"].get(m, {}).get("values", [])
            if len(vals) > 1:
                ax.scatter(np.full(len(vals), i), vals, s=10, color="k", zorder=3)
        ax.axhline(0.0, color="0.5", lw=0.8)
        ax.set_title(m, fontsize=9)
        ax.set_xticks(x)
        ax.set_xticklabels([v["variant"] for v in shown], rotation=45, ha="right", fontsize=8)
    fig.suptitle(title + " (bar: mean over seeds; dots: seeds; error bar: ±1 sd)", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path)


def write_results(out: Path, sweep: Sweep, records=None) -> dict[str, Path]:
    """results.csv, runs.csv, results.md, results.png (when anything finished) in ``out``."""
    out = Path(out)
    runs = read_runs(sweep, out)
    variants = by_variant(runs)
    columns = metric_columns(variants)
    paths = {"csv": out / "results.csv", "runs_csv": out / "runs.csv", "md": out / "results.md"}
    write_text_atomic(paths["csv"], csv_text(variants, columns))
    write_text_atomic(paths["runs_csv"], runs_csv_text(runs, columns))
    note = ("Cells: mean ± sd over seeds. `m[s]` = metric m at gate setting s (all: every branch open; a branch "
            "name: that branch alone). Every metric is in results.csv.\n\n")
    write_text_atomic(paths["md"], f"# Sweep {sweep.name}\n\n{note}" + markdown_text(variants, table_columns(columns))
                      + "\n" + noise_text(variants, table_columns(columns))
                      + ("\n" + orders_text(variants, sweep.spec.orders) if sweep.spec.orders else ""))
    png = plot(out / "results.png", variants, main_metrics(columns), f"sweep {sweep.name}")
    if png is not None:
        paths["png"] = png
    return paths
