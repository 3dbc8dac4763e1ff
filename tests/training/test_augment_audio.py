"""Audio augmentation: a seeded recording chain (room, background, microphone, EQ, compression,
codec, gain) that is deterministic per seed, changes the audio, keeps its length and stays finite."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from livevis.errors import LivevisError
from livevis.training import audio_backgrounds, augment_audio
from livevis.training.augment_audio import AudioAugment

SR = 16000
STEPS = ["reverb", "background", "mic", "eq", "compress", "codec"]


def _sound(seed: int = 0, seconds: float = 1.25) -> np.ndarray:
    """A test signal with tone, noise and clicks, its second half 20 dB louder (about -14 dBFS)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    x = (0.3 * np.sin(2 * np.pi * 440 * t) + 0.05 * rng.standard_normal(len(t))) * np.where(t < seconds / 2, 0.1, 1.0)
    x[:: SR // 5] += 0.5
    return x.astype(np.float32)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("backgrounds")


def _only(step: str | None, **extra) -> dict:
    return {"p": 1.0, **{s: float(s == step) for s in STEPS}, **extra}


def test_deterministic_per_seed_and_it_changes_the_audio(cache):
    aug = AudioAugment({"p": 1.0}, SR, cache)
    x = _sound()
    outs = [aug.augment(x, np.random.default_rng(s)) for s in (1, 1, 2)]
    assert np.array_equal(outs[0], outs[1])
    assert not np.allclose(outs[0], outs[2])
    for s in range(12):
        y = aug.augment(x, np.random.default_rng(s))
        assert y.shape == x.shape and y.dtype == np.float32
        assert np.isfinite(y).all() and np.abs(y).max() <= 1.0
        assert not np.allclose(y, x, atol=1e-4)


@pytest.mark.parametrize("step", STEPS)
def test_each_step_alone_changes_the_audio_and_keeps_its_timing(step, cache):
    aug = AudioAugment(_only(step, gain_db=0.0, snr_db=[5.0, 5.0]), SR, cache)
    x = _sound(1)
    for s in range(3):
        y = aug.augment(x, np.random.default_rng(s))
        assert y.shape == x.shape and np.isfinite(y).all()
        assert not np.allclose(y, x, atol=1e-4), step
    # No step shifts the sound in time (codecs are latency-compensated; the minimum-phase filters of
    # the microphone and EQ delay it by a fraction of a millisecond, as real ones do).
    lag = np.argmax(np.correlate(y[2000:18000], x[2000:18000], "full")) - (16000 - 1)
    assert abs(lag) <= 16, (step, lag)


def test_gain_stays_within_its_range():
    aug = AudioAugment(_only(None, gain_db=20.0), SR)
    x = 0.005 * _sound(2)                                                 # quiet: +20 dB does not clip
    gains = []
    for s in range(200):
        plan = aug.plan(np.random.default_rng(s))
        y = aug.apply(x, plan)
        measured = 20 * np.log10(np.sqrt(np.mean(y.astype(np.float64) ** 2)) / np.sqrt(np.mean(x.astype(np.float64) ** 2)))
        assert abs(measured - plan["gain_db"]) < 0.01
        gains.append(measured)
    assert -20.0 <= min(gains) < -15.0 and 15.0 < max(gains) <= 20.0


def test_p_zero_or_no_config_leaves_windows_clean():
    assert augment_audio.build(None, SR, None) is None
    assert augment_audio.build({"p": 0.0}, SR, None) is None
    audio = [torch.from_numpy(_sound(3))]
    windows, changed = augment_audio.augmented_windows(None, audio, [16000], 16000, [torch.Generator().manual_seed(0)])
    assert changed == 0 and torch.equal(windows[0], audio[0][:16000])
    with pytest.raises(LivevisError, match="unknown key"):
        AudioAugment({"reverbb": 1.0}, SR)


def test_batch_windows_use_their_preroll_and_count_what_changed(cache):
    aug = augment_audio.build({"p": 1.0}, SR, cache.parent / "data")
    audio = [torch.from_numpy(_sound(s, 2.0)) for s in range(3)]
    gens = [torch.Generator().manual_seed(s) for s in range(3)]
    windows, changed = augment_audio.augmented_windows(aug, audio, [16000, 24000, 32000], 16000, gens)
    assert windows.shape == (3, 16000) and changed == 3 and aug.windows == 3 and aug.changed == 3
    again, _ = augment_audio.augmented_windows(aug, audio, [16000, 24000, 32000], 16000,
                                               [torch.Generator().manual_seed(s) for s in range(3)])
    assert torch.equal(windows, again)                                     # same generators, same windows
    clip, hit = augment_audio.augmented_clip(aug, audio[0], 4000, 20000, torch.Generator().manual_seed(5))
    assert hit and torch.equal(clip[:4000], audio[0][:4000]) and torch.equal(clip[20000:], audio[0][20000:])
    assert not torch.equal(clip[4000:20000], audio[0][4000:20000])


def test_background_bank_is_cached_and_mixes_at_the_drawn_snr(cache):
    bank = audio_backgrounds.BackgroundBank(SR, cache)
    again = audio_backgrounds.BackgroundBank(SR, cache)                    # read back from the cache
    for kind, track in bank.tracks.items():
        assert np.array_equal(track, again.tracks[kind])
        assert (cache / f"v{audio_backgrounds.BANK_VERSION}-{kind}-{SR}.npy").is_file()
    kinds = {bank.draw(np.random.default_rng(s), SR)[0] for s in range(30)}
    assert kinds == set(bank.kinds) and "room" in kinds
    aug = AudioAugment(_only("background", gain_db=0.0, snr_db=[10.0, 10.0]), SR, cache)
    x = _sound(4)
    y = aug.augment(x, np.random.default_rng(0))
    snr = 10 * np.log10(np.mean(x.astype(np.float64) ** 2) / np.mean((y - x).astype(np.float64) ** 2))
    assert abs(snr - 10.0) < 1.0, snr


def test_missing_tools_fall_back_to_room_tone(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(audio_backgrounds.shutil, "which", lambda name: None)
    aug = AudioAugment(_only("background"), SR, tmp_path)
    y = aug.augment(_sound(5), np.random.default_rng(0))
    assert aug.bank.kinds == ["room"] and np.isfinite(y).all()
    err = capsys.readouterr().err
    assert "espeak-ng not available" in err and "fluidsynth" in err
    assert len(err.strip().splitlines()) == 2                              # one line per missing kind


@pytest.mark.skipif(audio_backgrounds.shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
def test_speech_and_music_render_where_the_tools_exist():
    speech = audio_backgrounds.render_speech(SR)
    assert speech is not None and len(speech) > 10 * SR and np.sqrt(np.mean(speech**2)) > 1e-3
    if audio_backgrounds.shutil.which("fluidsynth") and any(p for p in audio_backgrounds.SOUND_FONTS if __import__("os").path.isfile(p)):
        music = audio_backgrounds.render_music(SR, pieces=1, seconds=3.0)
        assert music is not None and len(music) >= 2 * SR and np.sqrt(np.mean(music**2)) > 1e-3


def test_a_rate_the_mp3_encoder_refuses_falls_back_to_ogg_with_one_note(capsys):
    aug = AudioAugment(_only("codec"), 96000)
    x = (0.1 * np.random.default_rng(0).standard_normal(96000)).astype(np.float32)
    outs = [aug.augment(x, np.random.default_rng(s)) for s in range(6)]
    assert all(y.shape == x.shape and np.isfinite(y).all() and not np.allclose(y, x, atol=1e-4) for y in outs)
    assert capsys.readouterr().err.count("no mp3 round trip") <= 1
