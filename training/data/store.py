"""On-disk layout of a prepared dataset: `.npy` shards plus one JSON index.

    DATA/index.json                    dataset settings, shard list, one record per clip
    DATA/shards/00000.frames.npy       uint8   [N, T, H, W, 3]
    DATA/shards/00000.audio.npy        float32 [N, samples]

`.npy` because numpy memory-maps it (no unpickling: loaded with allow_pickle=False) and the
loader can slice one clip out of a shard without reading the rest. Every shard and every index
rewrite goes through livevis.util.atomic, so an interrupted `prepare` leaves a consistent dataset.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from livevis.errors import LivevisError
from livevis.util.atomic import atomic_open

INDEX_NAME = "index.json"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class ClipFormat:
    """Geometry and timing of a dataset's clips, shared by the picture and the sound."""

    size: int            # frame side, pixels
    fps: int             # frames per second
    clip_seconds: float  # clip length
    sample_rate: int     # audio rate (mono), Hz

    @property
    def frames(self) -> int:
        return int(round(self.fps * self.clip_seconds))

    @property
    def samples(self) -> int:
        return int(round(self.sample_rate * self.clip_seconds))


def resume_records(out: Path, settings: dict[str, Any], leftovers: tuple[str, ...]) -> tuple[list["ClipRecord"], dict | None]:
    """(clips already written, index) of an interrupted run into `out` with the same `settings`;
    ([], None) when `out` is new.

    A dataset made with other settings, or a folder that is not a dataset (anything but `leftovers`
    of an interrupted first run), is refused rather than mixed into.
    """
    if (out / INDEX_NAME).exists():
        index = read_index(out)
        old = {k: index.get(k) for k in settings}
        if old != settings:
            diff = ", ".join(f"{k} {old[k]!r} -> {settings[k]!r}" for k in settings if old[k] != settings[k])
            raise LivevisError(f"{out} holds a dataset made with other settings ({diff}); choose another --out")
        return [clip_from_json(c) for c in index["clips"]], index
    if out.exists() and any(p.name not in leftovers for p in out.iterdir()):
        raise LivevisError(f"{out} exists and is not a livevis dataset; choose an empty or new --out")
    return [], None


@dataclass
class ClipRecord:
    """One fixed-length clip: where its arrays live and what it shows."""

    shard: str            # shard name, e.g. "00003"
    row: int              # row inside the shard
    label: str            # class name (the integer label is its position in `classes`)
    caption: str          # free text, used as the text side of CLIP losses
    source: str           # source video (relative to VIDEO_DIR) or "synthetic:<index>"
    start: float          # start time in the source, seconds
    split: str            # "train" | "val"
    onsets: list[float] = field(default_factory=list)  # ground-truth event times within the clip, seconds


def write_shard(root: Path, name: str, frames: np.ndarray, audio: np.ndarray) -> None:
    """Write one shard atomically: frames uint8 [N, T, H, W, 3], audio float32 [N, samples]."""
    assert frames.dtype == np.uint8 and frames.ndim == 5 and frames.shape[-1] == 3, frames.shape
    assert audio.dtype == np.float32 and audio.ndim == 2 and audio.shape[0] == frames.shape[0], audio.shape
    shard_dir = root / "shards"
    shard_dir.mkdir(parents=True, exist_ok=True)
    # Audio first: a shard counts as present only once its frames file exists.
    with atomic_open(shard_dir / f"{name}.audio.npy") as f:
        np.save(f, audio, allow_pickle=False)
    with atomic_open(shard_dir / f"{name}.frames.npy") as f:
        np.save(f, frames, allow_pickle=False)


def shard_paths(root: Path, name: str) -> tuple[Path, Path]:
    return root / "shards" / f"{name}.frames.npy", root / "shards" / f"{name}.audio.npy"


def write_index(root: Path, settings: dict[str, Any], clips: list[ClipRecord], extra: dict[str, Any] | None = None) -> None:
    """Rewrite index.json atomically. Integer labels follow the sorted class list."""
    classes = settings.get("classes") or sorted({c.label for c in clips})
    lookup = {name: i for i, name in enumerate(classes)}
    records = []
    for c in clips:
        rec = dict(c.__dict__)
        rec["class"] = rec.pop("label")
        rec["label"] = lookup[c.label]
        records.append(rec)
    doc = {"format": "livevis-clips", "version": FORMAT_VERSION, **settings, "classes": list(classes), "clips": records}
    if extra:
        doc.update(extra)
    with atomic_open(root / INDEX_NAME, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")


def read_index(root: str | Path) -> dict[str, Any]:
    """Load and sanity-check index.json; any problem is the user's: one-line LivevisError."""
    root = Path(root)
    hint = "run `livevis prepare` first"
    path = root / INDEX_NAME
    if not root.is_dir() or not path.is_file():
        raise LivevisError(f"no dataset at {root}: {hint}")
    try:
        doc = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LivevisError(f"bad dataset index {path}: {exc.__class__.__name__}: {exc}; {hint}") from None
    if not isinstance(doc, dict) or doc.get("format") != "livevis-clips":
        raise LivevisError(f"{path} is not a livevis dataset index; {hint}")
    if doc.get("version") != FORMAT_VERSION:
        raise LivevisError(f"{path} has dataset format version {doc.get('version')}, expected {FORMAT_VERSION}; re-run `livevis prepare`")
    for key in ("classes", "fps", "sample_rate", "size", "clip_seconds", "clips"):
        if key not in doc:
            raise LivevisError(f"{path} lacks '{key}'; {hint}")
    return doc


def clip_from_json(rec: dict[str, Any]) -> ClipRecord:
    return ClipRecord(
        shard=rec["shard"], row=int(rec["row"]), label=rec["class"], caption=rec["caption"], source=rec["source"],
        start=float(rec["start"]), split=rec["split"], onsets=[float(t) for t in rec.get("onsets", [])],
    )
