"""Fire scenes: a crackling campfire and an erupting volcano."""

from __future__ import annotations

import numpy as np

from livevis.training.data.synthetic import sound_recipes as recipes
from livevis.training.data.synthetic.canvas import (
    ClipSpec, event_pulse, fbm, jitter_colour, scroll, stamp_discs, vertical_gradient,
)
from livevis.training.data.synthetic.events import Scene, caption, pick_onsets

# Black-body-ish ramp: intensity 0..1 -> dark red -> orange -> yellow-white.
_FIRE_STOPS = np.array([0.0, 0.3, 0.6, 0.85, 1.0], np.float32)
_FIRE_RGB = np.array([[0.0, 0.0, 0.0], [0.6, 0.06, 0.02], [1.0, 0.42, 0.05], [1.0, 0.85, 0.4], [1.0, 1.0, 0.85]], np.float32)


def fire_colour(intensity: np.ndarray) -> np.ndarray:
    """[...] in [0, 1] -> [..., 3]."""
    i = np.clip(intensity, 0, 1)
    return np.stack([np.interp(i, _FIRE_STOPS, _FIRE_RGB[:, c]) for c in range(3)], -1).astype(np.float32)


def fire_crackling(rng: np.random.Generator, spec: ClipSpec) -> Scene:
    """A campfire at night; every crackle is a flare of the flames with sparks and a burst of clicks."""
    s, fps, tt = spec.size, spec.fps, spec.frames
    y, x = spec.grid()
    t = spec.frame_times
    onsets = pick_onsets(rng, spec, (3, 5), min_gap=0.3)
    flare = event_pulse(t, onsets, decay_frames=1.5, fps=fps)                          # [T]
    flicker = 1.0 + 0.08 * np.sin(2 * np.pi * rng.uniform(5, 9) * t + rng.random() * 6.28)
    night = vertical_gradient(y, jitter_colour(rng, [0.03, 0.02, 0.05]), jitter_colour(rng, [0.08, 0.04, 0.03]))
    base_y, cx, wx = rng.uniform(0.82, 0.9), rng.uniform(0.4, 0.6), rng.uniform(0.1, 0.16)
    height = rng.uniform(0.35, 0.5) * flicker * (1 + 0.3 * flare)                        # [T]
    turb = scroll(fbm(rng, 2 * s, s, 5, aspect=2.0), -rng.uniform(1.0, 1.6) * s * t, np.zeros(tt), s)  # [T, S, S] rising
    rel = np.clip((base_y - y)[None] / height[:, None, None], 0, None)                  # [T, S, S] 0 at base, 1 at tip
    across = np.exp(-((x - cx) / (wx * (1 - 0.6 * np.clip(rel, 0, 1)))) ** 2)           # narrows to the tip
    body = np.clip(1 - rel, 0, 1) * (y <= base_y)[None]
    heat = body * across * (0.55 + 0.7 * turb) * (1 + 0.5 * flare[:, None, None])
    frames = night[None] + fire_colour(heat) * np.clip(heat * 2, 0, 1)[..., None]
    glow = (0.12 + 0.15 * flare)[:, None, None, None] * np.exp(-((x - cx) ** 2 + (y - base_y) ** 2) / 0.05)[None, ..., None]
    frames += glow * np.array([1.0, 0.45, 0.1], np.float32)
    ground = (y > base_y)[None, ..., None]
    frames = np.where(ground, frames * 0.5 + jitter_colour(rng, [0.08, 0.05, 0.03]), frames)
    for t0 in onsets:
        k0 = round(t0 * fps)
        count = int(rng.integers(6, 11))
        age = np.maximum(t - k0 / fps, 0)[:, None]                                       # [T, 1]
        cy = base_y - 0.2 - rng.uniform(0.3, 0.6, count)[None] * age
        cx_s = cx + rng.normal(0, 0.06, count)[None] + rng.normal(0, 0.15, count)[None] * age
        alive = ((np.arange(tt) >= k0)[:, None] & (age < 0.5)).astype(np.float32) * np.ones((1, count), np.float32)
        stamp_discs(frames, np.stack([cy, cx_s], -1), np.full(count, 1.2 * s / 128), [1.0, 0.9, 0.5], alive)
    audio = recipes.fire(rng, spec, flicker * (1 + 0.3 * flare), onsets)
    return Scene(frames, audio, onsets, caption(rng, [
        "a crackling campfire burning at night",
        "fire crackling with flames and flying sparks",
        "a wood fire flickering and crackling in the dark",
    ]))


def volcano(rng: np.random.Generator, spec: ClipSpec) -> Scene:
    """A black cone under a red sky; each eruption (glow burst, lava bombs) lands on a deep boom."""
    s, fps, tt = spec.size, spec.fps, spec.frames
    y, x = spec.grid()
    t = spec.frame_times
    onsets = pick_onsets(rng, spec, (1, 2), min_gap=0.7)
    burst = event_pulse(t, onsets, decay_frames=0.35 * fps, fps=fps)                    # [T]
    sky = vertical_gradient(y, jitter_colour(rng, [0.12, 0.03, 0.06]), jitter_colour(rng, [0.42, 0.13, 0.06]))
    smoke = scroll(fbm(rng, s, 2 * s, 4), np.zeros(tt), rng.uniform(4, 9) * s / 128 * t, s)  # [T, S, S]
    frames = sky[None] * (0.6 + 0.6 * smoke[..., None])
    cx, apex, slope, crater = rng.uniform(0.4, 0.6), rng.uniform(0.35, 0.45), rng.uniform(0.8, 1.3), rng.uniform(0.04, 0.07)
    cone = y > apex + np.maximum(np.abs(x - cx) - crater, 0) * slope                    # [S, S]
    rock = jitter_colour(rng, [0.07, 0.05, 0.05]) * (0.7 + 0.6 * fbm(rng, s, s, 8))[..., None]
    lava = (np.abs(x - cx - 0.03 * np.sin(y * 25)) < 0.012) & cone                      # a lava channel down the flank
    d2 = (x - cx) ** 2 + (y - apex) ** 2
    glow = np.exp(-d2 / (0.004 + 0.03 * burst[:, None, None]))                           # [T, S, S] crater glow
    heat = 0.25 + 1.1 * burst[:, None, None]
    frames = frames + (glow * heat)[..., None] * np.array([1.0, 0.45, 0.1], np.float32)
    frames += (0.25 * burst)[:, None, None, None] * np.array([0.6, 0.15, 0.05], np.float32) * (1 - y)[None, ..., None]
    rock_t = rock[None] + (0.4 * glow * burst[:, None, None])[..., None] * np.array([1.0, 0.3, 0.05], np.float32)
    rock_t = np.where(lava[None, ..., None], np.array([0.9, 0.3, 0.05], np.float32) * (0.7 + 0.3 * heat[..., None].clip(0, 1)), rock_t)
    frames = np.where(cone[None, ..., None], rock_t, frames)
    for t0 in onsets:
        k0 = round(t0 * fps)
        count = int(rng.integers(10, 17))
        vx, vy = rng.normal(0, 0.3, count), -rng.uniform(0.6, 1.1, count)
        age = np.maximum(t - k0 / fps, 0)[:, None]
        cy, cx_b = apex + vy[None] * age + 1.2 * age**2, cx + vx[None] * age
        alive = ((np.arange(tt) >= k0)[:, None] & (cy < 0.98)).astype(np.float32) * np.ones((1, count), np.float32)
        stamp_discs(frames, np.stack([cy, cx_b], -1), rng.uniform(1.2, 2.2, count) * s / 128, [1.0, 0.6, 0.15], alive)
    audio = recipes.volcano(rng, spec, onsets)
    return Scene(frames, audio, onsets, caption(rng, [
        "a volcano erupting with glowing lava under a red sky",
        "a volcanic eruption throwing lava into the night",
        "an erupting volcano rumbling and glowing red",
    ]))
