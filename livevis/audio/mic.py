"""Live input through PortAudio, surviving unplugged devices.

Data path: PortAudio callback --copy--> raw ring [device rate, channels] --worker thread: mono mean,
streaming resample--> model-rate ring; the same worker copies the raw frames as they are into the
program ring (the device's rate and channels: what recordings carry). The callback only copies and notes the time; everything that
allocates or can be slow happens in the worker.

Device loss: when no callback has come for `lost_after` seconds the worker reports "device lost",
closes the stream, writes silence at real-time pace (indices keep rising, visuals keep going) and
tries to reopen the device by name about once a second; the first callback after a reopen switches
back to "running". Nothing raises into the caller after start().
"""

from __future__ import annotations

import contextlib
import threading
import time

import numpy as np

from livevis.audio.devices import import_sounddevice, quiet_stderr, resolve_input_device
from livevis.audio.program_audio import to_channels
from livevis.audio.resample import StreamResampler
from livevis.audio.ring import RingBuffer
from livevis.audio.source import DEVICE_LOST, RUNNING, ArrivalTable, AudioSource, SourceStatus
from livevis.errors import LivevisError

RAW_RING_SECONDS = 2.0
POLL_SECONDS = 0.005


class MicSource(AudioSource):
    def __init__(self, device: str | int | None = None, *, sample_rate: int, ring_seconds: float = 10.0,
                 lost_after: float = 1.0, retry_interval: float = 1.0, startup_grace: float = 3.0):
        info = resolve_input_device(device)  # unknown device -> LivevisError now, not mid-show
        # Program audio: the device's own rate and (up to two) channels, fixed at the first open.
        super().__init__(sample_rate, ring_seconds, program_rate=int(info["default_samplerate"]),
                         program_channels=min(2, int(info["channels"])))
        self.device_name: str = info["name"]
        self.lost_after = lost_after
        self.retry_interval = retry_interval
        self.startup_grace = startup_grace  # some servers take ~2 s to deliver the first block
        self._stream = None
        self._raw: RingBuffer | None = None
        self._raw_arrivals: ArrivalTable | None = None
        self._raw_read = 0
        self._last_callback = 0.0  # monotonic time of the newest callback (0 = none since open)
        self._callback_overflows = 0
        self._opened_at = 0.0
        self._resampler: StreamResampler | None = None
        self._program_resampler = None  # soxr stream, only if a reopened device changed its rate
        self._halt = threading.Event()
        self._worker: threading.Thread | None = None
        self._scratch = np.zeros((0, 1), dtype=np.float32)  # [capacity, channels] once opened
        self._generation = 0  # bumped per open; callbacks of older streams stop writing

    @property
    def status(self) -> SourceStatus:
        return SourceStatus(self._state, self._overflows + self._callback_overflows, self._message)

    # -- PortAudio ---------------------------------------------------------------------------------
    def _open_stream(self) -> None:
        """Open and start an InputStream on the device (by name, re-resolved: indices move on replug)."""
        sd = import_sounddevice()
        info = None
        with contextlib.suppress(LivevisError):
            info = resolve_input_device(self.device_name)
        if info is None:
            # A replugged USB device only shows up after PortAudio re-enumerates.
            with quiet_stderr():
                sd._terminate()
                sd._initialize()
            info = resolve_input_device(self.device_name)
        channels = min(2, info["channels"])
        rate = int(info["default_samplerate"])
        raw, arrivals = self._raw_buffers(rate, channels)
        self._generation += 1
        generation = self._generation

        def callback(indata, frames, time_info, status):  # PortAudio thread: copy and note, nothing else
            if generation != self._generation:  # a stream that failed to close must not write into the reused ring
                return
            if status.input_overflow:
                self._callback_overflows += 1
            raw.write(indata)
            now = time.monotonic()
            arrivals.add(raw.write_index, now)
            self._last_callback = now

        with quiet_stderr():
            stream = sd.InputStream(device=info["index"], channels=channels, samplerate=rate, dtype="float32",
                                    latency="low", callback=callback)
            try:
                stream.start()
            except BaseException:
                stream.close()
                raise
        self._raw_read = 0
        if self._resampler is None or self._resampler.in_rate != rate:
            self._resampler = StreamResampler(rate, self.sample_rate)
        else:
            self._resampler.reset()  # the gap makes the old filter state meaningless
        self._program_resampler = None
        if rate != self.program_rate:  # a replugged device that came back at another rate
            import soxr

            self._program_resampler = soxr.ResampleStream(rate, self.program_rate, self.program_channels,
                                                          dtype="float32", quality="HQ")
        self._pad_program()  # the program ring restarts at the model head's instant
        self._last_callback = 0.0
        self._opened_at = time.monotonic()
        self._stream = stream

    def _raw_buffers(self, rate: int, channels: int) -> tuple[RingBuffer, ArrivalTable]:
        """The raw ring, its arrival table and the worker's scratch, allocated once per (rate, channels).

        A fresh ~0.7 MB set per reopen is never handed back to the OS by glibc (a device retried once
        a second while unplugged grew the process steadily), so reopens reuse them, reset to index 0.
        Only called with the old stream closed and from the worker (or before it starts), so nothing
        reads or writes them meanwhile.
        """
        raw = self._raw
        if raw is None or raw.capacity != int(RAW_RING_SECONDS * rate) or raw.frame_shape != (channels,):
            raw = RingBuffer(int(RAW_RING_SECONDS * rate), frame_shape=(channels,))  # [capacity, channels]
            self._raw = raw
            self._raw_arrivals = ArrivalTable(rate, size=256)
            self._scratch = np.zeros((raw.capacity, channels), dtype=np.float32)  # [capacity, channels]
        else:
            raw.reset()
            self._raw_arrivals.reset()
        return raw, self._raw_arrivals

    def _close_stream(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            with contextlib.suppress(Exception), quiet_stderr():
                stream.abort()
            with contextlib.suppress(Exception), quiet_stderr():
                stream.close()

    # -- lifecycle ---------------------------------------------------------------------------------
    def _start(self) -> None:
        try:
            self._open_stream()
        except LivevisError:
            raise
        except Exception as exc:  # noqa: BLE001 - PortAudioError and friends
            raise LivevisError(f"cannot open audio input {self.device_name!r}: {_one_line(exc)}") from None
        self._state = RUNNING
        self._halt.clear()
        self._worker = threading.Thread(target=self._work, name="livevis-mic", daemon=True)
        self._worker.start()

    def _stop(self) -> None:
        self._halt.set()
        if self._worker is not None:
            self._worker.join(timeout=3.0)
            self._worker = None
        self._close_stream()

    # -- worker ------------------------------------------------------------------------------------
    def _drain(self) -> None:
        """Move new raw frames into the model-rate ring (mixdown + resample)."""
        raw = self._raw
        head = raw.write_index
        n = head - self._raw_read
        if n <= 0:
            return
        if n > raw.capacity:  # the worker fell behind the callback: count it, skip the lost part
            self._overflows += 1
            self._raw_read = head - raw.capacity
            n = raw.capacity
        frames = raw.read(self._raw_read, n, out=self._scratch[:n])  # [n, channels]
        self._raw_read = head
        program = to_channels(frames, self.program_channels)
        if self._program_resampler is not None:
            program = self._program_resampler.resample_chunk(np.ascontiguousarray(program))
        self._push_program(program)
        mono = frames.mean(axis=1, dtype=np.float32) if frames.shape[1] > 1 else frames[:, 0]
        out = self._resampler(np.ascontiguousarray(mono))
        if len(out):
            self._push(out, when=self._raw_arrivals.time_of(head))

    def _work(self) -> None:
        lost_since_index = 0
        lost_since_time = 0.0
        next_retry = 0.0
        while not self._halt.wait(POLL_SECONDS):
            try:
                now = time.monotonic()
                if self._state == RUNNING:
                    self._drain()
                    last = self._last_callback
                    silent_for = now - last if last else now - self._opened_at - self.startup_grace
                    if silent_for > self.lost_after:
                        lost_since_time = last if last else now
                        lost_since_index = self.write_index
                        # Fill the silent gap first, so the head is at "now" once readers see the state.
                        self._push_zeros(int((now - lost_since_time) * self.sample_rate), when=now)
                        self._pad_program()
                        self._message = f"no audio from {self.device_name!r}; retrying"
                        self._state = DEVICE_LOST
                        self._close_stream()
                        next_retry = now + self.retry_interval
                    continue
                # Device lost: silence at real-time pace, and a reopen about once a second.
                due = lost_since_index + int((now - lost_since_time) * self.sample_rate) - self.write_index
                if due > 0:
                    self._push_zeros(due, when=now)
                    self._pad_program()
                if self._stream is None and now >= next_retry:
                    next_retry = now + self.retry_interval
                    try:
                        self._open_stream()
                    except Exception as exc:  # noqa: BLE001 - still gone: try again later
                        self._message = f"{self.device_name!r} unavailable ({_one_line(exc)}); retrying"
                elif self._stream is not None:
                    if self._last_callback:
                        self._state = RUNNING
                        self._message = ""
                        self._drain()
                    elif now - self._opened_at > self.startup_grace + self.lost_after:
                        self._close_stream()  # opened but silent: try again
            except Exception as exc:  # noqa: BLE001 - the worker must outlive any surprise
                self._state = DEVICE_LOST
                self._message = f"audio input error: {_one_line(exc)}"
                lost_since_time, lost_since_index = time.monotonic(), self.write_index
                self._close_stream()
                next_retry = time.monotonic() + self.retry_interval


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__

