"""Build a fresh pluggy PluginManager: built-ins first, then the ``actalker`` entry points.

No module-level manager: every ``load_registry`` call builds its own, so tests and
long-running processes never see stale plugins.

``ACTALKER_PLUGINS`` (recovery switch when a plugin breaks start-up):
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
ENTRY_POINT_GROUP = "actalker"


@dataclass
class LoadedPlugin:
    """A plugin object registered in the manager, with where it came from."""

    name: str
    version: str
    source: str
    obj: Any


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
) -> tuple[pluggy.PluginManager, list[LoadedPlugin], list[str]]:
    """Return (manager, loaded plugins in load order, installed entry points not selected).

    ``names`` overrides ``ACTALKER_PLUGINS`` (same syntax). ``plugins`` are extra plugin
    modules (objects or dotted paths) registered last, e.g. a plugin under development.
    """
    from actalker.plugins import DEFAULT_PLUGINS  # late: the package imports this module

    if names is None:
        names = os.environ.get(ENV_VAR)
    selected = parse_selection(names)
    if selected is not None and "none" in selected:
        selected = set()
    pm = _new_manager()
    loaded: list[LoadedPlugin] = []
    known: set[str] = {"builtin"}

    def wanted(*aliases: str) -> bool:
        return selected is None or any(a in selected for a in aliases)

    for path in DEFAULT_PLUGINS:
        short = _builtin_short(path)
        known.add(short)
        if wanted("builtin", short):
            _register(pm, loaded, LoadedPlugin(short, __version__, "builtin", _import(path, short, "builtin module")))

    skipped: list[str] = []
    for ep in entry_points():
        dist, version = _dist_of(ep)
        known.update((ep.name, dist))
        if not wanted(ep.name, dist):
            skipped.append(ep.name)
            continue
        source = f"entry point of {dist}"
        try:
            obj = ep.load()
        except Exception as err:  # any import-time failure of third-party code
            raise PluginError(
                f"plugin '{ep.name}' (entry point '{ep.value}' of {dist}) failed to import: "
                f"{_first_line(err)}; start without it with {ENV_VAR}=builtin"
            ) from err
        _register(pm, loaded, LoadedPlugin(ep.name, version, source, obj))

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
        _register(pm, loaded, LoadedPlugin(name, getattr(obj, "__version__", "?"), source, obj))

    try:
        pm.check_pending()
    except pluggy.PluginValidationError as err:
        plugin = getattr(err, "plugin", None)
        who = pm.get_name(plugin) if plugin is not None else "a plugin"
        raise PluginError(
            f"plugin '{who}' implements an unknown hook ({_first_line(err)}); "
            f"known hooks: {', '.join(hookspecs.HOOK_NAMES)}"
        ) from err
    return pm, loaded, skipped


def _import(path: str, name: str, what: str) -> ModuleType:
    try:
        return importlib.import_module(path)
    except Exception as err:
        raise PluginError(f"plugin '{name}' ({what} '{path}') failed to import: {_first_line(err)}") from err
