import numpy as np
import pytest

from livevis.audio import make_signal
from livevis.audio.meter import peak_hz, rms_db
from livevis.audio.synth import KINDS, parse_spec, render_chunk
from livevis.errors import LivevisError


@pytest.mark.parametrize("kind", list(KINDS))
def test_signals_are_deterministic_float32_and_chunkable(kind):
    a = make_signal(kind, 1.5, 16000, seed=4)
    assert a.dtype == np.float32 and a.shape == (24000,)
    np.testing.assert_array_equal(a, make_signal(kind, 1.5, 16000, seed=4))
    pieces = [render_chunk(kind, s, min(777, 24000 - s), 16000, seed=4) for s in range(0, 24000, 777)]
    np.testing.assert_array_equal(np.concatenate(pieces), a)
    assert np.abs(a).max() <= 0.5


def test_sine_frequency_and_level():
    x = make_signal("sine", 1.0, 16000, freq=1234.0)
    assert abs(peak_hz(x, 16000) - 1234.0) < 1.0
    assert abs(rms_db(x) - 20 * np.log10(0.5 / np.sqrt(2))) < 0.01


def test_clicks_fall_on_the_beat():
    x = make_signal("clicks", 2.0, 16000, bpm=90)
    onsets = np.flatnonzero((np.abs(x) > 0.4) & (np.abs(np.roll(x, 1)) < 0.05))
    np.testing.assert_allclose(onsets, np.arange(3) * 16000 * 60 / 90, atol=1)


def test_noise_bursts_on_and_off_and_seeded():
    x = make_signal("noise", 1.0, 16000, seed=1)
    assert np.abs(x[:4000]).mean() > 0.1 and not x[4000:8000].any()
    assert not np.array_equal(x, make_signal("noise", 1.0, 16000, seed=2))


def test_silence_and_sweep_range():
    assert not make_signal("silence", 0.5, 16000).any()
    sweep = make_signal("sweep", 4.0, 16000)
    assert peak_hz(sweep[:2000], 16000) < 200 and peak_hz(sweep[-2000:], 16000) > 5000


def test_parse_spec():
    assert parse_spec("sine@220") == ("sine", {"freq": 220.0})
    assert parse_spec("clicks@120") == ("clicks", {"bpm": 120.0})
    assert parse_spec("noise") == ("noise", {})
    for bad in ["hum", "sine@abc", "sine@-3", "noise@3", ""]:
        with pytest.raises(LivevisError):
            parse_spec(bad)
    with pytest.raises(LivevisError, match="Nyquist"):
        make_signal("sine", 0.1, 16000, freq=9000)
