"""The unit passed from the inference thread to the render thread."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np


@dataclasses.dataclass
class Frame:
    """One finished image and where it came from.

    rgba:        [H, W, 4] uint8 numpy array (CPU path), or a [H, W, 4] uint8 torch CUDA tensor (GPU path).
                 Row 0 is the top of the image.
    audio_index: absolute sample index of the end of the audio window the frame was computed from.
    seq:         producer's running frame number.
    created:     time.monotonic() when the frame was finished.
    stats:       stage name -> milliseconds spent on this frame (mel, encoder, recurrent, synthesis, ...).
    """

    rgba: Any
    audio_index: int = 0
    seq: int = 0
    created: float = dataclasses.field(default_factory=time.monotonic)
    stats: dict[str, float] = dataclasses.field(default_factory=dict)

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the image."""
        h, w = self.rgba.shape[:2]
        return int(w), int(h)

    @property
    def on_cuda(self) -> bool:
        return bool(getattr(self.rgba, "is_cuda", False))

    def check(self, width: int, height: int) -> None:
        """Assert the frame is [height, width, 4] uint8 (the renderer's texture size)."""
        shape = tuple(self.rgba.shape)
        assert shape == (height, width, 4), f"frame is {shape}, renderer expects {(height, width, 4)}"
        if isinstance(self.rgba, np.ndarray):
            assert self.rgba.dtype == np.uint8, f"frame dtype {self.rgba.dtype}, expected uint8"
        else:
            assert str(self.rgba.dtype) == "torch.uint8", f"frame dtype {self.rgba.dtype}, expected torch.uint8"
