"""The weight update: the fused AdamW training uses and the one-call EMA compute what the
per-tensor loops they replaced compute."""
import torch

from actalker.train.ema import EMA
from actalker.train.loop import make_optimizer


class _Train:
    lr, weight_decay = 1e-2, 0.05


def _params(seed):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(shape, generator=g).requires_grad_(True) for shape in ((5, 3), (7,), (2, 2, 3))]


def test_fused_adamw_matches_the_per_tensor_loop():
    fused, loop = _params(0), _params(0)
    opt = make_optimizer(fused, _Train, torch.device("cpu"))
    assert opt.defaults["fused"] is True
    ref = torch.optim.AdamW(loop, lr=_Train.lr, weight_decay=_Train.weight_decay, foreach=False)
    g = torch.Generator().manual_seed(1)
    for _ in range(4):
        for a, b in zip(fused, loop):
            a.grad = torch.randn(a.shape, generator=g)
            b.grad = a.grad.clone()
        opt.step()
        ref.step()
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(fused, loop))
    assert any(not torch.equal(a, b) for a, b in zip(fused, _params(0)))  # the weights did move


def test_ema_update_is_the_decayed_average_with_warmup():
    params = _params(2)
    named = [(str(i), p) for i, p in enumerate(params)]
    ema = EMA(named, decay=0.9)
    expected = [p.detach().clone() for p in params]
    g = torch.Generator().manual_seed(3)
    for n in range(5):
        with torch.no_grad():
            for p in params:
                p.add_(torch.randn(p.shape, generator=g))
        d = min(0.9, (1 + n) / (10 + n))
        expected = [d * e + (1 - d) * p.detach() for e, p in zip(expected, params)]
        ema.update(named)
    assert all(torch.allclose(ema.shadow[str(i)], e, atol=1e-6) for i, e in enumerate(expected))


def test_mambas_flagged_parameters_train_without_weight_decay():
    """mamba_ssm flags A_log and D ``_no_weight_decay``: with a zero gradient AdamW changes a
    parameter by weight decay alone, so the flagged ones must not move and the others must."""
    from actalker.core.mamba import MambaBlock

    block = MambaBlock(8, d_state=4, bidirectional=True)
    params = list(block.parameters())
    opt = make_optimizer(params, _Train, torch.device("cpu"))
    before = {n: p.detach().clone() for n, p in block.named_parameters()}
    for p in params:
        p.grad = torch.zeros_like(p)
    opt.step()
    exempt = {"A_log", "A_b_log", "D", "D_b"}
    for name, p in block.named_parameters():
        moved = not torch.equal(p.detach(), before[name])
        assert moved == (name not in exempt and bool(before[name].abs().sum() > 0)), name
    assert len(opt.param_groups) == 2 and opt.param_groups[1]["weight_decay"] == 0.0
    assert len(make_optimizer(_params(0), _Train, torch.device("cpu")).param_groups) == 1  # nothing flagged: one group
