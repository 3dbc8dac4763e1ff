"""Labelled real recordings mixed into training windows (issue 13): the sound model hears real rain,
fire and wind next to the procedural sounds, so what it learns carries over to a microphone.

DIR/<class>/*.flac|wav|ogg|mp3, class folders named after the dataset's classes (the layout of
`scripts/extract_recordings.py --set train`, whose manifest lists package, file and licence). A
recording shorter than the window is looped. Folders naming no class of the dataset are an error;
classes without a folder simply get no real sound.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from livevis.errors import LivevisError

LEVEL_RMS = 0.1  # every excerpt is drawn at this RMS; the chain's gain step varies the level afterwards


class RealSoundBank:
    """Decoded recordings per class index: draw(rng, label, n) -> float32 [n] or None."""

    def __init__(self, root: str | Path, classes: list[str], sample_rate: int):
        from livevis.audio.decode import load_audio
        from livevis.audio.labelled import find_recordings

        self.by_class: dict[int, list[np.ndarray]] = {}
        for f, label in find_recordings(root, classes, what="real sounds", owner="the dataset"):
            x = load_audio(f, sample_rate)                                             # [n] mono
            if len(x) >= sample_rate // 10 and float(np.abs(x).max()) > 1e-4:         # skip blips and silence
                self.by_class.setdefault(label, []).append(x.astype(np.float32))
        if not self.by_class:
            raise LivevisError(f"real sounds {root}: no usable recordings in <class>/ folders")

    @property
    def count(self) -> int:
        return sum(len(v) for v in self.by_class.values())

    def draw(self, rng: np.random.Generator, label: int, n: int) -> np.ndarray | None:
        """n samples from a random recording of class `label` at a random offset (looped when
        shorter), scaled to LEVEL_RMS; None when the class has no recording."""
        clips = self.by_class.get(int(label))
        if not clips:
            return None
        x = clips[int(rng.integers(len(clips)))]
        if len(x) < n:
            x = np.tile(x, -(-n // len(x)))
        start = int(rng.integers(len(x) - n + 1))
        y = x[start:start + n]
        rms = float(np.sqrt(np.mean(y.astype(np.float64) ** 2)))
        return (y * (LEVEL_RMS / max(rms, 1e-5))).astype(np.float32)
