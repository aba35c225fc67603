"""The model folder: what ``ACTalkerPipeline.save_pretrained`` writes and ``from_pretrained`` reads.

    actalker_model.json   format, version, component classes, branches and their plugins
    config.yaml           the resolved config the model was built with (sampling and
                          guidance defaults for generation come from here)
    denoiser/ vae/ scheduler/ [identity/]   each saved with its own save_pretrained

Written atomically (a reader never sees half a model). Component classes are imported only
from actalker, diffusers or transformers.
"""
from __future__ import annotations

import importlib
import inspect
import json
import os
from pathlib import Path
from typing import Optional

import torch

from actalker.core.schema import Config, validate_config
from actalker.errors import InputError, PluginError
from actalker.utils.atomic import atomic_dir

MODEL_INDEX = "actalker_model.json"
CONFIG_FILE = "config.yaml"
FORMAT = "actalker-model"
FORMAT_VERSION = 1
COMPONENTS = ("denoiser", "vae", "scheduler", "identity")
_ALLOWED_MODULE_PREFIXES = ("actalker.", "diffusers", "transformers")
# Component classes that moved: the path older model folders' index names -> where the class lives now.
MOVED_CLASSES = {"actalker.core.pipeline:ClipIdentityEncoder": "actalker.core.identity:ClipIdentityEncoder"}


def save_model_folder(path: str | os.PathLike, components: dict, config: Config, branch_plugins: dict,
                      registry=None) -> Path:
    """components: name -> object with save_pretrained (None: left out); branch_plugins:
    branch -> {"modality", "plugin"}; registry: names the branch options that are assets
    (copied into ``assets/``, saved as relative paths)."""
    from omegaconf import OmegaConf

    path = Path(path)
    with atomic_dir(path) as tmp:
        classes = {}
        for name, obj in components.items():
            if obj is not None:
                obj.save_pretrained(tmp / name)
                classes[name] = _class_path(obj)
        if registry is not None:
            config = _carry_assets(tmp, components.get("denoiser"), config, registry)
        (tmp / CONFIG_FILE).write_text(OmegaConf.to_yaml(OmegaConf.create(config.model_dump(mode="json"))))
        index = {"format": FORMAT, "version": FORMAT_VERSION, "components": classes, "branches": branch_plugins}
        (tmp / MODEL_INDEX).write_text(json.dumps(index, indent=2) + "\n")
    return path


def _carry_assets(tmp: Path, denoiser, config: Config, registry) -> Config:
    """Copy the branches' asset paths into the folder; relative paths in both configs."""
    from actalker.core.assets import carry_assets, rewrite_config_file, with_options

    branches = dict(getattr(getattr(denoiser, "config", None), "branches", None) or {})
    moved = carry_assets(tmp, branches, registry)
    if not moved:
        return config
    config_file = tmp / "denoiser" / getattr(denoiser, "config_name", "config.json")
    if config_file.is_file():
        rewrite_config_file(config_file, "branches", moved)
    raw = config.model_dump(mode="json")
    raw["model"]["branches"] = with_options(raw["model"]["branches"], moved)
    return validate_config(raw)


def absolute_assets_config(config: Config, registry, path: Path) -> Config:
    """A read config with the folder's relative asset paths made absolute."""
    from actalker.core.assets import absolute_assets

    raw = config.model_dump(mode="json")
    raw["model"]["branches"] = absolute_assets(raw["model"]["branches"], registry, path)
    return validate_config(raw)


def read_index(path: Path) -> dict:
    index_file = path / MODEL_INDEX
    if not path.is_dir():
        raise InputError(f"model folder not found: {path}")
    if not index_file.is_file():
        raise InputError(f"{path} is not an actalker model folder: {MODEL_INDEX} is missing")
    try:
        index = json.loads(index_file.read_text())
    except (OSError, ValueError) as err:
        raise InputError(f"cannot read {index_file}: {err}") from None
    if index.get("format") != FORMAT or int(index.get("version", 0)) > FORMAT_VERSION:
        raise InputError(f"{index_file} has format {index.get('format')!r} version {index.get('version')!r}; "
                         f"expected {FORMAT!r} version <= {FORMAT_VERSION}")
    for name in ("denoiser", "vae", "scheduler"):
        if name not in index.get("components", {}):
            raise InputError(f"{index_file} lists no '{name}' component")
    return index


def check_branch_plugins(path: Path, index: dict, registry) -> None:
    """Every branch's modality is installed (before any weights are read)."""
    for name, info in (index.get("branches") or {}).items():
        try:
            registry.modality(info["modality"])
        except PluginError as err:
            raise PluginError(f"model {path} needs branch '{name}': {err}") from None


def read_config(path: Path) -> Config:
    from omegaconf import OmegaConf

    try:
        raw = OmegaConf.to_container(OmegaConf.load(path / CONFIG_FILE), resolve=True)
    except Exception as err:
        raise InputError(f"cannot read {path / CONFIG_FILE}: {str(err).splitlines()[0]}") from None
    return validate_config(raw)


def default_dtype(device: Optional[torch.device]) -> torch.dtype:
    """Half precision on CUDA, float32 elsewhere, whatever the files hold."""
    return torch.float16 if device is not None and device.type == "cuda" else torch.float32


def load_components(path: Path, index: dict, registry, dtype: torch.dtype) -> dict:
    """name -> loaded component (denoiser and VAE in ``dtype``, as diffusers loads them)."""
    loaded = {}
    for name in COMPONENTS:
        if name not in index["components"]:
            continue
        klass = _import_class(index["components"][name])
        sub = path / name
        if not sub.is_dir():
            raise InputError(f"model folder {path} is incomplete: {name}/ is missing")
        kwargs = {}
        if name == "denoiser" and _accepts(klass.from_pretrained, "registry"):
            kwargs["registry"] = registry
        if name == "denoiser" and _accepts(klass.from_pretrained, "resolve_branches"):
            from actalker.core.assets import absolute_assets

            kwargs["resolve_branches"] = lambda branches: absolute_assets(branches, registry, path)
        if name in ("denoiser", "vae"):
            kwargs["torch_dtype"] = dtype  # diffusers' way (casting after loading warns)
        loaded[name] = _load_component(klass, sub, kwargs, f"model folder {path}: {name}")
    if loaded.get("identity") is not None and isinstance(loaded["identity"], torch.nn.Module):
        loaded["identity"].to(dtype=dtype)
    return loaded


def _load_component(klass, sub: Path, kwargs: dict, what: str):
    """``klass.from_pretrained``; for a diffusers model, every tensor it needs must be in the
    file: a missing one would otherwise stay random behind a library warning."""
    from diffusers import ModelMixin
    from diffusers.utils import logging as diffusers_logging

    if not (isinstance(klass, type) and issubclass(klass, ModelMixin)):
        return klass.from_pretrained(sub, **kwargs)
    level = diffusers_logging.get_verbosity()
    diffusers_logging.set_verbosity_error()  # its "newly initialized" warning is replaced by the error below
    try:
        model, info = klass.from_pretrained(sub, output_loading_info=True, **kwargs)
    finally:
        diffusers_logging.set_verbosity(level)
    check_loaded_tensors(info, what)
    return model


def tensor_groups(keys) -> str:
    """'encoders.audio (10 tensors), guider.net (4 tensors)': keys grouped by their first two
    parts (a branch's encoder, a PCM layer, a backbone block)."""
    counts: dict[str, int] = {}
    for key in sorted(keys):
        group = ".".join(key.split(".")[:2])
        counts[group] = counts.get(group, 0) + 1
    return ", ".join(f"{g} ({n} tensor{'s' if n > 1 else ''})" for g, n in counts.items())


def check_loaded_tensors(info: dict, what: str) -> None:
    """One line when the weights file lacks tensors the model has, or holds ones it has not."""
    missing, unexpected = info.get("missing_keys") or [], info.get("unexpected_keys") or []
    if missing:
        raise InputError(f"{what} weights lack {len(missing)} tensors the model needs: {tensor_groups(missing)}; "
                         "the file is from another model or damaged")
    if unexpected:
        raise InputError(f"{what} weights hold {len(unexpected)} tensors the model does not have: "
                         f"{tensor_groups(unexpected)}; the file is from another model (see its config.json)")


def _class_path(obj) -> str:
    k = type(obj)
    return f"{k.__module__}:{k.__qualname__}"


def _import_class(path: str):
    path = MOVED_CLASSES.get(str(path), path)
    module, _, name = str(path).partition(":")
    if not module.startswith(_ALLOWED_MODULE_PREFIXES) or not name:
        raise InputError(f"model component class {path!r} is not an actalker, diffusers or transformers class")
    try:
        obj = importlib.import_module(module)
        for part in name.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as err:
        raise InputError(f"cannot load model component class {path!r}: {err}") from None
    return obj


def _accepts(fn, arg: str) -> bool:
    try:
        return arg in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


__all__ = ["CONFIG_FILE", "FORMAT", "FORMAT_VERSION", "MODEL_INDEX", "absolute_assets_config", "check_branch_plugins",
           "default_dtype",
           "load_components", "read_config", "read_index", "save_model_folder"]
