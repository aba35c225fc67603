"""Training tests: one intra-op thread, and a fresh accelerate state per test.

Tiny models are dominated by per-op overhead: on a busy 2-core machine one thread is
several times faster than two contending ones. accelerate keeps process-wide singletons
(precision, device); each test builds its own Accelerator from its own config.
"""
import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread_fresh_accelerate():
    from accelerate.state import AcceleratorState, GradientState

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
    AcceleratorState._reset_state(True)
    GradientState._reset_state()
