"""Options of the built-in ``audio`` modality (branch ``options:`` in a config)."""
from __future__ import annotations

from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class AudioOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    encoder: Literal["logmel", "whisper"] = Field(
        "logmel",
        description="Audio features: 'logmel' (built in, no weights, 100 frames/s) or 'whisper' "
        "(all hidden states of a local Whisper encoder, 50 tokens/s, as the paper).",
    )
    whisper_path: Optional[str] = Field(
        None, description="Local folder of a transformers Whisper model (e.g. whisper-tiny); needed for encoder='whisper'. "
        "A saved model folder carries a copy (assets/).",
        json_schema_extra={"asset": True},  # copied into model folders (actalker.core.assets)
    )
    window_s: float = Field(
        0.2, gt=0, le=2.0, description="Seconds of audio context per video frame, centred on the frame (paper: 0.2)."
    )
    n_mels: int = Field(80, ge=8, le=256, description="Mel bands of the 'logmel' features (Whisper uses its own).")
    tokens: int = Field(4, ge=1, le=256, description="Condition tokens per video frame out of the encoder (paper: 32).")
    hidden: int = Field(256, ge=8, description="Hidden width of the per-frame MLP encoder.")
    freeze_whisper: bool = Field(
        True, description="Whisper stays frozen: its features are computed outside the trainable graph."
    )

    @field_validator("freeze_whisper")
    @classmethod
    def _frozen_only(cls, v: bool) -> bool:
        if not v:
            raise ValueError("fine-tuning Whisper is not supported (its features are precomputed); keep true")
        return v

    @model_validator(mode="after")
    def _whisper_needs_path(self) -> "AudioOptions":
        if self.encoder == "whisper" and not self.whisper_path:
            raise ValueError("encoder 'whisper' needs whisper_path, the folder of a local Whisper model")
        return self
