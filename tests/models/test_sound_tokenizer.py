"""The sound tokenizer: shapes for any length, the EMA codebook gets used, Griffin-Lim back to sound."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from livevis.audio import log_mel
from livevis.errors import LivevisError
from livevis.models import factory
from livevis.models.bundle import AudioFrontend
from livevis.models.sound_tokenizer import EMAQuantizer, HybridContrastiveHeads, mel_frames_for, mel_to_waveform


def _tiny():
    torch.manual_seed(0)
    return factory.build(*factory.load_preset("sound_tokenizer-tiny"))


@pytest.mark.parametrize("frames", [4, 59, 90, 101])
def test_any_length_round_trips_in_shape(frames):
    tok = _tiny().eval()
    mel = torch.randn(2, 80, frames) * 10 - 40
    codes = tok.tokenize(mel)
    assert codes.shape == (2, -(-frames // 4)) and codes.dtype == torch.int64
    assert 0 <= int(codes.min()) and int(codes.max()) < tok.config.codebook_size
    out = tok(mel)
    assert out["recon"].shape == mel.shape and out["z_q"].shape[-1] == codes.shape[1]
    assert torch.equal(out["codes"], codes)  # eval forward quantises exactly as tokenize
    assert tok.decode_tokens(codes).shape == (2, 80, codes.shape[1] * 4)


def test_bad_input_is_one_clear_error():
    tok = _tiny()
    with pytest.raises(LivevisError, match="log-mel"):
        tok.tokenize(torch.zeros(1, 64, 20))
    with pytest.raises(LivevisError, match="token ids"):
        tok.decode_tokens(torch.tensor([[0, tok.config.codebook_size]]))


def test_ema_codebook_starts_on_data_and_restarts_dead_codes():
    """Vectors from 16 far-apart clusters: after a few EMA steps nearly every cluster has its own code."""
    torch.manual_seed(0)
    q = EMAQuantizer(32, 8, decay=0.8).train()
    centres = torch.randn(16, 8) * 5
    first = None
    for step in range(40):
        z = (centres[torch.randint(0, 16, (256,))] + 0.05 * torch.randn(256, 8)).T[None]  # [1, 8, 256]
        _, codes, commit, perplexity = q(z)
        first = float(perplexity) if first is None else first
    assert float(perplexity) > 12.0, (first, float(perplexity))  # (nearly) all 16 clusters in use
    assert float(commit) < 0.01 * 25.0, float(commit)            # codes sit on the clusters (data variance 25)
    q.eval()
    assert torch.equal(q(z)[1], q.codes(z[0].T).view(1, -1))


def test_inter_modal_logits_pair_every_frame_with_every_clip():
    heads = HybridContrastiveHeads(code_dim=16, image_dim=64, dim=32)
    logits = heads.inter_logits(torch.randn(5, 16, 7), torch.randn(5, 64))
    assert logits.shape == (5, 5) and torch.isfinite(logits).all()
    # Row i uses frame i as the attention query over clip j's tokens: permuting the clips permutes columns.
    perm = torch.tensor([2, 0, 4, 1, 3])
    z, img = torch.randn(5, 16, 7), torch.randn(5, 64)
    assert torch.allclose(heads.inter_logits(z[perm], img), heads.inter_logits(z, img)[:, perm], atol=1e-5)


def test_griffin_lim_is_deterministic_and_sounds_like_its_mel():
    fe = AudioFrontend()
    sr, n = fe.sample_rate, 16000
    t = np.arange(n) / sr
    rng = np.random.default_rng(0)
    audio = (0.3 * np.sin(2 * np.pi * 440 * t) + 0.05 * rng.standard_normal(n)).astype(np.float32)
    # The mel of centred frames, as the generator's Griffin-Lim inversion expects it.
    import librosa

    mel = librosa.power_to_db(librosa.feature.melspectrogram(y=audio, sr=sr, n_fft=fe.n_fft, hop_length=fe.hop_length,
                                                             n_mels=fe.n_mels), ref=1.0, top_db=None)
    assert mel.shape[1] == mel_frames_for(n, fe.hop_length)
    a = mel_to_waveform(mel, fe, n, seed=1)
    b = mel_to_waveform(mel, fe, n, seed=1)
    c = mel_to_waveform(mel, fe, n, seed=2)
    assert a.shape == (n,) and a.dtype == np.float32 and np.array_equal(a, b) and not np.array_equal(a, c)
    spec = np.abs(np.fft.rfft(a))
    assert abs(np.argmax(spec) * sr / n - 440) < 5          # the tone comes back at its pitch
    back = log_mel(a, sr, fe.n_fft, fe.hop_length, fe.n_mels)
    ref = log_mel(audio, sr, fe.n_fft, fe.hop_length, fe.n_mels)
    assert float(np.abs(back - ref)[:, 4:-4].mean()) < 3.0   # dB, away from the edges
