"""Streaming resampling from a device's rate to the model's rate, continuous across chunks."""

from __future__ import annotations

import numpy as np


class StreamResampler:
    """Mono float32 resampler (soxr, high quality) that keeps its filter state between chunks.

    Feeding a signal in any chunking gives the same output as feeding it whole (up to soxr's delay,
    which it emits as the stream goes on). With equal rates it passes samples through untouched.
    """

    def __init__(self, in_rate: int, out_rate: int):
        self.in_rate = int(in_rate)
        self.out_rate = int(out_rate)
        self._stream = None
        self.reset()

    def reset(self) -> None:
        """Start a fresh stream (after a gap such as a lost device: old filter state is meaningless)."""
        if self.in_rate != self.out_rate:
            import soxr  # arrives with librosa

            self._stream = soxr.ResampleStream(self.in_rate, self.out_rate, 1, dtype="float32", quality="HQ")

    def __call__(self, chunk: np.ndarray) -> np.ndarray:
        """chunk: [n] float32 at in_rate -> [m] float32 at out_rate (m ~ n * out_rate / in_rate)."""
        assert chunk.ndim == 1, chunk.shape
        if self._stream is None:
            return chunk
        return self._stream.resample_chunk(np.ascontiguousarray(chunk, dtype=np.float32))
