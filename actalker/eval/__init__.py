"""Evaluation without pretrained weights: openness measured from pixels and the control
metrics built on it (does each signal steer its own facial region, and only that one)."""
from actalker.eval.control import aggregate, audio_envelope, clip_metrics, motion_eye_track, pearson
from actalker.eval.openness import Openness, measure_openness

__all__ = ["Openness", "aggregate", "audio_envelope", "clip_metrics", "measure_openness", "motion_eye_track", "pearson"]
