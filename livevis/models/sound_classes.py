"""What a sound is, and where in W its scene lies: the bundle's optional "sound_classes" part.

A small classifier names the class of one log-mel window (the dataset's classes: thunderstorm,
rain, ...) from level-normalised sound-texture statistics in the spirit of McDermott & Simoncelli
(2011), who showed that such statistics are what makes rain sound like rain: per mel band the mean,
spread, skewness and kurtosis of the level over time and its mean change; the correlations between
coarse bands; and how each coarse band's level fluctuation spreads over octave-wide modulation rates.
They carry from procedural training sounds to real recordings better than a CNN's detailed patterns
(issue 13: on the validation recordings, 56-60% of windows named right against 43-49% with band
means, spreads and changes alone, both trained alike, and 41% for the CLIP-aligned encoder's
zero-shot label; BENCHMARKS.md).

Beside it, `scenes` holds a few W latents per class of the bundle's generator whose pictures show that
class (found by `livevis train sound-classes` from the dataset's real frames): one w for every layer,
or, when `num_ws` is set, one w per layer (W+), which reaches scenes the generator's mapping rarely or
never samples. The learned mode moves its scene to `scene(posterior, pick)`, the posterior-weighted
mix of each class's pick-th latent (livevis.pipeline.sound_scene); the sound model's motion rides on it.
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F
from torch import nn

from livevis.errors import LivevisError
from livevis.models.config import StrictConfig

COARSE_BANDS = 10   # bands (of the mel bands, pooled) whose correlations and modulation spectra are kept
MODULATION_OCTAVES = 5  # rFFT bins [1, 2), [2, 4), [4, 8), [8, 16), [16, end) of a band's level over time


def texture_statistics(x: torch.Tensor) -> torch.Tensor:
    """Level-normalised log-mel [B, n_mels, T] (about unit scale) -> [B, 5 n_mels + C(C-1)/2 + 5 C]:
    per band mean, spread, skewness, kurtosis and mean absolute change over time; correlations of C
    coarse bands; each coarse band's modulation power per octave of rate (shares, summing to 1)."""
    B, M, T = x.shape
    mean = x.mean(2)                                                            # [B, M]
    centred = x - mean.unsqueeze(2)
    spread = centred.pow(2).mean(2).clamp_min(1e-6).sqrt()
    z = centred / spread.unsqueeze(2)
    skew = z.pow(3).mean(2).clamp(-5, 5) / 2
    kurt = (z.pow(4).mean(2) - 3).clamp(-5, 20) / 5
    change = (x[..., 1:] - x[..., :-1]).abs().mean(2)
    c = min(COARSE_BANDS, M)
    coarse = F.adaptive_avg_pool1d(x.transpose(1, 2), c).transpose(1, 2)        # [B, c, T]
    coarse = coarse - coarse.mean(2, keepdim=True)
    unit = coarse / coarse.pow(2).mean(2, keepdim=True).clamp_min(1e-6).sqrt()
    iu = torch.triu_indices(c, c, 1, device=x.device)
    corr = (unit @ unit.transpose(1, 2) / T)[:, iu[0], iu[1]]                  # [B, c(c-1)/2]
    power = torch.fft.rfft(coarse, dim=2).abs().pow(2)                          # [B, c, T//2 + 1]
    edges = [1, 2, 4, 8, 16, power.shape[2]]
    mod = torch.stack([power[..., a:max(a, b)].sum(-1) for a, b in zip(edges[:-1], edges[1:])], -1)  # [B, c, 5]
    mod = (mod / mod.sum(-1, keepdim=True).clamp_min(1e-9)).flatten(1)
    return torch.cat([mean, spread, skew, kurt, change, corr, mod], dim=1)


def texture_dim(n_mels: int) -> int:
    c = min(COARSE_BANDS, n_mels)
    return 5 * n_mels + c * (c - 1) // 2 + MODULATION_OCTAVES * c


@dataclasses.dataclass
class SoundClassesConfig(StrictConfig):
    n_mels: int = 80             # mel bands of the input window
    num_frames: int = 59         # STFT frames per window
    num_classes: int = 9         # the bundle's classes, in its order
    hidden: int = 256            # width of the first hidden layer (the second is half)
    dropout: float = 0.3         # between them, while training
    mel_std: float = 30.0        # dB scale of the window-normalised input (as the sound encoder's)
    w_dim: int = 512             # generator's w width
    scenes_per_class: int = 4    # W latents kept per class
    num_ws: int = 0              # 0: a scene is one w [w_dim]; N: a W+ latent [N, w_dim] (one w per layer)

    def __post_init__(self) -> None:
        sizes = {"n_mels": self.n_mels, "num_classes": self.num_classes, "hidden": self.hidden, "w_dim": self.w_dim,
                 "scenes_per_class": self.scenes_per_class}
        bad = [k for k, v in sizes.items() if int(v) < 1]
        if bad or self.num_frames < 2 or self.mel_std <= 0 or not 0.0 <= self.dropout < 1.0 or self.num_ws < 0:
            raise LivevisError(f"SoundClassesConfig: sizes must be positive and num_frames >= 2 ({', '.join(bad) or 'values'})")


class SoundClasses(nn.Module):
    """log-mel [B, n_mels, num_frames] (dB) -> class logits [B, num_classes]; `scenes` [K, P, w_dim], or
    [K, P, num_ws, w_dim] when config.num_ws is set."""

    def __init__(self, config: SoundClassesConfig):
        super().__init__()
        self.config = c = config
        half = max(1, c.hidden // 2)
        self.net = nn.Sequential(nn.Linear(texture_dim(c.n_mels), c.hidden), nn.ReLU(), nn.Dropout(c.dropout),
                                 nn.Linear(c.hidden, half), nn.ReLU(), nn.Linear(half, c.num_classes))
        per_layer = (c.num_ws,) if c.num_ws else ()
        self.register_buffer("scenes", torch.zeros(c.num_classes, c.scenes_per_class, *per_layer, c.w_dim))

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        c = self.config
        if mel.ndim != 3 or mel.shape[1] != c.n_mels or mel.shape[2] != c.num_frames:
            raise LivevisError(f"sound class model expects log-mel [B, {c.n_mels}, {c.num_frames}], got {list(mel.shape)}")
        x = mel.float()                                               # [B, n_mels, frames]
        # The window's own mean level is taken out: a mic's gain or a file's loudness says nothing of
        # what the sound is.
        x = (x - x.mean(dim=(1, 2), keepdim=True)) / c.mel_std
        return self.net(texture_statistics(x))                        # [B, K]

    def scene(self, probs: torch.Tensor, pick: int) -> torch.Tensor:
        """probs [K] (sum 1) -> w [w_dim] (or [num_ws, w_dim]): the mix of every class's pick-th scene latent."""
        assert probs.ndim == 1 and probs.shape[0] == self.config.num_classes, f"probs must be [{self.config.num_classes}], got {tuple(probs.shape)}"
        chosen = self.scenes[:, int(pick) % self.config.scenes_per_class]  # [K, w_dim] or [K, num_ws, w_dim]
        return torch.tensordot(probs.to(chosen), chosen, dims=1)
