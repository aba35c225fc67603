"""The registry: every modality and region the loaded plugins declare, checked on arrival.

Hooks are called one plugin at a time with host-owned ``register`` callbacks, so each
declaration is attributed to its plugin: a duplicate name names both plugins, an invalid
declaration names the plugin that made it.
"""
from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Callable, Iterable, Optional

from actalker.errors import PluginError
from actalker.plugins.manager import DISABLE_VAR, ENV_VAR, BrokenPlugin, LoadedPlugin, build_manager
from actalker.plugins.spec import ControlTarget, ModalitySpec, PluginInfo, RegionSpec
from actalker.plugins.validation import is_model_class

NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
FLAG_RE = re.compile(r"^[a-z][a-z0-9-]*$")

# Where to get modalities a saved model may need but this install lacks (hint only).
KNOWN_PROVIDERS = {
    "eeg": "actalker-eeg (plugins_contrib/actalker-eeg)",
    "headpose": "actalker-headpose (plugins_contrib/actalker-headpose)",
    "blink": "actalker-blink (plugins_contrib/actalker-blink)",
}


@dataclass
class Registry:
    """Modalities and regions by name, and the plugins that provided them."""

    modalities: dict[str, ModalitySpec] = field(default_factory=dict)
    regions: dict[str, RegionSpec] = field(default_factory=dict)
    plugins: list[PluginInfo] = field(default_factory=list)
    owners: dict[str, str] = field(default_factory=dict)  # "modality:audio" -> plugin name
    not_loaded: list[str] = field(default_factory=list)  # installed entry points left out
    disabled: list[str] = field(default_factory=list)  # switched off by ACTALKER_DISABLE_PLUGINS
    broken: list[BrokenPlugin] = field(default_factory=list)  # installed plugins that failed

    def modality(self, name: str) -> ModalitySpec:
        if name in self.modalities:
            return self.modalities[name]
        installed = ", ".join(sorted(self.modalities)) or "none"
        raise PluginError(f"unknown modality '{name}' (installed: {installed}){self._missing_hint(name)}")

    def _missing_hint(self, name: str) -> str:
        """Why a modality may be missing: a broken, switched-off or unselected plugin."""
        broken = [b for b in self.broken if b.name == name or name in b.source]
        if broken:
            return f"; plugin '{broken[0].name}' is installed but broken: {broken[0].reason}"
        if name in self.disabled:
            return f"; plugin '{name}' is switched off by {DISABLE_VAR}"
        if name in self.not_loaded:
            return f"; plugin '{name}' is installed but not selected by {ENV_VAR}"
        hint = f"; it is provided by the package {KNOWN_PROVIDERS[name]}" if name in KNOWN_PROVIDERS else ""
        if self.broken:  # it may be declared by a plugin that failed before declaring anything
            hint += "; broken plugins: " + ", ".join(f"'{b.name}' ({b.reason})" for b in self.broken)
        return hint

    def region(self, name: str) -> RegionSpec:
        if name in self.regions:
            return self.regions[name]
        installed = ", ".join(sorted(self.regions)) or "none"
        raise PluginError(f"unknown region '{name}' (installed: {installed})")


def _check_name(kind: str, name: Any, plugin: str) -> None:
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise PluginError(
            f"plugin '{plugin}' declared a {kind} named {name!r}; expected lowercase letters, digits and '_', starting with a letter"
        )


def _check_region(spec: Any, plugin: str) -> None:
    if not isinstance(spec, RegionSpec):
        raise PluginError(f"plugin '{plugin}' passed {type(spec).__name__} to register_regions; expected a RegionSpec")
    _check_name("region", spec.name, plugin)
    if not callable(spec.mask):
        raise PluginError(f"plugin '{plugin}': region '{spec.name}' has a mask that is not callable")


def _check_modality(spec: Any, plugin: str, regions: dict[str, RegionSpec]) -> None:
    if not isinstance(spec, ModalitySpec):
        raise PluginError(f"plugin '{plugin}' passed {type(spec).__name__} to register_modalities; expected a ModalitySpec")
    _check_name("modality", spec.name, plugin)
    where = f"plugin '{plugin}': modality '{spec.name}'"
    model = spec.options_model
    if not is_model_class(model):
        raise PluginError(f"{where} has options_model {model!r}; expected a pydantic BaseModel subclass")
    if model.model_config.get("extra") != "forbid":
        raise PluginError(f"{where} has options_model {model.__name__} without extra='forbid' (typos would pass silently)")
    for attr in ("feature_shape", "load", "from_clip", "build_encoder", "null_features"):
        if not callable(getattr(spec, attr)):
            raise PluginError(f"{where} has {attr} that is not callable")
    for attr in ("default_region", "solo_region"):
        region = getattr(spec, attr)
        if region not in regions:
            raise PluginError(f"{where} has {attr} '{region}', which is not a known region ({', '.join(sorted(regions))})")
    gate = spec.default_gate
    if isinstance(gate, bool) or not isinstance(gate, (int, float)) or not math.isfinite(gate) or gate < 0:
        raise PluginError(f"{where} has default_gate {gate!r}; expected a finite number >= 0")
    if not isinstance(spec.drives, tuple) or not all(isinstance(t, ControlTarget) for t in spec.drives):
        raise PluginError(f"{where} has drives {spec.drives!r}; expected a tuple of ControlTarget")
    if spec.cli_flag is not None and (not isinstance(spec.cli_flag, str) or not FLAG_RE.match(spec.cli_flag)):
        raise PluginError(f"{where} has cli_flag {spec.cli_flag!r}; expected lowercase letters, digits and '-'")


def _call_hook(pm, hook_name: str, loaded: list[LoadedPlugin], make_register: Callable[[str], Callable],
               on_fault: Callable[[LoadedPlugin, PluginError], None]) -> None:
    """Call one hook plugin by plugin, in load order, each with its own ``register``.

    A fault of an isolated plugin (an installed entry point) goes to ``on_fault``; a
    built-in's or an explicitly passed module's is raised."""
    by_obj = {id(p.obj): p for p in loaded}
    order = {p.name: i for i, p in enumerate(loaded)}
    impls = [i for i in getattr(pm.hook, hook_name).get_hookimpls() if id(i.plugin) in by_obj]  # not broken
    for impl in sorted(impls, key=lambda i: order[by_obj[id(i.plugin)].name]):  # pluggy: last registered first
        plugin = by_obj[id(impl.plugin)]
        kwargs = {"register": make_register(plugin.name)}
        try:
            try:
                impl.function(*[kwargs[a] for a in impl.argnames])
            except PluginError:
                raise
            except Exception as err:
                msg = str(err).strip().splitlines()
                raise PluginError(
                    f"plugin '{plugin.name}' failed in {hook_name}: {type(err).__name__}: {msg[0] if msg else ''}"
                ) from err
        except PluginError as err:
            if not plugin.isolated:
                raise
            on_fault(plugin, err)


def load_registry(
    names: Optional[str | Iterable[str]] = None,
    plugins: Iterable[ModuleType | str] = (),
) -> Registry:
    """Load plugins into a fresh manager and collect their declarations.

    ``names``: which plugins (same syntax as ``ACTALKER_PLUGINS``, which it overrides);
    ``plugins``: extra plugin modules or dotted paths, registered after the installed ones.
    """
    res = build_manager(names, plugins)
    reg = Registry(not_loaded=res.skipped, disabled=res.disabled, broken=list(res.broken))
    collect = _Declarations(reg, res.pm, res.loaded)
    # Regions first: modalities name their default regions, which must already exist.
    _call_hook(res.pm, "register_regions", res.loaded, collect.region_register, collect.fault)
    _call_hook(res.pm, "register_modalities", res.loaded, collect.modality_register, collect.fault)
    reg.plugins.extend(collect.plugin_info(p) for p in res.loaded)
    return reg


class _Declarations:
    """Collects what each plugin declares into ``reg``, attributed to its plugin."""

    def __init__(self, reg: Registry, pm, loaded: list[LoadedPlugin]):
        self.reg, self.pm, self.loaded = reg, pm, loaded
        self.added: dict[str, dict[str, list[str]]] = {p.name: {"modality": [], "region": []} for p in loaded}

    def fault(self, plugin: LoadedPlugin, err: PluginError) -> None:
        """Drop everything ``plugin`` declared and list it as broken."""
        reg = self.reg
        for key, owner in list(reg.owners.items()):
            if owner == plugin.name:
                kind, name = key.split(":", 1)
                del reg.owners[key]
                {"modality": reg.modalities, "region": reg.regions}.get(kind, {}).pop(name, None)
        self.loaded.remove(plugin)
        if self.pm.is_registered(plugin.obj):
            self.pm.unregister(plugin.obj)
        reg.broken.append(BrokenPlugin(plugin.name, plugin.version, plugin.source, str(err)))

    def claim(self, kind: str, name: str, plugin: str) -> None:
        key = f"{kind}:{name}"
        if key in self.reg.owners:
            raise PluginError(f"{kind} '{name}' is declared by both plugin '{self.reg.owners[key]}' and plugin '{plugin}'")
        self.reg.owners[key] = plugin
        self.added[plugin].setdefault(kind, []).append(name)

    def region_register(self, plugin: str) -> Callable[[RegionSpec], None]:
        def register(spec: RegionSpec) -> None:
            _check_region(spec, plugin)
            self.claim("region", spec.name, plugin)
            self.reg.regions[spec.name] = spec
        return register

    def modality_register(self, plugin: str) -> Callable[[ModalitySpec], None]:
        def register(spec: ModalitySpec) -> None:
            _check_modality(spec, plugin, self.reg.regions)
            self.claim("modality", spec.name, plugin)
            if spec.cli_flag:
                self.claim("cli flag", spec.cli_flag, plugin)
            self.reg.modalities[spec.name] = dataclasses.replace(spec, plugin=plugin)
        return register

    def plugin_info(self, p: LoadedPlugin) -> PluginInfo:
        hooks = tuple(sorted(c.name for c in (self.pm.get_hookcallers(p.obj) or [])))
        added = self.added[p.name]
        return PluginInfo(name=p.name, version=p.version, source=p.source, hooks=hooks,
                          modalities=tuple(added["modality"]), regions=tuple(added["region"]))
