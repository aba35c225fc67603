"""Media I/O (video, audio) and face analysis (MediaPipe Face Landmarker).

``face`` is not imported here: it needs the optional ``mediapipe`` dependency.
"""
from actalker.media.audio import read_audio, write_wav
from actalker.media.video import probe_video, read_video, resample_frames, resample_indices, write_video

__all__ = ["probe_video", "read_audio", "read_video", "resample_frames", "resample_indices", "write_video", "write_wav"]
