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


def general_frechet(f1, f2):
    """|mu1 - mu2|^2 + tr S1 + tr S2 - 2 tr sqrtm(S1 S2), from the eigenvalues of S1 S2."""
    s1, s2 = np.cov(f1, rowvar=False), np.cov(f2, rowvar=False)
    tr = np.sqrt(np.linalg.eigvals(s1 @ s2).astype(complex)).real.sum()
    return ((f1.mean(0) - f2.mean(0)) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * tr


def as_images(x, size):
    """uint8 (N, H, W, 3) -> float (N, 3, size, size) in 0..255, bilinear (antialiased)."""
    t = torch.from_numpy(np.asarray(x, np.float32)).permute(0, 3, 1, 2)
    return torch.nn.functional.interpolate(t, size=(size, size), mode="bilinear", align_corners=False, antialias=True)


def test_fid_and_identity_equal_their_definitions(nets):
    """FID: the Frechet distance of the Inception *pool features* (not its softmax) of frames
    resized to 299; identity: the mean cosine of ArcFace embeddings of frames resized to 112
    and scaled to [-1, 1]. Computed here with the networks called directly."""
    inc, arc = torch.jit.load(str(nets["inception"])), torch.jit.load(str(nets["arcface"]))
    a, b = frames(6), frames(7)
    with torch.no_grad():
        fa, fb = (inc(as_images(x, 299), return_features=True).double().numpy() for x in (a, b))
        eg = torch.nn.functional.normalize(arc(as_images(b, 112) / 127.5 - 1).double(), dim=1)
        er = torch.nn.functional.normalize(arc(as_images(a[:1], 112) / 127.5 - 1).double(), dim=1)[0]
    want = general_frechet(fa, fb)
    assert want > 1e-4
    assert fm.fid(fm.load_network(nets["inception"], "inception"), a, b) == pytest.approx(want, rel=1e-6, abs=1e-9)
    got = fm.identity_similarity(fm.load_network(nets["arcface"], "arcface"), b, a[0])
    assert got == pytest.approx(float((eg @ er).mean()), rel=1e-6)
    assert abs(got) < 0.99  # other frames than the portrait: not trivially 1


def test_fid_fvd_identity_with_stand_ins(nets):
    inc, i3d, arc = (fm.load_network(nets[k], k) for k in ("inception", "i3d", "arcface"))
    a, b = frames(6), frames(6)
    assert fm.fid(inc, a, a) == pytest.approx(0.0, abs=1e-6)
    brighter = np.clip(a.astype(int) + 60, 0, 255).astype(np.uint8)
    assert fm.fid(inc, a, b) > 1e-4 and fm.fid(inc, a, brighter) > 1e-4
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
    d, c, off = brute_sync(net.forward_lip(lips).detach().numpy(), net.forward_aud(auds).detach().numpy(), 15)
    assert (out["sync_d"], out["sync_c"], out["av_offset"]) == (pytest.approx(d), pytest.approx(c), off)
    with pytest.raises(InputError, match="at least 6 frames"):
        fm.sync_metrics(net, video[:4], 25.0, audio)


def test_syncnet_windows_hold_the_right_frames_and_mfccs():
    """Lip window i = frames i..i+4 as (3, 5, 224, 224) in BGR; audio window i = MFCC columns
    4i..4i+19 (100 Hz MFCCs, 4 per video frame at 25 fps)."""
    from actalker.eval.mfcc import mfcc

    n = 12
    video = np.zeros((n, 64, 64, 3), np.uint8)
    video[..., 0] = np.arange(n)[:, None, None] * 10  # R = 10 k in frame k
    video[..., 1] = 100
    video[..., 2] = 200 - np.arange(n)[:, None, None] * 10  # B
    audio = np.random.default_rng(1).normal(0, 0.1, 16000 * n // 25)
    lips, auds = fm.syncnet_inputs(video, 25.0, audio)
    assert lips.shape == (n - 5, 3, 5, 224, 224) and auds.shape == (n - 5, 1, 13, 20)
    for i in (0, 3, n - 6):
        for j in range(5):
            k = i + j
            torch.testing.assert_close(lips[i, :, j, 100, 100], torch.tensor([200.0 - 10 * k, 100.0, 10.0 * k]))
    cc = mfcc(audio, 16000).T  # (13, T)
    for i in (0, 4, n - 6):
        np.testing.assert_allclose(auds[i, 0].numpy(), cc[:, 4 * i:4 * i + 20], rtol=1e-5, atol=1e-5)
    # 25 fps in the end: a 50 fps video gives the same windows from every other frame
    double = np.repeat(video, 2, axis=0)
    lips2, _ = fm.syncnet_inputs(double, 50.0, audio)
    torch.testing.assert_close(lips2, lips)


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
    # the same numbers as the metric functions (checked against their definitions above) on
    # the decoded videos: identity against the reference video's first frame (no portrait given)
    from actalker.eval.video_metrics import ssim
    from actalker.media.video import read_video

    g, r = read_video(tmp_path / "gen.mp4")[0], read_video(tmp_path / "ref.mp4")[0]
    assert rep["ssim"]["values"]["ssim"] == pytest.approx(ssim(g, r), rel=1e-6)
    assert rep["fid"]["values"]["fid"] == pytest.approx(fm.fid(fm.load_network(nets["inception"], "inception"), g, r),
                                                        rel=1e-6)
    want_id = fm.identity_similarity(fm.load_network(nets["arcface"], "arcface"), g, r[0])
    assert rep["identity"]["values"]["identity"] == pytest.approx(want_id, rel=1e-6)
    assert rep["identity"]["values"]["identity"] != pytest.approx(
        fm.identity_similarity(fm.load_network(nets["arcface"], "arcface"), g, g[0]), rel=1e-6)
    assert rep["sync"] == {"status": "not computed", "reason": "give --syncnet PATH"}
    assert "not computed (give --i3d PATH)" in text and "| psnr |" in text
    assert main(args[:-2] + ["--out", str(tmp_path / "x.txt")]) == 2
    assert main(["eval", "video", "--generated", str(tmp_path / "gen.mp4"), "--syncnet", str(tmp_path / "no.pt"),
                 "--audio", str(tmp_path / "none.wav"), "--out", str(out)]) == 2
    assert "none.wav" in capsys.readouterr().err
