"""The inference thread of the live path.

Each tick (at the render rate): read the ring's write head, let the LatentDriver step keyframes and
interpolate, synthesise, convert to RGBA8 and put the frame into the newest-only mailbox. A slow
stage lowers the frame rate; it never builds a queue. Errors become a value (`error`) that the
display shows instead of crashing mid-show.
"""

from __future__ import annotations

import threading
import time
from typing import Callable

import numpy as np
import torch

from livevis.pipeline.initial import latent_from_seed
from livevis.pipeline.latent import LatentDriver, source_window_reader
from livevis.pipeline.modules import LiveModules, RGBAConverter
from livevis.pipeline.reactive import AudioReactivity
from livevis.pipeline.stats import RateMeter, StageStats
from livevis.render.frame import Frame


def timed(stats: StageStats, stage: str, fn: Callable) -> Callable:
    def call(*args, **kwargs):
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            stats.add(stage, (time.perf_counter() - start) * 1e3)

    return call


class InferenceWorker(threading.Thread):
    """Produces frames from a running AudioSource into a Mailbox until stop() is called."""

    def __init__(self, modules: LiveModules, source, mailbox, *, fps: float, seed: int = 0,
                 initial_ws: torch.Tensor | None = None, truncation_psi: float = 0.7,
                 anchor_leak: float = 0.02, stats: StageStats | None = None, interop: bool = False):
        super().__init__(name="livevis-inference", daemon=True)
        assert fps > 0
        self.modules = modules
        self.source = source
        self.mailbox = mailbox
        self.period = 1.0 / float(fps)
        self.truncation_psi = truncation_psi
        self.stats = stats or StageStats()
        self.rate = RateMeter()
        self.reactivity = AudioReactivity()
        self.error: str | None = None
        self.exception: Exception | None = None  # what stopped the thread (see show.worker_failure)
        self.seed = int(seed)
        self._pending_seed: int | None = None
        self._initial_ws = initial_ws
        self._halt = threading.Event()
        self._seq = 0
        self._rgba = RGBAConverter(modules.resolution, device=modules.device, on_device=interop)
        s = self.stats
        self.driver = LatentDriver(
            mel=timed(s, "mel", modules.mel),
            encoder=timed(s, "encoder", modules.encoder),
            recurrent_step=timed(s, "recurrent", modules.recurrent_step),
            hidden_init=modules.hidden_init,
            window_samples=modules.window_samples,
            step_samples=modules.step_samples,
            device=modules.device,
            anchor_leak=anchor_leak,
            max_catchup=1,
        )
        self._synthesis = timed(s, "synthesis", modules.synthesis)
        self._reader = source_window_reader(source, modules.window_samples)
        self._react_buf = np.zeros(int(source.sample_rate * 2 * self.period), dtype=np.float32)

    def request_seed(self, seed: int) -> None:
        """Start over from a new seed at the next frame (the space key)."""
        self._pending_seed = int(seed)

    def stop(self) -> None:
        self._halt.set()

    def _reset(self, audio_index: int) -> None:
        if self._pending_seed is not None:
            self.seed, self._pending_seed = self._pending_seed, None
            ws = None
        else:
            ws = self._initial_ws
        if ws is None:
            ws = latent_from_seed(self.modules.mapping, self.modules.z_dim, self.seed,
                                  truncation_psi=self.truncation_psi, device=self.modules.device)
        self.driver.reset(ws, audio_index)

    def run(self) -> None:
        try:
            torch.set_grad_enabled(False)
            self._reset(self.source.write_index)
            last_index = self.source.write_index
            next_tick = time.monotonic()
            while not self._halt.is_set():
                if self._pending_seed is not None:
                    self._reset(self.source.write_index)
                index = self.source.write_index
                with torch.inference_mode():
                    ws = self.driver.advance(index, self._reader)
                    img = self._synthesis(ws)  # [1, 3, H, W]
                    with self.stats.time("convert"):
                        rgba = self._rgba(img)
                fresh = min(max(index - last_index, 0), len(self._react_buf))
                self.reactivity.update(self.source.read(index - fresh, fresh, self._react_buf[:fresh]))
                last_index = index
                self._seq += 1
                self.mailbox.put(Frame(rgba=rgba, audio_index=index, seq=self._seq, created=time.monotonic(),
                                       stats=dict(self.stats.last)))
                self.rate.tick()
                next_tick += self.period
                delay = next_tick - time.monotonic()
                if delay > 0:
                    self._halt.wait(delay)
                else:
                    next_tick = time.monotonic()  # running late: don't try to catch up with a burst
        except Exception as exc:  # shown in the overlay and printed by the command, not a crash mid-show
            self.error = f"inference stopped: {type(exc).__name__}: {exc}"
            self.exception = exc
