"""Turn pydantic validation errors into one line a user can act on."""
from __future__ import annotations

import difflib
from typing import Any, Iterable, Optional, TypeVar

from pydantic import BaseModel, ValidationError

from actalker.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


def closest(name: str, candidates: Iterable[str]) -> Optional[str]:
    """The valid name a typo most likely meant, or None."""
    found = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.5)
    return found[0] if found else None


def _fields_at(model: type[BaseModel], loc: tuple) -> list[str]:
    """Field names of the (nested) model that the error location points into."""
    current: Any = model
    for part in loc[:-1]:
        if isinstance(current, type) and issubclass(current, BaseModel) and part in current.model_fields:
            current = current.model_fields[part].annotation
        else:
            # dict values / lists / unions: look inside for a model type
            args = getattr(current, "__args__", ()) or ()
            models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
            current = models[-1] if models else None
        if current is None:
            return []
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    args = getattr(current, "__args__", ()) or ()
    models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
    return list(models[-1].model_fields) if models else []


def describe_error(model: type[BaseModel], err: ValidationError, prefix: str = "") -> str:
    """First error as 'key: problem' with a 'did you mean' for an unknown key."""
    first = err.errors()[0]
    loc = tuple(first["loc"])
    parts = [str(p) for p in ((prefix,) if prefix else ()) + loc]
    dotted = ".".join(parts) or "(root)"
    more = f" (and {len(err.errors()) - 1} more)" if len(err.errors()) > 1 else ""
    if first["type"] == "extra_forbidden":
        valid = _fields_at(model, loc)
        guess = closest(str(loc[-1]), valid) if loc else None
        near = ".".join(parts[:-1] + [guess]) if guess else ""
        hint = f"; did you mean '{near}'?" if guess else (f"; valid keys: {', '.join(valid)}" if valid else "")
        return f"unknown key '{dotted}'{hint}{more}"
    got = repr(first.get("input"))
    got = got if len(got) <= 60 else got[:57] + "..."
    return f"'{dotted}': {first['msg']} (got {got}){more}"


def validate_options(model: type[M], raw: Any, where: str, prefix: str = "") -> M:
    """Validate ``raw`` with ``model``; any problem is a one-line ``ConfigError`` naming ``where``."""
    if isinstance(raw, model):
        return raw
    if raw is not None and not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping of options, got {type(raw).__name__}")
    try:
        return model.model_validate(raw or {})
    except ValidationError as err:
        raise ConfigError(f"{where}: {describe_error(model, err, prefix)}") from err
