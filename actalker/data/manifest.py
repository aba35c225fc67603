"""manifest.json of a data folder: its clips, identities and train/val/test splits.

Splits are by identity, so no identity appears in two splits. An identity's split is a
pure function of its name (sha256 -> a number in [0, 1): < 0.8 train, < 0.9 val, else
test), so adding clips never moves an existing identity to another split. With three or
more identities, an empty val or test split is filled with the identity whose hash lies
closest to that split's range, so small data sets still have held-out identities.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from actalker.data.clip import Clip, read_format_json
from actalker.errors import InputError
from actalker.utils.atomic import write_text_atomic

MANIFEST = "manifest.json"
SPLITS = ("train", "val", "test")
FRACTIONS = (0.8, 0.1, 0.1)
VERSION = 1


def identity_hash(identity: str) -> float:
    return int.from_bytes(hashlib.sha256(identity.encode()).digest()[:8], "big") / 2.0**64


def split_identities(identities: list[str]) -> dict[str, list[str]]:
    h = {i: identity_hash(i) for i in sorted(set(identities))}
    edges = (0.0, FRACTIONS[0], FRACTIONS[0] + FRACTIONS[1], 1.0)
    out = {s: [i for i in h if edges[k] <= h[i] < edges[k + 1]] for k, s in enumerate(SPLITS)}
    if len(h) >= 3:
        for k in (2, 1):  # test first: it takes from the top of train
            if not out[SPLITS[k]]:
                donors = [i for s in SPLITS if s != SPLITS[k] and len(out[s]) > 1 for i in out[s]]
                mid = (edges[k] + edges[k + 1]) / 2
                pick = min(donors, key=lambda i: abs(h[i] - mid))
                for s in SPLITS:
                    if pick in out[s]:
                        out[s].remove(pick)
                out[SPLITS[k]].append(pick)
    return {s: sorted(v) for s, v in out.items()}


def build_manifest(root: str | Path) -> dict:
    """Scan ``root/clips/*/meta.json`` and write ``root/manifest.json`` atomically."""
    root = Path(root)
    clips = []
    for meta in sorted((root / "clips").glob("*/meta.json")):
        c = Clip.read(meta.parent)
        clips.append({"id": c.id, "identity": c.identity, "path": f"clips/{meta.parent.name}",
                      "num_frames": c.num_frames, "fps": c.fps, "height": c.height, "width": c.width,
                      "has_audio": c.has_audio, "truth": sorted(c.meta.get("truth", [])),
                      "kind": c.meta.get("source", {}).get("kind", "unknown")})
    kinds = sorted({c["kind"] for c in clips})
    kind = kinds[0] if len(kinds) == 1 else ("mixed" if kinds else "empty")
    identities = sorted({c["identity"] for c in clips})
    manifest = {"format": "actalker-data", "version": VERSION, "kind": kind, "clips": clips,
                "identities": identities, "splits": split_identities(identities)}
    write_text_atomic(root / MANIFEST, json.dumps(manifest, indent=1))
    return manifest


def load_manifest(root: str | Path) -> dict:
    """Read and validate ``root/manifest.json``; InputError naming the file on any problem."""
    path = Path(root) / MANIFEST
    m = read_format_json(path, "actalker-data", VERSION,
                         "a data folder made by `actalker synth` or `actalker preprocess`")
    for key in ("clips", "identities", "splits"):
        if key not in m:
            raise InputError(f"{path}: missing key '{key}'")
    ids = set(m["identities"])
    seen: dict[str, str] = {}
    for s in SPLITS:
        for i in m["splits"].get(s, []):
            if i in seen:
                raise InputError(f"{path}: identity '{i}' is in both splits '{seen[i]}' and '{s}'")
            if i not in ids:
                raise InputError(f"{path}: split '{s}' names unknown identity '{i}'")
            seen[i] = s
    for c in m["clips"]:
        if c.get("identity") not in seen:
            raise InputError(f"{path}: clip '{c.get('id')}' has identity '{c.get('identity')}' in no split")
        if not (Path(root) / c["path"] / "meta.json").is_file():
            raise InputError(f"{path}: clip folder {c['path']} is missing")
    return m


def split_clips(manifest: dict, split: str) -> list[dict]:
    if split not in SPLITS and split != "all":
        raise InputError(f"unknown split '{split}': expected one of {SPLITS + ('all',)}")
    if split == "all":
        return list(manifest["clips"])
    ids = set(manifest["splits"][split])
    return [c for c in manifest["clips"] if c["identity"] in ids]
