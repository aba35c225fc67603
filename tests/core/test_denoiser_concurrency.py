"""Per-call state: one denoiser instance runs two forwards at once (issue 17: the PCM
conditioning is bound to the call, not stored on the instance)."""
from __future__ import annotations

import threading

import torch

from tests.core.tiny_models import randomize_new_modules, tiny_denoiser, tiny_inputs


def test_two_threads_share_one_denoiser():
    torch.manual_seed(0)
    den = tiny_denoiser().eval()
    randomize_new_modules(den)
    inputs = [tiny_inputs(seed=s) for s in (1, 2)]
    with torch.no_grad():
        alone = [den(**kw, return_dict=False)[0] for kw in inputs]
    results: dict[int, torch.Tensor] = {}
    start = threading.Barrier(2)

    def work(i: int) -> None:
        start.wait()
        with torch.no_grad():
            for _ in range(3):  # several rounds so the forwards overlap
                results[i] = den(**inputs[i], return_dict=False)[0]

    threads = [threading.Thread(target=work, args=(i,)) for i in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in (0, 1):
        torch.testing.assert_close(results[i], alone[i], rtol=1e-5, atol=1e-5)
    assert den._ctx is None  # nothing left bound after the calls
