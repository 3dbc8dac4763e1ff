"""`livevis eval --grid`: one picture of what the model draws for each class's sound."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from livevis.util.images import save_png, tile

STRIDE = 2   # every other step: a 2 s clip at 10 Hz gives 10 columns


class ClassGrid:
    """Collects the first scored clip of each class (evaluate's on_frames hook) and tiles, per class,
    two rows: [real frame | sound-driven frames] and [real frame | random-walk frames]."""

    def __init__(self, stride: int = STRIDE):
        self.stride = stride
        self.rows: dict[int, dict[str, torch.Tensor]] = {}   # label -> {"real", "sound", "baseline"}

    def add(self, kind: str, item: dict, frames: torch.Tensor) -> None:
        """frames [T, 3, R, R] in [-1, 1]; item as ClipDataset returns it (frames uint8 [T, 3, H, W])."""
        label = int(item["label"])
        row = self.rows.setdefault(label, {})
        if kind in row:
            return
        if "real" not in row:
            R = frames.shape[-1]
            real = item["frames"][item["frames"].shape[0] // 2].float()[None] / 127.5 - 1.0   # [1, 3, H, W]
            row["real"] = F.interpolate(real, size=(R, R), mode="area") if real.shape[-1] != R else real
        row[kind] = frames[:: self.stride].float().cpu()

    def save(self, path: str | Path) -> Path:
        cells, cols = [], 0
        for label in sorted(self.rows):
            row = self.rows[label]
            for kind in ("sound", "baseline"):
                if kind in row:
                    cells.append(torch.cat([row["real"], row[kind]]))
                    cols = max(cols, cells[-1].shape[0])
        if not cells:
            raise ValueError("no frames collected")
        padded = [torch.cat([c, torch.full((cols - c.shape[0], *c.shape[1:]), -1.0)]) for c in cells]
        return save_png(path, tile(torch.cat(padded), cols))
