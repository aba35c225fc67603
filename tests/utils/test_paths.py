"""Output paths checked before work; write faults (full disk, read-only) as one line."""
from __future__ import annotations

import errno
import os

import pytest

from actalker.errors import OutputError
from actalker.utils.atomic import atomic_dir, atomic_path, write_text_atomic
from actalker.utils.paths import check_writable_output


def _one_line(err, *words):
    msg = str(err.value)
    assert "\n" not in msg, msg
    for w in words:
        assert w in msg, msg


def test_path_under_a_regular_file(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(OutputError) as err:
        check_writable_output(tmp_path / "f" / "sub" / "out.mp4", "video")
    _one_line(err, "out.mp4", "is a regular file")


def test_existing_folder_where_a_file_is_wanted_and_back(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "f").write_text("x")
    with pytest.raises(OutputError) as err:
        check_writable_output(tmp_path / "d")
    _one_line(err, "existing folder")
    with pytest.raises(OutputError) as err:
        check_writable_output(tmp_path / "f", is_dir=True)
    _one_line(err, "existing file")


def test_read_only_folder(tmp_path, monkeypatch):
    import tempfile

    def read_only(*a, **k):  # tests run as root, where chmod cannot make a folder read-only
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    with pytest.raises(OutputError) as err:
        check_writable_output(tmp_path / "new" / "out.mp4", "video")
    _one_line(err, "out.mp4", "not writable", "Read-only file system")


def test_writable_creates_nothing(tmp_path):
    assert check_writable_output(tmp_path / "a" / "b.mp4") == tmp_path / "a" / "b.mp4"
    assert list(tmp_path.iterdir()) == []


def test_no_space_in_atomic_path_is_one_line_and_keeps_the_old_file(tmp_path):
    target = tmp_path / "report.json"
    target.write_text("old")
    with pytest.raises(OutputError) as err:
        with atomic_path(target, needed=5_000_000) as tmp:
            tmp.write_bytes(b"x" * 100)
            raise OSError(errno.ENOSPC, "No space left on device", str(tmp))
    _one_line(err, "no space left on device", "report.json", "needed about 4.8 MB", "free")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


def test_no_space_in_atomic_dir_names_a_lower_bound(tmp_path):
    with pytest.raises(OutputError) as err:
        with atomic_dir(tmp_path / "clip") as tmp:
            (tmp / "frames.npy").write_bytes(b"x" * 3000)
            raise OSError(errno.ENOSPC, "No space left on device")
    _one_line(err, "no space left on device", "clip", "needed more than 2.9 KB")
    assert list(tmp_path.iterdir()) == []


def test_write_text_atomic_on_a_full_disk(tmp_path, monkeypatch):
    import pathlib

    def full(self, *a, **k):
        raise OSError(errno.ENOSPC, "No space left on device", str(self))

    monkeypatch.setattr(pathlib.Path, "write_text", full)
    with pytest.raises(OutputError) as err:
        write_text_atomic(tmp_path / "m.json", "y" * 2048)
    _one_line(err, "m.json", "needed about 2.0 KB")
    assert list(tmp_path.iterdir()) == []


def test_cli_turns_a_stray_write_oserror_into_one_line(monkeypatch, capsys):
    from actalker import cli

    def boom(args):
        raise OSError(errno.EROFS, "Read-only file system", "/ro/out.mp4")

    parser = cli.build_parser()
    args = parser.parse_args(["plugins"])
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    monkeypatch.setattr(parser, "parse_known_args", lambda argv=None: (args, []))
    args.func = boom
    assert cli.main([]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "error: /ro/out.mp4: Read-only file system"

    def full(args):
        raise OSError(errno.ENOSPC, "No space left on device", "/data/x.bin")

    args.func = full
    assert cli.main([]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: no space left on device: could not write /data/x.bin") and "\n" not in err
