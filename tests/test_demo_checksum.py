"""The demo path's frames are bit-identical across refactors (issue 17).

The model is the demo config's architecture with fresh weights drawn from a fixed seed (the
zero-initialised branch modules randomised, so the gates change the frames)
(not the shipped weights, which change independently), the inputs come from the synthetic
world with the syllable speech source (no dependence on espeak-ng being installed), at a
few frames and steps so it runs in seconds. The checksum was recorded before the issue-17
refactor on the pinned CPU stack (constraints-cpu.txt); a change means the generation path
changed numerically, not just its structure.

History: recorded before the issue-17 refactor (6c3063c2...) and unchanged by it; changed
once on purpose by issue 12's chunked-decoding fix (every decode call has the trained length
and 2-frame chunks are decoded at two phases and averaged), which changes the decoded frames.
"""
from __future__ import annotations

import hashlib

import numpy as np
import torch

EXPECTED = "8ec64ae8ba5ac9a19384c0cda357e844f443b573d63b8f7af348b05a058fefe3"


def demo_frames(tmp_path, monkeypatch) -> list[np.ndarray]:
    from actalker.data.synth import signals
    from actalker.demo import run as demo_run
    from tests.core.tiny_models import randomize_new_modules

    fresh = demo_run.untrained_pipeline

    def trained_looking():
        pipe = fresh()
        randomize_new_modules(pipe.denoiser)  # zero-initialised branches would make every gate setting alike
        return pipe

    monkeypatch.setattr(signals, "espeak_available", lambda: False)
    monkeypatch.setattr(demo_run, "untrained_pipeline", trained_looking)
    with torch.random.fork_rng():
        torch.manual_seed(1234)  # the fresh weights
        result = demo_run.run_demo(out=tmp_path / "out", steps=2, seed=5, model_dir=tmp_path / "no_model",
                          allow_untrained=True, num_frames=4, log=lambda *_: None)
    return result["videos"]


def test_demo_frames_bit_identical(tmp_path, monkeypatch):
    videos = demo_frames(tmp_path, monkeypatch)
    assert len(videos) == 3 and all(v.shape == (4, 64, 64, 3) and v.dtype == np.uint8 for v in videos)
    assert not np.array_equal(videos[0], videos[1]) and not np.array_equal(videos[1], videos[2])  # gates matter
    digest = hashlib.sha256(b"".join(np.ascontiguousarray(v).tobytes() for v in videos)).hexdigest()
    assert digest == EXPECTED
