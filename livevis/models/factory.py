"""One factory for every architecture: name -> (module, config class, model class).

Modules are imported on first use so that, e.g., loading a sound encoder never imports StyleGAN3.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import torch

from livevis.errors import LivevisError
from livevis.models.config import StrictConfig

ARCHITECTURES: dict[str, tuple[str, str, str]] = {
    "stylegan2": ("livevis.models.stylegan2", "StyleGAN2Config", "Generator"),
    "stylegan3": ("livevis.models.stylegan3", "StyleGAN3Config", "Generator"),
    "sound_encoder": ("livevis.models.sound_encoder", "SoundEncoderConfig", "SoundEncoder"),
    "recurrent": ("livevis.models.recurrent", "RecurrentConfig", "RecurrentBlocks"),
    "image_discriminator": ("livevis.models.discriminators", "ImageDiscriminatorConfig", "ImageDiscriminator"),
    "video_discriminator": ("livevis.models.discriminators", "VideoDiscriminatorConfig", "VideoDiscriminator"),
    "upscaler": ("livevis.models.upscaler", "UpscalerConfig", "Upscaler"),
    "sound_tokenizer": ("livevis.models.sound_tokenizer", "SoundTokenizerConfig", "SoundTokenizer"),
    "text_sound": ("livevis.models.text_sound", "TextSoundConfig", "TextSound"),
    "sound_classes": ("livevis.models.sound_classes", "SoundClassesConfig", "SoundClasses"),
}

PRESET_DIR = Path(__file__).parent / "configs"


def _lookup(arch: str) -> tuple[type[StrictConfig], type[torch.nn.Module]]:
    try:
        module_name, config_name, model_name = ARCHITECTURES[arch]
    except KeyError:
        raise LivevisError(f"unknown architecture {arch!r} (known: {', '.join(ARCHITECTURES)})") from None
    module = importlib.import_module(module_name)
    return getattr(module, config_name), getattr(module, model_name)


def config_class(arch: str) -> type[StrictConfig]:
    return _lookup(arch)[0]


def build(arch: str, config: StrictConfig | dict[str, Any]) -> torch.nn.Module:
    """Build architecture `arch` from its config (dataclass or plain dict, validated)."""
    config_cls, model_cls = _lookup(arch)
    if isinstance(config, dict):
        config = config_cls.from_dict(config)
    elif not isinstance(config, config_cls):
        raise LivevisError(f"{arch}: expected {config_cls.__name__}, got {type(config).__name__}")
    return model_cls(config)


def load_preset(name: str) -> tuple[str, dict[str, Any]]:
    """Named preset `configs/NAME.json` -> (arch, config dict). Presets look like {"arch": .., "config": {..}}."""
    path = PRESET_DIR / f"{name}.json"
    if not path.is_file():
        known = sorted(p.stem for p in PRESET_DIR.glob("*.json"))
        raise LivevisError(f"unknown preset {name!r} (known: {', '.join(known) or 'none'})")
    doc = json.loads(path.read_text())
    return doc["arch"], doc["config"]
