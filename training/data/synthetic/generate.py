"""Generate the synthetic set: class registry, per-clip rendering, resumable sharded writing."""

from __future__ import annotations

import multiprocessing
from functools import partial
from pathlib import Path
from typing import Callable

import numpy as np

from livevis.errors import LivevisError
from livevis.training.data.store import ClipRecord, resume_records, write_index, write_shard
from livevis.training.data.synthetic.canvas import ClipSpec, to_uint8
from livevis.training.data.synthetic.scenes_fire import fire_crackling, volcano
from livevis.training.data.synthetic.scenes_sky import calm, rain, thunderstorm, wind
from livevis.training.data.synthetic.scenes_water import splashing_water, underwater_bubbling, waterfall

# The order fixes the integer labels of the default class set.
CLASSES = {
    "thunderstorm": thunderstorm,
    "rain": rain,
    "waterfall": waterfall,
    "fire_crackling": fire_crackling,
    "wind": wind,
    "underwater_bubbling": underwater_bubbling,
    "volcano": volcano,
    "splashing_water": splashing_water,
    "calm": calm,
}

SHARD_CLIPS = 64


def check_classes(names: list[str]) -> list[str]:
    unknown = [c for c in names if c not in CLASSES]
    if unknown:
        raise LivevisError(f"unknown synthetic class(es) {', '.join(unknown)} (choose from {', '.join(CLASSES)})")
    if len(set(names)) != len(names) or not names:
        raise LivevisError("--classes must name each class once")
    return names


def render_clip(index: int, *, seed: int, spec: ClipSpec, classes: list[str]) -> tuple[np.ndarray, np.ndarray, ClipRecord]:
    """Clip `index` of the set: frames uint8 [T, S, S, 3], audio float32 [samples], and its record
    (shard/row/split are filled in by the writer). Deterministic in (seed, index) alone."""
    name = classes[index % len(classes)]
    rng = np.random.default_rng([seed, index])
    scene = CLASSES[name](rng, spec)
    assert scene.frames.shape == (spec.frames, spec.size, spec.size, 3), scene.frames.shape
    assert scene.audio.shape == (spec.samples,) and scene.audio.dtype == np.float32, scene.audio.shape
    rec = ClipRecord(shard="", row=0, label=name, caption=scene.caption, source=f"synthetic:{index}",
                     start=0.0, split="train", onsets=[round(t, 6) for t in scene.onsets])
    return to_uint8(scene.frames), scene.audio, rec


def split_of(index: int, n_classes: int, val_fraction: float) -> str:
    """Stratified and stable: within each class, the 2nd clip and every round(1/val_fraction)-th after it
    are held out (so even a small set has one held-out clip per class)."""
    if val_fraction <= 0:
        return "train"
    period = max(2, round(1 / val_fraction))
    return "val" if (index // n_classes) % period == 1 else "train"


def write_synthetic(out: str | Path, count: int, *, classes: list[str] | None = None, seed: int = 0, size: int = 128,
                    fps: int = 15, clip_seconds: float = 2.0, sample_rate: int = 16000, val_fraction: float = 0.1,
                    workers: int = 1, on_clip: Callable[[int, int], None] | None = None) -> dict:
    """Write `count` clips to `out` in shards of SHARD_CLIPS; re-running with the same settings resumes.

    Returns the settings dict stored in the index. on_clip(done, total) reports progress. Clips are
    independent functions of (seed, index), so `workers` > 1 renders in parallel with identical bytes.
    """
    classes = check_classes(list(classes or CLASSES))
    if count < 1:
        raise LivevisError("--synthetic needs a positive clip count")
    if not 0.0 <= val_fraction <= 0.5:
        raise LivevisError("--val-fraction must be in [0, 0.5] for the synthetic set")
    spec = ClipSpec(size=size, fps=fps, clip_seconds=clip_seconds, sample_rate=sample_rate)
    if spec.frames < 4 or size < 16:
        raise LivevisError("clips need at least 4 frames and 16 px")
    out = Path(out)
    settings = {"kind": "synthetic", "classes": classes, "fps": fps, "sample_rate": sample_rate, "size": size,
                "clip_seconds": clip_seconds, "seed": seed, "count": count, "val_fraction": val_fraction}
    records, _ = resume_records(out, settings, leftovers=("shards",))
    done_shards = {r.shard for r in records}
    out.mkdir(parents=True, exist_ok=True)
    done = len(records)
    if on_clip:
        on_clip(done, count)
    render = partial(render_clip, seed=seed, spec=spec, classes=classes)
    pool = multiprocessing.get_context("spawn").Pool(workers) if workers > 1 else None
    try:
        for first in range(0, count, SHARD_CLIPS):
            name = f"{first // SHARD_CLIPS:05d}"
            if name in done_shards:
                continue
            rows = range(first, min(count, first + SHARD_CLIPS))
            frames = np.empty((len(rows), spec.frames, size, size, 3), np.uint8)      # [N, T, S, S, 3]
            audio = np.empty((len(rows), spec.samples), np.float32)                      # [N, samples]
            results = pool.imap(render, rows, chunksize=2) if pool else map(render, rows)
            for row, (i, (clip, sound, rec)) in enumerate(zip(rows, results)):
                frames[row], audio[row] = clip, sound
                rec.shard, rec.row, rec.split = name, row, split_of(i, len(classes), val_fraction)
                records.append(rec)
                done += 1
                if on_clip:
                    on_clip(done, count)
            write_shard(out, name, frames, audio)
            write_index(out, settings, records)
    finally:
        if pool:
            pool.terminate()
    return settings
