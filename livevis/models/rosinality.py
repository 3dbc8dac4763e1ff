"""Import rosinality/stylegan2-pytorch checkpoints into our (NVlabs-named) StyleGAN2 Generator.

The two implementations compute the same function; only names and a few layouts differ:
  style.{i+1}                      EqualLinear(lr_mul)         -> mapping.fc{i}      (same scaling)
  input.input [1, C, 4, 4]                                     -> synthesis.b4.const [C, 4, 4]
  conv1 / convs.{2k} / convs.{2k+1}  StyledConv                -> b4.conv1 / b{8*2^k}.conv0 / .conv1
     .conv.weight [1, O, I, 3, 3]                              -> .weight [O, I, 3, 3]
     .conv.modulation (EqualLinear, bias_init 1)               -> .affine
     .noise.weight [1]                                         -> .noise_strength []
     .activate.bias [O] (fused lrelu, gain sqrt 2)             -> .bias [O]
  to_rgb1 / to_rgbs.{k}  ToRGB                                 -> b4.torgb / b{8*2^k}.torgb
     .bias [1, 3, 1, 1]                                        -> .bias [3]
  noises.noise_{j} [1, 1, r, r]                                -> b{r}.conv{0|1}.noise_const [r, r]
  latent_avg [w_dim]                                           -> mapping.w_avg
rosinality scales conv weights by 1/sqrt(fan_in) before demodulation, NVlabs does not: demodulation
cancels that factor, so weights copy unchanged (ToRGB applies the same gain in both). Blur /
up-sampling kernels are buffers derived from [1, 3, 3, 1]; they are checked, not copied.
rosinality has no conv clamp, so the config uses conv_clamp=None.
"""

from __future__ import annotations

import argparse
import math
import re
from pathlib import Path
from typing import Any

import torch

from livevis.errors import LivevisError
from livevis.models.nvlabs_pickle import load_state_strict
from livevis.models.ops.upfirdn2d import setup_filter
from livevis.models.stylegan2 import Generator, StyleGAN2Config

DEFAULT_LR_MLP = 0.01  # rosinality's Generator(lr_mlp=0.01); not stored in checkpoints
W_AVG_SAMPLES = 4096   # latents averaged for w_avg when a checkpoint lacks latent_avg


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise LivevisError(f"no such file: {path}")
    try:
        # train.py checkpoints also hold argparse args; a Namespace only carries plain attributes.
        with torch.serialization.safe_globals([argparse.Namespace]):
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # weights_only refusals, truncated zips, not-a-checkpoint
        raise LivevisError(f"cannot read rosinality checkpoint {path}: {str(exc).splitlines()[0]}") from None
    if not isinstance(ckpt, dict) or not isinstance(ckpt.get("g_ema"), dict):
        keys = ", ".join(map(str, ckpt)) if isinstance(ckpt, dict) else type(ckpt).__name__
        raise LivevisError(f"{path} is not a rosinality stylegan2 checkpoint: no 'g_ema' state dict (has: {keys})")
    return ckpt


def _channels_from_state(sd: dict[str, torch.Tensor]) -> dict[int, int]:
    """Output channels per resolution, read from the conv weights."""
    if "conv1.conv.weight" not in sd:
        raise LivevisError("rosinality checkpoint: g_ema lacks conv1.conv.weight")
    channels = {4: int(sd["conv1.conv.weight"].shape[1])}
    k = 0
    while f"convs.{2 * k}.conv.weight" in sd:
        channels[8 * 2**k] = int(sd[f"convs.{2 * k}.conv.weight"].shape[1])
        k += 1
    return channels


def config_from_rosinality_state(sd: dict[str, torch.Tensor], lr_mlp: float = DEFAULT_LR_MLP) -> StyleGAN2Config:
    """Infer the StyleGAN2Config (size, style_dim, n_mlp, channel widths) from a g_ema state dict."""
    channels = _channels_from_state(sd)
    resolution = max(channels)
    n_mlp = 0
    while f"style.{n_mlp + 1}.weight" in sd:
        n_mlp += 1
    if n_mlp == 0:
        raise LivevisError("rosinality checkpoint: g_ema has no mapping layers (style.1.weight)")
    style_dim = int(sd["style.1.weight"].shape[1])
    # Our channel rule is min(channel_base // r, channel_max): find the pair that reproduces the widths.
    channel_max = max(channels.values())
    channel_base = channels[resolution] * resolution
    if any(min(channel_base // r, channel_max) != c for r, c in channels.items()):
        raise LivevisError(f"rosinality checkpoint: channel widths {channels} do not follow min(base // res, max)")
    img_channels = int(sd["to_rgb1.conv.weight"].shape[1]) if "to_rgb1.conv.weight" in sd else 3
    return StyleGAN2Config(
        z_dim=style_dim, c_dim=0, w_dim=style_dim, img_resolution=resolution, img_channels=img_channels,
        mapping_layers=n_mlp, mapping_lr_multiplier=lr_mlp, channel_base=channel_base, channel_max=channel_max,
        conv_clamp=None, architecture="skip", resample_filter=(1, 3, 3, 1),
    )


def _styled_conv_map(src: str, dst: str) -> dict[str, tuple[str, str]]:
    return {
        f"{src}.conv.weight": (f"{dst}.weight", "squeeze0"),
        f"{src}.conv.modulation.weight": (f"{dst}.affine.weight", "copy"),
        f"{src}.conv.modulation.bias": (f"{dst}.affine.bias", "copy"),
        f"{src}.noise.weight": (f"{dst}.noise_strength", "scalar"),
        f"{src}.activate.bias": (f"{dst}.bias", "copy"),
    }


def _to_rgb_map(src: str, dst: str) -> dict[str, tuple[str, str]]:
    return {
        f"{src}.conv.weight": (f"{dst}.weight", "squeeze0"),
        f"{src}.conv.modulation.weight": (f"{dst}.affine.weight", "copy"),
        f"{src}.conv.modulation.bias": (f"{dst}.affine.bias", "copy"),
        f"{src}.bias": (f"{dst}.bias", "flatten"),
    }


def name_map(resolution: int, n_mlp: int) -> dict[str, tuple[str, str]]:
    """rosinality g_ema name -> (our name, transform). Transforms: copy, squeeze0, scalar, flatten, noise,
    and 'kernel_up' for derived FIR buffers that are checked rather than copied."""
    log_size = int(math.log2(resolution))
    m: dict[str, tuple[str, str]] = {}
    for i in range(n_mlp):
        m[f"style.{i + 1}.weight"] = (f"mapping.fc{i}.weight", "copy")
        m[f"style.{i + 1}.bias"] = (f"mapping.fc{i}.bias", "copy")
    m["input.input"] = ("synthesis.b4.const", "squeeze0")
    m.update(_styled_conv_map("conv1", "synthesis.b4.conv1"))
    m.update(_to_rgb_map("to_rgb1", "synthesis.b4.torgb"))
    m["noises.noise_0"] = ("synthesis.b4.conv1.noise_const", "noise")
    for k, log_res in enumerate(range(3, log_size + 1)):
        block = f"synthesis.b{2**log_res}"
        m.update(_styled_conv_map(f"convs.{2 * k}", f"{block}.conv0"))
        m.update(_styled_conv_map(f"convs.{2 * k + 1}", f"{block}.conv1"))
        m[f"convs.{2 * k}.conv.blur.kernel"] = ("", "kernel_up")
        m.update(_to_rgb_map(f"to_rgbs.{k}", f"{block}.torgb"))
        m[f"to_rgbs.{k}.upsample.kernel"] = ("", "kernel_up")
        m[f"noises.noise_{2 * k + 1}"] = (f"{block}.conv0.noise_const", "noise")
        m[f"noises.noise_{2 * k + 2}"] = (f"{block}.conv1.noise_const", "noise")
    return m


def _transform(name: str, tensor: torch.Tensor, how: str) -> torch.Tensor:
    if how == "copy":
        return tensor
    if how == "squeeze0":  # [1, ...] -> [...]
        if tensor.shape[0] != 1:
            raise LivevisError(f"rosinality checkpoint: {name} has shape {tuple(tensor.shape)}, expected a leading 1")
        return tensor[0]
    if how == "scalar":  # [1] -> []
        return tensor.reshape([])
    if how == "flatten":  # [1, C, 1, 1] -> [C]
        return tensor.reshape(-1)
    if how == "noise":  # [1, 1, r, r] -> [r, r]
        return tensor.reshape(tensor.shape[-2], tensor.shape[-1])
    raise AssertionError(how)


def convert_state_dict(sd: dict[str, torch.Tensor], resolution: int, n_mlp: int) -> dict[str, torch.Tensor]:
    """Rename and reshape a rosinality g_ema state dict into our names (without resample_filter / w_avg)."""
    mapping = name_map(resolution, n_mlp)
    unexpected = sorted(set(sd) - set(mapping), key=_natural)
    if unexpected:
        raise LivevisError(f"rosinality checkpoint: unexpected tensors {', '.join(unexpected[:8])}")
    missing = sorted((k for k, (_, how) in mapping.items() if how != "kernel_up" and k not in sd), key=_natural)
    if missing:
        raise LivevisError(f"rosinality checkpoint: missing tensors {', '.join(missing[:8])}")
    expected_kernel = setup_filter([1, 3, 3, 1], gain=4)  # make_kernel([1,3,3,1]) * factor**2
    out: dict[str, torch.Tensor] = {}
    for name, tensor in sd.items():
        dst, how = mapping[name]
        if how == "kernel_up":
            if tensor.shape != expected_kernel.shape or not torch.allclose(tensor.float(), expected_kernel, atol=1e-6):
                raise LivevisError(f"rosinality checkpoint: {name} is not the [1, 3, 3, 1] blur kernel; unsupported")
            continue
        out[dst] = _transform(name, tensor.detach().float(), how)
    return out


def _natural(name: str) -> list[Any]:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


@torch.no_grad()
def _mean_w(generator: Generator, samples: int = W_AVG_SAMPLES) -> torch.Tensor:
    """rosinality's mean_latent: the average of mapped random z, with a fixed seed."""
    rng = torch.Generator().manual_seed(0)
    z = torch.randn(samples, generator.z_dim, generator=rng)
    saved = generator.mapping.w_avg.clone()
    ws = generator.mapping(z)[:, 0]  # [samples, w_dim]
    generator.mapping.w_avg.copy_(saved)
    return ws.mean(dim=0)


def load_rosinality(path: str | Path, lr_mlp: float = DEFAULT_LR_MLP) -> Generator:
    """rosinality .pt/.pth ({'g_ema': state_dict, 'latent_avg': [w_dim], ...}) -> our Generator (eval)."""
    ckpt = read_checkpoint(path)
    sd = {k: v for k, v in ckpt["g_ema"].items() if isinstance(v, torch.Tensor)}
    config = config_from_rosinality_state(sd, lr_mlp)
    generator = Generator(config)
    tensors = convert_state_dict(sd, config.img_resolution, config.mapping_layers)
    own = generator.state_dict()
    for name, tensor in own.items():  # FIR filters are derived from the config, not stored by rosinality
        if name.endswith("resample_filter"):
            tensors[name] = tensor
    latent_avg = ckpt.get("latent_avg")
    if isinstance(latent_avg, torch.Tensor):
        tensors["mapping.w_avg"] = latent_avg.detach().float().reshape(-1)
        load_state_strict(generator, tensors, Path(path).name)
    else:
        tensors["mapping.w_avg"] = own["mapping.w_avg"]
        load_state_strict(generator, tensors, Path(path).name)
        generator.mapping.w_avg.copy_(_mean_w(generator))
    return generator.eval().requires_grad_(False)
