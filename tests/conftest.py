"""Shared test fixtures: the ../shared media beside the repo, and deterministic torch."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared"


SHARED_FIXTURES = ("portrait_path", "driving_video_path", "speech_path", "face_model_path")


def shared_file(relative: str) -> Path:
    """A file under ../shared, or skip the test with the reason (absent on users' machines).

    Use it through the fixtures below (not directly), so that the tests needing it are
    marked ``needs_shared`` (see pytest_collection_modifyitems)."""
    path = SHARED / relative
    if not path.is_file():
        pytest.skip(f"needs_shared: {path} is absent (real media/models kept in ../shared beside the "
                    f"repository, not shipped with it); deselect these with -m 'not needs_shared'")
    return path


def pytest_collection_modifyitems(config, items):
    """Every test that reaches a ../shared fixture (directly or through another fixture) is
    marked ``needs_shared``, so `-m 'not needs_shared'` selects exactly the self-contained ones."""
    for item in items:
        if any(name in SHARED_FIXTURES for name in getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.needs_shared)


@pytest.fixture(scope="session")
def portrait_path() -> Path:
    return shared_file("media/ref_portrait.png")


@pytest.fixture(scope="session")
def driving_video_path() -> Path:
    return shared_file("media/driving_talk.mp4")


@pytest.fixture(scope="session")
def speech_path() -> Path:
    return shared_file("media/speech_52s.mp3")


@pytest.fixture(scope="session")
def face_model_path() -> Path:
    return shared_file("models/face_landmarker_v2_with_blendshapes.task")


# Tiny models run faster on one thread than split over two busy cores (about 10x in the
# training tests); benchmarks set their own thread counts.
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _deterministic_torch():
    torch.manual_seed(0)
    yield
