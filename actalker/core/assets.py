"""What a model folder carries besides weights: the files a branch's options point at.

A plugin marks an option that names a file or folder the branch needs at generation time
(a Whisper model folder, say) with ``Field(..., json_schema_extra={"asset": True})``. When a
model folder is written, each such path is copied (hard-linked where the file system
allows) into ``assets/<branch>/<option>`` and the option saved as that relative path, in
``config.yaml`` and in the denoiser's config; when it is read, relative asset paths are
made absolute under the folder. Moving or deleting the original then breaks nothing.
No signal is named here: which options are assets is the plugins' word.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping

from actalker.utils.files import link_or_copy, link_or_copy_tree

ASSET_KEY = "asset"
ASSETS_DIR = "assets"


def asset_fields(options_model) -> list[str]:
    """The options of a plugin's options model marked as assets."""
    fields = getattr(options_model, "model_fields", {})
    return [name for name, f in fields.items() if isinstance(f.json_schema_extra, dict)
            and f.json_schema_extra.get(ASSET_KEY)]


def _fields(branch_name: str, branch: Mapping, registry) -> list[str]:
    spec = registry.modalities.get(branch.get("modality") or branch_name)
    return asset_fields(spec.options_model) if spec is not None else []


def carry_assets(folder: Path, branches: Mapping[str, Mapping], registry) -> dict[str, dict[str, str]]:
    """Copy every branch's asset paths into ``folder/assets``; -> {branch: {option: relative path}}."""
    moved: dict[str, dict[str, str]] = {}
    for name, branch in branches.items():
        options = branch.get("options") or {}
        for field in _fields(name, branch, registry):
            src = options.get(field)
            if not src:
                continue
            src, rel = Path(src).expanduser(), f"{ASSETS_DIR}/{name}/{field}"
            if not src.exists():
                continue  # the plugin's own check names a missing path when the branch is used
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            if src.is_dir():
                link_or_copy_tree(src, folder / rel)
            else:
                link_or_copy(src, folder / rel)
            moved.setdefault(name, {})[field] = rel
    return moved


def with_options(branches: Mapping[str, Mapping], changes: Mapping[str, Mapping[str, str]]) -> dict:
    """``branches`` with the given options replaced (a copy)."""
    out = {}
    for name, branch in branches.items():
        branch = dict(branch or {})
        if name in changes:
            branch["options"] = {**(branch.get("options") or {}), **changes[name]}
        out[name] = branch
    return out


def rewrite_config_file(path: Path, key: str, changes: Mapping[str, Mapping[str, str]]) -> None:
    """Replace options of ``key`` (a branches dict) in a saved JSON config."""
    data = json.loads(path.read_text())
    data[key] = with_options(data.get(key) or {}, changes)
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def absolute_assets(branches: Mapping[str, Mapping], registry, root: Path) -> dict:
    """Relative asset paths that exist under ``root`` made absolute (others left as given)."""
    changes: dict[str, dict[str, str]] = {}
    for name, branch in (branches or {}).items():
        options = (branch or {}).get("options") or {}
        for field in _fields(name, branch or {}, registry):
            value = options.get(field)
            if value and not Path(value).is_absolute() and (root / value).exists():
                changes.setdefault(name, {})[field] = str((root / value).resolve())
    return with_options(branches or {}, changes)


__all__ = ["ASSETS_DIR", "ASSET_KEY", "absolute_assets", "asset_fields", "carry_assets", "rewrite_config_file",
           "with_options"]
