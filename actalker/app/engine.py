"""What the app does, without Gradio: the page's controls from the model's branches, its
files -> the pipeline's inputs, gates and schedules, generation with progress, the outputs.

Every user mistake raises the CLI's own ``ActalkerError`` (the page shows its one line)."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

from actalker.errors import InputError

Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class Control:
    """One branch's input in the page, described by its modality plugin."""

    branch: str
    modality: str
    flag: Optional[str]
    description: str
    region: str
    solo_region: str
    default_gate: float

    @property
    def label(self) -> str:
        how = f"--{self.flag}" if self.flag else f"--signal {self.branch}=PATH"
        return f"{self.branch} ({how}; steers: {self.region})"


def controls(pipe) -> list[Control]:
    return [Control(b.name, b.modality, b.spec.cli_flag, b.spec.description, b.region, b.solo_region, b.default_gate)
            for b in pipe.branches]


@dataclass
class Inputs:
    image: np.ndarray
    landmarks: Any
    boxes: Any
    conditions: dict                 # branch -> features (F, *feat)
    files: dict[str, Path]           # branch -> the file it came from
    portrait: Path
    fps: float
    audio: Optional[np.ndarray] = None
    audio_from: Optional[str] = None
    example: bool = False
    regions: dict[str, tuple[str, str]] = field(default_factory=dict)  # branch -> (modality, region)

    @property
    def num_frames(self) -> int:
        return min(int(c.shape[0]) for c in self.conditions.values())


def read_portrait(path: Optional[str], example=None, face_model: Optional[str] = None):
    """-> (image, landmarks (1, 478, 3), boxes (1, 4)); the example's own face when it is the example."""
    from actalker.commands.generate import _read_image

    if not path:
        raise InputError("no portrait given; upload one or load the example")
    image = _read_image(path)
    if example is not None and example.matches("portrait", path):
        return image, example.landmarks, example.boxes
    from actalker.media.face import FaceTracker

    track = FaceTracker(face_model).detect_image(image, name=f"the portrait {Path(path).name}")
    return image, track.landmarks[:1], track.boxes[:1]


def read_inputs(pipe, portrait: Optional[str], files: dict[str, Optional[str]], example=None,
                face_model: Optional[str] = None) -> Inputs:
    """The page's files -> the pipeline's inputs (each branch's plugin reads its file)."""
    from actalker.commands.generate import _first_audio
    from actalker.media.video import check_file

    fps = float(pipe.config.sampling.fps)
    given = {k: check_file(v, f"{k} input") for k, v in files.items() if v}
    if not given:
        raise InputError(f"no control signal given; upload at least one input ({', '.join(files) or 'none'})")
    image, landmarks, boxes = read_portrait(portrait, example, face_model)
    conditions, used_example = {}, example is not None and example.matches("portrait", portrait)
    for name, path in given.items():
        if example is not None and example.matches(name, str(path)):
            conditions[name] = example.conditions[name]
        else:
            b = pipe.branch(name)
            conditions[name] = b.spec.load(path, None, fps, b.options, "error")
            used_example = False
    audio, audio_from = _first_audio(given)
    regions = {b.name: (b.modality, b.region) for b in pipe.branches if b.name in given}
    return Inputs(image, landmarks, boxes, conditions, given, Path(portrait), fps, audio, audio_from, used_example,
                  regions)


def parse_gates(pipe, sliders: dict[str, float], schedules: dict[str, str], inputs: Inputs) -> dict:
    """branch -> GateSchedule: the schedule text where given, else the slider. A branch
    without an input is off (its gate is not used); an open schedule without one is an error."""
    from actalker.core import gate_schedule

    out = {}
    for name in pipe.branch_names:
        text = (schedules.get(name) or "").strip()
        g = gate_schedule.parse_schedule(name, text, "gate") if text else gate_schedule.constant(name, sliders.get(name, 1.0))
        if name not in inputs.conditions:
            if text and g.is_open():
                raise InputError(f"gate {name}: the schedule {text!r} opens a branch without an input; upload its file")
            continue
        out[name] = g
    return out


def generate(pipe, inputs: Inputs, gates: dict, steps: Optional[int] = None, seed: int = 0,
             progress: Optional[Progress] = None, on_frames: Optional[Callable[[np.ndarray], None]] = None):
    """Streams the video window by window -> an output with ``frames`` and ``settings``;
    ``progress(fraction, text)`` per stage and window, ``on_frames(all frames so far)``."""
    from types import SimpleNamespace

    report = progress or (lambda f, t: None)
    parts, settings = [], None

    def on_stage(stage, done, total):
        if stage == "windows":
            report(0.1 + 0.8 * done / total, f"window {done}/{total} denoised")

    report(0.1, "denoising window by window")
    for chunk in pipe.stream(inputs.image, inputs.conditions, gates=gates, landmarks=inputs.landmarks,
                             boxes=inputs.boxes, num_frames=inputs.num_frames, num_inference_steps=steps,
                             fps=inputs.fps, seed=int(seed), progress=on_stage):
        parts.append(chunk.frames)
        settings = chunk.settings
        if on_frames is not None:
            on_frames(np.concatenate(parts))
    return SimpleNamespace(frames=np.concatenate(parts), settings=settings)


def settings_record(model: str, inputs: Inputs, result, seconds: float) -> dict:
    """The result's json: the inputs and every setting as the pipeline resolved it."""
    return {"model": model, "image": str(inputs.portrait), "example": inputs.example,
            "signals": {k: str(v) for k, v in inputs.files.items()}, "audio_from": inputs.audio_from,
            **result.settings.as_dict(), "seconds": round(seconds, 2)}


def save_outputs(folder, model: str, inputs: Inputs, result, gates: dict, seconds: float) -> dict[str, Path]:
    """result.mp4 (the first audio input muxed in), result.json and control.png in ``folder``."""
    from actalker.app.plots import control_plot
    from actalker.media.video import write_video
    from actalker.utils.atomic import write_text_atomic

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    fps = result.settings.fps
    video = write_video(folder / "result.mp4", result.frames, fps, audio=inputs.audio, sr=16000)
    record = settings_record(model, inputs, result, seconds)
    settings = folder / "result.json"
    write_text_atomic(settings, json.dumps(record, indent=2, default=str) + "\n")
    plot = control_plot(folder / "control.png", result.frames, inputs, result.settings, gates)
    return {"video": video, "settings": settings, "plot": plot}


def run_once(pipe, model: str, folder, inputs: Inputs, gates: dict, steps=None, seed=0,
             progress: Optional[Progress] = None, on_partial: Optional[Callable[[Path], None]] = None) -> dict[str, Path]:
    """Generate and save: what the page's Generate button does; ``on_partial(mp4)`` gets
    the video so far after each window (the page shows it while the rest is made)."""
    from actalker.media.video import write_video

    t0 = time.time()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    count = iter(range(10 ** 6))

    def partial(frames: np.ndarray) -> None:
        if on_partial is not None:
            on_partial(write_video(folder / f"partial_{next(count):03d}.mp4", frames, inputs.fps))

    result = generate(pipe, inputs, gates, steps, seed, progress, partial)
    if progress:
        progress(0.92, "writing the video, settings and control plot")
    return save_outputs(folder, model, inputs, result, gates, time.time() - t0)
