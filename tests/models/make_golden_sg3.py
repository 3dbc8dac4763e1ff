"""Regenerate the StyleGAN3 golden fixtures from the ORIGINAL NVlabs code (not run in CI).

    python tests/models/make_golden_sg3.py /path/to/NVlabs/stylegan3

The checkout is only imported from its own path (the repo never contains NVlabs code). Custom CUDA
ops are never used: everything runs on CPU, where NVlabs falls back to its reference ops.
Writes:
  golden/sg3_<name>.safetensors  seeded G_ema-like state_dict ("G.<name>", incl. filters, freqs,
                                 phases, user transform), z (and c), ws_mapped (mapping output with
                                 the truncation in the metadata), ws (perturbed per layer), img;
                                 metadata "init_kwargs" (JSON), "truncation_psi", "truncation_cutoff"
  golden/sg3_nvlabs_names.json   {config: {"init_kwargs": .., "tensors": [[name, shape], ..]}} for
                                 real published configurations, in state_dict order
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

from livevis.util.atomic import atomic_open, atomic_path

HERE = Path(__file__).parent / "golden"
TRUNCATION_PSI = 0.7
TRUNCATION_CUTOFF = 4

_T = dict(mapping_kwargs=dict(num_layers=2), magnitude_ema_beta=0.999, num_fp16_res=4)
_R = dict(_T, conv_kernel=1, use_radial_filters=True)

# Small seeded networks for image parity (tens to hundreds of KB each): T and R at three
# resolutions and several channel widths; one conditional with a low clamp and a user transform.
GOLDEN = {
    "t16": dict(_T, z_dim=16, c_dim=0, w_dim=16, img_resolution=16, img_channels=3, channel_base=256, channel_max=16, conv_clamp=256),
    "t32_cond": dict(_T, z_dim=16, c_dim=3, w_dim=16, img_resolution=32, img_channels=3, channel_base=512, channel_max=24, conv_clamp=1.0),
    "t64": dict(_T, z_dim=8, c_dim=0, w_dim=8, img_resolution=64, img_channels=3, channel_base=512, channel_max=16, conv_clamp=256),
    "r16": dict(_R, z_dim=16, c_dim=0, w_dim=16, img_resolution=16, img_channels=3, channel_base=512, channel_max=32, conv_clamp=256),
    "r32": dict(_R, z_dim=16, c_dim=0, w_dim=16, img_resolution=32, img_channels=3, channel_base=1024, channel_max=32, conv_clamp=None),
    "r64": dict(_R, z_dim=8, c_dim=0, w_dim=8, img_resolution=64, img_channels=3, channel_base=1024, channel_max=24, conv_clamp=256),
}
USER_TRANSFORM = {"t32_cond": (12.0, (0.1, -0.05)), "r32": (-30.0, (0.0, 0.2))}  # degrees, translate

# Real configurations (train.py: T --cbase=16384 for FFHQ-U 256; R doubles cbase/cmax).
NAMES = {
    "stylegan3-t-ffhqu-256x256": dict(_T, z_dim=512, c_dim=0, w_dim=512, img_resolution=256, img_channels=3,
                                      channel_base=16384, channel_max=512, conv_clamp=256, magnitude_ema_beta=0.5 ** (64 / 20000)),
    "stylegan3-r-afhqv2-512x512": dict(_R, z_dim=512, c_dim=0, w_dim=512, img_resolution=512, img_channels=3,
                                       channel_base=65536, channel_max=1024, conv_clamp=256, magnitude_ema_beta=0.5 ** (32 / 20000)),
}


def user_transform(rotate_deg: float, translate: tuple[float, float]) -> torch.Tensor:
    """NVlabs gen_images.make_transform, inverted (what the visualizer writes into input.transform)."""
    s, c = math.sin(math.radians(rotate_deg)), math.cos(math.radians(rotate_deg))
    m = np.array([[c, s, translate[0]], [-s, c, translate[1]], [0, 0, 1]], dtype=np.float64)
    return torch.from_numpy(np.linalg.inv(m)).float()


def randomize(G: torch.nn.Module) -> None:
    """NVlabs init leaves biases, w_avg, magnitude EMAs and the input affine at trivial values."""
    with torch.no_grad():
        for name, t in G.named_buffers():
            if name.endswith("magnitude_ema"):
                t.copy_(torch.rand([]) * 2 + 0.5)
            elif name.endswith("w_avg"):
                t.copy_(torch.randn_like(t))
        for name, p in G.named_parameters():
            if name.endswith("bias"):
                p.add_(torch.randn_like(p) * 0.2)
            elif name == "synthesis.input.affine.weight":
                p.copy_(torch.randn_like(p) * 0.3)


def main(nvlabs_root: str) -> None:
    sys.path.insert(0, str(Path(nvlabs_root).resolve()))
    from training import networks_stylegan3  # noqa: E402  (the original code, from the given checkout)

    HERE.mkdir(exist_ok=True)
    for name, kwargs in GOLDEN.items():
        torch.manual_seed(3)
        G = networks_stylegan3.Generator(**kwargs).eval()
        randomize(G)
        if name in USER_TRANSFORM:
            with torch.no_grad():
                G.synthesis.input.transform.copy_(user_transform(*USER_TRANSFORM[name]))
        z = torch.randn([2, G.z_dim])
        c = torch.randn([2, G.c_dim]) if G.c_dim else None
        with torch.no_grad():
            ws_mapped = G.mapping(z, c, truncation_psi=TRUNCATION_PSI, truncation_cutoff=TRUNCATION_CUTOFF)
            ws = ws_mapped + 0.5 * torch.randn_like(ws_mapped)
            img = G.synthesis(ws, noise_mode="const")
        tensors = {f"G.{k}": v.contiguous() for k, v in G.state_dict().items()}
        tensors.update(z=z, ws_mapped=ws_mapped, ws=ws, img=img)
        if c is not None:
            tensors["c"] = c
        meta = {"init_kwargs": json.dumps(kwargs), "truncation_psi": str(TRUNCATION_PSI),
                "truncation_cutoff": str(TRUNCATION_CUTOFF), "source": "NVlabs/stylegan3 networks_stylegan3, CPU reference ops"}
        with atomic_path(HERE / f"sg3_{name}.safetensors") as tmp:
            save_file(tensors, str(tmp), metadata=meta)
        print(name, tuple(img.shape), f"|img| max {img.abs().max():.3f}")

    names = {}
    for name, kwargs in NAMES.items():
        G = networks_stylegan3.Generator(**kwargs)
        names[name] = {"init_kwargs": kwargs, "tensors": [[k, list(v.shape)] for k, v in G.state_dict().items()]}
        print(name, len(names[name]["tensors"]), "tensors")
    with atomic_open(HERE / "sg3_nvlabs_names.json", "w") as f:
        json.dump(names, f, indent=0)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
