"""`--clip SPEC`: which frozen CLIP a stage aligns to, how it is recorded, and how it is saved.

    MODEL:PRETRAINED     open_clip architecture + pretrained tag (downloaded on first use, e.g.
                         ViT-B-32:openai) or a local weights file (works offline)
    MODEL                open_clip architecture, randomly initialised (smoke runs only)
    bundle:PATH | PATH   the CLIP of a livevis bundle, or of a folder holding clip.json (+ clip.safetensors),
                         which is what an `audio` run writes: so a CLIP trained by livevis can be used
    tiny[:SEED]          a tiny random open_clip (livevis.models.clip.tiny_clip_config) for tests and CI

The record (`clip.json`, and a bundle's "clip" block) is {"kind": "open_clip_pretrained", "name",
"pretrained"} for a named tag, else {"kind": "open_clip_config", "model_cfg": {...}} with the
weights saved beside it in clip.safetensors (open_clip's key names).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from livevis.errors import LivevisError
from livevis.models.download import file_sha256
from livevis.util.atomic import atomic_open, atomic_path

RECORD_NAME = "clip.json"
WEIGHTS_NAME = "clip.safetensors"
TINY_EMBED, TINY_IMAGE = 64, 32


@dataclass(frozen=True)
class ClipSource:
    kind: str                      # "open_clip" | "folder" | "tiny"
    name: str = ""                 # open_clip architecture (open_clip)
    pretrained: str | None = None  # tag or local file (open_clip)
    path: str = ""                 # folder (folder)
    seed: int = 0                  # init seed (tiny)


def parse_clip(text: str) -> ClipSource:
    """Parse a --clip value (see the module docstring) without loading anything."""
    text = (text or "").strip()
    if not text:
        raise LivevisError("--clip is empty (e.g. ViT-B-32:openai, bundle:PATH, tiny)")
    head, sep, rest = text.partition(":")
    if head == "tiny":
        try:
            return ClipSource("tiny", seed=int(rest) if sep else 0)
        except ValueError:
            raise LivevisError(f"--clip tiny:SEED needs an integer seed, got {rest!r}") from None
    if head == "bundle":
        if not rest:
            raise LivevisError("--clip bundle:PATH needs a path")
        return ClipSource("folder", path=rest)
    if Path(text).is_dir():
        return ClipSource("folder", path=text)
    return ClipSource("open_clip", name=head, pretrained=rest or None)


def load_clip(text: str, device: str | torch.device = "cpu"):
    """--clip value -> (ClipSpace frozen in eval mode on device, record dict, provenance dict)."""
    from livevis.models.clip import ClipSpace, tiny_clip_config

    src = parse_clip(text)
    provenance: dict[str, Any] = {"clip": text}
    if src.kind == "tiny":
        cfg = tiny_clip_config(embed_dim=TINY_EMBED, image_size=TINY_IMAGE)
        with torch.random.fork_rng(devices=[]):  # a fixed init that leaves the run's RNG alone
            torch.manual_seed(src.seed)
            clip = ClipSpace.from_config(cfg)
        record = {"kind": "open_clip_config", "model_cfg": cfg}
    elif src.kind == "open_clip":
        if src.pretrained is None:
            print(f"livevis: warning: CLIP {src.name} without pretrained weights is random (smoke runs only)")
        clip = ClipSpace.from_open_clip(src.name, src.pretrained)
        local = src.pretrained is not None and Path(src.pretrained).is_file()
        if local:
            provenance["clip_sha256"] = file_sha256(Path(src.pretrained))
        if src.pretrained is not None and not local:
            record = {"kind": "open_clip_pretrained", "name": src.name, "pretrained": src.pretrained}
        else:  # a local file or random weights travel with the run / bundle
            record = {"kind": "open_clip_config", "model_cfg": copy.deepcopy(clip.model_cfg)}
    else:
        clip, record, digest = _load_folder(Path(src.path))
        provenance["clip_sha256"] = digest
    clip = clip.to(device).eval().requires_grad_(False)
    return clip, record, provenance


def _load_folder(path: Path):
    from safetensors.torch import load_file

    from livevis.models.clip import ClipSpace

    if (path / RECORD_NAME).is_file():
        try:
            record = json.loads((path / RECORD_NAME).read_text())
        except (OSError, ValueError) as exc:
            raise LivevisError(f"{path / RECORD_NAME}: unreadable ({exc})") from None
        if not isinstance(record, dict):
            raise LivevisError(f"{path / RECORD_NAME}: expected a JSON object")
        if record.get("kind") == "open_clip_pretrained":
            return ClipSpace.from_open_clip(record["name"], record["pretrained"]), record, None
        if record.get("kind") != "open_clip_config" or not isinstance(record.get("model_cfg"), dict):
            raise LivevisError(f"{path / RECORD_NAME}: needs kind open_clip_config with model_cfg, or open_clip_pretrained")
        weights = path / WEIGHTS_NAME
        if not weights.is_file():
            raise LivevisError(f"{weights}: missing (the CLIP weights that go with {RECORD_NAME})")
        try:
            state = load_file(str(weights))
        except Exception as exc:  # safetensors raises its own types for damaged files
            raise LivevisError(f"{weights}: corrupt safetensors ({exc})") from None
        return ClipSpace.from_config(record["model_cfg"], state), record, file_sha256(weights)
    if (path / "config.json").is_file():
        from livevis.models.bundle import bundle_sha256, load_bundle

        bundle = load_bundle(path)
        if bundle.clip is None:
            raise LivevisError(f"bundle {path} has no CLIP part")
        record = dict(bundle.config["clip"])
        if record["kind"] == "open_clip_config":
            record = {"kind": "open_clip_config", "model_cfg": copy.deepcopy(bundle.clip.model_cfg)}
        return bundle.clip, record, bundle_sha256(path)
    raise LivevisError(f"--clip {path}: neither a bundle nor a folder with {RECORD_NAME}")


def save_clip(clip, record: dict[str, Any], folder: str | Path) -> None:
    """Write clip.json (+ clip.safetensors for open_clip_config) into `folder`, each file atomically."""
    from safetensors.torch import save_file

    folder = Path(folder)
    if record["kind"] == "open_clip_config":
        tensors = {k: v.detach().cpu().contiguous().clone() for k, v in clip.model.state_dict().items()}
        with atomic_path(folder / WEIGHTS_NAME) as tmp:
            save_file(tensors, str(tmp), metadata={"format": "pt"})
    with atomic_open(folder / RECORD_NAME, "w") as f:
        json.dump(record, f, indent=1)
        f.write("\n")


def bundle_clip_spec(record: dict[str, Any]) -> dict[str, Any] | None:
    """The bundle's "clip" block for a record (None = open_clip_config, filled in by save_bundle)."""
    return dict(record) if record["kind"] == "open_clip_pretrained" else None
