"""Fit a per-frame (or per-sample) signal to the length a video needs: error, pad or loop."""
from __future__ import annotations

import numpy as np

from actalker.errors import InputError

ON_SHORT = ("error", "pad", "loop")


PYTHON_SPELLING = ("on_short='{}'", "ask for fewer frames")


class ShortSignalError(InputError):
    """A signal shorter than the video. The message names the ways out as the caller spells
    them: ``on_short='pad'`` for the Python API, ``--on-short pad`` on the command line."""

    def __init__(self, describe: str, pad_means: str, spelling: tuple[str, str] = PYTHON_SPELLING):
        self.describe, self.pad_means = describe, pad_means
        option, fewer = spelling
        super().__init__(f"{describe}; pass {option.format('pad')} ({pad_means}) or {option.format('loop')} "
                         f"(repeat from the start), or {fewer}")

    def spelled(self, option: str, fewer: str) -> "ShortSignalError":
        """The same error with the options as a caller spells them, e.g. ("--on-short {}",
        "ask for fewer frames (--frames)")."""
        return ShortSignalError(self.describe, self.pad_means, (option, fewer))


def short_error(describe: str, pad_means: str = "repeat the last frame") -> ShortSignalError:
    """The error for a signal shorter than the video, naming the two ways out."""
    return ShortSignalError(describe, pad_means)


def fit_length(x: np.ndarray, n: int, on_short: str, pad_value: float | None = None,
               describe: str = "signal", pad_means: str = "repeat the last frame") -> np.ndarray:
    """Cut ``x`` (length first) to ``n`` items or extend it as ``on_short`` says.

    pad: fill with ``pad_value`` (None repeats the last item); loop: repeat from the start.
    ``describe`` is the first part of the error, e.g. "audio a.wav is 2.0 s but 50 frames
    at 25 fps need 4.0 s"; the options are appended.
    """
    if on_short not in ON_SHORT:
        raise InputError(f"on_short must be one of {', '.join(ON_SHORT)}, got {on_short!r}")
    if len(x) >= n:
        return x[:n]
    if len(x) == 0:
        raise InputError(f"{describe}: the signal is empty")
    if on_short == "error":
        raise short_error(describe, pad_means)
    if on_short == "loop":
        return np.concatenate([x] * int(np.ceil(n / len(x))))[:n]
    if pad_value is None:
        tail = np.repeat(x[-1:], n - len(x), axis=0)
    else:
        tail = np.full((n - len(x),) + x.shape[1:], pad_value, x.dtype)
    return np.concatenate([x, tail])
