"""StyleGAN2 generator (Karras et al. 2020, config F) equivalent to NVlabs' networks_stylegan2.

Module and tensor names equal NVlabs' `G_ema` state_dict (mapping.fc0.weight, synthesis.b4.const,
synthesis.b8.conv0.noise_const, ...) so their weights load with a strict `load_state_dict`.
Weights are stored unscaled and multiplied by their equalised-learning-rate gains at run time, as
NVlabs does. fp32 throughout (NVlabs' fp16 resolutions only matter for training speed on GPUs);
callers may `.half()` the whole module.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import torch
from torch import nn

from livevis.errors import LivevisError
from livevis.models.config import StrictConfig
from livevis.models.ops.bias_act import ACTIVATIONS, bias_act
from livevis.models.ops.conv2d_resample import conv2d_resample
from livevis.models.ops.modulated_conv import modulated_conv2d
from livevis.models.ops.upfirdn2d import setup_filter, upsample2d

NOISE_MODES = ("const", "random", "none")


@dataclass
class StyleGAN2Config(StrictConfig):
    z_dim: int = 512                        # input latent Z size, 0 = none
    c_dim: int = 0                          # conditioning label size, 0 = unconditional
    w_dim: int = 512                        # intermediate latent W size
    img_resolution: int = 256               # output resolution, power of two >= 4
    img_channels: int = 3                   # output colour channels
    mapping_layers: int = 8                 # mapping network depth
    mapping_embed_features: int | None = None  # label embedding size, None = w_dim
    mapping_layer_features: int | None = None  # mapping hidden width, None = w_dim
    mapping_activation: str = "lrelu"       # mapping activation
    mapping_lr_multiplier: float = 0.01     # equalised-lr multiplier of the mapping layers
    w_avg_beta: float | None = 0.998        # W moving-average decay (the truncation centre), None = no w_avg
    channel_base: int = 32768               # channels at resolution r = min(channel_base // r, channel_max)
    channel_max: int = 512                  # channel cap
    conv_clamp: float | None = 256          # clamp conv outputs to +-X, None = off
    architecture: str = "skip"              # 'skip' (StyleGAN2 default), 'orig' or 'resnet'
    resample_filter: tuple[int, ...] = (1, 3, 3, 1)  # FIR low-pass for up-sampling
    use_noise: bool = True                  # per-layer noise inputs
    activation: str = "lrelu"               # synthesis activation
    kernel_size: int = 3                    # synthesis conv kernel
    fused_modconv: bool = False             # default modulation path (False = non-fused, the export path)
    channels_last: bool = True              # run synthesis in channels_last layout (much faster eager CPU convs)

    def __post_init__(self) -> None:
        r = self.img_resolution
        if r < 4 or r & (r - 1):
            raise LivevisError(f"StyleGAN2Config: img_resolution must be a power of two >= 4, got {r}")
        if self.architecture not in ("orig", "skip", "resnet"):
            raise LivevisError(f"StyleGAN2Config: architecture must be orig, skip or resnet, got {self.architecture!r}")
        for name in ("activation", "mapping_activation"):
            if getattr(self, name) not in ACTIVATIONS:
                raise LivevisError(f"StyleGAN2Config: unknown {name} {getattr(self, name)!r}")
        self.resample_filter = tuple(self.resample_filter)


# NVlabs init kwarg -> our field, for kwargs stored under mapping_kwargs.
_MAPPING_KWARGS = {
    "num_layers": "mapping_layers",
    "embed_features": "mapping_embed_features",
    "layer_features": "mapping_layer_features",
    "activation": "mapping_activation",
    "lr_multiplier": "mapping_lr_multiplier",
    "w_avg_beta": "w_avg_beta",
}
# Synthesis / block / layer kwargs we honour by the same name.
_SYNTHESIS_KWARGS = ("channel_base", "channel_max", "conv_clamp", "architecture", "resample_filter", "use_noise", "activation", "kernel_size")
# Kwargs that only affect training speed or memory layout: accepted and ignored.
_IGNORED_KWARGS = ("num_fp16_res", "fp16_channels_last", "channels_last", "fused_modconv_default", "freeze_layers", "freeze_embed")


def config_from_nvlabs_kwargs(init_kwargs: dict[str, Any]) -> StyleGAN2Config:
    """Stored init kwargs of an NVlabs StyleGAN2 `Generator` -> StyleGAN2Config.

    Handles stylegan3's flat `**synthesis_kwargs` and stylegan2-ada-pytorch's `synthesis_kwargs={...}`;
    defaults not present follow the source version (ada's blocks default to conv_clamp=None).
    """
    kwargs = dict(init_kwargs)
    values: dict[str, Any] = {}
    for key in ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels"):
        if key not in kwargs:
            raise LivevisError(f"StyleGAN2 generator kwargs lack {key!r}")
        values[key] = int(kwargs.pop(key))
    for key, value in dict(kwargs.pop("mapping_kwargs", None) or {}).items():
        if key in _MAPPING_KWARGS:
            values[_MAPPING_KWARGS[key]] = value
        elif key not in _IGNORED_KWARGS:
            raise LivevisError(f"StyleGAN2 mapping kwarg {key!r} is not supported")
    if "synthesis_kwargs" in kwargs:  # stylegan2-ada-pytorch layout
        values["conv_clamp"] = None
        kwargs.update(dict(kwargs.pop("synthesis_kwargs") or {}))
    if "conv_kernel" in kwargs:
        kwargs["kernel_size"] = kwargs.pop("conv_kernel")
    for key, value in kwargs.items():
        if key in _SYNTHESIS_KWARGS:
            values[key] = tuple(value) if key == "resample_filter" else value
        elif key not in _IGNORED_KWARGS:
            raise LivevisError(f"StyleGAN2 generator kwarg {key!r} is not supported")
    return StyleGAN2Config.from_dict(values)


def normalize_2nd_moment(x: torch.Tensor, dim: int = 1, eps: float = 1e-8) -> torch.Tensor:
    return x * (x.square().mean(dim=dim, keepdim=True) + eps).rsqrt()


class FullyConnectedLayer(nn.Module):
    """Equalised-lr linear layer: weight * lr / sqrt(in), bias * lr."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, activation: str = "linear",
                 lr_multiplier: float = 1.0, bias_init: float = 0.0):
        super().__init__()
        self.in_features, self.out_features, self.activation = in_features, out_features, activation
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier
        self.weight = nn.Parameter(torch.randn([out_features, in_features]) / lr_multiplier)
        self.bias = nn.Parameter(torch.full([out_features], float(bias_init))) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, in] -> [B, out]
        w = self.weight.to(x.dtype) * self.weight_gain
        b = self.bias
        if b is not None:
            b = b.to(x.dtype)
            if self.bias_gain != 1:
                b = b * self.bias_gain
        if self.activation == "linear" and b is not None:
            return torch.addmm(b.unsqueeze(0), x, w.t())
        return bias_act(x.matmul(w.t()), b, act=self.activation)


class Conv2dLayer(nn.Module):
    """Equalised-lr conv with optional FIR resampling (used by the 'resnet' skip path)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, bias: bool = True, activation: str = "linear",
                 up: int = 1, down: int = 1, resample_filter: Sequence[int] = (1, 3, 3, 1), conv_clamp: float | None = None):
        super().__init__()
        self.activation, self.up, self.down, self.conv_clamp = activation, up, down, conv_clamp
        self.register_buffer("resample_filter", setup_filter(list(resample_filter)))
        self.padding = kernel_size // 2
        self.weight_gain = 1 / math.sqrt(in_channels * kernel_size**2)
        self.act_gain = ACTIVATIONS[activation].def_gain
        self.weight = nn.Parameter(torch.randn([out_channels, in_channels, kernel_size, kernel_size]))
        self.bias = nn.Parameter(torch.zeros([out_channels])) if bias else None

    def forward(self, x: torch.Tensor, gain: float = 1) -> torch.Tensor:
        w = (self.weight * self.weight_gain).to(x.dtype)
        b = self.bias.to(x.dtype) if self.bias is not None else None
        x = conv2d_resample(x, w, f=self.resample_filter, up=self.up, down=self.down, padding=self.padding, flip_weight=self.up == 1)
        clamp = self.conv_clamp * gain if self.conv_clamp is not None else None
        return bias_act(x, b, act=self.activation, gain=self.act_gain * gain, clamp=clamp)


class MappingNetwork(nn.Module):
    """z [B, z_dim] (+ c [B, c_dim]) -> ws [B, num_ws, w_dim], with truncation towards w_avg."""

    def __init__(self, z_dim: int, c_dim: int, w_dim: int, num_ws: int, num_layers: int = 8, embed_features: int | None = None,
                 layer_features: int | None = None, activation: str = "lrelu", lr_multiplier: float = 0.01,
                 w_avg_beta: float | None = 0.998):
        super().__init__()
        self.z_dim, self.c_dim, self.w_dim, self.num_ws = z_dim, c_dim, w_dim, num_ws
        self.num_layers, self.w_avg_beta = num_layers, w_avg_beta
        embed_features = (w_dim if embed_features is None else embed_features) if c_dim > 0 else 0
        layer_features = w_dim if layer_features is None else layer_features
        features = [z_dim + embed_features] + [layer_features] * (num_layers - 1) + [w_dim]
        if c_dim > 0:
            self.embed = FullyConnectedLayer(c_dim, embed_features)
        for idx in range(num_layers):
            layer = FullyConnectedLayer(features[idx], features[idx + 1], activation=activation, lr_multiplier=lr_multiplier)
            setattr(self, f"fc{idx}", layer)
        if w_avg_beta is not None:
            self.register_buffer("w_avg", torch.zeros([w_dim]))

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None, truncation_psi: float = 1.0,
                truncation_cutoff: int | None = None, update_emas: bool = False) -> torch.Tensor:
        parts = []
        if self.z_dim > 0:
            assert z.ndim == 2 and z.shape[1] == self.z_dim, f"z must be [B, {self.z_dim}], got {tuple(z.shape)}"
            parts.append(normalize_2nd_moment(z.to(torch.float32)))
        if self.c_dim > 0:
            if c is None or c.ndim != 2 or c.shape[1] != self.c_dim:
                raise LivevisError(f"this generator is conditional: pass c of shape [B, {self.c_dim}]")
            parts.append(normalize_2nd_moment(self.embed(c.to(torch.float32))))
        x = torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]
        for idx in range(self.num_layers):
            x = getattr(self, f"fc{idx}")(x)  # [B, w_dim]
        if update_emas and self.w_avg_beta is not None:
            self.w_avg.copy_(x.detach().mean(dim=0).lerp(self.w_avg, self.w_avg_beta))
        x = x.unsqueeze(1).repeat([1, self.num_ws, 1])  # [B, num_ws, w_dim]
        if truncation_psi != 1:
            if self.w_avg_beta is None:
                raise LivevisError("truncation needs w_avg, which this generator does not track")
            if truncation_cutoff is None:
                x = self.w_avg.lerp(x, truncation_psi)
            else:
                head = self.w_avg.lerp(x[:, :truncation_cutoff], truncation_psi)
                x = torch.cat([head, x[:, truncation_cutoff:]], dim=1)
        return x


class SynthesisLayer(nn.Module):
    """Modulated 3x3 conv (optionally 2x up-sampling) + noise + bias + lrelu + clamp."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, kernel_size: int = 3, up: int = 1,
                 use_noise: bool = True, activation: str = "lrelu", resample_filter: Sequence[int] = (1, 3, 3, 1),
                 conv_clamp: float | None = None):
        super().__init__()
        self.in_channels, self.out_channels, self.resolution = in_channels, out_channels, resolution
        self.up, self.use_noise, self.activation, self.conv_clamp = up, use_noise, activation, conv_clamp
        self.register_buffer("resample_filter", setup_filter(list(resample_filter)))
        self.padding = kernel_size // 2
        self.act_gain = ACTIVATIONS[activation].def_gain
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn([out_channels, in_channels, kernel_size, kernel_size]))
        if use_noise:
            self.register_buffer("noise_const", torch.randn([resolution, resolution]))
            self.noise_strength = nn.Parameter(torch.zeros([]))
        self.bias = nn.Parameter(torch.zeros([out_channels]))
        self._weight_sq_cache: tuple[tuple, torch.Tensor] | None = None

    def weight_sq(self) -> torch.Tensor:
        """sum of weight**2 over the kernel, [O, I]: the static half of the demodulation coefficients.

        Cached for inference while the weight is unchanged (same version, storage, dtype, device);
        computed in-graph when training, compiling or exporting.
        """
        w = self.weight
        if (torch.is_grad_enabled() and w.requires_grad) or torch.compiler.is_compiling() or torch.compiler.is_exporting():
            return w.square().sum(dim=[2, 3])
        key = (w._version, w.data_ptr(), w.dtype, w.device)
        if self._weight_sq_cache is None or self._weight_sq_cache[0] != key:
            self._weight_sq_cache = (key, w.detach().square().sum(dim=[2, 3]))
        return self._weight_sq_cache[1]

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise_mode: str = "const", noise: torch.Tensor | None = None,
                fused_modconv: bool = False, gain: float = 1) -> torch.Tensor:
        # x [B, I, r/up, r/up], w [B, w_dim] -> [B, O, r, r]
        assert x.shape[1] == self.in_channels and x.shape[2] * self.up == self.resolution, f"x {tuple(x.shape)}"
        styles = self.affine(w)  # [B, I]
        scaled_noise = None
        if self.use_noise:
            if noise is not None:  # unit-variance noise given by the caller, e.g. [B or 1, 1, r, r]
                scaled_noise = noise * self.noise_strength
            elif noise_mode == "const":
                scaled_noise = self.noise_const * self.noise_strength  # [r, r]
            elif noise_mode == "random":
                scaled_noise = torch.randn([x.shape[0], 1, self.resolution, self.resolution], device=x.device) * self.noise_strength
        x = modulated_conv2d(x, self.weight, styles, noise=scaled_noise, up=self.up, padding=self.padding,
                             resample_filter=self.resample_filter, flip_weight=self.up == 1, fused_modconv=fused_modconv,
                             weight_sq=None if fused_modconv else self.weight_sq())
        clamp = self.conv_clamp * gain if self.conv_clamp is not None else None
        return bias_act(x, self.bias.to(x.dtype), act=self.activation, gain=self.act_gain * gain, clamp=clamp)


class ToRGBLayer(nn.Module):
    """Modulated 1x1 conv without demodulation: features -> colour contribution."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, kernel_size: int = 1, conv_clamp: float | None = None):
        super().__init__()
        self.conv_clamp = conv_clamp
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn([out_channels, in_channels, kernel_size, kernel_size]))
        self.bias = nn.Parameter(torch.zeros([out_channels]))
        self.weight_gain = 1 / math.sqrt(in_channels * kernel_size**2)

    def forward(self, x: torch.Tensor, w: torch.Tensor, fused_modconv: bool = False) -> torch.Tensor:
        styles = self.affine(w) * self.weight_gain  # [B, I]
        x = modulated_conv2d(x, self.weight, styles, demodulate=False, fused_modconv=fused_modconv)
        return bias_act(x, self.bias.to(x.dtype), clamp=self.conv_clamp)


class SynthesisBlock(nn.Module):
    """One resolution: (const | conv0 up) -> conv1 -> torgb, adding to the up-sampled image."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, img_channels: int, is_last: bool,
                 architecture: str = "skip", resample_filter: Sequence[int] = (1, 3, 3, 1), conv_clamp: float | None = 256,
                 **layer_kwargs: Any):
        super().__init__()
        self.in_channels, self.w_dim, self.resolution = in_channels, w_dim, resolution
        self.img_channels, self.is_last, self.architecture = img_channels, is_last, architecture
        self.register_buffer("resample_filter", setup_filter(list(resample_filter)))
        self.num_conv = 0
        self.num_torgb = 0
        if in_channels == 0:
            self.const = nn.Parameter(torch.randn([out_channels, resolution, resolution]))
        else:
            self.conv0 = SynthesisLayer(in_channels, out_channels, w_dim=w_dim, resolution=resolution, up=2,
                                        resample_filter=resample_filter, conv_clamp=conv_clamp, **layer_kwargs)
            self.num_conv += 1
        self.conv1 = SynthesisLayer(out_channels, out_channels, w_dim=w_dim, resolution=resolution, conv_clamp=conv_clamp, **layer_kwargs)
        self.num_conv += 1
        if is_last or architecture == "skip":
            self.torgb = ToRGBLayer(out_channels, img_channels, w_dim=w_dim, conv_clamp=conv_clamp)
            self.num_torgb += 1
        if in_channels != 0 and architecture == "resnet":
            self.skip = Conv2dLayer(in_channels, out_channels, kernel_size=1, bias=False, up=2, resample_filter=resample_filter)
        self.num_noise = sum(1 for m in (getattr(self, "conv0", None), self.conv1) if m is not None and m.use_noise)

    def forward(self, x: torch.Tensor | None, img: torch.Tensor | None, ws: torch.Tensor, noise_mode: str = "const",
                noise: Sequence[torch.Tensor] | None = None, fused_modconv: bool = False,
                memory_format: torch.memory_format = torch.contiguous_format):
        # ws [B, num_conv + num_torgb, w_dim]; x [B, in, r/2, r/2] or None; img [B, C, r/2, r/2] or None.
        assert ws.shape[1] == self.num_conv + self.num_torgb and ws.shape[2] == self.w_dim, f"ws {tuple(ws.shape)}"
        w_iter = iter(ws.unbind(dim=1))
        noise_iter = iter(noise) if noise is not None else None

        def layer_noise(layer: SynthesisLayer) -> torch.Tensor | None:
            return next(noise_iter) if noise_iter is not None and layer.use_noise else None

        if self.in_channels == 0:
            x = self.const.unsqueeze(0).repeat([ws.shape[0], 1, 1, 1])  # [B, C, 4, 4]
            x = x.contiguous(memory_format=memory_format)  # later convs keep the layout
            x = self.conv1(x, next(w_iter), noise_mode, layer_noise(self.conv1), fused_modconv)
        elif self.architecture == "resnet":
            y = self.skip(x, gain=math.sqrt(0.5))
            x = self.conv0(x, next(w_iter), noise_mode, layer_noise(self.conv0), fused_modconv)
            x = self.conv1(x, next(w_iter), noise_mode, layer_noise(self.conv1), fused_modconv, gain=math.sqrt(0.5))
            x = y + x
        else:
            x = self.conv0(x, next(w_iter), noise_mode, layer_noise(self.conv0), fused_modconv)
            x = self.conv1(x, next(w_iter), noise_mode, layer_noise(self.conv1), fused_modconv)
        if img is not None:
            img = upsample2d(img.contiguous(memory_format=memory_format), self.resample_filter)  # [B, C, r, r]
        if self.is_last or self.architecture == "skip":
            y = self.torgb(x, next(w_iter), fused_modconv).to(torch.float32)
            img = img + y if img is not None else y
        return x, img


class SynthesisNetwork(nn.Module):
    """ws [B, num_ws, w_dim] -> img [B, img_channels, R, R], roughly in [-1, 1]."""

    def __init__(self, w_dim: int, img_resolution: int, img_channels: int, channel_base: int = 32768, channel_max: int = 512,
                 fused_modconv: bool = False, channels_last: bool = False, **block_kwargs: Any):
        super().__init__()
        self.w_dim, self.img_resolution, self.img_channels = w_dim, img_resolution, img_channels
        self.fused_modconv, self.channels_last = fused_modconv, channels_last
        self.block_resolutions = [2**i for i in range(2, int(math.log2(img_resolution)) + 1)]
        channels = {res: min(channel_base // res, channel_max) for res in self.block_resolutions}
        self.num_ws = 0
        self.num_noise = 0
        for res in self.block_resolutions:
            in_channels = channels[res // 2] if res > 4 else 0
            is_last = res == img_resolution
            block = SynthesisBlock(in_channels, channels[res], w_dim=w_dim, resolution=res, img_channels=img_channels,
                                   is_last=is_last, **block_kwargs)
            self.num_ws += block.num_conv + (block.num_torgb if is_last else 0)
            self.num_noise += block.num_noise
            setattr(self, f"b{res}", block)

    def noise_shapes(self) -> list[tuple[int, int, int, int]]:
        """Shapes of the explicit `noise` list synthesis() accepts: one [1, 1, r, r] per noisy layer."""
        shapes = []
        for res in self.block_resolutions:
            block = getattr(self, f"b{res}")
            for name in ("conv0", "conv1"):
                layer = getattr(block, name, None)
                if layer is not None and layer.use_noise:
                    shapes.append((1, 1, res, res))
        return shapes

    def forward(self, ws: torch.Tensor, noise_mode: str = "const", noise: Sequence[torch.Tensor] | None = None,
                fused_modconv: bool | None = None) -> torch.Tensor:
        """noise_mode: 'const' (stored buffers), 'random' (fresh randn; not for export) or 'none'.
        noise: explicit unit-variance tensors (see noise_shapes()), overriding noise_mode."""
        assert ws.ndim == 3 and ws.shape[1] == self.num_ws and ws.shape[2] == self.w_dim, \
            f"ws must be [B, {self.num_ws}, {self.w_dim}], got {tuple(ws.shape)}"
        if noise_mode not in NOISE_MODES:
            raise LivevisError(f"noise_mode must be one of {', '.join(NOISE_MODES)}, got {noise_mode!r}")
        if noise is not None and len(noise) != self.num_noise:
            raise LivevisError(f"expected {self.num_noise} noise tensors, got {len(noise)}")
        fused = self.fused_modconv if fused_modconv is None else fused_modconv
        ws = ws.to(torch.float32)
        x = img = None
        w_idx = noise_idx = 0
        for res in self.block_resolutions:
            block = getattr(self, f"b{res}")
            block_ws = ws.narrow(1, w_idx, block.num_conv + block.num_torgb)
            block_noise = noise[noise_idx:noise_idx + block.num_noise] if noise is not None else None
            x, img = block(x, img, block_ws, noise_mode=noise_mode, noise=block_noise, fused_modconv=fused,
                           memory_format=torch.channels_last if self.channels_last else torch.contiguous_format)
            w_idx += block.num_conv
            noise_idx += block.num_noise
        return img.contiguous()  # [B, img_channels, R, R]


class Generator(nn.Module):
    """StyleGAN2 generator built from a StyleGAN2Config; state_dict names equal NVlabs' G_ema."""

    def __init__(self, config: StyleGAN2Config):
        super().__init__()
        self.config = config
        self.z_dim, self.c_dim, self.w_dim = config.z_dim, config.c_dim, config.w_dim
        self.img_resolution, self.img_channels = config.img_resolution, config.img_channels
        self.synthesis = SynthesisNetwork(
            w_dim=config.w_dim, img_resolution=config.img_resolution, img_channels=config.img_channels,
            channel_base=config.channel_base, channel_max=config.channel_max, fused_modconv=config.fused_modconv,
            channels_last=config.channels_last,
            architecture=config.architecture, resample_filter=config.resample_filter, conv_clamp=config.conv_clamp,
            use_noise=config.use_noise, activation=config.activation, kernel_size=config.kernel_size,
        )
        self.num_ws = self.synthesis.num_ws
        self.mapping = MappingNetwork(
            z_dim=config.z_dim, c_dim=config.c_dim, w_dim=config.w_dim, num_ws=self.num_ws, num_layers=config.mapping_layers,
            embed_features=config.mapping_embed_features, layer_features=config.mapping_layer_features,
            activation=config.mapping_activation, lr_multiplier=config.mapping_lr_multiplier, w_avg_beta=config.w_avg_beta,
        )

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None, truncation_psi: float = 1.0,
                truncation_cutoff: int | None = None, noise_mode: str = "const", **synthesis_kwargs: Any) -> torch.Tensor:
        ws = self.mapping(z, c, truncation_psi=truncation_psi, truncation_cutoff=truncation_cutoff)  # [B, num_ws, w_dim]
        return self.synthesis(ws, noise_mode=noise_mode, **synthesis_kwargs)
