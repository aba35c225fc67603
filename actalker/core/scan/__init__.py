"""Selective scan (Mamba's S6) with mamba_ssm's layout, plus ``keep`` for token removal.

Backends: ``reference`` (the spec, a sequential loop), ``chunked`` (fast CPU default,
recomputes per chunk in backward), ``cuda`` (mamba_ssm's kernel, lazy import), ``auto``.
"""
from __future__ import annotations

from .checks import check_inputs
from .chunked import selective_scan_chunked
from .cuda import cuda_available, selective_scan_cuda
from .reference import selective_scan_ref

__all__ = ["selective_scan", "selective_scan_ref", "selective_scan_chunked", "resolve_backend"]


def resolve_backend(u, backend: str = "auto") -> str:
    """The backend ``selective_scan`` will use for tensors like u."""
    if backend != "auto":
        return backend
    return "cuda" if cuda_available(u) else "chunked"


def selective_scan(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False,
                   keep=None, return_last_state=False, backend="auto"):
    """y (b, d, L) [, last state (b, d, N)] of the selective scan.

    u, delta, z (b, d, L); A (d, N); B, C (b, N, L); D, delta_bias (d,); keep (b, L) bool,
    False = token removed (state passes unchanged, y = 0 there).
    """
    check_inputs(u, delta, A, B, C, D, z, delta_bias, keep, backend)
    fn = {"reference": selective_scan_ref, "chunked": selective_scan_chunked,
          "cuda": selective_scan_cuda}[resolve_backend(u, backend)]
    return fn(u, delta, A, B, C, D=D, z=z, delta_bias=delta_bias, delta_softplus=delta_softplus,
              keep=keep, return_last_state=return_last_state)
