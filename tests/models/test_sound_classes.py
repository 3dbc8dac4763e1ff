"""SoundClasses: log-mel window -> class logits from level-free texture statistics; scene() mixes the
classes' scene latents by the posterior."""

import pytest
import torch

from livevis.errors import LivevisError
from livevis.models import factory
from livevis.models.sound_classes import SoundClasses, SoundClassesConfig, texture_dim, texture_statistics

N_MELS, FRAMES, K, W_DIM, P = 16, 30, 3, 8, 2


def make_model(**changes) -> SoundClasses:
    torch.manual_seed(0)
    cfg = dict(n_mels=N_MELS, num_frames=FRAMES, num_classes=K, hidden=12, w_dim=W_DIM, scenes_per_class=P)
    return SoundClasses(SoundClassesConfig(**{**cfg, **changes})).eval()


def mel_windows(b: int, n_mels: int = N_MELS, frames: int = FRAMES, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, n_mels, frames, generator=g) * 15 - 50  # [B, n_mels, frames] dB


def test_output_shapes_and_scenes_buffer():
    model = make_model()
    assert model(mel_windows(5)).shape == (5, K)
    assert model.scenes.shape == (K, P, W_DIM)
    assert "scenes" in model.state_dict()  # saved with the part
    built = factory.build("sound_classes", dict(n_mels=N_MELS, num_frames=FRAMES, num_classes=K, w_dim=W_DIM))
    assert built(mel_windows(2)).shape == (2, K)


@pytest.mark.parametrize("n_mels", [80, 16, 4])
def test_texture_dim_matches_the_statistics_width(n_mels):
    stats = texture_statistics(mel_windows(3, n_mels, 59) / 30)
    assert stats.shape == (3, texture_dim(n_mels))
    assert torch.isfinite(stats).all()


def test_modulation_shares_sum_to_one_per_coarse_band():
    n_mels = 80
    stats = texture_statistics(mel_windows(2, n_mels, 59) / 30)
    mod = stats[:, -5 * 10:].reshape(2, 10, 5)  # [B, C, octaves]
    assert torch.allclose(mod.sum(-1), torch.ones(2, 10), atol=1e-5)


def test_a_level_change_leaves_the_logits_unchanged():
    model = make_model()
    mel = mel_windows(4)
    with torch.no_grad():
        a, b = model(mel), model(mel + 20.0)
        other = model(mel_windows(4, seed=9))
    assert torch.allclose(a, b, atol=1e-4), (a - b).abs().max()
    assert not torch.allclose(a, other, atol=1e-3)  # the logits do depend on the sound itself


def test_scene_mixes_each_classes_pick_th_latent():
    model = make_model()
    with torch.no_grad():
        model.scenes.copy_(torch.randn(K, P, W_DIM))
    for c in range(K):
        for pick in (0, 1, 5):
            one_hot = torch.zeros(K)
            one_hot[c] = 1.0
            assert torch.equal(model.scene(one_hot, pick), model.scenes[c, pick % P])
    half = torch.tensor([0.5, 0.5, 0.0])
    want = (model.scenes[0, 1] + model.scenes[1, 1]) / 2
    assert torch.allclose(model.scene(half, 3), want, atol=1e-6)


def test_w_plus_scenes_mix_per_layer():
    """num_ws set: a scene is one w per layer [num_ws, w_dim], mixed by the posterior layer by layer."""
    model = make_model(num_ws=5)
    assert model.scenes.shape == (K, P, 5, W_DIM)
    with torch.no_grad():
        model.scenes.copy_(torch.randn(K, P, 5, W_DIM))
    one_hot = torch.tensor([0.0, 1.0, 0.0])
    assert torch.equal(model.scene(one_hot, 1), model.scenes[1, 1])
    mix = torch.tensor([0.25, 0.0, 0.75])
    assert torch.allclose(model.scene(mix, 2), 0.25 * model.scenes[0, 0] + 0.75 * model.scenes[2, 0], atol=1e-6)


def test_bad_input_shape_is_a_clear_error():
    model = make_model()
    for shape in ((2, N_MELS + 1, FRAMES), (2, N_MELS, FRAMES - 1), (N_MELS, FRAMES)):
        with pytest.raises(LivevisError, match="log-mel"):
            model(torch.zeros(shape))


@pytest.mark.parametrize("bad", [dict(num_classes=0), dict(n_mels=0), dict(num_frames=1), dict(hidden=0),
                                 dict(w_dim=0), dict(scenes_per_class=0), dict(mel_std=0.0), dict(dropout=1.0),
                                 dict(dropout=-0.1), dict(num_ws=-1)])
def test_bad_config_is_a_clear_error(bad):
    with pytest.raises(LivevisError, match="SoundClassesConfig"):
        SoundClassesConfig(**bad)


def test_it_learns_textures_apart_at_any_level():
    """Steady tones vs crackle (sparse clicks over hiss), at levels 40 dB apart: the texture statistics
    separate them after a short training, and a level it never saw changes nothing."""
    import numpy as np

    from livevis.audio.mel import log_mel

    rng = np.random.default_rng(0)
    sr, n = 16000, 16000

    def window(kind: int, gain_db: float) -> np.ndarray:
        t = np.arange(n) / sr
        if kind == 0:
            x = np.sin(2 * np.pi * rng.uniform(200, 2000) * t)
        else:
            x = 0.05 * rng.standard_normal(n)
            x[rng.integers(0, n, 40)] += rng.choice([-1.0, 1.0], 40)
        return (x * 10 ** (gain_db / 20) * 0.1).astype(np.float32)

    def batch(count: int, gains) -> tuple[torch.Tensor, torch.Tensor]:
        labels = rng.integers(0, 2, count)
        audio = np.stack([window(int(k), float(rng.choice(gains))) for k in labels])
        return log_mel(torch.from_numpy(audio), sr, 1024, 256, 80), torch.from_numpy(labels)

    torch.manual_seed(0)
    model = SoundClasses(SoundClassesConfig(num_classes=2, hidden=32, w_dim=8, scenes_per_class=1))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    mel, labels = batch(64, (-20.0, 0.0))
    for _ in range(60):
        loss = torch.nn.functional.cross_entropy(model(mel), labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    test_mel, test_labels = batch(32, (20.0,))          # 20 dB louder than anything trained on
    with torch.no_grad():
        assert (model(test_mel).argmax(1) == test_labels).float().mean() >= 0.9
