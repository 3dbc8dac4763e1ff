"""Open-air weather scenes: thunderstorm, rain, wind and the calm baseline."""

from __future__ import annotations

import numpy as np

from livevis.training.data.synthetic import sound_recipes as recipes
from livevis.training.data.synthetic.canvas import (
    ClipSpec, event_pulse, fbm, jitter_colour, scroll, vertical_gradient,
)
from livevis.training.data.synthetic.events import Scene, caption, pick_onsets


def _ridge(rng: np.random.Generator, x_row: np.ndarray, base: float, amp: float) -> np.ndarray:
    """A hill line y(x) [S] from a few random sinusoids."""
    y = np.full_like(x_row, base)
    for f in (1.0, 2.3, 5.1):
        y += amp / f * np.sin(2 * np.pi * (f * x_row + rng.random()))
    return y


def thunderstorm(rng: np.random.Generator, spec: ClipSpec) -> Scene:
    """Dark hills under churning clouds; each lightning flash (bolt + sky flash) lands on a thunder crack."""
    s, fps = spec.size, spec.fps
    y, x = spec.grid()
    t = spec.frame_times
    onsets = pick_onsets(rng, spec, (1, 3), min_gap=0.5)
    sky = vertical_gradient(y, jitter_colour(rng, [0.10, 0.11, 0.18]), jitter_colour(rng, [0.25, 0.26, 0.33]))
    clouds = scroll(fbm(rng, s, 2 * s, 4), np.zeros_like(t), rng.uniform(6, 14) * s / 128 * t, s)  # [T, S, S]
    frames = sky[None] * (0.7 + 0.6 * clouds[..., None])                                  # [T, S, S, 3]
    flash = event_pulse(t, onsets, decay_frames=1.0, fps=fps)                            # [T]
    frames += flash[:, None, None, None] * (0.35 + 0.45 * (1 - y))[None, ..., None] * np.array([0.85, 0.88, 1.0], np.float32)
    ridge = _ridge(rng, x[0], rng.uniform(0.6, 0.72), 0.08)                               # [S]
    hills = y > ridge[None, :]                                                            # [S, S]
    hill_col = jitter_colour(rng, [0.04, 0.05, 0.07])[None, :] + 0.1 * flash[:, None]     # [T, 3]
    frames = np.where(hills[None, ..., None], hill_col[:, None, None, :], frames)
    for t0 in onsets:
        k0 = round(t0 * fps)
        x0 = rng.uniform(0.2, 0.8)
        path = x0 + np.cumsum(rng.normal(0.0, 0.012, s)).astype(np.float32)             # [S] bolt x per row
        bottom = ridge[int(np.clip(x0 * s, 0, s - 1))]
        bolt = (np.abs(x - path[:, None]) < 1.3 / s) & (y < bottom)                      # [S, S]
        for k, a in ((k0, 1.0), (k0 + 1, 0.5)):
            if k < spec.frames:
                frames[k][bolt] = frames[k][bolt] * (1 - a) + a
    audio = recipes.thunderstorm(rng, spec, onsets)
    return Scene(frames, audio, onsets, caption(rng, [
        "a thunderstorm with lightning over dark hills",
        "lightning flashes above a dark ridge with rolling thunder",
        "a stormy night sky lit by lightning and thunder",
    ]))


def rain(rng: np.random.Generator, spec: ClipSpec) -> Scene:
    """Grey sky and falling streaks; downpour surges raise streak density and the hiss together."""
    s, fps, tt = spec.size, spec.fps, spec.frames
    y, x = spec.grid()
    t = spec.frame_times
    onsets = pick_onsets(rng, spec, (1, 2), min_gap=0.7)
    base = rng.uniform(0.2, 0.3)
    intensity = np.clip(base + rng.uniform(0.55, 0.7) * event_pulse(t, onsets, 0.35 * fps, fps), 0, 1)  # [T]
    horizon = rng.uniform(0.7, 0.8)
    sky = vertical_gradient(y, jitter_colour(rng, [0.42, 0.45, 0.50], 0.03), jitter_colour(rng, [0.58, 0.60, 0.63], 0.03))
    ground = jitter_colour(rng, [0.20, 0.22, 0.25]) * (0.85 + 0.3 * fbm(rng, s, s, 8))[..., None]
    still = np.where((y > horizon)[..., None], ground, sky)                          # [S, S, 3]
    frames = np.repeat(still[None], tt, axis=0).reshape(tt, s * s, 3)                # [T, S*S, 3]
    m = int(400 * (s / 128) ** 2)
    y0, x0 = rng.random(m), rng.random(m)
    speed = rng.uniform(1.6, 2.2, m)                                                  # frame heights per second
    slant = rng.uniform(0.1, 0.25)
    length = max(3, s // 20)
    gate = rng.random(m)                                                               # drop i shows when gate < intensity
    yy = (y0[None, :] + speed[None, :] * t[:, None]) % 1.0                             # [T, M]
    seg = np.arange(length) / s                                                        # [L]
    py = np.clip(((yy[..., None] - seg) * s).astype(np.int64), 0, s - 1)               # [T, M, L]
    px = (((x0[None, :, None] + slant * (yy[..., None] - seg)) % 1.0) * s).astype(np.int64)
    visible = (gate[None, :] < intensity[:, None])[..., None] & np.ones(length, bool)  # [T, M, L]
    tk = np.broadcast_to(np.arange(tt)[:, None, None], py.shape)
    flat = (py * s + px)[visible]
    np.add.at(frames, (tk[visible], flat), 0.28)
    frames = frames.reshape(tt, s, s, 3)
    # A surge arrives as a pale sheet of heavy rain that fades within a few frames.
    sheet = event_pulse(t, onsets, decay_frames=1.5, fps=fps)                          # [T]
    frames += (0.8 - frames) * (0.35 * sheet)[:, None, None, None]
    audio = recipes.rain(rng, spec, intensity)
    return Scene(frames, audio, onsets, caption(rng, [
        "heavy rain falling from a grey sky",
        "a rain shower with streaks of falling rain",
        "rain pouring down over wet ground",
    ]))


def wind(rng: np.random.Generator, spec: ClipSpec) -> Scene:
    """Grass and clouds under a blue sky; gusts bend the grass and speed the clouds as the wind howls."""
    s, fps, tt = spec.size, spec.fps, spec.frames
    y, x = spec.grid()
    t = spec.frame_times
    onsets = pick_onsets(rng, spec, (1, 3), min_gap=0.5)
    strength = rng.uniform(0.15, 0.3) + rng.uniform(0.6, 0.9) * event_pulse(t, onsets, 0.45 * fps, fps)  # [T]
    horizon = rng.uniform(0.45, 0.6)
    sky = vertical_gradient(y, jitter_colour(rng, [0.30, 0.55, 0.90]), jitter_colour(rng, [0.70, 0.85, 0.95]))
    cloud_field = np.clip((fbm(rng, s, 4 * s, 3) - 0.45) * 3.0, 0, 1)                 # [S, 4S]
    drift = np.cumsum(strength) * rng.uniform(4, 7) * s / 128                           # [T] pixels
    cloud = scroll(cloud_field, np.zeros(tt), drift, s)                                 # [T, S, S]
    frames = sky[None] + (1.0 - sky[None]) * (0.85 * cloud[..., None])
    # Grass: a 1-D blade texture sampled at x shifted by the wind, more at the blade tips.
    blades = np.clip(fbm(rng, 1, 8 * s, 6 * s // 8, octaves=2)[0] * 1.6 - 0.3, 0, 1)    # [8S]
    depth = np.clip((y - horizon) / (1 - horizon), 0, 1)                                # [S, S]
    wave = 1.0 + 0.5 * np.sin(2 * np.pi * (3 * y[None] - 1.5 * t[:, None, None]))     # [T, S, S]
    shift = strength[:, None, None] * (0.04 + 0.08 * depth[None]) * s * 2 * wave       # pixels on the 8S texture
    idx = (np.round(x[None] * 8 * s * 0.5 + shift).astype(np.int64)) % (8 * s)
    g = blades[idx]                                                                     # [T, S, S]
    dark, light = jitter_colour(rng, [0.12, 0.35, 0.08]), jitter_colour(rng, [0.45, 0.72, 0.25])
    grass = dark + (light - dark) * g[..., None] * (0.6 + 0.4 * depth[None, ..., None])
    frames = np.where((y > horizon)[None, ..., None], grass, frames)
    audio = recipes.wind(rng, spec, strength)
    return Scene(frames, audio, onsets, caption(rng, [
        "wind gusts sweeping through tall grass under moving clouds",
        "a windy meadow with grass bending in the gusts",
        "strong wind blowing clouds over a grassy field",
    ]))


def calm(rng: np.random.Generator, spec: ClipSpec) -> Scene:
    """A still pastel dusk over a lake: almost no motion, quiet soft ambience, no events."""
    s = spec.size
    y, x = spec.grid()
    t = spec.frame_times
    horizon = rng.uniform(0.55, 0.65)
    sky = vertical_gradient(y / horizon, jitter_colour(rng, [0.70, 0.80, 0.95]), jitter_colour(rng, [0.98, 0.80, 0.72]))
    sun_x, sun_y = rng.uniform(0.3, 0.7), horizon - rng.uniform(0.08, 0.2)
    sx = sun_x + 0.01 * t                                                                # [T] very slow drift
    d2 = (x[None] - sx[:, None, None]) ** 2 + (y[None] - sun_y) ** 2                     # [T, S, S]
    glow = np.exp(-d2 / 0.01)[..., None] * np.array([0.25, 0.2, 0.1], np.float32)
    frames = sky[None] + glow
    ridge = _ridge(rng, x[0], horizon - 0.05, 0.03)
    hill = (y > ridge[None, :]) & (y <= horizon)
    frames = np.where(hill[None, ..., None], jitter_colour(rng, [0.55, 0.58, 0.70]), frames)
    mirror = np.clip(2 * horizon - y, 0, 1)                                              # reflected row
    rows = np.clip((mirror * s).astype(np.int64), 0, s - 1)
    reflect = frames[:, rows[:, 0], :, :] * 0.8                                          # [T, S, S, 3]
    frames = np.where((y > horizon)[None, ..., None], reflect, frames)
    audio = recipes.calm(rng, spec)
    return Scene(frames, audio, [], caption(rng, [
        "a calm still lake at dusk under a pastel sky",
        "a quiet peaceful evening over still water",
        "a calm scene with soft light and gentle silence",
    ]))
