"""Video sinks: the non-blocking slot, drops, dropped sinks, specs, the file sink and the v4l2 frame writer."""

import os
import threading

import av
import numpy as np
import pytest

from livevis.errors import LivevisError
from livevis.render.sinks import Sink, SinkGroup, parse_output
from livevis.render.sinks.file import FileSink
from livevis.render.sinks.v4l2 import YUYVWriter, check_device, loopback_devices

W, H = 64, 48


def _frame(i: int, channels: int = 3) -> np.ndarray:
    img = np.zeros((H, W, channels), np.uint8)
    img[..., 0] = (i * 7) % 256
    img[:, (2 * i) % W, 1] = 255  # a moving bar
    if channels == 4:
        img[..., 3] = 255
    return img


class _Recording(Sink):
    """Keeps what it is given; `gate` (if set) holds each write until released."""

    kind = "test"

    def __init__(self, gate: threading.Event | None = None, fail_at: int | None = None, **kw):
        super().__init__("x", **kw)
        self.gate, self.fail_at = gate, fail_at
        self.frames: list[np.ndarray] = []
        self.closed = False

    def _open_device(self, width, height, fps):
        pass

    def _write(self, frame, when):
        if self.gate is not None:
            self.gate.wait()
        if self.fail_at is not None and len(self.frames) == self.fail_at:
            raise OSError("device vanished")
        self.frames.append(frame.copy())

    def _close_device(self):
        self.closed = True


def _in_thread(fn, timeout=10.0):
    """Run fn in a thread; fail (instead of hanging the suite) if it does not return."""
    done = threading.Event()
    worker = threading.Thread(target=lambda: (fn(), done.set()), daemon=True)
    worker.start()
    worker.join(timeout)
    assert done.is_set(), "call did not return: it blocked"


def test_frames_arrive_copied_and_in_order():
    sink = _Recording().open(W, H, 30)
    sent = []
    for i in range(20):
        frame = _frame(i)
        sink.send(frame)
        sent.append(frame.copy())
        frame[:] = 0  # the caller reuses its buffer at once: the sink copied it
        _wait(lambda: sink.stats.sent + sink.stats.dropped == i + 1)
    sink.close()
    assert sink.closed and sink.stats.error is None
    assert sink.stats.sent == 20 and sink.stats.dropped == 0
    for got, want in zip(sink.frames, sent):
        np.testing.assert_array_equal(got, want)


def test_slow_sink_keeps_the_newest_frame_and_counts_drops():
    gate = threading.Event()
    sink = _Recording(gate=gate).open(W, H, 30)
    sink.send(_frame(0))
    _wait(lambda: sink._busy_since > 0)  # the worker is stuck writing frame 0
    _in_thread(lambda: [sink.send(_frame(i)) for i in range(1, 50)])
    gate.set()
    _wait(lambda: sink.stats.sent + sink.stats.dropped == 50)
    sink.close()
    stats = sink.stats
    assert stats.error is None and stats.sent == 2 and stats.dropped == 48  # the first and the newest
    np.testing.assert_array_equal(sink.frames[-1], _frame(49))


def test_a_sink_that_raises_is_dropped_with_one_warning():
    warnings = []
    sink = _Recording(fail_at=3, warn=warnings.append).open(W, H, 30)
    for i in range(30):
        sink.send(_frame(i))
        _wait(lambda: sink.stats.sent + sink.stats.dropped == i + 1)
    sink.close()
    assert sink.stats.sent == 3 and sink.stats.dropped == 27
    assert "device vanished" in sink.stats.error
    assert len(warnings) == 1 and "test:x dropped" in warnings[0] and "\n" not in warnings[0]


def test_a_sink_that_blocks_is_dropped_after_its_timeout_and_send_never_waits():
    warnings = []
    gate = threading.Event()  # never set while the show runs: the device hangs
    sink = _Recording(gate=gate, timeout=0.2, warn=warnings.append).open(W, H, 30)
    sink.send(_frame(0))
    _wait(lambda: sink._busy_since > 0)
    threading.Event().wait(0.3)  # past the timeout
    _in_thread(lambda: [sink.send(_frame(i)) for i in range(1, 100)])
    assert not sink.alive and "blocked" in sink.stats.error
    assert len(warnings) == 1
    _in_thread(sink.close)  # close does not wait on the hung write either
    gate.set()
    assert len(warnings) == 1 and sink.stats.sent == 0


def test_group_feeds_every_sink_and_survives_a_failing_one():
    warnings = []
    good, bad = _Recording(), _Recording(fail_at=0, warn=warnings.append)
    with SinkGroup([good, bad]).open(W, H, 30) as group:
        for i in range(5):
            group.send(_frame(i, 4))
            _wait(lambda: good.stats.sent + good.stats.dropped == i + 1 and bad.stats.sent + bad.stats.dropped == i + 1)
    stats = group.stats()
    assert stats["test:x"] is not None and good.stats.sent == 5 and not bad.alive and len(warnings) == 1


def test_wrong_frame_shape_is_a_programming_error():
    sink = _Recording().open(W, H, 30)
    with pytest.raises(ValueError):
        sink.send(np.zeros((H, W + 2, 3), np.uint8))
    sink.close()


@pytest.mark.parametrize("spec,match", [
    ("bogus:x", "unknown output 'bogus:x'"), ("nocolon", "unknown output"), ("", "unknown output"),
    ("ndi:", "needs a target"), ("v4l2:/dev/video99", "no video device /dev/video99"),
    ("file:notes.txt", ".mp4, .mkv or .mov"), ("syphon:show", "macOS only"), ("spout:show", "Windows only"),
])
def test_bad_specs_are_one_clear_line(spec, match):
    with pytest.raises(LivevisError, match=match) as err:
        parse_output(spec)
    assert "\n" not in str(err.value)


def test_v4l2_refuses_what_is_not_a_video_device(tmp_path):
    plain = tmp_path / "video0"
    plain.write_bytes(b"")
    with pytest.raises(LivevisError, match="not a video device"):
        check_device(str(plain))
    with pytest.raises(LivevisError, match="not a V4L2 device"):
        check_device("/dev/null")


def test_file_sink_writes_what_it_was_sent(tmp_path):
    out = tmp_path / "program.mp4"
    sink = parse_output(f"file:{out}")
    assert isinstance(sink, FileSink)
    sink.open(W, H, 30)
    for i in range(12):
        sink.send(_frame(i))
        _wait(lambda: sink.stats.sent + sink.stats.dropped == i + 1)
        assert not out.exists()  # appears whole, on close
    sink.close()
    with av.open(str(out)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(frames) == sink.stats.sent == 12
    assert abs(int(frames[5][..., 0].mean()) - 35) <= 3  # the 6th frame's red level survives H.264
    assert [p.name for p in tmp_path.iterdir()] == ["program.mp4"]


def test_v4l2_frame_writer_against_a_file(tmp_path):
    """The YUYV frame writer of the v4l2 sink, writing into a plain file.

    CI containers cannot load kernel modules, so no v4l2loopback device exists there: this checks the
    bytes that would go to the device (whole YUYV 4:2:2 frames, BT.601) by decoding them back. Where a
    loopback device exists, test_v4l2_loopback_device below writes to it for real.
    """
    path = tmp_path / "frames.yuyv"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT)
    try:
        writer = YUYVWriter(fd, W, H)
        rgb = np.zeros((H, W, 3), np.uint8)
        rgb[: H // 2, :, 0] = 200  # red top half
        rgb[H // 2 :, :, 2] = 180  # blue bottom half
        writer.write(rgb)
        writer.write(np.concatenate([rgb, np.full((H, W, 1), 255, np.uint8)], axis=2))  # RGBA too
    finally:
        os.close(fd)
    data = np.fromfile(path, np.uint8)
    assert data.size == 2 * W * H * 2
    for k in range(2):
        yuyv = data[k * W * H * 2 : (k + 1) * W * H * 2].reshape(H, W, 2)
        back = av.VideoFrame.from_ndarray(yuyv, format="yuyv422").to_ndarray(format="rgb24")
        assert np.abs(back.astype(int) - rgb).max() <= 6


@pytest.mark.skipif(not loopback_devices(), reason="no v4l2loopback device here (needs `modprobe v4l2loopback`; "
                                                   "containers cannot load kernel modules)")
def test_v4l2_loopback_device():
    device = loopback_devices()[0]["path"]
    sink = parse_output(f"v4l2:{device}").open(W, H, 30)
    for i in range(10):
        sink.send(_frame(i))
        _wait(lambda: sink.stats.sent + sink.stats.dropped == i + 1)
    sink.close()
    assert sink.stats.error is None and sink.stats.sent >= 1


def _wait(predicate, timeout=10.0):
    done = threading.Event()
    deadline = 0.0
    while not predicate():
        deadline += 0.005
        assert deadline < timeout, "timed out"
        done.wait(0.005)


def test_to_rgba_adds_an_opaque_alpha():
    from livevis.render.sinks.base import to_rgba

    rgb = np.random.default_rng(0).integers(0, 256, (H, W, 3), dtype=np.uint8)
    out = np.zeros((H, W, 4), np.uint8)
    assert to_rgba(rgb, out) is out
    np.testing.assert_array_equal(out[..., :3], rgb)
    assert (out[..., 3] == 255).all()
    rgba = np.random.default_rng(1).integers(0, 256, (H, W, 4), dtype=np.uint8)
    np.testing.assert_array_equal(to_rgba(rgba, out), rgba)
