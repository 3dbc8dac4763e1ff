"""text-sound: the text-to-sound Transformer (livevis.models.text_sound) over a sound tokenizer's codes.

`--tokens RUN` names a finished sound-tokens run; every training clip is tokenized once (its whole
log-mel), and each step teaches the Transformer the token sequence of a clip (a random crop when the
clip is longer than the context) given the frozen CLIP text embedding of a wording of that clip's
class: the clip's caption or one of TEMPLATES filled with the class name ("the sound of rain",
"heavy rain at night", ...), so prompts other than the captions land near their class. With
probability model.cond_drop the condition is dropped (classifier-free guidance).

Use the CLIP of the bundle the model will live in (`--clip bundle:BUNDLE`): `generate` embeds the
prompt with the bundle's CLIP. `--bundle BUNDLE` (optional) writes the tokenizer and this model into
that bundle at the end, atomically (the bundle is rewritten whole); its CLIP and audio front end must
be the ones the run used.

Output in the run folder: text_sound.safetensors + text_sound.json (architecture, tokens run, eval)
and the CLIP (clip.json [+ clip.safetensors]).
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from livevis.errors import LivevisError
from livevis.models import factory
from livevis.models.text_sound import TEMPLATES, wording
from livevis.training.clip_spec import load_clip, save_clip
from livevis.training.data import ClipDataset
from livevis.training.loop import batch_indices, seed_everything, train_loop
from livevis.training.stages import common
from livevis.training.stages.audio import FrozenEmbeddings
from livevis.training.stages.sound_tokens import clip_mel, load_tokenizer
from livevis.util.atomic import atomic_open, atomic_path

WEIGHTS = "text_sound.safetensors"
RECORD = "text_sound.json"


def _preset(name: str) -> dict[str, Any]:
    return factory.load_preset(f"text_sound-{name}")[1]


PRESETS: dict[str, dict[str, Any]] = {
    "tiny": {"steps": 150, "batch": 16, "seed": 0, "ckpt_every": 50, "lr": 3e-3, "clip": "tiny", "tokens": None,
             "fixed_batch": False, "vary_text": True, "model": _preset("tiny")},
    "default": {"steps": 20000, "batch": 64, "seed": 0, "ckpt_every": 1000, "lr": 5e-4, "clip": "ViT-B-32:openai",
                "tokens": None, "fixed_batch": False, "vary_text": True, "model": _preset("default")},
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tokens", required=True, metavar="RUN_TOKENS", help="a finished `livevis train sound-tokens` run")
    parser.add_argument("--bundle", default=None, metavar="BUNDLE",
                        help="write the tokenizer and the trained model into this bundle at the end (atomically)")


def configure(args, config: dict[str, Any]) -> dict[str, Any]:
    config["tokens"] = str(Path(args.tokens))
    if getattr(args, "bundle", None) and args.clip is None:
        config["clip"] = f"bundle:{args.bundle}"  # the CLIP `generate` will read prompts with
    return config


@torch.no_grad()
def tokenize_clips(tokenizer, dataset: ClipDataset, fe, device) -> torch.Tensor:
    """Every clip's whole log-mel -> codes [clips, L]."""
    return torch.cat([tokenizer.tokenize(clip_mel(dataset[i]["audio"], fe)[None].to(device)).cpu()
                      for i in range(len(dataset))])


def train(args, run, dist) -> Path:
    cfg = run.config
    device = dist.device
    seed_everything(cfg["seed"])
    train_set = ClipDataset(cfg["data"], "train")
    tokenizer, fe, tok_record = load_tokenizer(cfg["tokens"], device)
    if fe.sample_rate != train_set.sample_rate:
        raise LivevisError(f"the dataset's audio is {train_set.sample_rate} Hz but the tokenizer's front end expects {fe.sample_rate} Hz")
    clip, record, clip_prov = load_clip(cfg["clip"], device)
    model_cfg = copy.deepcopy(cfg["model"])
    model_cfg.update(vocab=tokenizer.config.codebook_size, text_dim=clip.embed_dim)
    model_cfg = factory.config_class("text_sound").from_dict(model_cfg).to_dict()
    model = factory.build("text_sound", model_cfg).to(device)
    common.broadcast_parameters([model])
    opt = torch.optim.AdamW(model.parameters(), lr=cfg["lr"], betas=(0.9, 0.95), weight_decay=0.01)
    codes = tokenize_clips(tokenizer, train_set, fe, device)                  # [N, L]
    ctx = model_cfg["max_len"] - 1
    seq = min(codes.shape[1], ctx)
    names = [train_set.classes[int(c["label"])] for c in train_set.clips]
    texts = FrozenEmbeddings(clip)
    B, seed = cfg["batch"], cfg["seed"]
    if B % dist.world:
        raise LivevisError(f"--batch {B} must divide by the {dist.world} processes")
    offset = common.rank_offset(dist, B)

    def step_fn(step: int) -> dict[str, float]:
        fault = common.fault_at(step)
        s = 0 if cfg["fixed_batch"] else step
        idx = batch_indices(s, B, len(train_set), seed, dist.rank, dist.world)
        gens = common.sample_generators(seed, s, len(idx), offset)
        rows, embs, drop = [], [], []
        for i, gen in zip(idx, gens):
            i = int(i)
            start = int(torch.randint(0, codes.shape[1] - seq + 1, (1,), generator=gen))
            rows.append(codes[i, start:start + seq])
            caption = train_set.clips[i]["caption"]
            t = TEMPLATES[int(torch.randint(0, len(TEMPLATES), (1,), generator=gen))] if cfg["vary_text"] else "{caption}"
            embs.append(texts.text(wording(t, names[i], caption)))
            drop.append(common.rand_uniform(gen) < model_cfg["cond_drop"])
        tokens = torch.stack(rows).to(device)                                # [b, seq]
        logits = model(torch.stack(embs).to(device), tokens, torch.tensor(drop, device=device))  # [b, seq, V]
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tokens.reshape(-1))
        loss = common.optimize(loss, opt, list(model.parameters()), fault)
        acc = float((logits.argmax(-1) == tokens).float().mean())
        return {"loss": loss.item(), "token_accuracy": acc}

    train_loop(run, step_fn=step_fn, total_steps=cfg["steps"], ckpt_every=cfg["ckpt_every"],
               models={"text_sound": model}, optimizers={"opt": opt})
    common.dump_for_test({"text_sound": model}, dist.rank)
    if not dist.is_main:
        return run.dir / WEIGHTS
    model.eval()
    metrics = evaluate(model, tokenizer, texts, cfg["data"], fe, device)
    if metrics:
        print("livevis train text-sound: held-out " + ", ".join(f"{k} {v:.3f}" for k, v in metrics.items()), file=sys.stderr)
    provenance = {"data_sha256": common.dataset_sha256(cfg["data"]), **clip_prov, "tokens": cfg["tokens"],
                  "recipe": f"livevis train text-sound (preset {cfg['preset']})", "command": " ".join(sys.argv)}
    product = save_model(run.dir, model, model_cfg, clip, record, metrics, provenance)
    bundle = getattr(args, "bundle", None)
    if bundle:
        product = attach_to_bundle(bundle, tokenizer, fe, model, clip, record, provenance)
        print(f"livevis train text-sound: attached the sound tokenizer and the text-to-sound model to {bundle}", file=sys.stderr)
    return product


def save_model(folder: Path, model, model_cfg, clip, record, metrics, provenance) -> Path:
    from safetensors.torch import save_file

    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    with atomic_path(folder / WEIGHTS) as tmp:
        save_file(tensors, str(tmp), metadata={"format": "pt"})
    save_clip(clip, record, folder)
    doc = {"arch": "text_sound", "config": model_cfg, "clip": {"kind": record["kind"]}, "eval": metrics, "provenance": provenance}
    with atomic_open(folder / RECORD, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    return folder / WEIGHTS


@torch.no_grad()
def evaluate(model, tokenizer, texts: FrozenEmbeddings, data: str, fe, device) -> dict[str, float]:
    """Held-out next-token cross-entropy and accuracy with each val clip's caption."""
    try:
        val = ClipDataset(data, "val")
    except LivevisError:
        return {}
    codes = tokenize_clips(tokenizer, val, fe, device)[:, : model.config.max_len - 1].to(device)
    emb = torch.stack([texts.text(c["caption"]) for c in val.clips]).to(device)
    logits = model(emb, codes)
    ce = float(F.cross_entropy(logits.reshape(-1, logits.shape[-1]), codes.reshape(-1)))
    return {"val_cross_entropy": ce, "val_token_accuracy": float((logits.argmax(-1) == codes).float().mean()),
            "chance_cross_entropy": float(torch.log(torch.tensor(float(model.config.vocab)))), "val_clips": float(len(val))}


def _same_clip(bundle_clip, bundle_record: dict[str, Any], clip, record: dict[str, Any]) -> bool:
    if record["kind"] == "open_clip_pretrained" or bundle_record.get("kind") == "open_clip_pretrained":
        return {k: record.get(k) for k in ("kind", "name", "pretrained")} == \
               {k: bundle_record.get(k) for k in ("kind", "name", "pretrained")}
    a, b = bundle_clip.model.state_dict(), clip.model.state_dict()
    return a.keys() == b.keys() and all(a[k].shape == b[k].shape and torch.equal(a[k].float().cpu(), b[k].float().cpu()) for k in a)


def attach_to_bundle(path: str | Path, tokenizer, fe, model, clip, record, provenance) -> Path:
    """Rewrite bundle `path` with the sound tokenizer and text-to-sound model added (atomically)."""
    from livevis.models.bundle import _DTYPES, load_bundle, save_bundle

    bundle = load_bundle(path)
    if bundle.clip is None or not _same_clip(bundle.clip, bundle.config.get("clip", {}), clip, record):
        raise LivevisError(f"--bundle {path}: its CLIP is not the one this run used (train with --clip bundle:{path})")
    if bundle.audio != fe:
        raise LivevisError(f"--bundle {path}: its audio front end differs from the sound tokenizer's")
    bundle.sound_tokenizer = copy.deepcopy(tokenizer).cpu().eval()
    bundle.text_sound = copy.deepcopy(model).cpu().eval()
    bundle.config.setdefault("provenance", {})["text_sound"] = {k: v for k, v in provenance.items() if k != "command"}
    return save_bundle(bundle, path, weights_dtype=_DTYPES[bundle.config.get("weights_dtype", "float32")])
