"""A live show: audio source -> inference thread -> mailbox -> display loop (window or EGL) -> recorder.

`LiveShow` wires the parts that `livevis run` and `livevis bench` share and owns their lifetimes, so
every exit path (q, --seconds, end of file, Ctrl-C, SIGTERM, an error) stops the threads, finalises
the recording and releases the device.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from dataclasses import dataclass


from livevis.audio.program_audio import ProgramAudioTap
from livevis.errors import LivevisError
from livevis.pipeline.live import InferenceWorker
from livevis.pipeline.modules import LiveModules
from livevis.render.display_loop import DisplayLoop, DisplayStats
from livevis.render.frame import Frame
from livevis.render.mailbox import Mailbox
from livevis.render.renderer import Renderer


@dataclass
class ShowOptions:
    size: int  # window edge in pixels when window_size is None
    fps: float = 30.0
    seconds: float | None = None
    headless: bool = False
    record: str | None = None
    fullscreen: bool = False
    monitor: int = 0
    vsync: bool = True
    stop_at_end: bool = True  # a file input that ends (without --loop) ends the show
    interop: bool = False  # frames stay on the GPU and reach GL through CUDA-GL interop
    window_size: tuple[int, int] | None = None  # window (w, h); None: size x size (headless: the output size)
    out_size: tuple[int, int] | None = None  # program frame (w, h): shown, recorded, sent; None: the window's size
    fit: str = "cover"  # contain | cover | stretch (livevis.render.output_stage)
    resample: str = "lanczos"  # GL resampler of the output stage: lanczos | bilinear
    record_overlay: bool = False  # burn the stats overlay into the recording

    @property
    def window(self) -> tuple[int, int]:
        return self.window_size or (self.size, self.size)

    @property
    def output(self) -> tuple[int, int]:
        return self.out_size or self.window


def post_values(p, level: float, onset: float, time: float | None = None) -> dict:
    """The post stage's inputs for one frame: the reaction plus the picture parameters."""
    out = {"level": level * p["effect_amount"], "onset": onset * p["effect_amount"], "brightness": p["brightness"],
           "blackout": p["blackout"], "effects": p["effects"]}
    if time is not None:
        out["time"] = time
    return out


def worker_failure(worker: InferenceWorker) -> Exception:
    """What a show ends with when its inference thread died: a LivevisError stays one line for the
    user; anything else is a bug and keeps its traceback (chained)."""
    if isinstance(worker.exception, LivevisError):
        return LivevisError(worker.error)
    failure = RuntimeError(worker.error)
    failure.__cause__ = worker.exception
    return failure


class LiveShow:
    def __init__(self, modules: LiveModules, source, options: ShowOptions, *, params=None, bank=None, text_embed=None,
                 target=None, sinks=None):
        """sinks: a SinkGroup (--output) fed with each new program frame, or None."""
        from livevis.control import live_params

        self.modules = modules
        self.source = source
        self.opt = options
        self.params = params if params is not None else live_params()
        self.bank = bank
        self.text_embed = text_embed
        self._target = target
        self.sinks = sinks
        self.worker: InferenceWorker | None = None
        self.loop: DisplayLoop | None = None
        self.recorder = None

    def _make_target(self):
        if self._target is not None:
            return self._target
        if self.opt.headless:
            from livevis.render.offscreen import Offscreen

            return Offscreen(*self.opt.output)  # headless: the framebuffer is the program frame, 1:1
        from livevis.render.window import Window

        return Window(*self.opt.window, "livevis", vsync=self.opt.vsync, fullscreen=self.opt.fullscreen,
                      monitor=self.opt.monitor)  # space: counted by the window, polled in run()

    def _new_seed(self) -> None:
        if self.worker is not None:
            self.worker.request_seed(self.worker.seed + 1)

    def _post(self) -> dict:
        r = self.worker.reactivity
        return post_values(self.params.snapshot(), r.level, r.onset)

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
            out_w, out_h = self.opt.output
            renderer = Renderer(target.ctx, res, res, out_size=(out_w, out_h), fit=self.opt.fit, resample=self.opt.resample)
            stack.callback(renderer.release)
            mailbox = Mailbox()
            if self.opt.record:
                # The program frame (output size, post effects, no overlay unless asked), audio muxed.
                # The input's own audio: a file's rate and channels, the microphone's device rate.
                self.recorder = Recorder(self.opt.record, out_w, out_h, self.opt.fps, self.source.program_rate,
                                         channels=self.source.program_channels, fragmented=True)
                stack.callback(self.recorder.close)
            if self.sinks is not None:
                self.sinks.open(out_w, out_h, self.opt.fps)
                stack.callback(self._close_sinks)
            self.worker = InferenceWorker(self.modules, self.source, mailbox, fps=self.opt.fps, params=self.params,
                                          bank=self.bank, text_embed=self.text_embed, interop=self.opt.interop)
            self.worker.warm_up()  # before the input starts: a file must not play on while first calls compile
            self.source.start()
            stack.callback(self.source.stop)
            stop = threading.Event()
            self.loop = DisplayLoop(target, renderer, mailbox, fps=None if (not self.opt.headless and self.opt.vsync) else self.opt.fps,
                                    post=self._post, latency_of=self._latency, overlay_lines=self._overlay,
                                    recorder=self.recorder, seconds=self.opt.seconds, stop_event=stop,
                                    sinks=self.sinks, record_overlay=self.opt.record_overlay)
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
            self.loop.warm_up(first)  # before the show's clock and recording start
            mailbox.put(first)
            if self.recorder is not None:
                # The recording starts now, with the first shown frame: audio from here on only.
                tap = ProgramAudioTap(self.source, self.recorder)
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

    def tap(self) -> None:
        """Tap tempo (keys, OSC, MIDI, the web page)."""
        if self.worker is not None:
            self.worker.tap()

    def state(self) -> dict:
        """The show's live figures for the web page and OSC out (read from other threads)."""
        w, loop = self.worker, self.loop
        out: dict = {"device": self.source.status.state}
        if loop is not None:
            stats = loop.stats
            out["fps"] = round(stats.fps, 1)
            if stats.latency_ms:
                out["latency_ms"] = round(stats.latency_ms["median"], 1)
        if w is not None:
            f = w.scene.analyzer.features
            out.update(level=round(w.reactivity.rms_db, 1), bpm=None if f.bpm is None else round(f.bpm, 1),
                       beat=round(f.beat_phase, 3), mode=w.scene.mode)
            heard = w.scene.heard()
            if heard is not None:
                out.update(heard=heard[0], heard_p=round(heard[1], 2))
            # Onset -> motion: processing latency plus half an analysis block (the pulse itself lands
            # in the frame that sees the onset; livevis bench measures the rendered response).
            if "latency_ms" in out:
                out["response_ms"] = round(out["latency_ms"] + 500.0 * w.scene.analyzer.block_seconds, 1)
        return out

    def _close_sinks(self) -> None:
        self.sinks.close()
        for spec, st in self.sinks.stats().items():
            line = f"livevis: output {spec}: {st.sent} frames sent, {st.dropped} dropped"
            print(line + (f", stopped: {st.error}" if st.error else ""), file=sys.stderr)

    def _stop_worker(self) -> None:
        if self.worker is not None:
            self.worker.stop()
            self.worker.join(timeout=5.0)
