"""Fixtures for the scan and Mamba tests: random scan inputs in mamba_ssm's layout."""
import pytest
import torch


def make_keep(kind: str, b: int, L: int, gen: torch.Generator) -> torch.Tensor | None:
    if kind == "none":
        return None
    if kind == "all":
        return torch.ones(b, L, dtype=torch.bool)
    if kind == "empty":
        return torch.zeros(b, L, dtype=torch.bool)
    if kind == "alternating":
        k = torch.arange(L) % 2 == 0
        return torch.stack([k if i % 2 == 0 else ~k for i in range(b)])
    if kind == "random":
        return torch.rand(b, L, generator=gen) > 0.4
    raise ValueError(kind)


def make_scan_inputs(b=2, d=3, N=4, L=17, dtype=torch.float64, *, D=True, z=True, delta_bias=True,
                     keep="none", a_scale=1.0, delta_scale=1.0, seed=0):
    """Dict of selective_scan kwargs; floating tensors require grad. A < 0 as in Mamba."""
    g = torch.Generator().manual_seed(seed)

    def rnd(*shape):
        return torch.randn(*shape, generator=g, dtype=torch.float64)

    t = {
        "u": rnd(b, d, L),
        "delta": rnd(b, d, L) * delta_scale,
        "A": -torch.exp(rnd(d, N) * 0.5) * a_scale,
        "B": rnd(b, N, L),
        "C": rnd(b, N, L),
    }
    if D:
        t["D"] = rnd(d)
    if z:
        t["z"] = rnd(b, d, L)
    if delta_bias:
        t["delta_bias"] = rnd(d) * 0.5
    t = {k: v.to(dtype).requires_grad_() for k, v in t.items()}
    t["keep"] = make_keep(keep, b, L, g)
    return t


@pytest.fixture
def scan_inputs():
    return make_scan_inputs
