"""The GL-context-agnostic render core shared by the window and the offscreen target.

Per draw: (1) the frame texture goes through the post effect (or a plain copy when effects are off)
into a composite texture at frame resolution (ping-pong pair: the post effect reads its previous
output for feedback trails; the master brightness / blackout is applied here, so every output gets
it); (2) the output stage resamples the composite to the output size with the chosen fit: the
program frame; (3) the program frame is letterbox-blitted into the caller's framebuffer; (4) the
overlay text is drawn on top at the viewport's resolution. `read_pixels` returns the program frame
(output size), with the overlay drawn into it only when asked (`overlay=True`).
"""

from __future__ import annotations

import os

import moderngl
import numpy as np

from livevis.render.frame import Frame
from livevis.render.output_stage import OutputStage
from livevis.render.overlay import TextOverlay
from livevis.render.shaders import QuadPrograms, ShaderLibrary, set_uniform
from livevis.render.upload import PboUploader

_QUAD = dict(mode=moderngl.TRIANGLE_STRIP, vertices=4)


def letterbox_scale(content: tuple[int, int], viewport: tuple[int, int]) -> tuple[float, float]:
    """Fraction of the viewport (x, y) covered by `content` scaled to fit with its aspect kept.

    Snapped to whole pixels so the bars have exact edges.
    """
    cw, ch = content
    vw, vh = viewport
    fit = min(vw / cw, vh / ch)
    return max(1, round(cw * fit)) / vw, max(1, round(ch * fit)) / vh


class Renderer:
    """Frame upload, post effect, output stage, letterbox blit and overlay for one frame size."""

    def __init__(
        self,
        ctx: moderngl.Context,               # current GL 3.3+ context (window or EGL)
        width: int,                          # frame size: every uploaded frame is [height, width, 4]
        height: int,
        *,
        out_size: tuple[int, int] | None = None,  # program frame (w, h); default the frame size
        fit: str = "contain",                # contain | cover | stretch (livevis.render.output_stage)
        resample: str = "lanczos",           # lanczos | bilinear
        shaders: ShaderLibrary | None = None,  # share compiled programs between renderers
        hot_reload: bool | None = None,
    ) -> None:
        """hot_reload: recompile shaders whose files changed (default: env LIVEVIS_SHADER_RELOAD=1)."""
        if hot_reload is None:
            hot_reload = os.environ.get("LIVEVIS_SHADER_RELOAD") == "1"
        assert width > 0 and height > 0, f"bad frame size {width}x{height}"
        assert ctx.version_code >= 330, f"OpenGL 3.3 needed, context has {ctx.version_code}"
        self.ctx = ctx
        self.width, self.height = width, height
        self.shaders = shaders or ShaderLibrary(ctx, hot_reload=hot_reload)
        self.frame_texture = self._texture()
        self._uploader = PboUploader(ctx, self.frame_texture)
        self._cuda = None  # CudaTextureWriter, created on the first CUDA frame
        self._composites = [self._texture() for _ in range(2)]
        self._fbos = [ctx.framebuffer(color_attachments=[t]) for t in self._composites]
        for fbo in self._fbos:
            fbo.clear(0.0, 0.0, 0.0, 1.0)
        self._current = 0  # index of the newest composite
        self.out_width, self.out_height = (int(out_size[0]), int(out_size[1])) if out_size else (width, height)
        self.output = OutputStage(ctx, self.shaders, (width, height), (self.out_width, self.out_height), fit=fit,
                                  resample=resample)
        self._record_texture = ctx.texture((self.out_width, self.out_height), 4)
        self._record_fbo = ctx.framebuffer(color_attachments=[self._record_texture])
        self._read_buffer = np.empty((self.out_height, self.out_width, 3), dtype=np.uint8)  # [H, W, 3], bottom row first
        self.overlay = TextOverlay(ctx, self.shaders)
        self._vaos = QuadPrograms(self.ctx, self.shaders)
        self._overlay_lines: list[str] | None = None
        self.frames_uploaded = 0

    def _texture(self) -> moderngl.Texture:
        texture = self.ctx.texture((self.width, self.height), 4)
        texture.filter = (moderngl.LINEAR, moderngl.LINEAR)
        texture.repeat_x = texture.repeat_y = False
        return texture

    def _program(self, name: str) -> tuple[moderngl.Program, moderngl.VertexArray]:
        return self._vaos.get(name)

    def upload(self, frame: Frame) -> None:
        """Put the frame's pixels into the frame texture (PBO for numpy, CUDA-GL for CUDA tensors)."""
        frame.check(self.width, self.height)
        if frame.on_cuda:
            import torch

            from livevis.render import cuda_gl

            if self._cuda is None:
                cuda_gl.require_runtime()  # no cuda-python or no device: one line, before torch.cuda is touched
            # This thread's current CUDA device is 0 unless set: register and copy on the frame's own GPU.
            with torch.cuda.device(frame.rgba.device):
                if self._cuda is None:
                    self._cuda = cuda_gl.CudaTextureWriter(self.frame_texture, device_index=frame.rgba.device.index)
                self._cuda.write(frame.rgba)
        else:
            self._uploader.write(frame.rgba)
        self.frames_uploaded += 1

    def draw(self, viewport_size: tuple[int, int], post: dict | None = None, effects_on: bool = True, overlay_lines: list[str] | None = None) -> None:
        """Render into the currently bound framebuffer, which is `viewport_size` (w, h) pixels.

        post: {"level": 0..1, "onset": 0..1, "time": seconds, "brightness": gain (default 1), "blackout": bool,
        "effects": bool (default True)}; missing level/onset/time count as 0.
        """
        self.shaders.reload_changed()
        target = self.ctx.fbo
        post = post or {}
        effects_on = effects_on and bool(post.get("effects", True))
        gain = 0.0 if post.get("blackout") else float(post.get("brightness", 1.0))
        self._composite(effects_on, float(post.get("level", 0.0)), float(post.get("onset", 0.0)), float(post.get("time", 0.0)),
                        gain)
        program_frame = self.output.apply(self._composites[self._current])
        self._overlay_lines = list(overlay_lines) if overlay_lines else None
        target.use()
        vw, vh = int(viewport_size[0]), int(viewport_size[1])
        if vw <= 0 or vh <= 0:  # minimised window
            return
        self.ctx.viewport = (0, 0, vw, vh)
        if (vw, vh) == (self.out_width, self.out_height):
            # Same size (headless, or a window at the output size): a framebuffer copy, no shader pass.
            self.ctx.copy_framebuffer(target, self.output.fbo)
            target.use()
            self.ctx.viewport = (0, 0, vw, vh)
            if self._overlay_lines:
                self.overlay.draw(self._overlay_lines, (vw, vh))
            return
        self.ctx.clear(0.0, 0.0, 0.0, 1.0)
        program, vao = self._program("blit")
        set_uniform(program, "u_scale", letterbox_scale((self.out_width, self.out_height), (vw, vh)))
        set_uniform(program, "u_flip_y", False)
        set_uniform(program, "u_image", 0)
        set_uniform(program, "u_gain", 1.0)  # brightness is in the composite (recordings and outputs get it too)
        program_frame.use(0)
        vao.render(**_QUAD)
        if self._overlay_lines:
            self.overlay.draw(self._overlay_lines, (vw, vh))

    def _composite(self, effects_on: bool, level: float, onset: float, time: float, gain: float = 1.0) -> None:
        previous, self._current = self._current, 1 - self._current
        self._fbos[self._current].use()
        self.ctx.viewport = (0, 0, self.width, self.height)
        self.frame_texture.use(0)
        if effects_on:
            program, vao = self._program("post")
            self._composites[previous].use(1)
            set_uniform(program, "u_frame", 0)
            set_uniform(program, "u_prev", 1)
            set_uniform(program, "u_level", level)
            set_uniform(program, "u_onset", onset)
            set_uniform(program, "u_time", time)
            set_uniform(program, "u_gain", gain)
        else:
            program, vao = self._program("blit")
            set_uniform(program, "u_scale", (1.0, 1.0))
            set_uniform(program, "u_flip_y", True)
            set_uniform(program, "u_image", 0)
            set_uniform(program, "u_gain", gain)
        vao.render(**_QUAD)

    def read_pixels(self, out: np.ndarray | None = None, *, overlay: bool = False) -> np.ndarray:
        """[out_h, out_w, 3] uint8, top row first: the last program frame (post effect included; the
        stats overlay drawn into it only with `overlay=True` and when it is on).

        Pass a preallocated `out` to avoid allocating per frame (it is overwritten and returned).
        """
        target, viewport = self.ctx.fbo, self.ctx.viewport
        source = self.output.fbo
        if overlay and self._overlay_lines:
            self.ctx.copy_framebuffer(self._record_fbo, source)
            self._record_fbo.use()
            self.ctx.viewport = (0, 0, self.out_width, self.out_height)
            self.overlay.draw(self._overlay_lines, (self.out_width, self.out_height))
            source = self._record_fbo
        source.read_into(self._read_buffer, components=3, alignment=1)
        target.use()
        self.ctx.viewport = viewport
        if out is None:
            out = np.empty((self.out_height, self.out_width, 3), dtype=np.uint8)
        assert out.shape == (self.out_height, self.out_width, 3) and out.dtype == np.uint8
        np.copyto(out, self._read_buffer[::-1])  # GL rows are bottom-up
        return out

    def release(self) -> None:
        if self._cuda is not None:
            self._cuda.release()
        self._vaos.release()
        self.overlay.release()
        self.output.release()
        self._uploader.release()
        for obj in [*self._fbos, *self._composites, self._record_fbo, self._record_texture, self.frame_texture]:
            obj.release()
        self.shaders.release()
