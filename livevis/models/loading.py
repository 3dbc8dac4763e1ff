"""One entry point for generators: NVlabs pickles, rosinality checkpoints and livevis bundles."""

from __future__ import annotations

from pathlib import Path

from torch import nn

from livevis.errors import LivevisError

NVLABS_SUFFIXES = (".pkl",)
ROSINALITY_SUFFIXES = (".pt", ".pth")


def load_generator(path: str | Path) -> nn.Module:
    """Path -> generator in eval mode with .mapping(z, truncation_psi=1.0) -> ws [B, num_ws, w_dim],
    .synthesis(ws) -> img [B, C, H, W] (const noise), .num_ws, .w_dim, .img_resolution.

    .pkl: NVlabs StyleGAN2-ADA / StyleGAN3 pickle (restricted unpickler, 'G_ema');
    .pt / .pth: rosinality stylegan2-pytorch checkpoint; a directory: livevis bundle.
    """
    path = Path(path)
    if path.is_dir():
        from livevis.models.bundle import load_bundle

        return load_bundle(path).generator.eval()
    if not path.is_file():
        raise LivevisError(f"no such file or directory: {path}")
    suffix = path.suffix.lower()
    if suffix in NVLABS_SUFFIXES:
        from livevis.models.nvlabs_pickle import load_nvlabs_pickle

        return load_nvlabs_pickle(path)
    if suffix in ROSINALITY_SUFFIXES:
        from livevis.models.rosinality import load_rosinality

        return load_rosinality(path)
    known = ", ".join(NVLABS_SUFFIXES + ROSINALITY_SUFFIXES)
    raise LivevisError(f"{path}: unknown generator format {suffix or '(no suffix)'!r} (expected {known} or a bundle directory)")
