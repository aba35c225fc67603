"""Output paths: check them before heavy work, and turn write failures into one line.

``check_writable_output(path)`` is called by commands before they decode, track or train,
so a typo in ``--out`` costs a second, not the whole run. ``output_error(err, target)``
turns an OSError from writing (no space, read-only, permission) into an ``OutputError``
that names what could not be written and, for a full disk, how much space it needed.
"""
from __future__ import annotations

import errno
import os
import shutil
import tempfile
from pathlib import Path
from typing import Optional

from actalker.errors import OutputError

# errno values that mean "this output cannot be written here" (a user can fix them).
WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOTDIR,
                errno.EISDIR, errno.EFBIG}
NO_SPACE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"  # pragma: no cover


def _nearest_existing(path: Path) -> Path:
    p = path
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def check_writable_output(path: str | os.PathLike, what: str = "output", is_dir: bool = False) -> Path:
    """Raise OutputError (one line) unless ``path`` (a file, or a folder with ``is_dir``) can
    be created or replaced: no regular file on the way, the nearest existing folder writable.
    Creates nothing; returns the path expanded."""
    p = Path(path).expanduser()
    if p.exists() and is_dir and not p.is_dir():
        raise OutputError(f"{what} {p} is an existing file, expected a folder")
    if p.exists() and not is_dir and p.is_dir():
        raise OutputError(f"{what} {p} is an existing folder, expected a file name")
    base = p if p.is_dir() else _nearest_existing(p.parent)
    if not base.is_dir():
        raise OutputError(f"cannot write {what} {p}: {base} is a regular file, not a folder")
    try:  # os.access is wrong for root on a read-only mount; a real probe file is not
        fd, probe = tempfile.mkstemp(prefix=".actalker-probe-", dir=base)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise OutputError(f"cannot write {what} {p}: {base} is not writable ({err.strerror or err})") from None
    return p


def output_error(err: OSError, target: str | os.PathLike, what: str = "", needed: Optional[int] = None,
                 lower_bound: bool = False) -> OutputError:
    """An OutputError for ``err`` raised while writing ``target``; ``needed`` (bytes, or a
    lower bound of it: what was written before the disk filled) is named for a full disk
    when known, with the space free there."""
    target = Path(target)
    name = f"{what} {target}" if what else str(target)
    if err.errno in NO_SPACE_ERRNOS:
        free = shutil.disk_usage(_nearest_existing(target.parent)).free
        need = f"needed {'more than' if lower_bound else 'about'} {human_bytes(needed)}, " if needed else ""
        out = OutputError(f"no space left on device: could not write {name} ({need}{human_bytes(free)} free)")
    else:
        out = OutputError(f"could not write {name}: {err.strerror or str(err).splitlines()[0]}")
    return tagged(out, err.errno)


def tagged(err: OutputError, code: Optional[int]) -> OutputError:
    """Keep the errno behind an OutputError, so an enclosing atomic write can name its own
    target (the clip folder, not a file inside its temporary)."""
    err.cause_errno = code
    return err


def write_errno(err: BaseException) -> Optional[int]:
    """The errno of a write fault a user can fix (full disk, read-only...), else None."""
    if isinstance(err, OutputError):
        return getattr(err, "cause_errno", None)
    if isinstance(err, OSError) and err.errno in WRITE_ERRNOS:
        return err.errno
    return None


def is_write_error(err: BaseException) -> bool:
    return isinstance(err, OSError) and not isinstance(err, OutputError) and err.errno in WRITE_ERRNOS
