"""generator: a compact StyleGAN2 trainer on the prepared frames (Karras et al. 2020, with the
small-data tools of StyleGAN2-ADA / DiffAugment), so a user with only footage gets a complete model.

Per step (batch B of frames, one random frame of each of B clips, resized to the preset's size):
    G:  z -> ws (style mixing with probability mixing_prob) -> G.synthesis (random noise) -> img;
        non-saturating logistic loss  softplus(-D(aug(img)))
    D:  softplus(D(aug(img.detach()))) + softplus(-D(aug(real)))
        + lazy R1 every r1_every steps: gamma / 2 * ||dD(aug(real)) / d real||^2 * r1_every, with D's
        learning rate and betas scaled by r1_every / (r1_every + 1) as NVlabs does for lazy regularisers
    EMA: G_ema = lerp(G, G_ema, beta), beta = 0.5 ** (B / ema_images) with a ramp-up (the half-life
        grows with the images seen: ema_images = min(ema_images, ema_rampup * images seen)), G_ema's
        mapping keeps tracking w_avg (the truncation centre)
aug is DiffAugment (color, translation, cutout), the same family for real and generated images.
Adam with StyleGAN2's betas (0, 0.99).

Outputs: RUN/samples/stepNNNNNNN.png grids of G_ema on fixed latents (+ .mp4 walks between two of
them), checkpoints, and at the end
RUN/generator.bundle: a generator-only livevis bundle (G_ema + D, class prompts) that
`livevis train video --generator RUN/generator.bundle` and `livevis models info` accept.
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from livevis.errors import LivevisError
from livevis.models import factory
from livevis.models.bundle import Bundle, save_bundle
from livevis.training import losses
from livevis.training.data import ClipDataset
from livevis.training.diffaugment import diff_augment, parse_policy
from livevis.training.loop import batch_indices, seed_everything, train_loop
from livevis.training.stages import common

BUNDLE_NAME = "generator.bundle"


def _default_generator() -> dict[str, Any]:
    """The live 256 px StyleGAN2 (channel_base 2048: about 60 fps end to end on a 2-core CPU)."""
    _, cfg = factory.load_preset("stylegan2-256-live")
    return cfg


PRESETS: dict[str, dict[str, Any]] = {
    "tiny": {
        "steps": 20, "batch": 4, "seed": 0, "ckpt_every": 10, "sample_every": 10, "fixed_batch": False,
        "G": {"z_dim": 64, "w_dim": 64, "img_resolution": 32, "mapping_layers": 2, "channel_base": 512,
                      "channel_max": 64},
        "D": {"channel_base": 512, "channel_max": 64, "mbstd_group_size": 4},
        "lr_g": 0.0025, "lr_d": 0.0025, "betas": [0.0, 0.99],
        "r1_gamma": 0.05, "r1_every": 16, "mixing_prob": 0.0,
        "ema_images": 400, "ema_rampup": 0.05, "augment": "color,translation,cutout",
    },
    "default": {
        "steps": 60000, "batch": 16, "seed": 0, "ckpt_every": 1000, "sample_every": 1000, "fixed_batch": False,
        "G": _default_generator(),
        "D": {"channel_base": 8192, "channel_max": 256, "mbstd_group_size": 4},
        "lr_g": 0.0025, "lr_d": 0.0025, "betas": [0.0, 0.99],
        "r1_gamma": 1.0, "r1_every": 16, "mixing_prob": 0.5,
        "ema_images": 5000, "ema_rampup": 0.05, "augment": "color,translation,cutout",
    },
}


def configure(args, config: dict[str, Any]) -> dict[str, Any]:
    """Validate the config early (before the run folder exists)."""
    parse_policy(config["augment"])
    factory.config_class("stylegan2").from_dict(config["G"])
    if config.get("generator"):
        raise LivevisError("the generator stage trains its own generator: --generator is for `livevis train video`")
    if config.get("clip"):
        raise LivevisError("the generator stage uses no CLIP: drop --clip")
    if config["r1_every"] < 1 or config["r1_gamma"] < 0:
        raise LivevisError("r1_every must be >= 1 and r1_gamma >= 0")
    if not 0.0 <= config["mixing_prob"] <= 1.0:
        raise LivevisError("mixing_prob must be in [0, 1]")
    if config["ema_images"] <= 0:
        raise LivevisError("ema_images must be positive")
    return config


def build_models(cfg: dict[str, Any]):
    """(G, D) from the config: StyleGAN2 generator and a StyleGAN2-style residual image discriminator."""
    G = factory.build("stylegan2", dict(cfg["G"]))
    d_cfg = dict(cfg["D"], img_resolution=G.img_resolution, img_channels=G.img_channels)
    D = factory.build("image_discriminator", d_cfg)
    return G, D


def ema_beta(step: int, batch: int, ema_images: float, rampup: float | None) -> float:
    """Per-step EMA decay after `step` steps of `batch` images: half-life ema_images images, ramped up
    (a young G_ema would otherwise average in the random initial weights for a long time)."""
    images = (step + 1) * batch
    half_life = ema_images if rampup is None else min(ema_images, images * rampup)
    return 0.5 ** (batch / max(half_life, 1e-8))


@torch.no_grad()
def update_ema(G_ema: torch.nn.Module, G: torch.nn.Module, beta: float) -> None:
    for p_ema, p in zip(G_ema.parameters(), G.parameters()):
        p_ema.copy_(p.detach().lerp(p_ema, beta))
    for b_ema, b in zip(G_ema.buffers(), G.buffers()):
        b_ema.copy_(b)  # w_avg and noise constants follow G as they are


def mix_styles(G, z: torch.Tensor, z2: torch.Tensor, cut: torch.Tensor, mix: torch.Tensor) -> torch.Tensor:
    """ws [B, num_ws, w_dim] from z, with layers >= cut[i] taken from z2 where mix[i] (style mixing)."""
    ws = G.mapping(z, update_emas=True)                                        # [B, num_ws, w_dim]
    if not bool(mix.any()):
        return ws
    ws2 = G.mapping(z2)                                                        # [B, num_ws, w_dim]
    layer = torch.arange(ws.shape[1], device=ws.device)[None]                  # [1, num_ws]
    take = (mix[:, None] & (layer >= cut[:, None]))[:, :, None]                 # [B, num_ws, 1]
    return torch.where(take, ws2, ws)


def train(args, run, dist) -> Path:
    cfg = run.config
    device = dist.device
    seed_everything(cfg["seed"])
    data = ClipDataset(cfg["data"], "train")
    G, D = build_models(cfg)
    G, D = G.to(device).train(), D.to(device).train()
    G_ema = copy.deepcopy(G).eval().requires_grad_(False)
    R, B, seed = int(G.img_resolution), int(cfg["batch"]), int(cfg["seed"])
    if B % dist.world:
        raise LivevisError(f"--batch {B} must divide by the {dist.world} processes")
    common.broadcast_parameters([G, D, G_ema])
    betas = tuple(cfg["betas"])
    ratio = cfg["r1_every"] / (cfg["r1_every"] + 1)  # lazy regularisation: keep D's effective lr and momentum
    opt_g = torch.optim.Adam(G.parameters(), lr=cfg["lr_g"], betas=betas)
    opt_d = torch.optim.Adam(D.parameters(), lr=cfg["lr_d"] * ratio, betas=tuple(b ** ratio for b in betas))
    policy = parse_policy(cfg["augment"])
    offset = common.rank_offset(dist, B)
    num_ws = G.num_ws

    def batch(step: int):
        """This rank's real frames [b, 3, R, R] in [-1, 1], latents z, z2 [b, z_dim], mixing cut/flag
        and per-sample generators for augmentation (all functions of (seed, step, position))."""
        s = 0 if cfg["fixed_batch"] else step
        idx = batch_indices(s, B, len(data), seed, dist.rank, dist.world)
        gens = common.sample_generators(seed, s, len(idx), offset)
        real, z, z2, cut, mix = [], [], [], [], []
        for i, gen in zip(idx, gens):
            frames = data[int(i)]["frames"]                                     # [T, 3, H, W] uint8
            k = int(torch.randint(0, frames.shape[0], (1,), generator=gen))
            real.append(frames[k])
            z.append(torch.randn(G.z_dim, generator=gen))
            z2.append(torch.randn(G.z_dim, generator=gen))
            mix.append(common.rand_uniform(gen) < cfg["mixing_prob"])
            cut.append(int(torch.randint(1, max(2, num_ws), (1,), generator=gen)))
        real = common.resize(common.frames_to_float(torch.stack(real)), R)      # [b, 3, R, R]
        return (real.to(device), torch.stack(z).to(device), torch.stack(z2).to(device),
                torch.tensor(cut, device=device), torch.tensor(mix, device=device), s)

    def step_fn(step: int) -> dict[str, float]:
        fault = common.fault_at(step)
        real, z, z2, cut, mix, s = batch(step)
        b = real.shape[0]
        aug_fake = common.sample_generators(seed, s, b, offset, stream=1)
        aug_real = common.sample_generators(seed, s, b, offset, stream=2)

        # ---- G: non-saturating logistic loss ----
        D.requires_grad_(False)
        ws = mix_styles(G, z, z2, cut, mix)
        fake = G.synthesis(ws, noise_mode="random")                            # [b, 3, R, R]
        loss_g = F.softplus(-D(diff_augment(fake, aug_fake, policy))).mean()
        loss_g = common.optimize(loss_g, opt_g, G.parameters(), fault)

        # ---- D: logistic loss + lazy R1 ----
        D.requires_grad_(True)
        do_r1 = cfg["r1_gamma"] > 0 and step % cfg["r1_every"] == 0
        real_in = real.detach().requires_grad_(do_r1)
        real_logits = D(diff_augment(real_in, aug_real, policy))                # [b, 1]
        fake_logits = D(diff_augment(fake.detach(), aug_fake, policy))          # [b, 1]
        loss_d = F.softplus(fake_logits).mean() + F.softplus(-real_logits).mean()
        r1 = torch.zeros((), device=device)
        if do_r1:
            r1 = losses.r1_penalty(real_logits, real_in)
            loss_d_total = loss_d + 0.5 * cfg["r1_gamma"] * cfg["r1_every"] * r1
        else:
            loss_d_total = loss_d
        opt_d.zero_grad(set_to_none=True)
        loss_d_total.backward()
        common.average_gradients(D.parameters())
        opt_d.step()

        update_ema(G_ema, G, ema_beta(step, B, cfg["ema_images"], cfg["ema_rampup"]))
        out = {"loss_g": loss_g.item(), "loss_d": loss_d.item(), "real_score": real_logits.mean().item(),
               "fake_score": fake_logits.mean().item()}
        if do_r1:
            out["r1"] = r1.item()
        return out

    sample_z = torch.randn(16, G.z_dim, generator=torch.Generator().manual_seed(seed)).to(device)  # [16, z_dim]

    @torch.no_grad()
    def sample_fn(step: int) -> None:
        """A 4x4 grid of G_ema on fixed latents, and a short mp4 walking W between two of them."""
        name = f"step{step + 1:07d}"
        ws = G_ema.mapping(sample_z)                                            # [16, num_ws, w_dim]
        run.save_grid(name, G_ema.synthesis(ws, noise_mode="const").clamp(-1, 1).cpu(), nrow=4)
        alpha = torch.linspace(0, 1, 16, device=device)[:, None, None]          # [16, 1, 1]
        walk = torch.lerp(ws[0:1], ws[1:2], alpha)                              # [16, num_ws, w_dim]
        run.save_clip(name, G_ema.synthesis(walk, noise_mode="const").clamp(-1, 1).cpu(), fps=8)

    models = {"G": G, "D": D, "G_ema": G_ema}
    train_loop(run, step_fn=step_fn, total_steps=cfg["steps"], ckpt_every=cfg["ckpt_every"], models=models,
               optimizers={"g": opt_g, "d": opt_d}, sample_every=cfg["sample_every"] if dist.is_main else None,
               sample_fn=sample_fn)
    common.dump_for_test(models, dist.rank)
    path = run.dir / BUNDLE_NAME
    if not dist.is_main:
        return path
    if cfg["steps"] and cfg["sample_every"] and cfg["steps"] % cfg["sample_every"]:
        sample_fn(cfg["steps"] - 1)  # the final G_ema too
    return write_bundle(run, G_ema, D, data.classes)


def write_bundle(run, G_ema, D, classes: list[str]) -> Path:
    """RUN/generator.bundle: G_ema (what samples and playback use) and D (for fine-tuning)."""
    cfg = run.config
    provenance = {"stand_in": False, "inputs": {"data": common.dataset_sha256(cfg["data"])},
                  "recipe": f"livevis train generator (preset {cfg['preset']}, {cfg['steps']} steps, batch {cfg['batch']})",
                  "command": " ".join(["livevis", *sys.argv[1:]]), "run": str(run.dir)}
    bundle = Bundle.new(G_ema.eval(), name=Path(run.dir).name,
                        description=f"StyleGAN2 ({G_ema.img_resolution} px) trained by livevis on {Path(cfg['data']).name}",
                        image_discriminator=D.eval(), classes=common.class_prompts(classes), provenance=provenance)
    path = save_bundle(bundle, run.dir / BUNDLE_NAME)
    print(f"livevis train generator: EMA generator saved as {path}", file=sys.stderr)
    return path

