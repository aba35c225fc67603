"""actalker-headpose: yaw/pitch/roll and translation per frame -> condition tokens."""
__version__ = "0.1.0"
