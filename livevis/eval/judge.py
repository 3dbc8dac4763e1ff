"""The independent frame judge: a small CNN on full-resolution frames, trained on real training frames.

Why a second classifier: the old one (livevis.eval.classifier) sees 12x12 thumbnails and colour
histograms, close to what the video stage optimises (8x8 pooled pixels, CLIP), so a generator can
please it without drawing the scene. This judge shares no features with any training loss: its own
convolutions, learned here from the dataset's TRAIN split only, under strong augmentation (random
resized crops, flips, colour jitter, blur, noise) so that it keys on scene structure, not on exact
pixel statistics.

    semantic accuracy   argmax of the head on generated frames
    Frechet distance    the FID recipe in this network's penultimate (pooled) features:
                        |mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a S_b)^1/2), sqrtm via scipy.linalg

The trained judge is cached next to the dataset (DATA/.livevis-judge/<key>.safetensors + .json,
written atomically), keyed by a hash of the dataset's index and train-split frames and the settings,
so `livevis eval` trains it once per dataset.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from livevis.util.atomic import atomic_open, atomic_path

CACHE_FOLDER = ".livevis-judge"
FORMAT = 1


@dataclass(frozen=True)
class JudgeSettings:
    """Chosen on a validation synthetic set (seed 1234) and reported on another (seed 4242)."""
    size: int = 64              # input side: frames are resized (antialiased) to size x size
    widths: tuple[int, ...] = (8, 16, 32, 64)
    frames_per_clip: int = 4    # evenly spaced real frames per training clip
    steps: int = 400            # optimiser steps (not epochs: the cost does not grow with the dataset)
    batch: int = 32
    lr: float = 3e-3
    weight_decay: float = 5e-4
    augment: float = 1.0        # strength of every augmentation (0 = none)
    seed: int = 0


class JudgeNet(nn.Module):
    """conv blocks (3x3 conv, BN, ReLU, 2x2 max-pool) -> global average pool -> linear head."""

    def __init__(self, classes: int, widths: tuple[int, ...]):
        super().__init__()
        layers, c_in = [], 3
        for c in widths:
            layers += [nn.Conv2d(c_in, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True),
                       nn.MaxPool2d(2)]
            c_in = c
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(c_in, classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """x [B, 3, S, S] in [-1, 1] -> penultimate features [B, widths[-1]]."""
        return self.body(x).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))                                    # [B, K]


def to_input(frames: torch.Tensor, size: int) -> torch.Tensor:
    """frames [N, 3, H, W] in [-1, 1] (any side) -> [N, 3, size, size] float32."""
    x = frames.float().clamp(-1, 1)
    if x.shape[-1] != size or x.shape[-2] != size:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False,
                          antialias=x.shape[-1] > size)
    return x


def augment(x: torch.Tensor, strength: float, g: torch.Generator) -> torch.Tensor:
    """x [B, 3, S, S] in [-1, 1] -> an augmented batch of the same shape (strength 0: unchanged)."""
    if strength <= 0:
        return x
    B = x.shape[0]
    u = lambda *shape: torch.rand(*shape, generator=g)                      # noqa: E731
    # Random resized crop + horizontal flip as one affine warp: scale of the side in [1 - 0.45 s, 1].
    scale = 1 - 0.45 * strength * u(B)
    aspect = torch.exp((u(B) - 0.5) * 0.4 * strength)
    sx, sy = (scale * aspect.sqrt()).clamp(max=1), (scale / aspect.sqrt()).clamp(max=1)
    flip = torch.where(u(B) < 0.5, -1.0, 1.0)
    tx, ty = (u(B) * 2 - 1) * (1 - sx), (u(B) * 2 - 1) * (1 - sy)
    theta = torch.zeros(B, 2, 3)
    theta[:, 0, 0], theta[:, 1, 1], theta[:, 0, 2], theta[:, 1, 2] = sx * flip, sy, tx, ty
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    # Colour jitter: brightness, contrast, saturation, per-channel gain (a small hue / white-balance shift).
    x = (x + 1) / 2                                                         # [0, 1]
    bright = 1 + (u(B, 1, 1, 1) - 0.5) * 0.6 * strength
    contrast = 1 + (u(B, 1, 1, 1) - 0.5) * 0.6 * strength
    sat = 1 + (u(B, 1, 1, 1) - 0.5) * 0.8 * strength
    gain = 1 + (u(B, 3, 1, 1) - 0.5) * 0.2 * strength
    x = x * bright * gain
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = (x - mean) * contrast + mean
    grey = x.mean(dim=1, keepdim=True)
    x = (x - grey) * sat + grey
    # Blur half the batch with one random Gaussian (separable 5-tap), then pixel noise.
    sigma = 0.3 + 1.2 * strength * float(u(1))
    taps = torch.exp(-torch.arange(-2, 3).float() ** 2 / (2 * sigma ** 2))
    taps = taps / taps.sum()
    blurred = F.conv2d(F.pad(x, (2, 2, 0, 0), mode="reflect"), taps.view(1, 1, 1, 5).repeat(3, 1, 1, 1), groups=3)
    blurred = F.conv2d(F.pad(blurred, (0, 0, 2, 2), mode="reflect"), taps.view(1, 1, 5, 1).repeat(3, 1, 1, 1), groups=3)
    pick = (u(B, 1, 1, 1) < 0.5).float()
    x = pick * blurred + (1 - pick) * x
    x = x + torch.randn(x.shape, generator=g) * (0.04 * strength * u(B, 1, 1, 1))
    return (x.clamp(0, 1) * 2 - 1)


@dataclass
class Judge:
    net: JudgeNet
    classes: list[str]
    settings: JudgeSettings
    key: str = ""
    from_cache: bool = False

    @torch.no_grad()
    def _run(self, frames: torch.Tensor, batch: int, fn) -> torch.Tensor:
        self.net.eval()
        out = [fn(to_input(frames[i:i + batch].cpu(), self.settings.size)) for i in range(0, frames.shape[0], batch)]
        return torch.cat(out) if out else torch.zeros(0)

    def logits(self, frames: torch.Tensor, batch: int = 128) -> torch.Tensor:
        """frames [N, 3, H, W] in [-1, 1] -> [N, K]."""
        return self._run(frames, batch, self.net)

    def features(self, frames: torch.Tensor, batch: int = 128) -> torch.Tensor:
        """frames [N, 3, H, W] in [-1, 1] -> penultimate features [N, D] float64."""
        return self._run(frames, batch, self.net.features).double()

    def predict(self, frames: torch.Tensor) -> np.ndarray:
        """frames [N, 3, H, W] in [-1, 1] -> class indices [N]."""
        return self.logits(frames).argmax(1).numpy()


def fit(frames: torch.Tensor, labels: torch.Tensor, classes: list[str], settings: JudgeSettings = JudgeSettings()) -> Judge:
    """Train on frames [N, 3, H, W] in [-1, 1] with labels [N] (real TRAIN-split frames only)."""
    x_all = to_input(frames, settings.size)                                  # [N, 3, S, S]
    y_all = labels.long()
    with torch.random.fork_rng(devices=[]):  # a fixed init that leaves the caller's RNG alone
        torch.manual_seed(settings.seed)
        net = JudgeNet(len(classes), tuple(settings.widths))
    g = torch.Generator().manual_seed(settings.seed + 1)
    opt = torch.optim.AdamW(net.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=settings.lr, total_steps=settings.steps, pct_start=0.2)
    batch = max(2, min(settings.batch, x_all.shape[0]))                       # BatchNorm needs two samples
    order, pos = torch.randperm(x_all.shape[0], generator=g), 0
    net.train()
    with torch.enable_grad():  # callers may sit inside no_grad / inference_mode evaluations
        for _ in range(settings.steps):
            if pos + batch > order.numel():                                       # a new epoch
                order, pos = torch.randperm(x_all.shape[0], generator=g), 0
            idx = order[pos:pos + batch]
            pos += batch
            xb = augment(x_all[idx], settings.augment, g)                         # [b, 3, S, S]
            loss = F.cross_entropy(net(xb), y_all[idx], label_smoothing=0.05)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    net.eval()
    return Judge(net=net, classes=list(classes), settings=settings)


def frechet_distance(a: torch.Tensor | np.ndarray, b: torch.Tensor | np.ndarray) -> float:
    """Frechet distance between Gaussians fitted to features a [N, D] and b [M, D] (the FID formula)."""
    from scipy import linalg

    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape[0] < 2 or b.shape[0] < 2:
        return math.nan
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = linalg.sqrtm(cov_a @ cov_b)
    if not np.isfinite(covmean).all():   # near-singular product: the usual FID remedy, a small ridge
        eps = np.eye(cov_a.shape[0]) * 1e-6
        covmean = linalg.sqrtm((cov_a + eps) @ (cov_b + eps))
    covmean = covmean.real
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * np.trace(covmean))


# ---- cache -------------------------------------------------------------------------------------

def dataset_key(train_set, settings: JudgeSettings) -> str:
    """Hash of what the judge learns from: the dataset index, the bytes of the train-split frames it
    samples, and the settings (val frames are not hashed: they cannot change the judge)."""
    digest = hashlib.sha256()
    digest.update(json.dumps({"format": FORMAT, "settings": asdict(settings), "classes": list(train_set.classes),
                              "clips": train_set.clips}, sort_keys=True).encode())
    for i in range(len(train_set)):
        digest.update(np.ascontiguousarray(_clip_frames(train_set, i)).tobytes())
    return digest.hexdigest()[:24]


def _clip_frames(train_set, i: int) -> np.ndarray:
    frames, _ = train_set._shard(train_set.clips[i]["shard"])
    return frames[train_set.clips[i]["row"]]                               # [T, H, W, 3] uint8 (memory-mapped)


def sample_train_frames(train_set, per_clip: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Evenly spaced frames of every clip of a TRAIN-split ClipDataset -> ([N, 3, H, W] in [-1, 1], [N])."""
    from livevis.errors import LivevisError

    if train_set.split != "train":
        raise LivevisError(f"the judge learns from the train split only, got split '{train_set.split}'")
    from livevis.eval.classifier import sample_frames

    return sample_frames(train_set, per_clip)


def save(judge: Judge, folder: Path) -> None:
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    with atomic_path(folder / f"{judge.key}.safetensors") as tmp:
        save_file({k: v.contiguous() for k, v in judge.net.state_dict().items()}, str(tmp))
    with atomic_open(folder / f"{judge.key}.json", "w") as f:
        json.dump({"format": FORMAT, "classes": judge.classes, "settings": asdict(judge.settings)}, f, indent=1)


def load(folder: Path, key: str) -> Judge | None:
    """The cached judge of `key`, or None when absent or unreadable."""
    from safetensors.torch import load_file

    meta_path, weights_path = folder / f"{key}.json", folder / f"{key}.safetensors"
    if not (meta_path.is_file() and weights_path.is_file()):
        return None
    try:
        meta = json.loads(meta_path.read_text())
        raw = dict(meta["settings"])
        raw["widths"] = tuple(raw["widths"])
        settings = JudgeSettings(**raw)
        net = JudgeNet(len(meta["classes"]), settings.widths)
        net.load_state_dict(load_file(str(weights_path)))
    except (OSError, ValueError, KeyError, TypeError, RuntimeError):
        return None
    net.eval()
    return Judge(net=net, classes=list(meta["classes"]), settings=settings, key=key, from_cache=True)


def trained_judge(train_set, settings: JudgeSettings = JudgeSettings(), cache: bool = True) -> Judge:
    """The judge of a TRAIN-split ClipDataset: from DATA/.livevis-judge when cached, else trained
    (and cached when the dataset folder is writable). Frames smaller than settings.size are judged at
    their own size (no upsampling of a small dataset)."""
    settings = replace(settings, size=min(settings.size, int(train_set.size)))
    key = dataset_key(train_set, settings)
    folder = Path(train_set.root) / CACHE_FOLDER
    if cache:
        found = load(folder, key)
        if found is not None and found.classes == list(train_set.classes):
            return found
    frames, labels = sample_train_frames(train_set, settings.frames_per_clip)
    judge = fit(frames, labels, list(train_set.classes), settings)
    judge.key = key
    if cache:
        try:
            save(judge, folder)
        except OSError:
            pass   # a read-only dataset: train again next time
    return judge
