"""Independent oracles for the selective scan.

The reference and the chunked backends share their pre/post-processing (delta bias and
softplus, keep, D skip, z gate: ``actalker/core/scan/common.py``), so comparing them with
each other cannot catch a bug there. Here the expected values come from elsewhere:

1. numbers worked out by hand for a two-step scalar scan;
2. a closed form written out in this file, with nothing imported from the code under test:
   the state is the explicit sum h_t = sum_{s<=t} exp(A sum_{r=s+1..t} dt_r) dt_s B_s u_s over
   kept tokens (not a recurrence), y_t = (<C_t, h_t> + D u_t) * z_t sigmoid(z_t), 0 at removed
   tokens, dt = log(1 + exp(delta + bias)); compared in value and gradients;
3. mambapy's sequential scan (installed with the ``bench`` extra) for the core recurrence.
"""
from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch

from actalker.core.scan import selective_scan_chunked, selective_scan_ref

BACKENDS = {
    "reference": selective_scan_ref,
    "chunked": lambda **kw: selective_scan_chunked(**kw, chunk_size=4),  # several chunks in 11 steps
}


def closed_form(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False, keep=None):
    """(y (b, d, L), last state (b, d, N)) of the selective scan, without a recurrence."""
    b, d, L = u.shape
    dt = delta if delta_bias is None else delta + delta_bias[:, None]
    if delta_softplus:
        dt = torch.log(1 + torch.exp(dt))
    k = torch.ones(b, L, dtype=u.dtype) if keep is None else keep.to(u.dtype)
    dt = dt * k[:, None, :]  # a removed token neither decays the state nor writes to it
    # log decay per step and its prefix sums: decay(t <- s) = exp(cum[t] - cum[s]), s <= t
    cum = torch.cumsum(dt[..., None] * A[None, :, None, :], dim=2)  # (b, d, L, N)
    diff = cum[:, :, :, None, :] - cum[:, :, None, :, :]  # (b, d, t, s, N)
    causal = torch.ones(L, L, dtype=torch.bool).tril()[None, None, :, :, None]
    decay = diff.masked_fill(~causal, float("-inf")).exp()
    write = (dt * u)[:, :, None, :, None] * B.transpose(1, 2)[:, None, None, :, :]  # (b, 1|d, 1, s, N)
    h = (decay * write).sum(dim=3)  # (b, d, t, N)
    y = (h * C.transpose(1, 2)[:, None, :, :]).sum(-1)
    if D is not None:
        y = y + D[:, None] * u
    if z is not None:
        y = y * z * torch.sigmoid(z)
    y = y * k[:, None, :]
    last = h[:, :, -1] if L else u.new_zeros(b, d, A.shape[1])
    return y, last


def inputs(b=2, d=3, N=4, L=11, seed=0, keep=True):
    g = torch.Generator().manual_seed(seed)
    r = lambda *s: torch.randn(*s, generator=g, dtype=torch.float64)  # noqa: E731
    t = dict(u=r(b, d, L), delta=r(b, d, L) * 0.7, A=-torch.exp(r(d, N) * 0.5), B=r(b, N, L), C=r(b, N, L),
             D=r(d), z=r(b, d, L), delta_bias=r(d) * 0.5)
    kp = torch.rand(b, L, generator=g) > 0.35
    kp[0, 0] = kp[1, -1] = False  # removed first token (state start) and last token (passes the state)
    return t, (kp if keep else None)


def outputs_and_grads(fn, t, keep, **kw):
    ins = {k: v.detach().clone().requires_grad_() for k, v in t.items()}
    y, last = fn(**ins, keep=keep, **kw)
    g = torch.Generator().manual_seed(3)
    wy = torch.randn(y.shape, generator=g, dtype=torch.float64).to(y.dtype)
    wl = torch.randn(last.shape, generator=g, dtype=torch.float64).to(last.dtype)
    loss = (y * wy).sum() + (last * wl).sum()
    grads = torch.autograd.grad(loss, list(ins.values()))
    return {"y": y.detach(), "last": last.detach(), **{"grad_" + k: gr for k, gr in zip(ins, grads)}}


def scan_with_state(fn):
    return lambda **kw: fn(**kw, return_last_state=True)


def test_hand_computed_two_steps():
    """u = (1, 2), delta = (0.5, 1), A = -1, B = 1, C = (1, 2), D = 0.5:
    h1 = 0.5;  y1 = 1 * 0.5 + 0.5 * 1 = 1
    h2 = e^-1 * 0.5 + 1 * 2 = 2.18394;  y2 = 2 * h2 + 0.5 * 2 = 5.36788
    with z = (0, 1): y * silu(z) = (0, 5.36788 * 0.731059)."""
    u = torch.tensor([[[1.0, 2.0]]], dtype=torch.float64)
    args = dict(delta=torch.tensor([[[0.5, 1.0]]], dtype=torch.float64), A=torch.tensor([[-1.0]], dtype=torch.float64),
                B=torch.ones(1, 1, 2, dtype=torch.float64), C=torch.tensor([[[1.0, 2.0]]], dtype=torch.float64),
                D=torch.tensor([0.5], dtype=torch.float64))
    h2 = math.exp(-1) * 0.5 + 2.0
    silu1 = 1 / (1 + math.exp(-1))
    z = torch.tensor([[[0.0, 1.0]]], dtype=torch.float64)
    for name, fn in BACKENDS.items():
        y, last = fn(u=u, **args, return_last_state=True)
        torch.testing.assert_close(y, torch.tensor([[[1.0, 2 * h2 + 1.0]]], dtype=torch.float64), msg=name)
        torch.testing.assert_close(last, torch.tensor([[[h2]]], dtype=torch.float64), msg=name)
        yz = fn(u=u, **args, z=z)
        torch.testing.assert_close(yz, torch.tensor([[[0.0, (2 * h2 + 1.0) * silu1]]], dtype=torch.float64), msg=name)
        # bias + softplus: softplus(0 + log(e - 1)) = 1, so delta = (1, 1)
        yb, lb = fn(u=u, **{**args, "delta": torch.zeros(1, 1, 2, dtype=torch.float64)},
                    delta_bias=torch.tensor([math.log(math.e - 1)], dtype=torch.float64), delta_softplus=True,
                    return_last_state=True)
        h1b = 1.0
        h2b = math.exp(-1) * h1b + 2.0
        torch.testing.assert_close(yb, torch.tensor([[[h1b + 0.5, 2 * h2b + 1.0]]], dtype=torch.float64), msg=name)
        torch.testing.assert_close(lb, torch.tensor([[[h2b]]], dtype=torch.float64), msg=name)
        # keep: removing the first token leaves y1 = 0 (D skip included) and h2 = 2
        yk, lk = fn(u=u, **args, keep=torch.tensor([[False, True]]), return_last_state=True)
        torch.testing.assert_close(yk, torch.tensor([[[0.0, 2 * 2.0 + 1.0]]], dtype=torch.float64), msg=name)
        torch.testing.assert_close(lk, torch.tensor([[[2.0]]], dtype=torch.float64), msg=name)


OPTIONS = {
    "plain": dict(D=False, z=False, bias=False, softplus=False, keep=False),
    "D": dict(D=True, z=False, bias=False, softplus=False, keep=False),
    "z": dict(D=False, z=True, bias=False, softplus=False, keep=False),
    "bias": dict(D=False, z=False, bias=True, softplus=False, keep=False),
    "softplus": dict(D=False, z=False, bias=False, softplus=True, keep=False),
    "bias+softplus": dict(D=False, z=False, bias=True, softplus=True, keep=False),
    "keep": dict(D=False, z=False, bias=False, softplus=False, keep=True),
    "all": dict(D=True, z=True, bias=True, softplus=True, keep=True),
}


@pytest.mark.parametrize("backend", list(BACKENDS))
@pytest.mark.parametrize("option", list(OPTIONS))
def test_matches_closed_form_values_and_gradients(backend, option):
    o = OPTIONS[option]
    t, keep = inputs(keep=o["keep"])
    for name, flag in (("D", o["D"]), ("z", o["z"]), ("delta_bias", o["bias"])):
        if not flag:
            t.pop(name)
    kw = {"delta_softplus": o["softplus"]}
    got = outputs_and_grads(scan_with_state(BACKENDS[backend]), t, keep, **kw)
    want = outputs_and_grads(closed_form, t, keep, **kw)
    assert want["y"].abs().max() > 0.1
    for key in want:
        torch.testing.assert_close(got[key], want[key], rtol=1e-9, atol=1e-9, msg=f"{backend} {option}: {key}")


@pytest.mark.parametrize("backend", list(BACKENDS))
def test_matches_closed_form_in_float32(backend):
    t, keep = inputs(seed=4)
    t = {k: v.float() for k, v in t.items()}
    got = outputs_and_grads(scan_with_state(BACKENDS[backend]), t, keep, delta_softplus=True)
    want = outputs_and_grads(closed_form, {k: v.double() for k, v in t.items()}, keep, delta_softplus=True)
    for key in want:
        torch.testing.assert_close(got[key].double(), want[key], rtol=1e-4, atol=1e-4, msg=f"{backend}: {key}")


def _mambapy_scan():
    try:
        from mambapy.mamba import MambaBlock as PyMambaBlock
    except ImportError:  # the bench extra is not installed
        pytest.skip("mambapy is not installed (pip install actalker[bench])")
    return PyMambaBlock.selective_scan_seq


@pytest.mark.parametrize("backend", list(BACKENDS))
def test_matches_mambapy_sequential_scan(backend):
    """mambapy's selective_scan_seq (layout (b, L, d), B/C (b, L, N), D skip, no z/bias) in
    value and gradients; the z gate and softplus(delta + bias) are applied to its inputs and
    output here as mambapy's own block does around it."""
    seq = _mambapy_scan()
    t, _ = inputs(seed=5)
    names = ["u", "delta", "A", "B", "C", "D", "z", "delta_bias"]

    def mambapy(u, delta, A, B, C, D, z, delta_bias, keep=None):
        dt = torch.nn.functional.softplus(delta + delta_bias[:, None])
        this = SimpleNamespace(config=SimpleNamespace(d_inner=u.shape[1], d_state=A.shape[1]))
        y = seq(this, u.transpose(1, 2), dt.transpose(1, 2), A, B.transpose(1, 2), C.transpose(1, 2), D)
        y = y.transpose(1, 2) * torch.nn.functional.silu(z)
        return y, torch.zeros(1, dtype=y.dtype) * u.sum()

    def ours(**kw):
        y = BACKENDS[backend](**kw, delta_softplus=True)
        return y, torch.zeros(1, dtype=y.dtype) * kw["u"].sum()

    got = outputs_and_grads(ours, {k: t[k] for k in names}, None)
    want = outputs_and_grads(mambapy, {k: t[k] for k in names}, None)
    for key in want:
        torch.testing.assert_close(got[key], want[key], rtol=1e-9, atol=1e-9, msg=f"{backend}: {key}")


def test_closed_form_is_not_the_recurrence_by_accident():
    """The oracle itself: one step by hand agrees, and it is not the identity (guards this file)."""
    t, _ = inputs(L=1, keep=False)
    y, last = closed_form(**t)
    dt = (t["delta"] + t["delta_bias"][:, None])[..., 0]
    h = dt[..., None] * t["u"][..., 0, None] * t["B"][:, None, :, 0]
    want = ((h * t["C"][:, None, :, 0]).sum(-1) + t["D"] * t["u"][..., 0]) * torch.sigmoid(t["z"][..., 0]) * t["z"][..., 0]
    torch.testing.assert_close(y[..., 0], want)
    torch.testing.assert_close(last, h)
