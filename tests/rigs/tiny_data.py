"""Session fixtures for training tests: a tiny synthetic dataset and a tiny generator bundle.

    tiny_data       18 clips of all 9 synthetic classes, 32 px, 10 fps, 1.5 s at 16 kHz (20% held out)
    tiny_generator  a seeded, untrained 32 px StyleGAN2 bundle (8 ws of 64) to play the frozen generator
    train(*argv)    `livevis train ...` in this process -> (exit code, stderr text)
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest

TINY_DATA = dict(count=18, size=32, fps=10, clip_seconds=1.5, sample_rate=16000, val_fraction=0.2, seed=0)


def make_tiny_data(path: Path) -> Path:
    from livevis.training.data import write_synthetic

    settings = dict(TINY_DATA)
    write_synthetic(path, settings.pop("count"), **settings)
    return path


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory) -> Path:
    return make_tiny_data(tmp_path_factory.mktemp("train-data") / "data")


@pytest.fixture(scope="session")
def tiny_generator(tmp_path_factory) -> Path:
    from tests.rigs.tiny_bundle import make_tiny_bundle

    return make_tiny_bundle(tmp_path_factory.mktemp("train-gen") / "gen.bundle", seed=3)


def train(*argv: str) -> tuple[int, str]:
    """Run `livevis train ARGV` in-process; returns (exit code, what it wrote to stderr)."""
    from livevis.cli import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            code = main(["train", *map(str, argv)])
        except SystemExit as exc:  # argparse errors
            code = exc.code if isinstance(exc.code, int) else 1
    return code, err.getvalue()


def metric_rows(run_dir: Path) -> list[dict[str, float]]:
    """metrics.csv rows as floats, without the wall-clock column."""
    import csv

    with open(Path(run_dir) / "metrics.csv", newline="") as f:
        return [{k: float(v) for k, v in r.items() if k != "seconds" and v != ""} for r in csv.DictReader(f)]
