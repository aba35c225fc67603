"""Build a fresh pluggy PluginManager: built-ins first, then the ``actalker`` entry points.

No module-level manager: every ``load_registry`` call builds its own, so tests and
long-running processes never see stale plugins.

An installed plugin that fails (import error, bad hook, clashing name) is left out and
reported as broken (``actalker plugins`` lists it with its reason); everything else loads.
``ACTALKER_DISABLE_PLUGINS=name1,name2`` switches plugins off by entry-point or
distribution name (a built-in by its short name).

``ACTALKER_PLUGINS`` (pins the set that loads):
  unset                  built-ins and every installed entry point
  "" or "builtin"        built-ins only
  "none"                 nothing at all (not even built-ins)
  "builtin,eeg,..."      a named set: "builtin" (all built-ins), a built-in's short name
                         ("regions", "audio", "motion"), an entry-point name ("eeg") or a
                         distribution name ("actalker-eeg")
"""
from __future__ import annotations

import importlib
import importlib.metadata as md
import os
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Iterable, Optional

import pluggy

from actalker import __version__
from actalker.errors import PluginError
from actalker.plugins import hookspecs

ENV_VAR = "ACTALKER_PLUGINS"
DISABLE_VAR = "ACTALKER_DISABLE_PLUGINS"  # comma-separated entry-point or distribution names
ENTRY_POINT_GROUP = "actalker"


@dataclass
class LoadedPlugin:
    """A plugin object registered in the manager, with where it came from."""

    name: str
    version: str
    source: str
    obj: Any
    isolated: bool = False  # an installed entry point: a fault makes it broken, not fatal


@dataclass
class BrokenPlugin:
    """An installed plugin left out because it failed; ``reason`` is one line."""

    name: str
    version: str
    source: str
    reason: str


@dataclass
class ManagerResult:
    """What ``build_manager`` loaded, and which installed entry points it did not."""

    pm: pluggy.PluginManager
    loaded: list[LoadedPlugin]
    skipped: list[str]  # not selected by ACTALKER_PLUGINS
    disabled: list[str]  # switched off by ACTALKER_DISABLE_PLUGINS
    broken: list[BrokenPlugin]


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0] if text else ''}".rstrip(": ")


def entry_points() -> list[md.EntryPoint]:
    """Installed entry points of the ``actalker`` group (a function so tests can swap it)."""
    seen, out = set(), []
    for ep in md.entry_points(group=ENTRY_POINT_GROUP):
        if (ep.name, ep.value) not in seen:  # the same dist can appear twice on sys.path
            seen.add((ep.name, ep.value))
            out.append(ep)
    return sorted(out, key=lambda ep: ep.name)  # stable load order


def _dist_of(ep: md.EntryPoint) -> tuple[str, str]:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return "unknown distribution", "?"
    return dist.metadata["Name"] or dist.name, dist.version or "?"


def parse_selection(value: Optional[str | Iterable[str]]) -> Optional[set[str]]:
    """None = everything; otherwise the set of requested names ("builtin" for built-ins)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = value.split(",")
    names = {v.strip() for v in value if v.strip()}
    return names or {"builtin"}


def disabled_names(value: Optional[str | Iterable[str]] = None) -> set[str]:
    """Names switched off by ``ACTALKER_DISABLE_PLUGINS`` (or ``value``)."""
    if value is None:
        value = os.environ.get(DISABLE_VAR, "")
    if isinstance(value, str):
        value = value.split(",")
    return {v.strip() for v in value if v.strip()}


def _builtin_short(module_path: str) -> str:
    return module_path.rsplit(".", 1)[-1]


def _new_manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    return pm


def _register(pm: pluggy.PluginManager, loaded: list[LoadedPlugin], plugin: LoadedPlugin) -> None:
    for other in loaded:
        if other.name == plugin.name:
            raise PluginError(
                f"two plugins are both named '{plugin.name}': {other.source} and {plugin.source}; "
                f"uninstall one or select one with {ENV_VAR}"
            )
        if other.obj is plugin.obj:
            raise PluginError(f"plugin '{plugin.name}' ({plugin.source}) is the same module as '{other.name}' ({other.source})")
    try:
        pm.register(plugin.obj, name=plugin.name)
    except pluggy.PluginValidationError as err:
        raise PluginError(f"plugin '{plugin.name}' ({plugin.source}) has an invalid hook: {_first_line(err)}") from err
    loaded.append(plugin)


def build_manager(
    names: Optional[str | Iterable[str]] = None,
    plugins: Iterable[ModuleType | str] = (),
    disable: Optional[str | Iterable[str]] = None,
) -> ManagerResult:
    """Load the built-ins, the selected entry points and ``plugins`` into a fresh manager.

    ``names`` overrides ``ACTALKER_PLUGINS`` (same syntax), ``disable`` overrides
    ``ACTALKER_DISABLE_PLUGINS``. ``plugins`` are extra plugin modules (objects or dotted
    paths) registered last, e.g. a plugin under development. A built-in or an extra module
    that fails is an error; an installed entry point that fails (import, hook signature,
    unknown hook, clashing name) is left out and listed in ``broken`` with its reason.
    """
    from actalker.plugins import DEFAULT_PLUGINS  # late: the package imports this module

    if names is None:
        names = os.environ.get(ENV_VAR)
    selected = parse_selection(names)
    if selected is not None and "none" in selected:
        selected = set()
    off = disabled_names(disable)
    res = ManagerResult(_new_manager(), [], [], [], [])
    known: set[str] = {"builtin"}

    def wanted(*aliases: str) -> bool:
        return selected is None or any(a in selected for a in aliases)

    for path in DEFAULT_PLUGINS:
        short = _builtin_short(path)
        known.add(short)
        if wanted("builtin", short) and short not in off:
            _register(res.pm, res.loaded, LoadedPlugin(short, __version__, "builtin", _import(path, short, "builtin module")))
            _check_pending(res.pm)

    for ep in entry_points():
        dist, version = _dist_of(ep)
        known.update((ep.name, dist))
        if not wanted(ep.name, dist):
            res.skipped.append(ep.name)
        elif ep.name in off or dist in off:
            res.disabled.append(ep.name)
        else:
            _load_entry_point(res, ep, dist, version)

    if selected:
        unknown = sorted(selected - known)
        if unknown:
            raise PluginError(
                f"{ENV_VAR} names unknown plugin(s) {', '.join(unknown)}; available: {', '.join(sorted(known))}, none"
            )

    for extra in plugins:
        if isinstance(extra, str):
            obj, name, source = _import(extra, extra, "module"), extra, f"module {extra}"
        else:
            obj, name, source = extra, getattr(extra, "__name__", repr(extra)), f"module {getattr(extra, '__name__', '?')}"
        _register(res.pm, res.loaded, LoadedPlugin(name, getattr(obj, "__version__", "?"), source, obj))
    _check_pending(res.pm)
    return res


def _load_entry_point(res: ManagerResult, ep: md.EntryPoint, dist: str, version: str) -> None:
    """Import and register one entry point; any fault marks it broken (one line) instead."""
    source = f"entry point of {dist}"
    try:
        obj = ep.load()
    except Exception as err:  # any import-time failure of third-party code
        reason = (f"plugin '{ep.name}' (entry point '{ep.value}' of {dist}) failed to import: {_first_line(err)}; "
                  f"switch it off with {DISABLE_VAR}={ep.name}")
        res.broken.append(BrokenPlugin(ep.name, version, source, reason))
        return
    plugin = LoadedPlugin(ep.name, version, source, obj, isolated=True)
    try:
        _register(res.pm, res.loaded, plugin)
        _check_pending(res.pm)
    except PluginError as err:
        if plugin in res.loaded:
            res.loaded.remove(plugin)
        if res.pm.is_registered(obj):
            res.pm.unregister(obj)
        res.broken.append(BrokenPlugin(ep.name, version, source, str(err)))


def _check_pending(pm: pluggy.PluginManager) -> None:
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as err:
        plugin = getattr(err, "plugin", None)
        who = pm.get_name(plugin) if plugin is not None else "a plugin"
        raise PluginError(
            f"plugin '{who}' implements an unknown hook ({_first_line(err)}); "
            f"known hooks: {', '.join(hookspecs.HOOK_NAMES)}"
        ) from err


def _import(path: str, name: str, what: str) -> ModuleType:
    try:
        return importlib.import_module(path)
    except Exception as err:
        raise PluginError(f"plugin '{name}' ({what} '{path}') failed to import: {_first_line(err)}") from err
