"""`v4l2:/dev/videoN`: a v4l2loopback virtual camera (OBS, Zoom, browsers and VJ tools see it).

No extra and no GPL wheel: the device is configured with one VIDIOC_S_FMT ioctl (fcntl) and fed
whole YUYV frames with write(), which v4l2loopback accepts; RGB -> YUYV (BT.601, limited range, what
webcams send) is PyAV's swscale. pyvirtualcam (GPL-2.0) would do the same and is not used.

The kernel module is the system's: `sudo modprobe v4l2loopback devices=1 video_nr=10
card_label=livevis exclusive_caps=1` makes /dev/video10 (exclusive_caps=1: Chrome and Zoom only list
devices that are capture-only once a writer is attached).
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import glob
import os
import stat

import numpy as np

from livevis.errors import LivevisError
from livevis.render.sinks.base import Sink

# <linux/videodev2.h>, x86_64 / aarch64 layouts (struct v4l2_format's union is 8-byte aligned).
VIDIOC_QUERYCAP = 0x80685600  # _IOR('V', 0, struct v4l2_capability[104])
VIDIOC_S_FMT = 0xC0D05605  # _IOWR('V', 5, struct v4l2_format[208])
V4L2_BUF_TYPE_VIDEO_OUTPUT = 2
V4L2_CAP_VIDEO_OUTPUT = 0x00000002
V4L2_CAP_DEVICE_CAPS = 0x80000000
V4L2_FIELD_NONE = 1
V4L2_COLORSPACE_SMPTE170M = 1
V4L2_PIX_FMT_YUYV = int.from_bytes(b"YUYV", "little")
LOAD_HINT = "load v4l2loopback: sudo modprobe v4l2loopback devices=1 video_nr=10 card_label=livevis exclusive_caps=1"


class _Capability(ctypes.Structure):
    _fields_ = [("driver", ctypes.c_char * 16), ("card", ctypes.c_char * 32), ("bus_info", ctypes.c_char * 32),
                ("version", ctypes.c_uint32), ("capabilities", ctypes.c_uint32), ("device_caps", ctypes.c_uint32),
                ("reserved", ctypes.c_uint32 * 3)]


class _PixFormat(ctypes.Structure):
    _fields_ = [(name, ctypes.c_uint32) for name in (
        "width", "height", "pixelformat", "field", "bytesperline", "sizeimage", "colorspace", "priv", "flags",
        "ycbcr_enc", "quantization", "xfer_func")]


class _FormatUnion(ctypes.Union):
    _fields_ = [("pix", _PixFormat), ("raw_data", ctypes.c_uint8 * 200), ("_align", ctypes.c_uint64)]


class _Format(ctypes.Structure):
    _fields_ = [("type", ctypes.c_uint32), ("fmt", _FormatUnion)]


assert ctypes.sizeof(_Capability) == 104 and ctypes.sizeof(_Format) == 208


def query_device(path: str) -> dict | None:
    """{"path", "driver", "card", "output", "loopback"} for a V4L2 device node, None if it is not one."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        cap = _Capability()
        fcntl.ioctl(fd, VIDIOC_QUERYCAP, cap)
    except OSError:
        return None
    finally:
        os.close(fd)
    caps = cap.device_caps if cap.capabilities & V4L2_CAP_DEVICE_CAPS else cap.capabilities
    driver = cap.driver.decode(errors="replace")
    return {"path": path, "driver": driver, "card": cap.card.decode(errors="replace"),
            "output": bool(caps & V4L2_CAP_VIDEO_OUTPUT), "loopback": "loopback" in driver}


def loopback_devices() -> list[dict]:
    """The /dev/video* nodes a frame can be written to (v4l2loopback outputs), in name order."""
    found = [query_device(p) for p in sorted(glob.glob("/dev/video*"), key=lambda p: (len(p), p))]
    return [d for d in found if d is not None and (d["loopback"] or d["output"])]


def check_device(path: str) -> None:
    """LivevisError (one line) unless `path` is a V4L2 device frames can be written to."""
    if not os.path.exists(path):
        known = ", ".join(d["path"] for d in loopback_devices()) or "none here"
        raise LivevisError(f"no video device {path} (loopback devices: {known}; {LOAD_HINT})")
    if not stat.S_ISCHR(os.stat(path).st_mode):
        raise LivevisError(f"{path} is not a video device (v4l2 output needs a /dev/videoN node)")
    info = query_device(path)
    if info is None:
        raise LivevisError(f"{path} is not a V4L2 device, or is not writable by this user")
    if not (info["output"] or info["loopback"]):
        raise LivevisError(f"{path} ({info['card']}) is a capture device, not a v4l2loopback output")


def configure(fd: int, width: int, height: int) -> None:
    """VIDIOC_S_FMT: YUYV frames of width x height on the output side of the device."""
    fmt = _Format()
    fmt.type = V4L2_BUF_TYPE_VIDEO_OUTPUT
    pix = fmt.fmt.pix
    pix.width, pix.height = width, height
    pix.pixelformat = V4L2_PIX_FMT_YUYV
    pix.field = V4L2_FIELD_NONE
    pix.bytesperline = width * 2
    pix.sizeimage = width * height * 2
    pix.colorspace = V4L2_COLORSPACE_SMPTE170M
    fcntl.ioctl(fd, VIDIOC_S_FMT, fmt)
    if (pix.width, pix.height, pix.pixelformat) != (width, height, V4L2_PIX_FMT_YUYV):
        raise LivevisError(f"the device took {pix.width}x{pix.height} instead of {width}x{height} YUYV")


class YUYVWriter:
    """RGB(A) frames -> whole YUYV 4:2:2 frames written to a file descriptor (device or plain file)."""

    def __init__(self, fd: int, width: int, height: int):
        if width % 2:
            raise LivevisError(f"YUYV needs an even width, got {width}")
        self.fd, self.width, self.height = fd, width, height
        self.frame_bytes = width * height * 2

    def convert(self, frame: np.ndarray) -> np.ndarray:
        """[H, W, 3 | 4] uint8 -> [H, W, 2] uint8 YUYV (Y0 U Y1 V per pixel pair)."""
        import av

        image = av.VideoFrame.from_ndarray(frame, format="rgb24" if frame.shape[2] == 3 else "rgba")
        return image.reformat(format="yuyv422").to_ndarray()  # [H, W, 2]

    def write(self, frame: np.ndarray) -> None:
        data = memoryview(np.ascontiguousarray(self.convert(frame))).cast("B")
        done = 0
        while done < self.frame_bytes:  # a device takes a frame in one write; a pipe or file may not
            done += os.write(self.fd, data[done:])


class V4L2Sink(Sink):
    kind = "v4l2"

    def __init__(self, target: str, **kw):
        super().__init__(target, **kw)
        check_device(target)  # missing / not a device: one clear line now, before the show starts
        self._fd: int | None = None
        self._writer: YUYVWriter | None = None

    def _open_device(self, width: int, height: int, fps: float) -> None:
        try:
            fd = os.open(self.target, os.O_RDWR)
        except OSError as exc:
            raise LivevisError(f"cannot open {self.target}: {exc.strerror}") from None
        try:
            configure(fd, width, height)
            self._writer = YUYVWriter(fd, width, height)
        except OSError as exc:
            os.close(fd)
            hint = " (another program is writing to it?)" if exc.errno == errno.EBUSY else ""
            raise LivevisError(f"cannot set {width}x{height} YUYV on {self.target}: {exc.strerror}{hint}") from None
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd

    def _write(self, frame: np.ndarray, when: float) -> None:
        self._writer.write(frame)

    def _close_device(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)


def probe() -> tuple[bool, str, list[str]]:
    """(available, why not / what, loopback device paths)."""
    import sys

    if not sys.platform.startswith("linux"):
        return False, f"V4L2 is Linux only (this is {sys.platform})", []
    devices = loopback_devices()
    if not devices:
        return False, f"no v4l2loopback device in /dev/video* ({LOAD_HINT})", []
    return True, ", ".join(f"{d['path']} ({d['card']})" for d in devices), [d["path"] for d in devices]
