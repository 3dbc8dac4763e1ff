"""Turn what a user typed after `--model` into a path: "default", a registry name, or a path."""

from __future__ import annotations

import importlib.resources
from pathlib import Path

from livevis.errors import LivevisError
from livevis.paths import cache_dir

DEFAULT_NAME = "default"


def default_bundle_path() -> Path:
    """The default bundle shipped inside the package (livevis/data/default, made by scripts/make_default_bundle.sh)."""
    path = Path(str(importlib.resources.files("livevis") / "data" / "default"))
    if not (path / "config.json").is_file():
        raise LivevisError(f"the embedded default bundle is missing from this installation ({path})")
    return path


def bundles_dir() -> Path:
    return cache_dir("bundles")


def cached_bundle_path(name: str) -> Path:
    return bundles_dir() / name


def resolve_model(name_or_path: str | Path | None) -> Path:
    """None / "default" -> the embedded bundle; a registry name -> its bundle in the cache
    (downloaded and converted on first use); an existing path -> itself. Otherwise LivevisError."""
    from livevis.models import registry

    if name_or_path is None or str(name_or_path) == DEFAULT_NAME:
        return default_bundle_path()
    text = str(name_or_path)
    path = Path(text).expanduser()
    if path.exists():
        return path
    if text in registry.REGISTRY:
        return ensure_registry_bundle(registry.REGISTRY[text])
    if "/" in text or "\\" in text or path.suffix in (".pkl", ".pt", ".bundle", ".json"):
        raise LivevisError(f"no such file or directory: {text}")
    raise LivevisError(f"unknown model {text!r} (known: {DEFAULT_NAME}, {', '.join(registry.REGISTRY)})")


def ensure_registry_bundle(entry, progress: bool = True) -> Path:
    """The cached generator-only bundle for a registry entry, downloading and converting it if needed."""
    from livevis.models.bundle import read_config
    from livevis.models.download import fetch, read_pins, unpin

    if not entry.is_generator:
        raise LivevisError(f"{entry.name} is a CLIP model, not a generator; use it as a bundle's clip part")
    target = cached_bundle_path(entry.name)
    if (target / "config.json").is_file():
        read_config(target)
        return target
    was_pinned = entry.url in read_pins()
    source = fetch(entry, progress=progress)
    try:
        return import_generator(
            source,
            target,
            name=entry.name,
            description=entry.description,
            extra_provenance={"source_url": entry.url, "licence": entry.licence},
        )
    except LivevisError as exc:
        # Don't keep (or trust) a file we cannot use: the next attempt downloads afresh.
        source.unlink(missing_ok=True)
        if not was_pinned:
            unpin(entry.url)
        raise LivevisError(f"downloaded {entry.name} but cannot convert it ({exc}); the download was removed") from None


def import_generator(
    source: str | Path,
    out: str | Path,
    *,
    name: str | None = None,
    description: str | None = None,
    weights_dtype=None,
    extra_provenance: dict | None = None,
) -> Path:
    """Convert a foreign generator checkpoint (NVlabs .pkl, rosinality .pt) into a generator-only bundle."""
    import torch

    from livevis.models.bundle import Bundle, save_bundle
    from livevis.models.download import file_sha256
    from livevis.models.loading import load_generator

    source = Path(source)
    if source.is_dir():
        raise LivevisError(f"{source} is a directory; import takes an NVlabs .pkl or a rosinality .pt file")
    if not source.is_file():
        raise LivevisError(f"no such file: {source}")
    generator = load_generator(source)
    provenance = {
        "inputs": {source.name: file_sha256(source)},
        "recipe": f"livevis models import {source.name}",
        "stand_in": False,
        **(extra_provenance or {}),
    }
    bundle = Bundle.new(
        generator,
        name=name or source.stem,
        description=description or f"generator imported from {source.name}",
        provenance=provenance,
    )
    return save_bundle(bundle, out, weights_dtype=weights_dtype or torch.float32)
