"""actalker-text: per-time-span text prompts steering the upper face."""
__version__ = "0.1.0"
