"""Causal live music analysis, once per audio block: bands + AGC, per-band onsets, tempo and beat
phase, chroma.

One STFT frame per hop block (Hann window over the newest `n_fft` samples); band energies, spectral
flux and chroma all come from that one spectrum. The hop is chosen so a block lasts <= ~12 ms, so an
onset shows in `take_onsets()` within one block of the hit (well inside one 60 fps frame).

    analyzer = LiveAnalyzer(16000)
    feats = analyzer.process(new_samples)   # any length, float32 mono; returns the newest features
    pulses = analyzer.take_onsets()         # [n_bands] strongest onset since the previous call

Deterministic and chunking-independent: the same samples give the same per-block features however
they are split into `process` calls (only `AudioFeatures.onset`, "since the last read", and
`take_*` depend on when they are read).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from livevis.audio.agc import SILENCE_DB, PercentileAGC
from livevis.audio.tempo import TempoTracker

DEFAULT_BANDS = ((20, 150), (150, 2000), (2000, 8000))
FLOOR_DB = -70.0  # AGC floor: below this (dBFS) a band counts as silent
MIN_GAP_S = 0.05  # minimum time between two onsets of one band
FLUX_STATS_S = 0.4  # time constant of the running mean / deviation under the onset threshold
ONSET_K = 2.0  # threshold = mean + k * mean absolute deviation + ONSET_DELTA
ONSET_DELTA = 0.02
ENVELOPE_LATENCY = 0.5  # of n_fft: hit -> onset-envelope peak, through the Hann window (tuned on validation tracks)
MEL_FLUX_BANDS = 64  # onset strength as librosa defines it: mean rectified dB rise over mel bands, lag one block
MEL_FLUX_AMIN = 1e-10  # power floor of the mel dB (of the block's mean-square-scaled power)
MEL_FLUX_UNIT = 6.0  # dB: a rise of this much over the whole spectrum is onset strength 1 (dB rises are level-free)
LOG_GAIN = 1.0  # log1p(LOG_GAIN * |X| / reference): compressive, scale-free once the AGC has adapted


@dataclass(frozen=True)
class AudioFeatures:
    """The newest analysis state; a new object after each `process` (never mutated)."""

    index: int  # absolute audio sample index at the end of the newest analysed block
    bands: np.ndarray  # [n_bands] float32, AGC-normalised band amplitude ~0..1 (can exceed 1 briefly); silence -> 0
    onsets: np.ndarray  # [n_bands] float32, per-band onset strength in the newest block, >= 0 (0 = none)
    onset: bool  # any band fired in any block since the previous read of `features` (process returns one)
    flux: float  # all-band normalised spectral flux of the newest block, >= 0
    onset_strength: float  # mel onset strength of the newest block (MEL_FLUX_BANDS), >= 0, ~1 on a clear hit, 0 in silence
    level: float  # AGC-normalised overall level 0..1
    rms_db: float  # raw RMS dBFS of the newest block (-120 for silence)
    bpm: float | None  # tempo (None until confident), or the tapped / fixed override
    beat_phase: float  # 0..1, 0 = on the beat (causal prediction)
    beat: bool  # a beat fell inside the newest block
    chroma: np.ndarray  # [12] float32 (C, C#, ..., B), sums to 1, or all 0 in silence


def auto_hop(sample_rate: int) -> int:
    """Hop giving blocks of ~5-11 ms: 64 below 12 kHz, 128 below 22.05 kHz, 256 to 48 kHz, 512 above."""
    if sample_rate < 12000:
        return 64
    if sample_rate < 22050:
        return 128
    return 256 if sample_rate <= 48000 else 512


class LiveAnalyzer:
    def __init__(self, sample_rate: int, *, n_fft: int = 1024, hop: int | None = None,
                 bands=DEFAULT_BANDS, agc_seconds: float = 3.0, floor_db: float = FLOOR_DB,
                 min_gap_seconds: float = MIN_GAP_S, onset_k: float = ONSET_K, start_index: int = 0,
                 tempo_options: dict | None = None):
        import librosa  # heavy import, only when an analyzer is built

        self.sample_rate = int(sample_rate)
        if not 4000 <= self.sample_rate <= 192000:
            raise ValueError(f"sample rate {sample_rate} Hz is outside 4-192 kHz")
        self.n_fft = int(n_fft)
        self.hop = auto_hop(self.sample_rate) if hop is None else int(hop)
        if not 0 < self.hop <= self.n_fft:
            raise ValueError(f"hop must be in 1..n_fft ({self.n_fft}), got {self.hop}")
        self.band_edges = tuple((float(lo), float(hi)) for lo, hi in bands)
        self.n_bands = len(self.band_edges)
        if self.n_bands == 0:
            raise ValueError("need at least one band")
        block_rate = self.sample_rate / self.hop
        n_bins = self.n_fft // 2 + 1
        freqs = np.fft.rfftfreq(self.n_fft, 1.0 / self.sample_rate)  # [n_bins]
        nyquist = self.sample_rate / 2

        self._window = np.hanning(self.n_fft + 1)[:-1].astype(np.float32)  # periodic Hann [n_fft]
        # One-sided power scaled so a band's sum is the mean square of its content (a 0.5 sine -> -9 dB).
        self._power_scale = 2.0 / (self.n_fft * float(np.sum(self._window.astype(np.float64) ** 2)))
        # Bin -> band membership; bands above Nyquist are clipped (possibly to nothing).
        self._band_mask = np.zeros((self.n_bands, n_bins), dtype=np.float32)  # [n_bands, n_bins]
        for b, (lo, hi) in enumerate(self.band_edges):
            if not 0 <= lo < hi:
                raise ValueError(f"band {lo}-{hi} Hz: need 0 <= low < high")
            self._band_mask[b] = (freqs >= lo) & (freqs < min(hi, nyquist))
        self._band_bins = self._band_mask.sum(axis=1)  # [n_bands]
        self._band_active = self._band_bins > 0
        self._inv_band_bins = np.where(self._band_active, 1.0 / np.maximum(self._band_bins, 1), 0.0).astype(np.float32)
        in_band = self._band_mask.any(axis=0)
        self._flux_bins = np.flatnonzero(in_band)  # bins whose flux counts
        # bin -> first band holding it (for the per-bin AGC reference), restricted to counted bins
        self._bin_band = np.argmax(self._band_mask[:, self._flux_bins], axis=0)  # [n_flux_bins]
        self._flux_mask = self._band_mask[:, self._flux_bins]  # [n_bands, n_flux_bins]
        self._chroma_fb = librosa.filters.chroma(sr=self.sample_rate, n_fft=self.n_fft).astype(np.float32)  # [12, n_bins]
        # The mel onset strength follows what a listener hears as attacks across the spectrum (and
        # what librosa.onset.onset_strength measures); the band flux above serves the onset detector.
        self._mel_fb = librosa.filters.mel(sr=self.sample_rate, n_fft=self.n_fft, n_mels=MEL_FLUX_BANDS).astype(np.float64)  # [M, n_bins]

        self.floor_db = float(floor_db)
        self._agc = PercentileAGC(self.n_bands + 1, block_rate, seconds=agc_seconds, floor_db=self.floor_db)
        # Onset strength is normalised by a slow peak follower of the flux (instant attack, release
        # over the AGC time), floored so near-silence is not amplified.
        self._flux_release = math.exp(-1.0 / (agc_seconds * block_rate))
        self._flux_floor = 0.05
        self._stats_a = 1.0 - math.exp(-1.0 / (FLUX_STATS_S * block_rate))
        self._min_gap = max(1, int(round(min_gap_seconds * block_rate)))
        self.onset_k = float(onset_k)
        tempo_options = {"envelope_latency": ENVELOPE_LATENCY * self.n_fft, **(tempo_options or {})}
        self._tempo = TempoTracker(self.sample_rate, self.hop, start_index=start_index, **tempo_options)

        # Preallocated state and scratch (the per-block path writes into these).
        self._frame = np.zeros(self.n_fft, dtype=np.float32)  # newest n_fft samples
        self._pending = np.zeros(self.hop, dtype=np.float32)  # an incomplete block
        self._windowed = np.empty(self.n_fft, dtype=np.float32)
        self._power = np.empty(n_bins, dtype=np.float64)
        self._mag = np.empty(len(self._flux_bins), dtype=np.float64)
        self._prev_mag = np.zeros(len(self._flux_bins), dtype=np.float64)
        self._levels_db = np.empty(self.n_bands + 1, dtype=np.float64)  # [bands..., overall]
        self._mel_db = np.empty(MEL_FLUX_BANDS, dtype=np.float64)
        self._prev_mel_db = np.empty(MEL_FLUX_BANDS, dtype=np.float64)
        self._gains = np.empty(self.n_bands + 1, dtype=np.float64)
        self._bin_ref = np.empty(len(self._flux_bins), dtype=np.float64)
        self._band_ref = np.empty(self.n_bands, dtype=np.float64)
        self._start_index = int(start_index)
        self.onset_peak = np.zeros(self.n_bands, dtype=np.float32)  # max onset strength since take_onsets()
        self.reset()

    # -- public ----------------------------------------------------------------------------------
    @property
    def block_seconds(self) -> float:
        return self.hop / self.sample_rate

    @property
    def features(self) -> AudioFeatures:
        onset, self._onset_unread = self._onset_unread, False
        if self._features.onset != onset:
            self._features = dataclasses.replace(self._features, onset=onset)
        return self._features

    def reset(self, start_index: int | None = None) -> None:
        """Forget all audio (and taps / overrides); the next sample fed has absolute index `start_index`."""
        if start_index is not None:
            self._start_index = int(start_index)
        self._index = self._start_index  # absolute index after the last complete block
        self._n_pending = 0
        self._frame.fill(0.0)
        self._prev_mag.fill(0.0)
        self._agc.reset()
        self._tempo.reset(self._start_index)
        self._flux_mean = np.zeros(self.n_bands + 1, dtype=np.float64)  # [bands..., all]
        self._flux_dev = np.zeros(self.n_bands + 1, dtype=np.float64)
        self._flux_peak = np.full(self.n_bands + 1, self._flux_floor, dtype=np.float64)
        self._mel_blocks = 0  # blocks since reset: no rise is counted until the window is full of audio
        self._onset_strength = 0.0
        self._since_onset = np.full(self.n_bands, self._min_gap, dtype=np.int64)  # blocks since each band fired
        self._bands = np.zeros(self.n_bands, dtype=np.float32)
        self._onsets = np.zeros(self.n_bands, dtype=np.float32)
        self._chroma = np.zeros(12, dtype=np.float32)
        self._flux = 0.0
        self._level = 0.0
        self._rms_db = -120.0
        self._beat_pending = False
        self.onset_peak.fill(0.0)
        self._onset_unread = False
        self._features = self._snapshot(False)

    def process(self, samples: np.ndarray) -> AudioFeatures:
        """Feed newly arrived mono samples (any length); analyse every complete block; newest features."""
        x = np.asarray(samples, dtype=np.float32).reshape(-1)
        pos, n = 0, len(x)
        analysed = False
        if self._n_pending:
            take = min(n, self.hop - self._n_pending)
            self._pending[self._n_pending : self._n_pending + take] = x[:take]
            self._n_pending += take
            pos = take
            if self._n_pending == self.hop:
                self._block(self._pending)
                self._n_pending = 0
                analysed = True
        while n - pos >= self.hop:
            self._block(x[pos : pos + self.hop])
            pos += self.hop
            analysed = True
        if pos < n:
            self._pending[: n - pos] = x[pos:]
            self._n_pending = n - pos
        if analysed:
            self._features = self._snapshot(False)
        return self.features

    def take_onsets(self) -> np.ndarray:
        """[n_bands] strongest onset per band over all blocks since the previous call (then cleared)."""
        out = self.onset_peak.copy()
        self.onset_peak.fill(0.0)
        return out

    def take_beat(self) -> bool:
        """Whether a beat fell in any block since the previous call (then cleared)."""
        beat, self._beat_pending = self._beat_pending, False
        return beat

    def tap(self, index: int) -> None:
        """A tap-tempo hit at absolute sample `index`; 3+ taps, each within 2.5 s, set bpm and phase."""
        self._tempo.tap(index)

    def set_fixed_bpm(self, bpm: float | None) -> None:
        """Hold the tempo at `bpm` (phase still found from the audio); None returns to the automatic estimate."""
        self._tempo.set_fixed_bpm(bpm)

    @property
    def tempo_mode(self) -> str:
        """'auto', 'fixed' or 'tap'."""
        return self._tempo.mode

    # -- per block -------------------------------------------------------------------------------
    def _block(self, block: np.ndarray) -> None:
        """Analyse one hop of new samples [hop]."""
        hop = self.hop
        frame = self._frame
        frame[:-hop] = frame[hop:]
        frame[-hop:] = block
        self._index += hop

        ms = float(np.dot(block, block)) / hop
        self._rms_db = max(-120.0, 10.0 * math.log10(ms)) if ms > 0 else -120.0

        np.multiply(frame, self._window, out=self._windowed)
        spec = np.fft.rfft(self._windowed)  # [n_bins] complex
        power = self._power
        np.multiply(spec.real, spec.real, out=power)
        power += spec.imag * spec.imag
        power *= self._power_scale

        # Band levels (dB) and the overall level, through the AGC.
        levels = self._levels_db
        band_power = self._band_mask @ power  # [n_bands]
        np.log10(np.maximum(band_power, 1e-16), out=levels[: self.n_bands])
        levels[: self.n_bands] *= 10.0
        levels[self.n_bands] = self._rms_db if ms > 0 else SILENCE_DB
        levels[: self.n_bands][~self._band_active] = SILENCE_DB
        self._agc.push(levels)
        self._agc.gain(levels, self._gains)
        np.copyto(self._bands, self._gains[: self.n_bands], casting="unsafe")
        self._level = min(1.0, float(self._gains[self.n_bands]))

        # Log-spectral flux per band, magnitudes relative to the band's AGC reference (scale-free).
        mag = self._mag
        np.sqrt(power[self._flux_bins], out=mag)
        ref = self._band_ref
        np.multiply(self._agc.ref_db[: self.n_bands], 1.0 / 20.0, out=ref)
        np.power(10.0, ref, out=ref)  # band reference amplitude
        ref *= np.sqrt(self._inv_band_bins)  # per-bin share of it
        np.maximum(ref, 1e-12, out=ref)
        np.take(ref, self._bin_band, out=self._bin_ref)
        np.divide(LOG_GAIN, self._bin_ref, out=self._bin_ref)
        new = np.log1p(mag * self._bin_ref)
        old = np.log1p(self._prev_mag * self._bin_ref)
        new -= old
        np.maximum(new, 0.0, out=new)  # half-wave rectified
        self._prev_mag, self._mag = mag, self._prev_mag
        band_flux = (self._flux_mask @ new) * self._inv_band_bins  # [n_bands] mean rectified log rise per bin
        all_flux = float(band_flux[self._band_active].mean()) if self._band_active.any() else 0.0

        # Adaptive threshold from the statistics of the blocks before this one, then update them.
        mean, dev = self._flux_mean, self._flux_dev
        thresh = mean[: self.n_bands] + self.onset_k * dev[: self.n_bands] + ONSET_DELTA
        self._since_onset += 1
        gate = self._agc.gate()  # [n_bands + 1]: 0 while a band sits on the noise floor
        fired = (band_flux > thresh) & (self._since_onset >= self._min_gap) & (gate[: self.n_bands] > 0)
        self._since_onset[fired] = 0
        a = self._stats_a
        flux_all = np.append(band_flux, all_flux)  # [n_bands + 1]
        dev += a * (np.abs(flux_all - mean) - dev)
        mean += a * (flux_all - mean)
        # Peak followers normalise the strengths to ~0..1.
        peak = self._flux_peak
        peak *= self._flux_release
        np.maximum(peak, flux_all, out=peak)
        np.maximum(peak, self._flux_floor, out=peak)
        strength = (flux_all / peak * gate).astype(np.float32)
        self._onsets.fill(0.0)
        self._onsets[fired] = strength[: self.n_bands][fired]
        np.maximum(self.onset_peak, self._onsets, out=self.onset_peak)
        self._flux = float(strength[self.n_bands])
        self._mel_onset_strength(power, float(gate[self.n_bands]))
        if fired.any():
            self._onset_unread = True

        # Chroma from the same power spectrum; silence (overall below the floor) -> zeros.
        if self._rms_db > self.floor_db:
            chroma = self._chroma_fb @ power  # [12]
            total = float(chroma.sum())
            if total > 0:
                np.multiply(chroma, 1.0 / total, out=self._chroma, casting="unsafe")
            else:
                self._chroma.fill(0.0)
        else:
            self._chroma.fill(0.0)

        self._band_flux = band_flux  # [n_bands], kept for inspection
        self._tempo.push(all_flux, bool(fired.any()), self._index)
        if self._tempo.beat:
            self._beat_pending = True

    def _mel_onset_strength(self, power: np.ndarray, gate: float) -> None:
        """Mean rectified rise of the mel dB since the previous block, in MEL_FLUX_UNITs, 0 in silence.
        Not normalised by a follower: a dB rise is already independent of the input's level, and a
        fixed scale keeps one hit's strength comparable with the next."""
        mel_db = self._mel_db
        np.matmul(self._mel_fb, power, out=mel_db)
        np.maximum(mel_db, MEL_FLUX_AMIN, out=mel_db)
        np.log10(mel_db, out=mel_db)
        mel_db *= 10.0
        self._mel_blocks += 1
        full = self._mel_blocks > self.n_fft // self.hop  # this block and the previous one saw whole windows
        rise = 0.0
        if full:
            self._prev_mel_db -= mel_db  # the old frame's buffer becomes scratch: -(rise) per band
            rise = -float(np.minimum(self._prev_mel_db, 0.0, out=self._prev_mel_db).mean())
        self._mel_db, self._prev_mel_db = self._prev_mel_db, mel_db
        self._onset_strength = rise / MEL_FLUX_UNIT * gate

    def _snapshot(self, onset: bool) -> AudioFeatures:
        t = self._tempo
        return AudioFeatures(
            index=self._index, bands=self._bands.copy(), onsets=self._onsets.copy(), onset=onset,
            flux=self._flux, onset_strength=self._onset_strength, level=self._level, rms_db=self._rms_db, bpm=t.bpm,
            beat_phase=float(t.phase), beat=bool(t.beat), chroma=self._chroma.copy())
