"""The one interface every audio source offers: a model-rate mono ring, the program audio beside
it, a status and arrival times.

A source writes float32 mono samples at `sample_rate` into its RingBuffer from its own thread (or,
offline, from `advance`). Readers ask for "the last N samples ending now" plus the absolute index
of their end, and may map any index back to the monotonic time it arrived (audio-to-photon latency).

Program audio is the input as heard: a file's own rate and channels, the microphone's device rate
and channels. It lives in a second ring, [frames, program_channels] at `program_rate`, with absolute
indices of its own on the same clock: `to_program_index(i)` is where model index i falls in it.
Where the program is the model signal itself (synth inputs), there is no second ring.
"""

from __future__ import annotations

import dataclasses
import threading
import time

import numpy as np

from livevis.audio.program_audio import program_index
from livevis.audio.ring import RingBuffer

RUNNING = "running"
DEVICE_LOST = "device lost"
STOPPED = "stopped"
FINISHED = "finished"


@dataclasses.dataclass(frozen=True)
class SourceStatus:
    state: str  # "running" | "device lost" | "stopped" | "finished"
    overflows: int
    message: str = ""


class ArrivalTable:
    """(absolute sample index, monotonic time) per written chunk, in a small circular table.

    One writer appends after each chunk; `time_of` interpolates between the two entries around an
    index (extrapolating at the nominal rate outside the table).
    """

    def __init__(self, sample_rate: int, size: int = 512):
        self.sample_rate = sample_rate
        self._index = np.zeros(size, dtype=np.int64)
        self._time = np.zeros(size, dtype=np.float64)
        self._count = 0  # entries ever added

    def add(self, end_index: int, when: float) -> None:
        slot = self._count % len(self._index)
        self._index[slot] = end_index
        self._time[slot] = when
        self._count += 1

    def reset(self) -> None:
        """Forget every entry, keeping the arrays (the writer must be stopped)."""
        self._count = 0

    def time_of(self, index: int) -> float:
        count = self._count
        if count == 0:
            return time.monotonic()
        n = min(count, len(self._index))
        order = (np.arange(count - n, count) % len(self._index))  # oldest .. newest
        idx, tim = self._index[order], self._time[order]
        if index >= idx[-1] or n == 1:
            return float(tim[-1] + (index - idx[-1]) / self.sample_rate)
        if index <= idx[0]:
            return float(tim[0] + (index - idx[0]) / self.sample_rate)
        return float(np.interp(index, idx, tim))


class AudioSource:
    """Base of mic, file and synth sources. Subclasses implement `_start` / `_stop` and write into
    `self._ring` (via `_push` / `_push_zeros`)."""

    def __init__(self, sample_rate: int, ring_seconds: float = 10.0, *, program_rate: int | None = None,
                 program_channels: int = 1):
        self.sample_rate = int(sample_rate)
        self._ring_seconds = ring_seconds
        self._ring = RingBuffer(max(1, int(ring_seconds * self.sample_rate)))
        self.program_rate = int(program_rate or self.sample_rate)
        self.program_channels = int(program_channels)
        if self.program_rate <= 0 or self.program_channels not in (1, 2):
            raise ValueError(f"program audio must be mono or stereo at a positive rate, "
                             f"got {self.program_channels} ch at {self.program_rate} Hz")
        # None: the program is the model ring itself (same rate, mono).
        self._program_ring: RingBuffer | None = None
        if (self.program_rate, self.program_channels) != (self.sample_rate, 1):
            self._program_ring = RingBuffer(max(1, int(ring_seconds * self.program_rate)),
                                            frame_shape=(self.program_channels,))
        self._arrivals = ArrivalTable(self.sample_rate)
        self._state = STOPPED
        self._message = ""
        self._overflows = 0
        self._lock = threading.Lock()  # guards start/stop only, never the data path
        self._started = False

    # -- reading ---------------------------------------------------------------------------------
    def read_last(self, n: int, out: np.ndarray | None = None) -> tuple[np.ndarray, int]:
        """(float32 [n] ending at the write head, absolute index of its end); zero-padded at the front."""
        return self._ring.read_last(n, out)

    def read(self, start: int, n: int, out: np.ndarray | None = None) -> np.ndarray:
        """float32 [n]: samples [start, start + n) by absolute index (zeros where not, or no longer, held)."""
        return self._ring.read(start, n, out)

    @property
    def write_index(self) -> int:
        return self._ring.write_index

    # -- program audio (what recordings and playback carry) ------------------------------------
    @property
    def program_write_index(self) -> int:
        """Absolute index (at program_rate) of the program ring's write head."""
        ring = self._program_ring
        return self._ring.write_index if ring is None else ring.write_index

    def program_read(self, start: int, n: int, out: np.ndarray | None = None) -> np.ndarray:
        """float32 [n, program_channels]: program frames [start, start + n) by absolute program index
        (zeros where not, or no longer, held)."""
        if out is None:
            out = np.empty((n, self.program_channels), dtype=np.float32)
        if self._program_ring is None:
            if out.flags.c_contiguous:
                self._ring.read(start, n, out.reshape(n))  # [n, 1] viewed as [n]
            else:
                out[:, 0] = self._ring.read(start, n)
            return out
        return self._program_ring.read(start, n, out)

    def to_program_index(self, model_index: int) -> int:
        """The program-rate index at the same instant as model-rate `model_index`."""
        return program_index(model_index, self.sample_rate, self.program_rate)

    @property
    def status(self) -> SourceStatus:
        return SourceStatus(self._state, self._overflows, self._message)

    @property
    def finished(self) -> bool:
        return self._state == FINISHED

    def arrival_time(self, index: int) -> float:
        """time.monotonic() at which absolute sample `index` arrived in the ring."""
        return self._arrivals.time_of(index)

    # -- writing (the source's own thread) -------------------------------------------------------
    def _push(self, samples: np.ndarray, when: float | None = None) -> None:
        assert samples.ndim == 1 and samples.dtype == np.float32, (samples.shape, samples.dtype)
        self._ring.write(samples)
        self._arrivals.add(self._ring.write_index, time.monotonic() if when is None else when)

    def _push_zeros(self, n: int, when: float | None = None) -> None:
        self._ring.write_zeros(n)
        self._arrivals.add(self._ring.write_index, time.monotonic() if when is None else when)

    def _push_program(self, frames: np.ndarray) -> None:
        """frames: float32 [n, program_channels] after the program head (no-op where the program is the
        model ring itself)."""
        if self._program_ring is not None:
            self._program_ring.write(frames)

    def _pad_program(self) -> None:
        """Silence in the program ring up to the model head's instant (after gaps such as a lost device)."""
        ring = self._program_ring
        if ring is not None:
            ring.write_zeros(self.to_program_index(self._ring.write_index) - ring.write_index)

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> "AudioSource":
        with self._lock:
            if not self._started:
                self._started = True
                self._state = RUNNING
                try:
                    self._start()
                except BaseException:
                    self._started = False
                    self._state = STOPPED
                    raise
        return self

    def stop(self) -> None:
        with self._lock:
            if self._started:
                self._started = False
                self._stop()
                if self._state != FINISHED:
                    self._state = STOPPED

    def _start(self) -> None:
        raise NotImplementedError

    def _stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> "AudioSource":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
