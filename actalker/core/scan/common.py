"""Pre/post-processing shared by every backend (dtype, delta bias/softplus, keep, D, z)."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def compute_dtype(u: torch.Tensor) -> torch.dtype:
    # float64 stays exact for tests; half types accumulate in float32 like mamba_ssm.
    return torch.float64 if u.dtype == torch.float64 else torch.float32


def prepare_delta(delta, delta_bias, delta_softplus, keep):
    """delta + bias, softplus, then 0 at removed tokens: exp(0 * A) = 1 and delta*B*u = 0,
    so the state passes a removed token unchanged."""
    if delta_bias is not None:
        delta = delta + delta_bias.to(delta.dtype)[:, None]
    if delta_softplus:
        delta = F.softplus(delta)
    if keep is not None:
        delta = delta.masked_fill(~keep[:, None, :], 0.0)
    return delta


def finish(y, u, D, z, keep, dtype_out):
    """y + D*u, gate with silu(z), zero removed tokens (D*u included), cast back."""
    if D is not None:
        y = y + u * D.to(y.dtype)[:, None]
    if z is not None:
        y = y * F.silu(z.to(y.dtype))
    if keep is not None:
        y = y.masked_fill(~keep[:, None, :], 0.0)
    return y.to(dtype_out)
