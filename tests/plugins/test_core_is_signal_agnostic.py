"""Adding a plugin needs no change under actalker/core: the core never names a signal."""
from __future__ import annotations

import io
import tokenize
from pathlib import Path

import actalker

SIGNALS = {"audio", "motion", "eeg", "headpose", "blink"}
CORE = Path(actalker.__file__).parent / "core"


def signal_mentions(source: str) -> list[str]:
    """Identifiers or string literals that are exactly a signal name (comments and
    docstrings are prose; `motion_bucket_id` is SVD's, not a signal)."""
    found, prev, depth = [], None, 0
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.OP and tok.string in "([{":
            depth += 1
        elif tok.type == tokenize.OP and tok.string in ")]}":
            depth -= 1
        statement_start = depth == 0 and prev in (tokenize.INDENT, tokenize.DEDENT, tokenize.NEWLINE, tokenize.NL, None)
        if tok.type == tokenize.NAME and tok.string.lower() in SIGNALS:
            found.append(f"{tok.start[0]}: name {tok.string}")
        elif tok.type == tokenize.STRING and not statement_start:
            text = tok.string.lstrip("rbfuRBFU").strip("'\"").strip().lower()
            if text in SIGNALS:
                found.append(f"{tok.start[0]}: string {tok.string}")
        if tok.type not in (tokenize.COMMENT,):
            prev = tok.type
    return found


def test_checker_catches_a_signal_name():
    assert signal_mentions("x = spec('audio')\n") and signal_mentions("def f(motion):\n    return motion\n")
    assert signal_mentions("f(\n    'eeg',\n)\n")
    assert not signal_mentions('"""Audio drives the mouth."""\nmotion_bucket_id = 127  # audio\n')


def test_core_names_no_signal():
    files = sorted(CORE.rglob("*.py"))
    assert files, "actalker/core has no Python files"
    hits = {str(f.relative_to(CORE)): m for f in files if (m := signal_mentions(f.read_text()))}
    assert hits == {}
