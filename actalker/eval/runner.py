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


def generate_clip(pipe, clip, gates: dict[str, float], num_frames: int, steps: Optional[int], seed: int):
    """Frames (F, H, W, 3) generated for ``clip`` and the reference face at their size."""
    import torch

    from actalker.core.controls import conditions_from_clip
    from actalker.core.framing import crop_boxes, crop_points, fit_image

    s = pipe.config.sampling
    ref = clip.frames(0, 1)[0]
    h, w = int(s.height), int(s.width)
    conditions = conditions_from_clip(pipe.branches, clip, num_frames)
    lm = np.array(clip.landmarks[:1], np.float32)  # copies: clip arrays are read-only maps
    bx = np.array(clip.boxes[:1], np.float32)
    frames = pipe(ref, conditions, gates=gates, landmarks=lm, boxes=bx, num_frames=num_frames,
                  num_inference_steps=steps, height=h, width=w, fps=clip.fps, seed=seed, progress=False)
    _, crop = fit_image(ref, h, w)
    lm = crop_points(torch.as_tensor(lm), crop).numpy()
    bx = crop_boxes(torch.as_tensor(bx), crop).numpy()
    return frames, lm, bx


def evaluate_control(pipe, clips, settings: list[dict[str, float]], num_frames: Optional[int] = None,
                     steps: Optional[int] = None, seed: int = 0, log=print) -> dict:
    """{"settings": [{"gates", "name", "metrics" (aggregate), "clips" (rows), "tracks"}]}."""
    results = []
    for gates in settings:
        rows, tracks = [], []
        for i, clip in enumerate(clips):
            n = min(clip.num_frames, num_frames or clip.num_frames)
            frames, lm, bx = generate_clip(pipe, clip, gates, n, steps, seed + i)
            o = measure_openness(frames, lm, bx, registry=getattr(pipe, "registry", None))  # stand-ins have none
            measured = {"mouth": o.mouth, "eyes": o.eyes, **plugin_measures(pipe.branches, frames, lm, bx)}
            signals = clip_signals(pipe.branches, clip, n)
            row = score_clip(measured, signals, {k: np.asarray(v)[:n] for k, v in clip.truth.items()})
            rows.append({"clip": clip.id, **row})
            tracks.append({"measured": measured, "signals": signals})
            if log:
                log(f"[{setting_name(gates)}] {clip.id}: " + ", ".join(f"{label(k)} {row[k]:+.2f}" for k in metric_keys([row])))
        results.append({"gates": gates, "name": setting_name(gates), "metrics": aggregate(rows, tracks),
                        "clips": rows, "tracks": tracks})
    return {"settings": results}


def markdown_table(result: dict) -> str:
    """One row per gate setting: mean [95% CI] of each metric; leakages with their chance level
    and truth level (what the ground truth itself reads, on synthetic clips)."""
    keys = metric_keys([s["metrics"] for s in result["settings"]])
    head = "| gates | clips | " + " | ".join(label(k) for k in keys) + " |"
    lines = [head, "|" + "---|" * (len(keys) + 2)]
    for s in result["settings"]:
        m = s["metrics"]
        cells = []
        for k in keys:
            if k not in m:
                cells.append("-")
                continue
            c = f"{m[k]['mean']:+.2f} [{m[k]['lo']:+.2f}, {m[k]['hi']:+.2f}]"
            levels = [f"{name} {m[k][name]:.2f}" for name in ("chance", "truth") if name in m[k]]
            cells.append(c + (f" ({', '.join(levels)})" if levels else ""))
        lines.append(f"| {s['name']} | {len(s['clips'])} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
