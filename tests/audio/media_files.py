"""Write real media files with PyAV for the decoder and file-source tests (one codec per container)."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

from livevis.audio.synth import make_signal

# extension -> (container format, audio codec, sample format the encoder takes). Opus (.ogg, .mkv)
# only takes 8/12/16/24/48 kHz.
AUDIO_CODECS = {
    ".wav": ("wav", "pcm_s16le", "s16"),
    ".flac": ("flac", "flac", "s16"),
    ".ogg": ("ogg", "libopus", "flt"),
    ".mp3": ("mp3", "libmp3lame", "fltp"),
    ".m4a": ("mp4", "aac", "fltp"),
    ".mp4": ("mp4", "aac", "fltp"),
    ".mkv": ("matroska", "libopus", "flt"),
}
_LAYOUTS = {1: "mono", 2: "stereo", 8: "7.1"}


def write_audio(path: str | Path, samples: np.ndarray, sample_rate: int, video: bool = False) -> Path:
    """Encode `samples` [N] or [channels, N] float in [-1, 1] to `path` (format from its extension).

    With `video`, a small moving-gray video track is added before the audio track (mp4/mkv).
    """
    path = Path(path)
    fmt, codec, sample_fmt = AUDIO_CODECS[path.suffix]
    planar = np.atleast_2d(np.asarray(samples, dtype=np.float32))  # [C, N]
    channels = planar.shape[0]
    with av.open(str(path), mode="w", format=fmt) as out:
        vstream = None
        if video:
            vstream = out.add_stream("mpeg4", rate=10)
            vstream.width, vstream.height, vstream.pix_fmt = 64, 48, "yuv420p"
        astream = out.add_stream(codec, rate=sample_rate)
        astream.layout = _LAYOUTS[channels]
        astream.format = sample_fmt
        if vstream is not None:
            seconds = planar.shape[1] / sample_rate
            for i in range(max(1, int(seconds * 10))):
                img = np.full((48, 64, 3), (i * 20) % 255, dtype=np.uint8)
                for packet in vstream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                    out.mux(packet)
            for packet in vstream.encode(None):
                out.mux(packet)
        block = 1024
        for start in range(0, planar.shape[1], block):
            chunk = planar[:, start : start + block]
            if sample_fmt == "s16":
                data = (np.clip(chunk, -1, 1) * 32767).astype(np.int16).T.reshape(1, -1)
            elif sample_fmt == "flt":
                data = np.ascontiguousarray(chunk.T).reshape(1, -1)
            else:  # planar float
                data = np.ascontiguousarray(chunk)
            frame = av.AudioFrame.from_ndarray(data, format=sample_fmt, layout=_LAYOUTS[channels])
            frame.sample_rate = sample_rate
            frame.pts = start
            for packet in astream.encode(frame):
                out.mux(packet)
        for packet in astream.encode(None):
            out.mux(packet)
    return path


def _video_only(path: Path) -> Path:
    with av.open(str(path), "w") as out:
        s = out.add_stream("mpeg4", rate=10)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        for _ in range(5):
            for packet in s.encode(av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), np.uint8), format="rgb24")):
                out.mux(packet)
        for packet in s.encode(None):
            out.mux(packet)
    return path


def bad_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """name -> (path, part of the expected message). Shared with the CLI tests."""
    tone = make_signal("sine", 0.3, 48000)
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    text = tmp_path / "notes.wav"
    text.write_text("these are my set notes, not audio\n" * 20)
    return {
        "missing": (tmp_path / "nope.wav", "not found"),
        "empty": (empty, "empty"),
        "text": (text, "not a readable audio file"),
        "8ch": (write_audio(tmp_path / "8ch.wav", np.stack([tone] * 8), 48000), "mono or stereo"),
        "192k": (write_audio(tmp_path / "192k.wav", make_signal("sine", 0.3, 192000), 192000), "96 kHz"),
        "no audio": (_video_only(tmp_path / "silent_film.mp4"), "no audio stream"),
        "directory": (tmp_path, "directory"),
    }
