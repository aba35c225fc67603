"""actalker: multi-signal talking-head video diffusion with parallel-control Mamba."""
__version__ = "0.1.0"
