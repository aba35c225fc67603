"""`actalker generate` end to end on a tiny random model folder, and its user errors.

The model has the built-in audio and motion branches (tiny encoders) on the tiny UNet of
tests/core/tiny_models.py. One run uses a synthetic portrait whose face comes from a stored
clip (no ../shared needed); one uses the real portrait, face model and driving video.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from actalker.cli import main
from actalker.commands.generate import _signal_flags
from actalker.core.config import Config
from actalker.core.pipeline import ACTalkerPipeline
from actalker.core.sampling import svd_scheduler_config
from actalker.media import read_audio, read_video, write_video, write_wav
from tests.core.test_pipeline import tiny_vae
from tests.core.tiny_models import randomize_new_modules, tiny_pcm_config, tiny_unet_config

SR = 16000


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    from diffusers import EulerDiscreteScheduler

    from actalker.core.denoiser import ACTalkerDenoiser
    from actalker.plugins import load_registry

    torch.manual_seed(0)
    reg = load_registry()
    branches = {"audio": {"options": {"hidden": 16, "tokens": 2, "n_mels": 16}},
                "motion": {"options": {"hidden": 16, "tokens": 2}}}
    den = ACTalkerDenoiser(unet=tiny_unet_config(), pcm=tiny_pcm_config(mixer="attention"), branches=branches,
                           cond_dim=8, identity={"kind": "learned", "dim": 12}, registry=reg)
    randomize_new_modules(den)
    cfg = Config.model_validate({"sampling": {"steps": 1, "height": 16, "width": 16, "fps": 12.5, "decode_chunk": 4},
                                 "guidance": {"reference_scale": 1.0, "scales": {"audio": 2.0}},
                                 "model": {"branches": branches}})
    pipe = ACTalkerPipeline(den, tiny_vae(), EulerDiscreteScheduler(**svd_scheduler_config()), None, cfg, reg)
    return pipe.save_pretrained(tmp_path_factory.mktemp("models") / "tiny")


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> dict:
    """A synthetic portrait, its clip (for landmarks) and a speech WAV."""
    from actalker.data.synth.world import write_synthetic_clip

    root = tmp_path_factory.mktemp("synth")
    clip = write_synthetic_clip(root, seed=0, index=0, num_frames=4, size=48, speech_source="syllables")
    portrait = root / "portrait.png"
    Image.fromarray(clip.frames()[0]).save(portrait)
    t = np.arange(int(0.32 * SR)) / SR
    speech = root / "speech.wav"
    write_wav(speech, (0.3 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 3 * t)) / 2).astype(np.float32))
    return {"clip": clip.path, "portrait": portrait, "speech": speech, "root": root}


def run_cli(args: list) -> int:
    return main(["generate", "--no-progress", *[str(a) for a in args]])


def test_generate_from_synthetic_portrait_with_audio(model_dir, synthetic, tmp_path, capsys):
    out = tmp_path / "out" / "talk.mp4"
    rc = run_cli(["--model", model_dir, "--image", synthetic["portrait"], "--audio", synthetic["speech"],
                  "--landmarks-from-clip", synthetic["clip"], "--steps", 1, "--seed", 3, "--out", out])
    assert rc == 0, capsys.readouterr().err
    frames, fps = read_video(out)
    # default length: 0.32 s of audio at 12.5 fps
    assert frames.shape == (4, 16, 16, 3) and fps == pytest.approx(12.5)
    audio = read_audio(out)
    assert abs(len(audio) / SR - 4 / 12.5) < 0.1  # the driving audio is muxed, cut to the video
    settings = json.loads(out.with_suffix(".json").read_text())
    assert settings["num_frames"] == 4 and settings["seed"] == 3 and settings["steps"] == 1
    assert settings["gates"] == {"audio": 1.0, "motion": 0.0}
    assert settings["audio_from"] == str(Path(synthetic["speech"]).resolve())
    assert settings["config"]["guidance"]["scales"] == {"audio": 2.0, "motion": 1.0}  # every branch gets an explicit scale (default 1.0)
    assert sorted(p.name for p in out.parent.iterdir()) == ["talk.json", "talk.mp4"]  # no temporaries

    # same seed, same video; --frames and --set are honoured
    out2 = tmp_path / "again.mp4"
    assert run_cli(["--model", model_dir, "--image", synthetic["portrait"], "--audio", synthetic["speech"],
                    "--landmarks-from-clip", synthetic["clip"], "--frames", 2, "--seed", 3,
                    "--set", "sampling.decode_chunk=2", "--out", out2]) == 0
    again, _ = read_video(out2)
    assert again.shape[0] == 2
    assert json.loads(out2.with_suffix(".json").read_text())["config"]["sampling"]["decode_chunk"] == 2


@pytest.mark.needs_shared
def test_generate_real_portrait_audio_and_driving_video(model_dir, portrait_path, face_model_path,
                                                        driving_video_path, tmp_path, capsys):
    frames, fps = read_video(driving_video_path, max_frames=12)
    driving = tmp_path / "driving.mp4"
    write_video(driving, frames, fps)  # a short driving clip (no sound)
    t = np.arange(int(0.6 * SR)) / SR
    speech = tmp_path / "speech.wav"
    write_wav(speech, (0.2 * np.sin(2 * np.pi * 180 * t)).astype(np.float32))
    out = tmp_path / "both.mp4"
    rc = run_cli(["--model", model_dir, "--image", portrait_path, "--face-model", face_model_path,
                  "--audio", speech, "--video", driving, "--gate", "audio=1,motion=0.5", "--frames", 3,
                  "--seed", 0, "--out", out])
    assert rc == 0, capsys.readouterr().err
    video, _ = read_video(out)
    assert video.shape == (3, 16, 16, 3)
    settings = json.loads(out.with_suffix(".json").read_text())
    assert settings["gates"] == {"audio": 1.0, "motion": 0.5}
    assert settings["reference_face"] == "detected"
    assert settings["audio_from"] == str(speech.resolve())  # the driving video has no sound


def test_gate_schedule_reaches_the_pipeline_per_frame_and_the_json(model_dir, synthetic, tmp_path, monkeypatch):
    seen = {}
    original = ACTalkerPipeline.encode_conditions

    def spy(self, feats, gates):  # the per-frame gates the denoiser gets
        seen.update({k: g[0].tolist() for k, g in gates.items()})
        return original(self, feats, gates)

    monkeypatch.setattr(ACTalkerPipeline, "encode_conditions", spy)
    gate_file = tmp_path / "gates.json"
    gate_file.write_text(json.dumps({"motion": 0}))
    out = tmp_path / "sched.mp4"
    assert run_cli(["--model", model_dir, "--image", synthetic["portrait"], "--audio", synthetic["speech"],
                    "--landmarks-from-clip", synthetic["clip"], "--gate", "audio=0@0f,1@3f", "--gate", gate_file,
                    "--frames", 4, "--out", out]) == 0
    assert np.allclose(seen["audio"], [0, 1 / 3, 2 / 3, 1]) and seen["motion"] == [0, 0, 0, 0]
    saved = json.loads(out.with_suffix(".json").read_text())["gates"]
    assert saved["motion"] == 0 and saved["audio"]["schedule"] == "0@0f,1@3f"


def test_stream_writes_window_by_window_with_a_line_per_stage(model_dir, synthetic, tmp_path, capsys):
    out = tmp_path / "stream.mp4"
    rc = main(["generate", "--model", str(model_dir), "--image", str(synthetic["portrait"]), "--audio",
               str(synthetic["speech"]), "--landmarks-from-clip", str(synthetic["clip"]), "--frames", "4", "--seed", "1",
               "--set", "sampling.window=2", "--set", "sampling.decode_chunk=1", "--set", "sampling.decode_overlap=0",
               "--stream", "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 0, err
    frames, _ = read_video(out)
    assert frames.shape[0] == 4 and abs(len(read_audio(out)) / SR - 4 / 12.5) < 0.1
    settings = json.loads(out.with_suffix(".json").read_text())
    assert settings["stream"]["windows"] == 3 and settings["num_frames"] == 4
    # windows at 0, 1, 2 (2 frames, overlap 1); each holds back 1 frame (the decoder's context)
    for stage in ("loading the model", "reading the portrait", "reading the signals", "denoising window by window",
                  "window 1/3: frames 0-0", "window 2/3: frames 1-1", "window 3/3: frames 2-3",
                  "encoding: finishing the video"):
        assert stage in err, (stage, err)


def _bad_inputs(model_dir: Path, synthetic: dict, tmp: Path) -> list:
    not_image = tmp / "not_image.png"
    not_image.write_text("hello")
    not_audio = tmp / "noise.wav"
    not_audio.write_bytes(b"RIFF....WAVEjunk" * 4)
    base = ["--image", synthetic["portrait"], "--landmarks-from-clip", synthetic["clip"]]
    speech = ["--audio", synthetic["speech"]]
    return [
        (["--model", tmp / "no_model", *base, *speech], "model folder not found"),
        (["--model", model_dir, "--image", tmp / "missing.png", "--landmarks-from-clip", synthetic["clip"], *speech],
         "image not found"),
        (["--model", model_dir, "--image", not_image, "--landmarks-from-clip", synthetic["clip"], *speech],
         "cannot read image"),
        (["--model", model_dir, *base, "--audio", tmp / "missing.wav"], "not found"),
        (["--model", model_dir, *base, "--audio", not_audio], "audio"),
        (["--model", model_dir, *base, *speech, "--gate", "mouth=1"], "gate for unknown branch 'mouth'"),
        (["--model", model_dir, *base, *speech, "--gate", "audio=loud"], "expected a number"),
        (["--model", model_dir, *base, *speech, "--gate", "motion=1"], "opens a branch without a signal"),
        (["--model", model_dir, *base, *speech, "--gate", "audio=0@0s,1@2x"], "--gate audio: '1@2x': expected VALUE@TIME"),
        (["--model", model_dir, *base, *speech, "--gate", "motion=0@0s,1@1s"], "opens a branch without a signal"),
        (["--model", model_dir, *base, *speech, "--gate", tmp / "gates.yaml"], "no such file"),
        # a modality that is installed (it has a flag) but that this model has no branch for
        *[(["--model", model_dir, *base, f"--{flag}", synthetic["speech"]], f"no branch or modality '{name}'")
          for flag, name in _signal_flags().items() if name not in ("audio", "motion")][:1],
        (["--model", model_dir, *base, "--signal", "zzz=" + str(synthetic["speech"])], "no branch or modality 'zzz'"),
        (["--model", model_dir, *base], "no control signal given"),
        (["--model", model_dir, *base, *speech, "--set", "sampling.stepz=3"], "stepz"),
        (["--model", model_dir, "--image", synthetic["portrait"], "--landmarks-from-clip", tmp, *speech],
         "meta.json"),
    ]


def test_bad_inputs_give_one_line_and_no_output(model_dir, synthetic, tmp_path, capsys):
    for args, message in _bad_inputs(model_dir, synthetic, tmp_path):
        out = tmp_path / "out" / "bad.mp4"
        rc = run_cli([*args, "--out", out])
        err = capsys.readouterr().err.strip()
        assert rc == 2, (args, err)
        assert err.startswith("error: ") and "\n" not in err and message in err, (message, err)
        assert not out.parent.exists() or not any(out.parent.iterdir()), (message, list(out.parent.iterdir()))
    rc = run_cli(["--model", model_dir, "--image", synthetic["portrait"], "--audio", synthetic["speech"],
                  "--landmarks-from-clip", synthetic["clip"], "--out", tmp_path / "x.avi"])
    assert rc == 2 and "expected a .mp4" in capsys.readouterr().err


@pytest.mark.needs_shared
def test_face_not_found_is_one_line(model_dir, synthetic, face_model_path, tmp_path, capsys):
    blank = tmp_path / "blank.png"
    Image.fromarray(np.full((64, 64, 3), 128, np.uint8)).save(blank)
    out = tmp_path / "o.mp4"
    rc = run_cli(["--model", model_dir, "--image", blank, "--face-model", face_model_path,
                  "--audio", synthetic["speech"], "--out", out])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.startswith("error: no face found in the image") and "\n" not in err
    assert not out.exists()


def test_unwritable_output_is_one_line_before_the_model_loads(synthetic, tmp_path, capsys, monkeypatch):
    """--out under a regular file fails before any work: the model is never loaded."""
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    loaded = []
    monkeypatch.setattr(ACTalkerPipeline, "from_pretrained", classmethod(lambda cls, *a, **k: loaded.append(a)))
    rc = run_cli(["--model", tmp_path, "--image", synthetic["portrait"], "--audio", synthetic["speech"],
                  "--landmarks-from-clip", synthetic["clip"], "--out", blocker / "out.mp4"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.startswith("error: ") and "\n" not in err and "regular file" in err, err
    assert not loaded
