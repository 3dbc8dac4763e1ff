"""SoundEncoder: shape contract, unit-norm embeddings, near-zero offsets at init, config validation."""

import dataclasses

import librosa
import numpy as np
import pytest
import torch

from livevis.errors import LivevisError
from livevis.models import factory
from livevis.models.sound_encoder import SoundEncoder, SoundEncoderConfig

TINY = dict(n_mels=40, num_frames=31, stem_width=8, widths=(8, 16), blocks=(1, 2), embed_dim=32, num_ws=6, w_dim=16)


def _mel_of(signal: np.ndarray, sr: int = 16000, n_mels: int = 40) -> torch.Tensor:
    """The front end's contract: power_to_db(melspectrogram(center=False)), [n_mels, frames] dB."""
    mel = librosa.feature.melspectrogram(y=signal, sr=sr, n_fft=1024, hop_length=256, n_mels=n_mels, center=False)
    return torch.from_numpy(librosa.power_to_db(mel, ref=1.0, top_db=None)).float()


@pytest.fixture
def encoder():
    torch.manual_seed(0)
    return SoundEncoder(SoundEncoderConfig(**TINY)).eval()


def test_shapes_and_unit_norm(encoder):
    mel = torch.randn(3, 40, 31) * 20 - 40               # [B, n_mels, frames] dB
    emb, off = encoder(mel)
    assert emb.shape == (3, 32) and off.shape == (3, 6, 16)
    torch.testing.assert_close(emb.norm(dim=-1), torch.ones(3), atol=1e-5, rtol=0)


def test_real_log_mel_windows_give_distinct_embeddings(encoder):
    sr = 16000
    n = 1024 + 30 * 256                                   # exactly 31 frames with center=False
    t = np.arange(n) / sr
    tone = 0.5 * np.sin(2 * np.pi * 440 * t).astype(np.float32)
    noise = np.random.default_rng(0).normal(0, 0.3, n).astype(np.float32)
    mels = torch.stack([_mel_of(tone), _mel_of(noise), _mel_of(np.zeros(n, np.float32))])  # [3, 40, 31]
    assert mels.shape == (3, 40, 31)
    emb, off = encoder(mels)
    assert torch.isfinite(emb).all() and torch.isfinite(off).all()  # silence is -100 dB: still finite
    cos = emb @ emb.T
    assert cos[0, 1] < 0.9999 and cos[0, 2] < 0.9999      # the encoder tells sounds apart at init


def test_offsets_near_zero_at_init(encoder):
    mel = torch.randn(8, 40, 31) * 25 - 40
    _, off = encoder(mel)
    assert off.abs().max() < 0.05, "an untrained encoder must barely move w"
    assert off.abs().max() > 0, "offset head must not be dead (zero init blocks nothing, but check wiring)"


def test_offset_scale_multiplies_offsets():
    torch.manual_seed(1)
    a = SoundEncoder(SoundEncoderConfig(**TINY)).eval()
    b = SoundEncoder(SoundEncoderConfig(**{**TINY, "offset_scale": 3.0})).eval()
    b.load_state_dict(a.state_dict())
    mel = torch.randn(2, 40, 31) * 20 - 40
    torch.testing.assert_close(b(mel)[1], 3.0 * a(mel)[1])
    torch.testing.assert_close(b(mel)[0], a(mel)[0])


def test_louder_input_changes_output(encoder):
    """Fixed dB normalisation (no per-sample norm): loudness is information the encoder keeps."""
    mel = torch.randn(1, 40, 31) * 10 - 60
    e1, o1 = encoder(mel)
    e2, o2 = encoder(mel + 30.0)
    assert (e1 - e2).abs().max() > 1e-4 and (o1 - o2).abs().max() > 0


def test_gradients_reach_every_parameter(encoder):
    encoder.train()
    emb, off = encoder(torch.randn(4, 40, 31) * 20 - 40)
    (emb[:, 0].sum() + off.square().sum() * 1e3).backward()
    dead = [n for n, p in encoder.named_parameters() if p.grad is None]
    assert not dead, dead


@pytest.mark.parametrize("shape", [(40, 31), (2, 41, 31), (2, 40, 30), (2, 1, 40, 31)])
def test_wrong_input_shape_is_a_clear_error(encoder, shape):
    with pytest.raises(LivevisError, match=r"expects log-mel \[B, 40, 31\]"):
        encoder(torch.zeros(shape))


def test_config_round_trip_and_validation():
    cfg = SoundEncoderConfig(**TINY)
    again = SoundEncoderConfig.from_dict(cfg.to_dict())
    assert again == cfg and isinstance(again.widths, tuple)
    with pytest.raises(LivevisError, match="unknown key"):
        SoundEncoderConfig.from_dict({**cfg.to_dict(), "depth": 3})
    with pytest.raises(LivevisError, match="equal length"):
        SoundEncoderConfig(**{**TINY, "blocks": (1,)})
    with pytest.raises(LivevisError, match="positive"):
        SoundEncoderConfig(**{**TINY, "num_ws": 0})


def test_factory_and_live_preset():
    arch, cfg = factory.load_preset("sound_encoder-live")
    enc = factory.build(arch, cfg)
    assert isinstance(enc, SoundEncoder) and enc.config == SoundEncoderConfig.from_dict(cfg)
    # ~1 s at 16 kHz, n_fft 1024, hop 256: 1 + (16000 - 1024) // 256 frames.
    assert (enc.config.n_mels, enc.config.num_frames) == (80, 1 + (16000 - 1024) // 256)
    assert (enc.config.num_ws, enc.config.w_dim) == (14, 512)
    assert dataclasses.asdict(enc.config)["widths"] == (32, 64, 128, 256)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA (CPU path is covered above)")
def test_cuda_matches_cpu(encoder):
    mel = torch.randn(2, 40, 31) * 20 - 40
    with torch.no_grad():
        want = encoder(mel)
        got = encoder.to("cuda")(mel.cuda())
    for g, w in zip(got, want):
        torch.testing.assert_close(g.cpu(), w, atol=1e-4, rtol=1e-3)


def test_learns_to_tell_two_sounds_apart():
    """A few Adam steps must map tone windows and noise windows to their own CLIP-space targets
    and their own W+ offsets (the encoder's two training signals), then hold in eval mode."""
    torch.manual_seed(0)
    enc = SoundEncoder(SoundEncoderConfig(**TINY))
    rng = np.random.default_rng(0)
    n = 1024 + 30 * 256
    t = np.arange(n) / 16000

    def batch(k):
        tones = [_mel_of((0.3 * np.sin(2 * np.pi * rng.uniform(300, 600) * t)).astype(np.float32)) for _ in range(k)]
        noises = [_mel_of(rng.normal(0, rng.uniform(0.05, 0.3), n).astype(np.float32)) for _ in range(k)]
        return torch.stack(tones + noises), torch.tensor([0] * k + [1] * k)

    targets = torch.nn.functional.normalize(torch.randn(2, 32), dim=-1)  # [2, embed_dim]
    target_off = torch.randn(2, 6, 16) * 0.5                             # [2, num_ws, w_dim]
    opt = torch.optim.Adam(enc.parameters(), lr=1e-2)
    mels, labels = batch(4)
    for _ in range(40):
        emb, off = enc(mels)
        loss = (1 - (emb * targets[labels]).sum(-1)).mean() + (off - target_off[labels]).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    enc.eval()
    test_mels, test_labels = batch(3)
    with torch.no_grad():
        emb, off = enc(test_mels)
    assert ((emb * targets[test_labels]).sum(-1) > 0.8).all()
    assert (off - target_off[test_labels]).square().mean() < 0.1 * target_off.square().mean()


def _level_free_encoder(stats_width: int) -> SoundEncoder:
    torch.manual_seed(0)
    enc = SoundEncoder(SoundEncoderConfig(**TINY, input_norm="window", stats_width=stats_width, offset_init_scale=1.0))
    return enc.eval()


@pytest.mark.parametrize("stats_width", [0, 24])
def test_window_norm_ignores_the_level_and_keeps_the_shape(stats_width):
    """input_norm=window: a recording 20 dB louder is the same sound; a different spectrum is not."""
    enc = _level_free_encoder(stats_width)
    rng = np.random.default_rng(0)
    mel = _mel_of(rng.standard_normal(16000).astype(np.float32)).unsqueeze(0)[..., :31]  # [1, 40, 31]
    tilted = mel + torch.linspace(-10, 10, 40)[None, :, None]                                 # EQ tilt
    with torch.no_grad():
        (e, o), (e_loud, o_loud), (e_tilt, _) = enc(mel), enc(mel + 20.0), enc(tilted)
    torch.testing.assert_close(e_loud, e, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(o_loud, o, atol=1e-5, rtol=1e-4)
    assert (e_tilt - e).abs().max() > 1e-3


def test_band_statistics_branch_widens_features_and_learns():
    enc = _level_free_encoder(24)
    assert enc.feature_dim == 16 + 24
    mel = torch.randn(3, 40, 31) * 10 - 40
    emb, offset = enc.train()(mel)
    (emb.sum() + offset.sum()).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in enc.stats.parameters())


def test_band_statistics_values():
    from livevis.models.sound_encoder import band_statistics

    x = torch.tensor([[1.0, 3.0, 1.0, 3.0], [2.0, 2.0, 2.0, 2.0]])[None, None]  # [1, 1, 2 bands, 4 frames]
    stats = band_statistics(x)                                                    # [1, 6]: means, spreads, changes
    torch.testing.assert_close(stats[0], torch.tensor([2.0, 2.0, 1.0, 1e-3, 2.0, 0.0]), atol=1e-4, rtol=0)


def test_new_options_are_validated():
    with pytest.raises(LivevisError, match="input_norm"):
        SoundEncoderConfig(**TINY, input_norm="loud")
    with pytest.raises(LivevisError, match="stats_width"):
        SoundEncoderConfig(**TINY, stats_width=-1)


def test_stats_encoder_exports_to_onnx(tmp_path):
    """The branch uses only fixed AveragePools, so the live engines (ONNX Runtime, opset 17) run it."""
    onnxruntime = pytest.importorskip("onnxruntime")
    enc = _level_free_encoder(24)
    mel = torch.randn(2, 40, 31) * 10 - 40
    path = tmp_path / "enc.onnx"
    torch.onnx.export(enc, (mel,), str(path), opset_version=17, input_names=["mel"], dynamo=False)
    got = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"mel": mel.numpy()})
    want = enc(mel)
    np.testing.assert_allclose(got[0], want[0].detach().numpy(), atol=1e-4)
    np.testing.assert_allclose(got[1], want[1].detach().numpy(), atol=1e-4)
