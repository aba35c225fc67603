"""train.cache_latents: the frozen VAE's posteriors are reused, and the run is the same run."""
import json
import re

import pytest
import torch
from diffusers import AutoencoderKLTemporalDecoder
from safetensors.torch import load_file

from actalker.errors import ConfigError
from actalker.train.latent_cache import LatentCache
from actalker.train.loop import train
from actalker.train.step import encode_video
from tests.train.helpers import TINY_VAE, TinyClips, tiny_config, tiny_parts


def _frames(n_clips=2, frames=3, size=8):
    g = torch.Generator().manual_seed(0)
    return torch.rand(n_clips, frames, 3, size, size, generator=g) * 2 - 1


def test_cached_latents_equal_encoded_ones_and_the_encoder_runs_once_per_frame():
    torch.manual_seed(0)
    vae = AutoencoderKLTemporalDecoder(**TINY_VAE).eval()
    frames = _frames()
    batch = {"clip_path": ["a", "b"], "frame_index": torch.tensor([[0, 1, 2], [0, 1, 2]])}
    cache = LatentCache()
    keys = LatentCache.keys(batch)
    plain = encode_video(vae, frames, torch.Generator().manual_seed(3))
    first = encode_video(vae, frames, torch.Generator().manual_seed(3), cache=cache, keys=keys)
    calls = []
    vae.encode = lambda *a, **k: calls.append(a)  # a second pass must not need the encoder
    again = encode_video(vae, frames, torch.Generator().manual_seed(3), cache=cache, keys=keys)
    assert torch.allclose(first, plain, atol=1e-6) and torch.equal(again, first) and not calls
    assert (len(cache), cache.misses, cache.hits) == (6, 6, 6)
    kept = cache._mean[("a", 0)]  # one frame's own storage, not a view into the encoded batch
    assert kept.untyped_storage().nbytes() == kept.numel() * 4
    other = encode_video(vae, frames, torch.Generator().manual_seed(4), cache=cache, keys=keys)
    assert not torch.allclose(other, first)  # the posterior sample is still drawn fresh each time


def test_a_frame_shown_twice_in_one_batch_is_encoded_once():
    torch.manual_seed(0)
    vae = AutoencoderKLTemporalDecoder(**TINY_VAE).eval()
    frames = _frames(n_clips=1, frames=3)
    frames[0, 2] = frames[0, 1]  # a 12.5 fps window of a 25 fps clip repeats no frame, one of 10 fps does
    cache = LatentCache()
    keys = LatentCache.keys({"clip_path": ["a"], "frame_index": torch.tensor([[0, 1, 1]])})
    lat = encode_video(vae, frames, torch.Generator().manual_seed(3), cache=cache, keys=keys)
    assert (len(cache), cache.misses, cache.hits) == (2, 2, 1)
    assert torch.allclose(lat, encode_video(vae, frames, torch.Generator().manual_seed(3)), atol=1e-6)


def test_a_data_set_without_frame_keys_is_a_one_line_error():
    with pytest.raises(ConfigError, match="train.cache_latents needs .*clip_path.*frame_index"):
        LatentCache.keys({"frames": torch.zeros(1, 2, 3, 8, 8)})


def _losses(out):
    return [json.loads(line)["loss"] for line in (out / "log.jsonl").read_text().splitlines() if '"loss"' in line]


def test_training_with_the_cache_is_the_same_run(tmp_path, capsys):
    weights, losses = {}, {}
    for cached in (False, True):
        cfg = tiny_config(tmp_path / str(cached), max_steps=6, batch_size=2, checkpoint_every=100,
                          cache_latents=cached)
        parts = tiny_parts(cfg)
        parts.dataset = TinyClips(3, keyed=True)  # 3 clips, 6 steps x 2 items: every clip comes back
        result = train(cfg, parts=parts, progress=False)
        weights[cached] = load_file(str(result.model_dir / "denoiser" / "diffusion_pytorch_model.safetensors"))
        losses[cached] = _losses(tmp_path / str(cached))
    # Same draws, same batches: the losses agree to float rounding. (The weights agree to 1e-3 only:
    # Adam divides by the gradient's own size, so rounding in a near-zero gradient moves a weight by ~lr.)
    assert len(losses[True]) == 6 and losses[True] == pytest.approx(losses[False], rel=1e-5)
    a, b = weights[False], weights[True]
    assert a.keys() == b.keys() and all(torch.allclose(a[k], b[k], atol=1e-3) for k in a)
    reused = re.search(r"latent cache: (\d+) frames kept, (\d+)% of frame encodings reused", capsys.readouterr().out)
    assert reused and int(reused.group(2)) > 0


def test_the_summary_of_an_unused_cache_says_so():
    # a run resumed at its last step trains nothing: no share to report
    assert LatentCache().summary() == "latent cache: no frames encoded (no training step ran)"
