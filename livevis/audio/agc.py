"""Automatic gain for live features: a slow percentile follower per channel, in dB.

Each block the caller pushes one level per channel (dB re full scale). The reference level of a
channel follows a high percentile of its last `seconds` of levels, and never sits more than
`headroom_db` below the loudest of them (sparse material: clicks, a lone hit). It rises at once when
a block comes in louder than reference + headroom (attack: the first hit after silence is not
missed) and falls only once most of the window is quieter (release), smoothed. `gain` maps a level to its amplitude ratio to that reference, so a
-30 dB copy of a signal reads the same as the 0 dB one once the window has adapted. A floor keeps
silence and hiss at zero: the reference never drops below `floor_db`, and the output fades to 0 as
the reference approaches the floor (no amplification of the noise floor).
"""

from __future__ import annotations

import numpy as np

SILENCE_DB = -160.0  # level pushed for digital silence (finite, far below any floor)


class PercentileAGC:
    def __init__(self, n_channels: int, block_rate: float, *, seconds: float = 3.0, percentile: float = 90.0,
                 floor_db: float = -70.0, gate_db: float = 5.0, headroom_db: float = 12.0, update_seconds: float = 0.05,
                 smooth_seconds: float = 0.15):
        if seconds <= 0:
            raise ValueError(f"AGC window must be positive, got {seconds}")
        self.n_channels = int(n_channels)
        self.floor_db = float(floor_db)
        self.gate_db = float(gate_db)
        self.headroom_db = float(headroom_db)
        self._size = max(4, int(round(seconds * block_rate)))
        self._rank = min(self._size - 1, int(round(percentile / 100.0 * (self._size - 1))))
        self._update_every = max(1, int(round(update_seconds * block_rate)))
        self._smooth = 1.0 - np.exp(-1.0 / max(1e-6, smooth_seconds * block_rate))  # per-block coefficient
        self._history = np.empty((self._size, self.n_channels), dtype=np.float32)  # [size, C] dB
        self._work = np.empty_like(self._history)
        self._target = np.empty(self.n_channels, dtype=np.float64)  # [C] dB
        self.ref_db = np.empty(self.n_channels, dtype=np.float64)  # [C] dB, >= floor_db
        self.reset()

    def reset(self) -> None:
        self._history.fill(SILENCE_DB)
        self._target.fill(self.floor_db)
        self.ref_db.fill(self.floor_db)
        self._count = 0

    def push(self, level_db: np.ndarray) -> None:
        """Add one block's levels [C] (dB) and advance the reference."""
        self._history[self._count % self._size] = level_db
        self._count += 1
        if self._count % self._update_every == 0:
            np.copyto(self._work, self._history)
            self._work.partition((self._rank, self._size - 1), axis=0)  # the percentile and the max
            np.maximum(self._work[self._rank], self._work[-1] - self.headroom_db, out=self._target)
            np.maximum(self._target, self.floor_db, out=self._target)
        self.ref_db += self._smooth * (self._target - self.ref_db)
        np.maximum(self.ref_db, level_db - self.headroom_db, out=self.ref_db)  # instant attack

    def gain(self, level_db: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Normalised amplitude [C]: 10^((level - ref) / 20), faded to 0 as the reference nears the floor."""
        np.subtract(level_db, self.ref_db, out=out)
        out *= 1.0 / 20.0
        np.power(10.0, out, out=out)
        out *= self.gate()
        return out

    def gate(self) -> np.ndarray:
        """[C] in 0..1: 0 while the reference sits on the floor (silence, hiss), 1 from gate_db above it."""
        return np.clip((self.ref_db - self.floor_db) / self.gate_db, 0.0, 1.0)
