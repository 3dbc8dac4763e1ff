import time

import numpy as np
import pytest

from livevis.audio import AudioSource, open_source
from livevis.audio.meter import peak_hz
from livevis.audio.synth import make_signal
from livevis.errors import LivevisError
from tests.audio.media_files import write_audio

SR = 16000


def test_offline_file_source_advances_exactly_and_finishes(tmp_path):
    signal = make_signal("sweep", 1.0, SR)
    path = write_audio(tmp_path / "s.flac", signal, SR)
    src = open_source(str(path), sample_rate=SR, realtime=False)
    assert isinstance(src, AudioSource) and src.sample_rate == SR
    with src:
        assert src.advance(6000) == 6000 and src.write_index == 6000
        out, end = src.read_last(8000)
        assert end == 6000
        assert not out[:2000].any()  # zero-padded at the front
        np.testing.assert_allclose(out[2000:], signal[:6000], atol=1e-4)  # flac of 16-bit: ~3e-5
        assert src.advance(6000) == 6000 and not src.finished
        assert src.advance(6000) == 4000 and src.finished
        assert src.advance(100) == 0 and src.write_index == 16000
        assert src.status.state == "finished"


def test_offline_loop_wraps_around(tmp_path):
    path = write_audio(tmp_path / "c.wav", make_signal("clicks", 0.5, SR, bpm=240), SR)  # 2 clicks
    with open_source(str(path), sample_rate=SR, realtime=False, loop=True) as src:
        assert src.advance(20000) == 20000 and not src.finished
        out, _ = src.read_last(20000)
        np.testing.assert_array_equal(out[8000:16000], out[:8000])


def test_synth_offline_equals_make_signal():
    with open_source("synth:sine@300", sample_rate=SR, realtime=False) as src:
        for n in (100, 3333, 12567):
            src.advance(n)
        out, _end = src.read_last(16000)
    np.testing.assert_array_equal(out, make_signal("sine", 1.0, SR, freq=300.0))


def test_realtime_source_keeps_pace_and_reports_arrival_times():
    src = open_source("synth:sine@440", sample_rate=SR, realtime=True)
    with pytest.raises(RuntimeError):
        src.advance(10)
    t0 = time.monotonic()
    with src:
        time.sleep(1.0)
        elapsed = time.monotonic() - t0
        written = src.write_index
        out, end = src.read_last(8000)
        assert src.status.state == "running"
    assert abs(written - elapsed * SR) < 0.15 * SR  # real-time pace, within scheduling noise
    assert abs(peak_hz(out, SR) - 440) < 2
    # The newest sample arrived just now; one second earlier arrived about a second ago.
    assert abs(src.arrival_time(end) - (t0 + elapsed)) < 0.2
    assert abs(src.arrival_time(end - SR // 2) - (src.arrival_time(end) - 0.5)) < 0.1
    assert src.status.state == "stopped"
    index = src.write_index
    time.sleep(0.1)
    assert src.write_index == index  # stop() really stops the clock thread


def test_realtime_file_finishes_at_its_end(tmp_path):
    path = write_audio(tmp_path / "short.wav", make_signal("noise", 0.3, SR), SR)
    with open_source(str(path), sample_rate=SR) as src:
        deadline = time.monotonic() + 5
        while not src.finished and time.monotonic() < deadline:
            time.sleep(0.02)
        assert src.finished and src.write_index == int(0.3 * SR)


@pytest.mark.parametrize("spec,match", [("synth:hum", "unknown synth kind"), ("", "no audio input"),
                                        ("does/not/exist.wav", "not found")])
def test_bad_specs(spec, match):
    with pytest.raises(LivevisError, match=match):
        open_source(spec, sample_rate=SR)


def test_mic_is_live_only():
    with pytest.raises(LivevisError, match="live only"):
        open_source("mic", sample_rate=SR, realtime=False)


@pytest.mark.parametrize("ext", [".wav", ".flac", ".ogg", ".mp3", ".m4a", ".mp4"])
def test_file_source_reads_every_format(tmp_path, ext):
    tone = make_signal("sine", 1.0, 48000, freq=440.0)  # opus (our .ogg) takes 48 kHz, not 44.1
    path = write_audio(tmp_path / f"a{ext}", np.stack([tone, tone]), 48000, video=ext == ".mp4")
    with open_source(str(path), sample_rate=SR, realtime=False) as src:
        while src.advance(4096):
            pass
        assert src.finished and abs(src.write_index - SR) < 1200
        window, _ = src.read_last(SR)
        assert abs(peak_hz(window[3000:12000], SR) - 440.0) < 2.0


# -- program audio: the file as heard, beside the model-rate mono ring --------------------------------
def test_file_program_audio_keeps_rate_and_channels_and_follows_the_model_ring(tmp_path):
    rate = 44100
    left = make_signal("sweep", 1.0, rate)
    right = make_signal("noise", 1.0, rate)
    path = write_audio(tmp_path / "st.wav", np.stack([left, right]), rate)
    with open_source(str(path), sample_rate=SR, realtime=False) as src:
        assert (src.program_rate, src.program_channels) == (rate, 2)
        assert src.to_program_index(SR) == rate and src.to_program_index(1) == 3  # 2.76 -> 3
        src.advance(5000)
        assert src.program_write_index == src.to_program_index(5000) == 13781
        got = src.program_read(0, 13781)  # [n, 2]
        assert got.shape == (13781, 2) and got.dtype == np.float32
        np.testing.assert_allclose(got[:, 0], left[:13781], atol=1e-4)  # 16-bit wav: ~3e-5
        np.testing.assert_allclose(got[:, 1], right[:13781], atol=1e-4)
        out = np.empty((100, 2), np.float32)
        assert src.program_read(13781, 100, out) is out and not out.any()  # not written yet: zeros
        while src.advance(4096):
            pass
        assert src.finished and src.program_write_index == rate  # every frame of the file, whatever the rounding


def test_synth_program_audio_is_the_model_signal():
    with open_source("synth:sine@300", sample_rate=SR, realtime=False) as src:
        src.advance(4000)
        assert (src.program_rate, src.program_channels, src.program_write_index) == (SR, 1, 4000)
        assert src.to_program_index(1234) == 1234
        np.testing.assert_array_equal(src.program_read(100, 3000)[:, 0], src.read(100, 3000))


def test_mono_file_at_the_model_rate_needs_no_second_ring(tmp_path):
    path = write_audio(tmp_path / "m.wav", make_signal("sine", 0.5, SR), SR)
    with open_source(str(path), sample_rate=SR, realtime=False) as src:
        src.advance(2000)
        assert src._program_ring is None and src.program_write_index == 2000
        np.testing.assert_array_equal(src.program_read(0, 2000)[:, 0], src.read(0, 2000))


def test_looping_program_audio_wraps_at_its_own_length(tmp_path):
    rate = 48000
    tone = make_signal("clicks", 0.5, rate, bpm=240)  # 2 clicks, 24000 frames
    path = write_audio(tmp_path / "loop.wav", tone, rate)
    with open_source(str(path), sample_rate=SR, realtime=False, loop=True) as src:
        src.advance(3 * 8000)  # 1.5 loops
        prog = src.program_read(0, src.program_write_index)[:, 0]
    assert len(prog) == 72000
    np.testing.assert_array_equal(prog[24000:48000], prog[:24000])


def test_realtime_file_program_audio_keeps_pace(tmp_path):
    path = write_audio(tmp_path / "rt.wav", make_signal("noise", 2.0, 22050), 22050)
    with open_source(str(path), sample_rate=SR) as src:
        time.sleep(0.5)
        model, prog = src.write_index, src.program_write_index
    assert model > 0.2 * SR
    assert abs(prog - src.to_program_index(model)) <= 1  # the program head sits at the model head's instant
