"""The demo: end to end through the CLI (with the shipped model when present, else a tiny
fresh one saved to a temporary folder), the refusal without weights, the shipped model's
size and dtype, and the VAE stage on a tiny synthetic world."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from actalker.cli import main
from actalker.demo.model import DEMO_MODEL_DIR, MAX_BYTES, demo_model_present, folder_bytes

TINY = [
    "model.unet.config.block_out_channels=[32,32]",
    "model.unet.config.down_block_types=[CrossAttnDownBlockSpatioTemporal,DownBlockSpatioTemporal]",
    "model.unet.config.up_block_types=[UpBlockSpatioTemporal,CrossAttnUpBlockSpatioTemporal]",
    "model.unet.config.num_attention_heads=[2,2]",
    "model.unet.config.cross_attention_dim=16",
    "model.pcm.down_levels=[0]",
    "model.pcm.up_levels=[1]",
    "model.pcm.d_state=4",
    "model.cond_dim=8",
    "model.identity.dim=8",
    "model.vae.config.block_out_channels=[32,32,32]",
    "branches.audio.options.hidden=16",
    "branches.motion.options.hidden=16",
]


def _tiny_model(path, extra=()):
    from actalker.config import load_config
    from actalker.plugins import load_registry
    from actalker.train.build import build_pipeline

    registry = load_registry()
    cfg, _ = load_config("demo", TINY + list(extra), registry=registry)
    build_pipeline(cfg, registry).save_pretrained(path)
    return path


def test_demo_end_to_end(tmp_path, capsys):
    from actalker.media.audio import read_audio
    from PIL import Image

    shipped = demo_model_present()
    model = DEMO_MODEL_DIR if shipped else _tiny_model(tmp_path / "tiny_model")
    out = tmp_path / "out"
    frames = 12
    assert main(["demo", "--model", str(model), "--out", str(out), "--steps", "2", "--frames", str(frames)]) == 0
    printed = capsys.readouterr().out
    for name in ("demo.mp4", "demo_strip.mp4", "demo_strip.png", "demo_control.png", "demo_effect.png", "demo.json"):
        assert (out / name).is_file() and str(out / name) in printed
    info = json.loads((out / "demo.json").read_text())
    assert {b: e["region"] for b, e in info["region_effect"].items()} == {"audio": "mouth", "motion": "upper_face"}
    assert info["trained"] is True and info["frames"] == frames  # a saved model folder counts as trained
    assert set(info["settings"]) == {"both gates open", "audio only", "motion only"}
    audio = read_audio(out / "demo.mp4")
    assert len(audio) > 0.3 * frames / info["fps"] * 16000  # the speech is muxed
    png = Image.open(out / "demo_strip.png")
    assert png.width > 3 * info["size"] and png.height > info["size"]
    check_strip_and_video(np.asarray(png.convert("RGB")).astype(int), out / "demo.mp4", frames, info,
                          settings_differ=shipped)


def test_demo_samples_with_the_model_folders_step_count(tmp_path):
    """The model folder owns its step count (sampling.steps); --steps only overrides it."""
    from actalker.demo.run import run_demo

    model = _tiny_model(tmp_path / "tiny_model", ["sampling.steps=3"])
    info = json.loads(run_demo(out=tmp_path / "a", model_dir=model, num_frames=8, log=lambda *_: None)["files"]["info"].read_text())
    assert info["steps"] == 3
    info = json.loads(run_demo(out=tmp_path / "b", model_dir=model, steps=2, num_frames=8, log=lambda *_: None)["files"]["info"].read_text())
    assert info["steps"] == 2


def check_strip_and_video(png, video_path, frames, info, settings_differ):
    """The strip image (lossless): columns = input portrait + the 3 settings, rows = the 6
    frames demo.json names (where the driving eyes are most closed and most open) (layout of actalker/demo/run.py: 16 px header, 48 px left, 4 px gaps, 3x upscaled).
    demo.mp4 is the first setting's video; with a trained model the gates change the video
    (with fresh weights the zero-initialised branches cannot), and it moves over time."""
    from actalker.media import read_video

    k = 3
    side = info["size"] * k
    head, left, gap, rows = 16, 48, 4, 6
    assert png.shape[:2] == (head + rows * (side + gap), left + 4 * (side + gap))
    idx = np.asarray(info["strip_rows"])
    assert len(idx) == rows and list(idx) == sorted(set(idx)) and 0 <= idx[0] and idx[-1] < frames

    def cell(r, j):
        y, x = head + r * (side + gap), left + j * (side + gap)
        return png[y:y + side, x:x + side]

    video, _ = read_video(video_path)
    assert video.shape == (frames, side, side, 3)
    for r, i in enumerate(idx):
        own = np.abs(cell(r, 1) - video[i].astype(int)).mean()
        other = np.abs(cell(r, 1) - video[(i + frames // 2) % frames].astype(int)).mean()
        assert own < 4.0 and own < other, (r, own, other)  # mp4 noise only, and the right frame
    assert max(np.abs(cell(r, 1) - cell(0, 1)).mean() for r in range(rows)) > 1.0  # it moves
    if settings_differ:
        for a, b in ((1, 2), (1, 3), (2, 3)):
            change = max(np.abs(cell(r, a) - cell(r, b)).mean() for r in range(rows))
            assert change > 0.3, (info["settings"], a, b, change)  # the same seed: only the gates differ


def test_demo_refuses_without_weights(tmp_path, capsys):
    code = main(["demo", "--model", str(tmp_path / "missing"), "--out", str(tmp_path / "o")])
    assert code == 2
    assert "NO TRAINED DEMO MODEL" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


@pytest.mark.skipif(not demo_model_present(), reason="the trained demo model is not in this checkout")
def test_shipped_model_is_small_and_loads_in_float32():
    from actalker.demo.model import load_demo_pipeline

    assert folder_bytes(DEMO_MODEL_DIR) <= MAX_BYTES
    pipe = load_demo_pipeline()
    assert next(pipe.denoiser.parameters()).dtype == torch.float32
    assert next(pipe.vae.parameters()).dtype == torch.float32
    assert set(pipe.branch_names) == {"audio", "motion"}


@pytest.mark.parametrize("under_cwd", [True, False])
def test_export_ships_the_training_data_record_without_this_machines_paths(tmp_path, monkeypatch, under_cwd):
    from actalker.core.model_folder import read_index
    from actalker.demo.model import export_demo_model
    from actalker.train.data_record import write_training_data

    src = _tiny_model(tmp_path / "trained")
    root = (tmp_path / "runs" / "demo" / "synth") if under_cwd else (tmp_path.parent / "elsewhere" / "synth")
    write_training_data(src, {"root": str(root), "kind": "synthetic", "clips": 3})
    monkeypatch.chdir(tmp_path)
    record = read_index(export_demo_model(src, tmp_path / "shipped")).get("training_data")
    assert record["root"] == ("runs/demo/synth" if under_cwd else str(root))
    assert record["kind"] == "synthetic" and record["clips"] == 3
    assert "note" not in record


def test_export_keeps_a_note_on_how_the_training_data_was_made(tmp_path):
    from actalker.core.model_folder import read_index
    from actalker.demo.model import export_demo_model
    from actalker.train.data_record import write_training_data

    src = _tiny_model(tmp_path / "trained")
    write_training_data(src, {"root": "runs/demo/synth", "kind": "synthetic"})
    note = "actalker synth --clips 300 --seed 0"
    record = read_index(export_demo_model(src, tmp_path / "shipped", note=note)).get("training_data")
    assert record["note"] == note and record["root"] == "runs/demo/synth"


def test_vae_stage_on_a_tiny_world(tmp_path):
    from diffusers import AutoencoderKLTemporalDecoder

    from actalker.config import load_config
    from actalker.data.synth.world import write_synthetic_clip
    from actalker.data.manifest import build_manifest
    from actalker.plugins import load_registry
    from actalker.train.vae import train_vae

    data = tmp_path / "data"
    for i in range(3):
        write_synthetic_clip(data, 5, i, num_frames=6, size=32, speech_source="syllables")
    build_manifest(data)
    cfg, _ = load_config("demo", TINY + [f"data.root={data}", "data.size=32", "data.train_split=all"],
                         registry=load_registry())
    lines = []
    vae_dir = train_vae(cfg, tmp_path / "stage", steps=2, batch_size=2, num_frames=2, progress=False, log=lines.append)
    assert lines[-1].startswith("VAE stage: 2 steps in ") and "limit" not in lines[-1]
    train_vae(cfg, tmp_path / "capped", steps=50, minutes=0.0, batch_size=2, num_frames=2, progress=False, log=lines.append)
    assert lines[-1].startswith("VAE stage: 0 steps in ") and "(the 0-minute limit ended it 50 steps short of 50)" in lines[-1]
    vae = AutoencoderKLTemporalDecoder.from_pretrained(vae_dir)
    assert np.isfinite(vae.config.scaling_factor) and vae.config.scaling_factor > 0
    assert (tmp_path / "stage" / "vae_log.jsonl").read_text().strip()


def test_strip_rows_show_closed_and_open_driving_eyes():
    from actalker.demo.run import pick_rows

    eyes = np.full(50, 0.7)
    eyes[[5, 6, 30]] = [0.05, 0.1, 0.0]  # blinks
    eyes[[12, 40, 47]] = [1.0, 0.95, 0.9]  # wide open
    rows = pick_rows(eyes, 6)
    assert list(rows) == sorted(rows) and len(rows) == 6
    assert {5, 30} <= set(rows) and {12, 40} <= set(rows)  # both blinks (6 is too close to 5) and the widest
    assert min(np.diff(rows)) >= 50 // 12
