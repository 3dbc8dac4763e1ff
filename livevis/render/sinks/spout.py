"""`spout:NAME`: a Spout sender on Windows (Resolume, TouchDesigner, OBS with the Spout plugin).

Extra `spout` (Windows only): `pip install 'livevis[spout]'` installs SpoutGL (BSD-licensed wrapper
of the Spout2 SDK, BSD-2-Clause). Spout shares OpenGL textures, so the sink's worker thread makes a
hidden GLFW window for its own GL context (GLFW is already a livevis dependency) and sends each frame
with sendImage. Elsewhere the kind is listed as unavailable ("Windows only"); this code path is
written against SpoutGL's API and guarded by platform and import, but is not run on Linux CI.
"""

from __future__ import annotations

import sys

import numpy as np

from livevis.errors import LivevisError
from livevis.render.sinks.base import Sink, to_rgba

EXTRA_HINT = "install the extra: pip install 'livevis[spout]' (SpoutGL)"
GL_RGBA = 0x1908  # OpenGL enum; spares a PyOpenGL dependency


def import_spout():
    if sys.platform != "win32":
        raise LivevisError(f"Spout output is Windows only (this is {sys.platform}); on Linux use v4l2: or ndi:")
    try:
        import SpoutGL
    except ImportError as exc:
        raise LivevisError(f"Spout output needs SpoutGL ({exc}); {EXTRA_HINT}") from None
    return SpoutGL


class SpoutSink(Sink):
    kind = "spout"

    def __init__(self, target: str, **kw):
        if not target:
            raise LivevisError("spout output needs a sender name, e.g. spout:livevis")
        super().__init__(target, **kw)
        self._spout = import_spout()
        self._sender = None
        self._window = None
        self._rgba: np.ndarray | None = None

    def _open_device(self, width: int, height: int, fps: float) -> None:
        self._rgba = np.empty((height, width, 4), np.uint8)  # the GL side starts in the worker

    def _start_worker(self) -> None:
        import glfw

        if not glfw.init():
            raise RuntimeError("GLFW could not start (no OpenGL for Spout)")
        glfw.window_hint(glfw.VISIBLE, glfw.FALSE)
        self._window = glfw.create_window(16, 16, f"livevis spout {self.target}", None, None)
        if not self._window:
            raise RuntimeError("no OpenGL context for Spout")
        glfw.make_context_current(self._window)
        self._sender = self._spout.SpoutSender()
        self._sender.setSenderName(self.target)

    def _write(self, frame: np.ndarray, when: float) -> None:
        rgba = to_rgba(frame, self._rgba)
        if not self._sender.sendImage(rgba, self.width, self.height, GL_RGBA, False, 0):
            raise RuntimeError("Spout refused the frame")
        self._sender.setFrameSync(self.target)

    def _stop_worker(self) -> None:
        import glfw

        sender, self._sender = self._sender, None
        if sender is not None:
            sender.releaseSender()
        if self._window is not None:
            glfw.destroy_window(self._window)
            self._window = None

    def _close_device(self) -> None:
        pass  # released by the worker that owns the GL context


def probe() -> tuple[bool, str, list[str]]:
    try:
        import_spout()
    except LivevisError as exc:
        return False, str(exc), []
    return True, "SpoutGL", []
