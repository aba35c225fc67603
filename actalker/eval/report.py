"""Run the registered video metrics and report them: JSON and a Markdown table.

Each metric's entry: ``{"status": "computed", "values": {...}}``, ``{"status": "not
computed", "reason": "give --arcface PATH"}`` or ``{"status": "failed", "reason": msg}``
(a user error in one metric is recorded and the others still run). In the JSON an infinite
value (PSNR of identical frames) is written as null."""
from __future__ import annotations

import json
import math
from pathlib import Path

from actalker.errors import ActalkerError
from actalker.eval.registry import MetricRegistry
from actalker.eval.video_inputs import NotComputed, VideoInputs
from actalker.utils.atomic import write_text_atomic

NEED_HINT = {"reference": "--reference GT.mp4", "driving": "--driving D.mp4", "audio": "--audio A",
             "reference_image": "--image or --reference", "face": "--face-model PATH or ACTALKER_FACE_MODEL"}


def run_metrics(registry: MetricRegistry, inputs: VideoInputs, only=None) -> dict[str, dict]:
    out = {}
    for name, spec in registry.metrics.items():
        if only and name not in only:
            continue
        if spec.weights is not None and not inputs.weights.get(spec.weights):
            out[name] = {"status": "not computed", "reason": f"give --{spec.weights} PATH"}
            continue
        missing = [n for n in spec.needs if not inputs.available(n)]
        if missing:
            out[name] = {"status": "not computed", "reason": "needs " + ", ".join(NEED_HINT.get(n, n) for n in missing)}
            continue
        try:
            values = spec.compute(inputs)
        except NotComputed as why:
            out[name] = {"status": "not computed", "reason": str(why)}
            continue
        except ActalkerError as err:
            out[name] = {"status": "failed", "reason": str(err)}
            continue
        out[name] = {"status": "computed", "values": values}
    return out


def _cell(v) -> str:
    if isinstance(v, float):
        return "inf" if math.isinf(v) else f"{v:.4g}"
    return str(v)


def markdown_table(results: dict[str, dict]) -> str:
    lines = ["| metric | value | note |", "|---|---|---|"]
    for name, r in results.items():
        if r["status"] == "computed":
            for k, v in r["values"].items():
                lines.append(f"| {k} | {_cell(v)} | {name} |")
        else:
            lines.append(f"| {name} | - | {r['status']} ({r['reason']}) |")
    return "\n".join(lines)


def write_report(path: str | Path, results: dict[str, dict], meta: dict) -> Path:
    def clean(v):
        return None if isinstance(v, float) and not math.isfinite(v) else v

    data = {**meta, "metrics": {n: ({**r, "values": {k: clean(v) for k, v in r["values"].items()}}
                                    if "values" in r else r) for n, r in results.items()}}
    write_text_atomic(path, json.dumps(data, indent=1) + "\n")
    return Path(path)
