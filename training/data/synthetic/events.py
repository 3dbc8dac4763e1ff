"""Event timing and captions shared by the synthetic scenes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from livevis.training.data.synthetic.canvas import ClipSpec


@dataclass
class Scene:
    """One rendered clip before quantisation."""

    frames: np.ndarray    # float32 [T, S, S, 3] in [0, 1]
    audio: np.ndarray     # float32 [samples] in [-1, 1]
    onsets: list[float]   # event times, seconds; each is a frame boundary k / fps
    caption: str


def pick_onsets(rng: np.random.Generator, spec: ClipSpec, count: tuple[int, int], min_gap: float,
                head: float = 0.2, tail: float = 0.35) -> list[float]:
    """Event times snapped to frame boundaries, so a sound onset and its picture share frame k exactly.

    count: inclusive range; min_gap: seconds between events (events must not merge); head/tail:
    margins that keep the event and most of its decay inside the clip.
    """
    lo = int(np.ceil(head * spec.fps))
    hi = spec.frames - int(np.ceil(tail * spec.fps))
    gap = int(np.ceil(min_gap * spec.fps))
    want = int(rng.integers(count[0], count[1] + 1))
    for _ in range(64):
        ks = np.sort(rng.choice(np.arange(lo, hi), size=min(want, hi - lo), replace=False))
        if len(ks) <= 1 or np.min(np.diff(ks)) >= gap:
            return [float(k) / spec.fps for k in ks]
    # Fall back to evenly spaced events (only reached for very short clips).
    ks = np.linspace(lo, hi - 1, num=max(1, min(want, (hi - lo) // max(gap, 1)))).round().astype(int)
    return [float(k) / spec.fps for k in ks]


def caption(rng: np.random.Generator, templates: list[str]) -> str:
    return templates[int(rng.integers(len(templates)))]
