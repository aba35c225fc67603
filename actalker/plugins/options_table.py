"""Every modality's options (type, default, description) read from its options model.

``option_rows(registry, name=None)`` is what ``actalker plugins --options [NAME]`` prints and
what ``docs/plugin_options.md`` holds for the built-in modalities (``markdown(...)``; a test
regenerates it and compares, so the page cannot drift from the code).
"""
from __future__ import annotations

import types
import typing
from typing import Any, Optional

from pydantic_core import PydanticUndefined

from actalker.errors import PluginError

DOC_PAGE = "docs/plugin_options.md"
DOC_INTRO = """# Modality options

Each branch of a config has an `options:` mapping, checked by its modality's options model
(a typo is an error naming the closest option). This page is generated from the built-in
modalities' options models (`actalker plugins --options` prints the same for every installed
plugin; `tests/plugins/test_options_table.py` keeps this page in sync):

    .venv/bin/python -m actalker.plugins.options_table > docs/plugin_options.md
"""


def type_name(annotation: Any) -> str:
    """A readable type: ``'logmel' | 'whisper'``, ``str | None``, ``list[int]``."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Literal:
        return " | ".join(repr(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        return " | ".join("None" if a is type(None) else type_name(a) for a in args)
    if origin is not None:
        return f"{getattr(origin, '__name__', str(origin))}[{', '.join(type_name(a) for a in args)}]"
    return getattr(annotation, "__name__", str(annotation))


def _default(field) -> str:
    if field.default_factory is not None:
        return repr(field.default_factory())
    return "required" if field.default is PydanticUndefined else repr(field.default)


def _bounds(field) -> str:
    """Numeric bounds from the field's metadata (ge=8 -> '>= 8')."""
    marks = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}
    out = [f"{sym} {getattr(m, key)}" for m in field.metadata for key, sym in marks.items() if hasattr(m, key)]
    return ", ".join(out)


def option_rows(registry, name: Optional[str] = None) -> list[dict[str, str]]:
    """One row per option of each modality (or of modality ``name``)."""
    if name is not None and name not in registry.modalities:
        raise PluginError(f"no modality '{name}' (installed: {', '.join(sorted(registry.modalities)) or 'none'})")
    rows = []
    for mod in sorted(registry.modalities) if name is None else [name]:
        for option, field in registry.modalities[mod].options_model.model_fields.items():
            bounds = _bounds(field)
            rows.append({"modality": mod, "option": option,
                         "type": type_name(field.annotation) + (f" ({bounds})" if bounds else ""),
                         "default": _default(field), "description": (field.description or "").strip()})
    return rows


def text_table(rows: list[dict[str, str]]) -> str:
    lines, current = [], None
    for r in rows:
        if r["modality"] != current:
            current = r["modality"]
            lines.append(f"{current}:")
        lines.append(f"  {r['option']} ({r['type']}, default {r['default']})")
        if r["description"]:
            lines.append(f"      {r['description']}")
    return "\n".join(lines)


def markdown(rows: list[dict[str, str]]) -> str:
    out, current = [DOC_INTRO], None
    for r in rows:
        if r["modality"] != current:
            current = r["modality"]
            out += [f"\n## `{current}`\n", "| option | type | default | description |", "| --- | --- | --- | --- |"]
        cells = [f"`{r['option']}`", r["type"], f"`{r['default']}`", r["description"]]
        out.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(out) + "\n"


def builtin_markdown() -> str:
    """The page: the built-in plugins only, so it does not depend on what else is installed."""
    from actalker.plugins import load_registry

    return markdown(option_rows(load_registry(names="builtin")))


if __name__ == "__main__":
    print(builtin_markdown(), end="")
