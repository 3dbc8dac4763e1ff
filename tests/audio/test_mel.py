import librosa
import numpy as np
import pytest
import torch

from livevis.audio import log_mel
from livevis.audio.mel import StreamingLogMel, mel_filterbank
from livevis.audio.synth import make_signal

PARAMS = [  # (sample_rate, n_fft, hop, n_mels, fmin, fmax)
    (16000, 1024, 256, 80, 0.0, None),
    (22050, 2048, 512, 128, 20.0, 8000.0),
    (16000, 400, 160, 64, 0.0, None),
    (44100, 512, 128, 40, 100.0, 12000.0),
]


def _signal(kind: str, sample_rate: int) -> np.ndarray:
    if kind == "noise":
        return np.random.default_rng(1).standard_normal(sample_rate).astype(np.float32) * 0.3
    if kind == "sweep":
        return make_signal("sweep", 1.0, sample_rate)
    return make_signal("clicks", 1.0, sample_rate, bpm=240)


def _librosa(y, sr, n_fft, hop, n_mels, fmin, fmax):
    mel = librosa.feature.melspectrogram(y=y, sr=sr, n_fft=n_fft, hop_length=hop, n_mels=n_mels, fmin=fmin,
                                         fmax=fmax, center=False)
    return librosa.power_to_db(mel, ref=1.0, top_db=None)


@pytest.mark.parametrize("kind", ["noise", "sweep", "clicks"])
@pytest.mark.parametrize("params", PARAMS, ids=lambda p: f"sr{p[0]}-fft{p[1]}-hop{p[2]}-mels{p[3]}")
def test_log_mel_matches_librosa(kind, params):
    sr, n_fft, hop, n_mels, fmin, fmax = params
    y = _signal(kind, sr)
    ref = _librosa(y, sr, n_fft, hop, n_mels, fmin, fmax)  # [n_mels, frames]
    got = log_mel(y, sr, n_fft, hop, n_mels, fmin=fmin, fmax=fmax)
    assert isinstance(got, np.ndarray) and got.shape == ref.shape == (n_mels, 1 + (len(y) - n_fft) // hop)
    considered = ref >= ref.max() - 80.0
    assert considered.sum() >= 100  # the check covers a real part of the spectrogram
    assert np.abs(got - ref)[considered].max() <= 0.01


def test_log_mel_torch_in_torch_out_and_batches():
    y = _signal("noise", 16000)
    ref = log_mel(y, 16000, 1024, 256, 80)
    t = log_mel(torch.from_numpy(y), 16000, 1024, 256, 80)
    assert isinstance(t, torch.Tensor) and t.dtype == torch.float32
    np.testing.assert_allclose(t.numpy(), ref, atol=1e-4)
    batch = log_mel(torch.from_numpy(np.stack([y, y[::-1].copy()])), 16000, 1024, 256, 80)
    assert batch.shape == (2, 80, ref.shape[1])
    np.testing.assert_allclose(batch[0].numpy(), ref, atol=1e-4)


def test_log_mel_rejects_too_short_input():
    with pytest.raises(ValueError, match="n_fft"):
        log_mel(np.zeros(100, np.float32), 16000, 1024, 256, 80)


def test_filterbank_is_librosa_slaney():
    fb = mel_filterbank(16000, 1024, 80)
    ref = librosa.filters.mel(sr=16000, n_fft=1024, n_mels=80, htk=False, norm="slaney")
    assert fb.shape == (80, 513)
    np.testing.assert_allclose(fb.numpy(), ref, rtol=1e-6, atol=1e-9)


def test_streaming_full_window_equals_log_mel():
    mel = StreamingLogMel(16000, 1024, 256, 80, window_seconds=1.0)
    assert mel.window_samples == 16000 and mel.num_frames == 1 + (16000 - 1024) // 256
    y = torch.from_numpy(_signal("sweep", 16000))
    out = mel(y)
    assert out.shape == (1, 80, mel.num_frames)
    np.testing.assert_allclose(out[0].numpy(), log_mel(y, 16000, 1024, 256, 80).numpy(), atol=1e-4)


@pytest.mark.parametrize("hop,window_seconds", [(256, 1.0), (160, 0.73)])
def test_incremental_update_equals_full_recompute(hop, window_seconds):
    sr, n_fft = 16000, 1024
    stream = StreamingLogMel(sr, n_fft, hop, 64, window_seconds)
    full = StreamingLogMel(sr, n_fft, hop, 64, window_seconds)
    W = stream.window_samples
    signal = torch.from_numpy(np.concatenate([make_signal("noise", 3.0, sr, seed=3), make_signal("sweep", 3.0, sr)]))
    # Hop-aligned steps (reused frames), a step of more than a window, an unaligned jump, a rewind.
    ends = [W, W + hop, W + 6 * hop, W + 6 * hop, W + 7 * hop, W + 7 * hop + 3 * W, 70001, 70001 + 2 * hop,
            stream.aligned_end(90000), stream.aligned_end(90000) + hop, W + hop]
    for end in ends:
        window = signal[end - W : end]
        got = stream.update(window, end).clone()
        want = full(window)
        assert got.shape == (1, 64, stream.num_frames)
        torch.testing.assert_close(got, want, atol=1e-3, rtol=0)


def test_streaming_rejects_wrong_window_length():
    mel = StreamingLogMel(16000, 1024, 256, 80, window_seconds=1.0)
    with pytest.raises(AssertionError):
        mel(torch.zeros(15999))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA (the CPU path is covered above)")
def test_streaming_on_cuda_matches_cpu():
    y = torch.from_numpy(_signal("noise", 16000))
    cpu = StreamingLogMel(16000, 1024, 256, 80, 1.0)
    gpu = StreamingLogMel(16000, 1024, 256, 80, 1.0, device="cuda")
    want = cpu(y)
    got = gpu(y.cuda())
    assert got.device.type == "cuda" and got.shape == want.shape
    torch.testing.assert_close(got.cpu(), want, atol=1e-2, rtol=0)
    torch.testing.assert_close(gpu.update(y.cuda(), 16000).cpu(), want, atol=1e-2, rtol=0)
    assert log_mel(y.cuda(), 16000, 1024, 256, 80).device.type == "cuda"
