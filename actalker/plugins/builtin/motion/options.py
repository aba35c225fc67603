"""Options of the built-in ``motion`` modality (branch ``options:`` in a config)."""
from __future__ import annotations

from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field


class MotionOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    face_model: Optional[str] = Field(
        None,
        description="Path of MediaPipe's face_landmarker_v2_with_blendshapes.task; "
        "default: the ACTALKER_FACE_MODEL environment variable. A saved model folder carries a copy (assets/).",
        json_schema_extra={"asset": True},  # copied into model folders (actalker.core.assets)
    )
    features: Literal["all", "blendshapes", "pose"] = Field(
        "all", description="Which motion features drive the branch: 52 blendshapes + 6 head pose ('all'), or one group."
    )
    smooth: int = Field(1, ge=1, le=31, description="Centred moving average over this many frames (1 = none).")
    tokens: int = Field(4, ge=1, le=256, description="Condition tokens per video frame out of the encoder.")
    hidden: int = Field(256, ge=8, description="Hidden width of the per-frame MLP encoder.")
