"""A training run's folder: saved config, CSV metrics, progress display, sample grids and clips.

    RUN/config.json      the stage's full config (checked against on --resume)
    RUN/metrics.csv      one row per logged step: step, seconds, then the losses
    RUN/checkpoints/     see checkpoint.CheckpointDir
    RUN/samples/         PNG grids and short mp4 clips
"""

from __future__ import annotations

import csv
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from livevis.errors import LivevisError
from livevis.training.checkpoint import CheckpointDir
from livevis.util.atomic import atomic_open, atomic_path
from livevis.util.images import save_png, tile, to_uint8


def _jsonable(config: dict[str, Any]) -> dict[str, Any]:
    try:
        return json.loads(json.dumps(config))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"run config must be JSON-serialisable: {exc}") from None


def config_diff(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[str]:
    """Human-readable differences between two configs, nested keys joined by dots."""
    out = []
    for key in sorted(set(old) | set(new)):
        name = f"{prefix}{key}"
        if key not in old:
            out.append(f"{name} added ({new[key]!r})")
        elif key not in new:
            out.append(f"{name} removed (was {old[key]!r})")
        elif isinstance(old[key], dict) and isinstance(new[key], dict):
            out += config_diff(old[key], new[key], name + ".")
        elif old[key] != new[key]:
            out.append(f"{name} {old[key]!r} -> {new[key]!r}")
    return out


class Run:
    """Owns RUN/. Only the main process of a distributed job should write (`is_main=False` makes
    every writer a no-op, while reads such as `checkpoints.latest()` still work)."""

    def __init__(self, out_dir: str | Path, config: dict[str, Any], resume: bool = False, *, is_main: bool = True, keep: int = 3):
        self.dir = Path(out_dir)
        self.config = _jsonable(config)
        self.resume = resume
        self.is_main = is_main
        self.checkpoints = CheckpointDir(self.dir / "checkpoints", keep=keep)
        self.samples_dir = self.dir / "samples"
        self.metrics_path = self.dir / "metrics.csv"
        self._columns: list[str] | None = None
        self._start = time.monotonic()
        config_path = self.dir / "config.json"
        if resume:
            if not config_path.is_file():
                raise LivevisError(f"nothing to resume at {self.dir}: no config.json (start without --resume)")
            try:
                old = json.loads(config_path.read_text())
            except (OSError, ValueError) as exc:
                raise LivevisError(f"cannot read {config_path}: {exc}") from None
            diff = config_diff(old, self.config)
            if diff:
                raise LivevisError(f"--resume with a different config than {config_path}: {'; '.join(diff)}")
        elif is_main:  # other ranks would race the main rank's own mkdir
            if self.dir.exists() and (not self.dir.is_dir() or any(self.dir.iterdir())):
                raise LivevisError(f"run folder {self.dir} already exists and is not empty (use --resume or another --out)")
            self.dir.mkdir(parents=True, exist_ok=True)
            with atomic_open(config_path, "w") as f:
                json.dump(self.config, f, indent=1, sort_keys=True)
                f.write("\n")

    # ---- metrics -------------------------------------------------------------------------------
    def truncate_metrics(self, after_step: int) -> None:
        """On resume: drop rows logged after the checkpoint we resume from (they will be redone)."""
        if not self.is_main or not self.metrics_path.is_file():
            return
        with open(self.metrics_path, newline="") as f:
            rows = list(csv.reader(f))
        if not rows:
            return
        header, body = rows[0], [r for r in rows[1:] if r and int(r[0]) < after_step]
        self._rewrite(header, body)

    def _rewrite(self, header: list[str], body: list[list[str]]) -> None:
        with atomic_open(self.metrics_path, "w") as f:
            w = csv.writer(f)
            w.writerow(header)
            w.writerows(body)
        self._columns = header

    def log(self, step: int, metrics: dict[str, float]) -> None:
        """Append one row (step = the 0-based index of the step that produced these values).

        Lines are appended and flushed (a log, not a user artefact: after a crash the tail rows past
        the last checkpoint are dropped by truncate_metrics on resume). Floats are written with
        repr() so resumed runs can be compared exactly.
        """
        if not self.is_main:
            return
        if self._columns is None and self.metrics_path.is_file():
            with open(self.metrics_path, newline="") as f:
                self._columns = next(csv.reader(f), None)
        names = sorted(metrics)
        if self._columns is None:
            self._rewrite(["step", "seconds", *names], [])
        elif any(n not in self._columns for n in names):
            # A new metric appeared: widen the header, keeping the old rows.
            with open(self.metrics_path, newline="") as f:
                rows = list(csv.reader(f))[1:]
            header = self._columns + [n for n in names if n not in self._columns]
            self._rewrite(header, [r + [""] * (len(header) - len(r)) for r in rows])
        row = {"step": str(step), "seconds": f"{time.monotonic() - self._start:.3f}", **{k: repr(float(v)) for k, v in metrics.items()}}
        with open(self.metrics_path, "a", newline="") as f:
            csv.writer(f).writerow([row.get(c, "") for c in self._columns])

    def read_metrics(self) -> list[dict[str, float]]:
        """All logged rows as floats (missing values are NaN)."""
        if not self.metrics_path.is_file():
            return []
        with open(self.metrics_path, newline="") as f:
            return [{k: (float(v) if v != "" else math.nan) for k, v in r.items()} for r in csv.DictReader(f)]

    # ---- samples -------------------------------------------------------------------------------
    def save_grid(self, name: str, images: torch.Tensor, nrow: int | None = None) -> Path | None:
        """images [N, 3, H, W] float in [-1, 1] or uint8 -> samples/<name>.png (atomic)."""
        if not self.is_main:
            return None
        return save_png(self.samples_dir / f"{name}.png", tile(images, nrow))

    def save_clip(self, name: str, frames: torch.Tensor, fps: int, audio: torch.Tensor | np.ndarray | None = None,
                  sample_rate: int | None = None) -> Path | None:
        """frames [T, 3, H, W] float in [-1, 1] or uint8 -> samples/<name>.mp4 (H.264 yuv420p, optional
        mono AAC audio [samples] float in [-1, 1]); written atomically."""
        if not self.is_main:
            return None
        assert frames.ndim == 4 and frames.shape[1] == 3, frames.shape
        path = self.samples_dir / f"{name}.mp4"
        write_mp4(path, to_uint8(frames).permute(0, 2, 3, 1).numpy(), fps, audio, sample_rate)
        return path

    # ---- progress ------------------------------------------------------------------------------
    def progress(self, total: int, start: int = 0) -> "Progress":
        return Progress(total, start, enabled=self.is_main)


def write_mp4(path: Path, frames: np.ndarray, fps: int, audio=None, sample_rate: int | None = None) -> None:
    """frames uint8 [T, H, W, 3]. Even sizes are required by yuv420p: odd edges are cropped."""
    import av

    t, h, w, _ = frames.shape
    h2, w2 = h - h % 2, w - w % 2
    with atomic_path(path) as tmp:
        with av.open(str(tmp), mode="w", format="mp4") as out:
            vs = out.add_stream("libx264", rate=fps)
            vs.width, vs.height, vs.pix_fmt = w2, h2, "yuv420p"
            astream = None
            if audio is not None:
                if sample_rate is None:
                    raise ValueError("save_clip with audio needs sample_rate")
                astream = out.add_stream("aac", rate=sample_rate)
                astream.layout = "mono"
            for img in frames:
                for packet in vs.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(img[:h2, :w2]), format="rgb24")):
                    out.mux(packet)
            for packet in vs.encode():
                out.mux(packet)
            if astream is not None:
                samples = np.asarray(audio.detach().cpu() if isinstance(audio, torch.Tensor) else audio, np.float32).reshape(1, -1)
                frame = av.AudioFrame.from_ndarray(np.clip(samples, -1, 1), format="flt", layout="mono")
                frame.sample_rate = sample_rate
                for packet in astream.encode(frame):
                    out.mux(packet)
                for packet in astream.encode():
                    out.mux(packet)


class Progress:
    """Rich progress bar with losses and ETA when stderr is a terminal; otherwise plain lines on stdout
    (about every 5 s, and at the end)."""

    def __init__(self, total: int, start: int = 0, enabled: bool = True, every_s: float = 5.0):
        self.total, self.done, self.enabled = total, start, enabled
        self._first, self._t0 = start, time.monotonic()
        self._last_line = 0.0
        self._every = every_s
        self._bar = None
        if enabled and sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress as Bar, TextColumn, TimeRemainingColumn

            self._bar = Bar(TextColumn("train"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                            TextColumn("{task.fields[losses]}"), console=Console(stderr=True))
            self._task = self._bar.add_task("train", total=total, completed=start, losses="")

    def __enter__(self) -> "Progress":
        if self._bar:
            self._bar.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._bar:
            self._bar.stop()

    def update(self, done: int, metrics: dict[str, float]) -> None:
        self.done = done
        if not self.enabled:
            return
        losses = "  ".join(f"{k} {v:.4g}" for k, v in sorted(metrics.items()))
        if self._bar:
            self._bar.update(self._task, completed=done, losses=losses)
            return
        now = time.monotonic()
        if now - self._last_line >= self._every or done == self.total:
            self._last_line = now
            rate = (done - self._first) / max(now - self._t0, 1e-9)
            eta = (self.total - done) / rate if rate > 0 else float("inf")
            eta_s = f"{eta:.0f}s" if math.isfinite(eta) else "?"
            # stdout: stderr is kept for the one-line error a failed command ends with.
            print(f"step {done}/{self.total}  {losses}  eta {eta_s}", flush=True)
