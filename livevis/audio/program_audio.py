"""Program audio: the input as it is heard (its own sample rate and channels), kept beside the
model-rate mono signal the analysis uses, for recordings, renders and playback.

Both signals run on one clock from the same stream start, so an absolute index at the model rate
maps to one at the program rate by the rate ratio alone (`program_index`). For a file the two are
decoded from the same frames; for the microphone the program samples are the device's own frames
and the model samples come out of a streaming resampler fed with them.
"""

from __future__ import annotations

import dataclasses
import os
import threading

import numpy as np


def program_index(model_index: int, model_rate: int, program_rate: int) -> int:
    """round(model_index * program_rate / model_rate), in exact integer arithmetic (halves round up)."""
    if model_rate == program_rate:
        return int(model_index)
    num = int(model_index) * int(program_rate)
    return (2 * num + int(model_rate)) // (2 * int(model_rate))


def model_index(program_idx: int, model_rate: int, program_rate: int) -> int:
    """The inverse mapping: round(program_idx * model_rate / program_rate)."""
    return program_index(program_idx, program_rate, model_rate)


@dataclasses.dataclass(frozen=True)
class ProgramAudio:
    """A decoded file at its own rate: samples float32 [N, channels] in [-1, 1]."""

    samples: np.ndarray  # [N, C]
    sample_rate: int

    @property
    def channels(self) -> int:
        return int(self.samples.shape[1])

    def __len__(self) -> int:
        return int(self.samples.shape[0])


def load_program_audio(path: str | os.PathLike) -> ProgramAudio:
    """Decode `path` without downmix or resampling (LivevisError for missing or bad files)."""
    from livevis.audio.decode import load_audio_native

    samples, rate = load_audio_native(path)
    return ProgramAudio(samples, rate)


def aac_bitrate(channels: int) -> int:
    """A sensible AAC bitrate: 128 kb/s mono, 192 kb/s stereo."""
    return 128_000 if channels == 1 else 192_000


def to_channels(frames: np.ndarray, channels: int) -> np.ndarray:
    """[n, c] -> [n, channels]: mono is repeated, stereo to mono is the plain mean (as the mic mixdown)."""
    c = frames.shape[1]
    if c == channels:
        return frames
    if channels == 1:
        return frames.mean(axis=1, keepdims=True, dtype=np.float32)
    if c == 1:
        return np.repeat(frames, channels, axis=1)
    raise ValueError(f"cannot map {c} channels to {channels}")


class ProgramAudioTap(threading.Thread):
    """Copies newly arrived program audio from a source into a sink with `write_audio([n, C])` (a
    Recorder), so a live recording carries the input as heard. Starts at the program index of `start`
    (a model-rate index, e.g. the audio index of the first shown frame; default: the head now).

    Reads exactly [last, head) each time (never read_last: a moved head would repeat samples). Falls
    behind by more than the buffer only if the process stalls for `buffer_seconds`; then it skips
    ahead and counts `skipped` frames.
    """

    def __init__(self, source, sink, *, start: int | None = None, period: float = 0.05, buffer_seconds: float = 2.0):
        super().__init__(name="livevis-record-audio", daemon=True)
        self.source, self.sink, self.period = source, sink, period
        self._halt = threading.Event()
        self._last = source.program_write_index if start is None else source.to_program_index(start)
        self.start_index = self._last  # program index of the recording's first audio frame
        self._buf = np.zeros((max(1, int(source.program_rate * buffer_seconds)), source.program_channels), np.float32)
        self.skipped = 0

    def run(self) -> None:
        while not self._halt.wait(self.period):
            self.flush()

    def flush(self) -> None:
        head = self.source.program_write_index
        n = head - self._last
        if n > self._buf.shape[0]:
            self.skipped += n - self._buf.shape[0]
            n = self._buf.shape[0]
        if n > 0:
            self.sink.write_audio(self.source.program_read(head - n, n, self._buf[:n]))  # [n, C]
        self._last = max(self._last, head)

    def stop(self) -> None:
        self._halt.set()
        if self.is_alive():
            self.join(timeout=1.0)
        self.flush()
