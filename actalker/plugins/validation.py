"""Turn pydantic validation errors into one line a user can act on."""
from __future__ import annotations

import difflib
from types import UnionType
from typing import Any, Iterable, Optional, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from actalker.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


def closest(name: str, candidates: Iterable[str]) -> Optional[str]:
    """The valid name a typo most likely meant, or None."""
    found = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.5)
    return found[0] if found else None


def is_model_class(t: Any) -> bool:
    """A pydantic model class (not an instance, not a typing construct)."""
    return isinstance(t, type) and issubclass(t, BaseModel)


def _without_none(annotation: Any) -> Any:
    """Optional[X] -> X: an Optional is not a step in an error's location."""
    if get_origin(annotation) in (Union, UnionType):
        members = [a for a in get_args(annotation) if a is not type(None)]
        if len(members) == 1:
            return members[0]
    return annotation


def _step(annotation: Any, part: Any) -> Any:
    """The annotation one step of an error's location below ``annotation`` (None: lost)."""
    current = _without_none(annotation)
    if is_model_class(current):
        field = current.model_fields.get(str(part))
        return field.annotation if field is not None else None
    if get_origin(current) in (Union, UnionType):  # pydantic names the member it tried
        return next((a for a in get_args(current) if getattr(a, "__name__", None) == part), None)
    args = get_args(current)  # dict[K, V] / list[V]: a key or an index steps into the value type
    return args[-1] if args else None


def _fields_at(model: type[BaseModel], loc: tuple) -> list[str]:
    """Field names of the (nested) model that the error location points into."""
    current: Any = model
    for part in loc[:-1]:
        current = _step(current, part)
        if current is None:
            return []
    current = _without_none(current)
    return list(current.model_fields) if is_model_class(current) else []


def describe_error(model: type[BaseModel], err: ValidationError, prefix: str = "") -> str:
    """First error as 'key: problem' with a 'did you mean' for an unknown key."""
    first = err.errors()[0]
    loc = tuple(first["loc"])
    parts = [str(p) for p in ((prefix,) if prefix else ()) + loc]
    dotted = ".".join(parts) or "(root)"
    more = f" (and {len(err.errors()) - 1} more)" if len(err.errors()) > 1 else ""
    if first["type"] == "extra_forbidden":
        valid = _fields_at(model, loc)
        guess = closest(str(loc[-1]), valid)  # an unknown key always has a location
        if guess:
            hint = f"; did you mean '{'.'.join(parts[:-1] + [guess])}'?"
        else:
            hint = f"; valid keys: {', '.join(valid)}" if valid else ""
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
