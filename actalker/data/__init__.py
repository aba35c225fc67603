"""Clip data: the on-disk clip format, the manifest with identity-disjoint splits, the
windowed torch dataset, real-video preprocessing and the synthetic world (docs/data.md)."""
from actalker.data.clip import Clip, write_clip
from actalker.data.dataset import ClipDataset
from actalker.data.manifest import build_manifest, load_manifest

__all__ = ["Clip", "ClipDataset", "build_manifest", "load_manifest", "write_clip"]
