"""CPU frames into the frame texture through pixel buffer objects (preallocated, reused)."""

from __future__ import annotations

import moderngl
import numpy as np


class PboUploader:
    """Round-robin over two PBOs so writing frame N+1 never waits on the driver still reading frame N."""

    def __init__(self, ctx: moderngl.Context, texture: moderngl.Texture, count: int = 2) -> None:
        self.texture = texture
        self.width, self.height = texture.size
        self.nbytes = self.width * self.height * 4
        self._pbos = [ctx.buffer(reserve=self.nbytes, dynamic=True) for _ in range(count)]
        self._next = 0

    def write(self, rgba: np.ndarray) -> None:
        """rgba: [H, W, 4] uint8, row 0 = top (stored as texture row 0; shaders flip on sampling)."""
        assert rgba.shape == (self.height, self.width, 4) and rgba.dtype == np.uint8, f"bad frame {rgba.shape} {rgba.dtype}"
        if not rgba.flags.c_contiguous:
            rgba = np.ascontiguousarray(rgba)
        pbo = self._pbos[self._next]
        self._next = (self._next + 1) % len(self._pbos)
        pbo.write(rgba)  # buffer protocol: no Python-side copy
        self.texture.write(pbo)  # GL_PIXEL_UNPACK_BUFFER -> texture, async in the driver

    def release(self) -> None:
        for pbo in self._pbos:
            pbo.release()
