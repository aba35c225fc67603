"""How a downloaded data set names its people: the identity of a video from its path.

Splits are by identity (actalker.data.manifest), so the identity rule decides what
"held-out person" means. ``--layout`` picks one:

- ``folder`` (default): the first sub-folder under INPUT (one folder per person), else
  the file's stem.
- ``hdtf``: HDTF's ``<source>_<Name>_<NNN>.mp4`` (e.g. ``WDA_BarackObama_000.mp4``):
  the name without its trailing numbers (``WDA_BarackObama``).
- ``celebvhq``: CelebV-HQ's ``<youtube id>_<k>.mp4`` clips: the YouTube id. CelebV-HQ has
  no person labels; clips of one source video are one identity (one celebrity may still
  appear in several source videos).
- ``vfhq``: VFHQ's ``Clip+<youtube id>+P<p>+C<c>+F<start>-<end>.mp4``: ``<youtube id>+P<p>``,
  the person p of that source video.

A file whose name does not fit its layout is skipped with the reason, like any unusable video.
"""
from __future__ import annotations

import re
from pathlib import Path

from actalker.errors import InputError

_VFHQ = re.compile(r"^Clip\+(?P<video>.+)\+P(?P<person>\d+)\+C\d+\+F\d+-\d+$")
_TRAILING_NUMBERS = re.compile(r"(_\d+)+$")
_LAST_NUMBER = re.compile(r"_\d+$")


def _folder(rel: Path) -> str:
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def _hdtf(rel: Path) -> str:
    name = _TRAILING_NUMBERS.sub("", rel.stem)
    if name == rel.stem or "_" not in name:
        raise InputError(f"{rel}: not an HDTF file name (<source>_<Name>_<NNN>.mp4, e.g. WDA_BarackObama_000.mp4)")
    return name


def _celebvhq(rel: Path) -> str:
    name = _LAST_NUMBER.sub("", rel.stem)
    if name == rel.stem or not name:
        raise InputError(f"{rel}: not a CelebV-HQ clip name (<youtube id>_<k>.mp4)")
    return name


def _vfhq(rel: Path) -> str:
    m = _VFHQ.match(rel.stem)
    if not m:
        raise InputError(f"{rel}: not a VFHQ clip name (Clip+<youtube id>+P<p>+C<c>+F<start>-<end>.mp4)")
    return f"{m['video']}+P{m['person']}"


LAYOUTS = {"folder": _folder, "hdtf": _hdtf, "celebvhq": _celebvhq, "vfhq": _vfhq}


def identity_of(rel: Path, layout: str = "folder") -> str:
    """The identity of the video at ``rel`` (its path relative to INPUT) under ``layout``."""
    if layout not in LAYOUTS:
        raise InputError(f"unknown layout {layout!r}: expected one of {', '.join(LAYOUTS)}")
    return LAYOUTS[layout](Path(rel))
