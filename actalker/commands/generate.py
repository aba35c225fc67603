"""`actalker generate`: a portrait and control signals -> a talking-head mp4.

    actalker generate --model DIR --image PORTRAIT [--<flag> PATH ...] [--signal NAME=PATH ...]
                      [--gate NAME=G[@T],...] [--steps N] [--frames N] [--seed S] [--fps F] --out OUT.mp4

Each installed modality with a ``cli_flag`` adds ``--<flag> PATH`` (e.g. the built-in audio
modality adds ``--audio``); ``--signal NAME=PATH`` takes any branch or modality by name.
A gate is a constant (``--gate audio=1``) or keyframes over time, linearly interpolated
per frame (``--gate "motion=0@0s,1@2s,0.3@4s"``, TIME in seconds or frames ``50f``), or a
.json/.yaml file {branch: gate or schedule}; OUT.json records each schedule.
The portrait is cut to the square around the face that training clips are cut to
(actalker.media.portrait); several faces need ``--face-index N`` (0-based, from the left).
Every input is checked before any work starts; a user mistake prints one line and writes
nothing. Inputs accepted but worth a word (signals cut to the shortest, silent audio, a gate
above 1, a portrait unlike the model's training data) print one ``notice:`` line each. The video is written atomically with the audio of the first signal file that has
an audio stream muxed in, and the resolved settings are saved beside it (OUT.json).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Optional

import numpy as np

from actalker.errors import ConfigError, InputError

ON_SHORT = ("error", "pad", "loop")
MAX_FACES = 6  # faces looked for in the portrait (one is chosen, see --face-index)


def _installed_registry():
    """The plugin registry, or None if plugins fail to load (`actalker --help` must work even
    then; `generate` reports the plugin error itself when it loads the model)."""
    try:
        from actalker.plugins import load_registry

        return load_registry()
    except Exception:  # noqa: BLE001 -- a broken plugin must not break the whole CLI
        return None


def _signal_flags(reg=None) -> dict[str, str]:
    """cli_flag -> modality name of the installed modalities (of ``reg``, default: loaded now)."""
    reg = reg if reg is not None else _installed_registry()
    if reg is None:
        return {}
    return {spec.cli_flag: name for name, spec in sorted(reg.modalities.items()) if spec.cli_flag}


def _note_broken_plugins(parser, registry) -> None:
    """`generate --help` says which installed plugins failed (their flags are missing)."""
    for b in getattr(registry, "broken", []):
        parser.epilog += f"\nBroken plugin '{b.name}' (its flags are missing): {b.reason}"


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "generate",
        help="generate a talking-head video from a portrait and control signals",
        description="Generate a talking-head video (mp4) from a portrait and control signals.",
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--model", required=True, metavar="DIR", help="model folder (actalker train / save_pretrained)")
    p.add_argument("--image", required=True, metavar="PATH", help="reference portrait (PNG/JPEG)")
    p.add_argument("--out", required=True, metavar="OUT.mp4", help="output video; settings go to OUT.json")
    registry = _installed_registry()  # loaded once: the flags here, the model's branches in run
    flags = _signal_flags(registry)
    for flag, modality in flags.items():
        p.add_argument(f"--{flag}", dest=f"signal_flag__{flag}", metavar="PATH", help=f"input file of the '{modality}' signal")
    p.set_defaults(signal_flags=flags, registry=registry)
    _note_broken_plugins(p, registry)
    p.add_argument("--signal", action="append", default=[], metavar="NAME=PATH", help="input file of a branch or modality (repeatable)")
    p.add_argument("--gate", action="append", default=[], metavar="NAME=G[@T,...]|FILE",
                   help="gate per branch: audio=1,motion=0.5; keyframes over time motion=0@0s,1@2s,0.3@4s "
                        "(linear between, TIME in s or frames: 50f); or a .json/.yaml file")
    p.add_argument("--scale", action="append", default=[], metavar="NAME=S[,NAME=S]", help="guidance scale per branch stage")
    p.add_argument("--reference-scale", type=float, default=None, help="guidance scale of the reference stage")
    p.add_argument("--steps", type=int, default=None, help="denoising steps (default: the model's sampling.steps)")
    p.add_argument("--frames", type=int, default=None, help="frames to generate (default: the length of the signals)")
    p.add_argument("--fps", type=float, default=None, help="output frame rate (default: the model's sampling.fps)")
    p.add_argument("--seed", type=int, default=None, help="random seed (default: the model config's seed)")
    p.add_argument("--height", type=int, default=None, help="output height, multiple of 8")
    p.add_argument("--width", type=int, default=None, help="output width, multiple of 8")
    p.add_argument("--guidance-batch", type=int, default=None, metavar="N",
                   help="guidance passes per denoiser call (default: all in one; lower it to save memory)")
    p.add_argument("--on-short", choices=ON_SHORT, default="error", help="a signal shorter than --frames: error, pad or loop")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override sampling.* or guidance.* (repeatable)")
    p.add_argument("--face-model", default=None, metavar="PATH", help="MediaPipe face_landmarker .task (default: $ACTALKER_FACE_MODEL)")
    p.add_argument("--face-index", type=int, default=None, metavar="N",
                   help="the face to animate when the image has several: 0, 1, ... numbered from the left")
    p.add_argument("--landmarks-from-clip", default=None, metavar="CLIP_DIR",
                   help="take the reference face's landmarks from a stored clip's first frame instead of detecting them")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")
    p.add_argument("--stream", action="store_true",
                   help="generate window by window: each window's frames go to the encoder as soon as they are "
                        "final (the first after one window's time), no seam at the joins")
    p.add_argument("--no-progress", action="store_true", help="no progress bar or stage lines")
    p.set_defaults(func=run)


# ---------------------------------------------------------------- parsing
def _pairs(items: list[str], what: str) -> list[tuple[str, str]]:
    out = []
    for item in items:
        for part in (item.split(",") if what != "--signal" else [item]):
            if not part.strip():
                continue
            name, sep, value = part.partition("=")
            if not sep or not name.strip() or not value.strip():
                raise InputError(f"{what} expects NAME=VALUE, got {part!r}")
            out.append((name.strip(), value.strip()))
    return out


def _floats(items: list[str], what: str) -> dict[str, float]:
    out = {}
    for name, value in _pairs(items, what):
        try:
            v = float(value)
        except ValueError:
            raise InputError(f"{what} {name}={value}: expected a number") from None
        if not np.isfinite(v):
            raise InputError(f"{what} {name}={value}: expected a finite number")
        out[name] = v
    return out


def _signal_inputs(args, pipe) -> dict[str, Path]:
    """branch -> input file, from --<flag> and --signal (names: branch or modality)."""
    from actalker.media.video import check_file

    by_modality: dict[str, list[str]] = {}
    for b in pipe.branches:
        by_modality.setdefault(b.modality, []).append(b.name)
    branches = pipe.branch_names

    def to_branch(name: str, origin: str) -> str:
        if name in branches:
            return name
        matches = by_modality.get(name, [])
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise InputError(f"{origin}: the model has several '{name}' branches ({', '.join(matches)}); use --signal BRANCH=PATH")
        raise InputError(f"{origin}: the model has no branch or modality '{name}' (branches: {', '.join(branches) or 'none'})")

    raw: list[tuple[str, str, str]] = []
    for flag, modality in (args.signal_flags or {}).items():
        value = getattr(args, f"signal_flag__{flag}", None)
        if value is not None:
            raw.append((modality, value, f"--{flag}"))
    for name, value in _pairs(args.signal, "--signal"):
        raw.append((name, value, f"--signal {name}"))
    out: dict[str, Path] = {}
    for name, value, origin in raw:
        branch = to_branch(name, origin)
        if branch in out:
            raise InputError(f"{origin}: branch '{branch}' already has an input ({out[branch]})")
        out[branch] = check_file(value, f"{origin} input")
    return out


def _read_image(path: str) -> np.ndarray:
    from PIL import Image, ImageOps, UnidentifiedImageError

    from actalker.media.video import check_file

    p = check_file(path, "image")
    try:
        with Image.open(p) as im:
            return np.asarray(ImageOps.exif_transpose(im).convert("RGB"))  # phone photos: upright
    except (UnidentifiedImageError, OSError) as err:
        raise InputError(f"cannot read image {p}: not an image file PIL can decode ({type(err).__name__})") from None


def _reference_face(args, image: np.ndarray):
    """(image, landmarks (1, 478, 3), boxes (1, 4), how it was framed): the detected face cut
    to the training clips' square (actalker.media.portrait); a stored clip's frame and
    landmarks are taken as they are (a clip is already framed)."""
    if args.landmarks_from_clip:
        from actalker.data.clip import Clip

        clip = Clip.read(args.landmarks_from_clip)
        lms, boxes = np.asarray(clip.landmarks[:1], np.float32), np.asarray(clip.boxes[:1], np.float32)
        return image, lms, boxes, {"from_clip": str(args.landmarks_from_clip)}
    from actalker.media.face import FaceTracker
    from actalker.media.portrait import frame_portrait

    tracker = FaceTracker(args.face_model, max_faces=MAX_FACES)
    framed = frame_portrait(image, tracker, f"the image {args.image}", args.face_index)
    record = {"faces": framed.faces, "face_index": framed.face_index, "square_xy_side_px": list(framed.square)}
    return framed.image, framed.landmarks, framed.boxes, record


def apply_overrides(pipe, items: list[str]):
    """The pipeline with ``--set sampling.KEY=VALUE`` / ``guidance.KEY=VALUE`` on the model's
    config (validated; an unknown key names the closest valid one)."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    from actalker.core.schema import validate_config

    if not items:
        return pipe
    for item in items:
        key = item.partition("=")[0].strip()
        if "=" not in item or not key.startswith(("sampling.", "guidance.")):
            raise ConfigError(f"--set {item!r}: expected sampling.KEY=VALUE or guidance.KEY=VALUE")
    try:
        merged = OmegaConf.merge(OmegaConf.create(pipe.config.model_dump(mode="json")), OmegaConf.from_dotlist(items))
        raw = OmegaConf.to_container(merged, resolve=True)
    except OmegaConfBaseException as err:
        raise ConfigError(f"--set {' '.join(items)}: {str(err).splitlines()[0]}") from None
    return pipe.replace(config=validate_config(raw))


def _device(name: str):
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise InputError(f"--device {name!r}: expected auto, cpu or cuda[:N]") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"--device {name}: CUDA is not available on this machine")
    return dev


def _first_audio(inputs: dict[str, Path]) -> tuple[Optional[np.ndarray], Optional[str]]:
    from actalker.media.audio import read_audio

    for branch, path in inputs.items():
        try:
            return read_audio(path, 16000), str(path)
        except InputError:
            continue
    return None, None


# ---------------------------------------------------------------- command
def _check_args(args) -> Path:
    """Every flag checked before any work; returns the output path."""
    out = Path(args.out).expanduser()
    if out.suffix.lower() != ".mp4":
        raise InputError(f"--out {out}: expected a .mp4 file name")
    if out.is_dir():
        raise InputError(f"--out {out} is a folder; expected a .mp4 file name")
    for name in ("steps", "frames"):
        v = getattr(args, name)
        if v is not None and v < 1:
            raise InputError(f"--{name} must be >= 1, got {v}")
    for name in ("height", "width"):
        v = getattr(args, name)
        if v is not None and (v < 8 or v % 8):
            raise InputError(f"--{name} must be a positive multiple of 8, got {v}")
    if args.face_index is not None and args.face_index < 0:
        raise InputError(f"--face-index must be >= 0 (faces are numbered from 0, from the left), got {args.face_index}")
    if args.guidance_batch is not None and args.guidance_batch < 1:
        raise InputError(f"--guidance-batch must be >= 1, got {args.guidance_batch}")
    if args.fps is not None and not args.fps > 0:
        raise InputError(f"--fps must be > 0, got {args.fps}")
    # Cheap checks first: a missing file is reported before a large model is loaded.
    from actalker.media.video import check_file

    check_file(args.image, "image")
    for flag in (args.signal_flags or {}):
        value = getattr(args, f"signal_flag__{flag}", None)
        if value is not None:
            check_file(value, f"--{flag} input")
    from actalker.utils.paths import check_writable_output

    check_writable_output(out, "--out video")  # before the model loads: no work lost to a bad path
    check_writable_output(out.with_suffix(".json"), "settings file")
    return out


def _check_controls(args, pipe, inputs: dict, gates: dict, scales: dict) -> None:
    """Gate rules are the resolver's (actalker.core.branches); scales name branches."""
    import torch

    from actalker.core.branches import check_gate_names, check_gate_values

    check_gate_names(gates, pipe.branch_names, "--gate")
    for name, g in gates.items():  # a schedule is open where any keyframe is
        check_gate_values(name, torch.tensor([k.value for k in g.keyframes]), name in inputs, "--gate")
    for name in scales:
        if name not in pipe.branch_names:
            raise InputError(f"--scale for unknown branch '{name}' (the model's branches: {', '.join(pipe.branch_names)})")
    if not inputs:
        flags = ", ".join(f"--{f}" for f in (args.signal_flags or {})) or "--signal NAME=PATH"
        raise InputError(f"no control signal given; pass at least one input ({flags})")


def _load_signals(args, pipe, inputs: dict[str, Path]) -> dict:
    """branch -> features (F, *feat) from each branch's plugin ``load`` (failures name the
    plugin and branch); a signal too short names the command-line options (not the Python
    API's ``on_short``)."""
    from actalker.media.timing import ShortSignalError
    from actalker.plugins.calls import call_plugin

    def load(spec, *a):
        try:
            return spec.load(*a)
        except ShortSignalError as err:
            raise err.spelled("--on-short {}", "ask for fewer frames (--frames)") from None

    s = pipe.config.sampling
    fps = float(args.fps or s.fps)
    conditions = {}
    for branch, path in inputs.items():
        b = pipe.branch(branch)
        opts = b.options
        # A plugin that analyses faces (an options field `face_model`) gets --face-model too.
        if args.face_model and "face_model" in type(opts).model_fields and getattr(opts, "face_model") is None:
            opts = opts.model_copy(update={"face_model": args.face_model})
        conditions[branch] = call_plugin(b, "load", load, b.spec, path, requested_frames(args, pipe), fps, opts,
                                         args.on_short, on=f"file {path}")
    return conditions


def _input_notices(args, pipe, inputs: dict[str, Path], gates: dict, image: np.ndarray) -> None:
    """One line each, before the work: a silent soundtrack, a gate above the trained range, a
    portrait unlike the model's training data (docs/errors.md, notices)."""
    import torch

    from actalker.core.branches import gate_notice
    from actalker.media.audio import read_audio, silence_notice
    from actalker.media.portrait import domain_notice

    for branch, path in inputs.items():
        if pipe.branch(branch).modality == "audio":  # the built-in speech modality
            _say(silence_notice(read_audio(path, 16000), f"the audio {path}"))
    for name, schedule in gates.items():  # a constant is one keyframe: the largest keyframe is the peak
        _say(gate_notice(name, torch.as_tensor(max(k.value for k in schedule.keyframes)), "--gate"))
    if not args.landmarks_from_clip:  # a stored clip's frame is training data's own kind
        _say(domain_notice(_training_data(args.model), image, f"the image {args.image}"))


def _training_data(model: str) -> Optional[dict]:
    """What the model was trained on, as `actalker train` records it (None for older folders)."""
    from actalker.core.model_folder import read_index
    from actalker.train.data_record import KEY

    return read_index(Path(model).expanduser()).get(KEY)


def _length_notice(conditions: dict, fps: float) -> Optional[str]:
    """With no length asked for, every signal is read whole and the video is as long as the
    shortest: say so when they differ (which signal, how many frames and seconds each)."""
    lengths = {name: int(c.shape[0]) for name, c in conditions.items()}
    if len(set(lengths.values())) < 2:
        return None
    shortest = min(lengths, key=lengths.get)
    each = ", ".join(f"{name} {n} frames ({n / fps:.2f} s)" for name, n in lengths.items())
    return (f"the signals differ in length ({each}); the video is cut to the shortest, {shortest}: "
            f"{lengths[shortest]} frames ({lengths[shortest] / fps:.2f} s at {fps:g} fps); "
            "use --frames N with --on-short pad or loop for a longer one")


def _settings_record(args, out: Path, inputs: dict, audio_from, result, pipe, device, seconds: float) -> dict:
    """OUT.json: the inputs and every setting as the pipeline resolved it."""
    import torch

    st = result.settings
    return {
        "output": str(out),
        "model": str(Path(args.model).expanduser().resolve()),
        "image": str(Path(args.image).expanduser().resolve()),
        "signals": {k: str(v.resolve()) for k, v in inputs.items()},
        "audio_from": audio_from,
        "gates": st.gates,
        "num_frames": st.num_frames,
        "fps": st.fps,
        "seed": st.seed,
        "steps": st.steps,
        "height": st.height,
        "width": st.width,
        "reference_face": "clip " + str(args.landmarks_from_clip) if args.landmarks_from_clip else "detected",
        "device": str(device),
        "dtype": str(pipe.dtype).replace("torch.", ""),
        "config": {
            "sampling": pipe.config.sampling.model_dump(mode="json"),
            "guidance": {"reference_scale": st.reference_scale, "order": list(pipe.config.guidance.order),
                         "scales": st.guidance_scales, "outside_scale": st.guidance_outside_scale},
        },
        "seconds": round(seconds, 2),
        "torch": torch.__version__,
    }


def _say(message: Optional[str]) -> None:
    from actalker.utils.notices import notice

    if message:
        notice(message)


def _write(out: Path, frames, fps: float, audio, settings: dict) -> None:
    """The video and its settings go together: no OUT.json without OUT.mp4 and vice versa."""
    from actalker.media.video import write_video
    from actalker.utils.atomic import write_text_atomic

    if frames is not None:  # None: a streamed video, already written
        write_video(out, frames, fps, audio=audio, sr=16000)
    try:
        write_text_atomic(out.with_suffix(".json"), json.dumps(settings, indent=2) + "\n")
    except BaseException:
        out.unlink(missing_ok=True)
        raise


def _stage(args, t0: float, text: str) -> None:
    """One progress line per stage on stderr (loading, face, signals, windows, encoding)."""
    if not args.no_progress:
        print(f"[{time.time() - t0:7.1f}s] {text}", file=sys.stderr, flush=True)


def requested_frames(args, pipe) -> Optional[int]:
    """How many frames were asked for: --frames, else the model's sampling.num_frames; None
    means "as long as the shortest signal" (and earns a notice saying so)."""
    return args.frames or pipe.config.sampling.num_frames or None


def _call_kwargs(args, pipe, conditions: dict, gates: dict, scales: dict) -> dict:
    """The pipeline's keyword arguments from the flags (defaults: the model's config)."""
    s = pipe.config.sampling
    return dict(
        gates=gates, num_frames=requested_frames(args, pipe) or min(int(c.shape[0]) for c in conditions.values()),
        num_inference_steps=args.steps, height=args.height, width=args.width, fps=float(args.fps or s.fps),
        reference_scale=args.reference_scale, guidance_scales={**pipe.config.guidance.scales, **scales},
        guidance_batch=args.guidance_batch, seed=pipe.config.seed if args.seed is None else args.seed)


def _stream(args, t0: float, pipe, image, conditions: dict, face: tuple, kwargs: dict, out: Path,
            audio) -> SimpleNamespace:
    """Frames window by window into the encoder; -> the result's settings and timings."""
    from actalker.media.video import write_video_stream

    info = SimpleNamespace(settings=None, first_frames_s=None, windows=0, frames=0)

    def on_progress(stage: str, done: int, total: int) -> None:
        if stage == "prepare" and done == total:
            _stage(args, t0, "denoising window by window")

    def chunks():
        for c in pipe.stream(image, conditions, landmarks=face[0], boxes=face[1], progress=on_progress, **kwargs):
            info.settings, info.windows, info.frames = c.settings, c.windows, info.frames + len(c.frames)
            info.first_frames_s = info.first_frames_s or round(time.time() - t0, 2)
            _stage(args, t0, f"window {c.window + 1}/{c.windows}: frames {c.start}-{c.start + len(c.frames) - 1} "
                             "to the encoder")
            yield c.frames
        _stage(args, t0, "encoding: finishing the video")

    write_video_stream(out, chunks(), float(kwargs["fps"]), audio=audio, sr=16000, num_frames=kwargs["num_frames"])
    return info


def run(args) -> int:
    from actalker.core import gate_schedule
    from actalker.core.pipeline import ACTalkerPipeline

    t0 = time.time()
    out = _check_args(args)
    gates = gate_schedule.parse_args(args.gate, "--gate")
    scales = _floats(args.scale, "--scale")
    device = _device(args.device)
    _stage(args, t0, f"loading the model {args.model}")
    pipe = ACTalkerPipeline.from_pretrained(args.model, device=device, registry=getattr(args, "registry", None))
    pipe.progress = not args.no_progress and not args.stream
    pipe = apply_overrides(pipe, args.set)
    inputs = _signal_inputs(args, pipe)
    _check_controls(args, pipe, inputs, gates, scales)

    _stage(args, t0, "reading the portrait and its face")
    image, landmarks, boxes, framing = _reference_face(args, _read_image(args.image))
    _stage(args, t0, f"reading the signals ({', '.join(inputs)})")
    conditions = _load_signals(args, pipe, inputs)
    _input_notices(args, pipe, inputs, gates, image)
    if requested_frames(args, pipe) is None:
        _say(_length_notice(conditions, float(args.fps or pipe.config.sampling.fps)))
    kwargs = _call_kwargs(args, pipe, conditions, gates, scales)
    audio, audio_from = _first_audio(inputs)
    if args.stream:
        result = _stream(args, t0, pipe, image, conditions, (landmarks, boxes), kwargs, out, audio)
        n, extra = result.frames, {"stream": {"windows": result.windows, "first_frames_s": result.first_frames_s}}
    else:
        _stage(args, t0, "denoising")
        result = pipe(image, conditions, landmarks=landmarks, boxes=boxes, return_dict=True, **kwargs)
        n, extra = len(result.frames), {}
        _stage(args, t0, "encoding the video")
    fps = result.settings.fps
    record = {**_settings_record(args, out, inputs, audio_from, result, pipe, device, time.time() - t0), **extra,
              "reference_framing": framing}
    _write(out, None if args.stream else result.frames, fps, audio, record)
    print(f"wrote {out} ({n} frames at {fps:g} fps{', audio from ' + audio_from if audio_from else ''})")
    return 0
