"""Procedural sound building blocks for the synthetic scenes: shaped and time-varying noise,
envelopes, Poisson and clustered event times, grains (Minnaert bubbles, crackles) scattered in one
bincount, glides. sound_recipes.py assembles them into one physically informed recipe per class.

All signals are float32 mono [samples] at the clip's sample rate. Noise is shaped in the frequency
domain (one rfft/irfft per layer, or per short frame for tv_noise): cheap and zero-phase, so event
timing is kept.
"""

from __future__ import annotations

import numpy as np


def shaped_noise(rng: np.random.Generator, n: int, sr: int, lo: float, hi: float, tilt: float = 0.0) -> np.ndarray:
    """White noise band-limited to [lo, hi] Hz with soft 2nd-order skirts and a spectral tilt
    (dB per octave above `lo`); unit RMS."""
    out = filter_fft(rng.standard_normal(n).astype(np.float32), sr, lo, hi, tilt)
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


def normalise(x: np.ndarray, rms_db: float) -> np.ndarray:
    """Scale to a target RMS (dBFS) and keep peaks inside [-1, 1]."""
    rms = np.sqrt(np.mean(x**2)) + 1e-9
    y = x * (10 ** (rms_db / 20) / rms)
    peak = np.max(np.abs(y))
    if peak > 0.99:
        y = y * (0.99 / peak)
    return y.astype(np.float32)


# ---- building blocks for the physically informed recipes (sound_recipes.py) ----------------------
# Sources: A. Farnell, "Designing Sound" (2010): rain, fire, running water, wind, thunder chapters;
# K. van den Doel, "Physically based models for liquid sounds" (ACM TAP 2005): bubble model below.

MINNAERT_HZ_MM = 3260.0  # Minnaert resonance of an air bubble in water: f ~ 3.26 m/s / radius -> Hz per mm


def minnaert_hz(radius_mm: np.ndarray) -> np.ndarray:
    return MINNAERT_HZ_MM / np.asarray(radius_mm, np.float64)


def band_gain(f: np.ndarray, lo: float, hi: float, tilt: float = 0.0) -> np.ndarray:
    """The magnitude response shaped_noise uses: 2nd-order skirts at lo/hi Hz, tilt dB/octave above lo."""
    f = np.asarray(f, np.float64) + 1e-3
    g = 1.0 / np.sqrt(1.0 + (lo / f) ** 4) / np.sqrt(1.0 + (f / hi) ** 4)
    if tilt:
        g = g * (np.maximum(f, lo) / max(lo, 1.0)) ** (tilt / 6.02)
    return g


def filter_fft(x: np.ndarray, sr: int, lo: float, hi: float, tilt: float = 0.0) -> np.ndarray:
    """x [n] through band_gain (one rfft/irfft; zero phase, so event timing is kept)."""
    f = np.fft.rfftfreq(len(x), 1.0 / sr)
    return np.fft.irfft(np.fft.rfft(x) * band_gain(f, lo, hi, tilt), len(x)).astype(np.float32)


def event_times(rng: np.random.Generator, rate: np.ndarray | float, n: int, sr: int) -> np.ndarray:
    """An inhomogeneous Poisson process: event times (s, sorted) with `rate` events per second,
    a constant or a per-sample curve [n]."""
    rate = np.broadcast_to(np.asarray(rate, np.float64), (n,))
    cum = np.cumsum(rate) / sr
    count = int(rng.poisson(cum[-1])) if cum[-1] > 0 else 0
    if count == 0:
        return np.zeros(0)
    return np.sort(np.searchsorted(cum, rng.uniform(0.0, cum[-1], count)) / sr)


def cluster_times(rng: np.random.Generator, parents: np.ndarray, mean_children: float, spread: float) -> np.ndarray:
    """Neyman-Scott clusters: each parent time keeps itself and gets Poisson(mean_children) followers
    at exponential delays (mean `spread` s): crackles come in bursts, not evenly."""
    kids = [p + np.cumsum(rng.exponential(spread, int(rng.poisson(mean_children)))) for p in parents]
    return np.sort(np.concatenate([np.asarray(parents, np.float64), *kids])) if len(parents) else np.zeros(0)


def scatter(n: int, sr: int, times: np.ndarray, grains: np.ndarray, amps: np.ndarray) -> np.ndarray:
    """Sum of grains [M, L] starting at `times` (s) with gains [M] into a signal [n] (one bincount)."""
    out = np.zeros(n, np.float32)
    if len(times) == 0:
        return out
    idx = np.round(np.asarray(times) * sr).astype(np.int64)[:, None] + np.arange(grains.shape[1])[None]  # [M, L]
    keep = (idx >= 0) & (idx < n)
    w = (grains * np.asarray(amps, np.float32)[:, None])[keep]
    return np.bincount(idx[keep], weights=w, minlength=n)[:n].astype(np.float32)


def bubble_grains(freqs: np.ndarray, sr: int, seconds: float, damping: float = 1.0, rise: float = 0.1) -> np.ndarray:
    """van den Doel's bubble: a damped sinusoid at the Minnaert frequency f0 whose pitch rises as the
    bubble nears the surface, f(t) = f0 (1 + rise * d * t), with damping d = 0.13 f0 + 0.0072 f0^1.5
    (1/s; `damping` scales it: < 1 rings longer, 'gloopier'). freqs [M] Hz -> grains [M, L]."""
    f0 = np.minimum(np.asarray(freqs, np.float32), 0.45 * sr)[:, None]           # [M, 1]
    L = max(8, int(seconds * sr))
    t = (np.arange(L, dtype=np.float32) / sr)[None]                               # [1, L]
    d = np.float32(damping) * (0.13 * f0 + 0.0072 * f0**1.5)
    phase = np.float32(2 * np.pi) * f0 * (t + np.float32(0.5 * rise) * d * t**2)
    # 4-sample attack and a raised-cosine fade over the last quarter: grains end without a click.
    edge = np.clip(np.arange(L, dtype=np.float32) / 4, 0, 1) * np.minimum(1, (np.cos(np.pi * np.clip((np.arange(L) - 0.75 * L) / (0.25 * L), 0, 1)) + 1) / 2).astype(np.float32)
    g = np.sin(phase) * np.exp(-d * t) * edge
    over = (f0 * (1 + np.float32(rise) * d * t)) > 0.48 * sr                       # rising past Nyquist: mute
    g[over] = 0.0
    return g


def crackle_grains(rng: np.random.Generator, m: int, sr: int, ring_hz: tuple[float, float] = (1500.0, 6500.0),
                   seconds: float = 0.006) -> np.ndarray:
    """Crackles [m, L]: a sub-millisecond burst of differentiated (bright) noise plus a short ring at
    a random frequency (the snap of a resin pocket, a splinter, a spark)."""
    L = max(4, int(seconds * sr))
    t = (np.arange(L, dtype=np.float32) / sr)[None]
    tau = rng.uniform(1e-4, 8e-4, (m, 1)).astype(np.float32)
    burst = np.diff(rng.standard_normal((m, L + 1), dtype=np.float32), axis=1) * np.exp(-t / tau)
    f = np.minimum(rng.uniform(*ring_hz, (m, 1)), 0.45 * sr).astype(np.float32)
    ring_tau = rng.uniform(5e-4, 3e-3, (m, 1)).astype(np.float32)
    ring = np.sin(np.float32(2 * np.pi) * f * t) * np.exp(-t / ring_tau) * rng.uniform(0.0, 1.5, (m, 1)).astype(np.float32)
    return burst + ring


def tv_noise(rng: np.random.Generator, n: int, sr: int, gain, nfft: int = 512) -> np.ndarray:
    """Noise with a time-varying spectrum: gain(t [F, 1] s, f [1, K] Hz) -> magnitude [F, K] per
    half-overlapped frame (sine window, overlap-add: constant power for a constant gain). Unit RMS."""
    H = nfft // 2
    F = -(-n // H) + 1
    t = (np.arange(F) * H / sr)[:, None]                                             # frame centres
    f = np.fft.rfftfreq(nfft, 1.0 / sr)[None]
    spec = (rng.standard_normal((F, f.shape[1])) + 1j * rng.standard_normal((F, f.shape[1]))) * gain(t, f)
    win = np.sin(np.pi * (np.arange(nfft) + 0.5) / nfft)
    frames = np.fft.irfft(spec, nfft, axis=1) * win                                 # frame k starts at (k-1)H
    out = (frames[1:, :H] + frames[:-1, H:]).ravel()[:n]
    return (out / (np.sqrt(np.mean(out**2)) + 1e-12)).astype(np.float32)


def slow_wander(rng: np.random.Generator, n: int, sr: int, hz: float) -> np.ndarray:
    """A smooth random curve [n] in about [-1, 1] varying at roughly `hz` (for gusts, swells, rumble)."""
    knots = max(4, int(n / sr * hz) + 3)
    v = rng.uniform(-1, 1, knots)
    return np.interp(np.arange(n) / max(n - 1, 1) * (knots - 3) + 1, np.arange(knots), v).astype(np.float32)


def sweep(n: int, sr: int, start: float, f0: np.ndarray | float, f1: np.ndarray | float, dur: float,
          vibrato: float = 0.0, vib_hz: float = 30.0) -> np.ndarray:
    """A sine glide f0 -> f1 (exponential) over `dur` s at `start` under a smooth (sin^2) envelope,
    with optional vibrato (fraction of pitch): a bird syllable."""
    out = np.zeros(n, np.float32)
    i0 = int(round(start * sr))
    m = min(n - i0, int(dur * sr))
    if m <= 1 or i0 < 0:
        return out
    t = np.arange(m) / sr
    freq = f0 * (f1 / f0) ** (t / dur) * (1 + vibrato * np.sin(2 * np.pi * vib_hz * t))
    freq = np.minimum(freq, 0.45 * sr)
    out[i0:i0 + m] = np.sin(2 * np.pi * np.cumsum(freq) / sr) * np.sin(np.pi * t / dur) ** 2
    return out
