"""Shared fixture of the sweep tests: a tiny synthetic world (4 clips of 8 frames at 16 px)."""
from __future__ import annotations

import pytest

from actalker.cli import main


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("sweepworld") / "data"
    assert main(["synth", "--out", str(root), "--clips", "4", "--frames", "8", "--size", "16", "--fps", "12.5",
                 "--speech", "syllables", "--clips-per-identity", "1", "--quiet"]) == 0
    return root
