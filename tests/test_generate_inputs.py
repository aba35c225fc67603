"""Issue 12, inputs accepted without a word: each case is one line (an error, or a notice
that does not stop the run), matching its row in docs/errors.md.

Uses the tiny model folder and synthetic inputs of tests/test_cli_generate.py."""
from __future__ import annotations

import shutil
from pathlib import Path

from safetensors.torch import load_file, save_file

from tests.test_cli_generate import model_dir, run_cli, synthetic  # noqa: F401  (fixtures)
from tests.test_errors_catalogue import pattern, rows


def one_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "\n" not in err, err
    return err


def matches_row(rid: str, line: str) -> bool:
    return bool(pattern(rows()[rid]["message"]).fullmatch(line))


def test_weights_lacking_a_branch_fail_naming_the_group(model_dir, synthetic, tmp_path, capsys):  # noqa: F811
    broken = tmp_path / "model"
    shutil.copytree(model_dir, broken)
    weights = broken / "denoiser" / "diffusion_pytorch_model.safetensors"
    save_file({k: v for k, v in load_file(weights).items() if not k.startswith("encoders.audio.")}, weights)
    out = tmp_path / "o.mp4"
    rc = run_cli(["--model", broken, "--image", synthetic["portrait"], "--audio", synthetic["speech"],
                  "--landmarks-from-clip", synthetic["clip"], "--out", out])
    line = one_line(capsys)
    assert rc == 2 and "encoders.audio (" in line and "denoiser" in line, line
    assert matches_row("model-missing-tensors", line), line
    assert not out.exists()
