"""Level and pitch readings for the `listen` meter: RMS in dBFS and the strongest frequency."""

from __future__ import annotations

import numpy as np

FLOOR_DB = -120.0  # reported for digital silence (JSON has no -inf)


def rms_db(samples: np.ndarray) -> float:
    """RMS level of `samples` [n] in dB re full scale (a full-scale sine reads -3 dB), floored at -120."""
    if samples.size == 0:
        return FLOOR_DB
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
    return max(FLOOR_DB, 20.0 * np.log10(rms)) if rms > 0 else FLOOR_DB


def peak_hz(samples: np.ndarray, sample_rate: int) -> float:
    """Frequency of the largest spectral peak of `samples` [n] (Hann window, parabolic
    interpolation between bins, DC ignored); 0.0 for silence."""
    n = samples.size
    if n < 4 or not np.any(samples):
        return 0.0
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(n)))  # [n // 2 + 1]
    spectrum[0] = 0.0
    k = int(np.argmax(spectrum))
    if spectrum[k] <= 0:
        return 0.0
    shift = 0.0
    if 0 < k < len(spectrum) - 1:
        a, b, c = np.log(spectrum[k - 1 : k + 2] + 1e-30)
        denom = a - 2 * b + c
        shift = 0.5 * (a - c) / denom if denom != 0 else 0.0
    return float((k + shift) * sample_rate / n)
