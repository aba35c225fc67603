"""train: an unwritable output_dir is one line before the model is built; a full disk while
writing the log or a checkpoint is one line, earlier checkpoints intact."""
from __future__ import annotations

import errno

import pytest

from actalker.errors import OutputError
from actalker.train.checkpoint import checkpoint_problem, list_checkpoints
from actalker.train.loop import train
from tests.train.helpers import tiny_config, tiny_parts


def test_output_dir_under_a_regular_file_fails_before_building(tmp_path, monkeypatch):
    import actalker.train.build as build

    monkeypatch.setattr(build, "build_parts", lambda *a, **k: pytest.fail("built the model first"))
    (tmp_path / "f").write_text("x")
    cfg = tiny_config(tmp_path / "f" / "run")
    with pytest.raises(OutputError) as err:
        train(cfg, progress=False)
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith("cannot write train.output_dir") and "is a regular file" in msg


def test_full_disk_in_the_log_is_one_line(tmp_path, monkeypatch):
    import builtins

    real_open = builtins.open

    def full_log(file, mode="r", *a, **k):
        if str(file).endswith("log.jsonl") and "a" in mode:
            raise OSError(errno.ENOSPC, "No space left on device", str(file))
        return real_open(file, mode, *a, **k)

    monkeypatch.setattr(builtins, "open", full_log)
    cfg = tiny_config(tmp_path / "run", max_steps=1, batch_size=1)
    with pytest.raises(OutputError) as err:
        train(cfg, parts=tiny_parts(cfg), progress=False)
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith("no space left on device: could not write the training log")
    assert "log.jsonl" in msg and "needed about" in msg


def test_full_disk_at_a_checkpoint_keeps_the_earlier_ones(tmp_path, monkeypatch):
    import actalker.train.checkpoint as ckpt_mod

    real, calls = ckpt_mod.save_file, []

    def fill_at_step_2(tensors, filename, *a, **k):
        calls.append(filename)
        if "step-00000002" in filename:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(tensors, filename, *a, **k)

    monkeypatch.setattr(ckpt_mod, "save_file", fill_at_step_2)
    cfg = tiny_config(tmp_path / "run", max_steps=3, batch_size=1, checkpoint_every=1)
    with pytest.raises(OutputError, match=r"^no space left on device: could not write checkpoint .*step-00000002"):
        train(cfg, parts=tiny_parts(cfg), progress=False)
    found = list_checkpoints(tmp_path / "run")
    assert [p.name for p in found] == ["step-00000001"] and checkpoint_problem(found[0]) is None
    assert not list((tmp_path / "run" / "checkpoints").glob(".*"))
