"""Vectorised numpy drawing for the synthetic scenes: grids, smooth noise, gradients, sprites.

Images are float32 in [0, 1], laid out [H, W, 3] (still) or [T, H, W, 3] (a clip).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from livevis.training.data.store import ClipFormat


@dataclass(frozen=True)
class ClipSpec(ClipFormat):
    """ClipFormat plus the sampling grids procedural scenes draw on."""

    @property
    def frame_times(self) -> np.ndarray:
        return np.arange(self.frames, dtype=np.float32) / self.fps  # [T]

    def grid(self) -> tuple[np.ndarray, np.ndarray]:
        """Pixel-centre coordinates in [0, 1): y grows downwards. Both [S, S]."""
        c = (np.arange(self.size, dtype=np.float32) + 0.5) / self.size
        return np.meshgrid(c, c, indexing="ij")


def jitter_colour(rng: np.random.Generator, rgb, amount: float = 0.08) -> np.ndarray:
    """Per-clip palette variation: a small random gain per channel."""
    c = np.asarray(rgb, dtype=np.float32) * (1.0 + rng.normal(0.0, amount, 3)).astype(np.float32)
    return np.clip(c, 0.0, 1.0)


def vertical_gradient(y: np.ndarray, top, bottom) -> np.ndarray:
    """[S, S] -> [S, S, 3] blend from `top` (y=0) to `bottom` (y=1)."""
    top, bottom = np.asarray(top, np.float32), np.asarray(bottom, np.float32)
    return top + (bottom - top) * y[..., None]


def smooth_noise(rng: np.random.Generator, height: int, width: int, cells_y: int, cells_x: int) -> np.ndarray:
    """Value noise: a random lattice bilinearly (smoothstep) interpolated to [height, width], in [0, 1].

    The lattice wraps around, so the result tiles and can be scrolled with np.roll or modulo indexing.
    """
    lattice = rng.random((cells_y, cells_x), dtype=np.float32)
    ys = np.arange(height, dtype=np.float32) * cells_y / height
    xs = np.arange(width, dtype=np.float32) * cells_x / width
    y0, x0 = np.floor(ys).astype(np.int64), np.floor(xs).astype(np.int64)
    fy, fx = ys - y0, xs - x0
    fy, fx = fy * fy * (3 - 2 * fy), fx * fx * (3 - 2 * fx)
    y1, x1 = (y0 + 1) % cells_y, (x0 + 1) % cells_x
    a = lattice[y0][:, x0] * (1 - fx) + lattice[y0][:, x1] * fx
    b = lattice[y1][:, x0] * (1 - fx) + lattice[y1][:, x1] * fx
    return a * (1 - fy)[:, None] + b * fy[:, None]


def fbm(rng: np.random.Generator, height: int, width: int, cells: int, octaves: int = 3, aspect: float = 1.0) -> np.ndarray:
    """Fractal sum of value noise, normalised to [0, 1]; `aspect` > 1 stretches features vertically."""
    out = np.zeros((height, width), np.float32)
    amp, total = 1.0, 0.0
    for o in range(octaves):
        c = cells * 2**o
        out += amp * smooth_noise(rng, height, width, max(1, int(c / aspect)), c)
        total += amp
        amp *= 0.5
    return out / total


def scroll(field: np.ndarray, dy: np.ndarray, dx: np.ndarray, size: int) -> np.ndarray:
    """Per-frame integer-free window into a tiling field [Hf, Wf] -> [T, size, size].

    dy, dx: [T] offsets in pixels (float; rounded). Modulo indexing makes the motion seamless.
    """
    hf, wf = field.shape
    rows = (np.arange(size)[None, :] - np.round(dy).astype(np.int64)[:, None]) % hf  # [T, S]
    cols = (np.arange(size)[None, :] - np.round(dx).astype(np.int64)[:, None]) % wf  # [T, S]
    return field[rows[:, :, None], cols[:, None, :]]


def event_pulse(frame_times: np.ndarray, onsets: list[float], decay_frames: float, fps: int) -> np.ndarray:
    """[T] sum of pulses that start exactly at each onset frame and decay exponentially."""
    k = np.arange(len(frame_times), dtype=np.float32)
    out = np.zeros(len(frame_times), np.float32)
    for t in onsets:
        k0 = round(t * fps)
        d = k - k0
        out += np.where(d >= 0, np.exp(-np.maximum(d, 0) / decay_frames), 0.0).astype(np.float32)
    return out


def stamp_discs(frames: np.ndarray, centres: np.ndarray, radii: np.ndarray, colour, alpha: np.ndarray, ring: bool = False) -> None:
    """Draw soft discs (or rings) in place. frames [T, S, S, 3]; centres [T, M, 2] (y, x in [0, 1]);
    radii [M] in pixels; alpha [T, M] (0 hides a disc). Each disc touches only its bounding box."""
    t_count, size = frames.shape[0], frames.shape[1]
    colour = np.asarray(colour, np.float32)
    for m, r in enumerate(radii):
        half = int(np.ceil(r)) + 1
        offs = np.arange(-half, half + 1, dtype=np.float32)
        dist = np.sqrt(offs[:, None] ** 2 + offs[None, :] ** 2)
        if ring:
            shape = np.clip(1.0 - np.abs(dist - r) / 1.2, 0.0, 1.0)
        else:
            shape = np.clip(r + 0.5 - dist, 0.0, 1.0)
        for t in range(t_count):
            a = alpha[t, m]
            if a <= 0.0:
                continue
            cy, cx = int(centres[t, m, 0] * size), int(centres[t, m, 1] * size)
            y0, x0 = cy - half, cx - half
            ys, xs = max(0, y0), max(0, x0)
            ye, xe = min(size, cy + half + 1), min(size, cx + half + 1)
            if ys >= ye or xs >= xe:
                continue
            w = a * shape[ys - y0 : ye - y0, xs - x0 : xe - x0, None]
            patch = frames[t, ys:ye, xs:xe]
            patch += (colour - patch) * w


def to_uint8(frames: np.ndarray) -> np.ndarray:
    return (np.clip(frames, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
