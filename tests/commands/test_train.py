"""`livevis train`: flags and config, one-line errors, exact resume after SIGKILL, NaN stop."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from livevis.training.stages.common import FAULT_ENV
from tests.rigs.tiny_data import metric_rows, tiny_data, tiny_generator, train  # noqa: F401 (fixtures)

ROOT = Path(__file__).resolve().parents[2]


def _one_line(err: str) -> str:
    lines = [l for l in err.strip().splitlines() if not l.startswith("step ")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_unknown_stage_and_preset(tiny_data, tmp_path):
    code, err = train("nosuch", "--data", tiny_data, "--out", tmp_path / "r")
    assert code == 2 and "invalid choice: 'nosuch'" in _one_line(err) and "audio" in err
    code, err = train("audio", "--data", tiny_data, "--out", tmp_path / "r", "--preset", "huge")
    assert code == 1 and "unknown preset 'huge'" in _one_line(err)
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("make, message", [
    (lambda p: p / "missing", "no dataset at"),
    (lambda p: p, "run `livevis prepare` first"),                     # an empty folder
    (lambda p: (p / "index.json").write_text("{not json") and p, "index"),
])
def test_bad_data_is_one_line_and_leaves_no_run(tmp_path, make, message):
    data = make(_mkdir(tmp_path / "data"))
    code, err = train("audio", "--data", data, "--out", tmp_path / "run", "--preset", "tiny")
    assert code == 1 and message in _one_line(err)
    assert not (tmp_path / "run").exists()


def _mkdir(p: Path) -> Path:
    p.mkdir()
    return p


def test_flags_and_overrides_land_in_the_config(tiny_data, tmp_path):
    code, err = train("audio", "--data", tiny_data, "--out", tmp_path / "r", "--preset", "tiny", "--steps", 2,
                      "--batch", 4, "--seed", 7, "--ckpt-every", 1, "--set", "loss.w_intra=0.25", "--set", "specaug.time_masks=1")
    assert code == 0, err
    config = json.loads((tmp_path / "r/config.json").read_text())
    assert (config["steps"], config["batch"], config["seed"], config["ckpt_every"]) == (2, 4, 7, 1)
    assert config["loss"]["w_intra"] == 0.25 and config["specaug"]["time_masks"] == 1 and config["clip"] == "tiny"
    assert sorted(p.name for p in (tmp_path / "r/checkpoints").glob("ckpt-*.pt")) == ["ckpt-00000001.pt", "ckpt-00000002.pt"]
    # Same folder again: refused without --resume; --resume with other settings: refused, naming them.
    code, err = train("audio", "--data", tiny_data, "--out", tmp_path / "r", "--preset", "tiny", "--steps", 2)
    assert code == 1 and "already exists" in _one_line(err)
    code, err = train("audio", "--data", tiny_data, "--out", tmp_path / "r", "--preset", "tiny", "--steps", 2, "--resume")
    assert code == 1 and "different config" in _one_line(err) and "batch" in err


@pytest.mark.parametrize("args, message", [
    (("--set", "loss.nope=1"), "no config entry 'loss.nope'"),
    (("--set", "novalue"), "KEY=VALUE"),
    (("--batch", "0"), "--batch must be positive"),
    (("--resume",), "nothing to resume"),
    (("--clip", "bundle:/nonexistent"), "neither a bundle"),
])
def test_bad_flags_are_one_line(tiny_data, tmp_path, args, message):
    code, err = train("audio", "--data", tiny_data, "--out", tmp_path / "r", "--preset", "tiny", "--steps", 1, *args)
    assert code == 1 and message in _one_line(err)


def test_nan_stops_with_the_last_good_checkpoint(tiny_data, tmp_path, monkeypatch):
    monkeypatch.setenv(FAULT_ENV, "nan@3")
    out = tmp_path / "r"
    code, err = train("audio", "--data", tiny_data, "--out", out, "--preset", "tiny", "--steps", 6, "--ckpt-every", 2)
    line = _one_line(err)
    assert code == 1 and "NaN/inf at step 3" in line and "last good checkpoint kept at" in line and "ckpt-00000002.pt" in line
    assert json.loads((out / "checkpoints/latest.json").read_text())["step"] == 2
    assert not (out / "sound_encoder.safetensors").exists()
    # The kept checkpoint resumes (the fault is gone) and the run completes.
    monkeypatch.delenv(FAULT_ENV)
    code, err = train("audio", "--data", tiny_data, "--out", out, "--preset", "tiny", "--steps", 6, "--ckpt-every", 2, "--resume")
    assert code == 0, err
    assert [int(r["step"]) for r in metric_rows(out)] == list(range(6))


def _livevis(args: list[str], fault: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in (FAULT_ENV, "WORLD_SIZE", "RANK")}
    env.update(OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT), CUDA_VISIBLE_DEVICES="")
    if fault:
        env[FAULT_ENV] = fault
    return subprocess.run([sys.executable, "-m", "livevis.cli", "train", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=400)


def _check_resume(tmp_path: Path, stage_args: list[str], steps: int, kill_at: int) -> None:
    whole = _livevis([*stage_args, "--out", str(tmp_path / "whole"), "--steps", str(steps)])
    assert whole.returncode == 0, whole.stderr[-2000:]
    killed = _livevis([*stage_args, "--out", str(tmp_path / "cut"), "--steps", str(steps)], fault=f"kill@{kill_at}")
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert len(metric_rows(tmp_path / "cut")) == kill_at            # rows past the checkpoint exist, and are redone
    resumed = _livevis([*stage_args, "--out", str(tmp_path / "cut"), "--steps", str(steps), "--resume"])
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    a, b = metric_rows(tmp_path / "whole"), metric_rows(tmp_path / "cut")
    assert len(a) == len(b) == steps
    for ra, rb in zip(a, b):
        assert ra.keys() == rb.keys()
        for k in ra:
            assert abs(ra[k] - rb[k]) <= 1e-6, (int(ra["step"]), k, ra[k], rb[k])


@pytest.mark.slow
def test_audio_resume_after_sigkill_reproduces_losses(tiny_data, tmp_path):
    _check_resume(tmp_path, ["audio", "--data", str(tiny_data), "--preset", "tiny", "--ckpt-every", "2"], steps=7, kill_at=5)


@pytest.mark.slow
def test_video_resume_after_sigkill_reproduces_losses(tiny_data, tiny_generator, tmp_path):
    _check_resume(tmp_path, ["video", "--data", str(tiny_data), "--preset", "tiny", "--ckpt-every", "2",
                             "--generator", str(tiny_generator), "--set", "sample_every=2"], steps=6, kill_at=3)
