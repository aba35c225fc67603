"""actalker-eeg: multichannel EEG -> per-frame log band powers -> condition tokens."""
__version__ = "0.1.0"
