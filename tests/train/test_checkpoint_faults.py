"""Checkpoints under faults: a kill mid-rotation, a full disk, truncated or missing files,
--resume past an incomplete newest checkpoint, no pickles."""
from __future__ import annotations

import errno
import json

import pytest
import torch

import actalker.train.checkpoint as ckpt_mod
from actalker.errors import InputError, OutputError
from actalker.train.checkpoint import list_checkpoints, load_checkpoint, save_checkpoint


@pytest.fixture
def acc():
    """A prepared tiny model + optimizer on one CPU process."""
    from accelerate import Accelerator

    torch.manual_seed(0)
    model = torch.nn.Linear(4, 4)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)
    a = Accelerator(cpu=True)
    model, opt, sched = a.prepare(model, opt, sched)
    model(torch.randn(2, 4)).sum().backward()
    opt.step()
    return a


def _save(acc, out, step, keep=0):
    return save_checkpoint(acc, out, step, {"seed": 0}, torch.Generator().manual_seed(step), keep=keep)


def _files(folder):
    return sorted(p.name for p in folder.iterdir())


def test_no_pickle_in_a_checkpoint(acc, tmp_path):
    ckpt = _save(acc, tmp_path, 1)
    assert not list(ckpt.glob("*.pkl"))
    assert load_checkpoint(acc, ckpt, torch.Generator())["step"] == 1


def test_kill_during_rotation_leaves_no_half_deleted_step_folder(acc, tmp_path, monkeypatch):
    _save(acc, tmp_path, 1)
    whole = _files(list_checkpoints(tmp_path)[0])
    real_rmtree = ckpt_mod.shutil.rmtree

    def killed_midway(path, ignore_errors=False, **kw):  # deletes some files, then "kill -9"
        from pathlib import Path

        for f in sorted(Path(path).iterdir())[:2]:
            f.unlink()
        raise KeyboardInterrupt

    monkeypatch.setattr(ckpt_mod.shutil, "rmtree", killed_midway)
    with pytest.raises(KeyboardInterrupt):
        _save(acc, tmp_path, 2, keep=1)
    monkeypatch.setattr(ckpt_mod.shutil, "rmtree", real_rmtree)
    for folder in list_checkpoints(tmp_path):  # every visible step-* folder is whole
        assert _files(folder) == whole, folder
    _save(acc, tmp_path, 3, keep=1)  # the next save sweeps the hidden trash away
    assert [p.name for p in (tmp_path / "checkpoints").iterdir()] == ["step-00000003"]


def test_full_disk_frees_rotated_checkpoints_first_and_leaves_no_tmp(acc, tmp_path, monkeypatch):
    _save(acc, tmp_path, 1)
    _save(acc, tmp_path, 2)
    seen = []

    def full(tensors, filename, *a, **k):
        seen.append([p.name for p in list_checkpoints(tmp_path)])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(ckpt_mod, "save_file", full)
    with pytest.raises(OutputError) as err:
        _save(acc, tmp_path, 3, keep=2)
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith("no space left on device: could not write checkpoint")
    assert "step-00000003" in msg and "needed about" in msg
    assert seen == [["step-00000002"]]  # step 1 (rotated out anyway) was freed before writing
    assert [p.name for p in (tmp_path / "checkpoints").iterdir()] == ["step-00000002"]  # no .tmp-step-*


@pytest.mark.parametrize("damage", ["truncate", "empty", "delete"])
@pytest.mark.parametrize("name", ["model.safetensors", "optimizer.bin", "rng-0.safetensors"])
def test_damaged_file_is_one_line(acc, tmp_path, damage, name):
    ckpt = _save(acc, tmp_path, 1)
    f = ckpt / name
    if damage == "truncate":
        f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])
    elif damage == "empty":
        f.write_bytes(b"")
    else:
        f.unlink()
    with pytest.raises(InputError) as err:
        load_checkpoint(acc, ckpt, torch.Generator())
    msg = str(err.value)
    assert "\n" not in msg and name in msg and "step-00000001" in msg, msg


def test_old_checkpoint_without_a_file_list_is_still_checked(acc, tmp_path):
    ckpt = _save(acc, tmp_path, 1)
    state = json.loads((ckpt / "state.json").read_text())
    state.pop("files")
    (ckpt / "state.json").write_text(json.dumps(state))
    (ckpt / "model.safetensors").write_bytes((ckpt / "model.safetensors").read_bytes()[:100])
    with pytest.raises(InputError, match="model.safetensors is truncated or corrupt"):
        load_checkpoint(acc, ckpt, torch.Generator())


def test_resume_falls_back_to_the_newest_complete_checkpoint(tmp_path, capsys):
    from actalker.train.loop import train
    from tests.train.helpers import tiny_config, tiny_parts

    cfg = tiny_config(tmp_path / "run", max_steps=2, batch_size=1, checkpoint_every=1)
    train(cfg, parts=tiny_parts(cfg), progress=False)
    newest = tmp_path / "run" / "checkpoints" / "step-00000002" / "model.safetensors"
    newest.write_bytes(newest.read_bytes()[:50])  # a kill -9 or full disk mid-copy
    capsys.readouterr()
    result = train(cfg, resume=True, parts=tiny_parts(cfg), progress=False)
    assert result.step == 2
    lines = [line for line in capsys.readouterr().out.splitlines() if "incomplete" in line]
    assert len(lines) == 1 and lines[0].startswith(
        "warning: checkpoint step-00000002 is incomplete (model.safetensors is truncated (50 of "), lines
    assert "resuming from step-00000001" in lines[0]
    assert ckpt_mod.checkpoint_problem(tmp_path / "run" / "checkpoints" / "step-00000002") is None  # re-saved whole


def test_resume_with_no_complete_checkpoint_is_one_line(tmp_path, acc):
    from actalker.train.checkpoint import resume_checkpoint

    ckpt = _save(acc, tmp_path, 1)
    (ckpt / "state.json").unlink()
    with pytest.raises(InputError) as err:
        resume_checkpoint(tmp_path)
    assert str(err.value) == (f"--resume: no complete checkpoint in {tmp_path / 'checkpoints'} "
                              "(newest step-00000001: state.json is missing)")


def test_weights_of_another_model_are_one_line(acc, tmp_path):
    from accelerate import Accelerator

    ckpt = _save(acc, tmp_path, 1)
    other = torch.nn.Linear(4, 6)  # same names, other shapes
    opt = torch.optim.AdamW(other.parameters(), lr=1e-3)
    acc2 = Accelerator(cpu=True)
    acc2.prepare(other, opt)
    with pytest.raises(InputError) as err:
        load_checkpoint(acc2, ckpt, torch.Generator())
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith(f"checkpoint {ckpt} does not fit this model: ") and "weight" in msg, msg


def test_an_optimizer_of_another_grouping_is_one_line(acc, tmp_path):
    """A checkpoint written with one optimizer group (before Mamba's A_log and D were exempted
    from weight decay) meets an optimizer with two: a one-line error, not torch's ValueError."""
    from accelerate import Accelerator

    ckpt = _save(acc, tmp_path, 1)
    model = torch.nn.Linear(4, 4)
    opt = torch.optim.AdamW([{"params": [model.weight]}, {"params": [model.bias], "weight_decay": 0.0}], lr=1e-3)
    acc2 = Accelerator(cpu=True)
    acc2.prepare(model, opt)
    with pytest.raises(InputError) as err:
        load_checkpoint(acc2, ckpt, torch.Generator())
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith(f"checkpoint {ckpt} does not fit this model's optimizer: ") \
        and "parameter groups" in msg, msg
