"""Headless target: a standalone EGL context and a framebuffer of the output size."""

from __future__ import annotations

import moderngl
import numpy as np

from livevis.errors import LivevisError


def create_egl_context() -> moderngl.Context:
    """An OpenGL 3.3+ context with no display, through EGL (Mesa llvmpipe, or a GPU's driver)."""
    try:
        return moderngl.create_standalone_context(backend="egl", require=330)
    except Exception as exc:  # moderngl/glcontext raise plain Exceptions with the EGL reason
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise LivevisError(f"headless rendering needs EGL (libEGL + a GL driver such as Mesa): {reason}") from None


class Offscreen:
    """Same interface as `Window` (ctx, framebuffer_size, use, poll, present, flags) without a screen."""

    def __init__(self, width: int, height: int, ctx: moderngl.Context | None = None) -> None:
        if width <= 0 or height <= 0:
            raise LivevisError(f"bad output size {width}x{height}")
        self._owns_ctx = ctx is None
        self.ctx = ctx or create_egl_context()
        self.fbo = self.ctx.simple_framebuffer((width, height), components=4)
        self.fbo.use()
        self.effects_on = True
        self.show_stats = False
        self.should_close = False

    @property
    def framebuffer_size(self) -> tuple[int, int]:
        return self.fbo.size

    def use(self) -> None:
        self.fbo.use()

    def poll(self) -> None:
        """No events without a window."""

    def present(self) -> None:
        """Nothing to swap; the image stays in the framebuffer."""

    def read_screen(self) -> np.ndarray:
        """[H, W, 3] uint8, top row first: the whole framebuffer (bars included)."""
        w, h = self.fbo.size
        data = np.frombuffer(self.fbo.read(components=3, alignment=1), dtype=np.uint8).reshape(h, w, 3)
        return data[::-1].copy()

    def close(self) -> None:
        """Release the framebuffer, and the context if this target created it."""
        self.fbo.release()
        if self._owns_ctx:
            self.ctx.release()
