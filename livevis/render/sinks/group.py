"""`SinkGroup`: every --output of a show behind one send(), so the render thread makes one call."""

from __future__ import annotations

import numpy as np

from livevis.render.sinks.base import Sink, SinkStats
from livevis.render.sinks.registry import parse_output


class SinkGroup:
    def __init__(self, sinks: list[Sink]):
        self.sinks = list(sinks)

    @classmethod
    def from_specs(cls, specs: list[str] | tuple[str, ...], **options) -> "SinkGroup":
        """Parse every spec first, so one bad spec fails before anything is opened."""
        return cls([parse_output(s, **options) for s in specs or ()])

    def open(self, width: int, height: int, fps: float) -> "SinkGroup":
        opened = []
        try:
            for sink in self.sinks:
                opened.append(sink.open(width, height, fps))
        except BaseException:
            for sink in opened:
                sink.close()
            raise
        return self

    def send(self, frame: np.ndarray) -> None:
        """One program frame [H, W, 3 | 4] uint8 to every sink; copies, never blocks."""
        for sink in self.sinks:
            sink.send(frame)

    def close(self) -> None:
        for sink in self.sinks:
            sink.close()

    def stats(self) -> dict[str, SinkStats]:
        return {sink.spec: sink.stats for sink in self.sinks}

    def __bool__(self) -> bool:
        return bool(self.sinks)

    def __enter__(self) -> "SinkGroup":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
