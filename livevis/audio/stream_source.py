"""File and synth sources: samples from a producer function, at real-time pace or on demand.

- realtime=True: a thread writes ~10 ms chunks against the monotonic clock, so the ring looks like a
  live input. With playback, a sounddevice OutputStream's callback drives the pace instead and
  writes the very samples it plays, so what the performer hears is what the visuals see.
- realtime=False: nothing runs by itself; `advance(n)` pushes the next n samples (offline render).
"""

from __future__ import annotations

import threading
import time
from typing import Callable

import numpy as np

from livevis.audio.source import DEVICE_LOST, FINISHED, RUNNING, AudioSource
from livevis.errors import LivevisError

CHUNK_SECONDS = 0.01


class StreamSource(AudioSource):
    """`produce(start, n)` -> float32 [n] gives samples [start, start + n) of the signal.

    `length` is the number of samples (None = endless). With `loop`, a finite signal repeats.
    """

    def __init__(self, produce: Callable[[int, int], np.ndarray], length: int | None, *, sample_rate: int,
                 realtime: bool = True, loop: bool = False, playback: bool = False, ring_seconds: float = 10.0,
                 name: str = "stream"):
        super().__init__(sample_rate, ring_seconds)
        if length is not None and length <= 0:
            raise LivevisError(f"{name}: no samples to play")
        if playback and not realtime:
            raise ValueError("playback needs a realtime source")
        self.name = name
        self._produce = produce
        self._length = length
        self._loop = loop
        self._realtime = realtime
        self._playback = playback
        self._position = 0  # samples produced so far (absolute, grows past length when looping)
        self._thread: threading.Thread | None = None
        self._halt = threading.Event()
        self._out_stream = None

    # -- producing -------------------------------------------------------------------------------
    def _take(self, n: int) -> np.ndarray:
        """The next n samples (fewer at the end of a non-looping signal); advances the position."""
        if self._length is None:
            chunk = self._produce(self._position, n)
        elif self._loop:
            parts, pos, left = [], self._position % self._length, n
            while left > 0:
                k = min(left, self._length - pos)
                parts.append(self._produce(pos, k))
                pos, left = (pos + k) % self._length, left - k
            chunk = parts[0] if len(parts) == 1 else np.concatenate(parts)
        else:
            k = max(0, min(n, self._length - self._position))
            chunk = self._produce(self._position, k)
        self._position += len(chunk)
        return chunk

    def _ended(self) -> bool:
        return self._length is not None and not self._loop and self._position >= self._length

    def _push_taken(self, chunk: np.ndarray) -> None:
        """Push a chunk from `_take`; "finished" only once the last samples are readable."""
        self._push(chunk)
        if self._ended():
            self._state = FINISHED

    def advance(self, n: int) -> int:
        """Offline: push the next `n` samples now; returns how many were pushed (< n at the end)."""
        if self._realtime:
            raise RuntimeError("advance() is for sources opened with realtime=False")
        if self._state == FINISHED:
            return 0
        chunk = self._take(int(n))
        self._push_taken(np.ascontiguousarray(chunk, dtype=np.float32))
        return len(chunk)

    # -- lifecycle -------------------------------------------------------------------------------
    def _start(self) -> None:
        if not self._realtime:
            return
        self._halt.clear()
        if self._playback:
            self._open_playback()
        else:
            self._thread = threading.Thread(target=self._clock_loop, name=f"livevis-{self.name}", daemon=True)
            self._thread.start()

    def _stop(self) -> None:
        self._halt.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            self._thread = None
        if self._out_stream is not None:
            try:
                self._out_stream.close()
            except Exception:  # noqa: BLE001 - a dead output device must not break stop()
                pass
            self._out_stream = None

    def _clock_loop(self) -> None:
        t0 = time.monotonic()
        written = 0
        while not self._halt.is_set() and self._state != FINISHED:
            due = int((time.monotonic() - t0) * self.sample_rate) - written
            if due > 0:
                chunk = self._take(due)
                self._push_taken(np.ascontiguousarray(chunk, dtype=np.float32))
                written += due  # count the clock, not the chunk: the pace holds even at the end
            self._halt.wait(CHUNK_SECONDS)

    def _open_playback(self) -> None:
        from livevis.audio.devices import import_sounddevice

        sd = import_sounddevice()
        block = max(64, int(CHUNK_SECONDS * self.sample_rate))
        # Preallocated: the callback only produces into this buffer and copies it out twice.
        scratch = np.zeros(block, dtype=np.float32)

        def callback(outdata, frames, time_info, status):  # PortAudio thread
            if status.output_underflow:
                self._overflows += 1
            if self._state == FINISHED:
                outdata.fill(0)
                return
            chunk = self._take(frames)
            k = len(chunk)
            buf = scratch[:k] if k <= len(scratch) else np.empty(k, np.float32)
            buf[:] = chunk
            outdata[:k, 0] = buf
            outdata[k:, 0] = 0
            if outdata.shape[1] > 1:
                outdata[:, 1:] = outdata[:, :1]
            self._push_taken(buf)

        try:
            self._out_stream = sd.OutputStream(samplerate=self.sample_rate, channels=1, dtype="float32",
                                               blocksize=block, callback=callback)
            self._out_stream.start()
        except Exception as exc:  # noqa: BLE001 - PortAudio reports bad devices with assorted types
            self._out_stream = None
            self._state = DEVICE_LOST
            raise LivevisError(f"cannot play {self.name} to the default output device: {exc}") from None
        self._state = RUNNING
