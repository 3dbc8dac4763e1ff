"""Decode what livevis writes (PyAV) and measure it."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np


def decode_video(path: str | Path) -> np.ndarray:
    """All frames as [N, H, W, 3] uint8."""
    with av.open(str(path)) as c:
        return np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)])


def decode_audio(path: str | Path) -> tuple[np.ndarray, int]:
    """Mono float32 [N] and its sample rate."""
    with av.open(str(path)) as c:
        stream = c.streams.audio[0]
        chunks = [f.to_ndarray().astype(np.float32).reshape(f.to_ndarray().shape[0], -1).mean(axis=0)
                  for f in c.decode(stream)]
        return np.concatenate(chunks), stream.codec_context.sample_rate


def stream_kinds(path: str | Path) -> list[str]:
    with av.open(str(path)) as c:
        return [s.type for s in c.streams]


def durations(path: str | Path) -> dict[str, float]:
    """Seconds per stream type, from the decoded content (frames / samples)."""
    frames = decode_video(path)
    with av.open(str(path)) as c:
        rate = float(c.streams.video[0].average_rate)
    samples, sr = decode_audio(path)
    return {"video": len(frames) / rate, "audio": samples.shape[0] / sr}


def dominant_hz(samples: np.ndarray, sample_rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(samples.shape[0])))
    return float(np.fft.rfftfreq(samples.shape[0], 1.0 / sample_rate)[np.argmax(spectrum)])


def mean_motion(frames: np.ndarray) -> float:
    """Mean absolute frame-to-frame change (0..255)."""
    f = frames.astype(np.float32)
    return float(np.abs(np.diff(f, axis=0)).mean())
