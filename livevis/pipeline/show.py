"""A live show: audio source -> inference thread -> mailbox -> display loop (window or EGL) -> recorder.

`LiveShow` wires the parts that `livevis run` and `livevis bench` share and owns their lifetimes, so
every exit path (q, --seconds, end of file, Ctrl-C, SIGTERM, an error) stops the threads, finalises
the recording and releases the device.
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass

import numpy as np
import torch

from livevis.errors import LivevisError
from livevis.pipeline.live import InferenceWorker
from livevis.pipeline.modules import LiveModules
from livevis.render.display_loop import DisplayLoop, DisplayStats
from livevis.render.frame import Frame
from livevis.render.mailbox import Mailbox
from livevis.render.renderer import Renderer


@dataclass
class ShowOptions:
    size: int  # output edge in pixels (window size, or the EGL framebuffer when headless)
    fps: float = 30.0
    seconds: float | None = None
    headless: bool = False
    record: str | None = None
    seed: int = 0
    fullscreen: bool = False
    monitor: int = 0
    vsync: bool = True
    truncation_psi: float = 0.7
    anchor_leak: float = 0.02
    stop_at_end: bool = True  # a file input that ends (without --loop) ends the show
    interop: bool = False  # frames stay on the GPU and reach GL through CUDA-GL interop


def worker_failure(worker: InferenceWorker) -> Exception:
    """What a show ends with when its inference thread died: a LivevisError stays one line for the
    user; anything else is a bug and keeps its traceback (chained)."""
    if isinstance(worker.exception, LivevisError):
        return LivevisError(worker.error)
    failure = RuntimeError(worker.error)
    failure.__cause__ = worker.exception
    return failure


class _AudioTap(threading.Thread):
    """Copies newly arrived input audio into the recorder, so the mp4 carries what was heard."""

    def __init__(self, source, recorder, period: float = 0.05):
        super().__init__(name="livevis-record-audio", daemon=True)
        self.source, self.recorder, self.period = source, recorder, period
        self._halt = threading.Event()
        self._last = source.write_index
        cap = int(source.sample_rate * 2)
        self._buf = np.zeros(cap, dtype=np.float32)

    def run(self) -> None:
        while not self._halt.wait(self.period):
            self.flush()

    def flush(self) -> None:
        head = self.source.write_index
        n = min(head - self._last, self._buf.shape[0])
        if n > 0:
            # Exactly [head - n, head): read_last would end at a head that moved on since, and the
            # next flush would then repeat those samples (and skip as many at the front).
            self.recorder.write_audio(self.source.read(head - n, n, self._buf[:n]))
        self._last = head

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=1.0)
        self.flush()


class LiveShow:
    def __init__(self, modules: LiveModules, source, options: ShowOptions, *, initial_ws: torch.Tensor | None = None,
                 target=None):
        self.modules = modules
        self.source = source
        self.opt = options
        self.initial_ws = initial_ws
        self._target = target
        self.worker: InferenceWorker | None = None
        self.loop: DisplayLoop | None = None
        self.recorder = None

    def _make_target(self):
        if self._target is not None:
            return self._target
        if self.opt.headless:
            from livevis.render.offscreen import Offscreen

            return Offscreen(self.opt.size, self.opt.size)
        from livevis.render.window import Window

        return Window(self.opt.size, self.opt.size, "livevis", vsync=self.opt.vsync, fullscreen=self.opt.fullscreen,
                      monitor=self.opt.monitor)  # space: counted by the window, polled in run()

    def _new_seed(self) -> None:
        if self.worker is not None:
            self.worker.request_seed(self.worker.seed + 1)

    def _post(self) -> dict:
        r = self.worker.reactivity
        return {"level": r.level, "onset": r.onset}

    def _latency(self, frame: Frame) -> float:
        return time.monotonic() - self.source.arrival_time(frame.audio_index)

    def _overlay(self, stats: DisplayStats) -> list[str]:
        w = self.worker
        status = self.source.status
        lines = [f"fps {stats.fps:5.1f}  inference {w.rate.rate:5.1f}/s  dropped {stats.dropped}"]
        stages = w.stats.summary()
        lines.append("  ".join(f"{k} {v['median']:.1f}" for k, v in stages.items()) + " ms")
        lines.append(f"upload {stats.upload_ms.get('median', 0):.1f}  draw {stats.draw_ms.get('median', 0):.1f} ms")
        if stats.latency_ms:
            lines.append(f"latency {stats.latency_ms['median']:.0f} ms (p95 {stats.latency_ms['p95']:.0f})")
        lines.append(f"input {status.state}  {w.reactivity.rms_db:6.1f} dB  overflows {status.overflows}  seed {w.seed}")
        if w.error:
            lines.append(w.error)
        return lines

    def run(self, on_start=None) -> DisplayStats:
        """Run until q/Esc, --seconds, the end of a file input, or Ctrl-C/SIGTERM; clean up always."""
        from livevis.render.recorder import Recorder

        res = self.modules.resolution
        with contextlib.ExitStack() as stack:
            target = self._make_target()
            stack.callback(target.close)
            renderer = Renderer(target.ctx, res, res)
            stack.callback(renderer.release)
            mailbox = Mailbox()
            if self.opt.record:
                # What is shown (post effects included) at the frame's resolution, audio muxed.
                self.recorder = Recorder(self.opt.record, res, res, self.opt.fps, self.source.sample_rate)
                stack.callback(self.recorder.close)
            self.source.start()
            stack.callback(self.source.stop)
            self.worker = InferenceWorker(self.modules, self.source, mailbox, fps=self.opt.fps, seed=self.opt.seed,
                                          initial_ws=self.initial_ws, truncation_psi=self.opt.truncation_psi,
                                          anchor_leak=self.opt.anchor_leak, interop=self.opt.interop)
            stop = threading.Event()
            self.loop = DisplayLoop(target, renderer, mailbox, fps=None if (not self.opt.headless and self.opt.vsync) else self.opt.fps,
                                    post=self._post, latency_of=self._latency, overlay_lines=self._overlay,
                                    recorder=self.recorder, seconds=self.opt.seconds, stop_event=stop)
            self.worker.start()
            stack.callback(self._stop_worker)
            # Wait for the first frame so the recording and the latency figures start with real images.
            # A worker that failed (bad engine, shape mismatch) ends at once: don't sit out the timeout.
            first, deadline = None, time.monotonic() + 120.0
            while first is None and self.worker.is_alive() and time.monotonic() < deadline:
                first = mailbox.get_latest(timeout=0.1)
            first = first or mailbox.get_latest()
            if first is None:
                if self.worker.error:
                    raise worker_failure(self.worker)
                raise LivevisError("no frame was produced within 120 s")
            mailbox.put(first)
            if self.recorder is not None:
                # The recording starts now, with the first shown frame: audio from here on only.
                tap = _AudioTap(self.source, self.recorder)
                tap.start()
                stack.callback(tap.stop)
            if on_start is not None:
                on_start()
            window_seeds = getattr(target, "new_seed_requests", 0)
            while self.loop.tick():
                seeds = getattr(target, "new_seed_requests", 0)
                if seeds != window_seeds:
                    window_seeds = seeds
                    self._new_seed()
                if self.opt.stop_at_end and self.source.finished:
                    break
                if self.worker.error and not self.worker.is_alive() and self.opt.headless:
                    raise worker_failure(self.worker)
            return self.loop.stats

    def _stop_worker(self) -> None:
        if self.worker is not None:
            self.worker.stop()
            self.worker.join(timeout=5.0)
