"""sound-tokens: the sound tokenizer (VQ autoencoder over log-mel, livevis.models.sound_tokenizer)
with Sounding Video Generator's hybrid contrastive learning.

Per step, for each clip of the batch: a random crop of `crop_frames` log-mel frames (the bundle's
front end) and the frame on screen at the crop's centre. Losses:
    rec        L1 between the decoded and the input log-mel (normalised units; metric rec_l1_db in dB)
    commit     commitment of encoder outputs to their codebook entries (the codebook itself is EMA)
    adv        hinge loss of a small patch discriminator over log-mel (from step loss.adv_start)
    nce_inter  inter-modal: pooled audio tokens <-> the CLIP image feature of the same moment, the
               pooling a cross-modal attention block queried by the frame (HybridContrastiveHeads)
    nce_intra  intra-modal: two augmented views of the crop (gain, SpecAugment) agree
Metric "perplexity" = exp(entropy of the batch's code histogram): how much of the codebook is used.

Output in the run folder: sound_tokenizer.safetensors + sound_tokenizer.json (architecture, audio
front end, held-out evaluation); `livevis train text-sound --tokens RUN` reads them. The contrastive
heads and the discriminator stay in the checkpoints (training only).
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from livevis.audio import log_mel
from livevis.errors import LivevisError
from livevis.models import factory
from livevis.models.bundle import AudioFrontend
from livevis.models.sound_tokenizer import HybridContrastiveHeads, MelPatchDiscriminator
from livevis.training import losses
from livevis.training.augment import spec_augment
from livevis.training.clip_spec import load_clip
from livevis.training.data import ClipDataset
from livevis.training.loop import batch_indices, seed_everything, train_loop
from livevis.training.stages import common
from livevis.training.stages.audio import FrozenEmbeddings, frame_at
from livevis.util.atomic import atomic_open, atomic_path

WEIGHTS = "sound_tokenizer.safetensors"
RECORD = "sound_tokenizer.json"
STATS_CLIPS = 64  # training clips measured for the log-mel normalisation

_LOSS = {"w_rec": 1.0, "w_commit": 0.25, "w_adv": 0.05, "adv_start": 20, "w_inter": 0.1, "w_intra": 0.1}
_AUG = {"gain_db": 6.0, "time_masks": 1, "time_width": 4, "freq_masks": 2, "freq_width": 8}


def _preset(name: str) -> dict[str, Any]:
    return factory.load_preset(f"sound_tokenizer-{name}")[1]


PRESETS: dict[str, dict[str, Any]] = {
    "tiny": {
        "steps": 60, "batch": 8, "seed": 0, "ckpt_every": 20, "lr": 2e-3, "clip": "tiny", "fixed_batch": False,
        "audio": AudioFrontend().to_dict(), "crop_frames": 32, "tokenizer": _preset("tiny"),
        "disc": {"width": 16, "layers": 3}, "heads": {"dim": 32, "heads": 4},
        "loss": dict(_LOSS), "augment": dict(_AUG),
    },
    "default": {
        "steps": 20000, "batch": 32, "seed": 0, "ckpt_every": 1000, "lr": 5e-4, "clip": "ViT-B-32:openai",
        "fixed_batch": False, "audio": AudioFrontend().to_dict(), "crop_frames": 64, "tokenizer": _preset("default"),
        "disc": {"width": 32, "layers": 3}, "heads": {"dim": 128, "heads": 4},
        "loss": {**_LOSS, "adv_start": 2000}, "augment": dict(_AUG),
    },
}


@torch.no_grad()
def mel_stats(train_set: ClipDataset, fe: AudioFrontend) -> tuple[float, float]:
    """Mean and std (dB) of the log-mel of up to STATS_CLIPS training clips (evenly spread)."""
    n = len(train_set)
    picks = sorted({int(i * n / min(n, STATS_CLIPS)) for i in range(min(n, STATS_CLIPS))})
    mels = [clip_mel(train_set[i]["audio"], fe) for i in picks]
    values = torch.cat([m.flatten() for m in mels])
    return float(values.mean()), float(values.std().clamp_min(1.0))


def clip_mel(audio: torch.Tensor, fe: AudioFrontend) -> torch.Tensor:
    """A whole clip [S] -> log-mel dB [n_mels, T] (the live front end's framing)."""
    return log_mel(audio, fe.sample_rate, fe.n_fft, fe.hop_length, fe.n_mels, fe.fmin, fe.fmax)


def tokenizer_config(cfg: dict[str, Any], fe: AudioFrontend, train_set: ClipDataset) -> dict[str, Any]:
    tok = copy.deepcopy(cfg["tokenizer"])
    mean, std = mel_stats(train_set, fe)
    tok.update(n_mels=fe.n_mels, mel_mean=round(mean, 4), mel_std=round(std, 4))
    return factory.config_class("sound_tokenizer").from_dict(tok).to_dict()


def train(args, run, dist) -> Path:
    cfg = run.config
    device = dist.device
    seed_everything(cfg["seed"])
    fe = AudioFrontend.from_dict(cfg["audio"])
    train_set = ClipDataset(cfg["data"], "train")
    if fe.sample_rate != train_set.sample_rate:
        raise LivevisError(f"the dataset's audio is {train_set.sample_rate} Hz but the front end expects {fe.sample_rate} Hz "
                           f"(re-run `livevis prepare --sample-rate {fe.sample_rate}`)")
    crop = int(cfg["crop_frames"])
    if crop < 4 or crop % (2 ** int(cfg["tokenizer"]["levels"])):
        raise LivevisError(f"crop_frames must be >= 4 and a multiple of 2**levels, got {crop}")
    crop_samples = fe.n_fft + fe.hop_length * (crop - 1)
    clip, record, clip_prov = load_clip(cfg["clip"], device)
    tok_cfg = tokenizer_config(cfg, fe, train_set)
    tokenizer = factory.build("sound_tokenizer", tok_cfg).to(device)
    heads = HybridContrastiveHeads(tok_cfg["code_dim"], clip.embed_dim, **cfg["heads"]).to(device)
    disc = MelPatchDiscriminator(**cfg["disc"]).to(device)
    common.broadcast_parameters([tokenizer, heads, disc])
    params = list(tokenizer.parameters()) + list(heads.parameters())
    opt = torch.optim.AdamW(params, lr=cfg["lr"], betas=(0.5, 0.9), weight_decay=1e-4)
    opt_d = torch.optim.AdamW(disc.parameters(), lr=cfg["lr"], betas=(0.5, 0.9), weight_decay=1e-4)
    targets = FrozenEmbeddings(clip)
    B, seed, L, A = cfg["batch"], cfg["seed"], cfg["loss"], cfg["augment"]
    if B % dist.world or B < 2:
        raise LivevisError(f"--batch {B} must be >= 2 and divide by the {dist.world} processes")
    offset = common.rank_offset(dist, B)

    def step_fn(step: int) -> dict[str, float]:
        fault = common.fault_at(step)
        s = 0 if cfg["fixed_batch"] else step
        idx = batch_indices(s, B, len(train_set), seed, dist.rank, dist.world)
        items = [train_set[int(i)] for i in idx]
        gens = common.sample_generators(seed, s, len(items), offset)
        ends, imgs = [], []
        for i, item, gen in zip(idx, items, gens):
            n = item["audio"].shape[0]
            lo = min(crop_samples, n)
            end = lo + int(torch.randint(0, n - lo + 1, (1,), generator=gen))
            k = frame_at(end - crop_samples // 2, train_set.sample_rate, train_set.fps, item["frames"].shape[0])
            ends.append(end)
            imgs.append(targets.image(("train", int(i)), item["frames"], k))
        mel = common.mel_batch(common.window_batch([it["audio"] for it in items], ends, crop_samples), fe).to(device)  # [b, M, T]
        views = []
        for stream in (1, 2):  # two augmented views: a gain change and SpecAugment masks each
            vg = common.sample_generators(seed, s, len(items), offset, stream=stream)
            gain = torch.tensor([(2 * common.rand_uniform(g) - 1) * A["gain_db"] for g in vg], device=device)
            views.append(spec_augment(mel + gain[:, None, None], vg, time_masks=A["time_masks"], time_width=A["time_width"],
                                      freq_masks=A["freq_masks"], freq_width=A["freq_width"]))
        out = tokenizer(mel)
        target = tokenizer.normalise(mel)
        recon = tokenizer.normalise(out["recon"])
        rec = F.l1_loss(recon, target)
        z1, z2 = tokenizer.encode(torch.cat(views)).chunk(2)                  # [b, D, L] each
        nce_intra = losses.info_nce(heads.intra_embed(z1), heads.intra_embed(z2), heads.scale())
        logits = heads.inter_logits(out["z_q"], torch.stack(imgs).to(device))  # [b, b] frame x audio
        labels = torch.arange(logits.shape[0], device=device)
        nce_inter = 0.5 * (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels))
        adv_on = step >= int(L["adv_start"])
        adv_g = losses.g_loss(disc(recon), "hinge") if adv_on else torch.zeros((), device=device)
        loss = (L["w_rec"] * rec + L["w_commit"] * out["commit"] + L["w_inter"] * nce_inter
                + L["w_intra"] * nce_intra + (L["w_adv"] * adv_g if adv_on else 0.0))
        loss = common.optimize(loss, opt, params, fault)
        adv_d = torch.zeros(())
        if adv_on:
            adv_d = losses.d_loss(disc(target), disc(recon.detach()), "hinge")
            common.optimize(adv_d, opt_d, list(disc.parameters()))
        return {"loss": loss.item(), "rec_l1_db": float((out["recon"].detach() - mel).abs().mean()),
                "commit": out["commit"].item(), "perplexity": out["perplexity"].item(),
                "nce_inter": nce_inter.item(), "nce_intra": nce_intra.item(), "adv_g": adv_g.item(), "adv_d": adv_d.item()}

    train_loop(run, step_fn=step_fn, total_steps=cfg["steps"], ckpt_every=cfg["ckpt_every"],
               models={"sound_tokenizer": tokenizer, "heads": heads, "disc": disc}, optimizers={"opt": opt, "opt_d": opt_d})
    common.dump_for_test({"sound_tokenizer": tokenizer}, dist.rank)
    if not dist.is_main:
        return run.dir / WEIGHTS
    metrics = evaluate(tokenizer, cfg["data"], fe, device)
    if metrics:
        print("livevis train sound-tokens: held-out " + ", ".join(f"{k} {v:.3f}" for k, v in metrics.items()), file=sys.stderr)
    provenance = {"data_sha256": common.dataset_sha256(cfg["data"]), **clip_prov,
                  "recipe": f"livevis train sound-tokens (preset {cfg['preset']})", "command": " ".join(sys.argv)}
    return save_tokenizer(run.dir, tokenizer, tok_cfg, fe, metrics, provenance)


def save_tokenizer(folder: Path, tokenizer, tok_cfg: dict[str, Any], fe: AudioFrontend, metrics, provenance) -> Path:
    from safetensors.torch import save_file

    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in tokenizer.state_dict().items()}
    with atomic_path(folder / WEIGHTS) as tmp:
        save_file(tensors, str(tmp), metadata={"format": "pt"})
    doc = {"arch": "sound_tokenizer", "config": tok_cfg, "audio": fe.to_dict(), "eval": metrics, "provenance": provenance}
    with atomic_open(folder / RECORD, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    return folder / WEIGHTS


def load_tokenizer(folder: str | Path, device: str | torch.device = "cpu"):
    """A sound-tokens run folder -> (SoundTokenizer in eval mode, its AudioFrontend, record dict)."""
    from safetensors.torch import load_file

    folder = Path(folder)
    try:
        doc = json.loads((folder / RECORD).read_text())
        state = load_file(str(folder / WEIGHTS))
    except FileNotFoundError:
        raise LivevisError(f"{folder} holds no sound tokenizer (run `livevis train sound-tokens --out {folder}` first)") from None
    except (OSError, ValueError) as exc:
        raise LivevisError(f"{folder}: unreadable sound tokenizer ({exc})") from None
    tokenizer = factory.build("sound_tokenizer", doc["config"])
    tokenizer.load_state_dict(state)
    return tokenizer.to(device).eval(), AudioFrontend.from_dict(doc["audio"]), doc


@torch.no_grad()
def evaluate(tokenizer, data: str, fe: AudioFrontend, device) -> dict[str, float]:
    """Held-out (val split) whole-clip reconstruction L1 in dB, codebook perplexity and codes used."""
    val = common.held_out(data, "sound-tokens")
    if val is None:
        return {}
    was = tokenizer.training
    tokenizer.eval()
    errs, codes = [], []
    for i in range(len(val)):
        mel = clip_mel(val[i]["audio"], fe)[None].to(device)                  # [1, M, T]
        out = tokenizer(mel)
        errs.append(float((out["recon"] - mel).abs().mean()))
        codes.append(out["codes"].flatten())
    tokenizer.train(was)
    hist = torch.bincount(torch.cat(codes), minlength=tokenizer.config.codebook_size).float()
    p = hist / hist.sum()
    perplexity = float(torch.exp(-(p * torch.log(p + 1e-10)).sum()))
    return {"rec_l1_db": sum(errs) / len(errs), "perplexity": perplexity, "codes_used": float((hist > 0).sum()),
            "codebook_size": float(tokenizer.config.codebook_size), "val_clips": float(len(val))}
