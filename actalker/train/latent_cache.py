"""The frozen VAE's posterior per training frame, computed once and reused.

While the denoiser trains, the VAE is frozen and the frames are not augmented, so a frame's
posterior (mean, std) is the same every time a window shows it. ``LatentCache`` keeps it per
(stored clip, source frame) the first time a frame is encoded; later windows only draw the
posterior sample, on the run's generator in the same order as ``encode_video`` does, so the
random stream and hence the run are the same with or without the cache.

Memory: 2 x C x h x w float32 per distinct frame in each process (the demo: 16 KB a frame,
120 MB for its 15,000 frames); worth it when frames repeat often (small data sets, many
epochs), which is why it is a switch (``train.cache_latents``), off by default.
"""
from __future__ import annotations

import torch

from actalker.errors import ConfigError


class LatentCache:
    """(clip path, source frame index) -> the VAE posterior's (mean, std), unscaled."""

    def __init__(self):
        self._mean: dict[tuple[str, int], torch.Tensor] = {}
        self._std: dict[tuple[str, int], torch.Tensor] = {}
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._mean)

    def summary(self) -> str:
        seen = self.hits + self.misses
        if not seen:
            return "latent cache: no frames encoded (no training step ran)"
        return f"latent cache: {len(self)} frames kept, {self.hits / seen:.0%} of frame encodings reused"

    @staticmethod
    def keys(batch: dict) -> list[tuple[str, int]]:
        """One key per frame of the batch, in ``frames.flatten(0, 1)`` order."""
        if "clip_path" not in batch or "frame_index" not in batch:
            raise ConfigError("train.cache_latents needs a data set whose items name their clip and frames "
                              "('clip_path', 'frame_index': actalker's ClipDataset); set train.cache_latents=false")
        index = torch.as_tensor(batch["frame_index"]).reshape(len(batch["clip_path"]), -1)
        return [(str(path), int(i)) for path, row in zip(batch["clip_path"], index) for i in row]

    def posterior(self, vae, flat_frames: torch.Tensor, keys: list[tuple[str, int]],
                  chunk: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
        """(N, 3, H, W) frames and their keys -> (mean, std), each (N, C, h, w) float32;
        only frames not seen before go through the encoder."""
        todo = list(dict.fromkeys(k for k in keys if k not in self._mean))
        self.misses += len(todo)
        self.hits += len(keys) - len(todo)
        if todo:
            first = {k: i for i, k in reversed(list(enumerate(keys)))}
            mean, std = vae_posterior(vae, flat_frames[torch.tensor([first[k] for k in todo])], chunk)
            for j, k in enumerate(todo):  # copies: a view would keep the whole batch alive
                self._mean[k] = mean[j].to("cpu", copy=True)
                self._std[k] = std[j].to("cpu", copy=True)
        device = flat_frames.device
        return (torch.stack([self._mean[k] for k in keys]).to(device),
                torch.stack([self._std[k] for k in keys]).to(device))


@torch.no_grad()
def vae_posterior(vae, flat_frames: torch.Tensor, chunk: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, 3, H, W) frames -> the VAE posterior's (mean, std), each (N, C, h, w) float32,
    encoded ``chunk`` frames per call."""
    dists = [vae.encode(flat_frames[i : i + chunk].to(vae.dtype)).latent_dist
             for i in range(0, flat_frames.shape[0], chunk)]
    return torch.cat([d.mean.float() for d in dists]), torch.cat([d.std.float() for d in dists])
