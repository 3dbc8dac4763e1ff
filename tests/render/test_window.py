import time

import glfw
import pytest

from livevis.errors import LivevisError
from livevis.render.display_loop import DisplayLoop
from livevis.render.frame import Frame
from livevis.render.mailbox import Mailbox
from livevis.render.renderer import Renderer
from livevis.render.synthetic import SyntheticProducer, pattern
from livevis.render.window import NO_DISPLAY, Window
from tests.rigs.display import display, xvfb  # noqa: F401  (fixtures)

pytestmark = pytest.mark.display


def _press(window: Window, key: int) -> None:
    """A synthetic key event through the callback glfw calls."""
    window._on_key(window._window, key, 0, glfw.PRESS, 0)


def test_real_window_runs_two_seconds_and_shows_an_image(display):
    mailbox = Mailbox()
    producer = SyntheticProducer(mailbox, 128, 128, fps=60)
    with Window(320, 240, "livevis test") as window:
        renderer = Renderer(window.ctx, 128, 128)
        loop = DisplayLoop(window, renderer, mailbox, fps=60, seconds=2.0, post=lambda: {"level": 0.3, "onset": 0.0})
        producer.start()
        try:
            start = time.monotonic()
            stats = loop.run()
            assert time.monotonic() - start >= 1.9
        finally:
            producer.stop()
            producer.join()
        assert stats.ticks >= 20 and stats.frames_new >= 10
        window.use()
        renderer.draw(window.framebuffer_size, post={"level": 0.3}, effects_on=True)
        shot = window.read_screen()  # after drawing, before swap
        window.present()
        renderer.release()
    assert shot.shape == (240, 320, 3)
    assert shot.std() > 10  # a picture, not a constant colour
    assert not shot[:, :30].any() and not shot[:, -30:].any()  # letterbox bars of a square frame in 4:3
    assert shot[:, 60:260].mean() > 40


def test_keys_quit_toggle_and_request_new_seeds(display):
    seeds = []
    with Window(200, 150, on_new_seed=lambda: seeds.append(1)) as window:
        renderer = Renderer(window.ctx, 64, 64)
        mailbox = Mailbox()
        mailbox.put(Frame(rgba=pattern(64, 64, 0.0)))
        loop = DisplayLoop(window, renderer, mailbox, fps=None)
        assert loop.tick()
        assert window.effects_on and not window.show_stats
        _press(window, glfw.KEY_E)
        _press(window, glfw.KEY_S)
        assert not window.effects_on and window.show_stats
        assert loop.tick()  # draws the stats overlay without effects
        window._on_key(window._window, glfw.KEY_SPACE, 0, glfw.RELEASE, 0)  # releases are ignored
        _press(window, glfw.KEY_SPACE)
        _press(window, glfw.KEY_SPACE)
        assert seeds == [1, 1] and window.new_seed_requests == 2
        _press(window, glfw.KEY_F)
        assert window.fullscreen
        for _ in range(20):
            window.poll()
            time.sleep(0.01)
        assert window.framebuffer_size == (1280, 720)  # the Xvfb screen
        assert loop.tick()
        _press(window, glfw.KEY_F)
        assert not window.fullscreen
        _press(window, glfw.KEY_Q)
        assert window.should_close
        assert loop.tick() is False
        renderer.release()
    with Window(200, 150) as window:
        _press(window, glfw.KEY_ESCAPE)
        assert window.should_close


def test_resize_is_safe(display):
    with Window(200, 150) as window:
        renderer = Renderer(window.ctx, 64, 64)
        renderer.upload(Frame(rgba=pattern(64, 64, 0.5)))
        window.set_size(400, 100)
        deadline = time.monotonic() + 5
        while window.framebuffer_size != (400, 100) and time.monotonic() < deadline:
            window.poll()
            time.sleep(0.01)
        assert window.framebuffer_size == (400, 100)
        window.use()
        renderer.draw(window.framebuffer_size, effects_on=False)
        shot = window.read_screen()
        assert shot.shape == (100, 400, 3)
        assert not shot[:, :140].any() and shot[:, 160:240].std() > 5  # 100x100 content centred
        renderer.draw((0, 0))  # minimised: nothing to draw, no error
        renderer.release()


def test_no_display_is_one_clear_error(monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with pytest.raises(LivevisError) as err:
        Window(200, 150)
    assert str(err.value) == NO_DISPLAY == "no display found: use --headless (renders offscreen through EGL)"


def test_unreachable_display_is_the_same_error(monkeypatch):
    monkeypatch.setenv("DISPLAY", ":1999")
    with pytest.raises(LivevisError, match="no display found"):
        Window(200, 150)


def test_monitor_out_of_range_names_the_monitor_count(display):
    with pytest.raises(LivevisError) as err:
        Window(200, 150, monitor=3)
    assert str(err.value) == "--monitor 3 is out of range: 1 monitor(s) found (use 0..0)"
    with Window(200, 150, monitor=0, fullscreen=True, vsync=False) as window:
        assert window.fullscreen
