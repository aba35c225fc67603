"""Training tests: a fresh accelerate state per test (one torch thread comes from
tests/conftest.py).

accelerate keeps process-wide singletons (precision, device); each test builds its own
Accelerator from its own config.
"""
import pytest


@pytest.fixture(autouse=True)
def _fresh_accelerate():
    from accelerate.state import AcceleratorState, GradientState

    yield
    AcceleratorState._reset_state(True)
    GradientState._reset_state()
