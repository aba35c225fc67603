"""mamba_ssm's fused CUDA kernel behind our contract; imported lazily (CPU installs lack it)."""
from __future__ import annotations

import torch

from actalker.errors import ActalkerError, ShapeError

from .common import prepare_delta


def cuda_available(u: torch.Tensor) -> bool:
    """True when u is on CUDA and mamba_ssm's kernel imports."""
    if not u.is_cuda:
        return False
    try:
        import mamba_ssm.ops.selective_scan_interface  # noqa: F401
    except Exception:  # ImportError, or a broken build raising at import time
        return False
    return True


def selective_scan_cuda(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False,
                        keep=None, return_last_state=False):
    if not u.is_cuda:
        raise ShapeError(f"selective_scan: backend='cuda' needs CUDA tensors, got u on {u.device}")
    try:
        from mamba_ssm.ops.selective_scan_interface import selective_scan_fn
    except Exception as exc:
        raise ActalkerError(f"selective_scan: backend='cuda' needs mamba_ssm (pip install actalker[cuda]): {exc}") from exc
    if keep is not None:
        # removal = zero delta after bias and softplus, so hand the kernel a finished delta
        delta = prepare_delta(delta, delta_bias, delta_softplus, keep).to(u.dtype)
        delta_bias, delta_softplus = None, False
    res = selective_scan_fn(u.contiguous(), delta.contiguous(), A.contiguous(), B.contiguous(),
                            C.contiguous(), D, None if z is None else z.contiguous(), delta_bias,
                            delta_softplus, return_last_state)
    out, last = res if return_last_state else (res, None)
    if keep is not None:
        out = out.masked_fill(~keep[:, None, :], 0.0)  # the kernel still adds D*u there
    return (out, last) if return_last_state else out
