"""The numbers `livevis eval` reports, as plain functions of arrays (tested on constructed cases).

    onset_envelope    causal spectral flux of a signal (librosa.onset.onset_strength's definition on
                      the live front end's center=False log-mel), stamped with the sample it ends at
    strength_per_step the envelope averaged over each step interval (b_{t-1}, b_t]
    frame_change      mean absolute change between consecutive generated frames
    pearson           correlation over time; NaN when either side is constant
    sync_r            mean correlation over clips (clips without timing information left out)
    accuracy          overall and per-class accuracy of frame predictions
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch


def onset_envelope(audio: np.ndarray, sample_rate: int, n_fft: int = 1024, hop_length: int = 256,
                   n_mels: int = 80) -> tuple[np.ndarray, np.ndarray]:
    """audio float32 [N] -> (strength [F-1], end sample of each value [F-1]).

    strength[f] = mean over mel bands of max(0, dB[f+1] - dB[f]) (spectral flux, lag 1), computed on
    center=False frames: frame f+1 covers samples [(f+1) * hop, (f+1) * hop + n_fft), so the value is
    known once its last sample has arrived (causal, as the live path sees sound).
    """
    from livevis.audio import log_mel

    audio = np.ascontiguousarray(audio, dtype=np.float32)
    if audio.shape[0] < n_fft + hop_length:
        return np.zeros(0, np.float32), np.zeros(0, np.int64)
    mel = log_mel(audio, sample_rate, n_fft, hop_length, n_mels)               # [n_mels, F] dB
    flux = np.maximum(np.diff(mel, axis=1), 0.0).mean(axis=0)                   # [F-1]
    ends = np.arange(1, mel.shape[1]) * hop_length + n_fft                      # [F-1]
    return flux.astype(np.float32), ends.astype(np.int64)


def strength_per_step(strength: np.ndarray, ends: np.ndarray, step_samples: int, steps: int) -> np.ndarray:
    """Mean envelope over each step t's interval ((t) * step_samples, (t + 1) * step_samples] -> [steps].

    A step without any envelope value (before the first full STFT frame) gets 0.
    """
    out = np.zeros(steps, np.float64)
    which = (ends - 1) // step_samples                                           # [F-1] step of each value
    for t in range(steps):
        sel = strength[which == t]
        out[t] = float(sel.mean()) if sel.size else 0.0
    return out


def frame_change(frames: torch.Tensor) -> np.ndarray:
    """frames [T, 3, H, W] (any range) -> [T-1]: mean |frame[t] - frame[t-1]| over pixels."""
    assert frames.ndim == 4 and frames.shape[0] >= 2, tuple(frames.shape)
    f = frames.float()
    return (f[1:] - f[:-1]).abs().mean(dim=(1, 2, 3)).cpu().numpy().astype(np.float64)


def pearson(x: Sequence[float], y: Sequence[float], eps: float = 1e-9) -> float:
    """Pearson correlation of two equally long series; NaN when either is (numerically) constant."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    assert x.shape == y.shape and x.ndim == 1, (x.shape, y.shape)
    if x.size < 3:
        return math.nan
    xc, yc = x - x.mean(), y - y.mean()
    sx, sy = math.sqrt(float(xc @ xc)), math.sqrt(float(yc @ yc))
    # Constant up to rounding: a correlation would be noise over noise.
    if sx / math.sqrt(x.size) <= eps * (1.0 + np.abs(x).mean()) or sy / math.sqrt(y.size) <= eps * (1.0 + np.abs(y).mean()):
        return math.nan
    return float(xc @ yc) / (sx * sy)


def clip_sync(change: np.ndarray, strength: np.ndarray) -> float:
    """Correlation of a clip's frame change [T-1] with its onset strength [T] (steps 1..T-1: the
    change into frame t goes with the sound of step t)."""
    assert change.shape[0] == strength.shape[0] - 1, (change.shape, strength.shape)
    return pearson(change, strength[1:])


def mean_ignoring_nan(values: Sequence[float]) -> float:
    """Mean of the finite values; NaN when there are none."""
    vals = [v for v in values if v is not None and math.isfinite(v)]
    return float(np.mean(vals)) if vals else math.nan


def accuracy(pred: Sequence[int], labels: Sequence[int], classes: Sequence[str]) -> tuple[float, dict[str, float]]:
    """(overall accuracy, {class: accuracy}) over predictions; classes without samples are left out."""
    pred, labels = np.asarray(pred), np.asarray(labels)
    assert pred.shape == labels.shape, (pred.shape, labels.shape)
    if labels.size == 0:
        return math.nan, {}
    per_class = {}
    for k, name in enumerate(classes):
        mask = labels == k
        if mask.any():
            per_class[name] = float((pred[mask] == k).mean())
    return float((pred == labels).mean()), per_class
