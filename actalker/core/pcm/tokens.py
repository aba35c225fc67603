"""Branch sequences: where visual, identity and condition tokens sit, and packing.

Each frame contributes one chunk ``[visual tokens (L) ; id token (0 or 1) ; condition
tokens (T)]``. ``spatial`` scans every chunk as its own sequence (B*F sequences, as the
released code); ``spatiotemporal`` concatenates the chunks of a sample in frame order (B
sequences over F*(L+I+T) tokens, as the paper), so each frame's condition sits right
after that frame's tokens.

``keep`` marks the tokens a scan sees. ``pack`` moves kept tokens to the front (order
kept) and cuts the common tail, so a branch over a small region (a mouth is ~10% of the
tokens) scans a short sequence; the mixer contract (output equals the packed run)
makes this exact, and samples with different masks share one batched call.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch


@dataclass(frozen=True)
class Layout:
    batch: int
    frames: int
    visual: int  # L tokens per frame
    extra: int  # id + condition tokens per frame


def assemble(
    visual: torch.Tensor,
    cond: torch.Tensor,
    ident: Optional[torch.Tensor],
    keep: Optional[torch.Tensor],
    spatiotemporal: bool,
) -> tuple[torch.Tensor, Optional[torch.Tensor], Layout]:
    """visual (B,F,L,W), cond (B,F,T,W), ident (B,W) | None, keep (B,F,L) bool | None
    -> sequences (S, Ls, W), keep (S, Ls) bool | None, layout."""
    b, f, l, w = visual.shape
    parts = [visual]
    if ident is not None:
        parts.append(ident[:, None, None, :].expand(b, f, 1, w))
    parts.append(cond)
    chunk = torch.cat(parts, dim=2)  # (B, F, L+I+T, W)
    extra = chunk.shape[2] - l
    seq_keep = None
    if keep is not None:
        seq_keep = torch.cat([keep, keep.new_ones(b, f, extra)], dim=2)
    layout = Layout(b, f, l, extra)
    if spatiotemporal:
        seq = chunk.reshape(b, f * (l + extra), w)
        seq_keep = None if seq_keep is None else seq_keep.reshape(b, -1)
    else:
        seq = chunk.reshape(b * f, l + extra, w)
        seq_keep = None if seq_keep is None else seq_keep.reshape(b * f, -1)
    return seq, seq_keep, layout


def visual_part(y: torch.Tensor, layout: Layout) -> torch.Tensor:
    """Mixer output (S, Ls, W) -> the visual tokens' outputs (B, F, L, W)."""
    lo = layout
    chunks = y.reshape(lo.batch, lo.frames, lo.visual + lo.extra, y.shape[-1])
    return chunks[:, :, : lo.visual]


def pack(seq: torch.Tensor, keep: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Kept tokens first, in order, padded to the longest row: (S, Lp, W), keep (S, Lp), index (S, Lp)."""
    counts = keep.sum(dim=1)
    lp = max(int(counts.max()), 1)
    order = torch.argsort((~keep).to(torch.uint8), dim=1, stable=True)[:, :lp]
    packed = seq.gather(1, order[..., None].expand(-1, -1, seq.shape[-1]))
    packed_keep = torch.arange(lp, device=seq.device)[None, :] < counts[:, None]
    return packed, packed_keep, order


def unpack(y: torch.Tensor, order: torch.Tensor, packed_keep: torch.Tensor, length: int) -> torch.Tensor:
    """Inverse of ``pack``: (S, Lp, W) -> (S, length, W), zero at tokens that were not kept."""
    y = y * packed_keep[..., None].to(y.dtype)  # padding slots point at dropped tokens, which must stay 0
    out = y.new_zeros(y.shape[0], length, y.shape[-1])
    return out.scatter(1, order[..., None].expand(-1, -1, y.shape[-1]), y)
