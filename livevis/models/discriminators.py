"""Discriminators for the generator and video stages.

ImageDiscriminator: StyleGAN2-style residual D (equalised learning rate, [1, 3, 3, 1] blur before
    every down-sampling, minibatch standard deviation, conv + fc epilogue); one logit per image [B, 1].
VideoDiscriminator: 3D PatchGAN (MoCoGAN-HD style) whose convs have a real temporal kernel
    (>= 3 frames), so it judges motion, not frames one at a time; patch logits [B, 1, T', h, w].
    (The authors' released video D had a temporal kernel of 1: it could not see motion at all.)
All ops are plain PyTorch.
"""

from __future__ import annotations

import dataclasses
import math

import torch
import torch.nn.functional as F
from torch import nn

from livevis.errors import LivevisError
from livevis.models.config import StrictConfig

_LRELU_GAIN = math.sqrt(2.0)


class EqualConv2d(nn.Module):
    """Conv with weights stored at unit variance and scaled by 1/sqrt(fan_in) at run time (equalised lr)."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, bias: bool = True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_ch, in_ch, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(out_ch)) if bias else None
        self.scale = 1.0 / math.sqrt(in_ch * kernel * kernel)
        self.padding = kernel // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, padding=self.padding)


class EqualLinear(nn.Module):
    def __init__(self, in_dim: int, out_dim: int):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_dim, in_dim))
        self.bias = nn.Parameter(torch.zeros(out_dim))
        self.scale = 1.0 / math.sqrt(in_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.scale, self.bias)


def _lrelu(x: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(x, 0.2) * _LRELU_GAIN


class Downsample2d(nn.Module):
    """[1, 3, 3, 1] separable blur then stride 2 (the anti-aliased down-sampling of StyleGAN2's D)."""

    def __init__(self, channels: int):
        super().__init__()
        k = torch.tensor([1.0, 3.0, 3.0, 1.0])
        k = torch.outer(k, k)
        self.register_buffer("kernel", (k / k.sum()).expand(channels, 1, 4, 4).contiguous(), persistent=False)
        self.channels = channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.kernel, stride=2, padding=1, groups=self.channels)  # [B, C, H/2, W/2]


class DiscriminatorBlock(nn.Module):
    """conv3x3 -> conv3x3 -> blur/2, plus a blur/2 -> 1x1 skip; the sum scaled by 1/sqrt(2)."""

    def __init__(self, in_ch: int, out_ch: int):
        super().__init__()
        self.conv0 = EqualConv2d(in_ch, in_ch, 3)
        self.conv1 = EqualConv2d(in_ch, out_ch, 3)
        self.down = Downsample2d(in_ch)
        self.down_out = Downsample2d(out_ch)
        self.skip = EqualConv2d(in_ch, out_ch, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = _lrelu(self.conv0(x))
        y = self.down_out(_lrelu(self.conv1(y)))
        return (self.skip(self.down(x)) + y) / math.sqrt(2.0)


@dataclasses.dataclass
class ImageDiscriminatorConfig(StrictConfig):
    img_resolution: int = 256           # input H = W, a power of two >= 8
    img_channels: int = 3
    channel_base: int = 16384           # channels at resolution r: min(channel_base // r, channel_max)
    channel_max: int = 512
    mbstd_group_size: int = 4           # minibatch-std group (clipped to the batch size)
    mbstd_num_channels: int = 1

    def __post_init__(self) -> None:
        r = self.img_resolution
        if r < 8 or r & (r - 1):
            raise LivevisError(f"ImageDiscriminatorConfig: img_resolution must be a power of two >= 8, got {r}")
        if self.channel_base < 1 or self.channel_max < 1 or self.mbstd_group_size < 1 or self.mbstd_num_channels < 1:
            raise LivevisError("ImageDiscriminatorConfig: channel_base, channel_max and mbstd sizes must be positive")


class ImageDiscriminator(nn.Module):
    """img [B, img_channels, R, R] in [-1, 1] -> logits [B, 1] (real > 0)."""

    def __init__(self, config: ImageDiscriminatorConfig):
        super().__init__()
        self.config = config
        c = config

        def channels(res: int) -> int:
            return max(1, min(c.channel_base // res, c.channel_max))

        res_log2 = int(math.log2(c.img_resolution))
        self.from_rgb = EqualConv2d(c.img_channels, channels(c.img_resolution), 1)
        self.blocks = nn.ModuleList(
            DiscriminatorBlock(channels(2 ** r), channels(2 ** (r - 1))) for r in range(res_log2, 2, -1)
        )
        ch4 = channels(4)
        if ch4 % c.mbstd_num_channels:
            raise LivevisError(f"ImageDiscriminatorConfig: mbstd_num_channels must divide the 4x4 channels ({ch4})")
        self.epilogue_conv = EqualConv2d(ch4 + c.mbstd_num_channels, ch4, 3)
        self.epilogue_fc = EqualLinear(ch4 * 16, ch4)
        self.out = EqualLinear(ch4, 1)

    def minibatch_std(self, x: torch.Tensor) -> torch.Tensor:
        """Append the std over groups of samples as extra feature maps (lets D see lack of variety)."""
        B, C, H, W = x.shape
        G = min(self.config.mbstd_group_size, B)
        if B % G != 0:
            G = 1  # keeps every sample in exactly one group; batch sizes are static at trace time
        F_ = self.config.mbstd_num_channels
        y = x.reshape(G, B // G, F_, C // F_, H, W)                 # [G, n, F, c, H, W]
        y = (y - y.mean(dim=0)).square().mean(dim=0)                 # [n, F, c, H, W]
        y = (y + 1e-8).sqrt().mean(dim=(2, 3, 4))                    # [n, F]
        y = y.reshape(-1, F_, 1, 1).repeat(G, 1, H, W)               # [B, F, H, W]
        return torch.cat([x, y], dim=1)

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        c = self.config
        if img.ndim != 4 or tuple(img.shape[1:]) != (c.img_channels, c.img_resolution, c.img_resolution):
            raise LivevisError(f"image discriminator expects [B, {c.img_channels}, {c.img_resolution}, "
                               f"{c.img_resolution}], got {list(img.shape)}")
        x = _lrelu(self.from_rgb(img))                 # [B, C_R, R, R]
        for block in self.blocks:
            x = block(x)                               # halves H and W
        x = self.minibatch_std(x)                      # [B, C_4 + F, 4, 4]
        x = _lrelu(self.epilogue_conv(x))              # [B, C_4, 4, 4]
        x = _lrelu(self.epilogue_fc(x.flatten(1)))     # [B, C_4]
        return self.out(x)                             # [B, 1]


@dataclasses.dataclass
class VideoDiscriminatorConfig(StrictConfig):
    img_resolution: int = 256           # frame H = W
    img_channels: int = 3
    base_channels: int = 64             # channels of the first layer, doubled per down-sampling layer
    max_channels: int = 512
    num_layers: int = 4                 # spatially strided (stride 2) 3D conv layers before the logit conv
    temporal_kernel: int = 3            # frames each conv sees; >= 3 so D has a temporal receptive field
    norm: str = "instance"              # "instance" (per-sample InstanceNorm3d after layer 1+) or "none"

    def __post_init__(self) -> None:
        if self.temporal_kernel < 3 or self.temporal_kernel % 2 == 0:
            raise LivevisError("VideoDiscriminatorConfig: temporal_kernel must be odd and >= 3, "
                               f"got {self.temporal_kernel}")
        if self.norm not in ("instance", "none"):
            raise LivevisError(f"VideoDiscriminatorConfig: norm must be 'instance' or 'none', got {self.norm!r}")
        if self.num_layers < 1 or self.img_resolution < 2 ** (self.num_layers + 1):
            raise LivevisError(f"VideoDiscriminatorConfig: {self.num_layers} down-sampling layers need frames of "
                               f"at least {2 ** (self.num_layers + 1)} px, got {self.img_resolution}")


class VideoDiscriminator(nn.Module):
    """video [B, T, C, R, R] in [-1, 1] -> patch logits [B, 1, T, R / 2^num_layers - 1, same].

    Temporal padding keeps T; each of the num_layers + 1 convs spans `temporal_kernel` frames, so an
    output position sees (temporal_kernel - 1) * (num_layers + 1) + 1 frames around it.
    """

    def __init__(self, config: VideoDiscriminatorConfig):
        super().__init__()
        self.config = config
        c = config
        kt, pt = c.temporal_kernel, c.temporal_kernel // 2
        layers: list[nn.Module] = []
        in_ch = c.img_channels
        for i in range(c.num_layers):
            out_ch = min(c.base_channels * 2 ** i, c.max_channels)
            layers.append(nn.Conv3d(in_ch, out_ch, (kt, 4, 4), stride=(1, 2, 2), padding=(pt, 1, 1)))
            if i > 0 and c.norm == "instance":
                layers.append(nn.InstanceNorm3d(out_ch, affine=True))
            layers.append(nn.LeakyReLU(0.2))
            in_ch = out_ch
        # Final patch logit conv: stride 1, 4x4 spatial kernel (PatchGAN), temporal kernel as above.
        layers.append(nn.Conv3d(in_ch, 1, (kt, 4, 4), stride=1, padding=(pt, 1, 1)))
        self.net = nn.Sequential(*layers)

    @property
    def temporal_receptive_field(self) -> int:
        return (self.config.temporal_kernel - 1) * (self.config.num_layers + 1) + 1

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        c = self.config
        if video.ndim != 5 or tuple(video.shape[2:]) != (c.img_channels, c.img_resolution, c.img_resolution):
            raise LivevisError(f"video discriminator expects [B, T, {c.img_channels}, {c.img_resolution}, "
                               f"{c.img_resolution}], got {list(video.shape)}")
        x = video.permute(0, 2, 1, 3, 4)  # [B, C, T, R, R]: Conv3d wants channels before time
        return self.net(x)                # [B, 1, T, h, w]
