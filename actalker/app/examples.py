"""The ready example: the demo's held-out synthetic identity, written as files the page can
show (portrait PNG, one input file per branch whose modality has an example writer).

When the page's inputs are these files (same bytes), the example's own face landmarks and
features are used, so the example needs no face model and works offline."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np


def digest(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _write_wav(path: Path, inputs: dict) -> Path:
    from actalker.media import write_wav

    return write_wav(path.with_suffix(".wav"), np.asarray(inputs["face"]["audio"], np.float32))


def _write_driver(path: Path, inputs: dict) -> Path:
    from actalker.media.video import write_video

    return write_video(path.with_suffix(".mp4"), np.asarray(inputs["driver_frames"]), inputs["fps"])


# How the demo's inputs become a file for a modality; a modality without one gets no file.
WRITERS: dict[str, Callable[[Path, dict], Path]] = {"audio": _write_wav, "motion": _write_driver}


@dataclass
class Example:
    portrait: Path
    files: dict[str, Path]          # branch -> input file
    landmarks: np.ndarray
    boxes: np.ndarray
    conditions: dict                # branch -> features (F, *feat)
    fps: float
    num_frames: int
    digests: dict[str, str] = field(default_factory=dict)  # "portrait" / branch -> sha256

    def matches(self, key: str, path: Optional[str]) -> bool:
        return path is not None and key in self.digests and Path(path).is_file() and digest(path) == self.digests[key]


def make_example(pipe, folder) -> Example:
    """Write the demo inputs at the model's size and frame rate into ``folder``."""
    from PIL import Image

    from actalker.demo.run import DEMO_FRAMES, conditions_for, make_inputs

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    s = pipe.config.sampling
    inputs = make_inputs(num_frames=DEMO_FRAMES, size=int(s.height), fps=float(s.fps))
    face = inputs["face"]
    portrait = folder / "portrait.png"
    Image.fromarray(np.asarray(face["frames"][0])).save(portrait)
    files = {b.name: WRITERS[b.modality](folder / b.name, inputs) for b in pipe.branches if b.modality in WRITERS}
    ex = Example(portrait, files, np.asarray(face["landmarks"][:1], np.float32), np.asarray(face["boxes"][:1], np.float32),
                 conditions_for(pipe, inputs), float(s.fps), int(inputs["num_frames"]))
    ex.digests = {"portrait": digest(portrait), **{k: digest(v) for k, v in files.items()}}
    return ex
