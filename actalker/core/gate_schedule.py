"""Gate schedules: a gate per branch as a constant or as keyframes over time.

Text form (the CLI's ``--gate``; pairs and keyframes are both comma separated, so a token
without ``=`` continues the keyframes of the branch before it)::

    first=1,second=0.5                       constants
    second=0@0s,1@2s,0.3@4s                  keyframes VALUE@TIME, TIME in seconds (2s) or frames (50f)

Mapping form (a JSON/YAML file, or the API): ``{branch: number | "0@0s,1@2s" |
{TIME: VALUE} | [[TIME, VALUE], ...]}`` where a bare number TIME is seconds.

Between keyframes the gate is linearly interpolated per frame; before the first and after
the last it holds that keyframe's value. Every mistake is an ``InputError`` of one line
naming the branch, the bad token and what was expected. No branch is named here.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from actalker.errors import InputError

_TIME_RE = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*([sf]?)\s*$", re.IGNORECASE)
KEYFRAME_HELP = "VALUE@TIME with TIME in seconds (2s) or frames (50f)"
FILE_SUFFIXES = (".json", ".yaml", ".yml")


@dataclass(frozen=True)
class Keyframe:
    """One keyframe: ``value`` at ``time`` in ``unit`` ("s" seconds or "f" frames)."""

    value: float
    time: float
    unit: str = "s"

    def frame(self, fps: float) -> float:
        return self.time * fps if self.unit == "s" else self.time

    def text(self) -> str:
        return f"{self.value:g}@{self.time:g}{self.unit}"


@dataclass(frozen=True)
class GateSchedule:
    """A branch's gate over time; a constant is one keyframe at 0 s."""

    branch: str
    keyframes: tuple[Keyframe, ...]

    @property
    def constant(self) -> Optional[float]:
        """The value when the gate never changes, else None."""
        values = {k.value for k in self.keyframes}
        return values.pop() if len(values) == 1 else None

    def per_frame(self, num_frames: int, fps: float) -> np.ndarray:
        """(num_frames,) float32 gate per output frame (linear between keyframes)."""
        at = np.array([k.frame(fps) for k in self.keyframes], np.float64)
        if np.any(np.diff(at) <= 0):
            raise InputError(f"gate of branch '{self.branch}': keyframe times {self.text()} must increase")
        values = np.array([k.value for k in self.keyframes], np.float64)
        return np.interp(np.arange(int(num_frames), dtype=np.float64), at, values).astype(np.float32)

    def is_open(self) -> bool:
        return any(k.value > 0 for k in self.keyframes)

    def text(self) -> str:
        return f"{self.constant:g}" if self.constant is not None and len(self.keyframes) == 1 else \
            ",".join(k.text() for k in self.keyframes)

    def to_json(self) -> Any:
        """A number for a constant, else {"schedule": text, "keyframes": [...]}: for OUT.json."""
        if self.constant is not None and len(self.keyframes) == 1:
            return self.constant
        return {"schedule": self.text(),
                "keyframes": [{"value": k.value, "time": k.time, "unit": k.unit} for k in self.keyframes]}

    def value(self, num_frames: int, fps: float):
        """What the pipeline takes: a float for a constant, else the per-frame array."""
        c = self.constant
        return c if c is not None else self.per_frame(num_frames, fps)


# ---------------------------------------------------------------- parsing
def _bad(where: str, branch: str, token: Any, expected: str) -> InputError:
    return InputError(f"{where} {branch}: {str(token)!r}: expected {expected}")


def _value(raw: Any, branch: str, token: Any, where: str) -> float:
    try:
        if isinstance(raw, bool):
            raise TypeError  # YAML's yes/no are not gates
        v = float(raw)
    except (TypeError, ValueError):
        raise _bad(where, branch, token, "a number >= 0") from None
    if not math.isfinite(v) or v < 0:
        raise _bad(where, branch, token, "a finite number >= 0")
    return v


def _time(raw: Any, branch: str, token: Any, where: str) -> tuple[float, str]:
    """A bare number is seconds; text may end in s (seconds) or f (frames)."""
    m = None if isinstance(raw, bool) else _TIME_RE.match(str(raw))
    if m is None:
        raise _bad(where, branch, token, KEYFRAME_HELP)
    return float(m.group(1)), (m.group(2) or "s").lower()


def _schedule(branch: str, frames: list[Keyframe], where: str) -> GateSchedule:
    if not frames:
        raise _bad(where, branch, "", "a gate or at least one keyframe")
    units = {k.unit for k in frames}
    if len(units) == 1 and any(b.time <= a.time for a, b in zip(frames, frames[1:])):
        text = ",".join(k.text() for k in frames)
        raise _bad(where, branch, text, "keyframe times that increase")
    return GateSchedule(branch, tuple(frames))


def constant(branch: str, value: Any, where: str = "gate") -> GateSchedule:
    return GateSchedule(branch, (Keyframe(_value(value, branch, value, where), 0.0),))


def parse_schedule(branch: str, text: str, where: str = "gate") -> GateSchedule:
    """``"0.5"`` or ``"0@0s,1@2s,0.3@4s"`` -> the branch's schedule."""
    tokens = [t.strip() for t in str(text).split(",")]
    if len(tokens) == 1 and "@" not in tokens[0]:
        return constant(branch, tokens[0], where)
    frames = []
    for token in tokens:
        value, sep, at = token.partition("@")
        if not sep:
            raise _bad(where, branch, token, KEYFRAME_HELP)
        t, unit = _time(at, branch, token, where)
        frames.append(Keyframe(_value(value, branch, token, where), t, unit))
    return _schedule(branch, frames, where)


def from_value(branch: str, raw: Any, where: str = "gate") -> GateSchedule:
    """One branch's entry of a mapping: number, text, {TIME: VALUE} or [[TIME, VALUE], ...]."""
    if isinstance(raw, GateSchedule):
        return raw
    if isinstance(raw, str):
        return parse_schedule(branch, raw, where)
    if isinstance(raw, Mapping):
        raw = list(raw.items())
    if isinstance(raw, (list, tuple)):
        frames = []
        for pair in raw:
            if not isinstance(pair, (list, tuple)) or len(pair) != 2:
                raise _bad(where, branch, pair, "a [TIME, VALUE] pair")
            t, unit = _time(pair[0], branch, pair, where)
            frames.append(Keyframe(_value(pair[1], branch, pair, where), t, unit))
        return _schedule(branch, frames, where)
    return constant(branch, raw, where)


def _per_frame(raw: Any) -> bool:
    """An array or a flat list of numbers: already one gate per frame."""
    if hasattr(raw, "ndim"):
        return raw.ndim >= 1
    return isinstance(raw, (list, tuple)) and bool(raw) and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in raw)


def from_mapping(gates: Optional[Mapping[str, Any]], where: str = "gate") -> dict[str, Any]:
    """branch -> GateSchedule (per-frame arrays are kept as they are)."""
    out: dict[str, Any] = {}
    for branch, raw in dict(gates or {}).items():
        out[str(branch)] = raw if _per_frame(raw) else from_value(str(branch), raw, where)
    return out


def resolve(gates: Mapping[str, Any], num_frames: int, fps: float) -> dict[str, Any]:
    """What the pipeline takes: branch -> float or (num_frames,) array."""
    return {name: g.value(num_frames, fps) if isinstance(g, GateSchedule) else g for name, g in gates.items()}


def to_json(gates: Mapping[str, Any]) -> dict[str, Any]:
    """branch -> number, or the schedule text and keyframes, or the per-frame list."""
    out = {}
    for name, g in gates.items():
        if isinstance(g, GateSchedule):
            out[name] = g.to_json()
        else:
            out[name] = [float(v) for v in np.asarray(g, np.float64).ravel()]
    return out


# ---------------------------------------------------------------- command line and files
def load_file(path: str, where: str = "--gate") -> dict[str, GateSchedule]:
    """A JSON or YAML file {branch: gate or schedule} -> branch -> GateSchedule."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise InputError(f"{where} {path}: no such file (expected a .json or .yaml gate file)")
    try:
        text = p.read_text()
        if p.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, ValueError, ImportError) as err:
        raise InputError(f"{where} {path}: cannot read it ({type(err).__name__}: {str(err).splitlines()[0]})") from None
    except Exception as err:  # noqa: BLE001 -- yaml's own errors: one line, not a traceback
        raise InputError(f"{where} {path}: not valid YAML ({str(err).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise InputError(f"{where} {path}: expected a mapping of branch -> gate or schedule, got {type(data).__name__}")
    return {str(k): from_value(str(k), v, where) for k, v in data.items()}


def _split_item(item: str, where: str) -> dict[str, str]:
    """``"a=1,b=0@0s,1@2s"`` -> {"a": "1", "b": "0@0s,1@2s"}: a token without ``=``
    continues the keyframes of the branch before it."""
    out: dict[str, list[str]] = {}
    current = None
    for token in (t.strip() for t in item.split(",")):
        if "=" in token:
            current, _, value = (s.strip() for s in token.partition("="))
            if not current or not value:
                raise InputError(f"{where} expects NAME=VALUE or NAME=VALUE@TIME,..., got {token!r}")
            if current in out:
                raise InputError(f"{where} {current}: given twice")
            out[current] = [value]
        elif current is None or not token:
            raise InputError(f"{where} expects NAME=VALUE, NAME=VALUE@TIME,... or a .json/.yaml file, got {token!r}")
        else:
            out[current].append(token)
    return {name: ",".join(parts) for name, parts in out.items()}


def parse_args(items: Sequence[str], where: str = "--gate") -> dict[str, GateSchedule]:
    """Every ``--gate`` value (pairs, schedules or a gate file) -> branch -> GateSchedule."""
    out: dict[str, GateSchedule] = {}
    for item in items:
        if "=" not in item and item.strip().lower().endswith(FILE_SUFFIXES):
            parsed = load_file(item.strip(), where)
        else:
            parsed = {n: parse_schedule(n, text, where) for n, text in _split_item(item, where).items()}
        for name, schedule in parsed.items():
            if name in out:
                raise InputError(f"{where} {name}: given twice")
            out[name] = schedule
    return out
