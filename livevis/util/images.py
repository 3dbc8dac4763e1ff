"""Image grids for people to look at: training samples, `livevis eval --grid`."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import torch

from livevis.util.atomic import atomic_open


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """Images float in [-1, 1] (any shape) -> uint8 in [0, 255] on the CPU; uint8 passes through."""
    x = x.detach().cpu()
    if x.dtype == torch.uint8:
        return x
    return ((x.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


def tile(images: torch.Tensor, cols: int | None = None) -> np.ndarray:
    """images [N, 3, H, W] (float in [-1, 1] or uint8) -> uint8 [rows * H, cols * W, 3], row-major,
    blank cells black."""
    assert images.ndim == 4 and images.shape[1] == 3, images.shape
    imgs = to_uint8(images).permute(0, 2, 3, 1).numpy()                       # [N, H, W, 3]
    n, h, w, _ = imgs.shape
    cols = cols or math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    grid = np.zeros((rows * h, cols * w, 3), np.uint8)
    for i in range(n):
        r, c = divmod(i, cols)
        grid[r * h:(r + 1) * h, c * w:(c + 1) * w] = imgs[i]
    return grid


def save_png(path: str | Path, grid: np.ndarray) -> Path:
    """uint8 [H, W, 3] -> PNG at `path`, written atomically."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(grid).save(buf, format="PNG")
    with atomic_open(path) as f:
        f.write(buf.getvalue())
    return Path(path)
