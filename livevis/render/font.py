"""A bitmap-font atlas for the stats overlay, rasterised once with PIL."""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np
from PIL import Image, ImageDraw, ImageFont

FIRST_CHAR = 32  # ' '
LAST_CHAR = 126  # '~'
COLUMNS = 16


@dataclasses.dataclass(frozen=True)
class FontAtlas:
    pixels: np.ndarray  # [rows * cell_h, COLUMNS * cell_w] uint8 coverage, top row first
    cell_w: int
    cell_h: int
    columns: int
    rows: int

    def glyph(self, char: str) -> int:
        """Atlas cell index of `char` ('?' for anything outside printable ASCII)."""
        code = ord(char)
        if not FIRST_CHAR <= code <= LAST_CHAR:
            code = ord("?")
        return code - FIRST_CHAR


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)  # Pillow's bundled TrueType font (needs FreeType)
    except (TypeError, ImportError, OSError):
        return ImageFont.load_default()  # tiny built-in bitmap font


@functools.lru_cache(maxsize=4)
def build_atlas(size: int = 14) -> FontAtlas:
    """Rasterise printable ASCII into a grid of equal cells (fixed-pitch layout)."""
    font = _font(size)
    chars = [chr(c) for c in range(FIRST_CHAR, LAST_CHAR + 1)]
    boxes = [font.getbbox(c) for c in chars]
    cell_w = max(1, math.ceil(max(font.getlength(c) for c in chars)))
    top = min(0, min(b[1] for b in boxes))
    cell_h = max(b[3] for b in boxes) - top + 1
    rows = math.ceil(len(chars) / COLUMNS)
    image = Image.new("L", (COLUMNS * cell_w, rows * cell_h), 0)
    draw = ImageDraw.Draw(image)
    for i, char in enumerate(chars):
        col, row = i % COLUMNS, i // COLUMNS
        draw.text((col * cell_w, row * cell_h - top), char, fill=255, font=font)
    pixels = np.asarray(image, dtype=np.uint8).copy()  # [rows * cell_h, COLUMNS * cell_w]
    return FontAtlas(pixels=pixels, cell_w=cell_w, cell_h=cell_h, columns=COLUMNS, rows=rows)
