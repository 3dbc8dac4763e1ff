"""A preallocated float32 ring buffer with an absolute write index.

One writer (the PortAudio callback, or a source's worker thread) and any number of readers. The
writer only copies into preallocated memory and then publishes the new write index; readers copy
out and check afterwards that the writer did not lap them during the copy (a seqlock without a
lock), so the writer never waits on a reader.
"""

from __future__ import annotations

import numpy as np


class RingBuffer:
    """`capacity` frames of `frame_shape` float32 values (frame_shape=() for mono samples).

    `write_index` counts every frame ever written; it never wraps, so it doubles as the absolute
    sample index of the write head.
    """

    def __init__(self, capacity: int, frame_shape: tuple[int, ...] = ()):
        if capacity <= 0:
            raise ValueError(f"ring capacity must be positive, got {capacity}")
        self.capacity = int(capacity)
        self.frame_shape = tuple(frame_shape)
        self._data = np.zeros((self.capacity, *self.frame_shape), dtype=np.float32)  # [capacity, *frame_shape]
        self._write_index = 0
        # Frames below `_claimed - capacity` may be mid-overwrite; set before copying, >= _write_index.
        self._claimed = 0

    @property
    def write_index(self) -> int:
        return self._write_index

    def reset(self) -> None:
        """Start over at index 0 with the same memory (only when neither a writer nor a reader is active)."""
        self._write_index = 0
        self._claimed = 0

    def write(self, frames: np.ndarray) -> None:
        """Copy `frames` [n, *frame_shape] in after the write head (keeps the last `capacity` if longer)."""
        n = len(frames)
        if n == 0:
            return
        assert frames.shape[1:] == self.frame_shape, (frames.shape, self.frame_shape)
        start = self._write_index
        if n > self.capacity:
            frames = frames[n - self.capacity :]
            start += n - self.capacity
        self._claimed = self._write_index + n
        self._copy_in(start, frames)
        self._write_index += n  # publish last: readers never see frames before they are copied

    def write_zeros(self, n: int) -> None:
        """Advance the write head by `n` frames of silence."""
        if n <= 0:
            return
        start = self._write_index + max(0, n - self.capacity)
        count = min(n, self.capacity)
        pos = start % self.capacity
        first = min(count, self.capacity - pos)
        self._claimed = self._write_index + n
        self._data[pos : pos + first] = 0.0
        self._data[: count - first] = 0.0
        self._write_index += n

    def _copy_in(self, start: int, frames: np.ndarray) -> None:
        n = len(frames)
        pos = start % self.capacity
        first = min(n, self.capacity - pos)
        self._data[pos : pos + first] = frames[:first]
        if first < n:
            self._data[: n - first] = frames[first:]

    def read(self, start: int, n: int, out: np.ndarray | None = None) -> np.ndarray:
        """Frames [start, start + n) by absolute index; positions not (or no longer) held read as zeros."""
        if out is None:
            out = np.empty((n, *self.frame_shape), dtype=np.float32)
        assert out.shape == (n, *self.frame_shape), (out.shape, n, self.frame_shape)
        while True:
            head = self._write_index
            lo = max(start, head - self.capacity, 0)  # oldest frame still held
            hi = min(start + n, head)
            out[: max(0, min(n, lo - start))] = 0.0
            if hi > lo:
                pos = lo % self.capacity
                count = hi - lo
                first = min(count, self.capacity - pos)
                dst = out[lo - start : hi - start]
                dst[:first] = self._data[pos : pos + first]
                dst[first:] = self._data[: count - first]
            out[max(0, hi - start) :] = 0.0
            # If the writer claimed frames past lo + capacity while we copied, `dst` may be torn: retry.
            if hi <= lo or self._claimed - self.capacity <= lo:
                return out

    def read_last(self, n: int, out: np.ndarray | None = None) -> tuple[np.ndarray, int]:
        """The last `n` frames ending at the write head, and the absolute index of their end.

        Zero-padded at the front when fewer than `n` frames were written (or fit in the ring).
        """
        for _ in range(100):
            end = self._write_index
            out = self.read(end - n, n, out)
            # If the writer lapped the front of the window meanwhile, those frames read as zeros:
            # take a newer window instead (a reader that slow gets the newest data, not a hole).
            if self._claimed - self.capacity <= max(end - n, end - self.capacity, 0):
                break
        return out, end
