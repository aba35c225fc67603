"""What a model was trained on, recorded in its model folder (``training_data`` in
``actalker_model.json``) so that ``generate`` can say when an input does not look like it:

    {"root", "kind": synthetic | real | mixed, "split", "clips", "identities",
     "size" (training frame side, px), "fps", "source_sizes" (clip frame sizes, HxW)}

A model folder without it (older ones) gets no such notice. ``actalker.demo.model``'s export
carries it over; the shipped demo model's was added by hand (issue 12; weights untouched).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

from actalker.core.model_folder import MODEL_INDEX
from actalker.utils.atomic import write_text_atomic

KEY = "training_data"


def training_data_record(data_cfg) -> Optional[dict]:
    """The record of the ``data`` section's training split (None without a data root or a
    readable manifest: the record is a courtesy, never a reason for a finished run to fail)."""
    from actalker.data.manifest import load_manifest
    from actalker.errors import ActalkerError

    if not data_cfg.root:
        return None
    try:
        manifest = load_manifest(data_cfg.root)
    except (ActalkerError, OSError):
        return None
    identities = set(manifest["splits"].get(data_cfg.train_split, []))
    clips = [c for c in manifest["clips"] if c["identity"] in identities]
    kinds = sorted({c.get("kind", "unknown") for c in clips})
    return {"root": str(Path(data_cfg.root).expanduser().resolve()),
            "kind": kinds[0] if len(kinds) == 1 else ("mixed" if kinds else "empty"),
            "split": data_cfg.train_split, "clips": len(clips), "identities": len(identities),
            "size": int(data_cfg.size), "fps": float(data_cfg.fps),
            "source_sizes": sorted({f"{c.get('height')}x{c.get('width')}" for c in clips})[:8]}


def write_training_data(model_dir: Path, record: Optional[dict]) -> None:
    """Add the record to the model folder's index (atomic: the old index or the new one)."""
    if record is None:
        return
    index_file = Path(model_dir) / MODEL_INDEX
    index = json.loads(index_file.read_text())
    index[KEY] = record
    write_text_atomic(index_file, json.dumps(index, indent=2) + "\n")


__all__ = ["KEY", "training_data_record", "write_training_data"]
