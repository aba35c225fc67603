"""The spec: a plain sequential selective scan (mamba_ssm's selective_scan_ref plus keep).

Slow but obviously right. Inputs are split along L once with ``unbind`` so that autograd's
backward stays linear in L (indexing one step of a big grad-requiring tensor per iteration
would make every step's backward allocate a full-size zero gradient: quadratic).
"""
from __future__ import annotations

import torch

from .common import compute_dtype, finish, prepare_delta


def selective_scan_ref(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False,
                       keep=None, return_last_state=False):
    """x_t = exp(delta_t A) x_{t-1} + delta_t B_t u_t;  y_t = <x_t, C_t> + D u_t, times silu(z_t)."""
    dtype_in = u.dtype
    ct = compute_dtype(u)
    u, A, B, C = u.to(ct), A.to(ct), B.to(ct), C.to(ct)
    delta = prepare_delta(delta.to(ct), delta_bias, delta_softplus, keep)
    b, d, L = u.shape
    x = u.new_zeros(b, d, A.shape[1])
    ys = []
    for u_t, dt_t, B_t, C_t in zip(u.unbind(-1), delta.unbind(-1), B.unbind(-1), C.unbind(-1)):
        x = torch.exp(dt_t[:, :, None] * A) * x + (dt_t * u_t)[:, :, None] * B_t[:, None, :]
        ys.append(torch.bmm(x, C_t[:, :, None])[:, :, 0])
    y = torch.stack(ys, -1) if ys else u.new_zeros(b, d, 0)
    out = finish(y, u, D, z, keep, dtype_in)
    return (out, x) if return_last_state else out
