"""`syphon:NAME`: a Syphon server on macOS (Resolume, MadMapper, VDMX, TouchDesigner, OBS on a Mac).

Extra `syphon` (macOS only): `pip install 'livevis[syphon]'` installs syphon-python (MIT licence;
wraps the Syphon framework, BSD-2-Clause, through PyObjC). Frames go into a Metal texture and are
published with SyphonMetalServer. Elsewhere the kind is listed as unavailable ("macOS only"); this
code path is written against syphon-python's documented API and guarded by platform and import,
but is not run on Linux CI.
"""

from __future__ import annotations

import sys

import numpy as np

from livevis.errors import LivevisError
from livevis.render.sinks.base import Sink, to_rgba

EXTRA_HINT = "install the extra: pip install 'livevis[syphon]' (syphon-python, macOS 11+)"


def import_syphon():
    if sys.platform != "darwin":
        raise LivevisError(f"Syphon output is macOS only (this is {sys.platform}); on Linux use v4l2: or ndi:")
    try:
        import syphon
        from syphon.utils.numpy import copy_image_to_mtl_texture
        from syphon.utils.raw import create_mtl_texture
    except ImportError as exc:
        raise LivevisError(f"Syphon output needs syphon-python ({exc}); {EXTRA_HINT}") from None
    return syphon, copy_image_to_mtl_texture, create_mtl_texture


class SyphonSink(Sink):
    kind = "syphon"

    def __init__(self, target: str, **kw):
        if not target:
            raise LivevisError("syphon output needs a server name, e.g. syphon:livevis")
        super().__init__(target, **kw)
        self._api = import_syphon()
        self._server = None
        self._texture = None
        self._rgba: np.ndarray | None = None

    def _open_device(self, width: int, height: int, fps: float) -> None:
        syphon, _copy, create_texture = self._api
        try:
            self._server = syphon.SyphonMetalServer(self.target)
            self._texture = create_texture(self._server.device, width, height)
        except Exception as exc:  # noqa: BLE001 - PyObjC raises assorted types
            raise LivevisError(f"cannot start Syphon server {self.target!r}: {exc}") from None
        self._rgba = np.empty((height, width, 4), np.uint8)

    def _write(self, frame: np.ndarray, when: float) -> None:
        _syphon, copy_image, _create = self._api
        copy_image(to_rgba(frame, self._rgba), self._texture)
        self._server.publish_frame_texture(self._texture)

    def _close_device(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.stop()


def probe() -> tuple[bool, str, list[str]]:
    try:
        import_syphon()
    except LivevisError as exc:
        return False, str(exc), []
    return True, "syphon-python (Metal server)", []
