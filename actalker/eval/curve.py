"""Control metrics against a training budget, from several `actalker eval control` results.

    python -m actalker.eval.curve RESULT.json@X [RESULT.json@X ...] --out PLOT.png
        [--metrics mouth_audio eyes_motion] [--setting 0] [--xlabel "denoiser steps"]

Each RESULT.json comes with its x value (e.g. the training step of the checkpoint it
measured). Plots each metric's mean over clips with its 95 % bootstrap interval against x
and prints the same numbers as a Markdown table, so the picture and the text agree.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from actalker.errors import InputError


def read_points(items: list[str], setting: int, metrics: list[str]) -> list[tuple[float, dict]]:
    """[(x, {metric: (mean, lo, hi)})] sorted by x, from ``path@x`` items."""
    points = []
    for item in items:
        path, sep, x = item.rpartition("@")
        if not sep or not path:
            raise InputError(f"{item!r}: expected RESULT.json@X (e.g. runs/step-2000/results.json@2000)")
        try:
            result = json.loads(Path(path).read_text())
            stats = result["settings"][setting]["metrics"]
            points.append((float(x), {m: (stats[m]["mean"], stats[m]["lo"], stats[m]["hi"]) for m in metrics}))
        except (OSError, ValueError) as err:
            raise InputError(f"{path}: not a readable eval control result ({err})") from None
        except (KeyError, IndexError) as err:
            raise InputError(f"{path}: has no setting {setting} with metric {err} "
                             f"(an `actalker eval control` result)") from None
    return sorted(points, key=lambda p: p[0])


def markdown(points, metrics: list[str], xlabel: str) -> str:
    rows = [f"| {xlabel} | " + " | ".join(metrics) + " |", "|---" * (len(metrics) + 1) + "|"]
    for x, stats in points:
        cells = [f"{m:+.2f} [{lo:+.2f}, {hi:+.2f}]" for m, lo, hi in (stats[k] for k in metrics)]
        rows.append(f"| {x:g} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def plot(path, points, metrics: list[str], xlabel: str, title: str = "") -> Path:
    from actalker.eval.plots import headless_pyplot, save_figure

    fig, ax = headless_pyplot().subplots(figsize=(6, 3.6))
    xs = [x for x, _ in points]
    for m in metrics:
        mean = [s[m][0] for _, s in points]
        ax.plot(xs, mean, marker="o", label=m)
        ax.fill_between(xs, [s[m][1] for _, s in points], [s[m][2] for _, s in points], alpha=0.2)
    ax.axhline(0.8, color="grey", lw=0.8, ls="--")
    ax.set(xlabel=xlabel, ylabel="Pearson r (mean over clips, 95 % CI)", ylim=(-0.1, 1.0))
    ax.set_title(title, fontsize=9)
    ax.legend(loc="lower right")
    fig.tight_layout()
    return save_figure(fig, path)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m actalker.eval.curve", description=__doc__.split("\n\n")[0])
    p.add_argument("results", nargs="+", help="RESULT.json@X: an eval control result and its x value")
    p.add_argument("--out", required=True, help="PNG to write")
    p.add_argument("--metrics", nargs="+", default=["mouth_audio", "eyes_motion"])
    p.add_argument("--setting", type=int, default=0, help="which gate setting of each result (default: the first)")
    p.add_argument("--xlabel", default="denoiser steps")
    p.add_argument("--title", default="")
    args = p.parse_args(argv)
    from actalker.cli import run_reporting_errors

    return run_reporting_errors(lambda: draw(args))


def draw(args) -> None:
    points = read_points(args.results, args.setting, args.metrics)
    plot(args.out, points, args.metrics, args.xlabel, args.title)
    print(markdown(points, args.metrics, args.xlabel))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    raise SystemExit(main())
