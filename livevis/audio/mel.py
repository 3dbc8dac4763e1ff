"""Causal log-mel spectrograms with torch.stft, matching librosa (center=False, Slaney filters).

`log_mel` is the one-shot contract; `StreamingLogMel` produces the window ending at a ring's write
head every step, computing only the STFT frames that are new since the last step when it can.
"""

from __future__ import annotations

import functools

import numpy as np
import torch

# librosa.power_to_db's default floor: 10 * log10(1e-10) = -100 dB.
_AMIN = 1e-10


@functools.lru_cache(maxsize=16)
def _mel_filterbank_np(sample_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float | None) -> np.ndarray:
    import librosa  # heavy import: only when a filterbank is first needed

    fb = librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, htk=False, norm="slaney")
    fb = fb.astype(np.float32)  # [n_mels, n_fft // 2 + 1]
    fb.setflags(write=False)
    return fb


def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, fmin: float = 0.0, fmax: float | None = None,
                   device: str | torch.device = "cpu") -> torch.Tensor:
    """librosa's Slaney mel filterbank as a float32 tensor [n_mels, n_fft // 2 + 1]."""
    fb = _mel_filterbank_np(int(sample_rate), int(n_fft), int(n_mels), float(fmin), None if fmax is None else float(fmax))
    return torch.from_numpy(fb.copy()).to(device)


def _power_to_db(mel_power: torch.Tensor) -> torch.Tensor:
    return 10.0 * torch.log10(torch.clamp(mel_power, min=_AMIN))


def log_mel(samples, sample_rate: int, n_fft: int, hop_length: int, n_mels: int, fmin: float = 0.0,
            fmax: float | None = None):
    """Log-mel power spectrogram in dB of causal frames (center=False).

    samples: [N] (or [B, N]) float, numpy or torch. Returns [n_mels, frames] (or [B, n_mels, frames]),
    frames = 1 + (N - n_fft) // hop_length, of the same kind as the input (torch stays on its device).
    Equals librosa.power_to_db(librosa.feature.melspectrogram(..., center=False), ref=1.0, top_db=None).
    """
    is_numpy = not isinstance(samples, torch.Tensor)
    x = torch.from_numpy(np.ascontiguousarray(samples, dtype=np.float32)) if is_numpy else samples.float()
    if x.dim() not in (1, 2):
        raise ValueError(f"log_mel expects [N] or [B, N] samples, got shape {tuple(x.shape)}")
    if x.shape[-1] < n_fft:
        raise ValueError(f"log_mel needs at least n_fft={n_fft} samples, got {x.shape[-1]}")
    window = torch.hann_window(n_fft, periodic=True, device=x.device)
    fb = mel_filterbank(sample_rate, n_fft, n_mels, fmin, fmax, device=x.device)  # [n_mels, bins]
    spec = torch.stft(x, n_fft, hop_length, window=window, center=False, return_complex=True)  # [(B,) bins, frames]
    power = spec.real.square() + spec.imag.square()
    out = _power_to_db(torch.matmul(fb, power))  # [(B,) n_mels, frames]
    return out.cpu().numpy() if is_numpy else out


class StreamingLogMel:
    """The log-mel window of `window_seconds` ending at the newest sample, for the live path.

    `__call__(window)` recomputes every frame; `update(window, end_index)` reuses the frames of the
    previous call when the window moved by a whole number of hops (read the ring at
    `aligned_end(write_index)` to make that the common case) and computes only the new ones.
    Both return [1, n_mels, num_frames] float32 on `device`. The returned tensor is a reused buffer:
    it stays valid until the next call of the same method; clone it to keep it longer.
    """

    def __init__(self, sample_rate: int, n_fft: int, hop_length: int, n_mels: int, window_seconds: float,
                 fmin: float = 0.0, fmax: float | None = None, device: str | torch.device = "cpu"):
        self.sample_rate = int(sample_rate)
        self.n_fft = int(n_fft)
        self.hop_length = int(hop_length)
        self.n_mels = int(n_mels)
        self.device = torch.device(device)
        self.window_samples = int(round(window_seconds * sample_rate))
        if self.window_samples < self.n_fft:
            raise ValueError(f"window of {window_seconds} s is shorter than n_fft={n_fft} samples")
        self.num_frames = 1 + (self.window_samples - self.n_fft) // self.hop_length
        self._window = torch.hann_window(self.n_fft, periodic=True, device=self.device)
        self._fb = mel_filterbank(sample_rate, n_fft, n_mels, fmin, fmax, device=self.device)  # [n_mels, bins]
        self._full_out = torch.empty(1, self.n_mels, self.num_frames, device=self.device)
        # Incremental path: two buffers used in turn, so shifting old frames never copies onto itself.
        self._ping = [torch.empty(self.n_mels, self.num_frames, device=self.device) for _ in range(2)]
        self._current = 0
        self._last_end: int | None = None

    def aligned_end(self, write_index: int) -> int:
        """The newest end index on the hop grid, so consecutive windows share frames."""
        return write_index - write_index % self.hop_length

    def _frames_db(self, samples: torch.Tensor, out: torch.Tensor) -> None:
        """dB mel frames of `samples` [L] (L = n_fft + (k-1) * hop) written into out [n_mels, k]."""
        spec = torch.stft(samples, self.n_fft, self.hop_length, window=self._window, center=False,
                          return_complex=True)  # [bins, k]
        power = spec.real.square() + spec.imag.square()
        torch.matmul(self._fb, power, out=out)
        out.clamp_(min=_AMIN).log10_().mul_(10.0)

    def _check(self, samples: torch.Tensor) -> None:
        assert samples.shape == (self.window_samples,), (tuple(samples.shape), self.window_samples)
        assert samples.dtype == torch.float32 and samples.device.type == self.device.type, (samples.dtype, samples.device)

    def __call__(self, samples: torch.Tensor) -> torch.Tensor:
        """samples: [window_samples] float32 on device -> [1, n_mels, num_frames] (full recompute)."""
        self._check(samples)
        self._frames_db(samples, self._full_out[0])
        return self._full_out

    def update(self, samples: torch.Tensor, end_index: int) -> torch.Tensor:
        """Like `__call__` for the window ending at absolute sample `end_index`, reusing earlier frames."""
        self._check(samples)
        prev, out = self._ping[self._current], self._ping[1 - self._current]
        shift = None if self._last_end is None else end_index - self._last_end
        if shift is None or shift < 0 or shift % self.hop_length or shift // self.hop_length >= self.num_frames:
            self._frames_db(samples, out)
        else:
            new = shift // self.hop_length
            keep = self.num_frames - new
            out[:, :keep].copy_(prev[:, new:])
            if new:
                # The last `new` frames need n_fft + (new - 1) * hop samples, ending where frame k ends.
                last_frame_end = (self.num_frames - 1) * self.hop_length + self.n_fft
                start = last_frame_end - self.n_fft - (new - 1) * self.hop_length
                self._frames_db(samples[start:last_frame_end], out[:, keep:])
        self._current = 1 - self._current
        self._last_end = end_index
        return out.unsqueeze(0)  # [1, n_mels, num_frames]

    def reset(self) -> None:
        """Forget cached frames (e.g. after the source restarted its indices)."""
        self._last_end = None
