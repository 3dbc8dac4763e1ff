"""A thin wrapper over open_clip: the shared embedding space of images, text and (trained) sound.

ClipSpace takes generator-style images in [-1, 1] of any size and does CLIP's resize + mean/std
normalisation itself, differentiably, so training can backprop CLIP losses into the generator or
encoder. Text goes through open_clip's default tokenizer (its BPE vocabulary ships with the package,
so nothing is downloaded). Both encoders return L2-normalised embeddings.

Two sources:
    ClipSpace.from_open_clip(name, pretrained)  a named open_clip architecture; `pretrained` a tag
                                                (downloads, on users' machines) or a local file
    ClipSpace.from_config(model_cfg, state_dict) an architecture dict (kept as .model_cfg so bundles
                                                can store it) for small CLIPs trained by livevis
"""

from __future__ import annotations

import copy
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from livevis.errors import LivevisError

# OpenAI CLIP preprocessing constants (open_clip's OPENAI_DATASET_MEAN / STD).
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def tiny_clip_config(embed_dim: int = 64, image_size: int = 64) -> dict[str, Any]:
    """A very small random-init CLIP (ViT + text transformer) for tests: builds in well under a second."""
    return {
        "embed_dim": embed_dim,
        "vision_cfg": {"image_size": image_size, "patch_size": max(4, image_size // 8), "width": 64,
                       "layers": 2, "head_width": 32, "mlp_ratio": 2.0},
        "text_cfg": {"context_length": 32, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2,
                     "mlp_ratio": 2.0},
    }


def small_clip_config(embed_dim: int = 256, image_size: int = 64, width: int = 192, layers: int = 4) -> dict[str, Any]:
    """A CLIP small enough to train from scratch on CPU (synthetic landscape frames + class prompts)."""
    return {
        "embed_dim": embed_dim,
        "vision_cfg": {"image_size": image_size, "patch_size": max(4, image_size // 8), "width": width,
                       "layers": layers, "head_width": 64, "mlp_ratio": 4.0},
        "text_cfg": {"context_length": 32, "vocab_size": 49408, "width": width, "heads": max(1, width // 64),
                     "layers": layers, "mlp_ratio": 4.0},
    }


def _check_tokenizer(what: str, model_cfg: dict[str, Any]) -> None:
    """ClipSpace tokenizes with open_clip's built-in BPE; CLIPs trained with a Hugging Face tokenizer
    would get wrong tokens (and fetching theirs needs the network), so refuse them clearly."""
    text_cfg = model_cfg.get("text_cfg") or {}
    if text_cfg.get("hf_tokenizer_name") or text_cfg.get("hf_model_name"):
        raise LivevisError(f"{what} uses a Hugging Face tokenizer/text model; livevis supports CLIPs with "
                           "open_clip's built-in tokenizer (e.g. ViT-B-32, ViT-B-16, RN50)")


class ClipSpace(nn.Module):
    """encode_image(img [B, 3, H, W] in [-1, 1]) / encode_text(list[str]) -> [B, embed_dim], unit norm."""

    def __init__(self, model: nn.Module, model_cfg: dict[str, Any] | None, image_size: int, context_length: int,
                 mean: tuple[float, ...] = CLIP_MEAN, std: tuple[float, ...] = CLIP_STD):
        super().__init__()
        import open_clip

        self.model = model
        self.model_cfg = copy.deepcopy(model_cfg)
        self.image_size = int(image_size)
        self.embed_dim = int(model_cfg["embed_dim"] if model_cfg and "embed_dim" in model_cfg
                             else model.visual.output_dim)
        self.tokenizer = open_clip.SimpleTokenizer(context_length=context_length)
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)

    # -- constructors ------------------------------------------------------------------------------
    @classmethod
    def from_open_clip(cls, name: str, pretrained: str | None = None) -> "ClipSpace":
        """A named open_clip architecture; `pretrained` is a tag (downloaded) or a local weights file."""
        import open_clip

        model_cfg = open_clip.get_model_config(name)
        if model_cfg is None:
            raise LivevisError(f"unknown open_clip model {name!r} (see open_clip.list_models())")
        _check_tokenizer(name, model_cfg)
        try:
            model = open_clip.create_model(name, pretrained=pretrained, weights_only=True)
        except Exception as exc:  # network, missing file, bad checkpoint: all the user's to fix
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise LivevisError(f"cannot load CLIP {name!r} (pretrained={pretrained!r}): {reason}") from None
        if pretrained:
            tag_cfg = open_clip.get_pretrained_cfg(name, pretrained) or {}
            if tag_cfg.get("quick_gelu"):
                model_cfg["quick_gelu"] = True  # the tag switched the activation; keep that in the cfg
        pp = getattr(model.visual, "preprocess_cfg", {}) or {}
        return cls._wrap(model.eval(), model_cfg, mean=tuple(pp.get("mean", CLIP_MEAN)),
                         std=tuple(pp.get("std", CLIP_STD)))

    @classmethod
    def from_config(cls, model_cfg: dict[str, Any], state_dict: dict[str, torch.Tensor] | None = None) -> "ClipSpace":
        """open_clip.CLIP(**model_cfg) (CustomTextCLIP when the cfg says custom_text), optionally loaded
        from `state_dict` (open_clip's own key names)."""
        import open_clip

        if not isinstance(model_cfg, dict):
            raise LivevisError(f"bad CLIP architecture config: expected an object, got {type(model_cfg).__name__}")
        _check_tokenizer("this CLIP", model_cfg)
        kwargs = copy.deepcopy(model_cfg)
        model_cls = open_clip.CustomTextCLIP if kwargs.pop("custom_text", False) else open_clip.CLIP
        try:
            model = model_cls(**kwargs)
        except (TypeError, ValueError, KeyError) as exc:
            raise LivevisError(f"bad CLIP architecture config: {exc}") from None
        if state_dict is not None:
            try:
                missing, unexpected = model.load_state_dict(state_dict, strict=False)
            except RuntimeError as exc:  # shape mismatches raise even when not strict
                first = next((ln.strip() for ln in str(exc).splitlines() if "size mismatch" in ln), str(exc))
                raise LivevisError(f"CLIP weights do not match the architecture: {first}") from None
            if missing or unexpected:
                names = ", ".join((missing + unexpected)[:3])
                raise LivevisError(f"CLIP weights do not match the architecture "
                                   f"({len(missing)} missing, {len(unexpected)} unexpected: {names})")
        return cls._wrap(model.eval(), model_cfg)

    @classmethod
    def _wrap(cls, model: nn.Module, model_cfg: dict[str, Any] | None, **norm: Any) -> "ClipSpace":
        vision_cfg = (model_cfg or {}).get("vision_cfg") or {}
        size = getattr(model.visual, "image_size", None) or vision_cfg.get("image_size")
        if size is None:
            raise LivevisError("cannot tell this CLIP's input image size")
        size = size[0] if isinstance(size, (tuple, list)) else size
        return cls(model, model_cfg, image_size=size, context_length=model.context_length, **norm)

    # -- encoders ----------------------------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        return self.mean.device

    def preprocess(self, img: torch.Tensor) -> torch.Tensor:
        """img [B, 3, H, W] in [-1, 1] -> CLIP input [B, 3, S, S], differentiable.

        As CLIP's own preprocessing: centre square crop, bicubic resize (antialiased when shrinking),
        then the mean/std normalisation.
        """
        if img.ndim != 4 or img.shape[1] != 3:
            raise LivevisError(f"CLIP expects images [B, 3, H, W], got {list(img.shape)}")
        x = (img.float() + 1.0) * 0.5                                  # [B, 3, H, W] in [0, 1]
        H, W = x.shape[-2:]
        if H != W:
            side = min(H, W)
            top, left = (H - side) // 2, (W - side) // 2
            x = x[:, :, top:top + side, left:left + side]              # [B, 3, side, side]
        if tuple(x.shape[-2:]) != (self.image_size, self.image_size):
            x = F.interpolate(x, size=(self.image_size, self.image_size), mode="bicubic",
                              align_corners=False, antialias=x.shape[-1] > self.image_size)
        return (x - self.mean) / self.std                              # [B, 3, S, S]

    def encode_image(self, img: torch.Tensor) -> torch.Tensor:
        """img [B, 3, H, W] in [-1, 1] -> [B, embed_dim], unit norm."""
        out = self.model.encode_image(self.preprocess(img.to(self.device)))
        return F.normalize(out.float(), dim=-1)

    def tokenize(self, texts: list[str]) -> torch.Tensor:
        if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
            raise LivevisError("CLIP encode_text expects a list of strings")
        return self.tokenizer(list(texts)).to(self.device)             # [B, context_length] int64

    def encode_text(self, texts: list[str]) -> torch.Tensor:
        """list of B prompts -> [B, embed_dim], unit norm."""
        out = self.model.encode_text(self.tokenize(texts))
        return F.normalize(out.float(), dim=-1)

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        return self.encode_image(img)
