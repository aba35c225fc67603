"""Issue 12, inputs accepted without a word: each case is one line (an error, or a notice
that does not stop the run), matching its row in docs/errors.md.

Uses the tiny model folder and synthetic inputs of tests/test_cli_generate.py."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from actalker.media import read_video, write_wav

from tests.test_cli_generate import model_dir, run_cli, synthetic  # noqa: F401  (fixtures)
from tests.test_errors_catalogue import pattern, rows


def one_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "\n" not in err, err
    return err


def matches_row(rid: str, line: str) -> bool:
    return bool(pattern(rows()[rid]["message"]).fullmatch(line))


def test_weights_lacking_a_branch_fail_naming_the_group(model_dir, synthetic, tmp_path, capsys):  # noqa: F811
    broken = tmp_path / "model"
    shutil.copytree(model_dir, broken)
    weights = broken / "denoiser" / "diffusion_pytorch_model.safetensors"
    save_file({k: v for k, v in load_file(weights).items() if not k.startswith("encoders.audio.")}, weights)
    out = tmp_path / "o.mp4"
    rc = run_cli(["--model", broken, "--image", synthetic["portrait"], "--audio", synthetic["speech"],
                  "--landmarks-from-clip", synthetic["clip"], "--out", out])
    line = one_line(capsys)
    assert rc == 2 and "encoders.audio (" in line and "denoiser" in line, line
    assert matches_row("model-missing-tensors", line), line
    assert not out.exists()


def test_short_signal_names_the_cli_options(model_dir, synthetic, tmp_path, capsys):  # noqa: F811
    out = tmp_path / "o.mp4"
    rc = run_cli(["--model", model_dir, "--image", synthetic["portrait"], "--audio", synthetic["speech"],
                  "--landmarks-from-clip", synthetic["clip"], "--frames", 20, "--out", out])
    line = one_line(capsys)
    assert rc == 2 and "--on-short pad (silence) or --on-short loop" in line and "--frames" in line, line
    assert "on_short" not in line and matches_row("signal-short", line), line
    assert not out.exists()


@pytest.fixture(scope="module")
def two_voices(tmp_path_factory) -> Path:
    """A tiny model with two audio branches (so two signals of different lengths need no face model)."""
    from diffusers import EulerDiscreteScheduler

    from actalker.core.config import Config
    from actalker.core.denoiser import ACTalkerDenoiser
    from actalker.core.pipeline import ACTalkerPipeline
    from actalker.core.sampling import svd_scheduler_config
    from actalker.plugins import load_registry
    from tests.core.test_pipeline import tiny_vae
    from tests.core.tiny_models import tiny_pcm_config, tiny_unet_config

    torch.manual_seed(0)
    reg = load_registry()
    opts = {"hidden": 16, "tokens": 2, "n_mels": 16}
    branches = {"audio": {"options": opts}, "voice": {"modality": "audio", "options": opts}}
    den = ACTalkerDenoiser(unet=tiny_unet_config(), pcm=tiny_pcm_config(mixer="attention"), branches=branches,
                           cond_dim=8, identity={"kind": "learned", "dim": 12}, registry=reg)
    cfg = Config.model_validate({"sampling": {"steps": 1, "height": 16, "width": 16, "fps": 12.5, "decode_chunk": 4},
                                 "model": {"branches": branches}})
    pipe = ACTalkerPipeline(den, tiny_vae(), EulerDiscreteScheduler(**svd_scheduler_config()), None, cfg, reg)
    return pipe.save_pretrained(tmp_path_factory.mktemp("models") / "voices")


def test_signals_of_different_lengths_say_the_video_is_cut(two_voices, synthetic, tmp_path, capsys):  # noqa: F811
    longer = tmp_path / "long.wav"
    write_wav(longer, np.zeros(int(0.8 * 16000), np.float32) + 0.1)  # 10 frames at 12.5 fps; speech is 4
    out = tmp_path / "o.mp4"
    rc = run_cli(["--model", two_voices, "--image", synthetic["portrait"], "--landmarks-from-clip", synthetic["clip"],
                  "--signal", f"audio={longer}", "--signal", f"voice={synthetic['speech']}", "--out", out])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 0, err
    cut = [line for line in err if "differ in length" in line]
    assert len(cut) == 1 and matches_row("signals-cut", cut[0]), err
    assert "audio 10 frames (0.80 s)" in cut[0] and "the shortest, voice: 4 frames (0.32 s" in cut[0], cut[0]
    assert read_video(out)[0].shape[0] == 4


# ---- the reference portrait is framed as the training clips (needs the face model) --------
def _canvas(portrait_path, size: tuple[int, int], places: list[tuple[int, int, int]]) -> np.ndarray:
    """A grey (W, H) canvas with the portrait pasted at (x, y) with side s, for each place."""
    from PIL import Image

    canvas = Image.new("RGB", size, (128, 128, 128))
    with Image.open(portrait_path) as im:
        for x, y, side in places:
            canvas.paste(im.convert("RGB").resize((side, side), Image.BICUBIC), (x, y))
    return np.asarray(canvas)


def _generate_framing(model_dir, image: np.ndarray, speech, tmp_path, face_model_path, *extra):  # noqa: F811
    from PIL import Image

    path = tmp_path / "portrait.png"
    Image.fromarray(image).save(path)
    out = tmp_path / "o.mp4"
    rc = run_cli(["--model", model_dir, "--image", path, "--face-model", face_model_path, "--audio", speech,
                  "--frames", 2, *extra, "--out", out])
    return rc, out


def test_full_length_portrait_is_cut_around_the_face(model_dir, synthetic, portrait_path,  # noqa: F811
                                                     face_model_path, tmp_path, capsys):
    """A small face high in a tall image: the crop is the training square around the face
    (side = FACE_MARGIN x the face box), not a centre crop of the whole image."""
    from actalker.core.framing import FACE_MARGIN
    from actalker.data.preprocess import stable_crop
    from actalker.media.face import FaceTracker

    image = _canvas(portrait_path, (700, 1100), [(120, 40, 420)])
    rc, out = _generate_framing(model_dir, image, synthetic["speech"], tmp_path, face_model_path)
    assert rc == 0, capsys.readouterr().err
    framing = json.loads(out.with_suffix(".json").read_text())["reference_framing"]
    x0, y0, side = framing["square_xy_side_px"]
    box = FaceTracker(face_model_path).detect_image(image).boxes[0] * np.array([700, 1100, 700, 1100])
    face_side = max(box[2] - box[0], box[3] - box[1])
    assert side == pytest.approx(FACE_MARGIN * face_side, rel=0.01) and side < 0.5 * 700  # not the whole width
    assert x0 < box[0] and box[2] < x0 + side and y0 < box[1] and box[3] < y0 + side  # the face inside
    assert np.allclose((x0, y0, side), stable_crop(box[None], 700, 1100, FACE_MARGIN), atol=0.01)  # preprocess's rule
    assert framing["faces"] == 1 and framing["face_index"] == 0


def test_two_faces_need_face_index(model_dir, synthetic, portrait_path, face_model_path, tmp_path, capsys):  # noqa: F811
    image = _canvas(portrait_path, (1000, 520), [(10, 10, 480), (510, 10, 480)])
    rc, out = _generate_framing(model_dir, image, synthetic["speech"], tmp_path, face_model_path)
    line = one_line(capsys)
    assert rc == 2 and "2 faces found in" in line and "--face-index" in line and not out.exists(), line
    assert matches_row("face-several", line), line
    rc, out = _generate_framing(model_dir, image, synthetic["speech"], tmp_path, face_model_path, "--face-index", 1)
    assert rc == 0, capsys.readouterr().err
    x0, y0, side = json.loads(out.with_suffix(".json").read_text())["reference_framing"]["square_xy_side_px"]
    assert x0 > 500  # the right-hand face, whole
    rc, out = _generate_framing(model_dir, image, synthetic["speech"], tmp_path, face_model_path, "--face-index", 2)
    line = one_line(capsys)
    assert rc == 2 and line.startswith("error: --face-index 2:") and "has 2 faces" in line, line


# ---- notices: accepted, but said in one line -----------------------------------------------
def _notices(capsys) -> list[str]:
    return [line for line in capsys.readouterr().err.strip().splitlines() if line.startswith("notice:")]


def test_silent_audio_and_a_gate_above_one_are_noticed(model_dir, synthetic, tmp_path, capsys):  # noqa: F811
    silent = tmp_path / "silent.wav"
    write_wav(silent, np.zeros(int(0.32 * 16000), np.float32))
    base = ["--model", model_dir, "--image", synthetic["portrait"], "--landmarks-from-clip", synthetic["clip"]]
    assert run_cli([*base, "--audio", silent, "--out", tmp_path / "a.mp4"]) == 0
    said = _notices(capsys)
    assert len(said) == 1 and str(silent) in said[0] and matches_row("audio-silent", said[0]), said
    assert run_cli([*base, "--audio", synthetic["speech"], "--gate", "audio=2.5", "--out", tmp_path / "b.mp4"]) == 0
    said = _notices(capsys)
    assert len(said) == 1 and "'audio' reaches 2.5" in said[0] and matches_row("gate-above-one", said[0]), said
    assert run_cli([*base, "--audio", synthetic["speech"], "--gate", "audio=1", "--out", tmp_path / "c.mp4"]) == 0
    assert _notices(capsys) == []  # speech at gate 1: nothing to say


def test_domain_notice_compares_the_portrait_with_the_training_kind(synthetic):  # noqa: F811
    from PIL import Image

    from actalker.media.portrait import domain_notice

    drawn = np.asarray(Image.open(synthetic["portrait"]).convert("RGB"))
    photo_like = np.random.default_rng(0).integers(0, 256, (64, 64, 3), np.uint8)  # noise: nothing flat
    synthetic_model = {"kind": "synthetic", "clips": 6, "root": "/data/world"}
    assert domain_notice(synthetic_model, drawn, "x") is None
    assert "trained only on synthetic clips (6 clips in /data/world) and this looks like a photo" in \
        domain_notice(synthetic_model, photo_like, "x")
    assert "looks like a flat-coloured drawing" in domain_notice({"kind": "real"}, drawn, "x")
    assert domain_notice(None, photo_like, "x") is None and domain_notice({"kind": "mixed"}, photo_like, "x") is None
    from actalker.core.model_folder import read_index
    from actalker.demo.model import DEMO_MODEL_DIR

    shipped = read_index(DEMO_MODEL_DIR)["training_data"]  # the demo model knows it saw only the synthetic world
    assert domain_notice(shipped, photo_like, "x") is not None and domain_notice(shipped, drawn, "x") is None


def test_real_photo_to_a_synthetic_world_model_is_noticed(model_dir, synthetic, portrait_path,  # noqa: F811
                                                         face_model_path, tmp_path, capsys):
    model = tmp_path / "model"
    shutil.copytree(model_dir, model)
    index = json.loads((model / "actalker_model.json").read_text())
    index["training_data"] = {"root": "/data/world", "kind": "synthetic", "clips": 6, "size": 16, "fps": 12.5}
    (model / "actalker_model.json").write_text(json.dumps(index))
    rc = run_cli(["--model", model, "--image", portrait_path, "--face-model", face_model_path, "--audio",
                  synthetic["speech"], "--frames", 2, "--out", tmp_path / "o.mp4"])
    said = _notices(capsys)
    assert rc == 0 and len(said) == 1 and matches_row("input-other-domain", said[0]), said
    rc = run_cli(["--model", model_dir, "--image", portrait_path, "--face-model", face_model_path, "--audio",
                  synthetic["speech"], "--frames", 2, "--out", tmp_path / "p.mp4"])
    assert rc == 0 and _notices(capsys) == []  # no record (older model folders): no notice
