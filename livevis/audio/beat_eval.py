"""Score the live analysis against ground truth: tempo error, time to lock, beat-phase error, onset delay.

    .venv/bin/python -m livevis.audio.beat_eval tests/data/music [--split validation|test|all]

Tracks are `<name>.flac` with `<name>.json` beside them (bpm, beat_offset_s, beat_period_s, split), as
written by scripts/make_music_set.py. The audio is fed one block at a time, as live.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np

from livevis.audio.features import LiveAnalyzer

LOCK_TOLERANCE = 0.02  # "within 2% of the true BPM"


def track_scores(samples: np.ndarray, sample_rate: int, bpm: float | None, beat_offset_s: float = 0.0,
                 after_s: float = 5.0) -> dict:
    """Feed `samples` [N] block by block; returns final bpm, relative error, time to lock (the time
    after which every estimate stays within 2%), the share of blocks after `after_s` within 2%, and
    the beat-phase error (ms, predicted beat vs the true grid) over the blocks after `after_s`."""
    analyzer = LiveAnalyzer(sample_rate)
    hop = analyzer.hop
    times, bpms, phases = [], [], []
    for i in range(0, len(samples) - hop + 1, hop):
        f = analyzer.process(samples[i : i + hop])
        times.append(f.index / sample_rate)
        bpms.append(f.bpm)
        phases.append(f.beat_phase)
    final = bpms[-1] if bpms else None
    out = {"final_bpm": final, "true_bpm": bpm}
    if bpm is None:
        out["blocks_with_bpm"] = sum(b is not None for b in bpms) / max(1, len(bpms))
        return out
    ok = [b is not None and abs(b / bpm - 1) < LOCK_TOLERANCE for b in bpms]
    lock = None
    for i in range(len(ok) - 1, -1, -1):
        if not ok[i]:
            break
        lock = times[i]
    late = [i for i, t in enumerate(times) if t >= after_s]
    period = 60.0 / bpm
    errors = []
    for i in late:
        if bpms[i] is not None and ok[i]:
            predicted = times[i] - phases[i] * 60.0 / bpms[i]  # the newest beat the tracker believes in
            beats = (predicted - beat_offset_s) / period
            errors.append((beats - round(beats)) * period * 1000.0)
    out.update({
        "rel_error": None if final is None else final / bpm - 1.0,
        "lock_s": lock,
        "within_2pct_after": sum(ok[i] for i in late) / max(1, len(late)),
        "phase_err_ms_median": float(np.median(errors)) if errors else None,
        "phase_err_ms_p90_abs": float(np.percentile(np.abs(errors), 90)) if errors else None,
    })
    return out


def onset_delays(bpm: float, seconds: float, sample_rate: int) -> np.ndarray:
    """Delay (samples) from each click start of synth:clicks@bpm to the end of the first block whose
    onsets fire (the earliest a consumer can see it)."""
    from livevis.audio.synth import make_signal

    analyzer = LiveAnalyzer(sample_rate)
    signal = make_signal("clicks", seconds, sample_rate, bpm=bpm)
    fired = []
    for i in range(0, len(signal) - analyzer.hop + 1, analyzer.hop):
        f = analyzer.process(signal[i : i + analyzer.hop])
        if f.onsets.any():
            fired.append(f.index)
    fired = np.asarray(fired)
    beat = sample_rate * 60.0 / bpm
    starts = np.ceil(np.arange(0, seconds * sample_rate / beat) * beat)
    return np.array([fired[fired > s][0] - s for s in starts if (fired > s).any()])


def main(argv: list[str] | None = None) -> int:
    import soundfile as sf

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("folder", type=Path)
    p.add_argument("--split", default="all", choices=("validation", "test", "all"))
    args = p.parse_args(argv)
    for meta in sorted(args.folder.glob("*.json")):
        truth = json.loads(meta.read_text())
        if args.split != "all" and truth["split"] != args.split:
            continue
        samples, rate = sf.read(meta.with_suffix(".flac"), dtype="float32")
        s = track_scores(samples, rate, truth["bpm"], truth.get("beat_offset_s") or 0.0)
        print(json.dumps({"file": truth["file"], "split": truth["split"],
                          **{k: (round(v, 4) if isinstance(v, float) and math.isfinite(v) else v) for k, v in s.items()}}))
    for rate in (16000, 22050, 44100):
        d = onset_delays(120.0, 10.0, rate) / rate * 1000.0
        print(json.dumps({"onset_delay_ms": {"rate": rate, "median": round(float(np.median(d)), 2),
                                             "max": round(float(d.max()), 2), "block_ms": round(LiveAnalyzer(rate).block_seconds * 1000, 2)}}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
