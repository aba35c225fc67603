"""Atomic writes: a reader never sees a half-written file or folder.

Everything is first written to a temporary sibling (same filesystem) and renamed into
place only when complete; on any exception the temporary is removed. A write that fails
for want of space or permission becomes a one-line ``OutputError`` naming the target.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator, Optional

from actalker.utils.paths import output_error, write_errno


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def _ordinary_mode(path: Path, is_dir: bool) -> None:
    # mkstemp/mkdtemp create 0600/0700 for safety; the final file should look like any
    # other file the user creates (respecting their umask).
    os.chmod(path, (0o777 if is_dir else 0o666) & ~_umask())


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike, suffix: str | None = None, needed: Optional[int] = None) -> Iterator[Path]:
    """Yield a temporary file path next to ``target``; rename it onto ``target`` on success.

    ``suffix`` defaults to the target's suffix so tools that infer a format from the file
    name (ffmpeg, PIL) still work on the temporary. ``needed``: the size in bytes, when the
    caller knows it, for the message on a full disk.
    """
    target = Path(target)
    tmp_path = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        suffix = target.suffix if suffix is None else suffix
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=f".tmp{suffix}", dir=target.parent)
        os.close(fd)
        tmp_path = Path(tmp)
        _ordinary_mode(tmp_path, is_dir=False)
        yield tmp_path
        os.replace(tmp_path, target)
    except BaseException as err:
        partial = _size(tmp_path) if tmp_path is not None else 0
        if tmp_path is not None:
            tmp_path.unlink(missing_ok=True)
        code = write_errno(err)
        if code is not None:
            raise output_error(OSError(code, os.strerror(code)), target, needed=needed or partial,
                               lower_bound=not needed) from None
        raise


@contextlib.contextmanager
def atomic_dir(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary folder next to ``target``; move it onto ``target`` on success.

    An existing ``target`` is replaced only after the new folder is complete.
    """
    target = Path(target)
    tmp_path = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp_path = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
        _ordinary_mode(tmp_path, is_dir=True)
        yield tmp_path
        if target.exists():
            old = target.with_name(f".{target.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(target, old)
            os.replace(tmp_path, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp_path, target)
    except BaseException as err:
        partial = _size(tmp_path) if tmp_path is not None else 0
        if tmp_path is not None:
            shutil.rmtree(tmp_path, ignore_errors=True)
        code = write_errno(err)
        if code is not None:
            raise output_error(OSError(code, os.strerror(code)), target, needed=partial, lower_bound=True) from None
        raise


def _size(path: Path) -> int:
    """Bytes under ``path`` (a file or folder); 0 if it is gone."""
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.is_dir() else 0


def write_text_atomic(target: str | os.PathLike, text: str) -> None:
    with atomic_path(target, needed=len(text.encode())) as tmp:
        tmp.write_text(text)
