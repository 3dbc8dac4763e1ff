"""Physically informed sound recipes, one per synthetic class (after Farnell, "Designing Sound").

Each recipe builds the sound the way the thing makes it (drop impacts and Minnaert bubbles for
rain, crackle clusters over hiss and roar for fire, bubble swarms for running water, ...) and draws
every parameter (band edges, densities, sizes, layer mix, colour) from wide per-clip ranges, so that
no single spectrum stands for a class: what identifies it is the structure. The scene passes its
per-frame controls (flare, intensity, gust strength) and event onsets: each event's sound starts
exactly at its onset sample, so sound and picture stay in lock-step.

All recipes: (rng, spec, ...) -> float32 mono [spec.samples] at spec.sample_rate, normalised to a
per-class loudness range; deterministic in the rng's state.
"""

from __future__ import annotations

import numpy as np

from livevis.training.data.synthetic import sound as snd
from livevis.training.data.synthetic.canvas import ClipSpec


def _u(rng: np.random.Generator, lo: float, hi: float, size=None):
    return rng.uniform(lo, hi, size)


def _log_u(rng: np.random.Generator, lo: float, hi: float, size=None):
    return np.exp(rng.uniform(np.log(lo), np.log(hi), size))


def _colour(rng: np.random.Generator, x: np.ndarray, sr: int, tilt: float = 2.0) -> np.ndarray:
    """A per-clip 'recording colour': a random spectral tilt around 1 kHz (± `tilt` dB/octave)."""
    f = np.fft.rfftfreq(len(x), 1.0 / sr) + 1.0
    g = (np.clip(f, 60.0, None) / 1000.0) ** (_u(rng, -tilt, tilt) / 6.02)
    return np.fft.irfft(np.fft.rfft(x) * g, len(x)).astype(np.float32)


def _level_curve(per_frame: np.ndarray, spec: ClipSpec, smooth_s: float) -> np.ndarray:
    """Per-frame control [T] -> per-sample [n], changes starting at their frame's first sample."""
    env = snd.envelope_from_frames(per_frame.astype(np.float32), spec.samples, spec.sample_rate, spec.fps)
    return snd.smooth(env, spec.sample_rate, smooth_s)


def _nyq(sr: int, hz: float) -> float:
    return min(hz, 0.47 * sr)


# ---- rain --------------------------------------------------------------------------------------
def rain_layer(rng: np.random.Generator, n: int, sr: int, level: np.ndarray) -> np.ndarray:
    """Rain at a per-sample intensity `level` [n] (0..1): a hiss bed of countless far drops plus
    near drop impacts (a short tick and, for drops that trap air, a Minnaert ping)."""
    hiss = snd.shaped_noise(rng, n, sr, _u(rng, 500, 2500), _nyq(sr, _u(rng, 4500, 8000)), _u(rng, -4, 1))
    bed = snd.shaped_noise(rng, n, sr, 60, _u(rng, 300, 900)) * _u(rng, 0.05, 0.3)          # drops on soil, leaves
    rate = _u(rng, 80, 600) * level                                                       # near drops per second
    times = snd.event_times(rng, rate, n, sr)
    m = len(times)
    ticks = snd.crackle_grains(rng, m, sr, ring_hz=(_u(rng, 800, 2500), _nyq(sr, 7000)), seconds=0.02)
    radius = _log_u(rng, _u(rng, 0.3, 0.6), _u(rng, 1.5, 4.0), m)                         # mm
    pings = snd.bubble_grains(snd.minnaert_hz(radius), sr, 0.02, damping=_u(rng, 0.3, 1.0), rise=_u(rng, 0.05, 0.3))
    has_ping = (rng.random(m) < _u(rng, 0.2, 0.9))[:, None]
    grains = ticks * _u(rng, 0.2, 1.0) + np.where(has_ping, pings, 0.0).astype(np.float32)
    amps = rng.lognormal(0.0, 0.6, m) * _u(rng, 0.08, 0.25)
    drops = snd.scatter(n, sr, times, grains, amps)
    return level * (hiss + bed) + drops


def rain(rng: np.random.Generator, spec: ClipSpec, intensity: np.ndarray) -> np.ndarray:
    """intensity [T] per frame (surges lift it): drop rate and hiss follow it together."""
    level = _level_curve(intensity, spec, 0.004)
    audio = rain_layer(rng, spec.samples, spec.sample_rate, level)
    return snd.normalise(_colour(rng, audio, spec.sample_rate), _u(rng, -26, -18))


# ---- fire --------------------------------------------------------------------------------------
def fire(rng: np.random.Generator, spec: ClipSpec, flicker: np.ndarray, onsets: list[float]) -> np.ndarray:
    """Crackle clusters (sparse, bright) over a hiss that follows the flicker and a low roar; each
    flare onset is a loud crackle burst whose first snap lands on the onset sample."""
    n, sr = spec.samples, spec.sample_rate
    roar = snd.shaped_noise(rng, n, sr, _u(rng, 20, 50), _u(rng, 120, 450), _u(rng, -6, 0))
    roar *= 1.0 + _u(rng, 0.2, 0.6) * snd.slow_wander(rng, n, sr, _u(rng, 0.5, 3))            # flames lapping
    hiss = snd.shaped_noise(rng, n, sr, _u(rng, 1000, 3000), _nyq(sr, _u(rng, 5000, 8000)), _u(rng, -4, 2))
    hiss *= _level_curve(flicker, spec, 0.01)
    audio = _u(rng, 0.2, 0.7) * roar + _u(rng, 0.08, 0.3) * hiss
    ring = (_u(rng, 800, 2500), _nyq(sr, _u(rng, 3500, 7500)))
    # Background crackling: clustered, quieter than the flare bursts (events keep their edge).
    parents = snd.event_times(rng, _u(rng, 1.0, 5.0), n, sr)
    times = snd.cluster_times(rng, parents, _u(rng, 1, 5), _u(rng, 0.005, 0.03))
    amps = rng.lognormal(0.0, 0.7, len(times)) * _u(rng, 0.3, 0.9)
    audio += snd.scatter(n, sr, times, snd.crackle_grains(rng, len(times), sr, ring), amps)
    for t0 in onsets:
        k = int(rng.integers(4, 11))
        burst = np.concatenate([[t0], t0 + np.sort(rng.uniform(0.003, _u(rng, 0.04, 0.08), k - 1))])
        amps = _u(rng, 4.0, 7.0) * np.concatenate([[1.0], _u(rng, 0.3, 0.9, k - 1)])
        audio += snd.scatter(n, sr, burst, snd.crackle_grains(rng, k, sr, ring), amps)
        pop = snd.bubble_grains(_u(rng, 500, 1500, 1), sr, 0.02, damping=0.3, rise=0.0)      # a log snapping
        audio += snd.scatter(n, sr, np.array([t0]), pop, _u(rng, 0.5, 2.0, 1))
    return snd.normalise(_colour(rng, audio, sr), _u(rng, -24, -18))


# ---- running water, waterfall ------------------------------------------------------------------
def waterfall(rng: np.random.Generator, spec: ClipSpec) -> np.ndarray:
    """From a babbling stream to a thundering fall: dense swarms of Minnaert bubbles (rising chirps)
    over broadband noise whose low end grows with the size of the fall."""
    n, sr = spec.samples, spec.sample_rate
    size = rng.random()                                                                     # 0 stream .. 1 big fall
    swell = 1.0 + _u(rng, 0.05, 0.3) * snd.slow_wander(rng, n, sr, _u(rng, 0.3, 1.5))
    broad = snd.shaped_noise(rng, n, sr, _u(rng, 20, 80), _nyq(sr, _u(rng, 3000, 8000)), _u(rng, -5, -0.5))
    low = snd.shaped_noise(rng, n, sr, _u(rng, 15, 40), _u(rng, 120, 400))
    rate = _u(rng, 200, 1500) * (1.0 + 0.5 * snd.slow_wander(rng, n, sr, _u(rng, 0.5, 3)))
    times = snd.event_times(rng, rate, n, sr)
    radius = _log_u(rng, _u(rng, 0.5, 1.5), _u(rng, 4, 12), len(times))
    grains = snd.bubble_grains(snd.minnaert_hz(radius), sr, 0.025, damping=_u(rng, 0.3, 1.2), rise=_u(rng, 0.05, 0.4))
    amps = rng.lognormal(0.0, 0.5, len(times)) * (radius / 3.0) ** _u(rng, 0.3, 1.2)
    bubbles = snd.scatter(n, sr, times, grains, amps)
    bubbles /= np.sqrt(np.mean(bubbles**2)) + 1e-9
    audio = swell * (_u(rng, 0.3, 1.0) * broad + (0.2 + 1.5 * size) * _u(rng, 0.4, 1.0) * low) \
        + (1.4 - size) * _u(rng, 0.3, 1.0) * bubbles
    return snd.normalise(_colour(rng, audio, sr), _u(rng, -18, -13))


# ---- wind --------------------------------------------------------------------------------------
def wind(rng: np.random.Generator, spec: ClipSpec, strength: np.ndarray) -> np.ndarray:
    """Gusting band noise: a resonant band whose centre and level rise with the gust strength [T],
    leaf/grass rustle, and (often) whistles whose pitch follows the wind speed (Aeolian tones)."""
    n, sr = spec.samples, spec.sample_rate
    env = _level_curve(strength, spec, 0.01)
    env_f = np.interp(np.arange(0, n + 512, 256), np.arange(n), env)                       # per tv_noise frame
    c0, q = _u(rng, 200, 800), _u(rng, 0.6, 2.5)
    drift = 1.0 + 0.25 * snd.slow_wander(rng, len(env_f), max(1, sr // 256), 2.0)

    def band(t, f):
        k = np.minimum((t[:, 0] * sr / 256).astype(int), len(env_f) - 1)
        centre = (c0 * (0.6 + 0.9 * env_f[k]) * drift[k])[:, None]
        return 1.0 / np.sqrt(1.0 + (q * (f / centre - centre / np.maximum(f, 1.0))) ** 2)

    gusts = snd.tv_noise(rng, n, sr, band)
    rustle = snd.shaped_noise(rng, n, sr, _u(rng, 800, 2500), _nyq(sr, _u(rng, 5000, 8000)), _u(rng, -4, 0))
    audio = env * gusts + _u(rng, 0.05, 0.4) * env**2 * rustle
    if rng.random() < 0.75:
        for _ in range(int(rng.integers(1, 4))):
            fw = _u(rng, 400, 1800) * (0.7 + 0.6 * env) * (1 + 0.02 * snd.slow_wander(rng, n, sr, 6))
            tone = np.sin(2 * np.pi * np.cumsum(np.minimum(fw, 0.45 * sr)) / sr)
            gate = np.clip(env - _u(rng, 0.2, 0.5), 0, None) ** 2 * (1 + 0.4 * snd.slow_wander(rng, n, sr, 8))
            audio += _u(rng, 0.2, 1.2) * gate * tone
    if rng.random() < 0.5:                                                                # wind buffeting the mic
        audio += _u(rng, 0.1, 0.6) * env**2 * snd.shaped_noise(rng, n, sr, 10, _u(rng, 60, 150))
    return snd.normalise(_colour(rng, audio.astype(np.float32), sr), _u(rng, -22, -16))


# ---- thunderstorm ------------------------------------------------------------------------------
def thunderstorm(rng: np.random.Generator, spec: ClipSpec, onsets: list[float]) -> np.ndarray:
    """Each strike: a sharp broadband crack (a few N-wave-like bursts and a tearing crackle) at the
    onset sample, then a long low rumble with slow rolling modulation; rain falls (usually)."""
    n, sr = spec.samples, spec.sample_rate
    audio = _u(rng, 0.03, 0.12) * snd.shaped_noise(rng, n, sr, 20, _u(rng, 100, 250)) \
        * (1 + 0.5 * snd.slow_wander(rng, n, sr, 1.0))                                      # distant thunder
    if rng.random() < 0.8:
        audio += _u(rng, 0.05, 0.3) * rain_layer(rng, n, sr, np.full(n, _u(rng, 0.4, 1.0), np.float32))
    for t0 in onsets:
        crack = np.zeros(n, np.float32)
        for j, dt in enumerate(np.concatenate([[0.0], np.sort(rng.uniform(0.005, 0.05, int(rng.integers(0, 4))))])):
            noise = snd.shaped_noise(rng, n, sr, _u(rng, 100, 400), _nyq(sr, _u(rng, 5000, 8000)), _u(rng, -3, 0))
            crack += (1.0 if j == 0 else _u(rng, 0.3, 0.8)) * noise * snd.decay_env(n, sr, t0 + dt, 0.001, _u(rng, 0.03, 0.12))
        tear = snd.event_times(rng, _u(rng, 100, 400), int(_u(rng, 0.05, 0.25) * sr), sr) + t0
        crack += snd.scatter(n, sr, tear, snd.crackle_grains(rng, len(tear), sr), _u(rng, 0.3, 1.0, len(tear)))
        roll = 1.0 + 0.6 * snd.slow_wander(rng, n, sr, _u(rng, 2, 8))
        rumble = snd.shaped_noise(rng, n, sr, _u(rng, 15, 30), _u(rng, 120, 320)) * roll \
            * snd.decay_env(n, sr, t0, _u(rng, 0.02, 0.2), _u(rng, 0.8, 2.5))
        audio += _u(rng, 1.5, 2.5) * crack + _u(rng, 1.0, 2.0) * rumble
    return snd.normalise(_colour(rng, audio, sr), _u(rng, -20, -14))


# ---- volcano -----------------------------------------------------------------------------------
def _gloops(rng: np.random.Generator, n: int, sr: int, times: np.ndarray, radius_mm: tuple[float, float]) -> np.ndarray:
    """Big, slow lava/mud bubbles [M, L]: a low Minnaert-like bloop that rings long and rises far,
    and a soft plop of low-passed noise as it bursts."""
    m = len(times)
    f = snd.minnaert_hz(_log_u(rng, *radius_mm, m))
    bloop = snd.bubble_grains(f, sr, 0.12, damping=_u(rng, 0.1, 0.3), rise=_u(rng, 0.5, 2.0))
    t = np.arange(bloop.shape[1]) / sr
    plop = rng.standard_normal(bloop.shape) * np.exp(-t / 0.01)[None] * (t[None] > 0.04) * np.exp(-(t - 0.04) / 0.015)[None]
    plop = np.cumsum(plop, axis=1) * 0.05                                                   # integrated: low-passed
    return snd.scatter(n, sr, times, (bloop + plop).astype(np.float32), rng.lognormal(0, 0.4, m))


def volcano(rng: np.random.Generator, spec: ClipSpec, onsets: list[float]) -> np.ndarray:
    """A deep rumble with gloopy lava bubbling; each eruption onset is a boom (sub thump + blast)
    with a burst of bubbling and falling debris."""
    n, sr = spec.samples, spec.sample_rate
    rumble = snd.shaped_noise(rng, n, sr, _u(rng, 8, 20), _u(rng, 50, 140)) * (1 + 0.5 * snd.slow_wander(rng, n, sr, _u(rng, 0.5, 3)))
    audio = _u(rng, 0.3, 0.8) * rumble
    audio += _u(rng, 0.05, 0.3) * snd.shaped_noise(rng, n, sr, _u(rng, 100, 300), _u(rng, 600, 2000), -3)  # hiss of gas
    bubbling = _gloops(rng, n, sr, snd.event_times(rng, _u(rng, 2, 10), n, sr), (_u(rng, 6, 12), _u(rng, 18, 40)))
    audio += _u(rng, 0.1, 0.5) * bubbling / (np.sqrt(np.mean(bubbling**2)) + 1e-9)
    for t0 in onsets:
        boom = snd.shaped_noise(rng, n, sr, 15, _u(rng, 100, 200)) * snd.decay_env(n, sr, t0, 0.01, _u(rng, 0.5, 0.9))
        thump = snd.chirp(n, sr, t0, _u(rng, 50, 90), _u(rng, 25, 40), 0.5, _u(rng, 0.15, 0.35))
        blast = snd.shaped_noise(rng, n, sr, 100, _u(rng, 1200, 4000), -2) * snd.decay_env(n, sr, t0, 0.012, _u(rng, 0.2, 0.4))
        audio += _u(rng, 2.0, 3.5) * boom + _u(rng, 0.5, 1.5) * thump + _u(rng, 0.6, 1.2) * blast
        burst = t0 + np.sort(rng.uniform(0.02, 0.6, int(rng.integers(4, 12))))
        audio += _u(rng, 0.3, 0.8) * _gloops(rng, n, sr, burst, (5.0, 20.0))
        debris = t0 + np.sort(rng.uniform(0.2, 0.9, int(rng.integers(5, 20))))
        audio += snd.scatter(n, sr, debris, snd.crackle_grains(rng, len(debris), sr, (300, 1500), 0.01), _u(rng, 0.1, 0.4, len(debris)))
    return snd.normalise(_colour(rng, audio, sr), _u(rng, -18, -14))


# ---- splashes ----------------------------------------------------------------------------------
def splashing(rng: np.random.Generator, spec: ClipSpec, onsets: list[float]) -> np.ndarray:
    """Each splash: a broadband impact transient at the onset sample, a swarm of bubbles entrained by
    the crown, a deep 'plop' of the cavity closing, and droplets falling back; lapping water between."""
    n, sr = spec.samples, spec.sample_rate
    lap = 1.0 + 0.5 * snd.slow_wander(rng, n, sr, _u(rng, 0.5, 2.0))
    audio = _u(rng, 0.03, 0.1) * lap * snd.shaped_noise(rng, n, sr, _u(rng, 100, 300), _u(rng, 800, 2000), _u(rng, -4, 0))
    small = snd.event_times(rng, _u(rng, 1, 8), n, sr)
    audio += snd.scatter(n, sr, small, snd.bubble_grains(snd.minnaert_hz(_log_u(rng, 1, 5, len(small))), sr, 0.03), _u(rng, 0.02, 0.06, len(small)))
    for t0 in onsets:
        audio += _u(rng, 1.0, 2.0) * snd.shaped_noise(rng, n, sr, _u(rng, 200, 600), _nyq(sr, _u(rng, 4000, 8000)), _u(rng, -3, 0)) \
            * snd.decay_env(n, sr, t0, 0.003, _u(rng, 0.05, 0.12))
        m = int(rng.integers(8, 26))
        times = t0 + np.concatenate([[0.0], np.sort(rng.exponential(_u(rng, 0.02, 0.06), m - 1))])
        radius = _log_u(rng, 0.8, _u(rng, 3, 8), m)
        grains = snd.bubble_grains(snd.minnaert_hz(radius), sr, 0.04, damping=_u(rng, 0.3, 0.8), rise=_u(rng, 0.1, 0.5))
        audio += snd.scatter(n, sr, times, grains, _u(rng, 0.3, 0.9) * rng.lognormal(0, 0.4, m))
        plop = snd.bubble_grains(snd.minnaert_hz(_u(rng, 8, 20, 1)), sr, 0.1, damping=0.2, rise=_u(rng, 0.5, 1.5))
        audio += snd.scatter(n, sr, t0 + _u(rng, 0.01, 0.05, 1), plop, _u(rng, 0.3, 0.9, 1))
        drops = t0 + np.sort(rng.uniform(0.15, 0.5, int(rng.integers(3, 12))))
        audio += snd.scatter(n, sr, drops, snd.bubble_grains(snd.minnaert_hz(_log_u(rng, 0.5, 2.0, len(drops))), sr, 0.02),
                             _u(rng, 0.05, 0.15, len(drops)))
    return snd.normalise(_colour(rng, audio, sr), _u(rng, -22, -17))


# ---- underwater --------------------------------------------------------------------------------
def underwater(rng: np.random.Generator, spec: ClipSpec, onsets: list[float]) -> np.ndarray:
    """Heard from under the surface: muffled (low-passed) bubble streams over a dull low ambience;
    each release onset is a burst of bubbles whose first lands on the onset sample."""
    n, sr = spec.samples, spec.sample_rate
    audio = _u(rng, 0.1, 0.4) * snd.shaped_noise(rng, n, sr, _u(rng, 10, 30), _u(rng, 150, 500), _u(rng, -6, 0))
    stream = snd.event_times(rng, _u(rng, 3, 25), n, sr)
    grains = snd.bubble_grains(snd.minnaert_hz(_log_u(rng, 2, 10, len(stream))), sr, 0.06, damping=_u(rng, 0.2, 0.6), rise=_u(rng, 0.2, 0.8))
    audio += snd.scatter(n, sr, stream, grains, _u(rng, 0.1, 0.35) * rng.lognormal(0, 0.4, len(stream)))
    for t0 in onsets:
        m = int(rng.integers(8, 30))
        times = t0 + np.concatenate([[0.0], np.sort(rng.exponential(_u(rng, 0.03, 0.1), m - 1))])
        radius = _log_u(rng, _u(rng, 1.5, 3), _u(rng, 5, 12), m)
        grains = snd.bubble_grains(snd.minnaert_hz(radius), sr, 0.06, damping=_u(rng, 0.2, 0.6), rise=_u(rng, 0.2, 0.8))
        amps = _u(rng, 1.5, 2.5) * np.concatenate([[1.0], _u(rng, 0.4, 1.0, m - 1)])
        audio += snd.scatter(n, sr, times, grains, amps)
    muffled = snd.filter_fft(audio, sr, 5.0, _u(rng, 700, 2500), 0.0)
    return snd.normalise(_colour(rng, muffled, sr, 1.0), _u(rng, -24, -19))


# ---- calm --------------------------------------------------------------------------------------
def _birds(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    """Sparse bird phrases: a few FM-swept syllables each (songbird range 2-6 kHz)."""
    out = np.zeros(n, np.float32)
    for p in snd.event_times(rng, _u(rng, 0.3, 1.5), n, sr):
        f0, dur = _u(rng, 2000, 5500), _u(rng, 0.03, 0.15)
        ratio, gap = _u(rng, 0.6, 1.6), _u(rng, 0.02, 0.12)
        for j in range(int(rng.integers(1, 7))):
            out += _u(rng, 0.5, 1.0) * snd.sweep(n, sr, p + j * (dur + gap), f0, f0 * ratio, dur, _u(rng, 0, 0.05), _u(rng, 20, 60))
    return out


def _insects(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    """Cricket-like chirps: a 3.5-6 kHz carrier pulsed at 15-40 Hz in chirps repeated ~1-3 Hz."""
    t = np.arange(n) / sr
    carrier = np.sin(2 * np.pi * _nyq(sr, _u(rng, 3500, 6000)) * t)
    pulses = np.sin(np.pi * _u(rng, 15, 40) * t) ** 8
    chirps = (np.sin(np.pi * _u(rng, 1, 3) * t + rng.random() * np.pi) ** 2 > _u(rng, 0.3, 0.7))
    return (carrier * pulses * chirps).astype(np.float32)


def calm(rng: np.random.Generator, spec: ClipSpec) -> np.ndarray:
    """Quiet ambience: soft air noise, sometimes distant birds and/or insects at a low level."""
    n, sr = spec.samples, spec.sample_rate
    audio = snd.shaped_noise(rng, n, sr, _u(rng, 30, 150), _u(rng, 600, 3000), _u(rng, -8, -3))
    audio *= 1.0 + 0.2 * snd.slow_wander(rng, n, sr, 0.5)
    if rng.random() < 0.6:
        audio += _u(rng, 0.1, 0.5) * _birds(rng, n, sr)
    if rng.random() < 0.4:
        audio += _u(rng, 0.03, 0.15) * _insects(rng, n, sr)
    if rng.random() < 0.3:                                                                 # a faint far hum
        audio += _u(rng, 0.05, 0.3) * np.sin(2 * np.pi * _u(rng, 60, 220) * np.arange(n) / sr).astype(np.float32)
    return snd.normalise(_colour(rng, audio, sr), _u(rng, -42, -34))
