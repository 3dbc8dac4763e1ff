"""Small test videos written with PyAV: solid-colour frames with a moving bar, optional sine audio."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np


def make_video(path: Path, *, seconds: float = 2.5, fps: int = 24, width: int = 80, height: int = 48,
               colour=(200, 40, 40), audio: bool = True, sample_rate: int = 22050, tone_hz: float = 440.0) -> Path:
    """Write an mp4 (H.264 + AAC). Frame k is `colour` with a white bar at column k (so frames differ)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    n = int(round(seconds * fps))
    with av.open(str(path), "w", format="mp4") as out:
        vs = out.add_stream("libx264", rate=fps)
        vs.width, vs.height, vs.pix_fmt = width, height, "yuv420p"
        if audio:
            as_ = out.add_stream("aac", rate=sample_rate)
            as_.layout = "mono"
        for k in range(n):
            img = np.empty((height, width, 3), np.uint8)
            img[:] = colour
            img[:, (k * 2) % width] = 255
            for pkt in vs.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(pkt)
        for pkt in vs.encode():
            out.mux(pkt)
        if audio:
            t = np.arange(int(seconds * sample_rate)) / sample_rate
            wave = (0.3 * np.sin(2 * np.pi * tone_hz * t)).astype(np.float32)[None]
            frame = av.AudioFrame.from_ndarray(wave, format="flt", layout="mono")
            frame.sample_rate = sample_rate
            for pkt in as_.encode(frame):
                out.mux(pkt)
            for pkt in as_.encode():
                out.mux(pkt)
    return path


def make_corrupt(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8)
    return path


def make_video_tree(root: Path) -> Path:
    """VIDEO_DIR with classes red/ and blue/, one video without audio, one corrupt file."""
    make_video(root / "red" / "r1.mp4", colour=(200, 30, 30))
    make_video(root / "red" / "r2.mp4", colour=(220, 60, 40), seconds=4.3)
    make_video(root / "blue" / "b1.mp4", colour=(30, 40, 210), tone_hz=880)
    make_video(root / "blue" / "silent.mp4", colour=(30, 40, 200), audio=False)
    make_corrupt(root / "blue" / "broken.mp4")
    return root
