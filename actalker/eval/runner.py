"""Control metrics of a model: generate held-out clips at several gate settings, measure.

For each clip and gate setting the pipeline gets the clip's first frame as the reference
portrait, every branch's features from the clip (the plugin's ``from_clip``) and the
reference face's landmarks (first frame, static). The generated frames are measured with
the openness estimator (mouth and eyes; colours and alignment from the generated first
frame) and scored against what each of the model's branches declares it drives
(``ModalitySpec.drives``: its own signal track and the ground truth), for any branches.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from actalker.errors import InputError
from actalker.eval.control import Signal, aggregate, metric_keys, score_clip
from actalker.eval.openness import measure_openness

LABELS = {"mouth_audio": "mouth~audio", "eyes_motion": "eyes~motion", "leak_mouth_motion": "|mouth~motion|",
          "leak_mouth_driver": "|mouth~driver mouth|", "leak_eyes_audio": "|eyes~audio|",
          "mouth_truth": "mouth~truth", "eyes_truth": "eyes~truth"}


def parse_gate_settings(text: str, branches: list[str]) -> list[dict[str, float]]:
    """"audio=1,motion=1;audio=1,motion=0" -> [{audio: 1, motion: 1}, ...]; a branch left
    out of a setting is closed (0)."""
    out = []
    for part in [p.strip() for p in text.split(";") if p.strip()]:
        gates = {b: 0.0 for b in branches}
        for item in [i.strip() for i in part.split(",") if i.strip()]:
            name, eq, value = item.partition("=")
            name = name.strip()
            if not eq or name not in branches:
                raise InputError(f"--gates {part!r}: expected BRANCH=G items with branches from {branches}, got {item!r}")
            try:
                gates[name] = float(value)
            except ValueError:
                raise InputError(f"--gates {item!r}: {value!r} is not a number") from None
            if not np.isfinite(gates[name]) or gates[name] < 0:
                raise InputError(f"--gates {item!r}: a gate must be a finite number >= 0")
        out.append(gates)
    if not out:
        raise InputError("--gates: no gate setting given, e.g. 'audio=1,motion=1;audio=0,motion=1'")
    return out


def default_gate_text(branches: list[str]) -> str:
    """Every branch open, then each branch alone (one setting when there is one branch)."""
    settings = [",".join(f"{b}=1" for b in branches)]
    if len(branches) > 1:
        settings += [",".join(f"{b}={int(b == alone)}" for b in branches) for alone in branches]
    return ";".join(settings)


def setting_name(gates: dict[str, float]) -> str:
    return ",".join(f"{k}={v:g}" for k, v in gates.items())


def plugin_measures(branches, frames, landmarks, boxes) -> dict:
    """Measures the branches drive beyond mouth and eyes, from plugins' ``MeasureSpec``s
    (``register_metrics``); an unknown one is an error naming the branch."""
    from actalker.eval.registry import BUILTIN_MEASURES

    wanted = {t.measure: b.name for b in branches for t in b.spec.drives
              if t.measure is not None and t.measure not in BUILTIN_MEASURES}
    if not wanted:
        return {}
    from actalker.eval.registry import load_metric_registry

    measures = load_metric_registry().measures
    out = {}
    for name, branch in wanted.items():
        if name not in measures:
            raise InputError(f"branch '{branch}' drives measure '{name}', which no plugin registers "
                             f"(known: {', '.join([*BUILTIN_MEASURES, *measures])})")
        out[name] = np.asarray(measures[name].measure(frames, landmarks, boxes), np.float64)
    return out


def clip_signals(branches, clip, num_frames: int) -> list[Signal]:
    """Each branch's declared targets (``ModalitySpec.drives``) as tracks of ``clip``."""
    out = []
    for b in branches:
        for t in b.spec.drives:
            track = t.track(clip, num_frames) if t.track is not None else clip.truth.get(t.truth)
            track = None if track is None else np.asarray(track, np.float64)[:num_frames]
            out.append(Signal(b.name, t.name or b.name, t.measure, track, t.truth))
    return out


# Saved track names of the built-in signals (results JSONs and actalker.demo.report read them).
SAVED_TRACK_KEYS = {"audio": "audio_env", "motion": "motion_eye", "driver": "motion_mouth"}


def saved_tracks(t: dict) -> dict:
    """One clip's tracks for the results JSON: each measure, then each signal's track."""
    out = {m: np.asarray(v).round(5).tolist() for m, v in t["measured"].items()}
    for s in t["signals"]:
        if s.track is not None:
            out[SAVED_TRACK_KEYS.get(s.name, s.name)] = np.asarray(s.track).round(5).tolist()
    return out


def plot_panels(setting: dict) -> list[dict]:
    """Panels of the first clip: each measure a branch drives, with that branch's track."""
    t = setting["tracks"][0]
    return [{"title": f"{setting['name']}: {s.measure}",
             "lines": {f"measured {s.measure}": t["measured"][s.measure], f"{s.name} track": s.track}}
            for s in t["signals"] if s.measure is not None and s.track is not None]


def label(key: str) -> str:
    """Table label of a metric: mouth~audio, |eyes~audio|, ..."""
    if key in LABELS:
        return LABELS[key]
    if key.startswith("leak_"):
        measure, _, name = key[5:].partition("_")
        return f"|{measure}~{name}|"
    measure, _, name = key.partition("_")
    return f"{measure}~{name}"


def _fit_landmarks(pipe, clip):
    """The model's (height, width), the crop of the clip's frames that fits it, and the first
    frame's landmarks and boxes in that crop (static: as the pipeline gets them)."""
    import torch

    from actalker.core.framing import crop_boxes, crop_points, fit_image

    s = pipe.config.sampling
    h, w = int(s.height), int(s.width)
    lm = np.array(clip.landmarks[:1], np.float32)  # copies: clip arrays are read-only maps
    bx = np.array(clip.boxes[:1], np.float32)
    _, crop = fit_image(clip.frames(0, 1)[0], h, w)
    return (h, w), crop_points(torch.as_tensor(lm), crop).numpy(), crop_boxes(torch.as_tensor(bx), crop).numpy()


def generate_clip(pipe, clip, gates: dict[str, float], num_frames: int, steps: Optional[int], seed: int):
    """Frames (F, H, W, 3) generated for ``clip`` and the reference face at their size."""
    from actalker.core.controls import conditions_from_clip

    (h, w), lm, bx = _fit_landmarks(pipe, clip)
    conditions = conditions_from_clip(pipe.branches, clip, num_frames)
    frames = pipe(clip.frames(0, 1)[0], conditions, gates=gates, landmarks=np.array(clip.landmarks[:1], np.float32),
                  boxes=np.array(clip.boxes[:1], np.float32), num_frames=num_frames, num_inference_steps=steps,
                  height=h, width=w, fps=clip.fps, seed=seed, progress=False)
    return frames, lm, bx


def clip_frames(pipe, clip, num_frames: int):
    """The clip's own first frames fitted to the model's size as uint8 (F, H, W, 3), as
    rendered, and the first frame's landmarks and boxes."""
    import torch

    from actalker.core.framing import fit_image
    from actalker.core.sampling import frames_to_uint8

    (h, w), lm, bx = _fit_landmarks(pipe, clip)
    return frames_to_uint8(torch.cat([fit_image(f, h, w)[0] for f in clip.frames(0, num_frames)])), lm, bx


def score_frames(pipe, clip, frames, lm, bx, num_frames: int) -> tuple[dict, dict]:
    """One clip's metric row and tracks: ``frames`` measured (mouth, eyes and the plugins'
    measures) and scored against every branch's declared targets (the one rule: score_clip)."""
    o = measure_openness(frames, lm, bx, registry=getattr(pipe, "registry", None))  # stand-ins have none
    measured = {"mouth": o.mouth, "eyes": o.eyes, **plugin_measures(pipe.branches, frames, lm, bx)}
    signals = clip_signals(pipe.branches, clip, num_frames)
    row = score_clip(measured, signals, {k: np.asarray(v)[:num_frames] for k, v in clip.truth.items()})
    return {"clip": clip.id, **row}, {"measured": measured, "signals": signals}


def _log_row(log, name: str, clip, row: dict) -> None:
    if log:
        log(f"[{name}] {clip.id}: " + ", ".join(f"{label(k)} {row[k]:+.2f}" for k in metric_keys([row])))


def evaluate_control(pipe, clips, settings: list[dict[str, float]], num_frames: Optional[int] = None,
                     steps: Optional[int] = None, seed: int = 0, log=print) -> dict:
    """{"settings": [{"gates", "name", "metrics" (aggregate), "clips" (rows), "tracks"}]}."""
    results = []
    for gates in settings:
        rows, tracks = [], []
        for i, clip in enumerate(clips):
            n = min(clip.num_frames, num_frames or clip.num_frames)
            frames, lm, bx = generate_clip(pipe, clip, gates, n, steps, seed + i)
            row, track = score_frames(pipe, clip, frames, lm, bx, n)
            rows.append(row)
            tracks.append(track)
            _log_row(log, setting_name(gates), clip, row)
        results.append({"gates": gates, "name": setting_name(gates), "metrics": aggregate(rows, tracks),
                        "clips": rows, "tracks": tracks})
    return {"settings": results}


# The two reference rows: the clips' frames as rendered (the ruler's own ceiling) and through
# the model's VAE (the ceiling of any denoiser with that VAE); the gap between them is the VAE's.
REFERENCE_NAMES = {"reference_frames": "clip frames as rendered", "reference": "clip frames through the VAE"}
REFERENCE_NAME = REFERENCE_NAMES["reference"]


def evaluate_references(pipe, clips, num_frames: Optional[int] = None, log=print) -> dict:
    """The clips' own frames scored as generated frames are, as rendered ("reference_frames":
    what the ruler alone reads) and encoded (posterior mean) and decoded by the model's VAE as
    the pipeline decodes ("reference": what a denoiser that reproduced the clips exactly would
    show, so no denoiser can read higher on average), with the leakage the clips themselves
    carry. {key: {"name", "metrics", "clips"}} for each key of REFERENCE_NAMES."""
    from actalker.eval.validate import vae_roundtrip

    s = pipe.config.sampling
    through_vae = vae_roundtrip(pipe.vae, s.decode_chunk, s.decode_overlap)
    rows, tracks = {k: [] for k in REFERENCE_NAMES}, {k: [] for k in REFERENCE_NAMES}
    for clip in clips:
        n = min(clip.num_frames, num_frames or clip.num_frames)
        frames, lm, bx = clip_frames(pipe, clip, n)
        for key, seen in (("reference_frames", frames), ("reference", through_vae(frames))):
            row, track = score_frames(pipe, clip, seen, lm, bx, n)
            rows[key].append(row)
            tracks[key].append(track)
            _log_row(log, key, clip, row)
    return {k: {"name": name, "metrics": aggregate(rows[k], tracks[k]), "clips": rows[k]}
            for k, name in REFERENCE_NAMES.items()}


def _table_row(name: str, clips: int, metrics: dict, keys: list[str]) -> str:
    cells = []
    for k in keys:
        if k not in metrics:
            cells.append("-")
            continue
        m = metrics[k]
        levels = [f"{level} {m[level]:.2f}" for level in ("chance", "truth") if level in m]
        cells.append(f"{m['mean']:+.2f} [{m['lo']:+.2f}, {m['hi']:+.2f}]" + (f" ({', '.join(levels)})" if levels else ""))
    return f"| {name} | {clips} | " + " | ".join(cells) + " |"


def markdown_table(result: dict) -> str:
    """One row per gate setting: mean [95% CI] of each metric; leakages with their chance level
    and truth level (what the ground truth itself reads, on synthetic clips). With a
    ``reference_frames`` and ``reference`` (evaluate_references), their rows last: the ceiling
    of each following metric for the ruler alone, then with the model's VAE."""
    rows = [*result["settings"], *(result[k] for k in REFERENCE_NAMES if result.get(k))]
    keys = metric_keys([r["metrics"] for r in rows])
    lines = ["| gates | clips | " + " | ".join(label(k) for k in keys) + " |", "|" + "---|" * (len(keys) + 2)]
    lines += [_table_row(r["name"], len(r["clips"]), r["metrics"], keys) for r in rows]
    return "\n".join(lines)
