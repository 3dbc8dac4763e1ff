"""Sound inversion encoder (Lee et al. 2022, Eq. 1): a ResNet-like 2D CNN over a log-mel window.

It maps one window of audio to
  (a) an L2-normalised embedding in the chosen CLIP model's space (trained contrastively against
      CLIP image/text embeddings), and
  (b) W+ offsets E_a(x) for every ws, so that w_hat = E_a(x) + w for a sampled latent w.

The offset head starts near zero (`offset_init_scale`), so an untrained encoder barely moves w.
Everything in forward is static-shape tensor code: it exports with torch.export / ONNX as is.
"""

from __future__ import annotations

import dataclasses
import math

import torch
import torch.nn.functional as F
from torch import nn

from livevis.errors import LivevisError
from livevis.models.config import StrictConfig


@dataclasses.dataclass
class SoundEncoderConfig(StrictConfig):
    n_mels: int = 80                    # mel bands of the input
    num_frames: int = 59                # STFT frames per window (1 s at 16 kHz, n_fft 1024, hop 256)
    stem_width: int = 32                # channels of the stem (3x3 conv, stride 2)
    widths: tuple[int, ...] = (32, 64, 128, 256)  # channels per stage; every stage halves H and W
    blocks: tuple[int, ...] = (1, 1, 1, 1)        # basic residual blocks per stage (ResNet18: 2, 2, 2, 2)
    embed_dim: int = 512                # CLIP embedding size
    num_ws: int = 14                    # ws of the generator the offsets are for
    w_dim: int = 512                    # width of each w
    offset_scale: float = 1.0           # fixed multiplier on the offset head's output
    offset_init_scale: float = 0.01     # initial std of the offset head, relative to He init
    mel_mean: float = -40.0             # fixed dB normalisation: (mel - mel_mean) / mel_std
    mel_std: float = 30.0               # (power_to_db values lie in about [-100, +40])
    # "fixed": (mel - mel_mean) / mel_std. "window": the window's own mean dB replaces mel_mean, so the
    # input's level (a mic's gain, a recording's loudness) no longer moves the features; the shape of
    # the spectrum and its changes over time stay.
    input_norm: str = "fixed"
    # Width of a band-statistics branch (0: none): per-band mean, spread over time and mean frame-to-
    # frame change of the normalised window through a small MLP, concatenated with the CNN's pooled
    # features. Texture statistics carry from procedural sounds to real recordings better than the
    # CNN's detailed patterns do.
    stats_width: int = 0

    def __post_init__(self) -> None:
        self.widths = tuple(int(w) for w in self.widths)
        self.blocks = tuple(int(b) for b in self.blocks)
        if len(self.widths) == 0 or len(self.widths) != len(self.blocks):
            raise LivevisError(f"SoundEncoderConfig: widths {self.widths} and blocks {self.blocks} "
                               "must be non-empty and of equal length")
        positive = {"n_mels": self.n_mels, "num_frames": self.num_frames, "stem_width": self.stem_width,
                    "embed_dim": self.embed_dim, "num_ws": self.num_ws, "w_dim": self.w_dim}
        bad = [k for k, v in positive.items() if int(v) < 1]
        if bad or min(self.widths) < 1 or min(self.blocks) < 1 or self.mel_std <= 0:
            what = ", ".join(bad) or "widths/blocks/mel_std"
            raise LivevisError(f"SoundEncoderConfig: sizes must be positive ({what})")
        if self.input_norm not in ("fixed", "window"):
            raise LivevisError(f"SoundEncoderConfig: input_norm must be 'fixed' or 'window', got {self.input_norm!r}")
        if int(self.stats_width) < 0 or (self.stats_width and self.num_frames < 2):
            raise LivevisError(f"SoundEncoderConfig: stats_width must be >= 0 (and needs num_frames >= 2), "
                               f"got {self.stats_width}")


def unit_norm(x: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """L2-normalise the last dim with ReduceSum (exports to opset 17, unlike F.normalize's ReduceL2)."""
    return x * torch.rsqrt((x * x).sum(dim=-1, keepdim=True).clamp_min(eps))


class BasicBlock(nn.Module):
    """ResNet basic block: two 3x3 convs with batch norm, 1x1 projection on the skip when shapes change."""

    def __init__(self, in_ch: int, out_ch: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_ch)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_ch)
        # Zero-init the last BN gamma: each block starts as identity (Goyal et al.), stable from step 0.
        nn.init.zeros_(self.bn2.weight)
        self.skip: nn.Module = nn.Identity()
        if stride != 1 or in_ch != out_ch:
            self.skip = nn.Sequential(nn.Conv2d(in_ch, out_ch, 1, stride=stride, bias=False), nn.BatchNorm2d(out_ch))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + self.skip(x))


def band_statistics(x: torch.Tensor) -> torch.Tensor:
    """Normalised log-mel [B, 1, n_mels, frames] -> per band: mean, spread and mean absolute change
    over time, [B, 3 * n_mels]. Pooled with fixed AveragePools (exports to opset 17)."""
    frames = x.shape[3]
    mean = F.avg_pool2d(x, kernel_size=(1, frames))                                     # [B, 1, n_mels, 1]
    spread = torch.sqrt((F.avg_pool2d(x * x, kernel_size=(1, frames)) - mean * mean).clamp_min(1e-6))
    change = F.avg_pool2d((x[..., 1:] - x[..., :-1]).abs(), kernel_size=(1, frames - 1))
    return torch.cat([mean, spread, change], dim=2).flatten(1)                          # [B, 3 * n_mels]


class SoundEncoder(nn.Module):
    """log-mel [B, n_mels, num_frames] (dB) -> (embedding [B, embed_dim] unit norm, w_offset [B, num_ws, w_dim])."""

    def __init__(self, config: SoundEncoderConfig):
        super().__init__()
        self.config = config
        c = config
        self.stem = nn.Sequential(
            nn.Conv2d(1, c.stem_width, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(c.stem_width),
            nn.ReLU(),
        )
        stages = []
        in_ch = c.stem_width
        # A strided first block per stage instead of ResNet's max pool: same resolutions, fewer ops.
        for width, count in zip(c.widths, c.blocks):
            blocks = [BasicBlock(in_ch, width, stride=2)]
            blocks += [BasicBlock(width, width, stride=1) for _ in range(count - 1)]
            stages.append(nn.Sequential(*blocks))
            in_ch = width
        self.stages = nn.Sequential(*stages)
        self.stats: nn.Module | None = None
        if c.stats_width:
            self.stats = nn.Sequential(nn.Linear(3 * c.n_mels, c.stats_width), nn.ReLU(),
                                       nn.Linear(c.stats_width, c.stats_width), nn.ReLU())
            in_ch += c.stats_width
        self.feature_dim = in_ch
        self.embed_head = nn.Linear(in_ch, c.embed_dim)
        self.offset_head = nn.Linear(in_ch, c.num_ws * c.w_dim)
        nn.init.normal_(self.offset_head.weight, std=c.offset_init_scale * math.sqrt(2.0 / in_ch))
        nn.init.zeros_(self.offset_head.bias)

    def features(self, mel: torch.Tensor) -> torch.Tensor:
        """log-mel [B, n_mels, num_frames] -> pooled CNN features [B, feature_dim]."""
        c = self.config
        if mel.ndim != 3 or mel.shape[1] != c.n_mels or mel.shape[2] != c.num_frames:
            raise LivevisError(f"sound encoder expects log-mel [B, {c.n_mels}, {c.num_frames}], "
                               f"got {list(mel.shape)}")
        x = mel.unsqueeze(1)                             # [B, 1, n_mels, frames]
        # Means as fixed-window AveragePools: mean(dim=...) and adaptive pooling both lower to
        # ReduceMean, whose axes are an input from opset 18 on and do not convert down to opset 17
        # (what older TensorRT parsers want).
        if c.input_norm == "window":
            x = (x - F.avg_pool2d(x, kernel_size=(c.n_mels, c.num_frames))) / c.mel_std
        else:
            x = (x - c.mel_mean) / c.mel_std             # about unit scale
        y = self.stages(self.stem(x))                    # [B, C, h, w]
        feat = F.avg_pool2d(y, kernel_size=(y.shape[2], y.shape[3])).flatten(1)  # [B, C]
        if self.stats is None:
            return feat
        return torch.cat([feat, self.stats(band_statistics(x))], dim=1)          # [B, C + stats_width]

    def forward(self, mel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        c = self.config
        feat = self.features(mel)                                         # [B, C]
        embedding = unit_norm(self.embed_head(feat))                      # [B, embed_dim]
        offset = self.offset_head(feat) * c.offset_scale                  # [B, num_ws * w_dim]
        offset = offset.reshape(feat.shape[0], c.num_ws, c.w_dim)         # [B, num_ws, w_dim]
        return embedding, offset
