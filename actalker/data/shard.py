"""``--shard i/n``: split a data set's videos over n machines or array jobs without overlap.

Videos are sorted by their path relative to the input folder and video k goes to shard
k mod n (0-based), so every shard that lists the same input folder computes the same
assignment and the n shards cover each video exactly once. Each shard's report names
its shard and the input's video count, which the merge step checks.
"""
from __future__ import annotations

import re
from pathlib import Path

from actalker.errors import InputError

_SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """'i/n' -> (i, n) with 0 <= i < n; None for None; InputError (one line) otherwise."""
    if text is None:
        return None
    m = _SHARD.match(str(text))
    if not m or int(m.group(2)) < 1 or int(m.group(1)) >= int(m.group(2)):
        raise InputError(f"--shard {text!r}: expected i/n with 0 <= i < n, e.g. 0/4 (shards are numbered from 0)")
    return int(m.group(1)), int(m.group(2))


def shard_videos(videos: list[Path], base: Path, shard: tuple[int, int] | None) -> list[Path]:
    """The videos of shard (i, n): every n-th one in sorted relative-path order, from i."""
    if shard is None:
        return list(videos)
    i, n = shard
    ordered = sorted(videos, key=lambda v: _relative(v, base))
    return [v for k, v in enumerate(ordered) if k % n == i]


def shard_label(shard: tuple[int, int] | None) -> str | None:
    return None if shard is None else f"{shard[0]}/{shard[1]}"


def _relative(video: Path, base: Path) -> str:
    try:
        return video.relative_to(base).as_posix()
    except ValueError:
        return video.as_posix()
