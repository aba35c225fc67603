"""Parallel-Control Mamba: one gated branch per control signal, restricted to a facial region."""
from actalker.core.pcm.branch import PCMBranch
from actalker.core.pcm.layer import SCAN_MODES, PCMLayer
from actalker.core.pcm.mixers import MIXERS, AttentionMixer, build_mixer

__all__ = ["PCMLayer", "PCMBranch", "AttentionMixer", "build_mixer", "SCAN_MODES", "MIXERS"]
