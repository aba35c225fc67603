"""Adding a plugin needs no change under actalker/core: the core never names a signal."""
from __future__ import annotations

import io
import tokenize
from pathlib import Path

import actalker

SIGNALS = {"audio", "motion", "eeg", "headpose", "blink"}
CORE = Path(actalker.__file__).parent / "core"
# Names that contain a signal's name but are not about a signal, each with its reason.
EXEMPT = {
    "motion_bucket_id": "SVD's micro-conditioning value",
    # KNOWN DEBT (issue 17): a data-loading option in the shared schema; it leaves core when
    # the data section moves out of core/schema.py (a config-key change, the lead's call).
    "require_audio": "data.require_audio, the schema's data section",
}


def _names_signal(text: str) -> bool:
    """True if a word of ``text`` (split at non-letters, ``_`` and camelCase) is a signal."""
    import re

    if text in EXEMPT:
        return False
    words = re.split(r"[^a-z]+", re.sub(r"([a-z])([A-Z])", r"\1_\2", text).lower())
    return any(w in SIGNALS for w in words)


def signal_mentions(source: str) -> list[str]:
    """Identifiers or string literals that name a signal, whole or as a part (``require_audio``,
    ``audioFeatures``); comments and docstrings are prose, ``EXEMPT`` names are not signals."""
    found, prev, depth = [], None, 0
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.OP and tok.string in "([{":
            depth += 1
        elif tok.type == tokenize.OP and tok.string in ")]}":
            depth -= 1
        statement_start = depth == 0 and prev in (tokenize.INDENT, tokenize.DEDENT, tokenize.NEWLINE, tokenize.NL, None)
        if tok.type == tokenize.NAME and _names_signal(tok.string):
            found.append(f"{tok.start[0]}: name {tok.string}")
        elif tok.type == tokenize.STRING and not statement_start:
            text = tok.string.lstrip("rbfuRBFU").strip("'\"").strip()
            if text.lower() in SIGNALS or (text.isidentifier() and _names_signal(text)):
                found.append(f"{tok.start[0]}: string {tok.string}")
        if tok.type not in (tokenize.COMMENT,):
            prev = tok.type
    return found


def test_checker_catches_a_signal_name():
    assert signal_mentions("x = spec('audio')\n") and signal_mentions("def f(motion):\n    return motion\n")
    assert signal_mentions("f(\n    'eeg',\n)\n")
    assert not signal_mentions('"""Audio drives the mouth."""\nmotion_bucket_id = 127  # audio\n')


def test_checker_catches_a_signal_inside_a_name():
    assert signal_mentions("require_motion: bool = False\n")
    assert signal_mentions("x = cfg['use_eeg']\n") and signal_mentions("audioFeatures = 1\n")
    assert signal_mentions("x = getattr(cfg, 'blink_rate')\n")
    assert not signal_mentions("sample = 1\nmotion_bucket_id = 2\n")  # no word is a signal


def test_core_names_no_signal():
    files = sorted(CORE.rglob("*.py"))
    assert files, "actalker/core has no Python files"
    hits = {str(f.relative_to(CORE)): m for f in files if (m := signal_mentions(f.read_text()))}
    assert hits == {}
