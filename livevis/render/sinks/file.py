"""`file:PATH`: the frames a sink is sent, written to a video file (H.264 in .mp4 / .mkv / .mov).

A sink like the others (same worker, newest-only slot, drops counted), so it doubles as the stand-in
for device sinks where there is no device (CI). Frames are timed by when they were sent, so the
file's duration is the show's even when frames were dropped. Written atomically (whole or absent);
.mp4 and .mov as fragmented MP4, so a long show does not grow the muxer's in-memory index.
No extra, no licence beyond PyAV's (BSD) and its bundled FFmpeg.
"""

from __future__ import annotations

import contextlib
import fractions
from pathlib import Path

import numpy as np

from livevis.errors import LivevisError
from livevis.render.sinks.base import Sink
from livevis.util.atomic import atomic_path

FORMATS = {".mp4": "mp4", ".mkv": "matroska", ".mov": "mov"}


class FileSink(Sink):
    kind = "file"

    def __init__(self, target: str, **kw):
        super().__init__(target, **kw)
        self.path = Path(target)
        if self.path.suffix.lower() not in FORMATS:
            raise LivevisError(f"output file:{target}: use a .mp4, .mkv or .mov file name")
        if self.path.is_dir():
            raise LivevisError(f"output file:{target} is a directory")
        self._stack: contextlib.ExitStack | None = None
        self._container = None
        self._stream = None
        self._t0: float | None = None
        self._last_pts = -1

    def _open_device(self, width: int, height: int, fps: float) -> None:
        import av

        from livevis.render.recorder import FRAGMENTED_MP4

        if width % 2 or height % 2:
            raise LivevisError(f"output {self.spec}: H.264 needs an even size, got {width}x{height}")
        stack = contextlib.ExitStack()
        try:
            tmp = stack.enter_context(atomic_path(self.path))
            fmt = FORMATS[self.path.suffix.lower()]
            container = av.open(str(tmp), mode="w", format=fmt, options=dict(FRAGMENTED_MP4) if fmt != "matroska" else {})
        except OSError as exc:
            stack.close()
            raise LivevisError(f"output {self.spec}: cannot write: {exc.strerror or exc}") from None
        rate = fractions.Fraction(fps).limit_denominator(1001)
        stream = container.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": "20", "preset": "veryfast"}
        stream.codec_context.time_base = 1 / rate
        self._stack, self._container, self._stream = stack, container, stream

    def _write(self, frame: np.ndarray, when: float) -> None:
        import av

        if self._t0 is None:
            self._t0 = when
        # The frame's slot on the constant-rate grid, by the time it was sent (drops leave gaps).
        pts = max(self._last_pts + 1, int(round((when - self._t0) * self.fps)))
        image = av.VideoFrame.from_ndarray(frame, format="rgb24" if frame.shape[2] == 3 else "rgba")
        image.pts = pts
        image.time_base = self._stream.codec_context.time_base
        for packet in self._stream.encode(image):
            self._container.mux(packet)
        self._last_pts = pts

    def _close_device(self) -> None:
        stack, self._stack = self._stack, None
        if stack is None:
            return
        try:
            if self._last_pts < 0:  # nothing written: no file
                self._container.close()
                raise _Discard
            for packet in self._stream.encode(None):
                self._container.mux(packet)
            self._container.close()
        except _Discard:
            stack.__exit__(_Discard, _Discard(), None)
        except BaseException as exc:
            stack.__exit__(type(exc), exc, exc.__traceback__)
            raise
        else:
            stack.close()


class _Discard(Exception):
    """Internal: close without keeping the file."""
