"""Options of the ``eeg`` branch (``model.branches.<name>.options``)."""
from __future__ import annotations

from typing import Optional

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

CANONICAL_BANDS = {
    "delta": (1.0, 4.0),
    "theta": (4.0, 8.0),
    "alpha": (8.0, 13.0),
    "beta": (13.0, 30.0),
    "gamma": (30.0, 45.0),
}


class EEGOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    bands: dict[str, tuple[float, float]] = Field(
        default_factory=lambda: dict(CANONICAL_BANDS), description="Frequency bands in Hz: name -> [low, high)."
    )
    window_s: float = Field(1.0, gt=0, description="Seconds of signal around each video frame for the spectrum.")
    channels: Optional[list[str]] = Field(
        None, description="Channel names to use, in this order (needs channel_names in the file); null = all."
    )
    num_channels: int = Field(8, ge=1, description="Channels expected when `channels` is null (fixes the encoder size).")
    hidden: int = Field(128, ge=1, description="Hidden width of the encoder MLP.")
    tokens: int = Field(4, ge=1, description="Condition tokens per frame.")

    @field_validator("bands")
    @classmethod
    def _bands(cls, bands: dict[str, tuple[float, float]]) -> dict[str, tuple[float, float]]:
        if not bands:
            raise ValueError("at least one band is needed")
        for name, (lo, hi) in bands.items():
            if not 0 <= lo < hi:
                raise ValueError(f"band '{name}' must satisfy 0 <= low < high, got [{lo}, {hi}]")
        return bands

    @model_validator(mode="after")
    def _channels(self) -> "EEGOptions":
        if self.channels is not None and len(set(self.channels)) != len(self.channels or []):
            raise ValueError("channels must not repeat")
        return self

    @property
    def n_channels(self) -> int:
        return len(self.channels) if self.channels is not None else self.num_channels
