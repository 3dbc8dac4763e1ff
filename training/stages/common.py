"""Helpers the audio and video stages share: audio windows and log-mel, per-sample randomness,
data-parallel plumbing (synced batch norm, gradient averaging, gathers), provenance, test faults."""

from __future__ import annotations

import hashlib
import os
import signal
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from livevis.audio import log_mel
from livevis.errors import LivevisError
from livevis.models.bundle import AudioFrontend
from livevis.training import distributed

# Test hook: LIVEVIS_TRAIN_FAULT=kill@K (SIGKILL at the start of step K) or nan@K (a NaN loss at step K).
FAULT_ENV = "LIVEVIS_TRAIN_FAULT"


def fault_at(step: int) -> str | None:
    """'nan' when the test hook asks for a NaN loss at `step`; SIGKILLs the process for 'kill'."""
    spec = os.environ.get(FAULT_ENV, "")
    kind, _, at = spec.partition("@")
    if not spec or not at.isdigit() or int(at) != step:
        return None
    if kind == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    return kind


DUMP_ENV = "LIVEVIS_TRAIN_DUMP"


def dump_for_test(models: dict[str, nn.Module], rank: int) -> None:
    """Test hook: with LIVEVIS_TRAIN_DUMP=DIR, each process writes its final weights to
    DIR/rank<r>.safetensors (the data-parallel test compares ranks with each other)."""
    folder = os.environ.get(DUMP_ENV)
    if not folder:
        return
    from safetensors.torch import save_file

    tensors = {f"{name}.{k}": v.detach().cpu().contiguous().clone() for name, m in models.items() for k, v in m.state_dict().items()}
    Path(folder).mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(Path(folder) / f"rank{rank}.safetensors"))


# ---- randomness ----------------------------------------------------------------------------------
def sample_generators(seed: int, step: int, count: int, offset: int = 0, stream: int = 0) -> list[torch.Generator]:
    """One CPU generator per sample of the global batch, seeded by (seed, step, position, stream).

    `offset` is this rank's first position in the global batch, so a sample's randomness does not
    depend on the number of processes; `stream` separates independent uses within a step.
    """
    out = []
    for i in range(count):
        key = np.random.SeedSequence([seed, step, offset + i, stream]).generate_state(2)
        out.append(torch.Generator().manual_seed(int(key[0]) << 32 | int(key[1])))
    return out


def rand_uniform(gen: torch.Generator) -> float:
    return float(torch.rand((), generator=gen))


# ---- audio ---------------------------------------------------------------------------------------
def window_batch(audio: list[torch.Tensor], ends: list[int], window: int) -> torch.Tensor:
    """Windows of `window` samples ending at ends[i] of audio[i] [S], zero-padded before the start
    (as the live path's array reader): [B, window]."""
    out = torch.zeros(len(audio), window)
    for i, (a, end) in enumerate(zip(audio, ends)):
        end = min(int(end), a.shape[0])
        start = max(0, end - window)
        if end > start:
            out[i, window - (end - start):] = a[start:end]
    return out


def mel_batch(windows: torch.Tensor, fe: AudioFrontend) -> torch.Tensor:
    """windows [B, window_samples] -> log-mel [B, n_mels, frames] (dB), exactly as live inference."""
    return log_mel(windows, fe.sample_rate, fe.n_fft, fe.hop_length, fe.n_mels, fe.fmin, fe.fmax)


def check_frontend(fe: AudioFrontend, sample_rate: int, encoder_cfg: dict[str, Any]) -> None:
    if fe.sample_rate != sample_rate:
        raise LivevisError(f"the dataset's audio is {sample_rate} Hz but the stage's front end expects "
                           f"{fe.sample_rate} Hz (re-run `livevis prepare --sample-rate {fe.sample_rate}`)")
    if encoder_cfg["n_mels"] != fe.n_mels or encoder_cfg["num_frames"] != fe.frames:
        raise LivevisError(f"sound encoder input [{encoder_cfg['n_mels']}, {encoder_cfg['num_frames']}] does not "
                           f"match the audio front end [{fe.n_mels}, {fe.frames}]")


def frames_to_float(frames: torch.Tensor) -> torch.Tensor:
    """uint8 [..., 3, H, W] -> float in [-1, 1]."""
    return frames.float() / 127.5 - 1.0


def resize(img: torch.Tensor, size: int) -> torch.Tensor:
    """[N, 3, H, W] -> [N, 3, size, size] (antialiased when shrinking)."""
    if img.shape[-1] == size and img.shape[-2] == size:
        return img
    return F.interpolate(img, size=(size, size), mode="bilinear", align_corners=False, antialias=img.shape[-1] > size)


# ---- data parallel -------------------------------------------------------------------------------
class GlobalBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm2d whose training statistics cover the global batch of all processes.

    torch's SyncBatchNorm needs a GPU; this one uses autograd-aware all_reduce, so it works on gloo
    (CPU) too, and a data-parallel run normalises exactly like a single process on the whole batch.
    Same parameters and buffers as BatchNorm2d: checkpoints and bundles do not see the difference.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or distributed.world_size() <= 1:
            return super().forward(x)
        from torch.distributed.nn.functional import all_reduce

        n_local = x.shape[0] * x.shape[2] * x.shape[3]
        stats = torch.cat([x.sum((0, 2, 3)), x.square().sum((0, 2, 3)), x.new_tensor([float(n_local)])])
        stats = all_reduce(stats)                                            # [2C + 1] summed over ranks
        C = x.shape[1]
        n = stats[-1]
        mean = stats[:C] / n
        var = (stats[C:2 * C] / n - mean.square()).clamp_min(0.0)           # biased, as BN normalises
        with torch.no_grad():
            self.num_batches_tracked += 1
            m = self.momentum
            self.running_mean.mul_(1 - m).add_(m * mean.detach())
            self.running_var.mul_(1 - m).add_(m * var.detach() * n / (n - 1).clamp_min(1))
        y = (x - mean[None, :, None, None]) * torch.rsqrt(var[None, :, None, None] + self.eps)
        return y * self.weight[None, :, None, None] + self.bias[None, :, None, None]


def use_global_batchnorm(module: nn.Module) -> nn.Module:
    """Swap every BatchNorm2d for GlobalBatchNorm2d in place (no-op single-process)."""
    if distributed.world_size() <= 1:
        return module
    for m in module.modules():
        if type(m) is nn.BatchNorm2d:
            m.__class__ = GlobalBatchNorm2d
    return module


def gather(x: torch.Tensor) -> torch.Tensor:
    """All ranks' x [b, ...] concatenated in rank order, [world * b, ...], with gradient to every part."""
    if distributed.world_size() <= 1:
        return x
    from torch.distributed.nn.functional import all_gather

    return torch.cat(all_gather(x), 0)


def gather_objects(items: list) -> list:
    """All ranks' lists concatenated in rank order (strings such as captions)."""
    if distributed.world_size() <= 1:
        return list(items)
    out: list = [None] * distributed.world_size()
    dist.all_gather_object(out, list(items))
    return [x for part in out for x in part]


def average_gradients(params: Iterable[nn.Parameter]) -> None:
    """Average gradients over processes with one flattened all_reduce (StyleGAN2-ADA's way, rather
    than the DDP wrapper: stages step several networks on shared graphs and skip some parameters).

    Losses built on gathered tensors carry world-size times the per-rank gradient back to each rank;
    averaging over ranks then gives exactly the single-process gradient of the global batch.
    """
    world = distributed.world_size()
    if world <= 1:
        return
    params = [p for p in params if p.requires_grad]
    for p in params:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
    flat = torch.cat([p.grad.flatten() for p in params])
    dist.all_reduce(flat)
    flat /= world
    offset = 0
    for p in params:
        n = p.grad.numel()
        p.grad.copy_(flat[offset:offset + n].view_as(p.grad))
        offset += n


def optimize(loss: torch.Tensor, opt: torch.optim.Optimizer, params: Iterable[nn.Parameter],
             fault: str | None = None) -> torch.Tensor:
    """One optimiser step on `loss`, gradients averaged over processes; returns the loss. The test
    hook's "nan" fault poisons the loss first, so the NaN stop is exercised on a real step."""
    if fault == "nan":
        loss = loss * float("nan")
    opt.zero_grad(set_to_none=True)
    loss.backward()
    average_gradients(params)
    opt.step()
    return loss


def broadcast_parameters(modules: Iterable[nn.Module]) -> None:
    """Rank 0's parameters and buffers everywhere (inits drawn per process may differ)."""
    if distributed.world_size() <= 1:
        return
    for m in modules:
        for t in list(m.parameters()) + list(m.buffers()):
            dist.broadcast(t.data, 0)


def rank_offset(dist_info, batch: int) -> int:
    return dist_info.rank * (batch // dist_info.world)


# ---- provenance ----------------------------------------------------------------------------------
def path_sha256(path: str | Path) -> str:
    """sha256 of a file, or of a directory's files (names, sizes, contents) in sorted order."""
    path = Path(path)
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for f in files:
        digest.update(str(f.relative_to(path) if path.is_dir() else f.name).encode() + b"\0")
        with open(f, "rb") as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
    return digest.hexdigest()


def dataset_sha256(root: str | Path) -> str:
    """Identity of a prepared dataset: its index (which lists every clip and shard)."""
    return path_sha256(Path(root) / "index.json")


def class_prompts(classes: list[str]) -> list[dict[str, str]]:
    """Bundle classes with the prompts used for zero-shot classification."""
    return [{"name": c, "prompt": prompt_for(c)} for c in classes]


def prompt_for(name: str) -> str:
    return f"a video of {name.replace('_', ' ')}"


def held_out(data: str, stage: str):
    """The dataset's val split, or None (said on stderr) when it has none: evaluations skip then."""
    import sys

    from livevis.errors import LivevisError
    from livevis.training.data import ClipDataset

    try:
        return ClipDataset(data, "val")
    except LivevisError:
        print(f"livevis train {stage}: no held-out clips (split 'val'): skipping evaluation", file=sys.stderr)
        return None


def save_part_files(model: nn.Module, arch: str, weights: Path, record: Path) -> None:
    """A bundle part's run-folder files: its weights (safetensors) and {"arch", "config"} (JSON), each
    written atomically."""
    import json

    from safetensors.torch import save_file

    from livevis.util.atomic import atomic_open, atomic_path

    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    with atomic_path(weights) as tmp:
        save_file(tensors, str(tmp), metadata={"format": "pt"})
    with atomic_open(record, "w") as f:
        json.dump({"arch": arch, "config": model.config.to_dict()}, f, indent=1)
        f.write("\n")
