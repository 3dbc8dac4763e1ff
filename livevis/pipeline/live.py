"""The inference thread of the live path.

Each tick (at the render rate): read the ring's write head, feed the new audio to the live analysis,
let the SceneDriver compute the frame's latent (the mode's driver plus the reactive layer), synthesise, convert to RGBA8 and put the frame into the newest-only mailbox. A slow
stage lowers the frame rate; it never builds a queue. Errors become a value (`error`) that the
display shows instead of crashing mid-show.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from typing import Callable

import numpy as np
import torch

from livevis.pipeline.latent import array_window_reader, source_window_reader
from livevis.pipeline.modules import LiveModules, RGBAConverter
from livevis.pipeline.reactive import AudioReactivity
from livevis.pipeline.scene import SceneDriver
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

    def __init__(self, modules: LiveModules, source, mailbox, *, fps: float, params, bank=None, text_embed=None,
                 stats: StageStats | None = None, interop: bool = False):
        super().__init__(name="livevis-inference", daemon=True)
        assert fps > 0
        self.modules = modules
        self.source = source
        self.mailbox = mailbox
        self.period = 1.0 / float(fps)
        self.params = params
        self.stats = stats or StageStats()
        self.rate = RateMeter()
        self.reactivity = AudioReactivity()
        self.error: str | None = None
        self.exception: Exception | None = None  # what stopped the thread (see show.worker_failure)
        self._pending_tap = False
        self._halt = threading.Event()
        self._seq = 0
        self._rgba = RGBAConverter(modules.resolution, device=modules.device, on_device=interop)
        s = self.stats
        timed_modules = dataclasses.replace(
            modules, mel=timed(s, "mel", modules.mel),
            encoder=None if modules.encoder is None else timed(s, "encoder", modules.encoder),
            recurrent_step=None if modules.recurrent_step is None else timed(s, "recurrent", modules.recurrent_step))
        self.scene = SceneDriver(timed_modules, params, max_catchup=1, bank=bank, text_embed=text_embed, stats=s)
        self._synthesis = timed(s, "synthesis", modules.synthesis)
        self._reader = source_window_reader(source, modules.window_samples)
        # New audio per frame for the analysis; a stall longer than this loses only the oldest part.
        self._react_buf = np.zeros(int(source.sample_rate * max(1.0, 2 * self.period)), dtype=np.float32)

    @property
    def seed(self) -> int:
        return int(self.params["seed"])

    def request_seed(self, seed: int) -> None:
        """Crossfade to a new seed (the space key)."""
        self.params.set("seed", int(seed) % 2**31)

    def tap(self) -> None:
        """Tap tempo, at the audio index of the next frame."""
        self._pending_tap = True

    def stop(self) -> None:
        self._halt.set()

    def warm_up(self, seconds: float = 1.0) -> None:
        """Run the frame path on `seconds` of test sound (noise bursts, so the onset paths run too),
        then start over. First calls compile and allocate (librosa's numba kernels on a fresh install,
        onnxruntime's first runs, the analysis buffers): done here, before the input starts, they
        cannot make the first frame seconds late while a file input already plays (a fresh install
        once showed 3 frames of a 10 s demo: the file had ended before the first frame)."""
        sr = self.scene.sample_rate
        n = max(int(seconds * sr), self.modules.window_samples)
        sound = (0.1 * np.random.default_rng(0).standard_normal(n)).astype(np.float32)
        sound[(np.arange(n) // max(sr // 8, 1)) % 2 == 1] *= 0.05                  # 8 bursts a second
        reader = array_window_reader(sound, self.modules.window_samples)
        step = max(1, int(round(sr * self.period)))
        with torch.inference_mode():
            self.scene.reset(0)
            prev = 0
            for index in range(step, n + 1, step):
                self._rgba(self._synthesis(self.scene.frame(index, sound[prev:index], reader)))
                prev = index
        self.stats.clear()

    def run(self) -> None:
        try:
            torch.set_grad_enabled(False)
            last_index = self.source.write_index
            self.scene.reset(last_index)
            next_tick = time.monotonic()
            while not self._halt.is_set():
                index = self.source.write_index
                fresh = min(max(index - last_index, 0), len(self._react_buf))
                new_audio = self.source.read(index - fresh, fresh, self._react_buf[:fresh])
                with torch.inference_mode():
                    ws = self.scene.frame(index, new_audio, self._reader)
                    if self._pending_tap:  # the tap came between the last frame and this one
                        self._pending_tap = False
                        self.scene.tap(index)
                    img = self._synthesis(ws)  # [1, 3, H, W]
                    with self.stats.time("convert"):
                        rgba = self._rgba(img)
                self.reactivity.update(new_audio)
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
