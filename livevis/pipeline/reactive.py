"""Level and onset of the audio just before a frame: drive the audio-reactive post effect and the
stats overlay. Deterministic in the audio (offline renders stay byte-identical)."""

from __future__ import annotations

import math

import numpy as np


class AudioReactivity:
    """level: loudness mapped from [floor_db, 0] dBFS to [0, 1]; onset: how far the fast level jumps
    above its slow average (a cheap, causal onset detector), in [0, 1]."""

    def __init__(self, floor_db: float = -60.0, slow: float = 0.9, gain: float = 4.0):
        self.floor_db = floor_db
        self.slow = slow
        self.gain = gain
        self._avg = 0.0
        self.level = 0.0
        self.onset = 0.0
        self.rms_db = floor_db

    def update(self, samples: np.ndarray) -> tuple[float, float]:
        """samples: float32 [N], the audio since the previous frame."""
        if samples.size:
            rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
        else:
            rms = 0.0
        self.rms_db = 20.0 * math.log10(max(rms, 1e-10))
        level = min(max((self.rms_db - self.floor_db) / -self.floor_db, 0.0), 1.0)
        self.onset = min(max((level - self._avg) * self.gain, 0.0), 1.0)
        self._avg = self.slow * self._avg + (1.0 - self.slow) * level
        self.level = level
        return self.level, self.onset
