"""Text overlay (stats): instanced glyph quads from a font atlas, drawn over the current framebuffer."""

from __future__ import annotations

import moderngl
import numpy as np

from livevis.render.font import build_atlas
from livevis.render.shaders import ShaderLibrary, set_uniform

_FLOATS_PER_CHAR = 3  # x, y, glyph


class TextOverlay:
    """Draws lines of text at the top-left of a viewport, white on a translucent dark box."""

    def __init__(self, ctx: moderngl.Context, shaders: ShaderLibrary, max_chars: int = 4096, font_size: int = 14) -> None:
        self.ctx = ctx
        self.shaders = shaders
        self.max_chars = max_chars
        self.atlas = build_atlas(font_size)
        h, w = self.atlas.pixels.shape
        self.texture = ctx.texture((w, h), 1, self.atlas.pixels.tobytes(), alignment=1)
        self.texture.filter = (moderngl.NEAREST, moderngl.NEAREST)
        self.texture.repeat_x = self.texture.repeat_y = False
        self._instances = ctx.buffer(reserve=max_chars * _FLOATS_PER_CHAR * 4, dynamic=True)
        self._vao: moderngl.VertexArray | None = None
        self._vao_program: moderngl.Program | None = None
        self._layout_key: tuple | None = None
        self._count = 0

    def scale_for(self, viewport_height: int) -> int:
        """Integer glyph magnification: about 40 lines fit on any screen, never below 1."""
        return max(1, int(viewport_height // (40 * self.atlas.cell_h)))

    def _layout(self, lines: list[str], scale: int, margin: int) -> None:
        key = (tuple(lines), scale, margin)
        if key == self._layout_key:
            return
        cw, ch = self.atlas.cell_w * scale, self.atlas.cell_h * scale
        rows = []
        for y, line in enumerate(lines):
            for x, char in enumerate(line):
                rows.append((margin + x * cw, margin + y * ch, self.atlas.glyph(char)))
        rows = rows[: self.max_chars]
        data = np.asarray(rows, dtype=np.float32).reshape(-1, _FLOATS_PER_CHAR)  # [chars, 3]
        if len(data):
            self._instances.write(data.tobytes())
        self._count = len(data)
        self._layout_key = key

    def draw(self, lines: list[str], viewport_size: tuple[int, int], scale: int | None = None) -> None:
        """Draw `lines` into the currently bound framebuffer (viewport already set by the caller)."""
        vw, vh = viewport_size
        if not lines or vw <= 0 or vh <= 0:
            return
        scale = scale or self.scale_for(vh)
        self._layout(lines, scale, margin=4 * scale)
        if not self._count:
            return
        program = self.shaders.get("overlay")
        if self._vao is None or self._vao_program is not program:
            if self._vao is not None:
                self._vao.release()
            self._vao = self.ctx.vertex_array(program, [(self._instances, "2f 1f/i", "in_pos", "in_glyph")])
            self._vao_program = program
        set_uniform(program, "u_viewport", (float(vw), float(vh)))
        set_uniform(program, "u_cell", (float(self.atlas.cell_w * scale), float(self.atlas.cell_h * scale)))
        set_uniform(program, "u_grid", (float(self.atlas.columns), float(self.atlas.rows)))
        set_uniform(program, "u_color", (1.0, 1.0, 1.0, 1.0))
        set_uniform(program, "u_background", (0.0, 0.0, 0.0, 0.55))
        set_uniform(program, "u_atlas", 0)
        self.texture.use(0)
        self.ctx.enable(moderngl.BLEND)
        self.ctx.blend_func = moderngl.SRC_ALPHA, moderngl.ONE_MINUS_SRC_ALPHA
        try:
            self._vao.render(moderngl.TRIANGLE_STRIP, vertices=4, instances=self._count)
        finally:
            self.ctx.disable(moderngl.BLEND)

    def release(self) -> None:
        if self._vao is not None:
            self._vao.release()
        self._instances.release()
        self.texture.release()
