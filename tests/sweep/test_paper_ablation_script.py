"""scripts/paper_ablation.sh: the paper's ablation as one resumable command whose finished
runs live in the repository (sweeps/results/paper_ablation)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "paper_ablation.sh"
RESULTS = REPO / "sweeps" / "results" / "paper_ablation"


def _actalker() -> str:
    found = Path(sys.executable).parent / "actalker"
    return str(found) if found.is_file() else (shutil.which("actalker") or pytest.skip("no actalker entry point"))


def test_dry_run_lists_every_run_and_skips_a_finished_one(data, tmp_path):
    out = tmp_path / "ablation"
    (out / "full" / "seed-0").mkdir(parents=True)
    (out / "full" / "seed-0" / "done.json").write_text(json.dumps({"metrics": {}}))
    env = {**os.environ, "ACTALKER": _actalker(), "OUT": str(out), "DATA": str(data), "HELDOUT": str(data)}
    done = subprocess.run(["bash", str(SCRIPT), "--dry-run"], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    states = {line.split()[0]: line.split()[1] for line in done.stdout.splitlines() if "/seed-" in line}
    assert len(states) == 12 and states["full/seed-0"] == "done"
    assert {s for run, s in states.items() if run != "full/seed-0"} == {"new"}
    assert f"output {out}" in done.stdout


@pytest.mark.skipif(shutil.which("git") is None or not (REPO / ".git").exists(), reason="needs the git checkout")
@pytest.mark.parametrize("relative, ignored", [
    ("full/seed-0/done.json", False), ("full/seed-0/metrics.json", False), ("full/seed-0/config.yaml", False),
    ("results.md", False), ("full/seed-0/train/checkpoints/step-00000250/model.safetensors", True),
    ("full/seed-0/train.log", True),
])
def test_results_folder_keeps_the_records_and_drops_the_weights(relative, ignored):
    check = subprocess.run(["git", "check-ignore", "-q", str(RESULTS / relative)], cwd=REPO)
    assert (check.returncode == 0) == ignored
