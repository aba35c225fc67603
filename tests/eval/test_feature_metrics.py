"""FID, FVD, identity similarity and Sync-C/D with tiny random stand-in networks saved as
TorchScript files (the same loading path as real weights), the metric registry, and
`actalker eval video` end to end."""
from __future__ import annotations

import json
import types

import numpy as np
import pytest
import torch
from torch import nn

from actalker.cli import main
from actalker.errors import InputError, PluginError
from actalker.eval import feature_metrics as fm
from actalker.eval.registry import MetricSpec, load_metric_registry
from actalker.eval.report import markdown_table, run_metrics
from actalker.eval.video_inputs import VideoInputs
from actalker.plugins import hookimpl

rng = np.random.default_rng(0)


class TinyInception(nn.Module):
    """(N, 3, H, W) 0..255 -> (N, 8); takes return_features like the StyleGAN2-ADA file."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 5, stride=4)

    def forward(self, x: torch.Tensor, return_features: bool = False) -> torch.Tensor:
        f = torch.tanh(self.conv(x / 255.0)).mean(dim=(2, 3))
        return f if return_features else f.softmax(1)


class TinyI3D(nn.Module):
    """(N, 3, T, H, W) -> (N, 6); no keyword arguments (the plain-call fallback)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv3d(3, 6, (3, 8, 8), stride=(2, 8, 8))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x).mean(dim=(2, 3, 4))


class TinyArcFace(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 16, 8, stride=8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x).flatten(1)


class TinySyncNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.lip = nn.Conv3d(3, 4, (5, 32, 32), stride=(1, 32, 32))
        self.aud = nn.Linear(13 * 20, 4 * 49)

    @torch.jit.export
    def forward_lip(self, x: torch.Tensor) -> torch.Tensor:
        return self.lip(x / 255.0).flatten(1)

    @torch.jit.export
    def forward_aud(self, x: torch.Tensor) -> torch.Tensor:
        return self.aud(x.flatten(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_lip(x)


def save(module, path):
    torch.manual_seed(0)
    torch.jit.script(module).save(str(path))
    return path


@pytest.fixture
def nets(tmp_path):
    torch.manual_seed(0)
    return {"inception": save(TinyInception(), tmp_path / "inc.pt"), "i3d": save(TinyI3D(), tmp_path / "i3d.pt"),
            "arcface": save(TinyArcFace(), tmp_path / "arc.pt"), "syncnet": save(TinySyncNet(), tmp_path / "sync.pt")}


def frames(n=8, h=32, w=32):
    return rng.integers(0, 256, (n, h, w, 3)).astype(np.uint8)


def test_frechet_distance_matches_the_general_formula():
    a, b = rng.normal(size=(50, 5)), rng.normal(1.0, 2.0, size=(40, 5)) @ rng.normal(size=(5, 5))
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    tr = np.sqrt(np.linalg.eigvals(s1 @ s2).astype(complex)).real.sum()  # tr sqrtm(S1 S2)
    expected = ((a.mean(0) - b.mean(0)) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * tr
    assert fm.frechet_distance(a, b) == pytest.approx(expected, rel=1e-8)
    assert fm.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)
    assert fm.frechet_distance(a, b) == pytest.approx(fm.frechet_distance(b, a), rel=1e-8)
    with pytest.raises(InputError, match="at least 2 samples"):
        fm.frechet_distance(a[:1], b)


def test_networks_load_from_torchscript_files_with_one_line_errors(nets, tmp_path):
    net = fm.load_network(nets["inception"], "inception")
    x = torch.rand(2, 3, 16, 16) * 255
    assert fm._call(net, x, return_features=True).shape == (2, 8)  # the features, not the softmax
    assert fm._call(fm.load_network(nets["i3d"], "i3d"), torch.rand(1, 3, 16, 16, 16), resize=True).shape == (1, 6)
    with pytest.raises(InputError, match="--arcface .*file not found"):
        fm.load_network(tmp_path / "none.pt", "arcface")
    bad = tmp_path / "weights.pt"
    torch.save({"w": torch.zeros(2)}, bad)  # a state dict, not TorchScript
    with pytest.raises(InputError, match="not a TorchScript file") as err:
        fm.load_network(bad, "syncnet")
    assert "\n" not in str(err.value)


def test_fid_fvd_identity_with_stand_ins(nets):
    inc, i3d, arc = (fm.load_network(nets[k], k) for k in ("inception", "i3d", "arcface"))
    a, b = frames(6), frames(6)
    assert fm.fid(inc, a, a) == pytest.approx(0.0, abs=1e-6)
    assert fm.fid(inc, a, b) > 0 and fm.fid(inc, a, np.clip(a.astype(int) + 60, 0, 255).astype(np.uint8)) > 0
    va, vb = frames(33), frames(40)
    assert fm.video_clips(va).shape == (2, 3, 16, 224, 224)  # non-overlapping, the rest dropped
    assert fm.fvd(i3d, va, va) == pytest.approx(0.0, abs=1e-6) and fm.fvd(i3d, va, vb) > 0
    with pytest.raises(InputError, match="at least 16 frames"):
        fm.fvd(i3d, va[:10], vb)
    portrait = a[0]
    assert fm.identity_similarity(arc, np.repeat(a[:1], 3, 0), portrait) == pytest.approx(1.0)
    assert fm.identity_similarity(arc, b, portrait) < 1.0
    crops = fm.face_crops(a[:1], np.array([[0.25, 0.25, 0.75, 0.75]]), 112, scale=1.0)
    assert crops.shape == (1, 3, 112, 112)


def brute_sync(v, a, vshift):
    n = len(v)
    md = []
    for j in range(2 * vshift + 1):
        off = j - vshift
        d = [np.linalg.norm(v[i] - (a[i + off] if 0 <= i + off < n else 0.0) + 1e-6) for i in range(n)]
        md.append(np.mean(d))
    md = np.array(md)
    return md.min(), np.median(md) - md.min(), vshift - int(md.argmin())


def test_sync_scores_find_the_offset_and_match_the_definition():
    a = rng.normal(size=(40, 6))
    v = np.roll(a, -3, axis=0)  # lip window i matches audio window i + 3
    out = fm.sync_scores(v, a)
    assert out["av_offset"] == -3 and out["sync_c"] > 0.5
    d, c, off = brute_sync(v, a, 15)
    assert (out["sync_d"], out["sync_c"], out["av_offset"]) == (pytest.approx(d), pytest.approx(c), off)
    synced = fm.sync_scores(a, a)
    assert synced["av_offset"] == 0 and synced["sync_d"] < out["sync_d"] + 1e-9


def test_sync_metrics_run_the_syncnet_interface(nets):
    net = fm.load_network(nets["syncnet"], "syncnet")
    video = frames(30, 64, 64)
    audio = rng.normal(0, 0.1, 16000 * 30 // 25).astype(np.float32)
    lips, auds = fm.syncnet_inputs(video, 25.0, audio)
    assert lips.shape == (25, 3, 5, 224, 224) and auds.shape == (25, 1, 13, 20)
    out = fm.sync_metrics(net, video, 25.0, audio)
    with torch.no_grad():
        ref = fm.sync_scores(net.forward_lip(lips), net.forward_aud(auds))
    assert out == pytest.approx(ref)
    with pytest.raises(InputError, match="at least 6 frames"):
        fm.sync_metrics(net, video[:4], 25.0, audio)


def test_registry_reports_what_is_not_computed_and_takes_plugin_metrics(nets):
    plugin = types.ModuleType("metric_plugin")

    @hookimpl
    def register_metrics(register):
        register(MetricSpec("mean_level", lambda x: {"mean_level": float(x.generated.mean())}, ("generated",)))

    plugin.register_metrics = register_metrics
    reg = load_metric_registry(extra=[plugin])
    assert reg.owners["mean_level"] == "metric_plugin" and reg.owners["psnr"] == "builtin"
    gen = frames(4, 16, 16)
    res = run_metrics(reg, VideoInputs(gen, 25.0, reference=gen))
    assert res["psnr"]["values"]["psnr"] == float("inf") and res["ssim"]["values"]["ssim"] == pytest.approx(1.0)
    assert res["identity"] == {"status": "not computed", "reason": "give --arcface PATH"}
    assert res["sync"]["reason"] == "give --syncnet PATH" and res["fvd"]["reason"] == "give --i3d PATH"
    assert res["lmd"]["status"] == "not computed" and "--face-model" in res["lmd"]["reason"]
    assert res["mean_level"]["values"]["mean_level"] == pytest.approx(gen.mean())
    assert "| identity | - | not computed (give --arcface PATH) |" in markdown_table(res)

    dup = types.ModuleType("dup_plugin")
    dup.register_metrics = hookimpl(lambda register: register(MetricSpec("psnr", lambda x: {})))
    with pytest.raises(PluginError, match="'psnr' is registered twice: by builtin and by dup_plugin"):
        load_metric_registry(extra=[dup])


def test_eval_video_command(nets, tmp_path, monkeypatch, capsys):
    from actalker.media.video import write_video

    monkeypatch.delenv("ACTALKER_FACE_MODEL", raising=False)
    ref = frames(20, 32, 32)
    gen = np.clip(ref.astype(int) + rng.integers(-10, 10, ref.shape), 0, 255).astype(np.uint8)
    write_video(tmp_path / "ref.mp4", ref, 25.0)
    write_video(tmp_path / "gen.mp4", gen, 25.0)
    out = tmp_path / "res.json"
    args = ["eval", "video", "--generated", str(tmp_path / "gen.mp4"), "--reference", str(tmp_path / "ref.mp4"),
            "--inception", str(nets["inception"]), "--arcface", str(nets["arcface"]), "--out", str(out)]
    assert main(args) == 0
    text = capsys.readouterr().out
    rep = json.loads(out.read_text())["metrics"]
    assert rep["psnr"]["status"] == "computed" and 15 < rep["psnr"]["values"]["psnr"] < 60
    assert 0 < rep["ssim"]["values"]["ssim"] < 1 and rep["fid"]["values"]["fid"] > 0
    assert -1 <= rep["identity"]["values"]["identity"] <= 1
    assert rep["sync"] == {"status": "not computed", "reason": "give --syncnet PATH"}
    assert "not computed (give --i3d PATH)" in text and "| psnr |" in text
    assert main(args[:-2] + ["--out", str(tmp_path / "x.txt")]) == 2
    assert main(["eval", "video", "--generated", str(tmp_path / "gen.mp4"), "--syncnet", str(tmp_path / "no.pt"),
                 "--audio", str(tmp_path / "none.wav"), "--out", str(out)]) == 2
    assert "none.wav" in capsys.readouterr().err
