"""Model definitions: generators (StyleGAN2/3), sound encoder, recurrent blocks, discriminators, bundles."""

from typing import Any

__all__ = ["load_generator"]


def __getattr__(name: str) -> Any:
    # Lazy, so that importing livevis.models (e.g. for configs) does not import torch-heavy modules.
    if name == "load_generator":
        from livevis.models.loading import load_generator

        return load_generator
    raise AttributeError(f"module 'livevis.models' has no attribute {name!r}")
