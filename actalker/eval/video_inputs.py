"""What `actalker eval video` measures on, loaded once and shared by the metrics: the
videos, audio, reference face, the user's networks (loaded on first use) and face tracks.

Each ``compute_*`` returns ``{key: value}`` or raises ``NotComputed(reason)`` when an input
it needs is absent (the report says what to give)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from actalker.errors import ShapeError


class NotComputed(Exception):
    """The metric cannot run with the inputs given; the message says what to add."""


@dataclass
class VideoInputs:
    generated: np.ndarray                     # uint8 (F, H, W, 3)
    fps: float
    reference: Optional[np.ndarray] = None    # ground truth (self-reenactment)
    driving: Optional[np.ndarray] = None      # the driving video (cross-reenactment)
    audio: Optional[np.ndarray] = None        # float32 16 kHz mono
    reference_image: Optional[np.ndarray] = None  # the portrait (identity source)
    weights: dict[str, str] = field(default_factory=dict)  # option -> path
    face_model: Optional[str] = None
    tracker: Any = None                       # anything with track(frames, fps) (tests: a stand-in)
    _nets: dict = field(default_factory=dict, repr=False)
    _tracks: dict = field(default_factory=dict, repr=False)

    def available(self, need: str) -> bool:
        if need == "face":
            return self.tracker is not None or self.face_model is not None
        return getattr(self, need) is not None or (need == "reference_image" and self.reference is not None)

    def net(self, flag: str):
        if flag not in self._nets:
            from actalker.eval.feature_metrics import load_network

            self._nets[flag] = load_network(self.weights[flag], flag)
        return self._nets[flag]

    def face_tracker(self):
        if self.tracker is None:
            from actalker.media.face import FaceTracker

            self.tracker = FaceTracker(self.face_model)
        return self.tracker

    def track(self, name: str):
        """The face track of ``generated``, ``reference``, ``driving`` or ``reference_image``."""
        if name not in self._tracks:
            frames = self.portrait()[None] if name == "reference_image" else getattr(self, name)
            self._tracks[name] = self.face_tracker().track(frames, self.fps)
        return self._tracks[name]

    def portrait(self) -> np.ndarray:
        return self.reference_image if self.reference_image is not None else self.reference[0]

    def boxes(self, name: str):
        """Face boxes when a face model is given, else None (whole frames are used)."""
        return self.track(name).boxes if self.available("face") else None


def _paired(a: np.ndarray, b: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray]:
    if a.shape[1:] != b.shape[1:]:
        raise ShapeError(f"{what}: generated frames are {a.shape[2]}x{a.shape[1]} but the reference is "
                         f"{b.shape[2]}x{b.shape[1]}; give videos of one size")
    n = min(len(a), len(b))
    return a[:n], b[:n]


def compute_psnr(x: VideoInputs) -> dict:
    from actalker.eval.video_metrics import psnr

    return {"psnr": psnr(*_paired(x.generated, x.reference, "PSNR"))}


def compute_ssim(x: VideoInputs) -> dict:
    from actalker.eval.video_metrics import ssim

    return {"ssim": ssim(*_paired(x.generated, x.reference, "SSIM"))}


def compute_lmd(x: VideoInputs) -> dict:
    from actalker.eval.landmark_distance import landmark_distance

    against = "reference" if x.reference is not None else ("driving" if x.driving is not None else None)
    if against is None:
        raise NotComputed("needs --reference or --driving")
    gen, real = _paired(x.generated, getattr(x, against), "LMD")
    tg, tr = x.track("generated"), x.track(against)
    n = len(gen)
    out = landmark_distance(tg.landmarks[:n], tr.landmarks[:n], gen.shape[1], gen.shape[2],
                            valid=np.asarray(tg.found[:n]) & np.asarray(tr.found[:n]))
    out["lmd_against"] = against
    return out


def compute_identity(x: VideoInputs) -> dict:
    from actalker.eval.feature_metrics import identity_similarity

    ref_box = x.boxes("reference_image")
    return {"identity": identity_similarity(x.net("arcface"), x.generated, x.portrait(), x.boxes("generated"),
                                            None if ref_box is None else ref_box[0])}


def compute_sync(x: VideoInputs) -> dict:
    from actalker.eval.feature_metrics import sync_metrics

    return sync_metrics(x.net("syncnet"), x.generated, x.fps, x.audio, x.boxes("generated"))


def compute_fid(x: VideoInputs) -> dict:
    from actalker.eval.feature_metrics import fid

    return {"fid": fid(x.net("inception"), x.generated, x.reference)}


def compute_fvd(x: VideoInputs) -> dict:
    from actalker.eval.feature_metrics import fvd

    return {"fvd": fvd(x.net("i3d"), x.generated, x.reference)}
