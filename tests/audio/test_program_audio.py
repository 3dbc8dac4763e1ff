import numpy as np
import pytest

from livevis.audio import open_source
from livevis.audio.program_audio import (ProgramAudioTap, aac_bitrate, load_program_audio, model_index,
                                         program_index, to_channels)
from livevis.audio.synth import make_signal
from livevis.errors import LivevisError
from tests.audio.media_files import bad_files, write_audio


def test_index_mapping_is_exact_rounding():
    assert program_index(16000, 16000, 44100) == 44100
    assert program_index(1, 16000, 44100) == 3  # 2.756
    assert program_index(8, 16000, 44100) == 22  # 22.05
    assert program_index(10**12, 16000, 48000) == 3 * 10**12  # no float error at show lengths
    assert program_index(123, 16000, 16000) == 123
    assert model_index(44100, 16000, 44100) == 16000
    for i in range(0, 5000, 7):  # program -> model -> program comes back within one program step
        assert abs(program_index(model_index(i, 16000, 44100), 16000, 44100) - i) <= 2


def test_load_program_audio_keeps_rate_and_channels(tmp_path):
    tone = make_signal("sine", 0.5, 22050, freq=300.0)
    stereo = load_program_audio(write_audio(tmp_path / "s.flac", np.stack([tone, -tone]), 22050))
    assert (stereo.sample_rate, stereo.channels, len(stereo)) == (22050, 2, 11025)
    assert stereo.samples.dtype == np.float32 and stereo.samples.flags.c_contiguous
    np.testing.assert_allclose(stereo.samples[:, 0], tone, atol=1e-4)
    np.testing.assert_allclose(stereo.samples[:, 1], -tone, atol=1e-4)
    mono = load_program_audio(write_audio(tmp_path / "m.mp3", tone, 22050))
    assert (mono.sample_rate, mono.channels) == (22050, 1)


@pytest.mark.parametrize("name", ["missing", "empty", "text", "8ch", "192k", "no audio", "directory"])
def test_load_program_audio_bad_files(tmp_path, name):
    path, match = bad_files(tmp_path)[name]
    with pytest.raises(LivevisError, match=match):
        load_program_audio(path)


def test_channel_mapping_and_bitrates():
    stereo = np.array([[0.2, 0.4], [1.0, -1.0]], np.float32)
    np.testing.assert_allclose(to_channels(stereo, 1)[:, 0], [0.3, 0.0])
    np.testing.assert_array_equal(to_channels(stereo[:, :1], 2), stereo[:, [0, 0]])
    assert to_channels(stereo, 2) is stereo
    assert (aac_bitrate(1), aac_bitrate(2)) == (128_000, 192_000)


class _Sink:
    def __init__(self):
        self.blocks = []

    def write_audio(self, samples):
        self.blocks.append(samples.copy())


def test_tap_copies_every_program_frame_once(tmp_path):
    rate = 44100
    signal = np.stack([make_signal("noise", 1.0, rate), make_signal("sweep", 1.0, rate)])
    path = write_audio(tmp_path / "t.wav", signal, rate)
    sink = _Sink()
    with open_source(str(path), sample_rate=16000, realtime=False) as src:
        src.advance(1000)
        tap = ProgramAudioTap(src, sink, start=src.write_index)  # from the first shown frame on
        for n in (333, 5000, 1, 9666):
            src.advance(n)
            tap.flush()
        tap.stop()  # never started: stop still flushes
    got = np.concatenate(sink.blocks)
    start = program_index(1000, 16000, rate)
    assert got.shape == (rate - start, 2) and tap.skipped == 0
    np.testing.assert_allclose(got, signal.T[start:], atol=1e-4)
