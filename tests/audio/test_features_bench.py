"""Cost of one LiveAnalyzer block (one STFT frame, bands + AGC, onsets, chroma, tempo bookkeeping).

    OMP_NUM_THREADS=1 .venv/bin/python -m pytest tests/audio/test_features_bench.py --benchmark-only

The tempo re-estimate runs every ~0.5 s inside one block; `test_bench_tempo_estimate` times it alone.
In a plain test run they are timed briefly too; --benchmark-disable runs each once.
"""

import pytest

from livevis.audio.features import LiveAnalyzer
from livevis.audio.synth import make_signal


@pytest.mark.parametrize("rate", [16000, 44100])
def test_bench_one_block(benchmark, rate):
    analyzer = LiveAnalyzer(rate)
    signal = make_signal("clicks", 20.0, rate, bpm=120.0) + make_signal("noise", 20.0, rate) * 0.1
    analyzer.process(signal[: 10 * rate])  # warm: the tempo history is full
    hop = analyzer.hop
    state = {"pos": 10 * rate}

    def one_block():
        pos = state["pos"] = state["pos"] + hop if state["pos"] + 2 * hop <= len(signal) else 10 * rate
        return analyzer.process(signal[pos : pos + hop])

    feats = benchmark(one_block)
    assert feats.bands.shape == (3,) and feats.bpm is not None


def test_bench_tempo_estimate(benchmark):
    analyzer = LiveAnalyzer(22050)
    analyzer.process(make_signal("clicks", 10.0, 22050, bpm=120.0))
    tracker = analyzer._tempo
    benchmark(tracker._estimate, analyzer.features.index)
    assert tracker.bpm == pytest.approx(120.0, rel=0.01)
