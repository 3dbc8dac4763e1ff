import threading
import time

import av
import numpy as np

from livevis.render.display_loop import DisplayLoop, DisplayStats
from livevis.render.frame import Frame
from livevis.render.mailbox import Mailbox
from livevis.render.offscreen import Offscreen
from livevis.render.recorder import Recorder
from livevis.render.renderer import Renderer
from livevis.render.synthetic import SyntheticProducer, pattern
from tests.rigs.display import egl_ctx  # noqa: F401  (fixture)


def _loop(ctx, mailbox=None, size=64, **kwargs):
    target = Offscreen(size * 2, size, ctx=ctx)
    renderer = Renderer(ctx, size, size)
    return DisplayLoop(target, renderer, mailbox, **kwargs), target, renderer


def _close(target, renderer):
    renderer.release()
    target.close()  # the shared fixture context stays


def test_offline_step_is_deterministic(egl_ctx):
    frames = [Frame(rgba=pattern(64, 64, 0.2 * i), seq=i) for i in range(6)]
    runs = []
    for _ in range(2):
        loop, target, renderer = _loop(egl_ctx)
        try:
            runs.append([loop.step(f, post={"level": 0.6, "onset": (i % 3) / 2, "time": i / 30}) for i, f in enumerate(frames)])
        finally:
            _close(target, renderer)
    for a, b in zip(*runs):
        assert a.shape == (64, 64, 3)
        assert np.array_equal(a, b)
    assert not np.array_equal(runs[0][0], runs[0][1])


def test_offline_step_records_exactly_one_frame_each(egl_ctx, tmp_path):
    out = tmp_path / "offline.mp4"
    loop, target, renderer = _loop(egl_ctx)
    try:
        with Recorder(out, 64, 64, 30, 48000) as rec:
            loop.recorder = rec
            for i in range(12):
                loop.step(Frame(rgba=pattern(64, 64, i / 30), seq=i))
    finally:
        _close(target, renderer)
    with av.open(str(out)) as container:
        assert sum(1 for _ in container.decode(video=0)) == 12


def test_live_loop_runs_for_seconds_takes_newest_frames_and_measures(egl_ctx):
    mailbox = Mailbox()
    producer = SyntheticProducer(mailbox, 64, 64, fps=200)
    loop, target, renderer = _loop(
        egl_ctx, mailbox, fps=30, seconds=1.0,
        post=lambda: {"level": 0.5, "onset": 0.0},
        latency_of=lambda f: time.monotonic() - producer.audio_time(f.audio_index),
    )
    target.show_stats = True  # exercise the overlay path with live stats
    producer.start()
    try:
        start = time.monotonic()
        stats = loop.run()
        elapsed = time.monotonic() - start
    finally:
        producer.stop()
        producer.join()
        _close(target, renderer)
    assert isinstance(stats, DisplayStats)
    assert 0.9 < elapsed < 3.0
    assert 10 <= stats.ticks <= 40  # paced near 30 fps (slack for a loaded CI machine)
    assert stats.frames_new >= 5 and stats.dropped > 0  # producer at 200 fps: stale frames dropped
    assert stats.upload_ms["median"] >= 0 and stats.draw_ms["p95"] >= stats.draw_ms["median"]
    assert 0 <= stats.latency_ms["median"] < 500
    assert "synthesis" in stats.frame_stats
    lines = stats.lines()
    assert lines[0].startswith("fps") and any("latency" in line for line in lines)


def test_live_recording_keeps_wall_clock_rate(egl_ctx, tmp_path):
    # The loop shows ~10 images/s but records at 30 fps: frames are duplicated to stay in time.
    out = tmp_path / "live.mp4"
    mailbox = Mailbox()
    mailbox.put(Frame(rgba=pattern(64, 64, 0.0)))
    loop, target, renderer = _loop(egl_ctx, mailbox, fps=10, seconds=1.5)
    try:
        with Recorder(out, 64, 64, 30, 48000) as rec:
            loop.recorder = rec
            start = time.monotonic()
            loop.run()
            elapsed = time.monotonic() - start
    finally:
        _close(target, renderer)
    with av.open(str(out)) as container:
        frames = sum(1 for _ in container.decode(video=0))
    assert abs(frames - 30 * elapsed) <= 0.05 * 30 * elapsed + 2


def test_stop_event_and_target_close_end_the_loop(egl_ctx):
    stop = threading.Event()
    loop, target, renderer = _loop(egl_ctx, Mailbox(), fps=100, stop_event=stop)
    try:
        threading.Timer(0.3, stop.set).start()
        start = time.monotonic()
        stats = loop.run()
        assert time.monotonic() - start < 2.0 and stats.ticks > 0
        loop2 = DisplayLoop(target, renderer, Mailbox(), fps=None)
        target.should_close = True
        assert loop2.tick() is False
    finally:
        _close(target, renderer)


class _ListRecorder:
    """Recorder stand-in: keeps the frames it is given."""

    fps = 10

    def __init__(self):
        self.frames = []

    def write_video(self, rgb):
        self.frames.append(rgb.copy())


def test_live_recording_leaves_the_stats_overlay_out_unless_asked(egl_ctx):
    grey = np.full((32, 32, 4), 128, np.uint8)
    recorded = {}
    for record_overlay in (False, True):
        mailbox = Mailbox()
        mailbox.put(Frame(rgba=grey))
        target = Offscreen(160, 90, ctx=egl_ctx)
        renderer = Renderer(egl_ctx, 32, 32, out_size=(160, 90), fit="cover")
        loop = DisplayLoop(target, renderer, mailbox, fps=20, seconds=0.3, recorder=_ListRecorder(),
                           record_overlay=record_overlay)
        target.show_stats = True  # the overlay is on screen in both runs
        try:
            loop.run()
            screen = target.read_screen()
        finally:
            _close(target, renderer)
        assert np.abs(screen.astype(int) - 128).max() > 30  # shown
        recorded[record_overlay] = loop.recorder.frames
    assert recorded[False] and all(f.shape == (90, 160, 3) for f in recorded[False])
    assert all(np.abs(f.astype(int) - 128).max() == 0 for f in recorded[False])  # --record: no overlay
    assert all(np.abs(f.astype(int) - 128).max() > 30 for f in recorded[True])  # --record-overlay


class _FirstDrawSlow(Renderer):
    """A renderer whose first draw takes `delay` seconds, like a cold shader compile or upscaler start."""

    def __init__(self, *args, delay: float, **kwargs):
        super().__init__(*args, **kwargs)
        self.delay, self.draws = delay, 0

    def draw(self, *args, **kwargs):
        self.draws += 1
        if self.draws == 1:
            time.sleep(self.delay)
        return super().draw(*args, **kwargs)


def test_warm_up_pays_the_first_draw_before_the_clock_starts(egl_ctx, tmp_path):
    frame = Frame(rgba=pattern(64, 64, 0.0))
    target = Offscreen(64, 64, ctx=egl_ctx)
    renderer = _FirstDrawSlow(egl_ctx, 64, 64, delay=0.6)
    mailbox = Mailbox()
    mailbox.put(frame)
    loop = DisplayLoop(target, renderer, mailbox, fps=30, seconds=0.5)
    try:
        with Recorder(tmp_path / "warm.mp4", 64, 64, 30, 48000) as rec:
            loop.recorder = rec
            loop.warm_up(frame)
            assert (loop.stats.ticks, loop.stats.frames_new, loop.stats.recorded) == (0, 0, 0)  # nothing shown yet
            stats = loop.run()
    finally:
        _close(target, renderer)
    # The slow draw was the warm-up's: the half second of show that follows is all paced frames
    # (without it, the first tick's draw alone would outlast `seconds`: one image, then the end).
    assert renderer.draws == stats.ticks + 1
    assert stats.ticks >= 8 and stats.recorded >= 10
