"""audio: align the sound encoder with a frozen CLIP (Lee et al. 2022 sec. 3.1, plus SVG's intra-modal term).

Per step, for each clip of the batch: a random 1 s window of its audio (the live front end's log-mel),
the frame shown at the window's end, and the clip's caption. The window goes through the recording
chain of training/augment_audio.py (config "audio_augment": room, background at a random SNR,
microphone, EQ, compression, codec, gain; each window its own seeded draw) and then SpecAugment; the
encoder's embedding of that view (the anchor) is pulled towards the frozen CLIP embeddings of that
frame and caption with symmetric InfoNCE (learnable temperature), and towards the embedding of a
second, independently augmented view of the same window (the intra-modal audio <-> augmented-audio
term of Sounding Video Generator's hybrid contrastive learning). Clips of one class are all
positives for each other's text. Metric "audio_augmented": the fraction of windows the chain changed.

Output in the run folder: sound_encoder.safetensors + sound_encoder.json (architecture, audio front
end, CLIP record, evaluation) and the CLIP (clip.json [+ clip.safetensors]); `train video --init RUN`
starts from it, `--clip bundle:RUN` reuses its CLIP. eval.json holds zero-shot classification
accuracy and audio -> image retrieval R@1 on the held-out split.
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

import torch

from livevis.errors import LivevisError
from livevis.models import factory
from livevis.models.bundle import AudioFrontend
from livevis.training import augment_audio, losses
from livevis.training.augment import spec_augment
from livevis.training.clip_spec import load_clip, save_clip
from livevis.training.data import ClipDataset
from livevis.training.loop import batch_indices, seed_everything, train_loop
from livevis.training.stages import common
from livevis.util.atomic import atomic_open, atomic_path

ENCODER_WEIGHTS = "sound_encoder.safetensors"
ENCODER_RECORD = "sound_encoder.json"

_LOSS = {"w_image": 1.0, "w_text": 1.0, "w_intra": 0.5, "init_temperature": 0.07, "max_logit_scale": 100.0}
_SPECAUG = {"time_masks": 2, "time_width": 8, "freq_masks": 2, "freq_width": 10}

PRESETS: dict[str, dict[str, Any]] = {
    "tiny": {
        "steps": 30, "batch": 8, "seed": 0, "ckpt_every": 10, "lr": 2e-3, "weight_decay": 1e-4,
        "clip": "tiny", "generator": None, "fixed_batch": False,
        "audio": AudioFrontend().to_dict(),
        # num_ws / w_dim only shape the (untrained here) offset head; --generator sets them.
        "encoder": {"stem_width": 8, "widths": [8, 16, 32], "blocks": [1, 1, 1], "num_ws": 8, "w_dim": 64,
                    "input_norm": "fixed", "stats_width": 0},
        "loss": dict(_LOSS), "specaug": dict(_SPECAUG),
        "audio_augment": dict(augment_audio.DEFAULTS),  # issue 13: on in every preset (a few ms per window)
    },
    "default": {
        "steps": 20000, "batch": 64, "seed": 0, "ckpt_every": 1000, "lr": 1e-3, "weight_decay": 1e-4,
        "clip": "ViT-B-32:openai", "generator": None, "fixed_batch": False,
        "audio": AudioFrontend().to_dict(),
        "encoder": {"stem_width": 32, "widths": [32, 64, 128, 256], "blocks": [2, 2, 2, 2], "num_ws": 14, "w_dim": 512,
                    "input_norm": "fixed", "stats_width": 0},
        "loss": dict(_LOSS), "specaug": dict(_SPECAUG),
        "audio_augment": dict(augment_audio.DEFAULTS),
    },
}


def encoder_config(config: dict[str, Any], fe: AudioFrontend, embed_dim: int, generator=None) -> dict[str, Any]:
    """The full SoundEncoderConfig dict: the preset's sizes, the front end's input, CLIP's width,
    and the generator's ws layout when one is given."""
    cfg = copy.deepcopy(config["encoder"])
    cfg.update(n_mels=fe.n_mels, num_frames=fe.frames, embed_dim=embed_dim)
    if generator is not None:
        cfg.update(num_ws=int(generator.num_ws), w_dim=int(generator.w_dim))
    return factory.config_class("sound_encoder").from_dict(cfg).to_dict()


class FrozenEmbeddings:
    """CLIP embeddings of dataset frames and texts, computed on first use and cached.

    A clip's frames are embedded together, as one batch of that clip's T frames, the first time any
    of them is needed, and texts one at a time: so a value never depends on what else shared its
    batch, and runs resumed mid-way or split over processes see bit-identical targets.
    """

    def __init__(self, clip):
        self.clip = clip
        self._img: dict[tuple, torch.Tensor] = {}
        self._txt: dict[str, torch.Tensor] = {}

    @torch.no_grad()
    def image(self, key: tuple, frames_uint8: torch.Tensor, k: int) -> torch.Tensor:
        """Frame k of the clip `key` (frames uint8 [T, 3, H, W]) -> [D]."""
        if key not in self._img:
            self._img[key] = self.clip.encode_image(common.frames_to_float(frames_uint8)).cpu()   # [T, D]
        return self._img[key][k]

    @torch.no_grad()
    def text(self, text: str) -> torch.Tensor:
        if text not in self._txt:
            self._txt[text] = self.clip.encode_text([text])[0].cpu()
        return self._txt[text]


def frame_at(end_sample: int, sample_rate: int, fps: int, num_frames: int) -> int:
    """Index of the frame on screen when sample `end_sample - 1` plays."""
    return min(num_frames - 1, max(0, (end_sample - 1) * fps // sample_rate))


def train(args, run, dist) -> Path:
    cfg = run.config
    device = dist.device
    seed_everything(cfg["seed"])
    fe = AudioFrontend.from_dict(cfg["audio"])
    train_set = ClipDataset(cfg["data"], "train")
    clip, record, clip_prov = load_clip(cfg["clip"], device)
    generator = None
    if cfg.get("generator"):
        from livevis.models import load_generator

        generator = load_generator(cfg["generator"])
    enc_cfg = encoder_config(cfg, fe, clip.embed_dim, generator)
    common.check_frontend(fe, train_set.sample_rate, enc_cfg)
    encoder = factory.build("sound_encoder", enc_cfg).to(device)
    encoder.offset_head.requires_grad_(False)  # W+ offsets are the video stage's job
    temperature = losses.LogitScale(cfg["loss"]["init_temperature"], cfg["loss"]["max_logit_scale"]).to(device)
    common.broadcast_parameters([encoder, temperature])
    common.use_global_batchnorm(encoder)
    params = [p for m in (encoder, temperature) for p in m.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg["lr"], weight_decay=cfg["weight_decay"])
    targets = FrozenEmbeddings(clip)
    B, seed, L = cfg["batch"], cfg["seed"], cfg["loss"]
    if B % dist.world or B < 2:
        raise LivevisError(f"--batch {B} must be >= 2 and divide by the {dist.world} processes")
    offset = common.rank_offset(dist, B)
    # Audio augmentation (issue 13): None for runs configured before it existed or with p = 0.
    aug = augment_audio.build(cfg.get("audio_augment"), fe.sample_rate, cfg["data"], train_set.classes)

    def step_fn(step: int) -> dict[str, float]:
        fault = common.fault_at(step)
        s = 0 if cfg["fixed_batch"] else step  # fixed_batch: the same clips, windows and masks every step
        idx = batch_indices(s, B, len(train_set), seed, dist.rank, dist.world)
        items = [train_set[int(i)] for i in idx]
        gens = common.sample_generators(seed, s, len(items), offset)
        ends, imgs, texts, labels = [], [], [], []
        for i, item, gen in zip(idx, items, gens):
            n = item["audio"].shape[0]
            lo = min(fe.window_samples, n)
            end = lo + int(torch.randint(0, n - lo + 1, (1,), generator=gen))
            k = frame_at(end, train_set.sample_rate, train_set.fps, item["frames"].shape[0])
            ends.append(end)
            imgs.append(targets.image(("train", int(i)), item["frames"], k))
            texts.append(targets.text(item["caption"]))
            labels.append(item["label"])
        # ---- audio augmentation (issue 13): the anchor and the second view are two independent
        # draws of the recording chain (room, background, microphone, EQ, compression, codec, gain);
        # without it both are the clean window, as before.
        audio = [it["audio"] for it in items]
        views, changed = [], 0
        real_before = aug.real_mixed if aug is not None else 0
        for stream in (1, 2):
            w, c = augment_audio.augmented_windows(aug, audio, ends, fe.window_samples,
                                                   common.sample_generators(seed, s, len(items), offset, stream=stream),
                                                   labels)
            views.append(spec_augment(common.mel_batch(w, fe), gens, **cfg["specaug"]))
            changed += c
        views = torch.cat(views)
        emb, _ = encoder(views.to(device))                                    # [2b, D]
        a1, a2 = emb.chunk(2)                                                 # [b, D] each
        a1, a2 = common.gather(a1), common.gather(a2)                         # [B, D]
        img = common.gather(torch.stack(imgs).to(device))                     # [B, D]
        txt = common.gather(torch.stack(texts).to(device))                    # [B, D]
        same_class = losses.same_item(common.gather_objects(labels)).to(device)  # [B, B]
        scale = temperature()
        l_img = losses.info_nce(a1, img, scale)
        l_txt = losses.info_nce(a1, txt, scale, same_class)
        l_intra = losses.info_nce(a1, a2, scale)
        loss = L["w_image"] * l_img + L["w_text"] * l_txt + L["w_intra"] * l_intra
        loss = common.optimize(loss, opt, params, fault)
        out = {"loss": loss.item(), "nce_audio_image": l_img.item(), "nce_audio_text": l_txt.item(),
               "nce_audio_audio": l_intra.item(), "temperature": 1.0 / scale.item()}
        if aug is not None:  # fraction of the global batch's windows (both views) the chain changed
            out["audio_augmented"] = common.gather(torch.tensor([float(changed)], device=device)).sum().item() / (2 * B)
            if aug.real_bank is not None:  # ... and the fraction that heard a real recording of their class
                mixed = float(aug.real_mixed - real_before)
                out["audio_real"] = common.gather(torch.tensor([mixed], device=device)).sum().item() / (2 * B)
        return out

    train_loop(run, step_fn=step_fn, total_steps=cfg["steps"], ckpt_every=cfg["ckpt_every"],
               models={"sound_encoder": encoder, "temperature": temperature}, optimizers={"opt": opt})
    common.dump_for_test({"sound_encoder": encoder, "temperature": temperature}, dist.rank)
    metrics = evaluate(encoder, targets, cfg["data"], fe, device) if dist.is_main else {}
    if not dist.is_main:
        return run.dir / ENCODER_WEIGHTS
    if metrics:
        print("livevis train audio: held-out " + ", ".join(f"{k} {v:.3f}" for k, v in metrics.items()), file=sys.stderr)
    with atomic_open(run.dir / "eval.json", "w") as f:
        json.dump(metrics, f, indent=1)
    provenance = {"data_sha256": common.dataset_sha256(cfg["data"]), **clip_prov, "recipe": f"livevis train audio (preset {cfg['preset']})",
                  "command": " ".join(sys.argv)}
    return save_encoder(run.dir, encoder, enc_cfg, fe, clip, record, metrics, provenance)


def save_encoder(folder: Path, encoder, enc_cfg, fe: AudioFrontend, clip, record, metrics, provenance) -> Path:
    """sound_encoder.safetensors + .json and the CLIP, each written atomically."""
    from safetensors.torch import save_file

    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in encoder.state_dict().items()}
    with atomic_path(folder / ENCODER_WEIGHTS) as tmp:
        save_file(tensors, str(tmp), metadata={"format": "pt"})
    save_clip(clip, record, folder)
    doc = {"arch": "sound_encoder", "config": enc_cfg, "audio": fe.to_dict(), "clip": {"kind": record["kind"]},
           "eval": metrics, "provenance": provenance}
    with atomic_open(folder / ENCODER_RECORD, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    return folder / ENCODER_WEIGHTS


@torch.no_grad()
def evaluate(encoder, targets: FrozenEmbeddings, data: str, fe: AudioFrontend, device) -> dict[str, float]:
    """Zero-shot audio classification accuracy (audio embedding vs class prompts) and audio -> image
    R@1 (among the held-out frames) on the val split, from each clip's last window and last frame."""
    val = common.held_out(data, "audio")
    if val is None:
        return {}
    was_training = encoder.training
    encoder.eval()
    prompts = torch.stack([targets.text(common.prompt_for(c)) for c in val.classes]).to(device)  # [K, D]
    audio, imgs, labels = [], [], []
    for i in range(len(val)):
        item = val[i]
        n = item["audio"].shape[0]
        mel = common.mel_batch(common.window_batch([item["audio"]], [n], fe.window_samples), fe)
        audio.append(encoder(mel.to(device))[0][0])
        k = frame_at(n, val.sample_rate, val.fps, item["frames"].shape[0])
        imgs.append(targets.image(("val", i), item["frames"], k).to(device))
        labels.append(item["label"])
    encoder.train(was_training)
    a, im, lab = torch.stack(audio), torch.stack(imgs), torch.tensor(labels, device=device)
    accuracy = float(((a @ prompts.T).argmax(1) == lab).float().mean())
    r1 = float(((a @ im.T).argmax(1) == torch.arange(len(val), device=device)).float().mean())
    return {"zero_shot_accuracy": accuracy, "chance_accuracy": 1.0 / len(val.classes),
            "audio_to_image_r1": r1, "chance_r1": 1.0 / len(val), "val_clips": float(len(val))}
