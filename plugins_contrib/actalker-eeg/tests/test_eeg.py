"""EEG plugin: file format, band powers per frame, options, clips, encoder."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from actalker.plugins.testing import check_per_frame_encoder
from actalker.errors import ConfigError, InputError
from actalker.plugins import load_registry

SFREQ = 128.0


@pytest.fixture(scope="module")
def spec():
    return load_registry("builtin,eeg").modality("eeg")


def recording(path, seconds=2.0, channels=2, names=True):
    t = np.arange(int(seconds * SFREQ)) / SFREQ
    data = np.stack([np.sin(2 * np.pi * 10 * t), np.sin(2 * np.pi * 20 * t)] + [0.1 * np.sin(2 * np.pi * 6 * t)] * (channels - 2))
    extra = {"channel_names": np.array(["O1", "Cz", "Fz"][:channels])} if names else {}
    np.savez(path, data=data.astype(np.float32), sfreq=SFREQ, **extra)
    return path


def test_declaration(spec):
    assert spec.default_region == "upper_face" and spec.feature_shape(spec.parse_options({"num_channels": 2})) == (2, 5)


def test_band_powers_find_the_oscillation(spec, tmp_path):
    opts = spec.parse_options({"num_channels": 2})
    x = spec.load(recording(tmp_path / "e.npz"), 10, 5.0, opts)
    assert x.shape == (10, 2, 5) and torch.isfinite(x).all()
    bands = list(opts.bands)
    mid = x[3:7]  # frames whose window lies inside the recording
    assert (mid[:, 0].argmax(-1) == bands.index("alpha")).all()  # 10 Hz channel
    assert (mid[:, 1].argmax(-1) == bands.index("beta")).all()  # 20 Hz channel


def test_channels_by_name(spec, tmp_path):
    path = recording(tmp_path / "e.npz", channels=3)
    x = spec.load(path, 4, 5.0, spec.parse_options({"channels": ["Cz", "O1"]}))
    assert x.shape == (4, 2, 5) and (x[2, 0].argmax() == 3) and (x[2, 1].argmax() == 2)  # beta then alpha
    with pytest.raises(InputError, match="lacks channel\\(s\\) \\['T7'\\]"):
        spec.load(path, 4, 5.0, spec.parse_options({"channels": ["T7"]}))
    with pytest.raises(InputError, match="has 3 channels but options.num_channels is 8"):
        spec.load(path, 4, 5.0, spec.parse_options({}))


def test_too_short_and_bad_files(spec, tmp_path):
    opts = spec.parse_options({"num_channels": 2})
    path = recording(tmp_path / "e.npz", seconds=1.0)
    with pytest.raises(InputError, match="lasts 1.00 s but 10 frames at 5 fps need 2.00 s.*on_short='pad'"):
        spec.load(path, 10, 5.0, opts)
    assert spec.load(path, 10, 5.0, opts, on_short="pad").shape == (10, 2, 5)
    np.savez(tmp_path / "bad.npz", signal=np.zeros((2, 10)))
    with pytest.raises(InputError, match="expected an .npz with 'data'"):
        spec.load(tmp_path / "bad.npz", 2, 5.0, opts)


def test_options_validation(spec):
    with pytest.raises(ConfigError, match="did you mean 'window_s'"):
        spec.parse_options({"window": 2})
    with pytest.raises(ConfigError, match="band 'alpha' must satisfy 0 <= low < high"):
        spec.parse_options({"bands": {"alpha": [13, 8]}})


def test_from_clip_reads_eeg_npz_in_clip_folder(spec, tmp_path):
    opts = spec.parse_options({"num_channels": 2})
    clip = SimpleNamespace(id="c", path=tmp_path, num_frames=6, fps=5.0)
    with pytest.raises(InputError, match="missing .*eeg.npz .*put the recording in the clip folder"):
        spec.from_clip(clip, opts)
    recording(tmp_path / "eeg.npz")
    assert spec.from_clip(clip, opts).shape == (6, 2, 5)


def test_encoder(spec):
    opts = spec.parse_options({"num_channels": 2, "tokens": 3})
    enc = spec.build_encoder(opts, 8)
    x = torch.randn(2, 4, 2, 5)
    y = enc(x)
    assert y.shape == (2, 4, 3, 8)
    check_per_frame_encoder(enc, x, torch.randn(2, 5))
    # log powers have an arbitrary offset per recording: the encoder does not see it
    torch.testing.assert_close(enc(x + 3.0), y, rtol=1e-4, atol=1e-4)

