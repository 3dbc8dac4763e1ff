"""Pretrained weights livevis knows by name: public NVlabs generator pickles and the CLIP it uses.

URLs are exactly as published in NVlabs' READMEs (NVlabs/stylegan3 "Additional material",
NVlabs/stylegan2-ada-pytorch "Data repository"). Class-conditional pickles (cifar10) are left out:
livevis generators are unconditional.

Hashes: NVIDIA publishes no checksums for these files, so `sha256` is None for them and downloads
use trust-on-first-use (livevis.models.download.fetch): the first download's sha256 is pinned in
the cache with a printed warning, and every later download of that URL must match the pin. This
detects a file that changes or is tampered with after your first download, not one that was already
bad then. An entry with a published sha256 is always verified against it.

CLIP entries name open_clip's own pretrained registry (model name + tag); open_clip downloads and
verifies those itself.
"""

from __future__ import annotations

import dataclasses

from livevis.errors import LivevisError

FORMATS = ("nvlabs-pkl", "rosinality-pt", "open_clip")

_NVIDIA_SCL = "NVIDIA Source Code License (non-commercial)"
_SG3 = "https://api.ngc.nvidia.com/v2/models/nvidia/research/stylegan3/versions/1/files/"
_SG2 = "https://api.ngc.nvidia.com/v2/models/nvidia/research/stylegan2/versions/1/files/"
_ADA = "https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/"


@dataclasses.dataclass(frozen=True)
class RegistryEntry:
    name: str  # what users type: `livevis models download NAME`, `--model NAME`
    format: str  # one of FORMATS
    url: str | None  # direct download; None for open_clip entries
    sha256: str | None  # published hash, or None (trust on first use, see module docstring)
    licence: str  # short licence note; read the full text before using the weights
    resolution: int | None  # output image size (None for CLIP)
    description: str
    open_clip_name: str | None = None  # open_clip model name (format "open_clip")
    open_clip_tag: str | None = None  # open_clip pretrained tag (format "open_clip")

    def __post_init__(self):
        if self.format not in FORMATS:
            raise ValueError(f"{self.name}: unknown format {self.format!r}")
        if (self.format == "open_clip") != (self.url is None):
            raise ValueError(f"{self.name}: open_clip entries have no url, others need one")

    @property
    def filename(self) -> str:
        """File name in the download cache."""
        if self.url is None:
            raise LivevisError(f"{self.name} is an open_clip model; open_clip manages its own files")
        return self.url.rsplit("/", 1)[-1]

    @property
    def is_generator(self) -> bool:
        return self.format in ("nvlabs-pkl", "rosinality-pt")


def _sg3(cfg: str, data: str, res: int, what: str) -> RegistryEntry:
    name = f"stylegan3-{cfg}-{data}-{res}x{res}"
    kind = "translation equivariant (config T)" if cfg == "t" else "translation and rotation equivariant (config R)"
    return RegistryEntry(name, "nvlabs-pkl", f"{_SG3}{name}.pkl", None, _NVIDIA_SCL, res, f"StyleGAN3 {kind}, {what}")


def _sg2(data: str, res: int, what: str) -> RegistryEntry:
    name = f"stylegan2-{data}-{res}x{res}"
    return RegistryEntry(name, "nvlabs-pkl", f"{_SG2}{name}.pkl", None, _NVIDIA_SCL, res, f"StyleGAN2 (config F), {what}")


def _ada(stem: str, res: int, what: str) -> RegistryEntry:
    return RegistryEntry(f"stylegan2-ada-{stem}", "nvlabs-pkl", f"{_ADA}{stem}.pkl", None, _NVIDIA_SCL, res, f"StyleGAN2-ADA, {what}")


_ENTRIES = [
    # NVlabs/stylegan3 README: StyleGAN3 pre-trained models.
    _sg3("t", "ffhq", 1024, "FFHQ faces"),
    _sg3("t", "ffhqu", 1024, "FFHQ-U faces (unaligned)"),
    _sg3("t", "ffhqu", 256, "FFHQ-U faces (unaligned); the paper's LHQ model used this config"),
    _sg3("r", "ffhq", 1024, "FFHQ faces"),
    _sg3("r", "ffhqu", 1024, "FFHQ-U faces (unaligned)"),
    _sg3("r", "ffhqu", 256, "FFHQ-U faces (unaligned)"),
    _sg3("t", "metfaces", 1024, "MetFaces portraits"),
    _sg3("t", "metfacesu", 1024, "MetFaces-U portraits (unaligned)"),
    _sg3("r", "metfaces", 1024, "MetFaces portraits"),
    _sg3("r", "metfacesu", 1024, "MetFaces-U portraits (unaligned)"),
    _sg3("t", "afhqv2", 512, "AFHQv2 animal faces"),
    _sg3("r", "afhqv2", 512, "AFHQv2 animal faces"),
    # NVlabs/stylegan3 README: StyleGAN2 pre-trained models compatible with that codebase.
    _sg2("ffhq", 1024, "FFHQ faces"),
    _sg2("ffhq", 512, "FFHQ faces"),
    _sg2("ffhq", 256, "FFHQ faces"),
    _sg2("ffhqu", 1024, "FFHQ-U faces (unaligned)"),
    _sg2("ffhqu", 256, "FFHQ-U faces (unaligned)"),
    _sg2("metfaces", 1024, "MetFaces portraits"),
    _sg2("metfacesu", 1024, "MetFaces-U portraits (unaligned)"),
    _sg2("afhqv2", 512, "AFHQv2 animal faces"),
    _sg2("afhqcat", 512, "AFHQ cats"),
    _sg2("afhqdog", 512, "AFHQ dogs"),
    _sg2("afhqwild", 512, "AFHQ wild animals"),
    _sg2("brecahad", 512, "BreCaHAD histology"),
    _sg2("celebahq", 256, "CelebA-HQ faces"),
    _sg2("lsundog", 256, "LSUN dogs"),
    # NVlabs/stylegan2-ada-pytorch README: "Data repository / pretrained".
    _ada("ffhq", 1024, "FFHQ faces (original StyleGAN2 training)"),
    _ada("metfaces", 1024, "MetFaces, transfer learning from FFHQ with ADA"),
    _ada("afhqcat", 512, "AFHQ cats, trained from scratch with ADA"),
    _ada("afhqdog", 512, "AFHQ dogs, trained from scratch with ADA"),
    _ada("afhqwild", 512, "AFHQ wild animals, trained from scratch with ADA"),
    _ada("brecahad", 512, "BreCaHAD histology, trained from scratch with ADA"),
    # open_clip's pretrained registry: the CLIP space of the sound encoder and --prompt.
    RegistryEntry(
        "clip-vit-b-32-openai",
        "open_clip",
        None,
        None,
        "MIT (OpenAI CLIP weights; see github.com/openai/CLIP)",
        None,
        "OpenAI CLIP ViT-B/32 via open_clip: text/image space for sound embeddings and --prompt",
        open_clip_name="ViT-B-32",
        open_clip_tag="openai",
    ),
]

REGISTRY: dict[str, RegistryEntry] = {e.name: e for e in _ENTRIES}


def names() -> list[str]:
    return list(REGISTRY)


def get(name: str) -> RegistryEntry:
    try:
        return REGISTRY[name]
    except KeyError:
        raise LivevisError(f"unknown model {name!r} (known: default, {', '.join(REGISTRY)})") from None
