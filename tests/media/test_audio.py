"""read_audio / write_wav: decoding real speech, round trip, one-line errors."""
from __future__ import annotations

import numpy as np
import pytest

from actalker.errors import InputError, ShapeError
from actalker.media import read_audio, write_video, write_wav


@pytest.mark.needs_shared
def test_speech_mp3_decodes_to_16k_mono(speech_path):
    audio = read_audio(speech_path)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert abs(len(audio) / 16000 - 52.0) < 0.2
    assert np.isfinite(audio).all() and audio.std() > 0.01
    assert abs(len(read_audio(speech_path, sr=8000)) / 8000 - 52.0) < 0.2


def test_wav_round_trip_and_resample(tmp_path):
    t = np.arange(24000) / 24000
    tone = (0.5 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)
    write_wav(tmp_path / "t.wav", tone, sr=24000)
    back = read_audio(tmp_path / "t.wav", sr=16000)  # resampled by ffmpeg
    assert abs(len(back) - 16000) <= 2
    ref = (0.5 * np.sin(2 * np.pi * 300 * np.arange(len(back)) / 16000)).astype(np.float32)
    assert np.corrcoef(back[100:-100], ref[100:-100])[0, 1] > 0.99
    with pytest.raises(ShapeError):
        write_wav(tmp_path / "s.wav", np.zeros((10, 2), np.float32))


def test_errors_are_one_line(tmp_path):
    with pytest.raises(InputError, match="not found.*nope.wav"):
        read_audio(tmp_path / "nope.wav")
    (tmp_path / "junk.mp3").write_bytes(b"noise" * 100)
    with pytest.raises(InputError) as err:
        read_audio(tmp_path / "junk.mp3")
    assert "junk.mp3" in str(err.value) and "\n" not in str(err.value)
    silent = write_video(tmp_path / "mute.mp4", np.zeros((3, 16, 16, 3), np.uint8), 25)
    with pytest.raises(InputError, match="mute.mp4 has no audio stream"):
        read_audio(silent)
