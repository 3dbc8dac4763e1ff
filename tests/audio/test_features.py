"""LiveAnalyzer: causal per-block bands + AGC, onsets, tempo / beat phase, chroma."""

import json
from pathlib import Path

import numpy as np
import pytest

from livevis.audio.features import AudioFeatures, LiveAnalyzer, auto_hop
from livevis.audio.synth import make_signal

MUSIC = Path(__file__).resolve().parents[1] / "data" / "music"
SR = 16000


def click_starts(bpm: float, seconds: float, sample_rate: int) -> np.ndarray:
    """Sample index where each click of synth:clicks@bpm begins (see livevis.audio.synth)."""
    beat = sample_rate * 60.0 / bpm
    return np.ceil(np.arange(0, seconds * sample_rate / beat) * beat).astype(np.int64)


def per_block(analyzer: LiveAnalyzer, signal: np.ndarray) -> list[AudioFeatures]:
    hop = analyzer.hop
    return [analyzer.process(signal[i : i + hop]) for i in range(0, len(signal) - hop + 1, hop)]


def load_track(name: str) -> tuple[np.ndarray, int, dict]:
    import soundfile as sf

    samples, rate = sf.read(MUSIC / f"{name}.flac", dtype="float32")
    return samples, rate, json.loads((MUSIC / f"{name}.json").read_text())


def test_auto_hop_keeps_blocks_short():
    assert auto_hop(16000) == 128 and auto_hop(22050) == 256 and auto_hop(48000) == 256
    for rate in (8000, 11025, 16000, 22050, 32000, 44100, 48000, 88200, 96000):
        assert auto_hop(rate) / rate <= 0.012, rate


@pytest.mark.parametrize("rate", [16000, 44100])
def test_onsets_fire_within_one_block_of_each_click(rate):
    analyzer = LiveAnalyzer(rate)
    hop = analyzer.hop
    signal = make_signal("clicks", 6.0, rate, bpm=120.0)
    feats = per_block(analyzer, signal)
    fired = np.array([f.index for f in feats if f.onsets.max() > 0])  # block end indices
    starts = click_starts(120.0, 6.0, rate)
    starts = starts[starts + 2 * hop <= len(signal)]
    # The first onset after each click start ends the block holding the start or the next one...
    first = np.array([fired[fired > s][0] for s in starts])
    assert np.all(first - starts <= 2 * hop), first - starts
    # ...and every onset (of any band) belongs to a click: none in between. (The very first sound
    # after silence is left out: a band whose noise gate opens with it may fire a block later.)
    later = fired[fired > starts[1]]
    owner = np.searchsorted(starts, later) - 1  # the click started last before each onset
    assert np.all(later - starts[owner] <= 2 * hop), later - starts[owner]


def test_take_onsets_keeps_an_onset_that_fell_between_two_frames():
    analyzer = LiveAnalyzer(SR)
    signal = make_signal("clicks", 4.0, SR, bpm=100.0)
    frame = SR // 60  # a 60 fps consumer
    starts = click_starts(100.0, 4.0, SR)
    seen = []
    for end in range(frame, len(signal) + 1, frame):
        analyzer.process(signal[end - frame : end])
        if analyzer.take_onsets().max() > 0:
            seen.append(end)
    seen = np.array(seen)
    for start in starts[1:-1]:
        shown = seen[seen > start]
        # The first frame whose audio reaches one block past the click shows it, and only that one.
        assert shown[0] - start <= frame + 2 * analyzer.hop, (start, shown[0])
        assert len(shown) == 1 or shown[1] > start + analyzer.sample_rate * 0.5
    assert not analyzer.take_onsets().any()  # taken: cleared


@pytest.mark.parametrize("bpm", [70.0, 100.0, 128.0, 174.0])
def test_bpm_of_click_tracks_within_one_percent(bpm):
    analyzer = LiveAnalyzer(SR)
    feats = per_block(analyzer, make_signal("clicks", 10.0, SR, bpm=bpm))
    late = [f.bpm for f in feats if f.index >= 5 * SR]
    assert all(b is not None and abs(b / bpm - 1) < 0.01 for b in late), (bpm, late[0], late[-1])


@pytest.mark.parametrize("rate", [22050, 48000])
def test_bpm_and_beat_phase_of_clicks_at_other_rates(rate):
    analyzer = LiveAnalyzer(rate)
    feats = per_block(analyzer, make_signal("clicks", 8.0, rate, bpm=128.0))
    assert abs(feats[-1].bpm / 128.0 - 1) < 0.01
    period = rate * 60.0 / 128.0
    starts = click_starts(128.0, 8.0, rate)
    # Beat flags after the first 5 s fall in the block holding a click (within one block).
    beats = np.array([f.index for f in feats if f.beat and f.index > 5 * rate])
    assert len(beats) >= 5
    err = np.array([b - starts[np.argmin(np.abs(starts - b))] for b in beats])
    assert np.all(np.abs(err) <= analyzer.hop + 0.03 * rate), err
    # Phase: distance (seconds) of the predicted beat from the true click, under 30 ms.
    for f in feats[-50:]:
        predicted = f.index - f.beat_phase * period
        miss = (predicted - starts[0]) / period
        assert abs(miss - round(miss)) * period / rate < 0.03


def test_same_samples_in_any_chunking_give_the_same_features():
    signal = make_signal("clicks", 4.0, SR, bpm=110.0) + make_signal("noise", 4.0, SR) * 0.05
    by_block = {f.index: f for f in per_block(LiveAnalyzer(SR), signal)}
    chunked = LiveAnalyzer(SR)
    rng = np.random.default_rng(0)
    pos, checked = 0, 0
    while pos < len(signal):
        n = int(rng.choice([0, 1, 7, 100, 128, 129, 1000, 4321]))
        f = chunked.process(signal[pos : pos + n])
        pos += n
        if f.index in by_block and f.index > 0:
            ref = by_block[f.index]
            for name in ("bands", "onsets", "chroma"):
                np.testing.assert_array_equal(getattr(f, name), getattr(ref, name), err_msg=name)
            assert (f.flux, f.onset_strength, f.level, f.rms_db, f.bpm, f.beat_phase) == (
                ref.flux, ref.onset_strength, ref.level, ref.rms_db, ref.bpm, ref.beat_phase)
            checked += 1
    assert checked > 20


def test_agc_holds_across_a_30_db_level_change():
    music, rate, _ = load_track("house_124")
    quiet = music * 10 ** (-30 / 20)
    switched = np.concatenate([music[: 4 * rate], quiet[4 * rate :]])  # drops by 30 dB at 4 s
    loud_feats = per_block(LiveAnalyzer(rate), music)
    switched_feats = per_block(LiveAnalyzer(rate), switched)
    window = [i for i, f in enumerate(loud_feats) if 8 * rate <= f.index <= 11 * rate]  # 4-7 s after the drop
    for name in ("bands", "onsets"):
        loud = np.mean([getattr(loud_feats[i], name) for i in window], axis=0)
        other = np.mean([getattr(switched_feats[i], name) for i in window], axis=0)
        np.testing.assert_allclose(other, loud, rtol=0.15, err_msg=name)
    assert np.mean([switched_feats[i].level for i in window]) == pytest.approx(
        np.mean([loud_feats[i].level for i in window]), rel=0.15)
    # Just after the drop the quiet part reads much lower: the gain adapts, it is not instant.
    just_after = [i for i, f in enumerate(loud_feats) if 4.1 * rate <= f.index <= 4.6 * rate]
    assert np.mean([switched_feats[i].bands for i in just_after]) < 0.3 * np.mean([loud_feats[i].bands for i in just_after])


def test_silence_and_hiss_stay_near_zero():
    rate = 22050
    analyzer = LiveAnalyzer(rate)
    feats = per_block(analyzer, np.zeros(5 * rate, dtype=np.float32))
    last = feats[-1]
    assert not last.bands.any() and not last.onsets.any() and not last.chroma.any()
    assert last.level == 0 and last.flux == 0 and last.onset_strength == 0 and last.bpm is None and last.rms_db == -120.0
    hiss = (np.random.default_rng(1).standard_normal(6 * rate) * 10 ** (-80 / 20)).astype(np.float32)  # -80 dBFS
    analyzer = LiveAnalyzer(rate)
    feats = per_block(analyzer, hiss)
    tail = feats[len(feats) // 2 :]
    assert max(float(f.bands.max()) for f in tail) < 0.05
    assert max(f.level for f in tail) < 0.05
    assert max(f.onset_strength for f in tail) < 0.05
    assert not analyzer.take_onsets().any()
    assert all(f.bpm is None for f in feats)


def test_chroma_of_a_pure_a4_peaks_at_a():
    for rate in (16000, 44100):
        f = LiveAnalyzer(rate).process(make_signal("sine", 1.0, rate, freq=440.0))
        assert f.chroma.shape == (12,) and f.chroma.dtype == np.float32
        assert int(np.argmax(f.chroma)) == 9  # C C# D D# E F F# G G# A
        assert f.chroma.sum() == pytest.approx(1.0, abs=1e-5)


def test_bands_follow_the_spectrum_and_clip_at_nyquist():
    analyzer = LiveAnalyzer(8000, bands=((20, 150), (150, 2000), (2000, 8000), (5000, 9000)))
    assert analyzer.hop == 64
    f = analyzer.process(make_signal("sine", 3.0, 8000, freq=80.0))
    assert f.bands[0] > 0.5 and f.bands[1] < 0.1 and f.bands[2] < 0.1
    assert f.bands[3] == 0  # the band lies above Nyquist: always silent
    f = LiveAnalyzer(96000).process(make_signal("sine", 3.0, 96000, freq=4000.0))
    assert f.bands[2] > 0.5 and f.bands[0] < 0.1


def test_features_object_shape_and_onset_flag_since_last_read():
    analyzer = LiveAnalyzer(SR)
    assert analyzer.block_seconds == pytest.approx(128 / SR)
    signal = make_signal("clicks", 1.0, SR, bpm=120.0)
    f = analyzer.process(signal[:SR // 4])  # holds the first click
    assert f.onset and f.index == (SR // 4) // 128 * 128
    assert not analyzer.features.onset  # read once already
    f = analyzer.process(signal[SR // 4 : SR // 4 + 50])  # 32 + 50 pending: not a whole block, nothing analysed
    assert f.index == (SR // 4) // 128 * 128
    assert f.bands.shape == f.onsets.shape == (3,) and f.bands.dtype == np.float32
    with pytest.raises(Exception):
        f.bpm = 1.0  # frozen: replaced per block, never mutated


@pytest.mark.parametrize("name", ["hiphop_90", "techno_132", "ballad_72"])
def test_tempo_of_committed_music_test_tracks(name):
    music, rate, truth = load_track(name)
    feats = per_block(LiveAnalyzer(rate), music)
    late = [f.bpm for f in feats if f.index >= 5 * rate]
    assert all(b is not None and abs(b / truth["bpm"] - 1) < 0.02 for b in late), (late[0], late[-1])


def test_tempoless_ambient_reports_no_bpm():
    music, rate, truth = load_track("ambient_pad")
    assert truth["bpm"] is None
    feats = per_block(LiveAnalyzer(rate), music)
    assert all(f.bpm is None for f in feats)


def test_tap_tempo_and_fixed_bpm_take_precedence():
    analyzer = LiveAnalyzer(SR)
    per_block(analyzer, make_signal("clicks", 6.0, SR, bpm=120.0))
    assert abs(analyzer.features.bpm - 120.0) < 1.2
    now = analyzer.features.index
    period = SR * 60 / 90.0
    for k in range(4):  # four taps at 90 BPM, the last one just now
        analyzer.tap(int(now - (3 - k) * period))
    assert analyzer.tempo_mode == "tap"
    f = analyzer.process(np.zeros(128, dtype=np.float32))
    assert f.bpm == pytest.approx(90.0, rel=1e-3)
    assert f.beat_phase == pytest.approx(128 / period, abs=1e-3)  # one block after a tapped beat
    f = per_block(analyzer, make_signal("clicks", 2.0, SR, bpm=120.0))[-1]
    assert f.bpm == pytest.approx(90.0, rel=1e-3)  # taps win over the audio
    analyzer.set_fixed_bpm(100.0)
    f = analyzer.process(np.zeros(256, dtype=np.float32))
    assert f.bpm == 100.0 and analyzer.tempo_mode == "fixed"
    analyzer.set_fixed_bpm(None)
    f = per_block(analyzer, make_signal("clicks", 3.0, SR, bpm=120.0))[-1]
    assert abs(f.bpm - 120.0) < 1.2 and analyzer.tempo_mode == "auto"


def test_two_taps_or_taps_too_far_apart_do_not_set_a_tempo():
    analyzer = LiveAnalyzer(SR)
    analyzer.tap(0)
    analyzer.tap(SR // 2)
    analyzer.tap(SR // 2 + 3 * SR)  # > 2.5 s gap: a new sequence
    analyzer.process(np.zeros(256, dtype=np.float32))
    assert analyzer.features.bpm is None and analyzer.tempo_mode == "auto"


def test_reset_forgets_everything():
    analyzer = LiveAnalyzer(SR)
    per_block(analyzer, make_signal("clicks", 6.0, SR, bpm=120.0))
    analyzer.set_fixed_bpm(140.0)
    analyzer.reset()
    f = analyzer.features
    assert f.index == 0 and f.bpm is None and not f.bands.any() and analyzer.tempo_mode == "auto"


def test_onset_strength_is_librosas_mel_flux_per_block_and_level_free():
    """Mean rectified rise of the mel dB between consecutive blocks, over MEL_FLUX_UNIT: the same
    numbers as librosa's mel power in dB on the same frames, at any input level."""
    import librosa

    from livevis.audio.features import MEL_FLUX_BANDS, MEL_FLUX_UNIT

    bed = np.random.default_rng(3).standard_normal(3 * SR).astype(np.float32) * 0.02  # continuous: no bin at the floor
    signal = make_signal("clicks", 3.0, SR, bpm=100.0) + bed
    analyzer = LiveAnalyzer(SR)
    got = np.array([f.onset_strength for f in per_block(analyzer, signal)])  # [blocks]
    hop, n_fft = analyzer.hop, analyzer.n_fft
    padded = np.concatenate([np.zeros(n_fft - hop, np.float32), signal])  # the analyzer's window starts on zeros
    power = np.abs(librosa.stft(padded, n_fft=n_fft, hop_length=hop, center=False, window="hann")) ** 2
    mel_db = librosa.power_to_db(librosa.filters.mel(sr=SR, n_fft=n_fft, n_mels=MEL_FLUX_BANDS) @ (power * analyzer._power_scale),
                                 ref=1.0, amin=1e-10, top_db=None)
    want = np.maximum(np.diff(mel_db, axis=1), 0.0).mean(axis=0) / MEL_FLUX_UNIT  # [blocks - 1]
    settled = slice(2 * SR // hop, len(got))  # after the start-up (gate opening, first full windows)
    np.testing.assert_allclose(got[settled], want[settled.start - 1 : len(got) - 1], rtol=1e-4, atol=1e-6)
    # Every click is a clear hit, and between them the noise bed barely rises.
    assert got[settled].max() > 0.5 and np.median(got[settled]) < 0.2
    quiet = np.array([f.onset_strength for f in per_block(LiveAnalyzer(SR), signal * 10 ** (-20 / 20))])  # bed still above the gate
    np.testing.assert_allclose(quiet[settled], got[settled], rtol=0.05, atol=0.02)


def test_onset_strength_counts_no_rise_while_the_first_window_fills():
    """A sound already playing when the analysis starts is not an attack: the window filling with it is not."""
    noise = np.random.default_rng(4).standard_normal(SR).astype(np.float32) * 0.1
    analyzer = LiveAnalyzer(SR)
    feats = per_block(analyzer, noise)
    first = analyzer.n_fft // analyzer.hop  # blocks until the window holds only audio
    assert all(f.onset_strength == 0 for f in feats[:first])
    assert max(f.onset_strength for f in feats[first:]) < 0.3
