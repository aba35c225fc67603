"""Run a sweep: each (variant, seed) trains then evaluates in its own folder.

    <out>/<variant>/seed-<s>/config.yaml   the resolved config of the run
                              train/        train.output_dir (checkpoints, log.jsonl, model/)
                              train.log     stdout + stderr of the training process
                              metrics.json  what the eval callable returned
                              done.json     written last and atomically: the run is finished
                              error.txt     why the last attempt failed (removed on success)

A run with ``done.json`` is skipped; a run whose ``train/`` holds a checkpoint continues
with ``--resume``; a failing run is recorded (status failed, error.txt) and the next one
starts. Training runs in a subprocess (``python -m actalker.cli train``) by default, so a
crash or a memory leak of one run cannot take the sweep down; ``in_process=True`` runs it
in this process (faster to start, used by tests).
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from actalker.errors import ActalkerError, InputError
from actalker.sweep.spec import EvalSpec, Run, Sweep
from actalker.utils.atomic import write_text_atomic

DONE, FAILED, PENDING = "done", "failed", "pending"
EvalFn = Callable[[Path, Any, EvalSpec, Path], dict]


@dataclass
class RunRecord:
    variant: str
    seed: int
    delta: list[str]
    status: str
    metrics: dict[str, float] = field(default_factory=dict)
    error: str = ""
    seconds: float = 0.0
    skipped: bool = False  # finished by an earlier invocation

    def as_dict(self) -> dict:
        return {"variant": self.variant, "seed": self.seed, "delta": self.delta, "status": self.status,
                "metrics": self.metrics, "error": self.error, "seconds": round(self.seconds, 2)}


def run_dir(out: Path, run: Run) -> Path:
    return Path(out) / run.variant / f"seed-{run.seed}"


def _write_json(path: Path, obj) -> None:
    write_text_atomic(path, json.dumps(obj, indent=1, default=float) + "\n")


# ---- training -----------------------------------------------------------------------------

def train_command(base: Optional[str], overrides: list[str], resume: bool) -> list[str]:
    cmd = ["train"] + (["--config", base] if base else []) + list(overrides) + ["--no-progress"]
    return cmd + (["--resume"] if resume else [])


def train_subprocess(base, overrides, resume, log_path: Path, launch: Optional[list[str]] = None) -> None:
    """``python -m actalker.cli train ...`` (or ``launch`` + ``train ...``, e.g. under
    ``accelerate launch``) with its output in ``log_path``; raises on failure."""
    cmd = (launch or [sys.executable, "-m", "actalker.cli"]) + train_command(base, overrides, resume)
    with open(log_path, "a") as log:
        log.write(f"$ {' '.join(cmd)}\n")
        log.flush()
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        interrupts = 0
        while True:
            try:
                rc = proc.wait()
                break
            except KeyboardInterrupt:  # the child got the same Ctrl-C: let it save its checkpoint
                interrupts += 1
                if interrupts > 1:
                    proc.kill()
    _check_rc(rc if not interrupts else STOPPED[0], log_path)


STOPPED = (128 + 2, 128 + 15)  # `actalker train` stopped by SIGINT / SIGTERM after a checkpoint


def _check_rc(rc: int, log_path: Path) -> None:
    if rc in STOPPED:
        raise KeyboardInterrupt
    if rc != 0:
        tail = [ln for ln in log_path.read_text(errors="replace").splitlines() if ln.strip()][-1:] or ["?"]
        raise RuntimeError(f"training exited with status {rc}: {tail[0].strip()} (see {log_path})")


def train_in_process(base, overrides, resume, log_path: Path) -> None:
    import contextlib

    from actalker.cli import main

    with open(log_path, "a") as log, contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        log.write(f"$ actalker {' '.join(train_command(base, overrides, resume))}\n")
        rc = main(train_command(base, overrides, resume))
    _check_rc(rc, log_path)


# ---- evaluation ---------------------------------------------------------------------------

def gate_settings(branches: list[str], text: Optional[str]) -> list[tuple[str, dict[str, float]]]:
    """(label, gates): 'all' = every branch open, then each branch alone (when there are
    several). With ``text`` ('a=1,b=0;...'), items naming a branch this model lacks are
    dropped, so one sweep-wide setting fits variants with fewer branches."""
    if text is None:
        out = [("all", {b: 1.0 for b in branches})]
        if len(branches) > 1:
            out += [(b, {o: float(o == b) for o in branches}) for b in branches]
        return out
    from actalker.eval.runner import parse_gate_settings

    out = []
    for part in [p for p in text.split(";") if p.strip()]:
        items = [i for i in part.split(",") if i.strip()]
        kept = [i for i in items if i.split("=")[0].strip() in branches]
        if not kept:
            continue
        gates = parse_gate_settings(",".join(kept), branches)[0]
        if len(kept) < len(items) and not any(g > 0 for g in gates.values()):
            continue  # the setting opened only branches this model lacks
        label = "+".join(b for b, g in gates.items() if g > 0) or "none"
        out.append(("all" if all(g > 0 for g in gates.values()) else label, gates))
    if not out:
        raise InputError(f"eval.gates {text!r}: no setting names any of this model's branches {branches}")
    return out


def control_eval(model_dir: Path, cfg, spec: EvalSpec, run_dir: Path) -> dict[str, float]:
    """Control metrics (actalker.eval.runner) of the trained model on held-out clips of
    ``spec.data`` (default ``data.root``): ``<metric>[<setting>]`` = mean over clips."""
    from actalker.commands.eval import _clips
    from actalker.core.pipeline import ACTalkerPipeline
    from actalker.eval.runner import evaluate_control

    root = spec.data or cfg.data.root
    if not root:
        raise InputError("data.root is not set: evaluation needs held-out clips (or the sweep's eval.data)")
    clips = _clips(Path(root), spec.split, spec.clips)
    pipe = ACTalkerPipeline.from_pretrained(model_dir)
    pipe.progress = False
    labelled = gate_settings(pipe.branch_names, spec.gates)
    result = evaluate_control(pipe, clips, [g for _, g in labelled], spec.frames, spec.steps, spec.seed, log=None)
    metrics = {}
    for (label, _), setting in zip(labelled, result["settings"]):
        for key, stats in setting["metrics"].items():
            metrics[f"{key}[{label}]"] = float(stats["mean"])
    _write_json(run_dir / "eval.json", {"clips": [c.id for c in clips], "settings": [
        {"label": lb, "gates": s["gates"], "metrics": s["metrics"], "clips": s["clips"]}
        for (lb, _), s in zip(labelled, result["settings"])]})
    return metrics


# ---- the sweep ----------------------------------------------------------------------------

def plan(sweep: Sweep, out: Path, only=None, extra=()) -> list[tuple[Run, Path, str]]:
    """(run, folder, state): state is done, resume (a checkpoint exists) or new."""
    from actalker.train.checkpoint import latest_checkpoint

    rows = []
    for run in sweep.runs(only, list(extra)):
        d = run_dir(out, run)
        state = "done" if (d / "done.json").is_file() else ("resume" if latest_checkpoint(d / "train") else "new")
        rows.append((run, d, state))
    return rows


def execute_run(sweep: Sweep, run: Run, d: Path, eval_fn: EvalFn, in_process: bool, registry=None,
                launch: Optional[list[str]] = None) -> RunRecord:
    from actalker.config import load_config, save_resolved_config
    from actalker.train.checkpoint import latest_checkpoint

    t0 = time.time()
    rec = RunRecord(run.variant, run.seed, run.delta, FAILED)
    d.mkdir(parents=True, exist_ok=True)
    overrides = run.overrides + [f"train.output_dir={json.dumps(str((d / 'train').resolve()))}"]
    try:
        cfg, resolved = load_config(sweep.base, overrides, registry=registry)
        save_resolved_config(resolved, d / "config.yaml")
        resume = latest_checkpoint(d / "train") is not None
        if in_process:
            train_in_process(sweep.base, overrides, resume, d / "train.log")
        else:
            train_subprocess(sweep.base, overrides, resume, d / "train.log", launch)
        model_dir = d / "train" / "model"
        if not model_dir.is_dir():
            raise RuntimeError(f"training finished without a model folder {model_dir}")
        metrics = {k: float(v) for k, v in eval_fn(model_dir, cfg, sweep.spec.eval, d).items()}
        _write_json(d / "metrics.json", metrics)
        rec.status, rec.metrics = DONE, metrics
        rec.seconds = time.time() - t0
        _write_json(d / "done.json", rec.as_dict())
        (d / "error.txt").unlink(missing_ok=True)
    except KeyboardInterrupt:
        write_text_atomic(d / "error.txt", "interrupted; run the sweep again to resume\n")
        raise
    except Exception as err:  # one failing run is recorded; the sweep goes on
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        rec.error = first if isinstance(err, ActalkerError) else f"{type(err).__name__}: {first}"
        detail = "" if isinstance(err, ActalkerError) else "\n" + traceback.format_exc()
        write_text_atomic(d / "error.txt", rec.error + "\n" + detail)
        rec.seconds = time.time() - t0
    return rec


def load_done(run: Run, d: Path) -> RunRecord:
    data = json.loads((d / "done.json").read_text())
    return RunRecord(run.variant, run.seed, run.delta, DONE, {k: float(v) for k, v in data.get("metrics", {}).items()},
                     seconds=float(data.get("seconds", 0.0)), skipped=True)


def run_sweep(sweep: Sweep, out: str | Path, only=None, extra=(), eval_fn: Optional[EvalFn] = None,
              in_process: bool = False, progress: bool = True, log=print,
              launch: Optional[list[str]] = None) -> list[RunRecord]:
    """Run every (variant, seed) not yet done; write the results tables after each run.
    ``launch`` starts each run's training (e.g. ``accelerate launch ... -m actalker.cli``)."""
    from tqdm.auto import tqdm

    from actalker.plugins import load_registry
    from actalker.sweep.results import write_results

    out = Path(out)
    eval_fn = eval_fn or control_eval
    registry = load_registry()
    planned = plan(sweep, out, only, extra)
    records: list[RunRecord] = []
    bar = tqdm(planned, desc=f"sweep {sweep.name}", unit="run", disable=not progress)
    for run, d, state in bar:
        bar.set_postfix_str(run.key)
        if state == "done":
            rec = load_done(run, d)
        else:
            if log:
                log(f"[{run.key}] {'resuming' if state == 'resume' else 'starting'} in {d}")
            rec = execute_run(sweep, run, d, eval_fn, in_process, registry, launch)
        records.append(rec)
        if log:
            what = "already done" if rec.skipped else rec.status
            log(f"[{run.key}] {what}" + (f": {rec.error}" if rec.error else f" ({rec.seconds:.0f} s)"))
        write_results(out, sweep, records)
    return records
