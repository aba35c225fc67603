"""Every call into a modality plugin's code goes through here, so a failure names the
plugin, the branch and the clip (or file) instead of being a bare traceback.

A user-facing ``ActalkerError`` the plugin raised keeps its class (an ``InputError`` for a
missing side file stays one) with the context in front; any other exception becomes a
one-line ``PluginError`` (the original stays chained as ``__cause__``).
"""
from __future__ import annotations

from typing import Any, Callable, Optional

import torch

from actalker.errors import ActalkerError, PluginError, ShapeError


def describe(branch: Any, what: str, on: Optional[str] = None) -> str:
    """"branch 'text' (modality 'text' of plugin 'text'), from_clip on clip c0"."""
    spec = branch.spec
    owner = getattr(spec, "plugin", "") or "?"
    where = f" on {on}" if on else ""
    return f"branch '{branch.name}' (modality '{spec.name}' of plugin '{owner}'), {what}{where}"


def with_context(err: ActalkerError, context: str) -> ActalkerError:
    """The same error class and attributes with ``context: `` in front of its message (also
    for classes whose constructor takes more than the message, e.g. ShortSignalError)."""
    new = type(err).__new__(type(err))
    new.__dict__.update(err.__dict__)
    new.args = (f"{context}: {err}",)
    return new


def call_plugin(branch: Any, what: str, fn: Callable, *args, on: Optional[str] = None) -> Any:
    """``fn(*args)`` with failures reworded by ``describe`` (one line)."""
    try:
        return fn(*args)
    except ActalkerError as err:
        raise with_context(err, describe(branch, what, on)) from err
    except Exception as err:  # plugin code: any fault, reported with its context
        first = (str(err).strip().splitlines() or [""])[0]
        raise PluginError(f"{describe(branch, what, on)} failed: {type(err).__name__}: {first}") from err


def check_features(branch: Any, features: Any, num_frames: int, what: str, on: Optional[str] = None) -> torch.Tensor:
    """float32 (at least num_frames, *branch.feature_shape) and finite, cut to num_frames, or
    a ShapeError naming the branch and where the features came from."""
    x = torch.as_tensor(features).float()
    want = (int(num_frames), *branch.feature_shape)
    if x.dim() != len(want) or x.shape[0] < want[0] or tuple(x.shape[1:]) != want[1:]:
        raise ShapeError(f"{describe(branch, what, on)}: returned shape {tuple(x.shape)}; expected {want} "
                         f"(frames, *feature_shape)")
    if not torch.isfinite(x).all():
        raise ShapeError(f"{describe(branch, what, on)}: returned non-finite values")
    return x[: want[0]]


def check_encoder(branch: Any, encoder: torch.nn.Module, dim: int) -> None:
    """Run the encoder once on null features of 2 frames: the output must be (1, 2, T, dim).
    Raises (not returns) on failure; exceptions inside the forward name the branch."""
    if not isinstance(encoder, torch.nn.Module):
        raise PluginError(f"{describe(branch, 'build_encoder')} returned {type(encoder).__name__}; expected a torch.nn.Module")
    x = torch.zeros(1, 2, *branch.feature_shape)
    was_training = encoder.training
    try:  # eval mode, forked RNG: the check changes no statistics and no later initialisation
        with torch.no_grad(), torch.random.fork_rng(devices=[]):
            y = encoder.eval()(branch.null_features(x))
    except Exception as err:
        first = (str(err).strip().splitlines() or [""])[0]
        raise PluginError(f"{describe(branch, 'encoder')} fails on input (1, 2, *feature_shape) = {tuple(x.shape)}: "
                          f"{type(err).__name__}: {first}") from err
    finally:
        encoder.train(was_training)
    shape = tuple(getattr(y, "shape", ()))
    if len(shape) != 4 or shape[:2] != (1, 2) or shape[3] != dim or shape[2] < 1:
        raise ShapeError(f"{describe(branch, 'encoder')} maps {tuple(x.shape)} to {shape}; expected "
                         f"(1, 2, tokens, {dim}) = (batch, frames, tokens, cond_dim)")
