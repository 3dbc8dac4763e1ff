"""Causal tempo and beat phase from an onset-strength envelope at the audio block rate.

No maintained beat tracker installs from wheels on Python 3.11 here (aubio has none, madmom is
unmaintained), so this is a small one of our own:
- tempo: every `update_seconds` the last `history_seconds` of the envelope are autocorrelated; each
  candidate period P (60-200 BPM, log grid, then a fine grid around the best) scores the mean
  autocorrelation at its multiples k*P minus a share of it at the half-way points (k - 1/2)*P (high
  there means the true beat is P/2: the octave check), plus a log-normal prior around 120 BPM.
  An estimate is reported once two successive ones agree (confidence), and a new tempo replaces
  a locked one only when two successive estimates agree on it.
- phase: at each estimate the envelope is folded at the period (comb over the past beats, newest
  weighted most) to find where the beats fall; between estimates a phase-locked predictor advances
  the beat and is nudged toward detected onsets near a predicted beat.
- tap tempo (>= 3 taps, each within `TAP_GAP_S` of the previous) and a fixed BPM take precedence
  over the automatic estimate until `set_fixed_bpm(None)`.
Everything is counted in blocks, so results do not depend on how the audio was chunked.
"""

from __future__ import annotations

import math

import numpy as np

TAP_GAP_S = 2.5  # taps further apart than this start a new tap sequence
MAX_TAPS = 8
_SMOOTH = np.array([1.0, 4.0, 6.0, 4.0, 1.0]) / 16.0  # binomial lag smoothing


class TempoTracker:
    def __init__(self, sample_rate: int, hop: int, *, min_bpm: float = 60.0, max_bpm: float = 200.0,
                 history_seconds: float = 8.0, update_seconds: float = 0.5, min_seconds: float = 2.5,
                 prior_bpm: float = 120.0, prior_octaves: float = 1.0, prior_weight: float = 0.15,
                 half_penalty: float = 0.5, half_ratio: float = 0.8, third_ratio: float = 0.85, confidence: float = 0.12, envelope_latency: float = 0.0,
                 onset_gain: float = 0.15, onset_window: float = 0.12, start_index: int = 0):
        self.sample_rate = int(sample_rate)
        self.hop = int(hop)
        self.block_rate = self.sample_rate / self.hop
        self.min_bpm, self.max_bpm = float(min_bpm), float(max_bpm)
        self._size = int(round(history_seconds * self.block_rate))
        self._update_every = max(1, int(round(update_seconds * self.block_rate)))
        self._min_blocks = int(round(min_seconds * self.block_rate))
        self.prior_bpm, self.prior_octaves, self.prior_weight = prior_bpm, prior_octaves, prior_weight
        self.half_penalty, self.half_ratio, self.third_ratio = half_penalty, half_ratio, third_ratio
        self.confidence = confidence
        self.onset_latency = 0.5 * self.hop  # samples from a hit to the end of the block that detects it
        # Samples from a hit to where the folded envelope peaks (the analysis window delays it: about
        # half an STFT frame, tuned on the validation tracks).
        self.envelope_latency = float(envelope_latency)
        self.onset_gain, self.onset_window = onset_gain, onset_window
        self._env = np.zeros(self._size, dtype=np.float64)  # [size] envelope ring, one value per block
        # Coarse log grid of candidate tempi (0.5% apart); refined around the winner.
        n = int(math.ceil(math.log(max_bpm / min_bpm) / math.log(1.005))) + 1
        self._grid = min_bpm * 1.005 ** np.arange(n)  # [n] BPM
        self._fine = 1.0 + np.linspace(-0.006, 0.006, 25)  # [25] relative offsets around the winner
        self._start_index = int(start_index)
        self.reset()

    # -- state -----------------------------------------------------------------------------------
    def reset(self, start_index: int | None = None) -> None:
        if start_index is not None:
            self._start_index = int(start_index)
        self._env.fill(0.0)
        self._count = 0  # blocks pushed
        self._auto_period: float | None = None  # samples per beat, locked automatic estimate
        self._candidate: float | None = None  # last estimate not yet confirmed
        self._misses = 0
        self._period: float | None = None  # samples per beat in use (auto, tapped or fixed)
        self._beat_ref = 0.0  # absolute sample index of one beat
        self._last_beat_n: int | None = None
        self._mode = "auto"  # "auto" | "fixed" | "tap"
        self._fixed_phase_known = False
        self._taps: list[int] = []
        self.bpm: float | None = None
        self.phase = 0.0
        self.beat = False

    @property
    def mode(self) -> str:
        return self._mode

    def set_fixed_bpm(self, bpm: float | None) -> None:
        if bpm is None:
            self._mode = "auto"
            self._taps.clear()
            self._period = self._auto_period
            return
        if not (math.isfinite(bpm) and 20.0 <= bpm <= 400.0):
            raise ValueError(f"fixed BPM must be between 20 and 400, got {bpm}")
        self._mode = "fixed"
        self._period = 60.0 * self.sample_rate / bpm
        self._fixed_phase_known = self._last_beat_n is not None  # keep a running beat grid's phase

    def tap(self, index: int) -> None:
        index = int(index)
        if self._taps and (index - self._taps[-1] > TAP_GAP_S * self.sample_rate or index <= self._taps[-1]):
            self._taps.clear()
        self._taps.append(index)
        del self._taps[:-MAX_TAPS]
        if len(self._taps) < 3:
            return
        k = np.arange(len(self._taps), dtype=np.float64)
        slope, intercept = np.polyfit(k, np.asarray(self._taps, dtype=np.float64), 1)  # least squares
        if slope <= 0:
            return
        self._mode = "tap"
        self._period = float(slope)
        self._beat_ref = float(intercept + slope * k[-1])  # the fitted last tap is a beat
        self._last_beat_n = None

    # -- per block -------------------------------------------------------------------------------
    def push(self, envelope: float, onset: bool, end_index: int) -> None:
        """One block: its onset-strength `envelope`, whether an onset fired in it, the sample index at its end."""
        self._env[self._count % self._size] = envelope
        self._count += 1
        if self._count >= self._min_blocks and self._count % self._update_every == 0:
            self._estimate(end_index)
        if onset and self._period is not None and self._mode != "tap":
            self._nudge(end_index - self.onset_latency)
        self._advance(end_index)

    def _advance(self, end_index: int) -> None:
        period = self._period
        if period is None:
            self.bpm, self.phase, self.beat = None, 0.0, False
            self._last_beat_n = None
            return
        self.bpm = 60.0 * self.sample_rate / period
        pos = (end_index - self._beat_ref) / period
        n = math.floor(pos)
        self.phase = pos - n
        # A beat fell in this block if the beat count moved forward (a phase correction that moves
        # the beat back never fires it twice).
        self.beat = self._last_beat_n is not None and n > self._last_beat_n
        if self._last_beat_n is None or n > self._last_beat_n:
            self._last_beat_n = n

    def _nudge(self, onset_index: float) -> None:
        """PLL step: pull the beat grid part of the way toward an onset close to a predicted beat."""
        period = self._period
        err = (onset_index - self._beat_ref) / period
        err -= round(err)  # [-0.5, 0.5] beats from the nearest predicted beat
        if abs(err) <= self.onset_window:
            self._beat_ref += self.onset_gain * err * period

    # -- estimation ------------------------------------------------------------------------------
    def _history(self) -> np.ndarray:
        n = min(self._count, self._size)
        head = self._count % self._size
        if self._count <= self._size:
            return self._env[:n].copy()
        return np.concatenate((self._env[head:], self._env[:head]))  # [n] oldest .. newest

    def _estimate(self, end_index: int) -> None:
        x = self._history()  # [n]
        n = len(x)
        # Clip rare giant values (the first hit after silence, before the gain control has adapted)
        # so they do not dominate the autocorrelation.
        seg = max(1, int(self.block_rate))  # 1 s segments
        m = max(1, n // seg)
        cap = 1.5 * float(np.median(x[n - m * seg :].reshape(m, -1).max(axis=1)))  # typical loudest hit per second
        np.minimum(x, cap, out=x)
        x -= x.mean()
        energy = float(np.dot(x, x))
        period_blocks, score = (None, 0.0) if energy <= 1e-12 else self._best_period(x, energy)
        confident = period_blocks is not None and score >= self.confidence
        if confident:
            period = period_blocks * self.hop
            agrees = self._candidate is not None and abs(period / self._candidate - 1.0) < 0.03
            self._candidate = period
            self._misses = 0
            if self._auto_period is None or abs(period / self._auto_period - 1.0) < 0.03:
                if self._auto_period is not None or agrees:
                    self._auto_period = period
            elif agrees:  # a different tempo, seen twice in a row
                self._auto_period = period
        else:
            self._candidate = None
            self._misses += 1
            if self._misses >= 3:  # ~1.5 s without a pulse: no tempo
                self._auto_period = None
        if self._mode == "auto":
            period_changed = self._period is None or self._auto_period is None
            self._period = self._auto_period
            if self._period is not None:
                self._set_phase(x, n, end_index, snap=period_changed)
        elif self._mode == "fixed" and self._period is not None and energy > 1e-12:
            self._set_phase(x, n, end_index, snap=not self._fixed_phase_known)
            self._fixed_phase_known = True

    def _acf(self, x: np.ndarray, energy: float) -> np.ndarray:
        n = len(x)
        spec = np.fft.rfft(x, 2 * n)
        acf = np.fft.irfft(spec * spec.conj(), 2 * n)[:n]  # [n] lag 0..n-1
        acf /= energy
        acf *= n / np.maximum(n - np.arange(n), n / 4)  # unbiased, damped at long lags
        # Smooth over +-2 lags: onset times are quantised to blocks, so a fractional period's
        # autocorrelation peak is spread over neighbouring lags (and an integer one is not).
        return np.convolve(acf, _SMOOTH, mode="same")

    def _scores(self, acf: np.ndarray, bpm: np.ndarray) -> np.ndarray:
        n = len(acf)
        max_lag = 0.75 * (n - 1)
        period = 60.0 * self.block_rate / bpm  # [m] blocks
        k = np.arange(1, 33, dtype=np.float64)  # multiples
        lags = period[:, None] * k[None, :]  # [m, K]
        valid = lags <= max_lag
        on = np.interp(np.minimum(lags, max_lag), np.arange(n), acf) * valid  # [m, K]
        grid = np.arange(n)
        count = np.maximum(valid.sum(axis=1), 1)

        def mean_at(shift: float) -> np.ndarray:  # [m] mean autocorrelation at (k - shift) * P
            lag = np.minimum(lags - shift * period[:, None], max_lag)
            return (np.interp(lag, grid, acf) * valid).sum(axis=1) / count

        on_mean = on.sum(axis=1) / count
        # Octave checks: nearly as strong half-way (or a third of the way) between the multiples as
        # on them means the beat is P / 2 (or P / 3), not P.
        third_mean = 0.5 * (mean_at(1.0 / 3.0) + mean_at(2.0 / 3.0))
        score = (on_mean - self.half_penalty * np.maximum(mean_at(0.5) - self.half_ratio * on_mean, 0.0)
                 - self.half_penalty * np.maximum(third_mean - self.third_ratio * on_mean, 0.0))
        prior = -self.prior_weight * (np.log2(bpm / self.prior_bpm) / self.prior_octaves) ** 2
        return score, prior

    def _best_period(self, x: np.ndarray, energy: float) -> tuple[float, float]:
        acf = self._acf(x, energy)
        score, prior = self._scores(acf, self._grid)
        best = int(np.argmax(score + prior))
        fine_bpm = self._grid[best] * self._fine
        fine_bpm = fine_bpm[(fine_bpm >= self.min_bpm) & (fine_bpm <= self.max_bpm)]
        fine_score, fine_prior = self._scores(acf, fine_bpm)
        j = int(np.argmax(fine_score + fine_prior))
        bpm = float(fine_bpm[j])
        if 0 < j < len(fine_bpm) - 1:  # parabolic peak between fine grid points
            a, b, c = fine_score[j - 1 : j + 2]
            denom = a - 2 * b + c
            if denom < 0:
                bpm *= (fine_bpm[j + 1] / fine_bpm[j]) ** (0.5 * (a - c) / denom)
        return 60.0 * self.block_rate / bpm, float(fine_score[j])

    def _set_phase(self, x: np.ndarray, n: int, end_index: int, snap: bool) -> None:
        """Fold the envelope at the period to find the beat positions; snap to them, or move part way."""
        period = self._period
        p_blocks = period / self.hop
        offsets = np.arange(0.0, p_blocks, 0.25)  # [M] candidate distances (blocks) from the newest block back to a beat
        k = np.arange(0, max(1, int((n - 1 - p_blocks) / p_blocks)))  # [K] beats back
        weights = 0.85 ** k  # newest beats count most (tempo drift)
        pos = (n - 1) - offsets[:, None] - p_blocks * k[None, :]  # [M, K] envelope positions
        y = np.maximum(x, 0.0)
        fold = (np.interp(pos, np.arange(n), y) * weights).sum(axis=1)  # [M]
        m = int(np.argmax(fold))
        beat_block_end = end_index - offsets[m] * self.hop  # sample index at the end of the block holding the beat
        beat = beat_block_end - 0.5 * self.hop - self.envelope_latency
        if snap or self._last_beat_n is None:
            self._beat_ref = beat
            self._last_beat_n = None  # restart the beat count without firing a beat now
            return
        err = (beat - self._beat_ref) / period
        err -= round(err)
        self._beat_ref += 0.5 * err * period
