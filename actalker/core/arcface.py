"""ArcFace identity (the paper's): a face-recognition embedding of the reference portrait.

The user gives the weights (``model.identity.weights_path``): an ONNX model (run with
onnxruntime, an optional extra: ``pip install 'actalker[arcface]'``) or a TorchScript file.
The portrait (B, 3, H, W) in [-1, 1], ArcFace's own input range, is resized to the model's
input size (112 x 112 for insightface's models) and the embedding L2-normalised; the
denoiser's identity projection turns it into one token.

``save_pretrained(dir)`` copies (hard-links where it can) the weights file into ``dir``
beside ``arcface.json``, so a model folder carries its encoder.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from actalker.errors import InputError
from actalker.utils.files import link_or_copy

META_FILE = "arcface.json"


class _OnnxRunner:
    """An onnxruntime session as a callable on float32 tensors (CPU)."""

    def __init__(self, path: Path):
        try:
            import onnxruntime
        except ImportError:
            raise InputError(f"the ArcFace model {path} is ONNX, which needs onnxruntime: "
                             "pip install 'actalker[arcface]' (or give a TorchScript file)") from None
        self.session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        self.input = self.session.get_inputs()[0].name

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        out = self.session.run(None, {self.input: x.detach().float().cpu().numpy()})[0]
        return torch.from_numpy(out).to(x.device)


def _load_runner(path: Path):
    if path.suffix.lower() == ".onnx":
        return _OnnxRunner(path)
    try:
        return torch.jit.load(str(path), map_location="cpu").eval()
    except (RuntimeError, ValueError) as err:
        raise InputError(f"cannot load the ArcFace model {path} as TorchScript (or give an .onnx file): "
                         f"{str(err).splitlines()[0]}") from None


class ArcFaceIdentityEncoder(nn.Module):
    """images (B, 3, H, W) in [-1, 1] -> (B, dim) unit-length ArcFace embeddings."""

    def __init__(self, runner, weights: Path, size: int = 112):
        super().__init__()
        self.runner = runner  # a TorchScript module (a submodule: .to() moves it) or an ONNX runner
        self.weights, self.size = Path(weights), int(size)
        with torch.no_grad():
            self.dim = int(self._embed(torch.zeros(1, 3, self.size, self.size)).shape[-1])

    def _embed(self, x: torch.Tensor) -> torch.Tensor:
        p = next(self.parameters(), None)
        out = self.runner(x.to(p.dtype) if p is not None else x)
        if out.dim() != 2:
            raise InputError(f"the ArcFace model {self.weights} returned shape {tuple(out.shape)}; expected (B, dim)")
        return out

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(images.float(), size=(self.size, self.size), mode="bilinear", align_corners=False,
                          antialias=True)
        return F.normalize(self._embed(x).float(), dim=-1)

    def save_pretrained(self, path) -> None:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        name = "arcface" + (self.weights.suffix or ".pt")
        link_or_copy(self.weights, path / name)
        (path / META_FILE).write_text(json.dumps({"weights": name, "size": self.size, "dim": self.dim}, indent=2) + "\n")

    @classmethod
    def from_pretrained(cls, path, size: Optional[int] = None) -> "ArcFaceIdentityEncoder":
        """``path``: an .onnx / TorchScript file, or a folder written by ``save_pretrained``."""
        path = Path(path).expanduser()
        if path.is_dir() and (path / META_FILE).is_file():
            meta = json.loads((path / META_FILE).read_text())
            path, size = path / meta["weights"], size or meta.get("size")
        if not path.is_file():
            raise InputError(f"ArcFace weights not found: {path} (expected an .onnx or TorchScript file)")
        return cls(_load_runner(path), path, size or 112)


__all__ = ["ArcFaceIdentityEncoder", "META_FILE"]
