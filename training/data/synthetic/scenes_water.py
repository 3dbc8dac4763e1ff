"""Water scenes: waterfall, underwater bubbling and splashing water."""

from __future__ import annotations

import numpy as np

from livevis.training.data.synthetic import sound_recipes as recipes
from livevis.training.data.synthetic.canvas import (
    ClipSpec, fbm, jitter_colour, scroll, stamp_discs, vertical_gradient,
)
from livevis.training.data.synthetic.events import Scene, caption, pick_onsets


def waterfall(rng: np.random.Generator, spec: ClipSpec) -> Scene:
    """A white column of falling water between mossy cliffs: constant downward texture, broadband roar."""
    s, tt = spec.size, spec.frames
    y, x = spec.grid()
    t = spec.frame_times
    rock = fbm(rng, s, s, 6)                                                            # [S, S]
    cliff = jitter_colour(rng, [0.22, 0.20, 0.16]) + (jitter_colour(rng, [0.30, 0.40, 0.20]) - 0.2) * rock[..., None]
    cx, half = rng.uniform(0.38, 0.62), rng.uniform(0.12, 0.2)
    band = np.clip((half - np.abs(x - cx)) * s / 3.0, 0, 1)                             # [S, S] soft-edged column
    streaks = fbm(rng, 2 * s, s, 6, octaves=3, aspect=8.0)                               # [2S, S] vertical streaks
    fall = scroll(streaks, rng.uniform(1.5, 2.5) * s * t, np.zeros(tt), s)              # [T, S, S] moving down
    blue, white = jitter_colour(rng, [0.50, 0.66, 0.78]), jitter_colour(rng, [0.93, 0.96, 1.0], 0.03)
    water = blue + (white - blue) * np.clip(fall * 1.5 - 0.2, 0, 1)[..., None]          # [T, S, S, 3]
    frames = cliff[None] * (1 - band[None, ..., None]) + water * band[None, ..., None]
    mist_field = fbm(rng, s, 2 * s, 4)
    mist = scroll(mist_field, np.zeros(tt), rng.uniform(10, 20) * s / 128 * t, s)        # [T, S, S]
    haze = np.clip((y - 0.72) / 0.28, 0, 1)[None] * (0.5 + 0.5 * mist)                   # [T, S, S]
    frames = frames + (0.92 - frames) * haze[..., None]
    audio = recipes.waterfall(rng, spec)
    return Scene(frames, audio, [], caption(rng, [
        "a waterfall pouring down between mossy cliffs",
        "white water rushing over a rocky waterfall",
        "a roaring waterfall with mist at its base",
    ]))


def underwater_bubbling(rng: np.random.Generator, spec: ClipSpec) -> Scene:
    """Blue-green depths with moving caustics; each burst of rising bubbles comes with bubble chirps."""
    s, fps, tt = spec.size, spec.fps, spec.frames
    y, x = spec.grid()
    t = spec.frame_times
    onsets = pick_onsets(rng, spec, (2, 3), min_gap=0.45)
    water = vertical_gradient(y, jitter_colour(rng, [0.05, 0.45, 0.55]), jitter_colour(rng, [0.0, 0.08, 0.22]))
    a1, a2 = rng.uniform(10, 16, 2), rng.uniform(10, 16, 2)
    w = rng.uniform(0.4, 0.8)                                                           # slow: bubbles carry the motion
    ph = t[:, None, None] * w
    caustic = (np.sin(a1[0] * x + a1[1] * y * 0.5 + ph) + np.sin(a2[0] * (x + y) * 0.7 - 1.3 * ph)) ** 2  # [T, S, S]
    frames = water[None] + (0.035 * caustic * (1 - y)[None])[..., None]
    sand = y > rng.uniform(0.9, 0.95)
    frames = np.where(sand[None, ..., None], jitter_colour(rng, [0.30, 0.32, 0.24]), frames)
    per, centres, radii, alpha = [], [], [], []
    for t0 in onsets:
        k0 = round(t0 * fps)
        count = int(rng.integers(10, 16))
        bx = rng.uniform(0.2, 0.8) + rng.normal(0, 0.04, count)
        by = rng.uniform(0.8, 0.92) + rng.normal(0, 0.03, count)
        rise = rng.uniform(0.2, 0.4, count)                                              # frame heights per second
        age = np.maximum(t - k0 / fps, 0.0)[:, None]                                     # [T, 1]
        cy = by[None] - rise[None] * age
        cx = bx[None] + 0.015 * np.sin(age * 12 + rng.random(count)[None] * 6.28)
        centres.append(np.stack([cy, cx], -1))                                           # [T, M, 2]
        radii.append(rng.uniform(2.0, 4.5, count) * s / 128)
        alpha.append(((np.arange(tt) >= k0)[:, None] & (cy > 0.02)).astype(np.float32) * np.ones((1, count), np.float32))
        per.append(count)
    if onsets:
        c, r, a = np.concatenate(centres, 1), np.concatenate(radii), np.concatenate(alpha, 1)
        stamp_discs(frames, c, r, [0.55, 0.85, 0.95], a * 0.35)                         # faint fill
        stamp_discs(frames, c, r, [0.9, 1.0, 1.0], a, ring=True)                         # bright rim
    for t0 in onsets:
        # The release itself: a bright froth puff at the source, gone within a few frames.
        k0 = round(t0 * fps)
        age = (np.arange(tt) - k0).astype(np.float32)
        puff = np.where(age >= 0, np.exp(-np.maximum(age, 0) / 1.5), 0.0).astype(np.float32)[:, None]
        centre = centres[onsets.index(t0)][k0]                                          # [M, 2] at spawn
        stamp_discs(frames, np.broadcast_to(centre.mean(0), (tt, 1, 2)), np.array([16.0 * s / 128]), [0.85, 0.97, 1.0], 0.9 * puff)
    audio = recipes.underwater(rng, spec, onsets)
    return Scene(frames, audio, onsets, caption(rng, [
        "bubbles rising through blue water underwater",
        "an underwater scene with bursts of bubbling air",
        "streams of bubbles bubbling up in a deep blue sea",
    ]))


def splashing_water(rng: np.random.Generator, spec: ClipSpec) -> Scene:
    """A bright lake surface; each splash (white crown, droplets, spreading ring) lands on a splash sound."""
    s, fps, tt = spec.size, spec.fps, spec.frames
    y, x = spec.grid()
    t = spec.frame_times
    onsets = pick_onsets(rng, spec, (2, 4), min_gap=0.4)
    horizon = rng.uniform(0.18, 0.3)
    sky = vertical_gradient(y, jitter_colour(rng, [0.55, 0.75, 0.95]), jitter_colour(rng, [0.75, 0.88, 0.98]))
    lake = vertical_gradient(y, jitter_colour(rng, [0.05, 0.32, 0.58]), jitter_colour(rng, [0.12, 0.52, 0.78]))
    f = rng.uniform(25, 40)
    ripple = 0.04 * np.sin(2 * np.pi * (f * y[None] ** 1.5 + 0.6 * t[:, None, None]) + 2 * np.sin(6 * x[None]))  # [T, S, S]
    frames = np.where((y > horizon)[None, ..., None], lake[None] + ripple[..., None], sky[None])
    frames = np.ascontiguousarray(frames, dtype=np.float32)
    white = np.array([0.96, 0.98, 1.0], np.float32)
    for t0 in onsets:
        k0 = round(t0 * fps)
        sy, sx = rng.uniform(horizon + 0.2, 0.85), rng.uniform(0.2, 0.8)
        age = (np.arange(tt) - k0).astype(np.float32) / fps                              # [T] seconds since impact
        on = age >= 0
        # Spreading ring on the surface (flattened ellipse for perspective).
        d = np.sqrt((x - sx) ** 2 + ((y - sy) * 2.2) ** 2)                                # [S, S]
        radius = 0.02 + 0.35 * np.maximum(age, 0)                                        # [T]
        ring = np.exp(-(((d[None] - radius[:, None, None]) * s / 2.0) ** 2)) * (on * np.exp(-np.maximum(age, 0) / 0.5))[:, None, None]
        frames += (white - frames) * (0.7 * ring[..., None])
        # Crown and droplets: ballistic particles thrown up from the impact point.
        count = int(rng.integers(10, 16))
        vx, vy = rng.normal(0, 0.25, count), -rng.uniform(0.5, 1.0, count)
        a = np.maximum(age, 0)[:, None]
        cy = sy + vy[None] * a + 1.6 * a**2
        cx = sx + vx[None] * a
        alive = (on[:, None] & (cy <= sy + 0.01)).astype(np.float32)                     # [T, M]
        stamp_discs(frames, np.stack([cy, cx], -1), rng.uniform(1.5, 3.0, count) * s / 128, white, alive)
        # Foam at the impact: opaque for two frames, then fading.
        blob = np.where(on, np.exp(-np.maximum(age, 0) * fps / 2.0), 0.0).astype(np.float32)[:, None]
        stamp_discs(frames, np.full((tt, 1, 2), [sy, sx], np.float32), np.array([rng.uniform(9, 13) * s / 128]), white, blob)
    audio = recipes.splashing(rng, spec, onsets)
    return Scene(frames, audio, onsets, caption(rng, [
        "water splashing on the surface of a lake",
        "splashes of water with droplets and ripples",
        "something splashing into bright blue water",
    ]))
