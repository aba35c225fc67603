"""`actalker demo`: the embedded model on a held-out synthetic identity.

The synthetic world is procedural, so the demo's inputs are made at run time from a world
seed that training never uses (training data is seed 0, evaluation seeds are 1000+):

* the portrait, its face landmarks and the speech clip: clip ``DEMO_INDEX`` of world
  ``DEMO_SEED`` (an identity no model has seen);
* the motion track: the motion of another clip of that world (``DEMO_INDEX + 1``), so the
  eyes/brows have nothing to do with the speech.

Three videos from the same noise: both gates open, audio only, motion only. Written to OUT:
``demo.mp4`` (both gates, speech muxed), ``demo_strip.mp4`` (the three side by side, with
labels, speech muxed), ``demo_strip.png`` (a few frames per column with labels: rows where
the driver's eyes are most closed and most open, so eye control shows at a glance),
``demo_control.png`` (measured mouth and eye openness of each column against the speech and
the motion track over time), ``demo_effect.png`` (where closing each gate changes the
frames, with each branch's region outlined and the share of the change inside it) and
``demo.json`` (inputs, settings, timings, those shares).
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

DEMO_SEED = 424242   # never used to make training or evaluation data
DEMO_INDEX = 0
DEMO_FRAMES = 50     # 2 s at 25 fps
SETTINGS = (("both gates open", {"audio": 1.0, "motion": 1.0}),
            ("audio only", {"audio": 1.0, "motion": 0.0}),
            ("motion only", {"audio": 0.0, "motion": 1.0}))
SCALE = 3            # display upscaling of the 64 px frames
PNG_FRAMES = 6


def make_inputs(num_frames: int = DEMO_FRAMES, size: int = 64, fps: float = 25.0, seed: int = DEMO_SEED,
                index: int = DEMO_INDEX) -> dict:
    """Portrait, face, speech and an independent motion track from the held-out world."""
    from actalker.data.synth.world import make_clip

    face = make_clip(seed, index, num_frames=num_frames, size=size, fps=fps)
    driver = make_clip(seed, index + 1, num_frames=num_frames, size=size, fps=fps)
    return {"face": face, "motion": np.asarray(driver["motion"], np.float32), "driver_frames": driver["frames"],
            "motion_truth": {k: np.asarray(v) for k, v in driver["truth"].items()},
            "seed": seed, "index": index, "fps": fps, "num_frames": num_frames}


@dataclass(frozen=True)
class DemoClip:
    """The demo inputs as a ``ClipLike`` (actalker.core.controls): the face clip's portrait,
    landmarks and speech with the other clip's motion. Nothing is stored, so no ``path``."""

    id: str
    identity: str
    fps: float
    num_frames: int
    audio: np.ndarray
    motion: np.ndarray
    landmarks: np.ndarray
    boxes: np.ndarray
    video: np.ndarray = field(repr=False)
    truth: dict = field(default_factory=dict)
    path: Optional[Path] = None
    start: float = 0.0

    @property
    def source_fps(self) -> float:  # nothing stored: the inputs run at the output rate
        return float(self.fps)

    def frames(self, start: int = 0, stop: Optional[int] = None) -> np.ndarray:
        return np.asarray(self.video[start:stop])


def clip_view(inputs: dict) -> DemoClip:
    c = inputs["face"]
    return DemoClip(id=c["clip_id"], identity=c["identity"], fps=inputs["fps"], num_frames=inputs["num_frames"],
                    audio=np.asarray(c["audio"], np.float32), motion=inputs["motion"],
                    landmarks=np.asarray(c["landmarks"], np.float32), boxes=np.asarray(c["boxes"], np.float32),
                    video=np.asarray(c["frames"]))


def conditions_for(pipe, inputs: dict) -> dict:
    from actalker.core.controls import conditions_from_clip

    return conditions_from_clip(pipe.branches, clip_view(inputs), inputs["num_frames"])


def _label(img: np.ndarray, text: str) -> np.ndarray:
    from PIL import Image, ImageDraw

    bar = 14
    canvas = Image.new("RGB", (img.shape[1], img.shape[0] + bar), (255, 255, 255))
    canvas.paste(Image.fromarray(img), (0, bar))
    ImageDraw.Draw(canvas).text((3, 1), text, fill=(0, 0, 0))
    return np.asarray(canvas)


def _upscale(frames: np.ndarray, k: int) -> np.ndarray:
    return frames.repeat(k, axis=-3).repeat(k, axis=-2)


def strip_video(videos: list[np.ndarray], labels: list[str], k: int = SCALE) -> np.ndarray:
    """(F, H, W, 3) per setting -> (F, H*k + label, n*W*k + gaps, 3), labelled columns."""
    cols = []
    for v, name in zip(videos, labels):
        big = _upscale(v, k)
        cols.append(np.stack([_label(f, name) for f in big]))
    gap = np.full((*cols[0].shape[:2], 4, 3), 255, np.uint8)
    parts = []
    for i, c in enumerate(cols):
        parts += [c] + ([gap] if i < len(cols) - 1 else [])
    return np.concatenate(parts, axis=2)


def pick_rows(eye_track: np.ndarray, n: int = PNG_FRAMES) -> np.ndarray:
    """Frames for the strip's rows, in time order: half where the driving eyes are most
    closed, half where most open, at least F / (2 n) frames apart (so rows differ)."""
    eye = np.asarray(eye_track, np.float64)
    gap = max(1, len(eye) // (2 * n))
    chosen: list[int] = []
    for order, quota in ((np.argsort(eye), n - n // 2), (np.argsort(-eye), n // 2)):
        taken = 0
        for i in order:
            if taken == quota:
                break
            if all(abs(int(i) - j) >= gap for j in chosen):
                chosen.append(int(i))
                taken += 1
    return np.array(sorted(chosen))


def strip_png(path: Path, videos: list[np.ndarray], labels: list[str], fps: float, n: int = PNG_FRAMES,
              k: int = SCALE, reference: Optional[np.ndarray] = None, rows: Optional[np.ndarray] = None,
              row_notes: Optional[list[str]] = None) -> Path:
    """Rows = frames (time down), columns = settings; a header row with the labels. With
    ``reference`` a first column shows the input portrait (top row only); ``rows`` picks
    the frames (default: ``n`` evenly spaced), ``row_notes`` adds a line under each time."""
    idx = np.linspace(0, videos[0].shape[0] - 1, n).round().astype(int) if rows is None else np.asarray(rows)
    n = len(idx)
    if reference is not None:
        ref_col = np.full_like(videos[0], 255)
        ref_col[idx[0]] = reference
        videos, labels = [ref_col] + list(videos), ["input portrait"] + list(labels)
    from PIL import Image, ImageDraw

    h, w = videos[0].shape[1] * k, videos[0].shape[2] * k
    head, left, gap = 16, 48, 4
    W = left + len(videos) * (w + gap)
    H = head + n * (h + gap)
    canvas = Image.new("RGB", (W, H), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    for j, name in enumerate(labels):
        draw.text((left + j * (w + gap) + 3, 2), name, fill=(0, 0, 0))
    for r, i in enumerate(idx):
        y = head + r * (h + gap)
        note = f"\n{row_notes[r]}" if row_notes else ""
        draw.text((3, y + h // 2 - 5), f"{i / fps:.2f}s{note}", fill=(0, 0, 0))
        for j, v in enumerate(videos):
            canvas.paste(Image.fromarray(_upscale(v[i], k)), (left + j * (w + gap), y))
    path.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(path)
    return path


def control_plot(path: Path, videos: list[np.ndarray], labels: list[str], inputs: dict) -> Path:
    """Measured mouth and eye openness of each column against the speech envelope and the
    motion track's eyes over time: where a gate is open the line follows its signal."""
    from actalker.eval.control import audio_envelope, motion_eye_track
    from actalker.eval.openness import measure_openness
    from actalker.eval.plots import plot_tracks

    face, n, fps = inputs["face"], inputs["num_frames"], inputs["fps"]
    lm, bx = np.asarray(face["landmarks"][:1], np.float32), np.asarray(face["boxes"][:1], np.float32)
    measured = [measure_openness(v, lm, bx) for v in videos]
    panels = [
        {"title": "mouth: measured in each column vs the speech envelope",
         "lines": {"speech envelope": audio_envelope(face["audio"], fps, n),
                   **{f"measured, {name}": o.mouth for name, o in zip(labels, measured)}}},
        {"title": "eyes: measured in each column vs the driving video's eyes (motion track)",
         "lines": {"motion eye track": motion_eye_track(inputs["motion"])[:n],
                   **{f"measured, {name}": o.eyes for name, o in zip(labels, measured)}}},
    ]
    return plot_tracks(path, panels, fps, title="demo: does each region follow its own signal?")


def effect_files(path: Path, pipe, ref, videos, lm, bx) -> tuple[Path, dict]:
    """``demo_effect.png`` (where closing each gate changes the frames) and, per branch, the
    share of that change inside its own region (actalker.demo.effect)."""
    from actalker.demo.effect import effect_picture, gate_effects, share_inside

    h, w = ref.shape[:2]
    effects = gate_effects(videos, [g for _, g in SETTINGS])
    regions = {b.name: b.region for b in pipe.branches if b.name in effects}
    masks = {name: m[0].numpy() for name, m in pipe.region_masks(lm, bx, h, w).items()}
    by_branch = {b: masks[r] for b, r in regions.items()}
    shares = {b: {"region": regions[b], **share_inside(effects[b], by_branch[b])} for b in regions}
    picture = effect_picture(path, ref, {b: effects[b] for b in regions}, by_branch, regions,
                             title="demo: where does each signal change the video?")
    return picture, shares


def run_demo(out="outputs/demo", steps: Optional[int] = None, seed: int = 0, model_dir=None,
             allow_untrained: bool = False, num_frames: int = DEMO_FRAMES, log=print) -> dict:
    """Generate the demo; returns {"files": {...}, "seconds": ..., "trained": bool}."""
    import torch

    from actalker.core.generation_settings import resolve_settings
    from actalker.media.video import write_video
    from actalker.utils.atomic import write_text_atomic
    from actalker.utils.paths import check_writable_output

    t0 = time.time()
    out = Path(out)
    check_writable_output(out, "--out folder", is_dir=True)  # before the model loads
    pipe, source, trained = _demo_pipeline(model_dir, allow_untrained, log)
    torch.manual_seed(seed)
    s = pipe.config.sampling
    steps = resolve_settings(pipe.config, steps).steps  # the model folder's, unless --steps
    size = int(s.height)
    inputs = make_inputs(num_frames=num_frames, size=size, fps=float(s.fps))
    face = inputs["face"]
    conditions = conditions_for(pipe, inputs)
    ref = np.asarray(face["frames"][0])
    lm, bx = np.asarray(face["landmarks"][:1], np.float32), np.asarray(face["boxes"][:1], np.float32)
    videos, timings = _generate_settings(pipe, ref, conditions, lm, bx, num_frames, steps,
                                         inputs["fps"], seed)
    labels = [n for n, _ in SETTINGS]
    audio = np.asarray(face["audio"], np.float32)
    eye_track = inputs["motion_truth"]["eye_open"]  # the driving video's eyes: rows where they differ
    rows = pick_rows(eye_track, min(PNG_FRAMES, num_frames))
    out.mkdir(parents=True, exist_ok=True)
    files = {
        "video": write_video(out / "demo.mp4", _upscale(videos[0], SCALE), inputs["fps"], audio=audio),
        "strip_video": write_video(out / "demo_strip.mp4", strip_video(videos, labels), inputs["fps"], audio=audio),
        "strip_png": strip_png(out / "demo_strip.png", videos, labels, inputs["fps"], reference=ref, rows=rows,
                               row_notes=[f"eyes {eye_track[i]:.2f}" for i in rows]),
        "control_plot": control_plot(out / "demo_control.png", videos, labels, inputs),
    }
    files["effect_png"], region_effect = effect_files(out / "demo_effect.png", pipe, ref, videos, lm, bx)
    info = {"model": source, "trained": trained, "identity": face["identity"],
            "world": {"seed": inputs["seed"], "face_clip": inputs["index"], "motion_clip": inputs["index"] + 1},
            "frames": num_frames, "fps": inputs["fps"], "size": size, "steps": steps, "seed": seed,
            "settings": {n: g for n, g in SETTINGS}, "seconds_per_video": timings,
            "strip_rows": [int(i) for i in rows], "region_effect": region_effect}
    info["seconds"] = round(time.time() - t0, 1)
    write_text_atomic(out / "demo.json", json.dumps(info, indent=2) + "\n")
    files["info"] = out / "demo.json"
    return {"files": files, "seconds": info["seconds"], "trained": trained, "videos": videos, "inputs": inputs}


def untrained_pipeline():
    """The demo config's pipeline with fresh weights (untrained VAE too): only for showing
    the machinery when no trained model exists. Never presented as a result."""
    from actalker.config import load_config
    from actalker.plugins import load_registry
    from actalker.train.build import build_pipeline

    registry = load_registry()
    cfg, _ = load_config("demo", [], registry=registry)
    return build_pipeline(cfg, registry)


def _demo_pipeline(model_dir, allow_untrained: bool, log):
    """(pipeline, its source for demo.json, trained?): the shipped or given model, else
    random weights only when asked for, with a banner no one can miss."""
    from actalker.demo.model import DEMO_MODEL_DIR, demo_model_present, load_demo_pipeline
    from actalker.errors import InputError

    model_dir = Path(model_dir) if model_dir else DEMO_MODEL_DIR
    if demo_model_present(model_dir):
        return load_demo_pipeline(model_dir), str(model_dir), True
    msg = (f"NO TRAINED DEMO MODEL at {model_dir} (the weights are not shipped in this checkout). "
           "Train it with `make demo-model` (scripts/train_demo.sh, 45-80 min on 2 CPU cores).")
    if not allow_untrained:
        raise InputError(msg + " Or pass --allow-untrained to run with RANDOM weights (noise, not a result).")
    banner = "!" * 78
    log(f"{banner}\n{msg}\nRUNNING WITH FRESH, UNTRAINED WEIGHTS: the output is noise and shows nothing.\n{banner}")
    return untrained_pipeline(), "untrained (random weights)", False


def _generate_settings(pipe, ref, conditions, lm, bx, num_frames: int, steps: int, fps: float, seed: int):
    """One video per gate setting of ``SETTINGS``, same seed: (videos, seconds per setting)."""
    from tqdm.auto import tqdm

    videos, timings = [], {}
    bar = tqdm(SETTINGS, desc="demo", unit="video", dynamic_ncols=True)
    for name, gates in bar:
        bar.set_postfix_str(name)
        t = time.time()
        videos.append(pipe(ref, conditions, gates=gates, landmarks=lm, boxes=bx, num_frames=num_frames,
                           num_inference_steps=steps, fps=fps, seed=seed, progress=False))
        timings[name] = round(time.time() - t, 2)
    bar.close()
    return videos, timings
