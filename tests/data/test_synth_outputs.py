"""synth: a bad --out is one line before any clip is drawn; a full disk is one line naming
the clip, with the clips written before it intact."""
from __future__ import annotations

import errno

import numpy as np

from actalker.cli import main

ARGS = ["--clips", "3", "--frames", "4", "--size", "16", "--speech", "syllables", "--quiet"]


def test_out_under_a_regular_file(tmp_path, capsys, monkeypatch):
    import actalker.data.synth.world as world

    monkeypatch.setattr(world, "write_synthetic_clip", lambda *a, **k: (_ for _ in ()).throw(AssertionError("drew a clip")))
    (tmp_path / "f").write_text("x")
    assert main(["synth", "--out", str(tmp_path / "f" / "data"), *ARGS]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: cannot write output folder") and "is a regular file" in err and "\n" not in err


def test_full_disk_is_one_line_and_earlier_clips_stay(tmp_path, capsys, monkeypatch):
    real_save, calls = np.save, []

    def save(file, arr, *a, **k):
        if str(file).endswith("frames.npy"):
            calls.append(file)
            if len(calls) == 2:  # the second clip's frames fill the disk
                raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(file, arr, *a, **k)

    monkeypatch.setattr(np, "save", save)
    out = tmp_path / "data"
    assert main(["synth", "--out", str(out), *ARGS]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("error: no space left on device: could not write ") and " free)" in err
    clips = sorted(p.name for p in (out / "clips").iterdir())
    assert len(clips) == 1 and str(out / "clips") in err and clips[0] not in err  # names the clip that failed
    monkeypatch.setattr(np, "save", real_save)
    from actalker.data.clip import Clip

    assert Clip.read(out / "clips" / clips[0]).frames().shape == (4, 16, 16, 3)  # the first clip is whole
