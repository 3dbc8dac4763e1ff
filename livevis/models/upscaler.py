"""A small learned upscaler: SRVGGNet-compact-style residual CNN (Real-ESRGAN's live model, the one
Autolume runs) sized for a CPU show.

All convolutions run at the input (generator) resolution; one pixel shuffle makes the x2/x4 output,
added to the bilinear-upsampled input, so an untrained or zero residual is plain bilinear and the
network only learns detail. The residual branch sees only the input's detail (the image minus its
3x3 local mean) and has no biases (convs without bias, PReLU(0) = 0): a flat image has zero detail,
hence zero residual, so a constant image stays constant whatever the weights (a biased branch would
stamp a period-`scale` pattern on flat areas through the pixel shuffle).
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F
from torch import nn

from livevis.errors import LivevisError
from livevis.models.config import StrictConfig


@dataclasses.dataclass
class UpscalerConfig(StrictConfig):
    scale: int = 4            # output edge / input edge: 2 or 4
    channels: int = 32        # feature width of the body convs
    num_conv: int = 6         # 3x3 convs in the body (after the input conv)
    img_channels: int = 3

    def __post_init__(self) -> None:
        if self.scale not in (2, 4):
            raise LivevisError(f"UpscalerConfig: scale must be 2 or 4, got {self.scale}")
        if self.channels < 1 or self.num_conv < 0 or self.img_channels < 1:
            raise LivevisError("UpscalerConfig: channels and img_channels must be positive, num_conv >= 0")


class Upscaler(nn.Module):
    """img [B, C, H, W] in about [-1, 1] -> [B, C, H*scale, W*scale]."""

    def __init__(self, config: UpscalerConfig) -> None:
        super().__init__()
        self.config = config
        c, s = config.channels, config.scale
        layers: list[nn.Module] = [nn.Conv2d(config.img_channels, c, 3, padding=1, bias=False), nn.PReLU(c)]
        for _ in range(config.num_conv):
            layers += [nn.Conv2d(c, c, 3, padding=1, bias=False), nn.PReLU(c)]
        self.body = nn.Sequential(*layers)
        self.to_residual = nn.Conv2d(c, config.img_channels * s * s, 3, padding=1, bias=False)
        nn.init.zeros_(self.to_residual.weight)  # start as bilinear: training adds detail
        self.shuffle = nn.PixelShuffle(s)

    @property
    def scale(self) -> int:
        return self.config.scale

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        base = F.interpolate(img, scale_factor=self.scale, mode="bilinear", align_corners=False)  # [B, C, sH, sW]
        detail = img - F.avg_pool2d(F.pad(img, (1, 1, 1, 1), mode="replicate"), 3, stride=1)      # [B, C, H, W]
        residual = self.shuffle(self.to_residual(self.body(detail)))                               # [B, C, sH, sW]
        return base + residual


def upscaler_flops(config: UpscalerConfig, height: int, width: int) -> float:
    """Multiply-adds x 2 of one forward pass at input size (height, width): for budgeting."""
    c, k = config.channels, 9
    convs = config.img_channels * c + config.num_conv * c * c + c * config.img_channels * config.scale ** 2
    return 2.0 * k * convs * height * width
