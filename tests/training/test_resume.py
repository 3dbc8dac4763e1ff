"""Exact resume after SIGKILL, NaN stop, run-folder rules, reproducible batches, samples on disk."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from livevis.errors import LivevisError
from livevis.training.loop import batch_indices, train_loop
from livevis.training.run import Run

ROOT = Path(__file__).resolve().parents[2]
TOY = ROOT / "tests" / "rigs" / "toy_train.py"


def _toy(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, str(TOY), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def _losses(run_dir: Path) -> dict[int, float]:
    rows = Run(run_dir, json.loads((run_dir / "config.json").read_text()), resume=True, is_main=False).read_metrics()
    return {int(r["step"]): r["loss"] for r in rows}


def test_sigkilled_run_resumes_to_the_same_losses(tmp_path):
    full = _toy("--out", str(tmp_path / "full"), "--steps", "30", "--ckpt-every", "5")
    assert full.returncode == 0, full.stderr
    killed = _toy("--out", str(tmp_path / "cut"), "--steps", "30", "--ckpt-every", "5", "--kill-at", "13")
    assert killed.returncode == -signal.SIGKILL
    assert json.loads((tmp_path / "cut/checkpoints/latest.json").read_text())["step"] == 10
    resumed = _toy("--out", str(tmp_path / "cut"), "--steps", "30", "--ckpt-every", "5", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    want, got = _losses(tmp_path / "full"), _losses(tmp_path / "cut")
    assert sorted(got) == list(range(30))                     # steps 10..12 were redone, not duplicated
    assert max(abs(want[k] - got[k]) for k in want) <= 1e-6
    a = torch.load(tmp_path / "full/checkpoints/ckpt-00000030.pt", weights_only=True)["models"]["model"]
    b = torch.load(tmp_path / "cut/checkpoints/ckpt-00000030.pt", weights_only=True)["models"]["model"]
    assert all(torch.allclose(a[k], b[k], atol=1e-6, rtol=0) for k in a)


def _toy_loop(run: Run, total: int, nan_at: int = -1, break_weights_at: int = -1):
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x = torch.randn(32, 3)

    def step_fn(step):
        idx = torch.from_numpy(batch_indices(step, 4, 32, seed=0))
        loss = model(x[idx]).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step == break_weights_at:
            with torch.no_grad():
                model.weight.fill_(float("inf"))
        return {"loss": float("nan") if step == nan_at else loss.item()}

    return train_loop(run, step_fn=step_fn, total_steps=total, ckpt_every=4, models={"m": model}, optimizers={"o": opt})


def test_nan_stops_and_keeps_last_good_checkpoint(tmp_path):
    run = Run(tmp_path / "run", {"x": 1})
    with pytest.raises(LivevisError, match=r"loss became NaN/inf at step 10 .*last good checkpoint kept at .*ckpt-00000008\.pt"):
        _toy_loop(run, 20, nan_at=10)
    assert run.checkpoints.latest().name == "ckpt-00000008.pt"
    assert max(int(r["step"]) for r in run.read_metrics()) == 9   # the NaN row is not logged


def test_broken_weights_are_never_checkpointed(tmp_path):
    run = Run(tmp_path / "run", {"x": 1})
    with pytest.raises(LivevisError, match="weights of m became NaN/inf at step 7"):
        _toy_loop(run, 20, break_weights_at=7)
    assert run.checkpoints.latest().name == "ckpt-00000004.pt"


def test_nan_before_any_checkpoint_says_so(tmp_path):
    with pytest.raises(LivevisError, match="no checkpoint was written yet"):
        _toy_loop(Run(tmp_path / "run", {}), 20, nan_at=1)


def test_run_folder_rules(tmp_path):
    Run(tmp_path / "run", {"lr": 0.1, "model": {"width": 8}})
    assert json.loads((tmp_path / "run/config.json").read_text()) == {"lr": 0.1, "model": {"width": 8}}
    with pytest.raises(LivevisError, match="already exists and is not empty"):
        Run(tmp_path / "run", {"lr": 0.1})
    with pytest.raises(LivevisError, match=r"different config .*lr 0.1 -> 0.2.*model.width 8 -> 16"):
        Run(tmp_path / "run", {"lr": 0.2, "model": {"width": 16}}, resume=True)
    with pytest.raises(LivevisError, match="nothing to resume"):
        Run(tmp_path / "fresh", {}, resume=True)
    run = Run(tmp_path / "run", {"lr": 0.1, "model": {"width": 8}}, resume=True)
    run.log(0, {"a": 1.0})
    run.log(1, {"a": 2.0, "b": 3.0})                              # a new column widens the header
    rows = run.read_metrics()
    assert [r["a"] for r in rows] == [1.0, 2.0] and np.isnan(rows[0]["b"]) and rows[1]["b"] == 3.0
    run.truncate_metrics(after_step=1)
    assert [int(r["step"]) for r in run.read_metrics()] == [0]


def test_batch_indices_are_a_function_of_seed_and_step():
    a = [batch_indices(s, 6, 20, seed=3) for s in range(10)]
    assert all(np.array_equal(x, batch_indices(s, 6, 20, seed=3)) for s, x in enumerate(a))
    flat = np.concatenate(a)
    assert sorted(flat[:20]) == list(range(20))                   # epoch 0: every sample once
    assert not np.array_equal(a[0], batch_indices(0, 6, 20, seed=4))
    halves = [batch_indices(5, 6, 20, seed=3, rank=r, world=2) for r in range(2)]
    assert np.array_equal(np.concatenate(halves), a[5])
    with pytest.raises(LivevisError, match="does not divide"):
        batch_indices(0, 5, 20, seed=0, rank=0, world=2)


def test_samples_grid_and_clip_with_audio(tmp_path):
    run = Run(tmp_path / "run", {})
    imgs = torch.linspace(-1, 1, 4 * 3 * 16 * 16).reshape(4, 3, 16, 16)
    png = run.save_grid("grid", imgs)
    from PIL import Image
    assert Image.open(png).size == (32, 32)
    frames = torch.zeros(10, 3, 32, 32, dtype=torch.uint8)
    frames[:, 0] = torch.arange(10, dtype=torch.uint8)[:, None, None] * 25
    audio = 0.3 * torch.sin(torch.arange(16000) * 2 * torch.pi * 440 / 16000)
    mp4 = run.save_clip("clip", frames, fps=10, audio=audio, sample_rate=16000)
    with av.open(str(mp4)) as c:
        v, a = c.streams.video[0], c.streams.audio[0]
        assert (v.codec_context.name, v.codec_context.pix_fmt) == ("h264", "yuv420p") and a.rate == 16000
        decoded = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert len(decoded) == 10 and decoded[-1][..., 0].mean() > decoded[0][..., 0].mean() + 100
    assert sorted(p.name for p in (tmp_path / "run/samples").iterdir()) == ["clip.mp4", "grid.png"]
