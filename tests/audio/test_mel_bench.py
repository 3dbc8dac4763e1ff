"""Cost of one streaming mel window (1 s at 16 kHz, n_fft 1024, hop 256, 80 mels) on CPU.

    OMP_NUM_THREADS=1 .venv/bin/python -m pytest tests/audio/test_mel_bench.py --benchmark-only

Full recompute vs the incremental path advancing 6 hops (~96 ms of audio, a 10 Hz step rate).
In a plain test run they are timed briefly too; --benchmark-disable runs each once.
"""

import numpy as np
import pytest
import torch

from livevis.audio.mel import StreamingLogMel

SR, N_FFT, HOP, N_MELS = 16000, 1024, 256, 80


@pytest.fixture()
def mel():
    return StreamingLogMel(SR, N_FFT, HOP, N_MELS, window_seconds=1.0)


def test_bench_mel_full_window(benchmark, mel):
    window = torch.from_numpy(np.random.default_rng(0).standard_normal(mel.window_samples).astype(np.float32))
    out = benchmark(mel, window)
    assert out.shape == (1, N_MELS, mel.num_frames)


def test_bench_mel_incremental_window(benchmark, mel):
    signal = torch.from_numpy(np.random.default_rng(0).standard_normal(SR * 4).astype(np.float32))
    step = 6 * HOP
    state = {"end": mel.window_samples}
    mel.update(signal[: mel.window_samples], mel.window_samples)

    def one_step():
        end = state["end"] + step
        if end > len(signal):
            end = mel.window_samples + step
        state["end"] = end
        return mel.update(signal[end - mel.window_samples : end], end)

    out = benchmark(one_step)
    assert out.shape == (1, N_MELS, mel.num_frames)
