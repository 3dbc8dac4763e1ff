"""Deterministic test signals (`synth:KIND[@PARAM]`): sine, sweep, noise bursts, click track, silence.

Every signal is a pure function of the absolute sample index, so a live synth source can produce
any stretch of an endless signal (`render_chunk`) and `make_signal` is just its first `seconds`.
"""

from __future__ import annotations

import numpy as np

from livevis.errors import LivevisError

AMPLITUDE = 0.5
SWEEP_PERIOD_S = 4.0  # a log sweep from SWEEP_LOW_HZ to the top, repeating
SWEEP_LOW_HZ = 50.0
BURST_PERIOD_S = 0.5  # noise: a 0.25 s burst every 0.5 s
CLICK_S = 0.005  # click length

# kind -> (name of its @ parameter, default value, help)
KINDS: dict[str, tuple[str | None, float | None, str]] = {
    "sine": ("freq", 440.0, "sine tone, synth:sine@HZ (default 440)"),
    "sweep": ("high", None, f"log sweep {SWEEP_LOW_HZ:g} Hz -> HZ every {SWEEP_PERIOD_S:g} s, synth:sweep@HZ (default min(8000, 0.45 * rate))"),
    "noise": (None, None, f"white noise bursts, {BURST_PERIOD_S / 2:g} s on / {BURST_PERIOD_S / 2:g} s off"),
    "clicks": ("bpm", 120.0, "click track, synth:clicks@BPM (default 120)"),
    "silence": (None, None, "digital silence"),
}


def parse_spec(text: str) -> tuple[str, dict[str, float]]:
    """'sine@440' -> ('sine', {'freq': 440.0}); unknown kinds or bad parameters -> LivevisError."""
    kind, _, param = text.partition("@")
    if kind not in KINDS:
        raise LivevisError(f"unknown synth kind {kind!r}; choose from {', '.join(KINDS)}")
    name, _default, _help = KINDS[kind]
    if not param:
        return kind, {}
    if name is None:
        raise LivevisError(f"synth:{kind} takes no parameter (got @{param})")
    try:
        value = float(param)
    except ValueError:
        raise LivevisError(f"synth:{kind}@{param}: {name} must be a number") from None
    if not np.isfinite(value) or value <= 0:
        raise LivevisError(f"synth:{kind}@{param}: {name} must be positive")
    return kind, {name: value}


def _params(kind: str, sample_rate: int, params: dict) -> float | None:
    name, default, _ = KINDS[kind]
    unknown = set(params) - ({name} if name else set())
    if unknown:
        raise LivevisError(f"synth:{kind} has no parameter(s) {', '.join(sorted(unknown))}")
    value = params.get(name, default) if name else None
    if kind == "sweep" and value is None:
        value = min(8000.0, 0.45 * sample_rate)
    if kind in ("sine", "sweep") and value >= sample_rate / 2:
        raise LivevisError(f"synth:{kind}: {value:g} Hz is at or above Nyquist for {sample_rate} Hz")
    return value


def render_chunk(kind: str, start: int, n: int, sample_rate: int, seed: int = 0, **params) -> np.ndarray:
    """Samples [start, start + n) of the endless signal `kind`; float32 [n] in [-0.5, 0.5]."""
    if kind not in KINDS:
        raise LivevisError(f"unknown synth kind {kind!r}; choose from {', '.join(KINDS)}")
    value = _params(kind, sample_rate, params)
    idx = np.arange(start, start + n, dtype=np.int64)  # [n] absolute sample indices
    if kind == "silence":
        return np.zeros(n, dtype=np.float32)
    if kind == "sine":
        # Phase from the index modulo the sample rate keeps float64 exact for hours of signal.
        cycles = (idx % sample_rate) * (value / sample_rate)
        return (AMPLITUDE * np.sin(2 * np.pi * cycles)).astype(np.float32)
    if kind == "sweep":
        period = int(SWEEP_PERIOD_S * sample_rate)
        t = (idx % period) / sample_rate
        k = np.log(value / SWEEP_LOW_HZ) / SWEEP_PERIOD_S
        phase = SWEEP_LOW_HZ * (np.exp(k * t) - 1.0) / k  # integral of f(t) = low * exp(k t)
        return (AMPLITUDE * np.sin(2 * np.pi * phase)).astype(np.float32)
    if kind == "clicks":
        beat = sample_rate * 60.0 / value  # samples per beat (may be fractional)
        beat_start = np.floor(idx / beat) * beat
        offset = idx - np.ceil(beat_start)  # samples since this beat's click began
        click_len = max(1, int(CLICK_S * sample_rate))
        env = np.where((offset >= 0) & (offset < click_len), 1.0 - offset / click_len, 0.0)
        # A linearly decaying 1 kHz cosine: starts at full amplitude, so the onset is sharp.
        return (AMPLITUDE * env * np.cos(2 * np.pi * 1000.0 * offset / sample_rate)).astype(np.float32)
    # noise bursts: each burst period draws from its own seeded generator, so any chunk is reproducible.
    period = int(BURST_PERIOD_S * sample_rate)
    out = np.zeros(n, dtype=np.float32)
    for p in range(start // period, (start + n - 1) // period + 1 if n else 0):
        burst = np.random.default_rng([seed, p]).uniform(-AMPLITUDE, AMPLITUDE, period // 2).astype(np.float32)
        lo, hi = max(start, p * period), min(start + n, p * period + period // 2)
        if hi > lo:
            out[lo - start : hi - start] = burst[lo - p * period : hi - p * period]
    return out


def make_signal(kind: str, seconds: float, sample_rate: int, seed: int = 0, **params) -> np.ndarray:
    """The first `seconds` of the test signal `kind` at `sample_rate`: float32 [round(seconds * rate)]."""
    return render_chunk(kind, 0, int(round(seconds * sample_rate)), sample_rate, seed, **params)
