"""`livevis prepare VIDEO_DIR`: turn a folder of videos into sharded clips + index, resumably.

Labels come from the first sub-folder under VIDEO_DIR, or from a CSV (path,label[,caption]).
Clips are buffered into shards of SHARD_CLIPS; after each shard the index is rewritten, listing the
source files whose clips are all on disk. A re-run skips those and redoes the rest.
"""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from livevis.errors import LivevisError
from livevis.training.data.decode import ClipFormat, SkipFile, iter_clips
from livevis.training.data.store import ClipRecord, resume_records, write_index, write_shard
from livevis.util.atomic import atomic_open

VIDEO_EXTENSIONS = {".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v", ".mpg", ".mpeg"}
SHARD_CLIPS = 32


@dataclass
class Source:
    rel: str        # path relative to VIDEO_DIR, with forward slashes
    path: Path
    label: str
    caption: str


def default_caption(label: str) -> str:
    return f"a video of {label.replace('_', ' ')}"


def find_sources(video_dir: Path, labels_csv: Path | None) -> tuple[list[Source], list[dict], int]:
    """The usable videos with their labels, the files skipped before decoding (with reasons), and
    how many video files were found."""
    if not video_dir.is_dir():
        raise LivevisError(f"no video folder at {video_dir}")
    files = sorted(p for p in video_dir.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS)
    skipped: list[dict] = []
    sources: list[Source] = []
    if labels_csv is not None:
        table = _read_labels(labels_csv, video_dir)
        for p in files:
            rel = p.relative_to(video_dir).as_posix()
            if rel in table:
                label, cap = table[rel]
                sources.append(Source(rel, p, label, cap or default_caption(label)))
            else:
                skipped.append({"source": rel, "reason": "not listed in the labels CSV"})
        missing = sorted(set(table) - {s.rel for s in sources})
        skipped += [{"source": rel, "reason": "listed in the labels CSV but not found"} for rel in missing]
    else:
        for p in files:
            rel = p.relative_to(video_dir).as_posix()
            parts = rel.split("/")
            if len(parts) < 2:
                skipped.append({"source": rel, "reason": "no label: put it in a sub-folder named after its class, or pass --labels"})
                continue
            sources.append(Source(rel, p, parts[0], default_caption(parts[0])))
    if not files:
        raise LivevisError(f"no videos ({', '.join(sorted(VIDEO_EXTENSIONS))}) under {video_dir}")
    return sources, skipped, len(files)


def _read_labels(path: Path, video_dir: Path) -> dict[str, tuple[str, str]]:
    try:
        with open(path, newline="") as f:
            rows = [r for r in csv.reader(f) if r and not r[0].startswith("#")]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise LivevisError(f"cannot read labels CSV {path}: {exc}") from None
    if rows and [c.strip().lower() for c in rows[0][:2]] == ["path", "label"]:
        rows = rows[1:]
    table = {}
    for n, row in enumerate(rows, 1):
        if len(row) < 2 or not row[0].strip() or not row[1].strip():
            raise LivevisError(f"labels CSV {path}: row {n} needs path,label[,caption]")
        p = Path(row[0].strip())
        if p.is_absolute():
            try:
                p = p.resolve().relative_to(video_dir.resolve())
            except ValueError:
                raise LivevisError(f"labels CSV {path}: {row[0]} is outside {video_dir}") from None
        table[p.as_posix()] = (row[1].strip(), row[2].strip() if len(row) > 2 else "")
    if not table:
        raise LivevisError(f"labels CSV {path} lists no videos")
    return table


def split_of(rel: str, val_fraction: float) -> str:
    """Whole source files go to one split (no near-duplicate clips across splits); stable under re-runs."""
    h = int.from_bytes(hashlib.sha1(rel.encode()).digest()[:4], "big") / 2**32
    return "val" if h < val_fraction else "train"


def prepare_videos(video_dir: str | Path, out: str | Path, *, labels_csv: str | Path | None = None, size: int = 256,
                   fps: int = 15, clip_seconds: float = 2.0, sample_rate: int = 16000, val_fraction: float = 0.1,
                   on_file: Callable[[int, int, str], None] | None = None) -> dict:
    """Decode every video under `video_dir` into `out`. Returns the report (also saved as report.json).

    on_file(done, total, name) reports progress per source file.
    """
    video_dir, out = Path(video_dir), Path(out)
    if not 0.0 <= val_fraction < 1.0:
        raise LivevisError("--val-fraction must be in [0, 1)")
    fmt = ClipFormat(size=size, fps=fps, clip_seconds=clip_seconds, sample_rate=sample_rate)
    if fmt.frames < 1 or size < 8:
        raise LivevisError("clips need at least one frame and 8 px")
    sources, skipped, found = find_sources(video_dir, Path(labels_csv) if labels_csv else None)
    settings = {"kind": "videos", "fps": fps, "sample_rate": sample_rate, "size": size, "clip_seconds": clip_seconds,
                "val_fraction": val_fraction}
    records, index = resume_records(out, settings, leftovers=("shards", "report.json"))
    done_sources: list[str] = list(index.get("done_sources", [])) if index else []
    out.mkdir(parents=True, exist_ok=True)
    done_set = set(done_sources)
    shard_no = 1 + max((int(r.shard) for r in records), default=-1)
    buf_frames: list[np.ndarray] = []
    buf_audio: list[np.ndarray] = []
    buf_records: list[ClipRecord] = []
    buf_sources: list[str] = []
    resumed = sum(1 for s in sources if s.rel in done_set)

    def flush() -> None:
        nonlocal shard_no, buf_frames, buf_audio, buf_records, buf_sources
        if buf_records:
            name = f"{shard_no:05d}"
            write_shard(out, name, np.stack(buf_frames), np.stack(buf_audio))
            for row, rec in enumerate(buf_records):
                rec.shard, rec.row = name, row
            records.extend(buf_records)
            shard_no += 1
        done_sources.extend(buf_sources)
        classes = sorted({r.label for r in records})
        write_index(out, {**settings, "classes": classes}, records, {"done_sources": done_sources})
        buf_frames, buf_audio, buf_records, buf_sources = [], [], [], []

    todo = [s for s in sources if s.rel not in done_set]
    for n, src in enumerate(todo):
        if on_file:
            on_file(resumed + n, len(sources), src.rel)
        split = split_of(src.rel, val_fraction)
        count = 0
        try:
            for start, frames, audio in iter_clips(src.path, fmt):
                buf_frames.append(frames)
                buf_audio.append(audio)
                buf_records.append(ClipRecord("", 0, src.label, src.caption, src.rel, round(start, 6), split))
                count += 1
        except SkipFile as exc:
            # Drop what this file had buffered: a file is in the dataset whole or not at all.
            buf_frames, buf_audio, buf_records = buf_frames[: len(buf_frames) - count], buf_audio[: len(buf_audio) - count], buf_records[: len(buf_records) - count]
            skipped.append({"source": src.rel, "reason": str(exc)})
            continue
        if count == 0:
            skipped.append({"source": src.rel, "reason": f"shorter than one {clip_seconds:g} s clip"})
            continue
        buf_sources.append(src.rel)
        if len(buf_records) >= SHARD_CLIPS:
            flush()
    flush()
    if on_file:
        on_file(len(sources), len(sources), "")
    report = {
        "videos": found,
        "used": len(done_sources),
        "clips": len(records),
        "classes": sorted({r.label for r in records}),
        "resumed": resumed,
        "skipped": skipped,
    }
    _write_report(out, report)
    if not records:
        raise LivevisError(f"no usable clips in {video_dir} ({len(skipped)} file(s) skipped; see {out / 'report.json'})")
    return report


def _write_report(out: Path, report: dict) -> None:
    with atomic_open(out / "report.json", "w") as f:
        json.dump(report, f, indent=1)
        f.write("\n")
