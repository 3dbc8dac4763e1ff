"""DDP: two gloo processes on CPU (torchrun) keep identical weights and match one process on the
same global batch; the helpers are no-ops single-process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from livevis.training import distributed

ROOT = Path(__file__).resolve().parents[2]
TOY = ROOT / "tests" / "rigs" / "toy_train.py"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")}
    return {**env, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT), "CUDA_VISIBLE_DEVICES": ""}


def test_single_process_helpers_are_identity():
    info = distributed.init_distributed("cpu")
    assert (info.rank, info.world, info.is_main) == (0, 1, True)
    model = torch.nn.Linear(2, 2)
    assert distributed.wrap_ddp(model, info) is model
    assert distributed.all_reduce_mean({"a": 1.5}) == {"a": 1.5}
    assert distributed.rank_slice(list(range(6)), 1, 3) == [2, 3]


@pytest.mark.slow
def test_two_gloo_ranks_match_one_process(tmp_path):
    common = ["--steps", "12", "--ckpt-every", "6", "--batch", "16", "--plain"]
    single = subprocess.run([sys.executable, str(TOY), "--out", str(tmp_path / "one"), "--dump", str(tmp_path / "w1"), *common],
                            cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=300)
    assert single.returncode == 0, single.stderr
    launch = [sys.executable, "-m", "torch.distributed.run", "--nnodes=1", "--nproc_per_node=2",
              "--master_addr=127.0.0.1", f"--master_port={_free_port()}", str(TOY)]
    ddp = subprocess.run([*launch, "--out", str(tmp_path / "two"), "--dump", str(tmp_path / "w2"), *common],
                         cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=400)
    assert ddp.returncode == 0, ddp.stderr[-2000:]
    w1 = torch.load(tmp_path / "w1/rank0.pt", weights_only=True)
    r0 = torch.load(tmp_path / "w2/rank0.pt", weights_only=True)
    r1 = torch.load(tmp_path / "w2/rank1.pt", weights_only=True)
    for k in w1:
        assert torch.equal(r0[k], r1[k]), f"{k} differs across ranks"
        assert torch.allclose(r0[k], w1[k], atol=1e-5, rtol=1e-5), f"{k}: DDP differs from one process"
    assert not torch.allclose(w1["0.weight"], torch.load(tmp_path / "one/checkpoints/ckpt-00000006.pt", weights_only=True)["models"]["model"]["0.weight"])
    # Only rank 0 writes the run folder; its logged losses are the all-reduced means = the global-batch loss.
    one = (tmp_path / "one/metrics.csv").read_text().splitlines()[1:]
    two = (tmp_path / "two/metrics.csv").read_text().splitlines()[1:]
    assert len(one) == len(two) == 12
    for a, b in zip(one, two):
        assert abs(float(a.split(",")[2]) - float(b.split(",")[2])) <= 1e-5
