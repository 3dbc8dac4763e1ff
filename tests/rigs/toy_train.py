"""A toy training run on livevis.training's loop, checkpoints and DDP helpers, driven by tests as a
subprocess (so it can be SIGKILLed, or launched under torchrun).

    python tests/rigs/toy_train.py --out RUN --steps 30 [--resume] [--kill-at K] [--nan-at K]
                                   [--ckpt-every C] [--batch B] [--plain] [--dump DIR]

The step uses every RNG a real stage might (torch dropout, numpy global, python random) unless
--plain, so exact resume is tested against all of them.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import sys

import numpy as np
import torch

from livevis.errors import LivevisError
from livevis.training import distributed
from livevis.training.loop import batch_indices, seed_everything, train_loop
from livevis.training.run import Run


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--ckpt-every", type=int, default=5)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--resume", action="store_true")
    p.add_argument("--kill-at", type=int, default=-1, help="SIGKILL itself at the start of this step")
    p.add_argument("--nan-at", type=int, default=-1, help="report a NaN loss at this step")
    p.add_argument("--plain", action="store_true", help="no dropout/noise (for DDP equivalence)")
    p.add_argument("--dump", help="write final weights to DIR/rank<r>.pt")
    args = p.parse_args()
    torch.set_num_threads(1)
    info = distributed.init_distributed("cpu")
    seed_everything(0)
    data = np.random.default_rng(0)
    x = torch.from_numpy(data.normal(size=(256, 8)).astype(np.float32))        # [N, 8]
    y = torch.from_numpy((x.numpy() @ data.normal(size=(8, 1))).astype(np.float32))  # [N, 1]
    model = torch.nn.Sequential(torch.nn.Linear(8, 32), torch.nn.Tanh(), torch.nn.Dropout(0.0 if args.plain else 0.1), torch.nn.Linear(32, 1))
    net = distributed.wrap_ddp(model, info)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    config = {"stage": "toy", "steps": args.steps, "batch": args.batch, "plain": args.plain}
    run = Run(args.out, config, resume=args.resume, is_main=info.is_main)

    def step_fn(step: int) -> dict[str, float]:
        if step == args.kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        idx = torch.from_numpy(batch_indices(step, args.batch, len(x), seed=7, rank=info.rank, world=info.world))
        xb, yb = x[idx], y[idx]                                                 # [B/world, 8], [B/world, 1]
        if not args.plain:
            xb = xb + 0.01 * torch.from_numpy(np.random.normal(size=xb.shape).astype(np.float32)) * random.random()
        loss = torch.nn.functional.mse_loss(net(xb), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        value = loss.item()
        return {"loss": float("nan") if step == args.nan_at else value}

    try:
        train_loop(run, step_fn=step_fn, total_steps=args.steps, ckpt_every=args.ckpt_every,
                   models={"model": model}, optimizers={"opt": opt})
    except LivevisError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.dump:
        os.makedirs(args.dump, exist_ok=True)
        torch.save({k: v.detach().clone() for k, v in model.state_dict().items()}, os.path.join(args.dump, f"rank{info.rank}.pt"))
    distributed.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
