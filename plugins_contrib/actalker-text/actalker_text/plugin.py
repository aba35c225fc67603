"""The ``text`` modality: per-time-span text prompts ("raised brows", "eyes closed") steer
the upper face. Input: a JSON of spans in seconds (see spans.py); stored clips read
``prompts.json`` beside the clip (``actalker synth --prompts`` writes it from the ground truth).
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Literal, Optional

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator

from actalker.media.timing import fit_length
from actalker.plugins import ControlTarget, ModalitySpec, hookimpl
from actalker.plugins.helpers import PerFrameMLP, clip_times, side_file
from actalker_text.encoding import encode_prompts, model_width
from actalker_text.spans import CLIP_FILE, prompts_at, read_spans, spans_duration


class TextOptions(BaseModel):
    """Options of the text branch (``model.branches.text.options``)."""

    model_config = ConfigDict(extra="forbid")

    encoder: Literal["tokens", "model"] = Field("tokens", description="tokens: built-in word embedding; model: a text model from model_path.")
    model_path: Optional[str] = Field(None, description="Folder of a transformers model + tokenizer (encoder=model); never downloaded.")
    vocab: int = Field(512, ge=2, description="Word-id buckets of the built-in embedding.")
    max_words: int = Field(8, ge=1, description="Words kept per prompt (built-in embedding).")
    embed: int = Field(32, ge=1, description="Width of the built-in word embedding.")
    hidden: int = Field(64, ge=1, description="Hidden width of the encoder MLP.")
    tokens: int = Field(2, ge=1, description="Condition tokens per frame.")

    @model_validator(mode="after")
    def _model_path(self) -> "TextOptions":
        if self.encoder == "model" and not self.model_path:
            raise ValueError("encoder 'model' needs model_path (a local folder saved by transformers)")
        return self


def feature_shape(opts: TextOptions) -> tuple[int, ...]:
    return (opts.max_words,) if opts.encoder == "tokens" else (model_width(str(opts.model_path)),)


def load(path, num_frames, fps, opts: TextOptions, on_short="error") -> torch.Tensor:
    spans = read_spans(path)
    available = max(1, math.ceil(spans_duration(spans) * fps - 1e-6))
    wanted = available if num_frames is None else int(num_frames)
    times = np.arange(min(wanted, available)) / fps
    feats = encode_prompts(prompts_at(spans, times), opts)
    feats = fit_length(feats, wanted, on_short, describe=f"text file {path} covers {available} frames but {wanted} are needed")
    return torch.from_numpy(np.ascontiguousarray(feats))


def from_clip(clip, opts: TextOptions) -> torch.Tensor:
    spans = read_spans(side_file(clip, CLIP_FILE, "the text branch"))
    return torch.from_numpy(encode_prompts(prompts_at(spans, clip_times(clip)), opts))


class TextEncoder(torch.nn.Module):
    """(B, F, *feat) -> (B, F, tokens, dim): word ids -> mean word embedding -> MLP, or a
    text model's sentence embedding -> MLP."""

    def __init__(self, opts: TextOptions, dim: int):
        super().__init__()
        self.words = opts.encoder == "tokens"
        width = opts.embed if self.words else feature_shape(opts)[0]
        self.embedding = torch.nn.Embedding(opts.vocab, opts.embed, padding_idx=0) if self.words else None
        self.mlp = PerFrameMLP(width, opts.hidden, opts.tokens, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.words:
            ids = x.round().long().clamp(0, self.embedding.num_embeddings - 1)
            x = self.embedding(ids).sum(-2) / (ids > 0).sum(-1, keepdim=True).clamp(min=1)
        return self.mlp(x)


def eye_track(clip, num_frames: int):
    """The eye openness the prompts ask for (closed 0, half closed 0.5, open 1; 1 without
    words about the eyes): the signal the generated eyes should follow."""
    try:
        spans = read_spans(side_file(clip, CLIP_FILE, "the text branch"))
    except Exception:  # noqa: BLE001 -- no prompts: nothing to score
        return None
    words = prompts_at(spans, clip_times(clip)[:num_frames])
    return np.array([0.0 if "eyes closed" in w else 0.5 if "half closed" in w else 1.0 for w in words], np.float32)


TEXT = ModalitySpec(
    name="text",
    options_model=TextOptions,
    feature_shape=feature_shape,
    load=load,
    from_clip=from_clip,
    build_encoder=TextEncoder,
    default_region="upper_face",
    solo_region="upper_face",
    default_gate=1.0,
    cli_flag="text",
    description="Text prompts per time span (JSON spans in seconds) steering the upper face.",
    drives=(ControlTarget("eyes", truth="eye_open", track=eye_track),),  # what `actalker eval control` scores
)


@hookimpl
def register_modalities(register):
    register(TEXT)
