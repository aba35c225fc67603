"""selective_scan's contract beyond matching the reference: half-precision inputs computed
in float32, defaults that match mamba_ssm, the empty sequence, dispatch, and the chunk
heuristics' documented policy (written from mutation-testing survivors, docs/testing.md)."""
import math

import pytest
import torch

import actalker.core.scan as scan
import actalker.core.scan.chunked as chunked_mod
from actalker.core.scan import resolve_backend, selective_scan, selective_scan_chunked, selective_scan_ref
from actalker.core.scan.chunked import CHUNK_ELEMENTS, auto_chunk


def _plain(inputs):
    return {k: v.detach() if isinstance(v, torch.Tensor) else v for k, v in inputs.items()}


def _chunked(**kw):
    return selective_scan_chunked(**kw, chunk_size=16)


ACTIVATIONS, PARAMETERS = ("u", "delta", "B", "C", "z"), ("A", "D", "delta_bias")
LAYOUTS = {  # input name -> dtype; everything else float32
    "mamba": {**dict.fromkeys(ACTIVATIONS, torch.bfloat16)},  # bf16 activations, float32 parameters
    "all-bf16": {**dict.fromkeys(ACTIVATIONS + PARAMETERS, torch.bfloat16)},
    "wide-parameters": {**dict.fromkeys(PARAMETERS, torch.float64)},  # float32 activations
}


def _outputs_and_grads(fn, inp, seed=3):
    """y, the last state and every input's gradient for a fixed loss whose weights are exact in bf16."""
    ins = {k: (v.detach().clone().requires_grad_() if isinstance(v, torch.Tensor) and v.is_floating_point() else v)
           for k, v in inp.items()}
    y, last = fn(**ins, delta_softplus=True, return_last_state=True)
    g = torch.Generator().manual_seed(seed)
    wy = torch.randn(y.shape, generator=g).bfloat16().double()
    wh = torch.randn(last.shape, generator=g).bfloat16().double()
    names = [k for k in ACTIVATIONS + PARAMETERS if ins.get(k) is not None]
    grads = torch.autograd.grad((y.double() * wy).sum() + (last.double() * wh).sum(), [ins[k] for k in names])
    return y, last, dict(zip(names, grads))


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("fn", [selective_scan_ref, _chunked], ids=["reference", "chunked"])
def test_every_input_is_used_in_the_compute_dtype(fn, layout, scan_inputs):
    """u's compute dtype (float32 for half and float32 inputs) is the one every step runs in, as
    mamba_ssm's kernel does: half inputs are upcast, wider parameters are cast down. So the result
    is bit-equal to the scan of the inputs cast to float32, with y cast back to u's dtype and each
    gradient to its input's dtype; a step left in another dtype (the bias add, softplus,
    silu(z), D*u, a bf16 gradient accumulator) breaks the equality."""
    base = _plain(scan_inputs(L=40, keep="random"))
    inp = {k: (v.to(LAYOUTS[layout].get(k, torch.float32)) if isinstance(v, torch.Tensor) and v.is_floating_point()
               else v) for k, v in base.items()}
    up = {k: (v.float() if isinstance(v, torch.Tensor) and v.is_floating_point() else v) for k, v in inp.items()}
    y, last, grads = _outputs_and_grads(fn, inp)
    y32, last32, grads32 = _outputs_and_grads(fn, up)
    assert y.dtype == inp["u"].dtype and last.dtype == torch.float32
    assert torch.equal(y, y32.to(y.dtype))
    assert torch.equal(last, last32)
    for k, gr in grads.items():
        assert gr.dtype == inp[k].dtype and torch.equal(gr, grads32[k].to(gr.dtype)), k


@pytest.mark.parametrize("optional", [True, False], ids=["D-and-z", "plain"])
@pytest.mark.parametrize("backend", ["reference", "chunked"])
def test_empty_sequence_gives_empty_output_and_zero_state(backend, optional, scan_inputs):
    inp = _plain(scan_inputs(b=2, d=3, N=4, L=0, D=optional, z=optional))
    y, last = selective_scan(**inp, backend=backend, return_last_state=True)
    assert y.shape == (2, 3, 0) and y.dtype == inp["u"].dtype
    assert last.shape == (2, 3, 4) and bool((last == 0).all())


def test_public_defaults_match_mamba_ssm(scan_inputs):
    """No softplus unless asked (mamba_ssm's default), and the last state comes back when asked."""
    inp = _plain(scan_inputs(L=20))
    with torch.no_grad():
        plain = selective_scan_ref(**inp, delta_softplus=False)
        torch.testing.assert_close(selective_scan(**inp), plain, rtol=1e-12, atol=1e-12)
        assert not torch.allclose(plain, selective_scan_ref(**inp, delta_softplus=True))
        for backend in ("reference", "chunked", "auto"):
            out = selective_scan(**inp, return_last_state=True, backend=backend)
            assert isinstance(out, tuple) and len(out) == 2, backend
            want = selective_scan_ref(**inp, return_last_state=True)[1]
            torch.testing.assert_close(out[1], want, rtol=1e-9, atol=1e-9)


def test_auto_backend_prefers_the_cuda_kernel_where_it_runs(monkeypatch, scan_inputs):
    u = _plain(scan_inputs(L=4))["u"]
    monkeypatch.setattr(scan, "cuda_available", lambda t: True)
    assert resolve_backend(u) == "cuda"
    assert resolve_backend(u, "reference") == "reference"
    monkeypatch.setattr(scan, "cuda_available", lambda t: False)
    assert resolve_backend(u) == "chunked"


@pytest.mark.parametrize("b,d,N", [(1, 1, 1), (1, 8, 4), (2, 64, 16), (3, 48, 5), (4, 512, 16), (64, 1024, 16)])
def test_auto_chunk_is_a_clamped_power_of_two_near_the_element_budget(b, d, N):
    c = auto_chunk(b, d, N)
    assert 16 <= c <= 1024 and c & (c - 1) == 0, c
    ideal = CHUNK_ELEMENTS / (b * d * N)
    clamped = min(1024.0, max(16.0, ideal))
    assert clamped / math.sqrt(2) <= c <= clamped * math.sqrt(2), (c, ideal)


@pytest.mark.parametrize("n,T", [(0, 1), (1, 1), (2, 2), (3, 2), (4, 2), (16, 4), (64, 8), (100, 8), (1024, 32)])
def test_sub_chunk_length_is_a_power_of_two_near_the_square_root(n, T):
    assert chunked_mod._sub_len(n) == T


def test_chunked_sizes_its_chunks_and_sub_chunks_from_the_right_lengths(monkeypatch, scan_inputs):
    """The heuristics see (b, d, N) and each chunk's own length: results would not change if
    they did not (any chunk works), only time and memory, so this is checked directly."""
    inp = scan_inputs(b=2, d=3, N=5, L=3 * 16 + 5)
    chunk_args, sub_args = [], []
    real_auto, real_sub = chunked_mod.auto_chunk, chunked_mod._sub_len
    monkeypatch.setattr(chunked_mod, "auto_chunk", lambda *a: chunk_args.append(a) or 16)
    monkeypatch.setattr(chunked_mod, "_sub_len", lambda n: sub_args.append(n) or real_sub(n))
    y = selective_scan_chunked(**inp)
    y.sum().backward()
    assert chunk_args == [(2, 3, 5)]
    assert sorted(set(sub_args)) == [5, 16] and len(sub_args) == 8  # 4 chunks, forward and backward
    assert real_auto is auto_chunk
