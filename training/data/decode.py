"""Decode one video file with PyAV into fixed-length clips: square frames at a fixed rate plus mono audio."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import av
import numpy as np
from PIL import Image

from livevis.training.data.store import ClipFormat  # noqa: F401 - the format clips are cut to


class SkipFile(Exception):
    """This file cannot be used; the message says why (it goes into the report)."""


def _square(img: np.ndarray, size: int) -> np.ndarray:
    """[H, W, 3] uint8 -> center crop -> [size, size, 3] uint8."""
    h, w = img.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    crop = Image.fromarray(img[top : top + side, left : left + side])
    return np.asarray(crop.resize((size, size), Image.Resampling.BICUBIC, reducing_gap=2.0))


def decode_audio(path: Path, sample_rate: int) -> np.ndarray:
    """The whole first audio track as mono float32 [samples], timeline starting at the video's t=0."""
    with av.open(str(path)) as container:
        if not container.streams.audio:
            raise SkipFile("no audio track")
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
        chunks: list[np.ndarray] = []
        first_time = None
        for frame in container.decode(stream):
            if first_time is None and frame.time is not None:
                first_time = float(frame.time)
            for out in resampler.resample(frame):
                chunks.append(out.to_ndarray().reshape(-1))
        for out in resampler.resample(None):
            chunks.append(out.to_ndarray().reshape(-1))
    if not chunks:
        raise SkipFile("audio track has no samples")
    audio = np.concatenate(chunks).astype(np.float32)
    # Align to the video's t=0: pad a late start with silence, drop samples before 0 (codec priming).
    lead = int(round((first_time or 0.0) * sample_rate))
    if lead > 0:
        return np.concatenate([np.zeros(lead, np.float32), audio])
    return audio[-lead:] if lead < 0 else audio


def iter_clips(path: Path, fmt: ClipFormat) -> Iterator[tuple[float, np.ndarray, np.ndarray]]:
    """Yield (start seconds, frames uint8 [T, S, S, 3], audio float32 [samples]) for each whole clip.

    Video is resampled to `fps` by taking, for each output instant k/fps, the latest decoded frame at
    or before it, and is streamed so long videos never sit in memory at once.
    """
    try:
        audio = decode_audio(path, fmt.sample_rate)
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise SkipFile("no video track")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            start = None
            held: list[np.ndarray] = []       # output frames of the clip being filled
            k = 0                              # next output frame index
            last = None                        # latest decoded frame (already squared)
            for frame in container.decode(stream):
                t = float(frame.time) if frame.time is not None else k / fmt.fps
                if start is None:
                    start = t
                t -= start
                # Emit all output instants strictly before this frame's time with the previous frame.
                while last is not None and k / fmt.fps < t - 1e-6:
                    held.append(last)
                    k += 1
                    if len(held) == fmt.frames:
                        yield from _emit(held, audio, k, fmt)
                        held = []
                last = _square(frame.to_ndarray(format="rgb24"), fmt.size)
            if last is not None:
                # The final frame covers its own instant.
                held.append(last)
                k += 1
                if len(held) == fmt.frames:
                    yield from _emit(held, audio, k, fmt)
    except SkipFile:
        raise
    except (av.FFmpegError, OSError, ValueError, EOFError) as exc:
        raise SkipFile(f"cannot decode: {exc.__class__.__name__}: {exc}") from None


def _emit(held: list[np.ndarray], audio: np.ndarray, k_end: int, fmt: ClipFormat):
    k0 = k_end - fmt.frames
    a0 = int(round(k0 / fmt.fps * fmt.sample_rate))
    sound = audio[a0 : a0 + fmt.samples]
    if len(sound) < fmt.samples:
        return  # audio track shorter than the video: stop at the last whole clip
    yield k0 / fmt.fps, np.stack(held), np.ascontiguousarray(sound)
