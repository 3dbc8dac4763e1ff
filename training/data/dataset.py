"""`ClipDataset`: the training-side view of a prepared dataset (see store.py for the layout)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from livevis.errors import LivevisError
from livevis.training.data.store import read_index, shard_paths

SPLITS = ("train", "val", "all")


class ClipDataset(torch.utils.data.Dataset):
    """Fixed-length audio-visual clips of one split.

    item -> {"frames": uint8 [T, 3, H, W], "audio": float32 [samples], "label": int,
             "caption": str, "onsets": list[float] (seconds within the clip)}
    Shards are memory-mapped on first use and kept open, so random access reads only the clip.
    """

    def __init__(self, path: str | Path, split: str = "train"):
        if split not in SPLITS:
            raise LivevisError(f"unknown split '{split}' (choose from {', '.join(SPLITS)})")
        self.root = Path(path)
        index = read_index(self.root)
        self.classes: list[str] = list(index["classes"])
        self.fps: int = int(index["fps"])
        self.sample_rate: int = int(index["sample_rate"])
        self.size: int = int(index["size"])
        self.clip_seconds: float = float(index["clip_seconds"])
        self.frames_per_clip = int(round(self.fps * self.clip_seconds))
        self.samples_per_clip = int(round(self.sample_rate * self.clip_seconds))
        self.split = split
        self.clips: list[dict[str, Any]] = [c for c in index["clips"] if split == "all" or c["split"] == split]
        if not self.clips:
            where = "" if split == "all" else f" in split '{split}'"
            raise LivevisError(f"dataset at {self.root} has no clips{where}; run `livevis prepare` with more data")
        self._shards: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def __len__(self) -> int:
        return len(self.clips)

    def _shard(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        arrays = self._shards.get(name)
        if arrays is None:
            frames_path, audio_path = shard_paths(self.root, name)
            try:
                frames = np.load(frames_path, mmap_mode="r", allow_pickle=False)
                audio = np.load(audio_path, mmap_mode="r", allow_pickle=False)
            except (OSError, ValueError) as exc:
                raise LivevisError(f"dataset at {self.root} has a missing or damaged shard {name}: {exc}; re-run `livevis prepare`") from None
            t, s = self.frames_per_clip, self.size
            if frames.dtype != np.uint8 or frames.shape[1:] != (t, s, s, 3) or audio.shape[1:] != (self.samples_per_clip,):
                raise LivevisError(f"shard {name} in {self.root} does not match its index; re-run `livevis prepare`")
            arrays = self._shards[name] = (frames, audio)
        return arrays

    def __getitem__(self, i: int) -> dict[str, Any]:
        rec = self.clips[i]
        frames, audio = self._shard(rec["shard"])
        clip = torch.from_numpy(np.array(frames[rec["row"]]))          # [T, H, W, 3] uint8
        sound = torch.from_numpy(np.array(audio[rec["row"]], dtype=np.float32))  # [samples]
        return {
            "frames": clip.permute(0, 3, 1, 2).contiguous(),              # [T, 3, H, W]
            "audio": sound,
            "label": int(rec["label"]),
            "caption": rec["caption"],
            "onsets": [float(t) for t in rec.get("onsets", [])],
        }

    def labels(self) -> list[int]:
        """Integer label of every clip, without touching the shards."""
        return [int(c["label"]) for c in self.clips]

    def __getstate__(self):
        # Memory maps are reopened in DataLoader workers rather than pickled.
        state = dict(self.__dict__)
        state["_shards"] = {}
        return state
