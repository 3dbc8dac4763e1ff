"""Per-stage timing for the live path: rolling medians and p95s per named stage, shared between threads."""

from __future__ import annotations

import collections
import contextlib
import threading
import time
from typing import Iterator

from livevis.render.stats import Rolling


class StageStats:
    """One `Rolling` window of durations (ms) per stage; `last` holds each stage's newest value."""

    def __init__(self, window: int = 240):
        self._window = window
        self._stages: dict[str, Rolling] = {}
        self.last: dict[str, float] = {}
        self._lock = threading.Lock()

    def add(self, stage: str, ms: float) -> None:
        with self._lock:
            self.last[stage] = float(ms)
            rolling = self._stages.get(stage)
            if rolling is None:
                rolling = self._stages[stage] = Rolling(self._window)
            rolling.add(float(ms))

    def clear(self) -> None:
        """Forget everything measured so far (e.g. after warm-up)."""
        with self._lock:
            self._stages.clear()
            self.last.clear()

    @contextlib.contextmanager
    def time(self, stage: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.add(stage, (time.perf_counter() - start) * 1e3)

    def count(self, stage: str) -> int:
        with self._lock:
            rolling = self._stages.get(stage)
            return 0 if rolling is None else rolling.total

    def summary(self) -> dict[str, dict[str, float]]:
        """{stage: {"median": ms, "p95": ms}} over the rolling window."""
        with self._lock:
            return {k: v.summary() for k, v in self._stages.items() if len(v)}


class RateMeter:
    """Events per second over the last `window` events (inference fps)."""

    def __init__(self, window: int = 120):
        self._times: collections.deque[float] = collections.deque(maxlen=window)
        self._lock = threading.Lock()

    def tick(self, now: float | None = None) -> None:
        with self._lock:
            self._times.append(time.monotonic() if now is None else now)

    @property
    def rate(self) -> float:
        with self._lock:
            if len(self._times) < 2:
                return 0.0
            span = self._times[-1] - self._times[0]
            return (len(self._times) - 1) / span if span > 0 else 0.0
