"""Bringing files into a folder we write: hard links where the file system allows, else copies."""
from __future__ import annotations

import os
import shutil
from pathlib import Path


def link_or_copy(src: str | os.PathLike, dst: str | os.PathLike) -> None:
    """A hard link to ``src`` at ``dst`` (no extra space), or a copy across file systems."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def link_or_copy_tree(src: str | os.PathLike, dst: str | os.PathLike) -> Path:
    """The folder ``src`` reproduced at ``dst``, each file linked or copied."""
    shutil.copytree(src, dst, copy_function=link_or_copy, dirs_exist_ok=True)
    return Path(dst)


__all__ = ["link_or_copy", "link_or_copy_tree"]
