"""File and synth sources: samples from a producer function, at real-time pace or on demand.

- realtime=True: a thread writes ~10 ms chunks against the monotonic clock, so the ring looks like a
  live input. With playback, a sounddevice OutputStream's callback drives the pace instead and
  writes the very samples it plays, so what the performer hears is what the visuals see.
- realtime=False: nothing runs by itself; `advance(n)` pushes the next n samples (offline render).

Program audio (a file's own rate and channels, `program=`) follows the model-rate signal on the
same clock: after each model chunk the program ring is filled up to `to_program_index` of the model
head. With playback the output stream runs at the program's rate and channels, plays the program
samples and the model signal follows them instead. A looping file wraps each signal at its own
length, so the two drift apart by under one model sample per loop.
"""

from __future__ import annotations

import threading
import time
from typing import Callable

import numpy as np

from livevis.audio.program_audio import program_index
from livevis.audio.source import DEVICE_LOST, FINISHED, RUNNING, AudioSource
from livevis.errors import LivevisError

CHUNK_SECONDS = 0.01


class StreamSource(AudioSource):
    """`produce(start, n)` -> float32 [n] gives samples [start, start + n) of the signal.

    `length` is the number of samples (None = endless). With `loop`, a finite signal repeats.
    `program(start, n)` -> float32 [n, program_channels] gives the program audio at `program_rate`
    (`program_length` frames; finite signals only); None: the program is the model signal.
    """

    def __init__(self, produce: Callable[[int, int], np.ndarray], length: int | None, *, sample_rate: int,
                 realtime: bool = True, loop: bool = False, playback: bool = False, ring_seconds: float = 10.0,
                 name: str = "stream", program: Callable[[int, int], np.ndarray] | None = None,
                 program_length: int | None = None, program_rate: int | None = None, program_channels: int = 1):
        if program is not None and (length is None or not program_length or not program_rate):
            raise ValueError("program audio needs a finite signal, its length and its rate")
        if program is None:
            program_rate, program_channels = None, 1
        super().__init__(sample_rate, ring_seconds, program_rate=program_rate, program_channels=program_channels)
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
        self._program = program if self._program_ring is not None else None
        self._program_length = program_length
        self._program_position = 0  # program frames produced so far (absolute)
        self._thread: threading.Thread | None = None
        self._halt = threading.Event()
        self._out_stream = None

    # -- producing -------------------------------------------------------------------------------
    def _slice(self, produce, length: int | None, position: int, n: int) -> np.ndarray:
        """n items of a signal from absolute `position` (fewer at the end of a non-looping signal)."""
        if length is None:
            return produce(position, n)
        if self._loop:
            parts, pos, left = [], position % length, n
            while left > 0:
                k = min(left, length - pos)
                parts.append(produce(pos, k))
                pos, left = (pos + k) % length, left - k
            return parts[0] if len(parts) == 1 else np.concatenate(parts)
        return produce(position, max(0, min(n, length - position)))

    def _take(self, n: int) -> np.ndarray:
        """The next n samples (fewer at the end of a non-looping signal); advances the position."""
        chunk = self._slice(self._produce, self._length, self._position, n)
        self._position += len(chunk)
        return chunk

    def _take_program(self, n: int) -> np.ndarray:
        """The next n program frames [n, C] (fewer at the end); advances the program position."""
        chunk = self._slice(self._program, self._program_length, self._program_position, n)
        self._program_position += len(chunk)
        return chunk

    def _ended(self) -> bool:
        return self._length is not None and not self._loop and self._position >= self._length

    def _push_taken(self, chunk: np.ndarray, follow: bool = True) -> None:
        """Push a chunk from `_take` (and, with `follow`, the program audio up to the same instant);
        "finished" only once the last samples are readable."""
        if follow and self._program is not None:
            end = self.to_program_index(self._position)
            if self._ended():
                end = self._program_length  # the whole file, whatever the rounding
            due = end - self._program_position
            if due > 0:
                self._push_program(np.ascontiguousarray(self._take_program(due), dtype=np.float32))
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
        if self._program is not None:
            return self._open_program_playback()
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

        self._start_output(sd, self.sample_rate, 1, block, callback)

    def _open_program_playback(self) -> None:
        """Play the program audio at its own rate and channels; the model signal follows it."""
        from livevis.audio.devices import import_sounddevice

        sd = import_sounddevice()
        rate, channels = self.program_rate, self.program_channels
        block = max(64, int(CHUNK_SECONDS * rate))

        def callback(outdata, frames, time_info, status):  # PortAudio thread: slices and copies only
            if status.output_underflow:
                self._overflows += 1
            if self._state == FINISHED:
                outdata.fill(0)
                return
            chunk = self._take_program(frames)  # [k, C], a view of the decoded file (or a loop's seam)
            k = len(chunk)
            outdata[:k] = chunk
            outdata[k:] = 0
            self._push_program(outdata[:k])
            # The model signal up to the same instant (all of it once the program has ended).
            end = self._length if (k < frames and not self._loop) else \
                program_index(self._program_position, rate, self.sample_rate)
            self._push_taken(self._take(max(0, end - self._position)), follow=False)

        self._start_output(sd, rate, channels, block, callback)

    def _start_output(self, sd, rate: int, channels: int, block: int, callback) -> None:
        try:
            self._out_stream = sd.OutputStream(samplerate=rate, channels=channels, dtype="float32",
                                               blocksize=block, callback=callback)
            self._out_stream.start()
        except Exception as exc:  # noqa: BLE001 - PortAudio reports bad devices with assorted types
            self._out_stream = None
            self._state = DEVICE_LOST
            raise LivevisError(f"cannot play {self.name} to the default output device: {exc}") from None
        self._state = RUNNING
