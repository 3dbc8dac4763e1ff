"""StyleGAN3 generator (configs T and R), equivalent to NVlabs' `networks_stylegan3`.

Alias-free synthesis: Fourier-feature input with a learned (and a user) affine transform, then
`num_layers` modulated convolutions each followed by a filtered leaky ReLU (FIR up-sample, bias +
lrelu + clamp, FIR down-sample), the last `num_critical` critically sampled, a ToRGB layer and an
output scale. Parameter and buffer names and shapes equal NVlabs' `G_ema` state_dict, so official
weights load with `load_state_dict(strict=True)` and no renaming.

Differences from the original that do not change the image (beyond float rounding):
- modulation is the non-fused form (scale activations by styles, convolve with the shared weight,
  scale by demodulation coefficients): the conv weights stay constants for export and engines;
- no in-place index writes and a precomputed sampling grid, so `torch.export` / ONNX see a flat graph;
- fp16 layers (`num_fp16_res`) are accepted for checkpoint compatibility but everything runs fp32.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import scipy.signal
import scipy.special
import torch
import torch.nn.functional as F

from livevis.errors import LivevisError
from livevis.models.config import StrictConfig
from livevis.models.ops.bias_act import bias_act
from livevis.models.ops.filtered_lrelu import filtered_lrelu


@dataclasses.dataclass
class StyleGAN3Config(StrictConfig):
    """Flattened NVlabs Generator kwargs. Defaults are NVlabs' (config T); R: conv_kernel=1,
    use_radial_filters=True and doubled channel_base / channel_max."""

    z_dim: int                                # Input latent (Z) dimensionality.
    c_dim: int                                # Conditioning label (C) dimensionality, 0 = none.
    w_dim: int                                # Intermediate latent (W) dimensionality.
    img_resolution: int                       # Output resolution (power of two).
    img_channels: int                         # Number of output colour channels.
    mapping_layers: int = 2                   # Mapping network depth.
    mapping_lr_multiplier: float = 0.01       # Learning-rate multiplier of the mapping layers.
    w_avg_beta: float = 0.998                 # Decay of the tracked W average (training only).
    channel_base: int = 32768                 # Overall multiplier for the number of channels.
    channel_max: int = 512                    # Maximum number of channels in any layer.
    num_layers: int = 14                      # Synthesis layers, excluding Fourier input and ToRGB.
    num_critical: int = 2                     # Critically sampled layers at the end.
    first_cutoff: float = 2.0                 # Cutoff frequency of the first layer (f_c,0).
    first_stopband: float = 2**2.1            # Minimum stopband of the first layer (f_t,0).
    last_stopband_rel: float = 2**0.3         # Minimum stopband of the last layer, relative to its cutoff.
    margin_size: int = 10                     # Extra pixels computed outside the image.
    output_scale: float = 0.25                # Scale of the output image.
    num_fp16_res: int = 4                     # Accepted for compatibility; livevis runs fp32.
    conv_kernel: int = 3                      # Convolution kernel size (T: 3, R: 1).
    filter_size: int = 6                      # Low-pass filter taps relative to the lower resolution.
    lrelu_upsampling: int = 2                 # Relative sampling rate of the leaky ReLU.
    use_radial_filters: bool = False          # Radially symmetric down-sampling filters (R).
    conv_clamp: float | None = 256            # Clamp pre-activations to [-X, X]; None disables.
    magnitude_ema_beta: float = 0.999         # Decay of the input-magnitude average (training only).

    def __post_init__(self) -> None:
        def need(ok: bool, what: str) -> None:
            if not ok:
                raise LivevisError(f"StyleGAN3Config: {what}")

        for name in ("z_dim", "w_dim", "img_channels", "mapping_layers", "channel_base", "channel_max", "filter_size"):
            need(int(getattr(self, name)) >= 1, f"{name} must be >= 1, got {getattr(self, name)}")
        need(self.c_dim >= 0, f"c_dim must be >= 0, got {self.c_dim}")
        res = self.img_resolution
        need(res >= 4 and res & (res - 1) == 0, f"img_resolution must be a power of two >= 4, got {res}")
        need(0 <= self.num_critical < self.num_layers, f"need 0 <= num_critical < num_layers, got {self.num_critical}, {self.num_layers}")
        need(self.conv_kernel >= 1 and self.conv_kernel % 2 == 1, f"conv_kernel must be odd, got {self.conv_kernel}")
        need(self.lrelu_upsampling >= 1, f"lrelu_upsampling must be >= 1, got {self.lrelu_upsampling}")
        need(self.margin_size >= 0, f"margin_size must be >= 0, got {self.margin_size}")
        need(self.conv_clamp is None or self.conv_clamp >= 0, f"conv_clamp must be >= 0 or null, got {self.conv_clamp}")

    @property
    def num_ws(self) -> int:
        return self.num_layers + 2


# NVlabs init kwargs (mapping_kwargs keys are renamed) -> StyleGAN3Config fields.
_TOP_LEVEL_KEYS = ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels")
_SYNTHESIS_KEYS = (
    "channel_base", "channel_max", "num_layers", "num_critical", "first_cutoff", "first_stopband",
    "last_stopband_rel", "margin_size", "output_scale", "num_fp16_res", "conv_kernel", "filter_size",
    "lrelu_upsampling", "use_radial_filters", "conv_clamp", "magnitude_ema_beta",
)
_MAPPING_KEYS = {"num_layers": "mapping_layers", "lr_multiplier": "mapping_lr_multiplier", "w_avg_beta": "w_avg_beta"}
_MAPPING_TRAINING_ONLY = ("freeze_layers", "freeze_embed")  # fine-tuning forks; no effect on inference


def config_from_nvlabs_kwargs(init_kwargs: dict[str, Any]) -> StyleGAN3Config:
    """NVlabs `networks_stylegan3.Generator` init kwargs (as stored in a network pickle) -> config."""
    if not isinstance(init_kwargs, dict):
        raise LivevisError(f"StyleGAN3 generator kwargs must be a dict, got {type(init_kwargs).__name__}")
    kwargs = dict(init_kwargs)
    mapping = kwargs.pop("mapping_kwargs", None) or {}
    if not isinstance(mapping, dict):
        raise LivevisError(f"StyleGAN3 mapping_kwargs must be a dict, got {type(mapping).__name__}")
    missing = [k for k in _TOP_LEVEL_KEYS if k not in kwargs]
    if missing:
        raise LivevisError(f"StyleGAN3 generator kwargs lack {', '.join(missing)}")
    unknown = sorted(set(kwargs) - set(_TOP_LEVEL_KEYS) - set(_SYNTHESIS_KEYS))
    unknown += sorted(f"mapping_kwargs.{k}" for k in set(mapping) - set(_MAPPING_KEYS) - set(_MAPPING_TRAINING_ONLY))
    if unknown:
        raise LivevisError(f"StyleGAN3 generator: unsupported argument(s) {', '.join(unknown)}")

    values: dict[str, Any] = {k: kwargs[k] for k in _TOP_LEVEL_KEYS + _SYNTHESIS_KEYS if k in kwargs}
    values.update({_MAPPING_KEYS[k]: v for k, v in mapping.items() if k in _MAPPING_KEYS})
    # Pickled values may be numpy scalars; coerce to the dataclass' plain Python types.
    types = {f.name: f.type for f in dataclasses.fields(StyleGAN3Config)}
    for name, value in values.items():
        if value is None:
            continue
        kind = types[name]
        caster = int if kind == "int" else bool if kind == "bool" else float
        try:
            values[name] = caster(value)
        except (TypeError, ValueError):
            raise LivevisError(f"StyleGAN3 generator: {name}={value!r} is not a number") from None
    return StyleGAN3Config.from_dict(values)


# --------------------------------------------------------------------------------------------
# Layer plan: the geometric progression of cutoffs, stopbands, sampling rates and sizes.


@dataclasses.dataclass(frozen=True)
class LayerSpec:
    name: str                     # NVlabs attribute name, e.g. "L3_52_512".
    is_torgb: bool
    is_critically_sampled: bool
    in_channels: int
    out_channels: int
    in_size: int
    out_size: int
    in_sampling_rate: int
    out_sampling_rate: int
    in_cutoff: float
    out_cutoff: float
    in_half_width: float
    out_half_width: float


@dataclasses.dataclass(frozen=True)
class InputSpec:
    channels: int
    size: int
    sampling_rate: float
    bandwidth: float


def synthesis_plan(cfg: StyleGAN3Config) -> tuple[InputSpec, list[LayerSpec]]:
    """Per-layer parameters, computed in float64 numpy exactly as NVlabs does (names depend on it)."""
    last_cutoff = cfg.img_resolution / 2
    last_stopband = last_cutoff * cfg.last_stopband_rel
    exponents = np.minimum(np.arange(cfg.num_layers + 1) / (cfg.num_layers - cfg.num_critical), 1)
    cutoffs = cfg.first_cutoff * (last_cutoff / cfg.first_cutoff) ** exponents
    stopbands = cfg.first_stopband * (last_stopband / cfg.first_stopband) ** exponents
    sampling_rates = np.exp2(np.ceil(np.log2(np.minimum(stopbands * 2, cfg.img_resolution))))
    half_widths = np.maximum(stopbands, sampling_rates / 2) - cutoffs
    sizes = sampling_rates + cfg.margin_size * 2
    sizes[-2:] = cfg.img_resolution
    channels = np.rint(np.minimum((cfg.channel_base / 2) / cutoffs, cfg.channel_max))
    channels[-1] = cfg.img_channels

    first = InputSpec(int(channels[0]), int(sizes[0]), float(sampling_rates[0]), float(cutoffs[0]))
    layers = []
    for idx in range(cfg.num_layers + 1):
        prev = max(idx - 1, 0)
        layers.append(LayerSpec(
            name=f"L{idx}_{int(sizes[idx])}_{int(channels[idx])}",
            is_torgb=idx == cfg.num_layers,
            is_critically_sampled=idx >= cfg.num_layers - cfg.num_critical,
            in_channels=int(channels[prev]), out_channels=int(channels[idx]),
            in_size=int(sizes[prev]), out_size=int(sizes[idx]),
            in_sampling_rate=int(sampling_rates[prev]), out_sampling_rate=int(sampling_rates[idx]),
            in_cutoff=float(cutoffs[prev]), out_cutoff=float(cutoffs[idx]),
            in_half_width=float(half_widths[prev]), out_half_width=float(half_widths[idx]),
        ))
    return first, layers


def design_lowpass_filter(numtaps: int, cutoff: float, width: float, fs: float, radial: bool = False) -> torch.Tensor | None:
    """Kaiser low-pass FIR: separable `[numtaps]`, radial (jinc) `[numtaps, numtaps]`, or None (identity)."""
    assert numtaps >= 1
    if numtaps == 1:
        return None
    if not radial:
        f = scipy.signal.firwin(numtaps=numtaps, cutoff=cutoff, width=width, fs=fs)
        return torch.as_tensor(f, dtype=torch.float32)
    x = (np.arange(numtaps) - (numtaps - 1) / 2) / fs
    r = np.hypot(*np.meshgrid(x, x))
    f = scipy.special.j1(2 * cutoff * (np.pi * r)) / (np.pi * r)
    beta = scipy.signal.kaiser_beta(scipy.signal.kaiser_atten(numtaps, width / (fs / 2)))
    window = np.kaiser(numtaps, beta)
    f *= np.outer(window, window)
    f /= np.sum(f)
    return torch.as_tensor(f, dtype=torch.float32)


# --------------------------------------------------------------------------------------------
# Modules.


class FullyConnectedLayer(torch.nn.Module):
    """Equalised-learning-rate linear layer (weights stored unscaled, scaled at run time)."""

    def __init__(self, in_features: int, out_features: int, activation: str = "linear",
                 lr_multiplier: float = 1.0, weight_init: float = 1.0, bias_init: float | list[float] = 0.0):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.activation = activation
        self.weight = torch.nn.Parameter(torch.randn([out_features, in_features]) * (weight_init / lr_multiplier))
        bias = torch.as_tensor(np.broadcast_to(np.asarray(bias_init, dtype=np.float32), [out_features]).copy())
        self.bias = torch.nn.Parameter(bias / lr_multiplier)
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, in] -> [B, out]
        w = self.weight * self.weight_gain
        b = self.bias * self.bias_gain if self.bias_gain != 1 else self.bias
        if self.activation == "linear":
            return torch.addmm(b.unsqueeze(0), x, w.t())
        return bias_act(x.matmul(w.t()), b, act=self.activation)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, activation={self.activation}"


class MappingNetwork(torch.nn.Module):
    """z [B, z_dim] (+ c [B, c_dim]) -> ws [B, num_ws, w_dim], with truncation towards w_avg."""

    def __init__(self, cfg: StyleGAN3Config, num_ws: int):
        super().__init__()
        self.z_dim, self.c_dim, self.w_dim, self.num_ws = cfg.z_dim, cfg.c_dim, cfg.w_dim, num_ws
        self.num_layers = cfg.mapping_layers
        self.w_avg_beta = cfg.w_avg_beta
        self.embed = FullyConnectedLayer(cfg.c_dim, cfg.w_dim) if cfg.c_dim > 0 else None
        features = [cfg.z_dim + (cfg.w_dim if cfg.c_dim > 0 else 0)] + [cfg.w_dim] * cfg.mapping_layers
        for idx in range(cfg.mapping_layers):
            layer = FullyConnectedLayer(features[idx], features[idx + 1], activation="lrelu",
                                        lr_multiplier=cfg.mapping_lr_multiplier)
            setattr(self, f"fc{idx}", layer)
        self.register_buffer("w_avg", torch.zeros([cfg.w_dim]))

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None, truncation_psi: float = 1.0,
                truncation_cutoff: int | None = None, update_emas: bool = False) -> torch.Tensor:
        assert z.ndim == 2 and z.shape[1] == self.z_dim, f"z must be [B, {self.z_dim}], got {list(z.shape)}"
        x = z.to(torch.float32)
        x = x * (x.square().mean(1, keepdim=True) + 1e-8).rsqrt()  # [B, z_dim]
        if self.embed is not None:
            if c is None or c.ndim != 2 or c.shape[1] != self.c_dim:
                raise LivevisError(f"this generator is conditional: pass c as [B, {self.c_dim}]")
            y = self.embed(c.to(torch.float32))
            y = y * (y.square().mean(1, keepdim=True) + 1e-8).rsqrt()
            x = torch.cat([x, y], dim=1)  # [B, z_dim + w_dim]
        for idx in range(self.num_layers):
            x = getattr(self, f"fc{idx}")(x)
        if update_emas:  # training: track the average w used for truncation
            self.w_avg.copy_(x.detach().mean(dim=0).lerp(self.w_avg, self.w_avg_beta))
        ws = x.unsqueeze(1).repeat([1, self.num_ws, 1])  # [B, num_ws, w_dim]
        if truncation_psi != 1:
            cutoff = self.num_ws if truncation_cutoff is None else int(truncation_cutoff)
            ws = torch.cat([self.w_avg.lerp(ws[:, :cutoff], truncation_psi), ws[:, cutoff:]], dim=1)
        return ws


class SynthesisInput(torch.nn.Module):
    """Fourier features [B, C, size, size] whose phases/orientation follow an affine map of w."""

    def __init__(self, w_dim: int, spec: InputSpec):
        super().__init__()
        self.w_dim, self.channels, self.size = w_dim, spec.channels, spec.size
        self.sampling_rate, self.bandwidth = spec.sampling_rate, spec.bandwidth

        # Random frequencies from a uniform 2D disc (overwritten by loaded weights).
        freqs = torch.randn([self.channels, 2])
        radii = freqs.square().sum(dim=1, keepdim=True).sqrt()
        freqs /= radii * radii.square().exp().pow(0.25)
        freqs *= self.bandwidth
        phases = torch.rand([self.channels]) - 0.5

        self.weight = torch.nn.Parameter(torch.randn([self.channels, self.channels]))
        self.affine = FullyConnectedLayer(w_dim, 4, weight_init=0, bias_init=[1, 0, 0, 0])
        self.register_buffer("transform", torch.eye(3, 3))  # user inverse transform wrt. the image
        self.register_buffer("freqs", freqs)  # [C, 2]
        self.register_buffer("phases", phases)  # [C]
        # The sampling grid depends on the architecture only: compute once, keep out of the state_dict.
        theta = torch.eye(2, 3)
        theta[0, 0] = 0.5 * self.size / self.sampling_rate
        theta[1, 1] = 0.5 * self.size / self.sampling_rate
        grid = F.affine_grid(theta.unsqueeze(0), [1, 1, self.size, self.size], align_corners=False)
        self.register_buffer("grid", grid, persistent=False)  # [1, H, W, 2]

    def forward(self, w: torch.Tensor, transform: torch.Tensor | None = None) -> torch.Tensor:
        """w [B, w_dim] -> [B, C, H, W]; `transform` ([3, 3] or [B, 3, 3]) overrides the buffer."""
        batch = w.shape[0]
        t = self.affine(w)  # [B, 4] = (r_c, r_s, t_x, t_y)
        t = t / t[:, :2].norm(dim=1, keepdim=True)
        r_c, r_s, t_x, t_y = t.unbind(1)
        zero, one = torch.zeros_like(r_c), torch.ones_like(r_c)
        m_r = torch.stack([r_c, -r_s, zero, r_s, r_c, zero, zero, zero, one], 1).reshape(batch, 3, 3)  # inverse rotation
        m_t = torch.stack([one, zero, -t_x, zero, one, -t_y, zero, zero, one], 1).reshape(batch, 3, 3)  # inverse translation
        user = self.transform if transform is None else transform.to(self.transform.dtype)
        assert user.shape[-2:] == (3, 3), f"transform must be [3, 3] or [B, 3, 3], got {list(user.shape)}"
        transforms = m_r @ m_t @ (user if user.ndim == 3 else user.unsqueeze(0))  # [B, 3, 3]

        freqs = self.freqs.unsqueeze(0)  # [1, C, 2]
        phases = self.phases.unsqueeze(0) + (freqs @ transforms[:, :2, 2:]).squeeze(2)  # [B, C]
        freqs = freqs @ transforms[:, :2, :2]  # [B, C, 2]
        # Dampen frequencies pushed out of band by the user transform.
        amplitudes = (1 - (freqs.norm(dim=2) - self.bandwidth) / (self.sampling_rate / 2 - self.bandwidth)).clamp(0, 1)

        gx, gy = self.grid[..., 0:1], self.grid[..., 1:2]  # [1, H, W, 1]
        x = gx * freqs[:, None, None, :, 0] + gy * freqs[:, None, None, :, 1]  # [B, H, W, C]
        x = x + phases[:, None, None, :]
        x = torch.sin(x * (math.pi * 2)) * amplitudes[:, None, None, :]
        x = x @ (self.weight / math.sqrt(self.channels)).t()  # [B, H, W, C]
        # [B, C, H, W] with channels-last strides (free after the permute): convolutions and FIR
        # filters keep that layout through every layer, ~1.6x faster on CPU than contiguous NCHW.
        x = x.permute(0, 3, 1, 2).contiguous(memory_format=torch.channels_last)
        assert x.shape[1:] == (self.channels, self.size, self.size)
        return x

    def extra_repr(self) -> str:
        return f"w_dim={self.w_dim}, channels={self.channels}, size={self.size}, sampling_rate={self.sampling_rate:g}, bandwidth={self.bandwidth:g}"


class SynthesisLayer(torch.nn.Module):
    """Modulated conv -> filtered lrelu (or, for ToRGB, a 1x1 modulated conv + bias + clamp)."""

    def __init__(self, cfg: StyleGAN3Config, spec: LayerSpec):
        super().__init__()
        self.spec = spec
        self.is_torgb = spec.is_torgb
        self.in_channels, self.out_channels = spec.in_channels, spec.out_channels
        self.in_size, self.out_size = spec.in_size, spec.out_size
        self.conv_kernel = 1 if spec.is_torgb else cfg.conv_kernel
        self.conv_clamp = cfg.conv_clamp
        self.magnitude_ema_beta = cfg.magnitude_ema_beta
        tmp_sampling_rate = max(spec.in_sampling_rate, spec.out_sampling_rate) * (1 if spec.is_torgb else cfg.lrelu_upsampling)

        self.affine = FullyConnectedLayer(cfg.w_dim, spec.in_channels, bias_init=1)
        self.weight = torch.nn.Parameter(torch.randn([spec.out_channels, spec.in_channels, self.conv_kernel, self.conv_kernel]))
        self.bias = torch.nn.Parameter(torch.zeros([spec.out_channels]))
        self.register_buffer("magnitude_ema", torch.ones([]))

        self.up_factor = int(np.rint(tmp_sampling_rate / spec.in_sampling_rate))
        assert spec.in_sampling_rate * self.up_factor == tmp_sampling_rate
        self.up_taps = cfg.filter_size * self.up_factor if self.up_factor > 1 and not spec.is_torgb else 1
        self.register_buffer("up_filter", design_lowpass_filter(
            self.up_taps, spec.in_cutoff, spec.in_half_width * 2, tmp_sampling_rate))

        self.down_factor = int(np.rint(tmp_sampling_rate / spec.out_sampling_rate))
        assert spec.out_sampling_rate * self.down_factor == tmp_sampling_rate
        self.down_taps = cfg.filter_size * self.down_factor if self.down_factor > 1 and not spec.is_torgb else 1
        radial = cfg.use_radial_filters and not spec.is_critically_sampled
        self.register_buffer("down_filter", design_lowpass_filter(
            self.down_taps, spec.out_cutoff, spec.out_half_width * 2, tmp_sampling_rate, radial=radial))

        # Padding so that the output has out_size samples, centred per the symmetric interpretation
        # of sample locations (paper appendix C.3).
        pad_total = (spec.out_size - 1) * self.down_factor + 1
        pad_total -= (spec.in_size + self.conv_kernel - 1) * self.up_factor
        pad_total += self.up_taps + self.down_taps - 2
        pad_lo = (pad_total + self.up_factor) // 2
        pad_hi = pad_total - pad_lo
        self.padding = [pad_lo, pad_hi, pad_lo, pad_hi]

    def forward(self, x: torch.Tensor, w: torch.Tensor, update_emas: bool = False) -> torch.Tensor:
        batch = x.shape[0]
        assert x.shape[1:] == (self.in_channels, self.in_size, self.in_size), f"{self.spec.name}: x {list(x.shape)}"
        assert w.shape == (batch, self.affine.in_features), f"{self.spec.name}: w {list(w.shape)}"
        styles = self.affine(w)  # [B, I]
        weight = self.weight  # [O, I, k, k]
        if self.is_torgb:
            styles = styles * (1 / math.sqrt(self.in_channels * self.conv_kernel**2))
        else:
            # Pre-normalisation as in NVlabs; the style norm is over the whole batch (their quirk, kept for parity).
            weight = weight * weight.square().mean([1, 2, 3], keepdim=True).rsqrt()
            styles = styles * styles.square().mean().rsqrt()
        if update_emas:  # training: track the input magnitude that normalises this layer
            magnitude = x.detach().to(torch.float32).square().mean()
            self.magnitude_ema.copy_(magnitude.lerp(self.magnitude_ema, self.magnitude_ema_beta))
        input_gain = self.magnitude_ema.rsqrt()

        x = x * (styles * input_gain).reshape(batch, -1, 1, 1)  # [B, I, H, W]
        x = F.conv2d(x, weight, padding=self.conv_kernel - 1)  # [B, O, H+k-1, W+k-1]
        bias = self.bias
        if not self.is_torgb:
            dcoefs = (styles.square() @ weight.square().sum([2, 3]).t() + 1e-8).rsqrt()  # [B, O]
            # Demodulate and add the bias in one pass (the bias is filtered_lrelu's first step anyway).
            x = torch.addcmul(self.bias.reshape(1, -1, 1, 1), x, dcoefs.reshape(batch, -1, 1, 1))
            bias = None

        gain = 1.0 if self.is_torgb else math.sqrt(2)
        slope = 1.0 if self.is_torgb else 0.2
        x = filtered_lrelu(x, fu=self.up_filter, fd=self.down_filter, b=bias, up=self.up_factor,
                           down=self.down_factor, padding=self.padding, gain=gain, slope=slope, clamp=self.conv_clamp)
        assert x.shape[1:] == (self.out_channels, self.out_size, self.out_size), f"{self.spec.name}: out {list(x.shape)}"
        return x

    def extra_repr(self) -> str:
        s = self.spec
        return (f"in={s.in_channels}x{s.in_size}, out={s.out_channels}x{s.out_size}, up={self.up_factor}, "
                f"down={self.down_factor}, kernel={self.conv_kernel}, torgb={s.is_torgb}, critical={s.is_critically_sampled}")


class SynthesisNetwork(torch.nn.Module):
    """ws [B, num_ws, w_dim] -> img [B, img_channels, R, R] in about [-1, 1]. No noise inputs."""

    def __init__(self, cfg: StyleGAN3Config):
        super().__init__()
        self.w_dim, self.num_ws = cfg.w_dim, cfg.num_ws
        self.img_resolution, self.img_channels = cfg.img_resolution, cfg.img_channels
        self.output_scale = cfg.output_scale
        input_spec, layer_specs = synthesis_plan(cfg)
        self.input = SynthesisInput(cfg.w_dim, input_spec)
        self.layer_names: list[str] = []
        for spec in layer_specs:
            setattr(self, spec.name, SynthesisLayer(cfg, spec))
            self.layer_names.append(spec.name)

    def forward(self, ws: torch.Tensor, noise_mode: str = "const", noise: Any = None,
                transform: torch.Tensor | None = None, update_emas: bool = False, **_ignored: Any) -> torch.Tensor:
        # noise_mode / noise exist for interface parity with StyleGAN2; StyleGAN3 has no noise inputs.
        # transform: optional user inverse transform [3, 3] / [B, 3, 3] as a graph input (engines can
        # then rotate / pan live); None uses the `input.transform` buffer.
        assert noise_mode in ("const", "random", "none"), f"unknown noise_mode {noise_mode!r}"
        assert ws.ndim == 3 and ws.shape[1:] == (self.num_ws, self.w_dim), \
            f"ws must be [B, {self.num_ws}, {self.w_dim}], got {list(ws.shape)}"
        per_layer = ws.to(torch.float32).unbind(dim=1)  # num_ws x [B, w_dim]
        x = self.input(per_layer[0], transform)
        for name, w in zip(self.layer_names, per_layer[1:]):
            x = getattr(self, name)(x, w, update_emas=update_emas)
        if self.output_scale != 1:
            x = x * self.output_scale
        return x.contiguous()  # [B, img_channels, R, R], plain NCHW for consumers


class Generator(torch.nn.Module):
    """StyleGAN3 generator: `mapping` (z -> ws) and `synthesis` (ws -> image), NVlabs-compatible state."""

    def __init__(self, config: StyleGAN3Config):
        super().__init__()
        if isinstance(config, dict):
            config = StyleGAN3Config.from_dict(config)
        self.config = config
        self.z_dim, self.c_dim, self.w_dim = config.z_dim, config.c_dim, config.w_dim
        self.img_resolution, self.img_channels = config.img_resolution, config.img_channels
        # Construction order (synthesis first) mirrors NVlabs, so state_dict key order matches too.
        self.synthesis = SynthesisNetwork(config)
        self.num_ws = self.synthesis.num_ws
        self.mapping = MappingNetwork(config, self.num_ws)

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None, truncation_psi: float = 1.0,
                truncation_cutoff: int | None = None, noise_mode: str = "const", update_emas: bool = False) -> torch.Tensor:
        ws = self.mapping(z, c, truncation_psi=truncation_psi, truncation_cutoff=truncation_cutoff, update_emas=update_emas)
        return self.synthesis(ws, noise_mode=noise_mode, update_emas=update_emas)

    @torch.no_grad()
    def set_input_transform(self, rotate_deg: float = 0.0, translate: tuple[float, float] = (0.0, 0.0)) -> None:
        """Rotate (degrees) and translate (in image widths: the image spans [-0.5, 0.5]) the generated
        image, as NVlabs' gen_images / visualizer do: the inverse goes into synthesis.input.transform."""
        self.synthesis.input.transform.copy_(input_transform(rotate_deg, translate).to(self.synthesis.input.transform))


def input_transform(rotate_deg: float = 0.0, translate: tuple[float, float] = (0.0, 0.0)) -> torch.Tensor:
    """[3, 3] inverse user transform for `synthesis(ws, transform=...)` / the `input.transform` buffer."""
    angle = math.radians(rotate_deg)
    s, c = math.sin(angle), math.cos(angle)
    m = np.array([[c, s, translate[0]], [-s, c, translate[1]], [0.0, 0.0, 1.0]])
    return torch.from_numpy(np.linalg.inv(m)).to(torch.float32)
