"""The per-region control plot: for each branch, the openness measured in the generated
video in the part its region covers, against the branch's driving signal and its gate."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def _audio_track(inputs, name: str, n: int):
    from actalker.eval.control import audio_envelope
    from actalker.media.audio import read_audio

    return audio_envelope(read_audio(inputs.files[name], 16000), inputs.fps, n)


def _motion_track(inputs, name: str, n: int):
    from actalker.eval.control import motion_eye_track

    return motion_eye_track(np.asarray(inputs.conditions[name]))[:n]


# The signal a modality's branch should be followed by (eval/control.py's tracks); any other
# modality is shown as the size of its features per frame.
TRACKS = {"audio": ("audio envelope", _audio_track), "motion": ("motion eye track", _motion_track)}


def signal_track(modality: str, inputs, name: str, n: int) -> tuple[str, np.ndarray]:
    label, fn = TRACKS.get(modality, (None, None))
    if fn is not None:
        try:
            return label, np.asarray(fn(inputs, name, n), np.float64)
        except Exception:  # noqa: BLE001 -- e.g. a motion branch on other columns: fall back
            pass
    feats = np.asarray(inputs.conditions[name], np.float64)[:n]
    return f"{name} feature size", np.linalg.norm(feats.reshape(len(feats), -1), axis=1)


def control_plot(path, frames: np.ndarray, inputs, settings, gates: dict) -> Path:
    """One panel per branch with an input; openness measured with the reference face;
    a scheduled gate is drawn too (``gates``: branch -> GateSchedule)."""
    from actalker.eval.openness import measure_openness
    from actalker.eval.plots import plot_tracks

    n = len(frames)
    o = measure_openness(np.asarray(frames), *face_in_frames(inputs, settings))
    measured = {"mouth": o.mouth, "eyes": o.eyes}
    panels = []
    for name, (modality, region) in inputs.regions.items():
        part = "mouth" if "mouth" in region else "eyes"
        label, track = signal_track(modality, inputs, name, n)
        lines = {f"measured {part}": measured[part], label: track}
        if name in gates and gates[name].constant is None:
            lines["gate"] = gates[name].per_frame(n, settings.fps)
        panels.append({"title": f"{name} -> region {region} (measured: {part})", "lines": lines})
    return plot_tracks(path, panels, settings.fps, title="control: signal vs measured openness (z-scores)")


def face_in_frames(inputs, settings):
    """The reference face's landmarks and box mapped into the output crop."""
    import torch

    from actalker.core.framing import crop_boxes, crop_points, fit_image

    _, crop = fit_image(inputs.image, settings.height, settings.width)
    bx = crop_boxes(torch.tensor(np.array(inputs.boxes, np.float32)).reshape(-1, 4), crop).numpy()
    lm = None if inputs.landmarks is None else crop_points(torch.tensor(np.array(inputs.landmarks, np.float32)), crop).numpy()
    return lm, bx
