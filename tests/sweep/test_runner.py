"""A CI-sized sweep end to end (sweeps/ci_tiny.yaml on a tiny synthetic world): training and
the real control evaluation per variant, CSV/Markdown/PNG, finished runs skipped on a
re-run, a failing variant recorded without stopping the others, an interrupted run resumed."""
from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest
import yaml

from actalker.cli import main
from actalker.sweep.runner import control_eval, gate_settings, run_sweep
from actalker.sweep.spec import parse_sweep

REPO = Path(__file__).resolve().parents[2]
CI = REPO / "sweeps" / "ci_tiny.yaml"


def ci_sweep(extra_variants=()):
    spec = yaml.safe_load(CI.read_text())
    spec["variants"] += list(extra_variants)
    return parse_sweep(spec, CI)


def test_sweep_end_to_end_with_a_failing_variant_and_a_rerun(data, tmp_path, capsys):
    # "broken" trains on a split that does not exist: its training fails, the others go on.
    sweep = ci_sweep([{"name": "broken", "delta": ["data.train_split=nosuch"]}])
    out = tmp_path / "out"
    extra = [f"data.root={data}"]
    records = run_sweep(sweep, out, extra=extra, in_process=True, progress=False, log=None)
    status = {r.variant: r.status for r in records}
    assert status == {"full": "done", "no_id_token": "done", "broken": "failed"}
    assert "nosuch" in (out / "broken" / "seed-0" / "error.txt").read_text()
    for name in ("full", "no_id_token"):
        d = out / name / "seed-0"
        assert yaml.safe_load((d / "config.yaml").read_text())["model"]["pcm"]["id_token"] == (name == "full")
        log = [json.loads(x) for x in (d / "train" / "log.jsonl").read_text().splitlines()]
        assert [r["step"] for r in log] == [1, 2]
        done = json.loads((d / "done.json").read_text())
        ev = json.loads((d / "eval.json").read_text())
        assert [s["label"] for s in ev["settings"]] == ["all", "audio", "motion"]
        assert done["metrics"]["mouth_audio[all]"] == ev["settings"][0]["metrics"]["mouth_audio"]["mean"]
        assert all(math.isfinite(v) for v in done["metrics"].values())
    # the two variants are different models: their measurements differ
    m = {r.variant: r.metrics for r in records}
    assert m["full"] != m["no_id_token"]

    rows = list(csv.DictReader((out / "results.csv").open()))
    assert [(r["variant"], r["status"]) for r in rows] == [("full", "done"), ("no_id_token", "done"), ("broken", "failed")]
    assert rows[1]["delta"] == "model.pcm.id_token=false" and "nosuch" in rows[2]["error"]
    assert float(rows[0]["mouth_audio[all]"]) == pytest.approx(m["full"]["mouth_audio[all]"], rel=1e-5)
    md = (out / "results.md").read_text()
    assert "| no_id_token | done | 0 | `model.pcm.id_token=false` |" in md and "| broken | failed" in md
    assert (out / "results.png").stat().st_size > 1000

    # a re-run skips finished runs (their model untouched) and retries the failed one
    stamp = (out / "full" / "seed-0" / "done.json").stat().st_mtime_ns
    calls = []

    def never(*args):
        calls.append(args)
        raise AssertionError("a finished run was evaluated again")

    again = run_sweep(sweep, out, extra=extra, in_process=True, progress=False, log=None, eval_fn=never)
    assert [(r.variant, r.status, r.skipped) for r in again] == [
        ("full", "done", True), ("no_id_token", "done", True), ("broken", "failed", False)]
    assert not calls and (out / "full" / "seed-0" / "done.json").stat().st_mtime_ns == stamp


def weight_norm(model_dir, cfg, spec, run_dir) -> dict:
    """A stand-in evaluation that measures the trained model itself (its weights)."""
    from safetensors.torch import load_file

    files = sorted(Path(model_dir).rglob("*.safetensors"))
    assert files, f"no weights in {model_dir}"
    total = sum(float(t.float().pow(2).sum()) for f in files for t in load_file(str(f)).values())
    return {"weight_norm": math.sqrt(total)}


def test_an_interrupted_run_resumes_from_its_checkpoint(data, tmp_path):
    sweep = ci_sweep()
    out = tmp_path / "out"
    train_dir = out / "full" / "seed-0" / "train"
    # the state an interrupted run leaves: a checkpoint at step 1 and no done.json
    run = sweep.runs(only=["full"])[0]
    assert main(["train"] + run.overrides + [f"data.root={data}", f"train.output_dir={train_dir}", "train.max_steps=1",
                                             "--no-progress"]) == 0
    records = run_sweep(sweep, out, only=["full"], extra=[f"data.root={data}"], eval_fn=weight_norm,
                        in_process=True, progress=False, log=None)
    assert [r.status for r in records] == ["done"] and records[0].metrics["weight_norm"] > 0
    log = (out / "full" / "seed-0" / "train.log").read_text()
    assert "--resume" in log and "resumed from" in log
    steps = [json.loads(x)["step"] for x in (train_dir / "log.jsonl").read_text().splitlines()]
    assert steps == [1, 2]  # step 1 from the interrupted attempt, step 2 after resuming
    # --only: the other variant stays pending in the tables
    rows = list(csv.DictReader((out / "results.csv").open()))
    assert [(r["variant"], r["status"]) for r in rows] == [("full", "done"), ("no_id_token", "pending")]


def test_gate_settings_fit_each_variant():
    assert gate_settings(["audio", "motion"], None) == [
        ("all", {"audio": 1.0, "motion": 1.0}), ("audio", {"audio": 1.0, "motion": 0.0}),
        ("motion", {"audio": 0.0, "motion": 1.0})]
    assert gate_settings(["audio"], None) == [("all", {"audio": 1.0})]
    assert gate_settings(["audio"], "audio=1,motion=1;audio=0,motion=1") == [("all", {"audio": 1.0})]


def test_cli_dry_run_lists_runs_and_invalid_deltas(tmp_path, capsys):
    spec = yaml.safe_load(CI.read_text())
    spec["variants"].append({"name": "typo", "delta": ["model.pcm.mixr=attention"]})
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(spec))
    assert main(["sweep", str(path), "--out", str(tmp_path / "o"), "--dry-run"]) == 0
    text = capsys.readouterr().out
    assert "full/seed-0" in text and "no_id_token/seed-0" in text
    assert "INVALID" in text and "did you mean 'model.pcm.mixer'" in text
    assert not (tmp_path / "o").exists()
    assert main(["sweep", str(path), "--only", "nothere", "--dry-run"]) == 2
    assert "no such variant" in capsys.readouterr().err


@pytest.mark.slow
def test_cli_trains_each_run_in_a_subprocess(data, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["sweep", str(CI), "--out", str(out), "--only", "full", "--set", f"data.root={data}",
                 "--no-progress"]) == 0
    assert (out / "full" / "seed-0" / "done.json").is_file()
    assert "-m actalker.cli train" in (out / "full" / "seed-0" / "train.log").read_text()
    assert "1 of 1 runs done" in capsys.readouterr().out


@pytest.mark.slow
def test_cli_trains_each_run_under_accelerate_launch_with_a_config(data, tmp_path, capsys):
    out = tmp_path / "out"
    config = REPO / "configs" / "accelerate" / "cpu_2proc.yaml"
    assert main(["sweep", str(CI), "--out", str(out), "--only", "full", "--set", f"data.root={data}",
                 "--no-progress", "--accelerate-config", str(config)]) == 0
    log = (out / "full" / "seed-0" / "train.log").read_text()
    assert "accelerate.commands.launch --config_file" in log and "cpu_2proc.yaml -m actalker.cli train" in log
    assert "1 of 1 runs done" in capsys.readouterr().out


def test_a_stopped_training_stops_the_sweep(data, tmp_path, monkeypatch):
    import actalker.cli

    monkeypatch.setattr(actalker.cli, "main", lambda argv: 130)  # `actalker train` stopped by Ctrl-C
    with pytest.raises(KeyboardInterrupt):
        run_sweep(ci_sweep(), tmp_path / "out", extra=[f"data.root={data}"], in_process=True, progress=False, log=None)
    assert "interrupted" in (tmp_path / "out" / "full" / "seed-0" / "error.txt").read_text()
    assert not (tmp_path / "out" / "no_id_token").exists()
