"""Procedural sound for the synthetic scenes: spectrally shaped noise, envelopes, impulses, chirps.

All signals are float32 mono [samples] at the clip's sample rate. Noise is shaped in the frequency
domain (one rfft/irfft per layer), which is both cheap and lets each class own a distinct spectrum.
"""

from __future__ import annotations

import numpy as np


def shaped_noise(rng: np.random.Generator, n: int, sr: int, lo: float, hi: float, tilt: float = 0.0) -> np.ndarray:
    """White noise band-limited to [lo, hi] Hz with soft 2nd-order skirts and a spectral tilt
    (dB per octave above `lo`); unit RMS."""
    spec = np.fft.rfft(rng.standard_normal(n).astype(np.float32))
    f = np.fft.rfftfreq(n, 1.0 / sr).astype(np.float32) + 1e-3
    gain = 1.0 / np.sqrt(1.0 + (lo / f) ** 4) / np.sqrt(1.0 + (f / hi) ** 4)
    if tilt:
        gain = gain * (np.maximum(f, lo) / max(lo, 1.0)) ** (tilt / 6.02)
    out = np.fft.irfft(spec * gain, n).astype(np.float32)
    return out / (np.sqrt(np.mean(out**2)) + 1e-8)


def envelope_from_frames(per_frame: np.ndarray, n: int, sr: int, fps: int) -> np.ndarray:
    """Piecewise-constant upsampling of a per-frame control [T] to per-sample [n], so that a level
    change at frame k starts exactly at sample k * sr / fps (keeps sound and picture in lock-step)."""
    idx = np.minimum((np.arange(n) * fps) // sr, len(per_frame) - 1)
    return per_frame[idx].astype(np.float32)


def smooth(x: np.ndarray, sr: int, seconds: float) -> np.ndarray:
    """One-pole-like smoothing by a short moving average (removes clicks from stepped envelopes)."""
    k = max(1, int(sr * seconds))
    c = np.cumsum(np.concatenate([np.zeros(k, np.float32), x]))
    return ((c[k:] - c[:-k]) / k).astype(np.float32)


def decay_env(n: int, sr: int, start: float, attack: float, decay: float) -> np.ndarray:
    """Envelope [n]: 0 before `start`, linear rise over `attack` s, then exp decay with time constant `decay`."""
    t = np.arange(n, dtype=np.float32) / sr - start
    rise = np.clip(t / max(attack, 1e-4), 0.0, 1.0)
    fall = np.exp(-np.maximum(t - attack, 0.0) / decay)
    return np.where(t >= 0, rise * fall, 0.0).astype(np.float32)


def chirp(n: int, sr: int, start: float, f0: float, f1: float, dur: float, decay: float) -> np.ndarray:
    """A gliding sinusoid from f0 to f1 Hz (exponential glide) over `dur` s, starting at `start`."""
    out = np.zeros(n, np.float32)
    i0 = int(round(start * sr))
    m = min(n - i0, int(dur * sr))
    if m <= 0:
        return out
    t = np.arange(m, dtype=np.float32) / sr
    freq = f0 * (f1 / f0) ** (t / dur)
    phase = 2 * np.pi * np.cumsum(freq) / sr
    attack = np.clip(t / 0.002, 0.0, 1.0)
    out[i0 : i0 + m] = np.sin(phase) * attack * np.exp(-t / decay)
    return out


def clicks(rng: np.random.Generator, n: int, sr: int, start: float, count: int, spread: float, decay: float = 0.002) -> np.ndarray:
    """A burst of `count` sharp broadband clicks; the first lands exactly at `start`."""
    out = np.zeros(n, np.float32)
    times = np.concatenate([[start], start + np.sort(rng.uniform(0.0, spread, count - 1))])
    m = int(decay * sr * 8)
    shape = np.exp(-np.arange(m, dtype=np.float32) / (decay * sr)) * rng.standard_normal(m).astype(np.float32)
    for k, t in enumerate(times):
        i0 = int(round(t * sr))
        seg = min(m, n - i0)
        if seg > 0:
            out[i0 : i0 + seg] += shape[:seg] * (1.0 if k == 0 else rng.uniform(0.3, 0.8))
    return out


def normalise(x: np.ndarray, rms_db: float) -> np.ndarray:
    """Scale to a target RMS (dBFS) and keep peaks inside [-1, 1]."""
    rms = np.sqrt(np.mean(x**2)) + 1e-9
    y = x * (10 ** (rms_db / 20) / rms)
    peak = np.max(np.abs(y))
    if peak > 0.99:
        y = y * (0.99 / peak)
    return y.astype(np.float32)
