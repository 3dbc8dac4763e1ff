"""The resumable training-loop driver every stage calls, and per-step reproducible batch sampling.

Exact resume rests on three things: (1) a checkpoint holds model, optimiser, scaler and all RNG
states taken right after step k; (2) the batch for step k is a pure function of (seed, step), not of
how many batches were drawn before; (3) metrics logged after the checkpoint are dropped on resume and
redone. Together, a run killed with SIGKILL and resumed logs the same losses as one never stopped.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
import torch

from livevis.errors import LivevisError
from livevis.training import distributed
from livevis.training.run import Run


def seed_everything(seed: int) -> None:
    """Seed python `random`, numpy's global generator and torch (CPU and CUDA) at the start of a run;
    on resume the checkpoint's RNG state then replaces these."""
    import random

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def batch_indices(step: int, batch_size: int, n: int, seed: int, rank: int = 0, world: int = 1) -> np.ndarray:
    """Dataset indices for optimisation step `step`: this rank's slice of the global batch.

    Epoch-style sampling without replacement: step k belongs to epoch k*B // n, whose permutation is
    drawn from (seed, epoch), so what step k sees never depends on earlier steps having run.
    """
    if n < 1 or batch_size < 1:
        raise LivevisError("need at least one sample and a positive batch size")
    first = step * batch_size
    out = np.empty(batch_size, np.int64)                                      # [B] global batch
    filled = 0
    while filled < batch_size:
        epoch, offset = divmod(first + filled, n)
        perm = np.random.default_rng([seed, epoch]).permutation(n)
        take = min(batch_size - filled, n - offset)
        out[filled : filled + take] = perm[offset : offset + take]
        filled += take
    return distributed.rank_slice(out, rank, world)


def _finite(metrics: dict[str, float]) -> bool:
    return all(math.isfinite(float(v)) for v in metrics.values())


def train_loop(run: Run, *, step_fn: Callable[[int], dict[str, float]], total_steps: int, ckpt_every: int,
               models: dict[str, torch.nn.Module], optimizers: dict[str, torch.optim.Optimizer],
               scalers: dict[str, Any] | None = None, sample_every: int | None = None,
               sample_fn: Callable[[int], None] | None = None, resume: bool | None = None,
               extra_fn: Callable[[], dict[str, Any]] | None = None) -> dict[str, float]:
    """Run step_fn(step) for step = start .. total_steps-1 and return the last step's metrics.

    step_fn does one optimisation step (forward, backward, optimiser step) and returns scalar
    losses; they are averaged over ranks, logged, and shown. A checkpoint is written every
    `ckpt_every` completed steps and at the end (main rank only); it records `step` = steps done.
    On resume (default: run.resume) the latest checkpoint is restored first. sample_fn(step) is
    called every `sample_every` steps to save grids/clips. extra_fn() adds plain data to checkpoints.
    A non-finite loss stops the run with LivevisError, leaving the last good checkpoint in place.
    """
    if total_steps < 0 or ckpt_every < 1:
        raise LivevisError("total steps must be >= 0 and the checkpoint interval >= 1")
    state = {"models": models, "optimizers": optimizers, "scalers": scalers or {}}
    resume = run.resume if resume is None else resume
    start = 0
    if resume:
        latest = run.checkpoints.latest()
        if latest is not None:
            from livevis.training.checkpoint import load_checkpoint

            start, _ = load_checkpoint(latest, **state)
        run.truncate_metrics(after_step=start)
    metrics: dict[str, float] = {}
    with run.progress(total_steps, start) as bar:
        for step in range(start, total_steps):
            raw = step_fn(step)
            metrics = distributed.all_reduce_mean({k: float(v) for k, v in raw.items()})
            if not _finite(metrics):
                bad = ", ".join(f"{k}={v}" for k, v in sorted(metrics.items()) if not math.isfinite(v))
                where = run.checkpoints.latest()
                kept = f"last good checkpoint kept at {where}" if where else "no checkpoint was written yet"
                raise LivevisError(f"loss became NaN/inf at step {step} ({bad}); {kept}")
            run.log(step, metrics)
            done = step + 1
            bar.update(done, metrics)
            if sample_fn is not None and sample_every and done % sample_every == 0:
                sample_fn(step)
            if done % ckpt_every == 0 or done == total_steps:
                # A finite loss can still come with weights the update just broke: never save those.
                broken = [name for name, m in models.items() if not _weights_finite(m)]
                if broken:
                    where = run.checkpoints.latest()
                    kept = f"last good checkpoint kept at {where}" if where else "no checkpoint was written yet"
                    raise LivevisError(f"weights of {', '.join(broken)} became NaN/inf at step {step}; {kept}")
                if run.is_main:
                    run.checkpoints.save(done, **state, extra=extra_fn() if extra_fn else {})
                distributed.barrier()
    return metrics


def _weights_finite(model: torch.nn.Module) -> bool:
    return all(bool(torch.isfinite(p).all()) for p in model.parameters())
