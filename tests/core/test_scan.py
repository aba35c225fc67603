"""selective_scan: chunked (and cuda) against the reference spec, keep semantics, errors."""
import itertools
import re

import pytest
import torch

from actalker.core.scan import resolve_backend, selective_scan, selective_scan_chunked, selective_scan_ref
from actalker.errors import ActalkerError, ShapeError

CHUNK = 64  # small explicit chunk so L = CHUNK +- 1 exercises the chunk boundaries
TOL = {torch.float64: 1e-9, torch.float32: 2e-4, torch.bfloat16: 3e-2}
GRAD_NAMES = ("u", "delta", "A", "B", "C", "D", "z", "delta_bias")


def run(fn, inputs, seed=1, **kw):
    """Outputs and gradients of every floating input, for a fixed random loss on y and the last state."""
    ins = {k: (v.detach().clone().requires_grad_() if v is not None and v.is_floating_point() else v)
           for k, v in inputs.items()}
    y, last = fn(**ins, return_last_state=True, **kw)
    g = torch.Generator().manual_seed(seed)
    wy = torch.randn(y.shape, generator=g, dtype=torch.float64)
    wh = torch.randn(last.shape, generator=g, dtype=torch.float64)
    loss = (y.double() * wy).sum() + (last.double() * wh).sum()
    names = [k for k in GRAD_NAMES if ins.get(k) is not None]
    grads = torch.autograd.grad(loss, [ins[k] for k in names])
    return {"y": y, "last": last, **{"grad_" + k: gr for k, gr in zip(names, grads)}}


def assert_match(got, want, tol):
    assert got.keys() == want.keys()
    for k in want:
        a, b = got[k].double(), want[k].double()
        assert a.shape == b.shape, k
        assert torch.isfinite(a).all(), f"{k} has NaN/inf"
        err = (a - b).abs().max().item() if a.numel() else 0.0
        scale = 1.0 + (b.abs().max().item() if b.numel() else 0.0)
        assert err <= tol * scale, f"{k}: max error {err:.3g} > {tol:.1g} * {scale:.3g}"


def chunked(**kw):
    return selective_scan_chunked(**kw, chunk_size=CHUNK)


@pytest.mark.parametrize("L", [1, CHUNK - 1, CHUNK, CHUNK + 1, 1100])
@pytest.mark.parametrize("optional", [True, False], ids=["all-optional", "no-optional"])
def test_chunked_matches_reference_over_lengths(L, optional, scan_inputs):
    inp = scan_inputs(L=L, D=optional, z=optional, delta_bias=optional, keep="random" if optional else "none")
    kw = {"delta_softplus": optional}
    assert_match(run(chunked, inp, **kw), run(selective_scan_ref, inp, **kw), TOL[torch.float64])


@pytest.mark.parametrize("D,z,delta_bias,softplus", list(itertools.product([False, True], repeat=4)))
def test_each_optional_input(D, z, delta_bias, softplus, scan_inputs):
    inp = scan_inputs(L=CHUNK + 5, D=D, z=z, delta_bias=delta_bias)
    kw = {"delta_softplus": softplus}
    assert_match(run(chunked, inp, **kw), run(selective_scan_ref, inp, **kw), TOL[torch.float64])


@pytest.mark.parametrize("keep", ["all", "empty", "random", "alternating"])
@pytest.mark.parametrize("L", [CHUNK + 1, 1100])
def test_keep_modes_match_reference(keep, L, scan_inputs):
    inp = scan_inputs(L=L, keep=keep)
    got = run(chunked, inp, delta_softplus=True)
    assert_match(got, run(selective_scan_ref, inp, delta_softplus=True), TOL[torch.float64])
    if keep == "empty":
        assert (got["y"] == 0).all() and (got["last"] == 0).all()


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("L", [CHUNK + 1, 1100])
def test_low_precision_matches_reference(dtype, L, scan_inputs):
    inp = scan_inputs(L=L, dtype=dtype, keep="random")
    got = run(chunked, inp, delta_softplus=True)
    assert got["y"].dtype == dtype and got["grad_u"].dtype == dtype
    assert got["last"].dtype == torch.float32  # accumulated in float32, as mamba_ssm returns it
    assert_match(got, run(selective_scan_ref, inp, delta_softplus=True), TOL[dtype])


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_strongly_negative_decay_is_finite(dtype, scan_inputs):
    # delta*A down to about -1e4: exp of (non-differenced) cumulative sums would overflow
    inp = scan_inputs(L=300, dtype=dtype, a_scale=300.0, delta_scale=8.0, keep="random")
    with torch.no_grad():
        inp["delta"].abs_()
    got = run(chunked, inp, delta_softplus=True)
    assert_match(got, run(selective_scan_ref, inp, delta_softplus=True), TOL[dtype])


@pytest.mark.parametrize("fn", [chunked, selective_scan_ref], ids=["chunked", "reference"])
def test_keep_equals_packing_each_sample(fn, scan_inputs):
    inp = scan_inputs(b=3, L=150, keep="random")
    keep = inp["keep"]
    keep[2] = False  # one sample with nothing kept
    with torch.no_grad():
        y, last = fn(**inp, delta_softplus=True, return_last_state=True)
        for i in range(3):
            k = keep[i]
            packed = {n: inp[n][i:i + 1][..., k] for n in ("u", "delta", "B", "C", "z")}
            yp, lp = fn(**packed, A=inp["A"], D=inp["D"], delta_bias=inp["delta_bias"], delta_softplus=True,
                        return_last_state=True)
            torch.testing.assert_close(y[i:i + 1][..., k], yp, rtol=1e-10, atol=1e-10)
            torch.testing.assert_close(last[i:i + 1], lp, rtol=1e-10, atol=1e-10)
            assert (y[i][:, ~k] == 0).all()


def test_public_dispatch_and_default_chunk(scan_inputs):
    inp = scan_inputs(L=1100, keep="random")
    assert resolve_backend(inp["u"]) == "chunked"
    got = run(lambda **kw: selective_scan(**kw, backend="auto"), inp)
    assert_match(got, run(lambda **kw: selective_scan(**kw, backend="reference"), inp), TOL[torch.float64])


def test_last_state_only_gradient(scan_inputs):
    inp = scan_inputs(L=CHUNK * 2 + 3, D=False, z=False)
    for fn in (chunked, selective_scan_ref):
        ins = {k: v.detach().clone().requires_grad_() if v is not None else v for k, v in inp.items()}
        _, last = fn(**ins, return_last_state=True)
        (gB,) = torch.autograd.grad(last.sum(), [ins["B"]])
        if fn is chunked:
            got = gB
    torch.testing.assert_close(got, gB, rtol=1e-9, atol=1e-9)


def test_chunked_saves_no_full_state_tensor(scan_inputs):
    b, d, N, L = 2, 8, 16, 512
    inp = scan_inputs(b=b, d=d, N=N, L=L, keep="random")
    saved = []

    def pack(t):
        saved.append(t.numel())
        return t

    for fn in (chunked, selective_scan_ref):
        saved.clear()
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            fn(**inp, delta_softplus=True)
        total = sum(saved)
        if fn is chunked:
            # inputs + a few (b, d, L) tensors + chunk-start states; far below b*d*L*N
            assert total < 12 * b * d * L + b * d * N * (L // CHUNK + 1), total
        else:
            assert total > b * d * L * N  # the check can fail: the plain loop keeps every state


@pytest.mark.parametrize("name,bad,match", [  # whole messages: the name, the layout and what came
    ("u", torch.zeros(2, 3), "u must have shape (b, d, L), got (2, 3)"),
    ("u", [[0.0]], "u must have shape (b, d, L), got list"),
    ("u", torch.zeros(2, 3, 10, dtype=torch.int64), "u (b, d, L) must be a real floating tensor, got torch.int64"),
    ("delta", torch.zeros(2, 3, 9), "delta must have shape (b, d, L) = (2, 3, 10), got (2, 3, 9)"),
    ("delta", [0.0], "delta must be a tensor of shape (b, d, L) = (2, 3, 10), got list"),
    ("A", torch.zeros(4, 4), "A must have shape (d, N) = (3, N), got (4, 4)"),
    ("A", torch.zeros(3), "A must have shape (d, N) = (3, N), got (3)"),
    ("A", [0.0], "A must have shape (d, N) = (3, N), got list"),
    ("A", torch.zeros(3, 4, dtype=torch.int64), "A (d, N) must be a real floating tensor, got torch.int64"),
    ("B", torch.zeros(2, 4, 9), "B must have shape (b, N, L) = (2, 4, 10)"),
    ("C", torch.zeros(2, 5, 10), "C must have shape (b, N, L) = (2, 4, 10)"),
    ("C", torch.zeros(2, 4, 10, device="meta"), "C must be on cpu like u, got meta"),
    ("D", torch.zeros(4), "D must have shape (d,) = (3)"),
    ("z", torch.zeros(2, 3, 11), "z must have shape (b, d, L) = (2, 3, 10)"),
    ("delta_bias", torch.zeros(3, 1), "delta_bias must have shape (d,) = (3)"),
    ("keep", torch.ones(2, 10), "keep (b, L) must be a bool tensor"),
    ("keep", torch.ones(2, 9, dtype=torch.bool), "keep must have shape (b, L) = (2, 10)"),
    ("B", torch.zeros(2, 4, 10, dtype=torch.int64), "B (b, N, L) must be a real floating tensor"),
])
def test_bad_arguments_raise_shape_error(name, bad, match, scan_inputs):
    inp = {k: v.detach() if v is not None else v for k, v in scan_inputs(L=10).items()}
    inp[name] = bad
    with pytest.raises(ShapeError, match="^selective_scan: " + re.escape(match)):
        selective_scan(**inp)


def test_unknown_and_unavailable_backends(scan_inputs):
    inp = {k: v.detach() if v is not None else v for k, v in scan_inputs(L=10).items()}
    with pytest.raises(ShapeError, match=re.escape("backend must be one of auto, reference, chunked, cuda, got 'fast'")):
        selective_scan(**inp, backend="fast")
    with pytest.raises(ActalkerError, match="backend='cuda' needs CUDA tensors"):
        selective_scan(**inp, backend="cuda")


@pytest.mark.slow
def test_long_sequence_matches_reference(scan_inputs):
    inp = scan_inputs(b=1, d=2, N=4, L=16384, keep="random")
    assert_match(run(selective_scan_chunked, inp, delta_softplus=True),
                 run(selective_scan_ref, inp, delta_softplus=True), TOL[torch.float64])


def _cuda_ready():
    from actalker.core.scan.cuda import cuda_available
    return torch.cuda.is_available() and cuda_available(torch.zeros(1, device="cuda"))


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("keep", ["none", "random"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_cuda_matches_reference(keep, dtype, scan_inputs):
    if not _cuda_ready():
        pytest.skip("mamba_ssm is not installed")
    inp = scan_inputs(b=2, d=64, N=16, L=700, dtype=dtype, keep=keep)
    cuda_inp = {k: v.detach().cuda() if v is not None else v for k, v in inp.items()}
    got = run(lambda **kw: selective_scan(**kw, backend="cuda"), cuda_inp, delta_softplus=True)
    want = run(selective_scan_ref, inp, delta_softplus=True)
    assert_match({k: v.cpu() for k, v in got.items()}, want, {torch.float32: 1e-3, torch.bfloat16: 5e-2}[dtype])
