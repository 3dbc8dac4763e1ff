"""Rolling timing statistics (median, p95) over a fixed window, preallocated."""

from __future__ import annotations

import numpy as np


class Rolling:
    """The last `window` samples of one measurement (e.g. milliseconds of a stage)."""

    def __init__(self, window: int = 240) -> None:
        assert window > 0
        self._values = np.zeros(window, dtype=np.float64)
        self._count = 0

    def add(self, value: float) -> None:
        self._values[self._count % len(self._values)] = value
        self._count += 1

    def __len__(self) -> int:
        return min(self._count, len(self._values))

    @property
    def total(self) -> int:
        """Samples ever added (not only those in the window)."""
        return self._count

    def _window(self) -> np.ndarray:
        return self._values[: len(self)]

    def mean(self) -> float:
        return float(np.mean(self._window())) if len(self) else 0.0

    def median(self) -> float:
        return float(np.median(self._window())) if len(self) else float("nan")

    def p95(self) -> float:
        return float(np.percentile(self._window(), 95)) if len(self) else float("nan")

    def summary(self) -> dict[str, float]:
        """{"median": .., "p95": ..} as used in `livevis bench --json`."""
        return {"median": self.median(), "p95": self.p95()}
