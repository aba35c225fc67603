"""MFCCs exactly as ``python_speech_features.mfcc`` computes them with its defaults (the
audio input SyncNet was trained on, joonson/syncnet_python): 25 ms frames every 10 ms,
pre-emphasis 0.97, a 512-point FFT power spectrum, 26 mel filters, log, orthonormal DCT-II,
13 coefficients, cepstral lifter 22, and coefficient 0 replaced by the log frame energy."""
from __future__ import annotations

import math

import numpy as np


def _hz2mel(hz):
    return 2595.0 * np.log10(1.0 + np.asarray(hz, np.float64) / 700.0)


def _mel2hz(mel):
    return 700.0 * (10.0 ** (np.asarray(mel, np.float64) / 2595.0) - 1.0)


def mel_filterbank(nfilt: int = 26, nfft: int = 512, samplerate: int = 16000) -> np.ndarray:
    mels = np.linspace(_hz2mel(0.0), _hz2mel(samplerate / 2), nfilt + 2)
    bins = np.floor((nfft + 1) * _mel2hz(mels) / samplerate).astype(int)
    fb = np.zeros((nfilt, nfft // 2 + 1))
    for j in range(nfilt):
        for i in range(bins[j], bins[j + 1]):
            fb[j, i] = (i - bins[j]) / (bins[j + 1] - bins[j])
        for i in range(bins[j + 1], bins[j + 2]):
            fb[j, i] = (bins[j + 2] - i) / (bins[j + 2] - bins[j + 1])
    return fb


def _dct_ortho(n: int) -> np.ndarray:
    k, i = np.arange(n)[:, None], np.arange(n)[None, :]
    m = np.cos(np.pi * k * (2 * i + 1) / (2 * n)) * math.sqrt(2.0 / n)
    m[0] /= math.sqrt(2.0)
    return m  # (out k, in i)


def mfcc(signal: np.ndarray, samplerate: int = 16000, numcep: int = 13, nfilt: int = 26, nfft: int = 512,
         winlen: float = 0.025, winstep: float = 0.01, preemph: float = 0.97, ceplifter: int = 22) -> np.ndarray:
    """(T, numcep) MFCCs at 1 / winstep frames per second."""
    sig = np.asarray(signal, np.float64).ravel()
    sig = np.append(sig[:1], sig[1:] - preemph * sig[:-1])
    flen, step = int(math.floor(winlen * samplerate + 0.5)), int(math.floor(winstep * samplerate + 0.5))
    n = 1 if len(sig) <= flen else 1 + int(math.ceil((len(sig) - flen) / step))
    sig = np.concatenate([sig, np.zeros((n - 1) * step + flen - len(sig))])
    idx = np.arange(flen)[None, :] + step * np.arange(n)[:, None]
    frames = sig[idx]
    pspec = np.abs(np.fft.rfft(frames, nfft)) ** 2 / nfft
    eps = np.finfo(float).eps
    energy = pspec.sum(1)
    energy[energy == 0] = eps
    feat = pspec @ mel_filterbank(nfilt, nfft, samplerate).T
    feat[feat == 0] = eps
    feat = np.log(feat) @ _dct_ortho(nfilt).T
    feat = feat[:, :numcep]
    lift = 1 + (ceplifter / 2.0) * np.sin(np.pi * np.arange(numcep) / ceplifter)
    feat = feat * lift
    feat[:, 0] = np.log(energy)
    return feat
