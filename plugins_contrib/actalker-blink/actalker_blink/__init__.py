"""actalker-blink: the tutorial plugin (docs/plugins.md builds it step by step)."""
__version__ = "0.1.0"
