"""A synthetic frame producer (moving gradient + noise) for exercising the display side without models."""

from __future__ import annotations

import threading
import time

import numpy as np

from livevis.render.frame import Frame
from livevis.render.mailbox import Mailbox


def pattern(width: int, height: int, t: float, seed: int = 0) -> np.ndarray:
    """[H, W, 4] uint8: diagonal colour bands moving with t, a bright disc orbiting, fixed noise."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    u, v = x / width, y / height
    phase = 2 * np.pi * (u + 0.5 * v - 0.25 * t)
    rgba = np.empty((height, width, 4), dtype=np.uint8)
    rgba[..., 0] = 127.5 + 127.5 * np.sin(phase)
    rgba[..., 1] = 127.5 + 127.5 * np.sin(phase + 2.1)
    rgba[..., 2] = 127.5 + 127.5 * np.sin(phase + 4.2)
    cx, cy = 0.5 + 0.3 * np.cos(t), 0.5 + 0.3 * np.sin(t)
    disc = (u - cx) ** 2 + (v - cy) ** 2 < 0.01
    rgba[disc, :3] = 255
    noise = np.random.default_rng(seed).integers(0, 24, (height, width), dtype=np.uint8)
    rgba[..., :3] = np.minimum(rgba[..., :3].astype(np.uint16) + noise[..., None], 255).astype(np.uint8)
    rgba[..., 3] = 255
    return rgba


class SyntheticProducer(threading.Thread):
    """Puts `pattern` frames into a mailbox at `fps` until stop(); audio_index advances at sample_rate."""

    def __init__(self, mailbox: Mailbox, width: int, height: int, fps: float = 60.0, sample_rate: int = 48000) -> None:
        super().__init__(name="livevis-synthetic-producer", daemon=True)
        self.mailbox = mailbox
        self.width, self.height = width, height
        self.period = 1.0 / fps
        self.sample_rate = sample_rate
        self.started_at = time.monotonic()
        self.produced = 0
        self._halt = threading.Event()

    def audio_time(self, audio_index: int) -> float:
        """The monotonic time at which the sample `audio_index` 'arrived' (for latency_of)."""
        return self.started_at + audio_index / self.sample_rate

    def run(self) -> None:
        while not self._halt.is_set():
            now = time.monotonic()
            start = time.perf_counter()
            rgba = pattern(self.width, self.height, now - self.started_at)
            ms = 1e3 * (time.perf_counter() - start)
            index = int((now - self.started_at) * self.sample_rate)
            self.mailbox.put(Frame(rgba=rgba, audio_index=index, seq=self.produced, stats={"synthesis": ms}))
            self.produced += 1
            self._halt.wait(max(0.0, self.period - (time.monotonic() - now)))

    def stop(self) -> None:
        self._halt.set()
