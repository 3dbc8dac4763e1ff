"""On-screen target: a glfw window with an OpenGL 3.3 core context (moderngl).

Keys: q / Esc quit, f fullscreen toggle, space new seed (callback), s stats overlay, e effects.
The framebuffer size (not the window size: they differ on HiDPI) is tracked through glfw's
framebuffer-size callback, so drawing after a resize uses the right viewport.
"""

from __future__ import annotations

import ctypes
import os
from typing import Callable

import glfw
import moderngl
import numpy as np

from livevis.errors import LivevisError

NO_DISPLAY = "no display found: use --headless (renders offscreen through EGL)"


def _init_glfw() -> None:
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise LivevisError(NO_DISPLAY)
    glfw.ERROR_REPORTING = "ignore"  # failures are reported through return values below
    if not glfw.init():
        raise LivevisError(NO_DISPLAY)


def _egl_context_current() -> bool:
    """True when this thread already has a current EGL context (e.g. an offscreen one).

    libglvnd refuses a GLX context on a thread holding an EGL one (X error BadAccess, which Xlib
    turns into a process exit), so the window then asks glfw for an EGL context instead.
    """
    try:
        egl = ctypes.CDLL("libEGL.so.1")
    except OSError:
        return False
    egl.eglGetCurrentContext.restype = ctypes.c_void_p
    return bool(egl.eglGetCurrentContext())


class Window:
    """A glfw window: the render target for live shows.

    on_new_seed: called (on the render thread) when space is pressed; keep it short (set a flag).
    """

    def __init__(
        self,
        width: int,                 # windowed size in screen coordinates
        height: int,
        title: str = "livevis",
        *,
        vsync: bool = True,         # swap interval 1 (0 when off)
        fullscreen: bool = False,   # start fullscreen on `monitor`
        monitor: int = 0,           # index into glfw's monitor list, used for fullscreen
        on_new_seed: Callable[[], None] | None = None,  # space bar
    ) -> None:
        if width <= 0 or height <= 0:
            raise LivevisError(f"bad window size {width}x{height}")
        _init_glfw()
        try:
            monitors = glfw.get_monitors() or []
            if not 0 <= monitor < len(monitors):
                raise LivevisError(f"--monitor {monitor} is out of range: {len(monitors)} monitor(s) found" + (f" (use 0..{len(monitors) - 1})" if monitors else ""))
            self._monitor = monitors[monitor]
            glfw.window_hint(glfw.CONTEXT_VERSION_MAJOR, 3)
            glfw.window_hint(glfw.CONTEXT_VERSION_MINOR, 3)
            glfw.window_hint(glfw.OPENGL_PROFILE, glfw.OPENGL_CORE_PROFILE)
            glfw.window_hint(glfw.OPENGL_FORWARD_COMPAT, True)
            glfw.window_hint(glfw.RESIZABLE, True)
            use_egl = _egl_context_current()
            glfw.window_hint(glfw.CONTEXT_CREATION_API, glfw.EGL_CONTEXT_API if use_egl else glfw.NATIVE_CONTEXT_API)
            self._window = glfw.create_window(width, height, title, None, None)
            if not self._window:
                raise LivevisError("could not open an OpenGL 3.3 core window on this display")
            glfw.make_context_current(self._window)
            # init_context detects the current context, EGL or GLX (create_context only knows GLX once
            # another context exists in the process).
            moderngl.init_context()
            self.ctx = moderngl.get_context()
            if self.ctx.version_code < 330:
                raise LivevisError(f"OpenGL 3.3 needed, the display offers {self.ctx.version_code}")
        except BaseException:
            glfw.terminate()
            raise
        self.vsync = vsync
        glfw.swap_interval(1 if vsync else 0)
        self.on_new_seed = on_new_seed
        self.effects_on = True
        self.show_stats = False
        self.new_seed_requests = 0
        self._windowed = (*glfw.get_window_pos(self._window), width, height)
        self._fb_size = tuple(glfw.get_framebuffer_size(self._window))
        glfw.set_framebuffer_size_callback(self._window, self._on_framebuffer_size)
        glfw.set_key_callback(self._window, self._on_key)
        if fullscreen:
            self.set_fullscreen(True)

    # -- target interface (shared with Offscreen) ----------------------------------------------
    @property
    def framebuffer_size(self) -> tuple[int, int]:
        return self._fb_size

    @property
    def should_close(self) -> bool:
        return bool(glfw.window_should_close(self._window))

    def use(self) -> None:
        self.ctx.screen.use()

    def poll(self) -> None:
        glfw.poll_events()

    def present(self) -> None:
        glfw.swap_buffers(self._window)

    def read_screen(self) -> np.ndarray:
        """[H, W, 3] uint8, top row first: the back buffer (call after drawing, before present)."""
        w, h = self._fb_size
        data = self.ctx.screen.read(viewport=(0, 0, w, h), components=3, alignment=1)
        return np.frombuffer(data, dtype=np.uint8).reshape(h, w, 3)[::-1].copy()

    def close(self) -> None:
        if self._window is not None:
            self.ctx.release()
            glfw.destroy_window(self._window)
            self._window = None
            glfw.terminate()

    # -- controls ------------------------------------------------------------------------------
    def request_close(self) -> None:
        glfw.set_window_should_close(self._window, True)

    @property
    def fullscreen(self) -> bool:
        return bool(glfw.get_window_monitor(self._window))  # a NULL ctypes pointer is falsy, not None

    def set_fullscreen(self, on: bool) -> None:
        if on == self.fullscreen:
            return
        if on:
            self._windowed = (*glfw.get_window_pos(self._window), *glfw.get_window_size(self._window))
            mode = glfw.get_video_mode(self._monitor)
            glfw.set_window_monitor(self._window, self._monitor, 0, 0, mode.size.width, mode.size.height, mode.refresh_rate)
            glfw.set_input_mode(self._window, glfw.CURSOR, glfw.CURSOR_HIDDEN)  # no pointer over the show
        else:
            x, y, w, h = self._windowed
            glfw.set_window_monitor(self._window, None, x, y, w, h, 0)
            glfw.set_input_mode(self._window, glfw.CURSOR, glfw.CURSOR_NORMAL)
        glfw.swap_interval(1 if self.vsync else 0)  # some drivers reset it on a mode change
        self._fb_size = tuple(glfw.get_framebuffer_size(self._window))

    def set_size(self, width: int, height: int) -> None:
        glfw.set_window_size(self._window, width, height)

    def handle_key(self, key: int, action: int = glfw.PRESS) -> None:
        """React to one key event (the glfw callback lands here; tests call it directly)."""
        if action != glfw.PRESS:
            return
        if key in (glfw.KEY_Q, glfw.KEY_ESCAPE):
            self.request_close()
        elif key == glfw.KEY_F:
            self.set_fullscreen(not self.fullscreen)
        elif key == glfw.KEY_SPACE:
            self.new_seed_requests += 1
            if self.on_new_seed is not None:
                self.on_new_seed()
        elif key == glfw.KEY_S:
            self.show_stats = not self.show_stats
        elif key == glfw.KEY_E:
            self.effects_on = not self.effects_on

    def _on_key(self, window, key, scancode, action, mods) -> None:
        self.handle_key(key, action)

    def _on_framebuffer_size(self, window, width: int, height: int) -> None:
        self._fb_size = (width, height)

    def __enter__(self) -> "Window":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
