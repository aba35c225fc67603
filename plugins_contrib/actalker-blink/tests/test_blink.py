"""The tutorial plugin works end to end: discovery, loading, clips, encoder, config."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from actalker.plugins.testing import check_per_frame_encoder
from actalker.errors import ConfigError, InputError
from actalker.plugins import load_registry


@pytest.fixture(scope="module")
def spec():
    reg = load_registry("regions,blink")  # found through its entry point
    return reg.modality("blink")


def write_csv(path, rows):
    path.write_text("frame,closure\n" + "".join(f"{f},{c}\n" for f, c in rows))
    return path


def test_declaration(spec):
    assert spec.default_region == spec.solo_region == "eyes" and spec.cli_flag == "blink"
    assert spec.feature_shape(spec.parse_options({})) == (1,)


def test_load_interpolates_and_fits_length(spec, tmp_path):
    path = write_csv(tmp_path / "c.csv", [(0, 0.0), (4, 1.0)])
    opts = spec.parse_options({})
    x = spec.load(path, None, 25.0, opts)
    assert torch.allclose(x[:, 0], torch.tensor([0.0, 0.25, 0.5, 0.75, 1.0]))
    assert spec.load(path, 3, 25.0, opts).shape == (3, 1)
    with pytest.raises(InputError, match="has 5 frames but 8 are needed.*on_short='pad'"):
        spec.load(path, 8, 25.0, opts)
    assert torch.equal(spec.load(path, 7, 25.0, opts, on_short="loop")[5:, 0], torch.tensor([0.0, 0.25]))


def test_smoothing_keeps_length(spec, tmp_path):
    path = write_csv(tmp_path / "c.csv", [(0, 0.0), (1, 0.0), (2, 1.0), (3, 0.0), (4, 0.0)])
    x = spec.load(path, None, 25.0, spec.parse_options({"smooth": 3}))[:, 0]
    assert x.shape == (5,) and torch.allclose(x[1:4], torch.full((3,), 1 / 3))


def test_bad_files(spec, tmp_path):
    opts = spec.parse_options({})
    (tmp_path / "w.csv").write_text("f,c\n0,1\n")
    with pytest.raises(InputError, match="expected a CSV with columns frame,closure"):
        spec.load(tmp_path / "w.csv", None, 25.0, opts)
    with pytest.raises(InputError, match="closure in \\[0, 1\\]"):
        spec.load(write_csv(tmp_path / "r.csv", [(0, 2.0)]), None, 25.0, opts)
    with pytest.raises(ConfigError, match="did you mean 'smooth'"):
        spec.parse_options({"smoth": 2})


def test_from_clip_uses_eye_open_truth(spec):
    clip = SimpleNamespace(id="c1", num_frames=3, fps=25.0, truth={"eye_open": np.array([1.0, 0.5, 0.0])})
    assert torch.allclose(spec.from_clip(clip, spec.parse_options({}))[:, 0], torch.tensor([0.0, 0.5, 1.0]))
    with pytest.raises(InputError, match="no truth\\['eye_open'\\]"):
        spec.from_clip(SimpleNamespace(id="c2", num_frames=3, fps=25.0, truth={}), spec.parse_options({}))


def test_encoder_shapes_and_gradient(spec):
    opts = spec.parse_options({"tokens": 2})
    enc = spec.build_encoder(opts, 16)
    x = torch.rand(2, 5, 1, requires_grad=True)
    y = enc(x)
    assert y.shape == (2, 5, 2, 16)
    y.sum().backward()
    assert x.grad is not None and spec.null_features(x).abs().sum() == 0
    check_per_frame_encoder(enc, torch.rand(2, 5, 1), 0.5)

