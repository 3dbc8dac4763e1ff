"""torchrun DDP helpers. The same script runs single-process (WORLD_SIZE unset or 1) or under
`torchrun --nproc_per_node N`: NCCL when CUDA is available, gloo on CPU.

The data contract that keeps runs comparable across world sizes: every rank draws the same global
batch (see loop.batch_indices) and takes its own slice of it, so N processes see exactly the samples
one process would, and DDP's gradient averaging equals the single-process mean loss.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Sequence, TypeVar

import torch
import torch.distributed as dist

from livevis.errors import LivevisError

T = TypeVar("T")


@dataclass(frozen=True)
class DistInfo:
    rank: int
    world: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed(device: str | None = None) -> DistInfo:
    """Join the process group torchrun describes in the environment; a no-op single process otherwise."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if device is None:
        dev = torch.device(f"cuda:{local}" if torch.cuda.is_available() else "cpu")
    else:
        dev = torch.device(device)
        if dev.type == "cuda" and dev.index is None:
            dev = torch.device(f"cuda:{local}")
    if world > 1 and not dist.is_initialized():
        if "MASTER_ADDR" not in os.environ or "MASTER_PORT" not in os.environ:
            raise LivevisError("WORLD_SIZE > 1 but MASTER_ADDR/MASTER_PORT are unset: launch with torchrun")
        if dev.type == "cuda":
            torch.cuda.set_device(dev)
        dist.init_process_group(backend="nccl" if dev.type == "cuda" else "gloo", rank=rank, world_size=world)
    return DistInfo(rank=rank, world=world, local_rank=local, device=dev)


def world_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def rank() -> int:
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def is_main() -> bool:
    return rank() == 0


def barrier() -> None:
    if world_size() > 1:
        dist.barrier()


def shutdown() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def wrap_ddp(model: torch.nn.Module, info: DistInfo | None = None) -> torch.nn.Module:
    """DistributedDataParallel when running distributed, the module itself otherwise."""
    if world_size() <= 1:
        return model
    dev = info.device if info else next(model.parameters()).device
    ids = [dev.index] if dev.type == "cuda" else None
    return torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)


def all_reduce_mean(metrics: dict[str, float]) -> dict[str, float]:
    """Average scalar metrics over ranks (identity single-process). Keys must match on every rank."""
    if world_size() <= 1 or not metrics:
        return dict(metrics)
    keys = sorted(metrics)
    backend_cuda = dist.get_backend() == "nccl"
    t = torch.tensor([float(metrics[k]) for k in keys], dtype=torch.float64, device="cuda" if backend_cuda else "cpu")
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    t /= world_size()
    return dict(zip(keys, t.cpu().tolist()))


def rank_slice(batch: Sequence[T] | torch.Tensor, rank_: int | None = None, world: int | None = None):
    """This rank's contiguous share of a global batch (whose size must divide by the world size)."""
    r = rank() if rank_ is None else rank_
    w = world_size() if world is None else world
    n = len(batch)
    if n % w:
        raise LivevisError(f"global batch size {n} does not divide by {w} processes")
    per = n // w
    return batch[r * per : (r + 1) * per]
