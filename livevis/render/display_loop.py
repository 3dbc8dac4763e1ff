"""The render-thread loop: newest frame in, shaders, screen (or EGL framebuffer), recording, stats.

Runs on the thread that owns the GL context (for a glfw window: the main thread). Each tick takes
the newest frame from the Mailbox if one arrived, uploads it, draws with post parameters from a
callable, presents, and feeds the recorder at its constant fps by duplicating or skipping shown
images so the mp4 keeps wall-clock time. `step()` is the offline variant: one given frame in, its
pixels out (and exactly one recorded frame), deterministic.
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time
from typing import Callable, Protocol

import moderngl
import numpy as np

from livevis.render.frame import Frame
from livevis.render.mailbox import Mailbox
from livevis.render.renderer import Renderer
from livevis.render.stats import Rolling


class Target(Protocol):
    """What the loop draws into: `Window` or `Offscreen`."""

    ctx: moderngl.Context
    effects_on: bool
    show_stats: bool

    @property
    def framebuffer_size(self) -> tuple[int, int]: ...
    @property
    def should_close(self) -> bool: ...
    def use(self) -> None: ...
    def poll(self) -> None: ...
    def present(self) -> None: ...


@dataclasses.dataclass
class DisplayStats:
    """A snapshot of the loop's measurements (times in ms, summaries are {"median", "p95"})."""

    fps: float = 0.0
    ticks: int = 0  # images presented
    frames_new: int = 0  # distinct frames uploaded
    dropped: int = 0  # frames the producer made that were never shown (mailbox drops)
    recorded: int = 0  # video frames written to the recorder
    upload_ms: dict = dataclasses.field(default_factory=dict)
    draw_ms: dict = dataclasses.field(default_factory=dict)
    latency_ms: dict = dataclasses.field(default_factory=dict)
    frame_stats: dict = dataclasses.field(default_factory=dict)  # last frame's producer stages (ms)

    def lines(self) -> list[str]:
        """Overlay text."""
        out = [
            f"fps {self.fps:5.1f}  frames {self.frames_new}  dropped {self.dropped}",
            f"upload {_ms(self.upload_ms)}  draw {_ms(self.draw_ms)}",
        ]
        if self.latency_ms:
            out.append(f"latency {_ms(self.latency_ms)}")
        if self.frame_stats:
            out.append("  ".join(f"{stage} {ms:.1f}" for stage, ms in self.frame_stats.items()))
        if self.recorded:
            out.append(f"recording: {self.recorded} frames")
        return out


def _ms(summary: dict) -> str:
    if not summary or math.isnan(summary.get("median", math.nan)):
        return "-"
    return f"{summary['median']:.1f} ms (p95 {summary['p95']:.1f})"


class DisplayLoop:
    """Drives a target at `fps` (None: as fast as the target presents, e.g. vsync, capped at
    `max_fps` so a driver that ignores the swap interval (Xvfb, some VMs) doesn't spin a core).

    post():            -> {"level": 0..1, "onset": 0..1} (optional "time"); default no reaction.
    latency_of(frame): -> seconds from the arrival of the frame's audio_index to now; called right
                       after the frame is first presented (audio-to-photon latency).
    overlay_lines(stats) -> list[str]; default `stats.lines()`. Shown when target.show_stats.
    recorder:          a Recorder (or anything with write_video(rgb) and fps) fed with the program
                       frame (output size); the stats overlay only with record_overlay=True.
    sinks:             fed with the program frame, never the overlay.
    seconds / stop_event / target.should_close end `run()`.
    """

    def __init__(
        self,
        target: Target,                       # Window or Offscreen
        renderer: Renderer,                   # built on target.ctx at the frame size
        mailbox: Mailbox | None = None,       # newest frame from the producer (None: offline `step` only)
        *,
        fps: float | None = 60.0,             # pacing; None: as fast as present() allows, up to max_fps
        post: Callable[[], dict] | None = None,             # -> {"level", "onset"} each tick
        latency_of: Callable[[Frame], float] | None = None,  # -> seconds since the frame's audio arrived
        overlay_lines: Callable[[DisplayStats], list[str]] | None = None,  # stats overlay text
        recorder=None,                        # Recorder fed with what is shown at its fps
        seconds: float | None = None,         # stop after this long
        max_fps: float = 240.0,               # cap when fps is None
        stop_event: threading.Event | None = None,  # set from any thread to stop
        clock: Callable[[], float] = time.monotonic,
        sinks=None,                           # SinkGroup fed with each new program frame (never blocks)
        record_overlay: bool = False,         # burn the stats overlay (when shown) into the recording
    ) -> None:
        assert fps is None or fps > 0, f"bad fps {fps}"
        self.target = target
        self.renderer = renderer
        self.mailbox = mailbox
        self.period = 1.0 / (fps or max_fps)
        self.post = post
        self.latency_of = latency_of
        self.overlay_lines = overlay_lines
        self.recorder = recorder
        self.sinks = sinks
        self.record_overlay = record_overlay
        self.seconds = seconds
        self.stop_event = stop_event or threading.Event()
        self.clock = clock
        self._upload = Rolling()
        self._draw = Rolling()
        self._latency = Rolling()
        self._intervals = Rolling(120)
        self._ticks = 0
        self._frames_new = 0
        self._recorded = 0
        self._last_frame: Frame | None = None
        self._t0: float | None = None
        self._last_tick: float | None = None
        self._next_deadline: float | None = None
        # [out_h, out_w, 3]: the program frame read back for the recorder (overlay by choice) and the sinks (never)
        self._record_buffer = np.empty((renderer.out_height, renderer.out_width, 3), dtype=np.uint8)
        self._sink_buffer = np.empty_like(self._record_buffer)

    # -- live ----------------------------------------------------------------------------------
    def stop(self) -> None:
        self.stop_event.set()

    def should_stop(self) -> bool:
        if self.stop_event.is_set() or self.target.should_close:
            return True
        return self.seconds is not None and self._t0 is not None and self.clock() - self._t0 >= self.seconds

    def warm_up(self, frame: Frame) -> None:
        """Upload and draw `frame` once, unshown, unrecorded and uncounted, before the clock starts:
        what a first draw builds (shader programs, the output stage's buffers, the upscaler's first
        pass, the readback) is then not paid inside the show's first seconds, nor counted in
        `seconds` or the recording."""
        self.renderer.upload(frame)
        self.target.use()
        self.renderer.draw(self.target.framebuffer_size, post={}, effects_on=self.target.effects_on)
        self.renderer.read_pixels(self._record_buffer)
        self.renderer.ctx.finish()

    def run(self) -> DisplayStats:
        """Tick until stopped; returns the final stats. The caller closes recorder and target."""
        while self.tick():
            pass
        return self.stats

    def tick(self) -> bool:
        """One iteration; False once the loop should stop (nothing drawn then)."""
        self._pace()
        now = self.clock()
        if self._t0 is None:
            self._t0 = now
        self.target.poll()
        if self.should_stop():
            return False
        frame = self.mailbox.get_latest() if self.mailbox is not None else None
        if frame is not None:
            self._upload_frame(frame)
        post = dict(self.post() if self.post else {})
        post.setdefault("time", now - self._t0)
        self._draw_once(post)
        self.target.present()
        shown = self.clock()
        if frame is not None and self.latency_of is not None:
            self._latency.add(1e3 * self.latency_of(frame))
        if self._last_tick is not None:
            self._intervals.add(shown - self._last_tick)
        self._last_tick = shown
        self._ticks += 1
        if self.recorder is not None:
            self._record_live(shown)
        if self.sinks is not None and frame is not None:
            self.sinks.send(self.renderer.read_pixels(self._sink_buffer))  # copied by the sink at once
        return True

    def _pace(self) -> None:
        if not self.period:
            return
        now = self.clock()
        if self._next_deadline is None or now - self._next_deadline > self.period:
            self._next_deadline = now  # first tick, or fell behind by a whole period: don't catch up
        elif self._next_deadline > now:
            time.sleep(self._next_deadline - now)
        self._next_deadline += self.period

    def _record_live(self, shown: float) -> None:
        # Constant-rate video in wall-clock time: frame k covers [k, k+1) / fps after the first image.
        due = int((shown - self._t0) * float(self.recorder.fps)) + 1
        if self._recorded >= due:
            return
        rgb = self.renderer.read_pixels(self._record_buffer, overlay=self.record_overlay)
        while self._recorded < due:
            self.recorder.write_video(rgb)
            self._recorded += 1

    # -- shared --------------------------------------------------------------------------------
    def _upload_frame(self, frame: Frame) -> None:
        start = time.perf_counter()
        self.renderer.upload(frame)
        self._upload.add(1e3 * (time.perf_counter() - start))
        self._last_frame = frame
        self._frames_new += 1

    def _draw_once(self, post: dict, overlay: list[str] | None = None, live: bool = True) -> None:
        start = time.perf_counter()
        self.target.use()
        if live and self.target.show_stats:
            stats = self.stats
            overlay = self.overlay_lines(stats) if self.overlay_lines else stats.lines()
        self.renderer.draw(self.target.framebuffer_size, post=post, effects_on=self.target.effects_on, overlay_lines=overlay)
        self.renderer.ctx.finish()  # so draw ms is GPU work done, not just commands queued
        self._draw.add(1e3 * (time.perf_counter() - start))

    # -- offline -------------------------------------------------------------------------------
    def step(self, frame: Frame, post: dict | None = None, overlay_lines: list[str] | None = None) -> np.ndarray:
        """Offline: upload `frame`, draw it once, write it to the recorder (if any) as exactly one
        video frame, return the program frame [out_h, out_w, 3] uint8 (with `overlay_lines` drawn
        into it when given). Same inputs -> same pixels.
        """
        self._upload_frame(frame)
        self._draw_once(dict(post or {}), overlay=overlay_lines, live=False)
        self.target.present()
        self._ticks += 1
        rgb = self.renderer.read_pixels(overlay=bool(overlay_lines))
        if self.recorder is not None:
            self.recorder.write_video(rgb)
            self._recorded += 1
        return rgb

    @property
    def stats(self) -> DisplayStats:
        mean_interval = self._intervals.mean()
        return DisplayStats(
            fps=1.0 / mean_interval if mean_interval > 0 else 0.0,
            ticks=self._ticks,
            frames_new=self._frames_new,
            dropped=self.mailbox.drops if self.mailbox is not None else 0,
            recorded=self._recorded,
            upload_ms=self._upload.summary() if len(self._upload) else {},
            draw_ms=self._draw.summary() if len(self._draw) else {},
            latency_ms=self._latency.summary() if len(self._latency) else {},
            frame_stats=dict(self._last_frame.stats) if self._last_frame is not None else {},
        )
