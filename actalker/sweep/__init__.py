"""Ablation sweeps: `actalker sweep SWEEP.yaml` (see docs/ablations.md).

Modules: ``spec`` (the sweep file), ``runner`` (train then evaluate each variant and seed
in its own folder; skip finished runs, resume interrupted ones, record failures),
``results`` (CSV, Markdown table and plot from the run folders).
"""
