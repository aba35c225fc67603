"""Shared test fixtures: the ../shared media beside the repo, and deterministic torch."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared"


def shared_file(relative: str) -> Path:
    """A file under ../shared, or skip the test with the reason (absent on users' machines)."""
    path = SHARED / relative
    if not path.is_file():
        pytest.skip(f"needs ../shared/{relative} (real media beside the repo), not present here")
    return path


@pytest.fixture
def portrait_path() -> Path:
    return shared_file("media/ref_portrait.png")


@pytest.fixture
def driving_video_path() -> Path:
    return shared_file("media/driving_talk.mp4")


@pytest.fixture
def speech_path() -> Path:
    return shared_file("media/speech_52s.mp3")


@pytest.fixture
def face_model_path() -> Path:
    return shared_file("models/face_landmarker_v2_with_blendshapes.task")


# Tiny models run faster on one thread than split over two busy cores (about 10x in the
# training tests); benchmarks set their own thread counts.
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _deterministic_torch():
    torch.manual_seed(0)
    yield
