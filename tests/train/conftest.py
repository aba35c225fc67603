"""Tiny models are dominated by per-op overhead: on a busy 2-core machine one intra-op
thread is several times faster than two contending ones."""
import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
