import numpy as np
import pytest

from livevis.audio import load_audio
from livevis.audio.meter import peak_hz
from livevis.audio.synth import make_signal
from livevis.errors import LivevisError
from tests.audio.media_files import bad_files, write_audio


@pytest.mark.parametrize("ext", [".wav", ".flac", ".ogg", ".mp3", ".m4a", ".mp4", ".mkv"])
def test_decodes_formats_to_mono_at_the_model_rate(tmp_path, ext):
    tone = make_signal("sine", 1.0, 48000, freq=440.0)  # amplitude 0.5
    path = write_audio(tmp_path / f"tone{ext}", np.stack([tone, tone]), 48000, video=ext in (".mp4", ".mkv"))
    y = load_audio(path, 16000)
    assert y.dtype == np.float32 and y.ndim == 1
    assert abs(len(y) - 16000) < 1200  # codec padding (aac, mp3) adds a little
    assert abs(peak_hz(y[2000:14000], 16000) - 440.0) < 2.0
    # Mono mixdown is the channel mean: two identical channels keep the amplitude.
    assert 0.42 < np.abs(y[2000:14000]).max() < 0.58


def test_stereo_mixdown_is_the_mean(tmp_path):
    left = make_signal("sine", 0.5, 16000, freq=300.0)
    path = write_audio(tmp_path / "lr.wav", np.stack([left, -left]), 16000)
    assert np.abs(load_audio(path, 16000)).max() < 1e-3  # opposite channels cancel


def test_resampling_keeps_duration(tmp_path):
    path = write_audio(tmp_path / "t.flac", make_signal("sine", 2.0, 44100, freq=1000.0), 44100)
    y = load_audio(path, 22050)
    assert abs(len(y) - 44100) <= 64
    assert abs(peak_hz(y, 22050) - 1000.0) < 1.0


def test_bad_files_raise_one_line_livevis_errors(tmp_path):
    for name, (path, expected) in bad_files(tmp_path).items():
        with pytest.raises(LivevisError, match=expected) as info:
            load_audio(path, 16000)
        assert "\n" not in str(info.value), name
