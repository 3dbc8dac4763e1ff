"""`ndi:NAME`: an NDI® video source on the network (Resolume, TouchDesigner, OBS with obs-ndi, vMix).

Extra `ndi`: `pip install 'livevis[ndi]'` installs cyndilib (MIT licence, Cython binding, maintained;
wheels for CPython 3.8-3.13 on Linux, macOS and Windows). Its wheel bundles the NDI runtime
(libndi), which is proprietary: the NDI SDK licence agreement (NDI® is a registered trademark of
Vizrt NDI AB) governs its use and redistribution, which is why it is an optional extra and never a core
dependency. ndi-python (MIT wrapper, also bundling the runtime) installs here too; cyndilib is chosen
for its buffer-protocol frames and active upkeep.

Discovery: NDI advertises sources by mDNS (on Linux through avahi-daemon). Where no mDNS daemon runs
(containers), receivers still find a source when the NDI config lists the sender's address:
`{"ndi": {"networks": {"ips": "127.0.0.1"}}}` in $NDI_CONFIG_DIR/ndi-config.v1.json (or ~/.ndi/).
"""

from __future__ import annotations

import fractions

import numpy as np

from livevis.errors import LivevisError
from livevis.render.sinks.base import Sink, to_rgba

EXTRA_HINT = "install the extra: pip install 'livevis[ndi]' (cyndilib, with the proprietary NDI runtime)"


def import_cyndilib():
    try:
        import cyndilib  # noqa: F401
        from cyndilib.sender import Sender
        from cyndilib.video_frame import VideoSendFrame
        from cyndilib.wrapper.ndi_structs import FourCC
    except ImportError as exc:
        raise LivevisError(f"NDI output needs cyndilib ({exc}); {EXTRA_HINT}") from None
    except OSError as exc:  # the bundled runtime failed to load
        raise LivevisError(f"the NDI runtime did not load: {exc}") from None
    return Sender, VideoSendFrame, FourCC


class NDISink(Sink):
    kind = "ndi"

    def __init__(self, target: str, **kw):
        if not target or any(c in target for c in "\n\r"):
            raise LivevisError("ndi output needs a source name, e.g. ndi:livevis")
        super().__init__(target, **kw)
        self._classes = import_cyndilib()  # extra missing: one clear line now
        self._sender = None
        self._rgba: np.ndarray | None = None  # [H, W, 4] staging for RGB input

    def _open_device(self, width: int, height: int, fps: float) -> None:
        Sender, VideoSendFrame, FourCC = self._classes
        frame = VideoSendFrame()
        frame.set_resolution(width, height)
        frame.set_frame_rate(fractions.Fraction(fps).limit_denominator(1001))
        frame.set_fourcc(FourCC.RGBA)
        # clock_video=False: pacing is the show's; a blocking send would stall this sink's worker.
        sender = Sender(self.target, clock_video=False, clock_audio=False)
        sender.set_video_frame(frame)
        try:
            sender.open()
        except Exception as exc:  # noqa: BLE001 - the runtime reports failures with assorted types
            raise LivevisError(f"cannot start NDI source {self.target!r}: {exc}") from None
        self._sender = sender
        self._rgba = np.empty((height, width, 4), np.uint8)

    def _write(self, frame: np.ndarray, when: float) -> None:
        rgba = to_rgba(frame, self._rgba)
        if not self._sender.write_video(rgba.reshape(-1)):
            raise RuntimeError("the NDI sender refused the frame")

    def _close_device(self) -> None:
        sender, self._sender = self._sender, None
        if sender is not None:
            sender.close()


def probe() -> tuple[bool, str, list[str]]:
    try:
        import_cyndilib()
    except LivevisError as exc:
        return False, str(exc), []
    import importlib.metadata

    return True, f"cyndilib {importlib.metadata.version('cyndilib')} (NDI runtime bundled)", []
