"""read_video / write_video / resample: round trips, muxed audio, one-line errors, atomicity."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from actalker.errors import InputError
from actalker.media import read_audio, read_video, resample_frames, resample_indices, write_video, write_wav


def _frames(n=20, h=48, w=64):
    """A bright square moving right over a gradient: every frame differs."""
    y, x = np.mgrid[:h, :w]
    base = np.stack([x * 255 // w, y * 255 // h, np.full_like(x, 90)], -1).astype(np.uint8)
    out = np.repeat(base[None], n, 0)
    for i in range(n):
        out[i, 10:26, 2 * i : 2 * i + 16] = 250
    return out


def _one_line(err: pytest.ExceptionInfo, *words: str) -> None:
    msg = str(err.value)
    assert "\n" not in msg
    for word in words:
        assert word in msg, msg


def test_round_trip_with_muxed_audio(tmp_path):
    frames = _frames()
    t = np.arange(16000 * 2) / 16000  # 2 s of audio for a 0.8 s video: cut to the video
    audio = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    out = write_video(tmp_path / "a.mp4", frames, 25, audio=audio)
    back, fps = read_video(out)
    assert back.shape == frames.shape and back.dtype == np.uint8 and fps == 25
    assert np.abs(back.astype(int) - frames).mean() < 6  # lossy, but close
    assert np.argmax(back[:, 18, :].astype(int).sum(-1), axis=1)[-1] > 30  # the square moved right
    sound = read_audio(out)  # the mp4 has an audio stream of the video's length
    assert abs(len(sound) / 16000 - 0.8) < 0.06
    assert 0.15 < np.abs(sound[2000:10000]).mean() < 0.25  # |sin| mean of a 0.3 tone = 0.19


def test_odd_size_is_padded_and_max_frames(tmp_path):
    out = write_video(tmp_path / "odd.mp4", _frames(6, 33, 41), 10)
    back, fps = read_video(out, max_frames=4)
    assert back.shape == (4, 34, 42, 3) and fps == 10


def test_write_is_atomic(tmp_path, monkeypatch):
    import actalker.media.video as video

    real, sent = video._frame_bytes, []

    def failing(frame):
        sent.append(1)
        if len(sent) == 2:
            raise RuntimeError("disk full")  # the second frame fails mid-write
        return real(frame)

    monkeypatch.setattr(video, "_frame_bytes", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        write_video(tmp_path / "x.mp4", _frames(5), 25, audio=np.zeros(8000, np.float32))
    assert list(tmp_path.iterdir()) == []  # no target, no temporaries


def test_missing_empty_junk_files(tmp_path):
    with pytest.raises(InputError) as err:
        read_video(tmp_path / "nope.mp4")
    _one_line(err, "not found", "nope.mp4")
    (tmp_path / "empty.mp4").write_bytes(b"")
    with pytest.raises(InputError) as err:
        read_video(tmp_path / "empty.mp4")
    _one_line(err, "empty", "empty.mp4")
    (tmp_path / "junk.mp4").write_bytes(b"definitely not a video " * 50)
    with pytest.raises(InputError) as err:
        read_video(tmp_path / "junk.mp4")
    _one_line(err, "junk.mp4", "corrupt")


def test_still_image_and_audio_only_are_not_videos(tmp_path):
    Image.fromarray(_frames(1)[0]).save(tmp_path / "still.png")
    with pytest.raises(InputError) as err:
        read_video(tmp_path / "still.png")
    _one_line(err, "still.png", "still image", "expected a video")
    write_wav(tmp_path / "speech.wav", np.zeros(16000, np.float32))
    with pytest.raises(InputError) as err:
        read_video(tmp_path / "speech.wav")
    _one_line(err, "speech.wav", "no video stream")


def test_truncated_video(tmp_path):
    out = write_video(tmp_path / "full.mp4", _frames(40), 25)
    data = out.read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError) as err:
        read_video(tmp_path / "cut.mp4")
    _one_line(err, "cut.mp4", "truncated")


def test_resample_nearest_time():
    assert resample_indices(10, 25, 12.5).tolist() == [0, 2, 4, 6, 8]
    assert resample_indices(4, 12.5, 25).tolist() == [0, 1, 1, 2, 2, 3, 3, 3]
    assert len(resample_indices(283, 25, 30)) == 339  # same duration: 11.32 s
    frames = np.arange(10)[:, None, None, None] * np.ones((1, 2, 2, 3), np.uint8)
    assert resample_frames(frames, 25, 12.5)[:, 0, 0, 0].tolist() == [0, 2, 4, 6, 8]
    assert resample_frames(frames, 25, 25) is frames


@pytest.mark.needs_shared
def test_real_driving_video(driving_video_path):
    frames, fps = read_video(driving_video_path, max_frames=5)
    assert frames.shape == (5, 512, 508, 3) and fps == 25.0
    assert frames.std() > 10  # real content, not a blank decode


def _fake_ffmpeg(tmp_path, monkeypatch, script: str):
    """Point imageio-ffmpeg (hence write_video) at a shell script standing in for ffmpeg."""
    import imageio_ffmpeg

    exe = tmp_path / "bin" / "ffmpeg"
    exe.parent.mkdir()
    exe.write_text("#!/bin/sh\n" + script)
    exe.chmod(0o755)
    monkeypatch.setenv("IMAGEIO_FFMPEG_EXE", str(exe))
    clear = getattr(imageio_ffmpeg.get_ffmpeg_exe, "cache_clear", lambda: None)
    clear()
    monkeypatch.setattr(imageio_ffmpeg.get_ffmpeg_exe, "cache_clear", clear, raising=False)
    return clear


def test_ffmpeg_failure_is_one_line_and_leaves_no_file(tmp_path, monkeypatch):
    """ffmpeg failing at the trailer (a full disk) after writing 4 KB and exiting 1: the
    error names the file and ffmpeg's reason; neither a new file nor a temporary is left."""
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    clear = _fake_ffmpeg(tmp_path, monkeypatch, (
        'cat > /dev/null\nfor last; do :; done\nhead -c 4096 /dev/zero > "$last"\n'
        'echo "[out#0/mp4] Error writing trailer: No space left on device" >&2\nexit 1\n'))
    try:
        with pytest.raises(OSError) as err:
            write_video(out_dir / "x.mp4", _frames(5), 25, audio=np.zeros(8000, np.float32))
    finally:
        clear()
    _one_line(err, "x.mp4", "no space left on device: could not write", "needed more than 4.0 KB")
    assert list(out_dir.iterdir()) == []


def test_ffmpeg_failure_keeps_the_old_file(tmp_path, monkeypatch):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    (out_dir / "x.mp4").write_bytes(b"old video")
    clear = _fake_ffmpeg(tmp_path, monkeypatch, "cat > /dev/null\necho 'Conversion failed!' >&2\nexit 1\n")
    try:
        with pytest.raises(OSError) as err:
            write_video(out_dir / "x.mp4", _frames(3), 25)
    finally:
        clear()
    _one_line(err, "x.mp4", "Conversion failed")
    assert [p.name for p in out_dir.iterdir()] == ["x.mp4"]
    assert (out_dir / "x.mp4").read_bytes() == b"old video"


def test_stream_round_trip_chunks_and_audio_cut_by_the_video(tmp_path):
    """Chunks arrive one by one; without num_frames the audio ends with the video."""
    from actalker.media.video import write_video_stream

    frames = _frames(20)
    audio = (0.3 * np.sin(2 * np.pi * 440 * np.arange(16000 * 2) / 16000)).astype(np.float32)
    out = write_video_stream(tmp_path / "s.mp4", (frames[i : i + 7] for i in range(0, 20, 7)), 25, audio=audio)
    back, fps = read_video(out)
    assert back.shape == frames.shape and fps == 25
    assert np.abs(back.astype(int) - frames).mean() < 6
    assert abs(len(read_audio(out)) / 16000 - 0.8) < 0.06


def test_stream_ffmpeg_failure_is_the_same_one_line_error(tmp_path, monkeypatch):
    from actalker.errors import OutputError
    from actalker.media.video import write_video_stream

    out_dir = tmp_path / "out"
    out_dir.mkdir()
    clear = _fake_ffmpeg(tmp_path, monkeypatch, "cat > /dev/null\necho 'Conversion failed!' >&2\nexit 1\n")
    try:
        with pytest.raises(OutputError) as err:
            write_video_stream(out_dir / "x.mp4", iter([_frames(3), _frames(3)]), 25)
    finally:
        clear()
    _one_line(err, "could not write video", "x.mp4", "Conversion failed")
    assert list(out_dir.iterdir()) == []


@pytest.mark.parametrize("fault", [KeyboardInterrupt, RuntimeError])
def test_stream_interrupted_between_chunks_leaves_the_old_file(tmp_path, fault):
    """Ctrl-C (or a failing generator) after the first chunk was encoded: ffmpeg is stopped,
    the temporary removed, the old file untouched."""
    from actalker.media.video import write_video_stream

    (tmp_path / "x.mp4").write_bytes(b"old video")

    def chunks():
        yield _frames(5)
        raise fault("stop")

    with pytest.raises(fault):
        write_video_stream(tmp_path / "x.mp4", chunks(), 25)
    assert [p.name for p in tmp_path.iterdir()] == ["x.mp4"]
    assert (tmp_path / "x.mp4").read_bytes() == b"old video"


def test_stream_chunk_of_another_size_is_one_line(tmp_path):
    from actalker.errors import ShapeError
    from actalker.media.video import write_video_stream

    with pytest.raises(ShapeError) as err:
        write_video_stream(tmp_path / "x.mp4", iter([_frames(3, 48, 64), _frames(3, 32, 64)]), 25)
    _one_line(err, "every chunk", "(48, 64)", "(32, 64)")
    assert list(tmp_path.iterdir()) == []
