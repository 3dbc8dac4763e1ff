"""Decode an audio file (or a video's audio track) to mono float32 at the model's sample rate.

Limits, chosen for a live rig and said in the error messages: mono or stereo only (a multichannel
stem would need a mixdown the performer did not choose) and sample rates from 4 kHz up to 96 kHz
(below that, resampling to the model's rate would multiply a small file into gigabytes).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from livevis.errors import LivevisError

MAX_CHANNELS = 2
MAX_SAMPLE_RATE = 96_000
MIN_SAMPLE_RATE = 4_000


def _open_audio_stream(path: Path):
    import av  # PyAV: lazy, so light commands stay light

    if not path.exists():
        raise LivevisError(f"audio file not found: {path}")
    if path.is_dir():
        raise LivevisError(f"expected an audio file, got a directory: {path}")
    if path.stat().st_size == 0:
        raise LivevisError(f"audio file is empty: {path}")
    try:
        container = av.open(str(path), mode="r")
    except (av.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise LivevisError(f"not a readable audio file: {path} ({_short(exc)})") from None
    if not container.streams.audio:
        container.close()
        raise LivevisError(f"no audio stream in {path}")
    stream = container.streams.audio[0]
    if stream.codec_context is None:  # FFmpeg knows no decoder for what the header names
        container.close()
        raise LivevisError(f"not a readable audio file: {path} (no decoder for its audio codec)")
    channels = stream.codec_context.channels
    rate = stream.codec_context.sample_rate
    if not channels or not rate:
        container.close()
        raise LivevisError(f"not a readable audio file: {path} (no channel count or sample rate)")
    if channels > MAX_CHANNELS:
        container.close()
        raise LivevisError(f"{path} has {channels} channels; livevis reads mono or stereo files only")
    if rate > MAX_SAMPLE_RATE:
        container.close()
        raise LivevisError(f"{path} is {rate} Hz; livevis reads files up to {MAX_SAMPLE_RATE // 1000} kHz")
    if rate < MIN_SAMPLE_RATE:
        container.close()
        raise LivevisError(f"{path} is {rate} Hz; livevis reads files from {MIN_SAMPLE_RATE // 1000} kHz up")
    return container, stream


def _short(exc: BaseException) -> str:
    if getattr(exc, "strerror", None):
        return str(exc.strerror)
    return str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__


def load_audio(path: str | os.PathLike, sample_rate: int) -> np.ndarray:
    """Decode the first audio stream of `path` to mono float32 [N] at `sample_rate` Hz.

    wav, flac, ogg, mp3, m4a and the audio track of mp4/mkv (anything FFmpeg reads). Missing, empty,
    undecodable, audio-less, more than stereo or above 96 kHz -> LivevisError.
    """
    import av

    path = Path(path)
    container, stream = _open_audio_stream(path)
    # FFmpeg converts format and rate; the mixdown is our plain mean, as for the mic (FFmpeg's own
    # stereo->mono mix is -3 dB per channel, which would make files louder than the same live input).
    resampler = av.AudioResampler(format="fltp", rate=int(sample_rate))
    chunks: list[np.ndarray] = []
    try:
        for frame in container.decode(stream):
            for out in resampler.resample(frame):
                chunks.append(out.to_ndarray().mean(axis=0))  # [C, n] -> [n]
        for out in resampler.resample(None):
            chunks.append(out.to_ndarray().mean(axis=0))
    except av.FFmpegError as exc:
        raise LivevisError(f"could not decode {path}: {_short(exc)}") from None
    finally:
        container.close()
    samples = np.concatenate(chunks).astype(np.float32, copy=False) if chunks else np.zeros(0, np.float32)
    if samples.size == 0:
        raise LivevisError(f"no audio samples in {path}")
    return samples  # [N]


def load_audio_native(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """Decode the first audio stream of `path` as it is: (float32 [N, channels], its sample rate).

    No downmix and no resampling (only the sample format becomes float), for the program audio that
    recordings and playback carry. Same errors as `load_audio`.
    """
    import av

    path = Path(path)
    container, stream = _open_audio_stream(path)
    rate = int(stream.codec_context.sample_rate)
    channels = int(stream.codec_context.channels)
    layout = "mono" if channels == 1 else "stereo"
    resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate)  # format conversion only
    chunks: list[np.ndarray] = []
    try:
        for frame in container.decode(stream):
            for out in resampler.resample(frame):
                chunks.append(out.to_ndarray())  # [C, n]
        for out in resampler.resample(None):
            chunks.append(out.to_ndarray())
    except av.FFmpegError as exc:
        raise LivevisError(f"could not decode {path}: {_short(exc)}") from None
    finally:
        container.close()
    if not chunks or sum(c.shape[1] for c in chunks) == 0:
        raise LivevisError(f"no audio samples in {path}")
    samples = np.ascontiguousarray(np.concatenate(chunks, axis=1).T, dtype=np.float32)  # [N, C]
    return samples, rate
