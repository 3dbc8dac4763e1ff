"""TempoTracker on synthetic onset envelopes: tempo, octave choice, phase, confidence, tap, fixed."""

import numpy as np
import pytest

from livevis.audio.tempo import TempoTracker

SR, HOP = 16000, 128
BLOCK_RATE = SR / HOP


def pulse_envelope(bpm: float, seconds: float, offset_s: float = 0.0, accents=(1.0,), subdivide: int = 1,
                   sub_level: float = 0.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A block-rate onset envelope with a spike per beat (accents cycle per beat), optional weaker
    subdivisions, a little noise; and the beat times in samples."""
    n = int(seconds * BLOCK_RATE)
    env = np.random.default_rng(seed).uniform(0, 0.02, n)
    period = SR * 60.0 / bpm
    beats = offset_s * SR + np.arange(0, seconds * SR / period) * period
    for i, b in enumerate(beats):
        env[min(n - 1, int(b // HOP))] += accents[i % len(accents)]
        for s in range(1, subdivide):
            sub = int((b + s * period / subdivide) // HOP)
            if sub < n:
                env[sub] += sub_level
    return env, beats


def run(tracker: TempoTracker, env: np.ndarray, onsets: np.ndarray | None = None) -> list[tuple]:
    out = []
    for i, e in enumerate(env):
        tracker.push(float(e), bool(onsets[i]) if onsets is not None else False, (i + 1) * HOP)
        out.append(((i + 1) * HOP, tracker.bpm, tracker.phase, tracker.beat))
    return out


@pytest.mark.parametrize("bpm", [70.0, 85.0, 98.0, 120.0, 133.0, 150.0, 165.0, 180.0])  # the target range
def test_tempo_of_a_pulse_train(bpm):
    env, _ = pulse_envelope(bpm, 9.0)
    out = run(TempoTracker(SR, HOP), env)
    late = [b for idx, b, _, _ in out if idx > 5 * SR]
    assert all(b is not None and abs(b / bpm - 1) < 0.01 for b in late), (late[0], late[-1])


def test_eighth_notes_do_not_double_the_tempo():
    env, _ = pulse_envelope(110.0, 9.0, subdivide=2, sub_level=0.6)  # strong off-beat eighths
    out = run(TempoTracker(SR, HOP), env)
    assert abs(out[-1][1] / 110.0 - 1) < 0.01


def test_beat_phase_and_beat_flags_follow_the_pulses():
    bpm, offset = 124.0, 0.137
    env, beats = pulse_envelope(bpm, 10.0, offset_s=offset, accents=(1.0, 0.5, 0.8, 0.5))
    out = run(TempoTracker(SR, HOP), env)
    period = SR * 60.0 / bpm
    for idx, b, phase, _ in out[-200:]:
        predicted = idx - phase * period  # the beat the tracker believes came last
        miss = (predicted - beats[0]) / period
        assert abs(miss - round(miss)) * period / SR < 0.03  # within 30 ms
    flagged = np.array([idx for idx, _, _, beat in out if beat and idx > 5 * SR])
    assert len(flagged) == pytest.approx(5 * bpm / 60, abs=1.5)  # one flag per beat
    nearest = np.array([beats[np.argmin(np.abs(beats - f))] for f in flagged])
    assert np.all(np.abs(flagged - nearest - HOP) <= HOP + 0.03 * SR)  # in the block holding the beat, +-30 ms


def test_no_pulse_no_tempo():
    noise = np.random.default_rng(3).uniform(0, 1, int(9 * BLOCK_RATE)) ** 4  # onsets at random times
    out = run(TempoTracker(SR, HOP), noise)
    assert all(b is None for _, b, _, _ in out)
    assert all(b is None for _, b, _, _ in run(TempoTracker(SR, HOP), np.zeros(int(6 * BLOCK_RATE))))


def test_tempo_lost_after_the_music_stops():
    env, _ = pulse_envelope(100.0, 8.0)
    tracker = TempoTracker(SR, HOP)
    run(tracker, np.concatenate([env, np.zeros(int(10 * BLOCK_RATE))]))
    assert tracker.bpm is None


def test_a_tempo_change_is_followed():
    a, _ = pulse_envelope(100.0, 8.0)
    b, _ = pulse_envelope(130.0, 10.0, seed=1)
    out = run(TempoTracker(SR, HOP), np.concatenate([a, b]))
    assert abs(out[len(a) - 1][1] - 100.0) < 1.0
    assert abs(out[-1][1] - 130.0) < 1.3


def test_tap_sets_tempo_and_phase_then_fixed_then_auto():
    env, _ = pulse_envelope(120.0, 6.0)
    tracker = TempoTracker(SR, HOP)
    run(tracker, env)
    assert abs(tracker.bpm - 120.0) < 1.2
    now = len(env) * HOP
    period = SR * 60 / 80.0
    taps = [now - 3 * period + 40, now - 2 * period - 30, now - period + 20, now - 10]  # a little jitter
    for t in taps:
        tracker.tap(int(t))
    tracker.push(0.0, True, now + HOP)
    assert tracker.mode == "tap" and abs(tracker.bpm - 80.0) < 0.5
    assert tracker.phase == pytest.approx((HOP + 10) / period, abs=0.01)
    tracker.set_fixed_bpm(95.5)
    tracker.push(0.0, False, now + 2 * HOP)
    assert tracker.bpm == pytest.approx(95.5) and tracker.mode == "fixed"
    with pytest.raises(ValueError):
        tracker.set_fixed_bpm(0.0)
    tracker.set_fixed_bpm(None)
    run(tracker, env)
    assert tracker.mode == "auto" and abs(tracker.bpm - 120.0) < 1.2


def test_fixed_bpm_finds_the_phase_from_the_audio():
    bpm, offset = 100.0, 0.21
    env, beats = pulse_envelope(bpm, 8.0, offset_s=offset)
    tracker = TempoTracker(SR, HOP)
    tracker.set_fixed_bpm(bpm)
    out = run(tracker, env)
    assert all(b == pytest.approx(bpm) for _, b, _, _ in out)
    period = SR * 60.0 / bpm
    idx, _, phase, _ = out[-1]
    miss = (idx - phase * period - beats[0]) / period
    assert abs(miss - round(miss)) * period / SR < 0.03


def test_reset_clears_tempo_and_overrides():
    tracker = TempoTracker(SR, HOP)
    run(tracker, pulse_envelope(120.0, 6.0)[0])
    tracker.set_fixed_bpm(90.0)
    tracker.reset()
    assert tracker.bpm is None and tracker.mode == "auto"
