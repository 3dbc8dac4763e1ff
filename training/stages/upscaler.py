"""upscaler: the output stage's learned upscaler (livevis.models.upscaler), trained on a dataset's real
frames degraded to look like generator output.

Per step, for each of B clips: one random frame, a random HR patch (flipped half the time), and its
low-resolution input made by a random degradation (`degrade`): blur with a random Gaussian kernel,
downscale by the model's factor with a random filter, GAN-like high-frequency artefacts (a periodic
checkerboard as transposed convolutions leave, plus colour noise) and JPEG at a random quality.
Loss: L1 + edge_weight x L1 of the image gradients (a sharpness term without a perceptual network;
off by default: at 0.5 it made frames the independent judge placed further from the true ones than
plain bilinear, BENCHMARKS.md). The presets degrade a fifth of the inputs per kind: with every
degradation at the rates of `DEGRADE` the network learned to sharpen what needed none, and lost to
Lanczos by the judge on clean input.
All randomness comes from per-sample generators seeded by (seed, step, position): --resume is exact.

Outputs in the run folder: upscaler.json + upscaler.safetensors (the bundle part), eval.json with
held-out PSNR against the true high-resolution frames (learned vs lanczos, bicubic, bilinear; clean
area-downscaled inputs and inputs degraded by the fixed `DEGRADE`, whatever the training used) and
each method's Frechet distance to the true frames in the independent frame judge's features
(`eval_frechet`). `--bundle B` also writes the upscaler into bundle B
(atomically, the rest of the bundle unchanged).
"""

from __future__ import annotations

import io
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from livevis.errors import LivevisError
from livevis.models import factory
from livevis.models.upscaler import Upscaler, UpscalerConfig
from livevis.training.data import ClipDataset
from livevis.training.loop import batch_indices, seed_everything, train_loop
from livevis.training.stages import common
from livevis.util.atomic import atomic_open

RECORD_NAME = "upscaler.json"
WEIGHTS_NAME = "upscaler.safetensors"
DEGRADE = {"blur_prob": 0.7, "blur_sigma": [0.3, 1.6], "filters": ["area", "bilinear", "bicubic"],
           "artefact_prob": 0.5, "artefact_amp": [0.0, 0.05], "noise_prob": 0.5, "noise_sigma": [0.0, 0.03],
           "jpeg_prob": 0.5, "jpeg_quality": [40, 95]}
# Training's degradations: DEGRADE's kinds and ranges, each applied to a fifth of the inputs (chosen on
# a validation set, seed 4242: against DEGRADE's rates the judge's Frechet distance on clean input fell
# from 9.7 to 8.0, Lanczos 9.2; BENCHMARKS.md).
TRAIN_DEGRADE = {**DEGRADE, "blur_prob": 0.2, "artefact_prob": 0.2, "noise_prob": 0.2, "jpeg_prob": 0.2}

PRESETS: dict[str, dict[str, Any]] = {
    "tiny": {
        "steps": 20, "batch": 4, "seed": 0, "ckpt_every": 5, "patch": 32,
        "model": {"scale": 2, "channels": 8, "num_conv": 2},
        "lr": 2e-3, "warmup": 2, "edge_weight": 0.0, "degrade": TRAIN_DEGRADE, "eval_frames": 2, "eval_frechet": True, "bundle": None,
    },
    "default": {
        "steps": 3000, "batch": 16, "seed": 0, "ckpt_every": 250, "patch": 128,
        "model": {"scale": 4, "channels": 16, "num_conv": 4},  # = models/configs/upscaler-live.json
        "lr": 1e-3, "warmup": 100, "edge_weight": 0.0, "degrade": TRAIN_DEGRADE, "eval_frames": 4, "eval_frechet": True, "bundle": None,
    },
}


def add_arguments(parser) -> None:
    parser.add_argument("--bundle", metavar="BUNDLE", default=None,
                        help="also write the trained upscaler into this bundle directory (atomically; other parts kept)")


def configure(args, config: dict[str, Any]) -> dict[str, Any]:
    if config.get("generator") or config.get("clip"):
        raise LivevisError("the upscaler stage uses neither --generator nor --clip")
    if getattr(args, "bundle", None):
        from livevis.models.bundle import read_config

        read_config(args.bundle)  # a bad --bundle fails before training, not after
        config["bundle"] = str(Path(args.bundle))
    model = UpscalerConfig.from_dict(dict(config["model"]))
    if config["patch"] % model.scale or config["patch"] < 4 * model.scale:
        raise LivevisError(f"patch {config['patch']} must be a multiple of the scale {model.scale} and at least {4 * model.scale}")
    return config


def lr_at(step: int, cfg: dict[str, Any]) -> float:
    """Linear warm-up, then cosine decay to 0 at the last step (a pure function of the step)."""
    warm, total = int(cfg["warmup"]), max(1, int(cfg["steps"]))
    if step < warm:
        return cfg["lr"] * (step + 1) / warm
    return cfg["lr"] * 0.5 * (1.0 + math.cos(math.pi * min(1.0, (step - warm) / max(1, total - warm))))


# ---- degradations --------------------------------------------------------------------------------
def _uniform(gen: torch.Generator, lo: float, hi: float) -> float:
    return lo + (hi - lo) * common.rand_uniform(gen)


def gaussian_blur(img: torch.Tensor, sigma: float) -> torch.Tensor:
    """img [C, H, W] blurred by a separable Gaussian of `sigma` pixels (reflect padding)."""
    radius = max(1, int(math.ceil(3 * sigma)))
    x = torch.arange(-radius, radius + 1, dtype=img.dtype)
    k = torch.exp(-0.5 * (x / sigma) ** 2)
    k = k / k.sum()                                                           # [2r+1]
    c = img.shape[0]
    out = F.pad(img[None], (radius, radius, radius, radius), mode="reflect")  # [1, C, H+2r, W+2r]
    out = F.conv2d(out, k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    out = F.conv2d(out, k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)
    return out[0]


def downscale(img: torch.Tensor, scale: int, mode: str) -> torch.Tensor:
    """img [C, H, W] -> [C, H/scale, W/scale]."""
    size = (img.shape[1] // scale, img.shape[2] // scale)
    if mode == "area":
        return F.interpolate(img[None], size=size, mode="area")[0]
    return F.interpolate(img[None], size=size, mode=mode, align_corners=False, antialias=True)[0]


def jpeg(img: torch.Tensor, quality: int) -> torch.Tensor:
    """img [3, H, W] in [-1, 1] through a JPEG round trip at `quality` (PIL)."""
    from PIL import Image

    arr = ((img.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(1, 2, 0).numpy()
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="JPEG", quality=int(quality))
    buf.seek(0)
    out = torch.from_numpy(np.array(Image.open(buf).convert("RGB"))).permute(2, 0, 1)
    return out.float() / 127.5 - 1.0


def degrade(hr: torch.Tensor, scale: int, gen: torch.Generator, d: dict[str, Any]) -> torch.Tensor:
    """hr [3, H, W] in [-1, 1] -> a generator-like low-resolution version [3, H/scale, W/scale]."""
    img = hr
    if common.rand_uniform(gen) < d["blur_prob"]:
        img = gaussian_blur(img, _uniform(gen, *d["blur_sigma"]))
    filters = d["filters"]
    img = downscale(img, scale, filters[int(torch.randint(0, len(filters), (1,), generator=gen))])
    if common.rand_uniform(gen) < d["artefact_prob"]:
        # The period-2 checkerboard that strided transposed convolutions leave, with a random colour.
        amp = _uniform(gen, *d["artefact_amp"])
        pattern = torch.rand(3, 2, 2, generator=gen) * 2 - 1                  # [3, 2, 2]
        h, w = img.shape[1:]
        img = img + amp * pattern.repeat(1, (h + 1) // 2, (w + 1) // 2)[:, :h, :w]
    if common.rand_uniform(gen) < d["noise_prob"]:
        img = img + _uniform(gen, *d["noise_sigma"]) * torch.randn(img.shape, generator=gen)
    if common.rand_uniform(gen) < d["jpeg_prob"]:
        img = jpeg(img, int(round(_uniform(gen, *d["jpeg_quality"]))))
    return img.clamp(-1.0, 1.0)


def edge_loss(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """L1 between the horizontal and vertical finite differences of a and b [B, C, H, W]."""
    dx = lambda t: t[..., :, 1:] - t[..., :, :-1]  # noqa: E731
    dy = lambda t: t[..., 1:, :] - t[..., :-1, :]  # noqa: E731
    return F.l1_loss(dx(a), dx(b)) + F.l1_loss(dy(a), dy(b))


def make_pair(frames: torch.Tensor, gen: torch.Generator, patch: int, scale: int, d: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
    """frames uint8 [T, 3, H, W] -> (lr [3, p/s, p/s], hr [3, p, p]) from a random frame and patch."""
    k = int(torch.randint(0, frames.shape[0], (1,), generator=gen))
    size = frames.shape[-1]
    p = min(patch, size - size % scale)
    y, x = (int(torch.randint(0, size - p + 1, (1,), generator=gen)) for _ in range(2))
    hr = common.frames_to_float(frames[k, :, y:y + p, x:x + p])               # [3, p, p]
    if common.rand_uniform(gen) < 0.5:
        hr = hr.flip(-1)
    return degrade(hr, scale, gen, d), hr


# ---- training ------------------------------------------------------------------------------------
def train(args, run, dist) -> Path:
    cfg = run.config
    device = dist.device
    seed_everything(cfg["seed"])
    data = ClipDataset(cfg["data"], "train")
    model_cfg = UpscalerConfig.from_dict(dict(cfg["model"]))
    if data.size < 4 * model_cfg.scale:
        raise LivevisError(f"the dataset's {data.size} px frames are too small for a x{model_cfg.scale} upscaler")
    model = Upscaler(model_cfg).to(device).train()
    B, seed = int(cfg["batch"]), int(cfg["seed"])
    if B % dist.world:
        raise LivevisError(f"--batch {B} must divide by the {dist.world} processes")
    common.broadcast_parameters([model])
    params = list(model.parameters())
    opt = torch.optim.Adam(params, lr=cfg["lr"], betas=(0.9, 0.99))
    offset = common.rank_offset(dist, B)

    def step_fn(step: int) -> dict[str, float]:
        fault = common.fault_at(step)
        idx = batch_indices(step, B, len(data), seed, dist.rank, dist.world)
        gens = common.sample_generators(seed, step, len(idx), offset)
        pairs = [make_pair(data[int(i)]["frames"], gen, int(cfg["patch"]), model_cfg.scale, cfg["degrade"])
                 for i, gen in zip(idx, gens)]
        lr_img = torch.stack([p[0] for p in pairs]).to(device)               # [b, 3, p/s, p/s]
        hr = torch.stack([p[1] for p in pairs]).to(device)                   # [b, 3, p, p]
        for group in opt.param_groups:
            group["lr"] = lr_at(step, cfg)
        sr = model(lr_img)
        l1 = F.l1_loss(sr, hr)
        edges = edge_loss(sr, hr)
        loss = common.optimize(l1 + cfg["edge_weight"] * edges, opt, params, fault)
        return {"loss": loss.item(), "l1": l1.item(), "edge": edges.item(), "lr": lr_at(step, cfg)}

    train_loop(run, step_fn=step_fn, total_steps=cfg["steps"], ckpt_every=cfg["ckpt_every"],
               models={"upscaler": model}, optimizers={"opt": opt})
    common.dump_for_test({"upscaler": model}, dist.rank)
    model.eval()
    if not dist.is_main:
        return run.dir / RECORD_NAME
    model = model.cpu()
    metrics = evaluate(model, cfg["data"], int(cfg["eval_frames"]), DEGRADE, seed,
                       frechet=bool(cfg.get("eval_frechet", True)))
    if metrics:
        print("livevis train upscaler: held-out PSNR " + ", ".join(f"{k} {v:.2f}" for k, v in metrics.items()
                                                                  if k.startswith("psnr")), file=sys.stderr)
        if "frechet_degraded_learned" in metrics:
            print("livevis train upscaler: judge Frechet distance to the true frames " + ", ".join(
                f"{k[8:]} {v:.3f}" for k, v in metrics.items() if k.startswith("frechet")), file=sys.stderr)
    with atomic_open(run.dir / "eval.json", "w") as f:
        json.dump(metrics, f, indent=1)
        f.write("\n")
    save_upscaler(model, run.dir)
    if cfg.get("bundle"):
        write_into_bundle(model, cfg["bundle"])
        print(f"livevis train upscaler: wrote the upscaler into {cfg['bundle']}", file=sys.stderr)
    return run.dir / RECORD_NAME


def save_upscaler(model: Upscaler, folder: str | Path) -> None:
    """upscaler.safetensors + upscaler.json ({"arch", "config"}, the bundle part's block), each atomic."""
    common.save_part_files(model, "upscaler", Path(folder) / WEIGHTS_NAME, Path(folder) / RECORD_NAME)


def load_upscaler(folder: str | Path) -> Upscaler:
    """The upscaler a run folder holds (upscaler.json + upscaler.safetensors), names and shapes checked."""
    from livevis.models.bundle import _load_weights

    folder = Path(folder)
    try:
        record = json.loads((folder / RECORD_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise LivevisError(f"{folder / RECORD_NAME}: no upscaler record ({exc})") from None
    if not isinstance(record, dict) or record.get("arch") != "upscaler":
        raise LivevisError(f"{folder / RECORD_NAME}: not an upscaler record")
    model = factory.build("upscaler", record.get("config", {}))
    _load_weights(model, folder / WEIGHTS_NAME)
    return model.eval()


def write_into_bundle(model: Upscaler, bundle_path: str | Path) -> Path:
    """Add (or replace) the bundle's upscaler part; the bundle is rewritten atomically, its other parts
    and weight precision unchanged."""
    from livevis.models.bundle import _DTYPES, load_bundle, save_bundle

    bundle = load_bundle(bundle_path)
    bundle.upscaler = model.cpu()
    return save_bundle(bundle, bundle_path, weights_dtype=_DTYPES[bundle.config.get("weights_dtype", "float32")])


# ---- evaluation ----------------------------------------------------------------------------------
def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB between uint8 images."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10.0 * math.log10(255.0 ** 2 / mse)


def _to_uint8(img: torch.Tensor) -> np.ndarray:
    """[3, H, W] in [-1, 1] -> uint8 [H, W, 3]."""
    return ((img.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(1, 2, 0).numpy()


def classic_upscale(lr: np.ndarray, size: tuple[int, int], method: str) -> np.ndarray:
    """uint8 [h, w, 3] -> [H, W, 3] through PIL's lanczos / bicubic / bilinear."""
    from PIL import Image

    filters = {"lanczos": Image.LANCZOS, "bicubic": Image.BICUBIC, "bilinear": Image.BILINEAR}
    return np.array(Image.fromarray(lr).resize(size, filters[method]))


@torch.no_grad()
def evaluate(model: Upscaler, data: str, frames_per_clip: int, d: dict[str, Any], seed: int,
             frechet: bool = True) -> dict[str, float]:
    """Held-out PSNR against the true frames: the learned upscaler and classic filters from the same
    low-resolution input, clean (area downscale, as a generator trained at that size renders) and
    degraded (fixed seeds). With `frechet`, also the Frechet distance of each method's frames to the
    true ones in the features of the independent frame judge (livevis.eval.judge), trained at full
    resolution on the dataset's train split only: sharpness as a classifier of the scenes sees it."""
    val = common.held_out(data, "upscaler")
    if val is None:
        return {}
    s = model.scale
    sums: dict[str, list[float]] = {}
    images: dict[str, list[np.ndarray]] = {"true": []}  # kept only for the Frechet distances
    for i in range(len(val)):
        frames = val[i]["frames"]
        T, size = frames.shape[0], frames.shape[-1] - frames.shape[-1] % s
        for j, k in enumerate(torch.linspace(0, T - 1, min(frames_per_clip, T)).round().long().tolist()):
            hr = common.frames_to_float(frames[k, :, :size, :size])          # [3, size, size]
            target = _to_uint8(hr)
            if frechet:
                images["true"].append(target)
            gen = common.sample_generators(seed + 1, i, 1, stream=j)[0]
            for kind, lr in (("clean", downscale(hr, s, "area")), ("degraded", degrade(hr, s, gen, d))):
                lr8 = _to_uint8(lr)
                lr_in = torch.from_numpy(lr8).permute(2, 0, 1).float()[None] / 127.5 - 1.0  # what the generator hands over
                outs = {"learned": _to_uint8(model(lr_in)[0])}
                for method in ("lanczos", "bicubic", "bilinear"):
                    outs[method] = classic_upscale(lr8, (size, size), method)
                for method, out in outs.items():
                    sums.setdefault(f"psnr_{kind}_{method}", []).append(psnr(out, target))
                    if frechet:
                        images.setdefault(f"{kind}_{method}", []).append(out)
    metrics = {k: float(np.mean(v)) for k, v in sums.items()}
    if frechet:
        metrics.update(judge_frechet(data, images))
    metrics["val_frames"] = float(len(sums["psnr_clean_learned"]))
    return metrics


def judge_frechet(data: str, images: dict[str, list[np.ndarray]]) -> dict[str, float]:
    """{"frechet_<kind>_<method>": distance to images["true"]} in the judge's feature space; the judge
    sees the frames at the dataset's own size (no downsampling that would hide the difference)."""
    from dataclasses import replace

    from livevis.eval.judge import JudgeSettings, frechet_distance, trained_judge

    train_set = ClipDataset(data, "train")
    judge = trained_judge(train_set, replace(JudgeSettings(), size=int(train_set.size)))

    def feats(batch: list[np.ndarray]) -> np.ndarray:
        x = torch.from_numpy(np.stack(batch)).permute(0, 3, 1, 2).float() / 127.5 - 1.0   # [N, 3, H, W]
        return judge.features(x).numpy()

    true = feats(images["true"])
    return {f"frechet_{name}": float(frechet_distance(feats(batch), true))
            for name, batch in images.items() if name != "true"}
