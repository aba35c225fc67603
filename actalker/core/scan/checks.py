"""Argument validation for ``selective_scan``: one-line ``ShapeError`` naming the argument."""
from __future__ import annotations

import torch

from actalker.errors import ShapeError

BACKENDS = ("auto", "reference", "chunked", "cuda")


def _fmt(shape) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ")"


def _check(name: str, t, names: str, shape: tuple, device, *, dtype_kind: str = "float") -> None:
    if not isinstance(t, torch.Tensor):
        raise ShapeError(f"selective_scan: {name} must be a tensor of shape {names} = {_fmt(shape)}, got {type(t).__name__}")
    if tuple(t.shape) != shape:
        raise ShapeError(f"selective_scan: {name} must have shape {names} = {_fmt(shape)}, got {_fmt(t.shape)}")
    if dtype_kind == "float" and not (t.is_floating_point() and not t.is_complex()):
        raise ShapeError(f"selective_scan: {name} {names} must be a real floating tensor, got {t.dtype}")
    if dtype_kind == "bool" and t.dtype != torch.bool:
        raise ShapeError(f"selective_scan: {name} {names} must be a bool tensor, got {t.dtype}")
    if t.device != device:
        raise ShapeError(f"selective_scan: {name} must be on {device} like u, got {t.device}")


def check_inputs(u, delta, A, B, C, D, z, delta_bias, keep, backend) -> None:
    """Validate shapes, dtypes and devices in mamba_ssm's layout; raise ShapeError on the first problem."""
    if backend not in BACKENDS:
        raise ShapeError(f"selective_scan: backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if not isinstance(u, torch.Tensor) or u.dim() != 3:
        got = _fmt(u.shape) if isinstance(u, torch.Tensor) else type(u).__name__
        raise ShapeError(f"selective_scan: u must have shape (b, d, L), got {got}")
    b, d, L = u.shape
    dev = u.device
    _check("u", u, "(b, d, L)", (b, d, L), dev)
    _check("delta", delta, "(b, d, L)", (b, d, L), dev)
    if not isinstance(A, torch.Tensor) or A.dim() != 2 or A.shape[0] != d:
        got = _fmt(A.shape) if isinstance(A, torch.Tensor) else type(A).__name__
        raise ShapeError(f"selective_scan: A must have shape (d, N) = ({d}, N), got {got}")
    N = A.shape[1]
    _check("A", A, "(d, N)", (d, N), dev)
    _check("B", B, "(b, N, L)", (b, N, L), dev)
    _check("C", C, "(b, N, L)", (b, N, L), dev)
    if D is not None:
        _check("D", D, "(d,)", (d,), dev)
    if z is not None:
        _check("z", z, "(b, d, L)", (b, d, L), dev)
    if delta_bias is not None:
        _check("delta_bias", delta_bias, "(d,)", (d,), dev)
    if keep is not None:
        _check("keep", keep, "(b, L)", (b, L), dev, dtype_kind="bool")
