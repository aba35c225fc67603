"""Metrics on features of pretrained networks: FID, FVD, identity similarity, Sync-C/Sync-D.

No weights are downloaded: each network is a TorchScript file the user gives
(``torch.jit.load``; export one with ``torch.jit.script(model).save(path)`` or
``torch.jit.trace``). Interfaces (what the file must accept and return):

- Inception (FID, ``--inception``): ``(N, 3, H, W)`` float RGB in [0, 255] -> ``(N, 2048)``
  pool features. Called with ``return_features=True`` when the module accepts it, so
  StyleGAN2-ADA's ``inception-2015-12-05.pt`` (the TensorFlow FID network as TorchScript)
  works as is; frames are resized to 299 x 299 first.
- I3D (FVD, ``--i3d``): ``(N, 3, 16, 224, 224)`` float RGB in [-1, 1] -> ``(N, 400)``;
  called with ``rescale=False, resize=True, return_features=True`` when accepted
  (StyleGAN-V's ``i3d_torchscript.pt``). Videos are cut into non-overlapping 16-frame clips.
- ArcFace (identity, ``--arcface``): ``(N, 3, 112, 112)`` float RGB in [-1, 1] ->
  ``(N, 512)`` embeddings of face crops.
- SyncNet (``--syncnet``): a module with the methods of joonson/syncnet_python's
  ``SyncNetModel.S``: ``forward_lip((N, 3, 5, 224, 224) float BGR in [0, 255])`` and
  ``forward_aud((N, 1, 13, 20) MFCCs)`` -> ``(N, D)`` each (script it with those two methods
  exported). Video is resampled to 25 fps, audio is 16 kHz.

Definitions (the field's):
- FID / FVD: Frechet distance between Gaussians fitted to the two feature sets,
  ``|mu1 - mu2|^2 + tr(S1 + S2 - 2 (S1 S2)^(1/2))``; the trace of the square root is computed
  from the eigenvalues of ``S1^(1/2) S2 S1^(1/2)`` (symmetric, so no complex parts).
  With a few hundred frames or a few clips both are biased upwards: compare numbers only
  at equal sample counts.
- Identity similarity (CSIM): mean cosine between the ArcFace embedding of each generated
  frame's face and that of the reference face.
- Sync-D / Sync-C (syncnet_python's ``evaluate``): for every 5-frame window i the L2
  distance between its lip embedding and the audio embeddings at offsets -15..+15 windows
  (zero-padded at the ends, as there); ``mdist[o]`` = mean over windows at offset o;
  Sync-D = min over offsets of mdist; Sync-C = median over offsets of mdist - Sync-D;
  the AV offset (in frames) is 15 - argmin.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F

from actalker.errors import InputError, ShapeError

VSHIFT = 15
SYNC_FPS = 25.0
SYNC_SR = 16000
FVD_CLIP = 16


# ---- loading and calling the user's networks ---------------------------------------------

def load_network(path: str | os.PathLike, flag: str) -> torch.jit.ScriptModule:
    """A TorchScript network from the user's ``path`` (``flag`` names the option)."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise InputError(f"--{flag} {p}: file not found")
    try:
        net = torch.jit.load(str(p), map_location="cpu")
    except Exception as err:  # torch raises RuntimeError / ValueError for a non-TorchScript file
        raise InputError(f"--{flag} {p}: not a TorchScript file (export the network with torch.jit.script or "
                         f"torch.jit.trace, then .save): {str(err).strip().splitlines()[0] if str(err).strip() else err}") from err
    return net.eval()


def _call(net, x: torch.Tensor, **kwargs) -> torch.Tensor:
    """``net(x, **kwargs)`` when the network takes those keywords, else ``net(x)``."""
    with torch.no_grad():
        if kwargs:
            try:
                out = net(x, **kwargs)
            except (TypeError, RuntimeError):
                out = net(x)
        else:
            out = net(x)
    if isinstance(out, (tuple, list)):
        out = out[0]
    return out.reshape(out.shape[0], -1).double()


def _frames(frames, what: str) -> torch.Tensor:
    a = np.asarray(frames)
    if a.ndim != 4 or a.shape[-1] != 3 or len(a) == 0:
        raise ShapeError(f"{what}: frames must have shape (F, H, W, 3), got {a.shape}")
    return torch.from_numpy(a.astype(np.float32)).permute(0, 3, 1, 2)  # (F, 3, H, W), 0..255


def _resize(x: torch.Tensor, size: int) -> torch.Tensor:
    if x.shape[-2:] == (size, size):
        return x
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)


def _batched(fn, x: torch.Tensor, batch: int = 32) -> torch.Tensor:
    return torch.cat([fn(x[i:i + batch]) for i in range(0, len(x), batch)])


def face_crops(frames, boxes: Optional[np.ndarray], size: int, scale: float = 1.2) -> torch.Tensor:
    """Square crops (F, 3, size, size), 0..255, around normalised xyxy ``boxes`` (F, 4)
    enlarged by ``scale``; the whole frame when ``boxes`` is None."""
    x = _frames(frames, "face crops")
    if boxes is None:
        return _resize(x, size)
    boxes = np.asarray(boxes, np.float64)
    h, w = x.shape[-2:]
    out = []
    for img, (x0, y0, x1, y1) in zip(x, boxes):
        cx, cy = (x0 + x1) / 2 * w, (y0 + y1) / 2 * h
        half = max((x1 - x0) * w, (y1 - y0) * h) * scale / 2
        a0, b0 = int(round(max(cx - half, 0))), int(round(max(cy - half, 0)))
        a1, b1 = int(round(min(cx + half, w))), int(round(min(cy + half, h)))
        crop = img[:, b0:max(b1, b0 + 1), a0:max(a1, a0 + 1)]
        out.append(_resize(crop[None], size)[0])
    return torch.stack(out)


# ---- Frechet distance (FID, FVD) ------------------------------------------------------------

def _psd_sqrt(s: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh(s)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def frechet_distance(feats1: np.ndarray, feats2: np.ndarray) -> float:
    f1, f2 = np.asarray(feats1, np.float64), np.asarray(feats2, np.float64)
    if f1.ndim != 2 or f2.ndim != 2 or f1.shape[1] != f2.shape[1]:
        raise ShapeError(f"Frechet distance needs two (N, D) feature sets of one D, got {f1.shape} and {f2.shape}")
    if len(f1) < 2 or len(f2) < 2:
        raise InputError(f"Frechet distance needs at least 2 samples per set, got {len(f1)} and {len(f2)}")
    mu1, mu2 = f1.mean(0), f2.mean(0)
    s1, s2 = np.cov(f1, rowvar=False), np.cov(f2, rowvar=False)
    r1 = _psd_sqrt(s1)
    m = r1 @ s2 @ r1
    tr_sqrt = float(np.sqrt(np.clip(np.linalg.eigvalsh((m + m.T) / 2), 0, None)).sum())
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * tr_sqrt)


def inception_features(net, frames) -> torch.Tensor:
    x = _resize(_frames(frames, "FID"), 299)
    return _batched(lambda b: _call(net, b, return_features=True), x)


def fid(net, generated, reference) -> float:
    return frechet_distance(inception_features(net, generated).numpy(), inception_features(net, reference).numpy())


def video_clips(frames, length: int = FVD_CLIP, size: int = 224) -> torch.Tensor:
    """Non-overlapping clips (N, 3, length, size, size) in [-1, 1]."""
    x = _resize(_frames(frames, "FVD"), size) / 127.5 - 1.0
    n = len(x) // length
    if n == 0:
        raise InputError(f"FVD needs videos of at least {length} frames, got {len(x)}")
    return x[: n * length].reshape(n, length, 3, size, size).permute(0, 2, 1, 3, 4)


def i3d_features(net, frames) -> torch.Tensor:
    return _batched(lambda b: _call(net, b, rescale=False, resize=True, return_features=True), video_clips(frames), 4)


def fvd(net, generated, reference) -> float:
    return frechet_distance(i3d_features(net, generated).numpy(), i3d_features(net, reference).numpy())


# ---- identity -------------------------------------------------------------------------------

def arcface_embeddings(net, frames, boxes=None) -> torch.Tensor:
    x = face_crops(frames, boxes, 112) / 127.5 - 1.0
    return F.normalize(_batched(lambda b: _call(net, b), x), dim=1)


def identity_similarity(net, generated, reference_image, gen_boxes=None, ref_box=None) -> float:
    """Mean cosine between each generated frame's face and the reference face (one image)."""
    ref = np.asarray(reference_image)[None] if np.asarray(reference_image).ndim == 3 else np.asarray(reference_image)[:1]
    e_ref = arcface_embeddings(net, ref, None if ref_box is None else np.asarray(ref_box).reshape(1, 4))
    e_gen = arcface_embeddings(net, generated, gen_boxes)
    return float((e_gen @ e_ref[0]).mean())


# ---- SyncNet ----------------------------------------------------------------------------------

def sync_scores(video_emb, audio_emb, vshift: int = VSHIFT) -> dict[str, float]:
    """Sync-D, Sync-C and the AV offset from per-window embeddings (N, D) each."""
    v, a = torch.as_tensor(video_emb, dtype=torch.float64), torch.as_tensor(audio_emb, dtype=torch.float64)
    if v.ndim != 2 or v.shape != a.shape:
        raise ShapeError(f"sync embeddings must be two (N, D) tensors of one shape, got {tuple(v.shape)} and {tuple(a.shape)}")
    win = 2 * vshift + 1
    ap = F.pad(a, (0, 0, vshift, vshift))
    dists = torch.stack([F.pairwise_distance(v[[i]].repeat(win, 1), ap[i:i + win]) for i in range(len(v))])  # (N, win)
    mdist = dists.mean(0)
    minval, minidx = torch.min(mdist, 0)
    return {"sync_d": float(minval), "sync_c": float(torch.median(mdist) - minval), "av_offset": int(vshift - minidx)}


def syncnet_inputs(frames, fps: float, audio: np.ndarray, boxes=None) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, 3, 5, 224, 224) lip windows (BGR, 0..255) and (N, 1, 13, 20) MFCC windows at 25 fps."""
    from actalker.eval.mfcc import mfcc
    from actalker.media.video import resample_indices

    idx = resample_indices(len(frames), fps, SYNC_FPS)
    frames = np.asarray(frames)[idx]
    boxes = None if boxes is None else np.asarray(boxes)[idx]
    crops = face_crops(frames, boxes, 224).flip(1)  # RGB -> BGR, as cv2 gives syncnet_python
    cc = torch.from_numpy(mfcc(np.asarray(audio, np.float64), SYNC_SR).T.copy()).float()  # (13, T) at 100 Hz
    last = min(len(crops), len(audio) // 640) - 5
    if last < 1:
        raise InputError(f"Sync-C/D need at least 6 frames at 25 fps with audio, got {len(crops)} frames "
                         f"and {len(audio) / SYNC_SR:.2f} s of audio")
    lips = torch.stack([crops[i:i + 5].permute(1, 0, 2, 3) for i in range(last)])
    auds = torch.stack([cc[:, 4 * i:4 * i + 20][None] for i in range(last)])
    return lips, auds


def sync_metrics(net, frames, fps: float, audio: np.ndarray, boxes=None, vshift: int = VSHIFT) -> dict[str, float]:
    lips, auds = syncnet_inputs(frames, fps, audio, boxes)
    with torch.no_grad():
        v = torch.cat([net.forward_lip(lips[i:i + 20]) for i in range(0, len(lips), 20)])
        a = torch.cat([net.forward_aud(auds[i:i + 20]) for i in range(0, len(auds), 20)])
    return sync_scores(v.reshape(len(v), -1), a.reshape(len(a), -1), vshift)
