"""clip: a small open_clip-architecture CLIP trained from scratch on the dataset's frames and texts.

No pretrained CLIP can be downloaded offline, so the default bundle's shared image/text/sound space
is learned here; the code path that uses it (`--clip` of the audio and video stages, bundles) is the
same as for a real open_clip model.

Per step, for each of B clips: one random frame (flip/translate augmented) and one text, the clip's
caption or, with probability prompt_prob, its class prompt ("a video of <class>", the prompt zero-shot
classification and bundles use). With probability vary_text that text is reworded (`wording`): the
class named plainly or with a loudness word, and a phrase of time, place or light that the captions
give only some classes ("at night", "under a grey sky") added to any class; with `distractors`, some
also start with a random word of the tokenizer's vocabulary that no caption uses. A dataset's few captions
tie such phrases to one class: with three captions per class, "heavy rain at night" read as the
thunderstorm's "stormy night" (BENCHMARKS.md), and a performer's prompts or `livevis generate --text`
are free text. Loss: symmetric InfoNCE image <-> text with CLIP's own learnable
temperature (model.logit_scale, capped at 100); clips of one class are all positives for each
other's text, since their captions describe the same thing. AdamW (decay on matrices only), linear
warm-up then cosine decay.

Outputs in the run folder: clip.json + clip.safetensors (training.clip_spec's folder format, so
`--clip RUN` or `--clip bundle:RUN` loads it) and eval.json with zero-shot frame classification
accuracy on the held-out split.
"""

from __future__ import annotations

import json
import math
import re
import sys
from pathlib import Path
from typing import Any

import torch

from livevis.errors import LivevisError
from livevis.models.clip import ClipSpace, small_clip_config
from livevis.training import losses
from livevis.training.augment import augment_frames
from livevis.training.clip_spec import RECORD_NAME, save_clip
from livevis.training.data import ClipDataset
from livevis.training.loop import batch_indices, seed_everything, train_loop
from livevis.training.stages import common
from livevis.util.atomic import atomic_open

PRESETS: dict[str, dict[str, Any]] = {
    "tiny": {
        "steps": 30, "batch": 16, "seed": 0, "ckpt_every": 10, "fixed_batch": False,
        "model": {"embed_dim": 32, "image_size": 32, "width": 64, "layers": 2},
        "lr": 1e-3, "warmup": 5, "weight_decay": 0.1, "betas": [0.9, 0.98], "max_logit_scale": 100.0,
        "prompt_prob": 0.5, "vary_text": 0.5, "distractors": True, "augment": {"flip": True, "translate": 0.0625}, "eval_frames": 4,
    },
    "default": {
        "steps": 6000, "batch": 128, "seed": 0, "ckpt_every": 500, "fixed_batch": False,
        "model": {"embed_dim": 256, "image_size": 64, "width": 192, "layers": 4},
        "lr": 5e-4, "warmup": 200, "weight_decay": 0.1, "betas": [0.9, 0.98], "max_logit_scale": 100.0,
        "prompt_prob": 0.5, "vary_text": 0.5, "distractors": True, "augment": {"flip": True, "translate": 0.0625}, "eval_frames": 4,
    },
}


# Phrases of time, place and light, each in the dataset's captions for some classes only; a reworded
# text takes one whatever its class, so none of them names a class.
CONTEXTS = ("at night", "in the dark", "at dusk", "under a grey sky", "under a red sky", "over dark hills",
            "over still water", "in a deep blue sea", "over wet ground", "under moving clouds", "in the morning",
            "in the distance", "nearby", "outside")
LOUDNESS = ("heavy", "soft", "loud", "distant", "gentle", "strong")


def wording(gen: torch.Generator, name: str, text: str, words: list[str] | None = None) -> str:
    """A rewording of a clip's `text` (caption or class prompt) for class `name`: the text or the class
    named plainly ("rain", "heavy rain"), then with probability 0.7 a context phrase (CONTEXTS), and
    with probability 0.3 one of `words` (any word of the tokenizer's vocabulary) before it."""
    plain = name.replace("_", " ")
    r = torch.rand(5, generator=gen)
    if float(r[0]) < 0.5:
        base = text
    elif float(r[1]) < 0.5:
        base = plain
    else:
        base = f"{LOUDNESS[int(float(r[2]) * len(LOUDNESS)) % len(LOUDNESS)]} {plain}"
    if float(r[3]) < 0.7:
        context = CONTEXTS[int(torch.randint(0, len(CONTEXTS), (1,), generator=gen))]
        base = f"{base} {context}"
    if words and float(r[4]) < 0.3:
        base = f"{words[int(torch.randint(0, len(words), (1,), generator=gen))]} {base}"
    return base


def vocabulary_words(tokenizer, texts: list[str]) -> list[str]:
    """The whole words of a CLIP's BPE vocabulary (open_clip SimpleTokenizer), sorted, without any that
    contains a word (4+ letters) of `texts` (the captions and class names: "rainy" would name a class)."""
    known = {w for t in texts for w in re.findall(r"[a-z]{4,}", t.lower())}
    words = (w[:-4] for w in tokenizer.encoder if w.endswith("</w>"))                # "</w>": a word's end
    words = (w for w in words if w.isalpha() and len(w) >= 3)
    return sorted(w for w in words if not any(k in w for k in known))


def configure(args, config: dict[str, Any]) -> dict[str, Any]:
    if config.get("clip"):
        raise LivevisError("the clip stage trains its own CLIP: --clip is for the audio and video stages")
    if config.get("generator"):
        raise LivevisError("the clip stage uses no generator: drop --generator")
    if config["batch"] < 2:
        raise LivevisError("--batch must be >= 2 (contrastive learning needs negatives)")
    if not 0.0 <= config["prompt_prob"] <= 1.0:
        raise LivevisError("prompt_prob must be in [0, 1]")
    if not 0.0 <= float(config.get("vary_text", 0.0)) <= 1.0:
        raise LivevisError("vary_text must be in [0, 1]")
    small_clip_config(**config["model"])  # unknown keys fail here, before the run folder exists
    return config


def model_config(cfg: dict[str, Any]) -> dict[str, Any]:
    return small_clip_config(**cfg["model"])


def lr_at(step: int, cfg: dict[str, Any]) -> float:
    """Linear warm-up over cfg['warmup'] steps, then cosine decay to 0 at cfg['steps'] (a pure function
    of the step, so resumed runs follow the same schedule)."""
    warm, total = int(cfg["warmup"]), max(1, int(cfg["steps"]))
    if step < warm:
        return cfg["lr"] * (step + 1) / warm
    progress = (step - warm) / max(1, total - warm)
    return cfg["lr"] * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Weight decay on matrices and conv kernels only (not gains, biases, the temperature)."""
    decay = [p for p in model.parameters() if p.requires_grad and p.ndim >= 2]
    rest = [p for p in model.parameters() if p.requires_grad and p.ndim < 2]
    return [{"params": decay, "weight_decay": weight_decay}, {"params": rest, "weight_decay": 0.0}]


def train(args, run, dist) -> Path:
    cfg = run.config
    device = dist.device
    seed_everything(cfg["seed"])
    data = ClipDataset(cfg["data"], "train")
    model_cfg = model_config(cfg)
    clip = ClipSpace.from_config(model_cfg).to(device).train()
    B, seed = int(cfg["batch"]), int(cfg["seed"])
    if B % dist.world:
        raise LivevisError(f"--batch {B} must divide by the {dist.world} processes")
    common.broadcast_parameters([clip.model])
    params = [p for p in clip.model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(param_groups(clip.model, cfg["weight_decay"]), lr=cfg["lr"], betas=tuple(cfg["betas"]))
    max_log = math.log(cfg["max_logit_scale"])
    prompts = [common.prompt_for(c) for c in data.classes]
    vary = float(cfg.get("vary_text", 0.0))
    words = vocabulary_words(clip.tokenizer, [c["caption"] for c in data.clips] + list(data.classes)) \
        if cfg.get("distractors") else None
    offset = common.rank_offset(dist, B)

    def step_fn(step: int) -> dict[str, float]:
        fault = common.fault_at(step)
        s = 0 if cfg["fixed_batch"] else step
        idx = batch_indices(s, B, len(data), seed, dist.rank, dist.world)
        gens = common.sample_generators(seed, s, len(idx), offset)
        frames, texts, labels = [], [], []
        for i, gen in zip(idx, gens):
            item = data[int(i)]
            k = int(torch.randint(0, item["frames"].shape[0], (1,), generator=gen))
            frames.append(item["frames"][k])
            text = prompts[item["label"]] if common.rand_uniform(gen) < cfg["prompt_prob"] else item["caption"]
            if vary and common.rand_uniform(gen) < vary:
                text = wording(gen, data.classes[item["label"]], text, words)
            texts.append(text)
            labels.append(item["label"])
        img = common.frames_to_float(torch.stack(frames))                     # [b, 3, H, W]
        img = augment_frames(img, gens, **cfg["augment"]).to(device)
        for group in opt.param_groups:
            group["lr"] = lr_at(step, cfg)
        v = common.gather(clip.encode_image(img))                              # [B, D] unit norm
        t = common.gather(clip.encode_text(texts))                             # [B, D]
        same_class = losses.same_item(common.gather_objects(labels)).to(device)  # [B, B]
        scale = clip.model.logit_scale.clamp(max=max_log).exp()
        loss = losses.info_nce(v, t, scale, same_class)
        loss = common.optimize(loss, opt, params, fault)
        return {"loss": loss.item(), "temperature": 1.0 / scale.item(), "lr": lr_at(step, cfg)}

    train_loop(run, step_fn=step_fn, total_steps=cfg["steps"], ckpt_every=cfg["ckpt_every"],
               models={"clip": clip.model}, optimizers={"opt": opt})
    common.dump_for_test({"clip": clip.model}, dist.rank)
    clip.eval()
    if not dist.is_main:
        return run.dir / RECORD_NAME
    metrics = evaluate(clip, cfg["data"], int(cfg["eval_frames"]))
    if metrics:
        print("livevis train clip: held-out " + ", ".join(f"{k} {v:.3f}" for k, v in metrics.items()), file=sys.stderr)
    with atomic_open(run.dir / "eval.json", "w") as f:
        json.dump(metrics, f, indent=1)
        f.write("\n")
    save_clip(clip, {"kind": "open_clip_config", "model_cfg": model_cfg}, run.dir)
    return run.dir / RECORD_NAME


@torch.no_grad()
def evaluate(clip: ClipSpace, data: str, frames_per_clip: int = 4) -> dict[str, float]:
    """Zero-shot classification of held-out frames: each frame's nearest class prompt in CLIP space."""
    try:
        val = ClipDataset(data, "val")
    except LivevisError:
        print("livevis train clip: no held-out clips (split 'val'): skipping evaluation", file=sys.stderr)
        return {}
    text = clip.encode_text([common.prompt_for(c) for c in val.classes])        # [K, D]
    correct = total = 0
    for i in range(len(val)):
        item = val[i]
        T = item["frames"].shape[0]
        k = torch.linspace(0, T - 1, min(frames_per_clip, T)).round().long()
        v = clip.encode_image(common.frames_to_float(item["frames"][k]))        # [n, D]
        correct += int(((v @ text.T).argmax(1) == item["label"]).sum())
        total += len(k)
    return {"zero_shot_accuracy": correct / total, "chance_accuracy": 1.0 / len(val.classes),
            "val_frames": float(total)}
