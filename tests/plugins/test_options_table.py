"""`actalker plugins --options` and docs/plugin_options.md (issue 13): every modality's options
with type, default and description from its options model; the page is the generated one."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from actalker.cli import main
from actalker.plugins.options_table import DOC_PAGE, builtin_markdown, type_name

ROOT = Path(__file__).resolve().parents[2]


def test_doc_page_is_the_generated_table():
    assert (ROOT / DOC_PAGE).read_text() == builtin_markdown(), (
        f"{DOC_PAGE} is stale: .venv/bin/python -m actalker.plugins.options_table > {DOC_PAGE}")


def test_plugins_options_lists_every_option_of_the_named_modality(capsys):
    from actalker.plugins.builtin.audio.options import AudioOptions

    assert main(["plugins", "--options", "audio", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["option"] for r in rows] == list(AudioOptions.model_fields)
    enc = next(r for r in rows if r["option"] == "encoder")
    assert enc == {"modality": "audio", "option": "encoder", "type": "'logmel' | 'whisper'", "default": "'logmel'",
                   "description": AudioOptions.model_fields["encoder"].description}
    assert next(r for r in rows if r["option"] == "n_mels")["type"] == "int (>= 8, <= 256)"


def test_plugins_options_without_a_name_covers_every_modality(capsys):
    from actalker.plugins import load_registry

    assert main(["plugins", "--options"]) == 0
    out = capsys.readouterr().out
    for name, spec in load_registry().modalities.items():
        assert f"{name}:" in out
        for option in spec.options_model.model_fields:
            assert f"  {option} (" in out


def test_unknown_modality_is_one_line(capsys):
    assert main(["plugins", "--options", "nope"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: no modality 'nope'") and "\n" not in err


@pytest.mark.parametrize("annotation, text", [(int, "int"), (list[int], "list[int]"), (str | None, "str | None")])
def test_type_names(annotation, text):
    assert type_name(annotation) == text
