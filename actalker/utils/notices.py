"""Notices: one line on stderr about an input that is accepted but may not give what the
user expects (a silent audio file, a gate above the trained range, a cut signal). Not
errors: the command goes on. The ``notice:`` prefix is owned here (docs/errors.md)."""
from __future__ import annotations

import sys


def notice(message: str) -> None:
    """Print ``notice: <message>`` (one line) on stderr."""
    print(f"notice: {' '.join(str(message).split())}", file=sys.stderr, flush=True)


__all__ = ["notice"]
