"""Sound tokenizer: a VQ autoencoder over log-mel spectrograms (the audio half of Sounding Video
Generator's SVG-VQGAN, Liu et al.), and Griffin-Lim back to a waveform.

    log-mel dB [B, n_mels, T] --(normalise, 1-D conv encoder, time / 2**levels)--> z_e [B, code_dim, L]
        --(nearest codebook entry, EMA codebook)--> codes [B, L] / z_q [B, code_dim, L]
        --(1-D transposed-conv decoder)--> log-mel dB [B, n_mels, L * 2**levels]

Mel bands are the conv channels and time is the convolved axis, so any length works: a clip of a
few seconds is one token sequence for the text-to-sound Transformer. The codebook is learnt by
exponential moving averages (van den Oord et al. 2017, appendix), with entries that fell out of use
restarted on encoder outputs of the batch; `perplexity` = exp(entropy of the code histogram) says
how much of it is used. Training-only parts (patch discriminator, contrastive heads) live here too,
but bundles keep only `SoundTokenizer`.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from livevis.errors import LivevisError
from livevis.models.config import StrictConfig


@dataclasses.dataclass
class SoundTokenizerConfig(StrictConfig):
    n_mels: int = 80  # mel bands of the bundle's audio front end
    hidden: int = 64  # conv width
    code_dim: int = 32  # codebook vector size
    codebook_size: int = 64  # vocabulary of the text-to-sound model
    levels: int = 2  # stride-2 stages: one token per 2**levels mel frames
    res_blocks: int = 1  # residual blocks per stage
    mel_mean: float = -40.0  # dB normalisation (measured on the training set by the stage)
    mel_std: float = 20.0
    ema_decay: float = 0.99  # codebook moving-average decay

    def __post_init__(self):
        for name in ("n_mels", "hidden", "code_dim", "codebook_size", "levels"):
            if int(getattr(self, name)) < 1:
                raise LivevisError(f"SoundTokenizerConfig: {name} must be >= 1, got {getattr(self, name)}")
        if self.res_blocks < 0 or self.mel_std <= 0 or not 0.0 < self.ema_decay < 1.0:
            raise LivevisError("SoundTokenizerConfig: need res_blocks >= 0, mel_std > 0, 0 < ema_decay < 1")

    @property
    def factor(self) -> int:
        """Mel frames per token."""
        return 2 ** self.levels


class ResBlock1d(nn.Module):
    def __init__(self, ch: int):
        super().__init__()
        self.conv1 = nn.Conv1d(ch, ch, 3, padding=1)
        self.conv2 = nn.Conv1d(ch, ch, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.gelu(self.conv1(F.gelu(x))))


class EMAQuantizer(nn.Module):
    """Nearest-neighbour vector quantiser with an EMA codebook and dead-code restarts."""

    def __init__(self, size: int, dim: int, decay: float):
        super().__init__()
        self.decay = decay
        g = torch.Generator().manual_seed(1234)
        embed = torch.randn(size, dim, generator=g) * 0.1
        self.register_buffer("embed", embed)                       # [K, D]
        self.register_buffer("cluster_size", torch.ones(size))     # [K] EMA of assignments
        self.register_buffer("embed_avg", embed.clone())           # [K, D] EMA of assigned vectors
        self.register_buffer("initialised", torch.zeros(()))       # 1 once seeded from encoder outputs

    def codes(self, z: torch.Tensor) -> torch.Tensor:
        """z [N, D] -> nearest codebook indices [N]."""
        d = z.pow(2).sum(1, keepdim=True) - 2 * z @ self.embed.T + self.embed.pow(2).sum(1)[None]  # [N, K]
        return d.argmin(1)

    def forward(self, z_e: torch.Tensor):
        """z_e [B, D, L] -> (z_q [B, D, L] straight-through, codes [B, L], commitment loss, perplexity)."""
        B, D, L = z_e.shape
        flat = z_e.permute(0, 2, 1).reshape(-1, D)                 # [B*L, D]
        if self.training and not bool(self.initialised):
            with torch.no_grad():  # start the codebook on real encoder outputs, not on noise
                pick = torch.randint(0, flat.shape[0], (self.embed.shape[0],), device=flat.device)
                self.embed.copy_(flat[pick])
                self.embed_avg.copy_(flat[pick])
                self.cluster_size.fill_(flat.shape[0] / self.embed.shape[0])
                self.initialised.fill_(1.0)
                if torch.distributed.is_available() and torch.distributed.is_initialized():
                    for t in (self.embed, self.embed_avg):
                        torch.distributed.broadcast(t, 0)
        codes = self.codes(flat.detach())                          # [B*L]
        onehot = F.one_hot(codes, self.embed.shape[0]).type(flat.dtype)  # [B*L, K]
        quant = self.embed[codes].clone()                          # [B*L, D] the entries the codes chose
        if self.training:
            with torch.no_grad():
                self._ema_update(flat.detach(), onehot)
        commit = F.mse_loss(flat, quant.detach())
        quant = flat + (quant - flat).detach()
        probs = onehot.mean(0)
        perplexity = torch.exp(-(probs * torch.log(probs + 1e-10)).sum())
        return quant.view(B, L, D).permute(0, 2, 1), codes.view(B, L), commit, perplexity

    def _ema_update(self, flat: torch.Tensor, onehot: torch.Tensor) -> None:
        """EMA codebook step; entries whose usage fell below a fifth of uniform restart on batch
        vectors (drawn with torch's global RNG, which training checkpoints save)."""
        K = self.embed.shape[0]
        counts = onehot.sum(0)                                         # [K]
        sums = onehot.T @ flat                                         # [K, D]
        distributed = torch.distributed.is_available() and torch.distributed.is_initialized()
        if distributed:  # every process keeps the same codebook
            torch.distributed.all_reduce(counts)
            torch.distributed.all_reduce(sums)
        self.cluster_size.mul_(self.decay).add_(counts, alpha=1 - self.decay)
        self.embed_avg.mul_(self.decay).add_(sums, alpha=1 - self.decay)
        n = self.cluster_size.sum()
        size = (self.cluster_size + 1e-5) / (n + K * 1e-5) * n         # Laplace smoothing
        self.embed.copy_(self.embed_avg / size[:, None])
        dead = self.cluster_size < 0.2 * flat.shape[0] / K
        if bool(dead.any()):
            pick = torch.randint(0, flat.shape[0], (int(dead.sum()),), device=flat.device)
            self.embed[dead] = flat[pick]
            self.embed_avg[dead] = flat[pick]
            self.cluster_size[dead] = flat.shape[0] / K  # a fresh entry counts as uniformly used
            if distributed:
                for t in (self.embed, self.embed_avg, self.cluster_size):
                    torch.distributed.broadcast(t, 0)

    def lookup(self, codes: torch.Tensor) -> torch.Tensor:
        """codes [B, L] -> z_q [B, D, L]."""
        return self.embed[codes].permute(0, 2, 1)



class SoundTokenizer(nn.Module):
    def __init__(self, config: SoundTokenizerConfig):
        super().__init__()
        self.config = config
        c = config
        enc = [nn.Conv1d(c.n_mels, c.hidden, 3, padding=1)]
        for _ in range(c.levels):
            enc += [ResBlock1d(c.hidden) for _ in range(c.res_blocks)]
            enc += [nn.GELU(), nn.Conv1d(c.hidden, c.hidden, 4, stride=2, padding=1)]
        enc += [ResBlock1d(c.hidden) for _ in range(c.res_blocks)]
        enc += [nn.GELU(), nn.Conv1d(c.hidden, c.code_dim, 1)]
        self.encoder = nn.Sequential(*enc)
        self.quantizer = EMAQuantizer(c.codebook_size, c.code_dim, c.ema_decay)
        dec = [nn.Conv1d(c.code_dim, c.hidden, 3, padding=1)]
        dec += [ResBlock1d(c.hidden) for _ in range(c.res_blocks)]
        for _ in range(c.levels):
            dec += [nn.GELU(), nn.ConvTranspose1d(c.hidden, c.hidden, 4, stride=2, padding=1)]
            dec += [ResBlock1d(c.hidden) for _ in range(c.res_blocks)]
        dec += [nn.GELU(), nn.Conv1d(c.hidden, c.n_mels, 3, padding=1)]
        self.decoder = nn.Sequential(*dec)

    @property
    def factor(self) -> int:
        return self.config.factor

    def tokens_for(self, frames: int) -> int:
        """Tokens covering `frames` mel frames."""
        return max(1, math.ceil(frames / self.factor))

    def normalise(self, mel_db: torch.Tensor) -> torch.Tensor:
        return (mel_db - self.config.mel_mean) / self.config.mel_std

    def _padded(self, mel_db: torch.Tensor) -> torch.Tensor:
        """[B, n_mels, T] -> [B, n_mels, L * factor], repeating the last frame (never silence)."""
        if mel_db.ndim != 3 or mel_db.shape[1] != self.config.n_mels:
            raise LivevisError(f"sound tokenizer expects log-mel [B, {self.config.n_mels}, T], got {list(mel_db.shape)}")
        T = mel_db.shape[-1]
        pad = self.tokens_for(T) * self.factor - T
        return F.pad(mel_db, (0, pad), mode="replicate") if pad else mel_db

    def encode(self, mel_db: torch.Tensor) -> torch.Tensor:
        """log-mel dB [B, n_mels, T] -> z_e [B, code_dim, ceil(T / factor)]."""
        return self.encoder(self.normalise(self._padded(mel_db)))

    def decode(self, z_q: torch.Tensor) -> torch.Tensor:
        """z_q [B, code_dim, L] -> log-mel dB [B, n_mels, L * factor]."""
        return self.decoder(z_q) * self.config.mel_std + self.config.mel_mean

    def tokenize(self, mel_db: torch.Tensor) -> torch.Tensor:
        """log-mel dB [B, n_mels, T] -> codes [B, ceil(T / factor)] (int64)."""
        flat = self.encode(mel_db)
        B, D, L = flat.shape
        return self.quantizer.codes(flat.permute(0, 2, 1).reshape(-1, D)).view(B, L)

    def decode_tokens(self, codes: torch.Tensor) -> torch.Tensor:
        """codes [B, L] -> log-mel dB [B, n_mels, L * factor]."""
        if codes.ndim != 2 or int(codes.min()) < 0 or int(codes.max()) >= self.config.codebook_size:
            raise LivevisError(f"token ids must be [B, L] in 0..{self.config.codebook_size - 1}")
        return self.decode(self.quantizer.lookup(codes))

    def forward(self, mel_db: torch.Tensor) -> dict[str, torch.Tensor]:
        """log-mel dB [B, n_mels, T] -> {"recon" [B, n_mels, T] dB, "z_e", "z_q" [B, D, L], "codes" [B, L],
        "commit" (scalar), "perplexity" (scalar)}."""
        T = mel_db.shape[-1]
        z_e = self.encode(mel_db)
        z_q, codes, commit, perplexity = self.quantizer(z_e)
        recon = self.decode(z_q)[..., :T]
        return {"recon": recon, "z_e": z_e, "z_q": z_q, "codes": codes, "commit": commit, "perplexity": perplexity}


# ---- training-only parts ---------------------------------------------------------------------------
class MelPatchDiscriminator(nn.Module):
    """PatchGAN over normalised log-mel [B, n_mels, T] seen as a 1-channel image -> logits [B, 1, h, w]."""

    def __init__(self, width: int = 32, layers: int = 3):
        super().__init__()
        mods, ch = [], 1
        for i in range(layers):
            out = width * 2 ** i
            mods += [nn.Conv2d(ch, out, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
            ch = out
        mods += [nn.Conv2d(ch, 1, 3, padding=1)]
        self.net = nn.Sequential(*mods)

    def forward(self, mel_norm: torch.Tensor) -> torch.Tensor:
        return self.net(mel_norm[:, None])


class HybridContrastiveHeads(nn.Module):
    """The hybrid contrastive terms' heads (SVG sec. 3.2).

    inter: a cross-modal attention block pools the audio tokens with the frame's feature as query;
           score(i, j) = cos(proj(pool(frame_i, audio_j)), proj(frame_i)) -> logits [B, B]
    intra: mean-pooled encoder outputs of two augmented views -> projected unit vectors [B, E]
    """

    def __init__(self, code_dim: int, image_dim: int, dim: int = 64, heads: int = 4):
        super().__init__()
        self.audio_in = nn.Linear(code_dim, dim)
        self.image_in = nn.Linear(image_dim, dim)
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.audio_out = nn.Sequential(nn.Linear(dim, dim), nn.GELU(), nn.Linear(dim, dim))
        self.image_out = nn.Linear(dim, dim)
        self.intra = nn.Sequential(nn.Linear(code_dim, dim), nn.GELU(), nn.Linear(dim, dim))
        self.log_scale = nn.Parameter(torch.tensor(math.log(1 / 0.1)))

    def scale(self) -> torch.Tensor:
        return self.log_scale.clamp(max=math.log(100.0)).exp()

    def inter_logits(self, z_q: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        """z_q [B, D, L] audio tokens, image [B, E] frame features -> logits [B(frame), B(audio)]."""
        B = z_q.shape[0]
        a = self.audio_in(z_q.permute(0, 2, 1))                       # [B, L, dim]
        q = self.image_in(image)                                      # [B, dim]
        # Every frame attends over every clip's tokens: queries [B*B, 1, dim], keys [B*B, L, dim].
        qq = q[:, None, None].expand(B, B, 1, q.shape[-1]).reshape(B * B, 1, -1)
        kv = a[None].expand(B, *a.shape).reshape(B * B, a.shape[1], -1)
        pooled, _ = self.attn(qq, kv, kv)                             # [B*B, 1, dim]
        pa = F.normalize(self.audio_out(pooled[:, 0]), dim=-1).view(B, B, -1)  # [B, B, dim]
        pi = F.normalize(self.image_out(q), dim=-1)                   # [B, dim]
        return self.scale() * (pa * pi[:, None]).sum(-1)              # [B, B]

    def intra_embed(self, z_e: torch.Tensor) -> torch.Tensor:
        """z_e [B, D, L] -> unit vectors [B, dim]."""
        return F.normalize(self.intra(z_e.mean(-1)), dim=-1)


# ---- waveform ----------------------------------------------------------------------------------------
def mel_frames_for(samples: int, hop_length: int) -> int:
    """Mel frames Griffin-Lim needs (centred STFT framing) for `samples` samples."""
    return samples // hop_length + 1


def mel_to_waveform(mel_db: np.ndarray | torch.Tensor, fe, samples: int, *, n_iter: int = 32, seed: int = 0) -> np.ndarray:
    """log-mel dB [n_mels, T] (the front end's bands, ref 1.0) -> float32 [samples] by Griffin-Lim
    (librosa.feature.inverse.mel_to_audio) with the front end's STFT; deterministic per seed."""
    import librosa

    mel = mel_db.detach().cpu().numpy() if isinstance(mel_db, torch.Tensor) else np.asarray(mel_db)
    power = librosa.db_to_power(mel.astype(np.float64), ref=1.0)
    # librosa.feature.inverse.mel_to_audio in its two steps, so Griffin-Lim's random phase is seeded.
    stft = librosa.feature.inverse.mel_to_stft(power, sr=fe.sample_rate, n_fft=fe.n_fft, power=2.0, fmin=fe.fmin, fmax=fe.fmax)
    audio = librosa.griffinlim(stft, n_iter=n_iter, hop_length=fe.hop_length, n_fft=fe.n_fft, center=True,
                               length=samples, random_state=np.random.RandomState(seed))
    audio = np.nan_to_num(audio.astype(np.float32))
    peak = float(np.abs(audio).max()) if audio.size else 0.0
    return audio / peak * 0.99 if peak > 0.99 else audio
