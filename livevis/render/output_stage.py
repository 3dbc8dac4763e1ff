"""The output stage: the composited frame (generator resolution, post effects applied) resampled to the
output size and fitted to its aspect. What it makes is the program frame: what the window shows
(letterboxed again into a window of another shape), what --record records and what the sinks get.

    fit contain: the whole frame, scaled to fit; black bars on the sides or top/bottom
    fit cover:   the output filled; the frame's overflowing edges cropped (centred)
    fit stretch: the output filled; the frame's aspect not kept

Resampling: "lanczos" (separable Lanczos-3, two GL passes through a float intermediate, weights
precomputed per output row/column) or "bilinear" (one pass). A learned upscaler, when used, runs before this stage on the model's device
(livevis.render.upscale); this stage then fits its output to the exact size.
"""

from __future__ import annotations

import dataclasses
import math
import re

import moderngl
import numpy as np

from livevis.errors import LivevisError
from livevis.render.shaders import QuadPrograms, ShaderLibrary, set_uniform

FITS = ("contain", "cover", "stretch")
RESAMPLERS = ("lanczos", "bilinear")
MAX_EDGE = 8192
_QUAD = dict(mode=moderngl.TRIANGLE_STRIP, vertices=4)
_SIZE = re.compile(r"^\s*(\d+)\s*[xX]\s*(\d+)\s*$")


def parse_size(text: str, flag: str = "--out-size", *, even: bool = True) -> tuple[int, int]:
    """'1920x1080' -> (1920, 1080); a malformed, zero, too large or (with `even`) odd size is one clear line."""
    match = _SIZE.match(str(text))
    if not match:
        raise LivevisError(f"{flag} must be WIDTHxHEIGHT (e.g. 1920x1080), got {text!r}")
    w, h = int(match.group(1)), int(match.group(2))
    if not (16 <= w <= MAX_EDGE and 16 <= h <= MAX_EDGE):
        raise LivevisError(f"{flag} {w}x{h}: each edge must be between 16 and {MAX_EDGE} pixels")
    if even and (w % 2 or h % 2):
        raise LivevisError(f"{flag} {w}x{h}: width and height must be even (H.264 needs even sizes)")
    return w, h


def check_fit(fit: str) -> str:
    if fit not in FITS:
        raise LivevisError(f"--fit must be one of {', '.join(FITS)}, got {fit!r}")
    return fit


@dataclasses.dataclass(frozen=True)
class FitGeometry:
    """Where the source goes in the output.

    crop: (x, y, w, h) of the source used, in source pixels (float; GL convention, y from the bottom).
    dest: (x, y, w, h) of the output it fills, in whole output pixels (the rest is black bars).
    """

    crop: tuple[float, float, float, float]
    dest: tuple[int, int, int, int]


def fit_geometry(source: tuple[int, int], output: tuple[int, int], fit: str) -> FitGeometry:
    """The crop and destination rectangles for `fit` (see the module doc)."""
    sw, sh = source
    ow, oh = output
    check_fit(fit)
    if fit == "stretch":
        return FitGeometry((0.0, 0.0, float(sw), float(sh)), (0, 0, ow, oh))
    if fit == "contain":
        scale = min(ow / sw, oh / sh)
        w, h = min(ow, max(1, round(sw * scale))), min(oh, max(1, round(sh * scale)))
        return FitGeometry((0.0, 0.0, float(sw), float(sh)), ((ow - w) // 2, (oh - h) // 2, w, h))
    # cover: the largest centred source rectangle of the output's aspect
    scale = max(ow / sw, oh / sh)
    cw, ch = ow / scale, oh / scale
    return FitGeometry(((sw - cw) / 2, (sh - ch) / 2, cw, ch), (0, 0, ow, oh))


LANCZOS_A = 3
MAX_TAPS = 64


def lanczos_weights(crop_start: float, crop_len: float, dst_len: int) -> tuple[np.ndarray, np.ndarray]:
    """Lanczos-3 taps for resampling source pixels [crop_start, crop_start + crop_len) onto dst_len pixels.

    Returns (first [dst_len] int: first source index of each output pixel's taps, weights [dst_len, T]
    float32, each row summing to 1). Output pixel i is centred on source coordinate
    crop_start + (i + 0.5) * ratio - 0.5; when shrinking the kernel widens by the ratio (antialiasing).
    """
    ratio = crop_len / dst_len
    support = max(1.0, ratio)
    radius = min(int(math.ceil(LANCZOS_A * support)), MAX_TAPS // 2)
    taps = 2 * radius
    centre = crop_start + (np.arange(dst_len) + 0.5) * ratio - 0.5               # [dst_len]
    first = np.floor(centre).astype(np.int64) - radius + 1                      # [dst_len]
    x = (first[:, None] + np.arange(taps)[None, :] - centre[:, None]) / support  # [dst_len, taps]
    w = np.sinc(x) * np.sinc(x / LANCZOS_A) * (np.abs(x) < LANCZOS_A)
    w /= w.sum(axis=1, keepdims=True)
    return first, w.astype(np.float32)


class OutputStage:
    """Resamples a source texture of `source` size into the program texture of `output` size."""

    def __init__(self, ctx: moderngl.Context, shaders: ShaderLibrary, source: tuple[int, int], output: tuple[int, int],
                 *, fit: str = "contain", resample: str = "lanczos") -> None:
        if resample not in RESAMPLERS:
            raise LivevisError(f"unknown resampler {resample!r} (one of {', '.join(RESAMPLERS)})")
        self.ctx = ctx
        self.shaders = shaders
        self.source = (int(source[0]), int(source[1]))
        self.output = (int(output[0]), int(output[1]))
        self.fit = check_fit(fit)
        self.resample = resample
        self.geometry = fit_geometry(self.source, self.output, fit)
        self.texture = ctx.texture(self.output, 4)  # the program frame, RGBA8, GL convention
        self.texture.filter = (moderngl.LINEAR, moderngl.LINEAR)
        self.texture.repeat_x = self.texture.repeat_y = False
        self.fbo = ctx.framebuffer(color_attachments=[self.texture])
        self.fbo.clear(0.0, 0.0, 0.0, 1.0)
        self._mid = self._mid_fbo = None
        self._weights: list[tuple[moderngl.Texture, int]] = []
        if resample == "lanczos":
            # Horizontal pass output: the destination's width x the source's full height (float: keeps
            # the kernel's overshoot for the vertical pass).
            self._mid = ctx.texture((self.geometry.dest[2], self.source[1]), 4, dtype="f2")
            self._mid.filter = (moderngl.NEAREST, moderngl.NEAREST)
            self._mid_fbo = ctx.framebuffer(color_attachments=[self._mid])
            cx, cy, cw, ch = self.geometry.crop
            self._weights = [self._weight_texture(cx, cw, self.geometry.dest[2]),   # horizontal pass
                             self._weight_texture(cy, ch, self.geometry.dest[3])]   # vertical pass
        self._vaos = QuadPrograms(self.ctx, self.shaders)

    def _weight_texture(self, start: float, length: float, dst_len: int) -> tuple[moderngl.Texture, int]:
        """(RGBA32F texture [dst_len rows, 1 + ceil(taps/4) columns], taps): see shaders/lanczos.glsl."""
        first, w = lanczos_weights(start, length, dst_len)
        taps = w.shape[1]
        groups = -(-taps // 4)
        table = np.zeros((dst_len, 1 + groups, 4), np.float32)                      # [rows, columns, RGBA]
        table[:, 0, 0] = first
        table[:, 1:, :].reshape(dst_len, 4 * groups)[:, :taps] = w
        texture = self.ctx.texture((1 + groups, dst_len), 4, table.tobytes(), dtype="f4")
        texture.filter = (moderngl.NEAREST, moderngl.NEAREST)
        return texture, taps

    def _program(self, name: str, taps: int | None = None) -> tuple[moderngl.Program, moderngl.VertexArray]:
        return self._vaos.get(name, {"TAPS": taps} if taps else None)

    def apply(self, source: moderngl.Texture) -> moderngl.Texture:
        """Resample `source` (GL convention, `self.source` size) into the program texture; returns it."""
        cx, cy, cw, ch = self.geometry.crop
        dx, dy, dw, dh = self.geometry.dest
        self.fbo.use()
        self.ctx.viewport = (0, 0, *self.output)
        if (dw, dh) != self.output:
            self.ctx.clear(0.0, 0.0, 0.0, 1.0)  # bars
        if self.resample == "bilinear":
            program, vao = self._program("fit_blit")
            sw, sh = self.source
            set_uniform(program, "u_src", 0)
            set_uniform(program, "u_crop", (cx / sw, cy / sh, cw / sw, ch / sh))
            source.use(0)
            self.ctx.viewport = (dx, dy, dw, dh)
            vao.render(**_QUAD)
            return self.texture
        # Pass 1: horizontal, source -> intermediate [dest w, source h].
        self._mid_fbo.use()
        self.ctx.viewport = (0, 0, dw, self.source[1])
        weights, taps = self._weights[0]
        program, vao = self._program("lanczos", taps)
        set_uniform(program, "u_src", 0)
        set_uniform(program, "u_weights", 1)
        set_uniform(program, "u_dir", (1, 0))
        set_uniform(program, "u_origin", (0, 0))
        source.use(0)
        weights.use(1)
        vao.render(**_QUAD)
        # Pass 2: vertical, intermediate -> the destination rectangle of the program frame.
        self.fbo.use()
        self.ctx.viewport = (dx, dy, dw, dh)
        weights, taps = self._weights[1]
        program, vao = self._program("lanczos", taps)
        set_uniform(program, "u_src", 0)
        set_uniform(program, "u_weights", 1)
        set_uniform(program, "u_dir", (0, 1))
        set_uniform(program, "u_origin", (dx, dy))
        self._mid.use(0)
        weights.use(1)
        vao.render(**_QUAD)
        return self.texture

    def release(self) -> None:
        self._vaos.release()
        for obj in (self._mid_fbo, self._mid, self.fbo, self.texture, *(w for w, _ in self._weights)):
            if obj is not None:
                obj.release()
