"""Regenerate the StyleGAN2 golden fixtures from the ORIGINAL NVlabs code (not run in CI).

    python tests/models/make_golden_sg2.py /path/to/NVlabs/stylegan3 [/path/to/rosinality/stylegan2-pytorch]

The checkout is only imported from its own path (the repo never contains NVlabs code). Custom
CUDA ops are never used: everything runs on CPU, where NVlabs falls back to its reference ops.
Writes:
  golden/sg2_<name>.safetensors  seeded G state_dict ("G.<name>"), z, ws, expected images;
                                 metadata "init_kwargs" = the NVlabs Generator kwargs (JSON)
  golden/sg2_nvlabs_names.json   {config: {tensor name: shape}} for real published configurations
and, given a rosinality checkout (its CUDA ops must fall back to their CPU paths):
  golden/sg2_rosinality32.safetensors  rosinality g_ema ("R.<name>"), latent_avg, z, expected image
  golden/sg2_rosinality_names.json     {size: {tensor name: shape}} of rosinality's real Generator
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file

HERE = Path(__file__).parent / "golden"

# Small seeded networks for image parity (a few hundred KB each).
GOLDEN = {
    "skip32": dict(z_dim=32, c_dim=0, w_dim=32, img_resolution=32, img_channels=3, mapping_kwargs=dict(num_layers=2),
                   channel_base=512, channel_max=64, num_fp16_res=2, conv_clamp=256),
    "skip64": dict(z_dim=16, c_dim=0, w_dim=16, img_resolution=64, img_channels=3, mapping_kwargs=dict(num_layers=3),
                   channel_base=512, channel_max=32, num_fp16_res=0, conv_clamp=None),
    "resnet32_cond": dict(z_dim=16, c_dim=4, w_dim=16, img_resolution=32, img_channels=3, mapping_kwargs=dict(num_layers=2),
                          channel_base=512, channel_max=32, conv_clamp=256, architecture="resnet"),
}

# Real configurations whose tensor names/shapes our Generator must reproduce exactly.
NAMES = {
    # StyleGAN2 config F, FFHQ 1024 (stylegan2-ffhq-1024x1024.pkl)
    "config-f-1024": dict(z_dim=512, c_dim=0, w_dim=512, img_resolution=1024, img_channels=3,
                          mapping_kwargs=dict(num_layers=8), channel_base=32768, channel_max=512, num_fp16_res=4, conv_clamp=256),
    # stylegan2-ada-pytorch --cfg=paper256 (e.g. AFHQ / LSUN 256 models)
    "ada-paper256": dict(z_dim=512, c_dim=0, w_dim=512, img_resolution=256, img_channels=3,
                         mapping_kwargs=dict(num_layers=8), channel_base=16384, channel_max=512, num_fp16_res=4, conv_clamp=256),
}


def randomize(G: torch.nn.Module) -> None:
    """NVlabs init leaves biases / noise strengths at zero; give every tensor a real value."""
    with torch.no_grad():
        for name, t in list(G.named_parameters()) + list(G.named_buffers()):
            if "resample_filter" not in name:
                t.copy_(torch.randn_like(t) * (0.5 if "bias" in name or "strength" in name else 1.0))


def main(nvlabs_root: str) -> None:
    sys.path.insert(0, str(Path(nvlabs_root).resolve()))
    from training import networks_stylegan2  # noqa: E402  (the original code, from the given checkout)

    HERE.mkdir(exist_ok=True)
    for name, kwargs in GOLDEN.items():
        torch.manual_seed(1234)
        G = networks_stylegan2.Generator(**kwargs).eval()
        randomize(G)
        z = torch.randn(2, kwargs["z_dim"])
        c = torch.nn.functional.one_hot(torch.tensor([1, 3]), kwargs["c_dim"]).float() if kwargs["c_dim"] else torch.zeros(2, 0)
        tensors = {f"G.{k}": v.contiguous() for k, v in G.state_dict().items()}
        with torch.no_grad():
            ws = G.mapping(z, c, truncation_psi=0.7)
            tensors.update(z=z, c=c, ws=ws)
            tensors["img_const"] = G.synthesis(ws, noise_mode="const", fused_modconv=True)
            tensors["img_none"] = G.synthesis(ws, noise_mode="none", fused_modconv=False)
        save_file(tensors, str(HERE / f"sg2_{name}.safetensors"), metadata={"init_kwargs": json.dumps(kwargs)})
        print("wrote", name, sum(t.numel() for t in tensors.values()) * 4 // 1024, "KiB")

    names = {}
    for name, kwargs in NAMES.items():
        G = networks_stylegan2.Generator(**kwargs)
        names[name] = {"init_kwargs": kwargs, "tensors": {k: list(v.shape) for k, v in G.state_dict().items()}}
    (HERE / "sg2_nvlabs_names.json").write_text(json.dumps(names, sort_keys=True) + "\n")
    print("wrote names for", ", ".join(names))


def main_rosinality(root: str) -> None:
    sys.path.insert(0, str(Path(root).resolve()))
    import model as rosinality  # noqa: E402  (the original code, from the given checkout)

    class Narrow(rosinality.Generator):
        """The original Generator with its fixed 512-channel table shrunk, so the fixture stays small."""

        def __setattr__(self, name, value):
            if name == "channels":
                value = {k: max(8, v // 32) for k, v in value.items()}
            super().__setattr__(name, value)

    torch.manual_seed(4321)
    g = Narrow(32, 32, 3, channel_multiplier=2).eval()
    with torch.no_grad():
        for name, t in list(g.named_parameters()) + list(g.named_buffers()):
            if "kernel" not in name:
                t.copy_(torch.randn_like(t) * 0.5)
        z = torch.randn(2, 32)
        latent_avg = torch.randn(32)
        img, latent = g([z], return_latents=True, randomize_noise=False)
        img_trunc, _ = g([z], truncation=0.5, truncation_latent=latent_avg, randomize_noise=False)
    tensors = {f"R.{k}": v.contiguous() for k, v in g.state_dict().items()}
    tensors.update(z=z, latent_avg=latent_avg, ws=latent, img=img, img_trunc=img_trunc)
    save_file(tensors, str(HERE / "sg2_rosinality32.safetensors"))
    names = {}
    for size in (256, 1024):
        names[str(size)] = {k: list(v.shape) for k, v in rosinality.Generator(size, 512, 8, channel_multiplier=2).state_dict().items()}
    (HERE / "sg2_rosinality_names.json").write_text(json.dumps(names, sort_keys=True) + "\n")
    print("wrote rosinality fixtures")


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    main(sys.argv[1])
    if len(sys.argv) == 3:
        main_rosinality(sys.argv[2])
