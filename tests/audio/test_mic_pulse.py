"""Real capture through PortAudio from the PulseAudio null-sink rig (tests/rigs/pulse.py)."""

import os
import time

import numpy as np
import pytest

from livevis.audio import open_source
from livevis.audio.meter import peak_hz
from livevis.audio.synth import make_signal
from tests.audio.media_files import write_audio
from tests.rigs.pulse import pulse_rig, tone_wav  # noqa: F401 - fixture

pytestmark = pytest.mark.pulse
SR = 16000


def _wait_for(predicate, timeout: float, step: float = 0.02) -> float:
    """Seconds until predicate() is true; pytest.fail after `timeout`."""
    t0 = time.monotonic()
    while not predicate():
        if time.monotonic() - t0 > timeout:
            pytest.fail(f"condition not met within {timeout} s")
        time.sleep(step)
    return time.monotonic() - t0


def _hears(src, freq: float, tol: float = 5.0) -> bool:
    window, _ = src.read_last(SR // 2)
    return np.abs(window).max() > 0.05 and abs(peak_hz(window, SR) - freq) <= tol


def test_mic_captures_a_440_hz_tone(pulse_rig, tmp_path):
    wav = tone_wav(tmp_path / "a440.wav", 440.0, seconds=20)
    src = open_source("mic", sample_rate=SR, device=pulse_rig.capture_device)
    assert src.device_name == "pulse"
    with src:
        pulse_rig.play(wav)
        _wait_for(lambda: src.write_index > SR, timeout=10)  # the null sink wakes up in ~2 s
        _wait_for(lambda: _hears(src, 440.0), timeout=5)
        window, end = src.read_last(SR)
        assert abs(peak_hz(window[-SR // 2 :], SR) - 440.0) <= 5.0
        assert src.status.state == "running"
        # Audio is stamped on arrival: the newest sample is at most a few blocks old.
        assert 0 <= time.monotonic() - src.arrival_time(end) < 0.3
    pulse_rig.stop_playing()
    assert src.status.state == "stopped"


def test_device_loss_reports_within_2s_and_resumes_by_itself(pulse_rig, tmp_path):
    wav = tone_wav(tmp_path / "a440.wav", 440.0, seconds=30)
    src = open_source("mic", sample_rate=SR, device=pulse_rig.capture_device)
    with src:
        pulse_rig.play(wav)
        _wait_for(lambda: _hears(src, 440.0), timeout=10)

        pulse_rig.unplug()
        took = _wait_for(lambda: src.status.state == "device lost", timeout=2.0)
        assert took <= 2.0
        assert src.status.message
        # Readers get silence while the head keeps moving at real-time pace.
        index = src.write_index
        time.sleep(1.5)
        advanced = src.write_index - index
        assert 0.7 * 1.5 * SR < advanced < 1.3 * 1.5 * SR
        assert not src.read_last(SR // 2)[0].any()

        pulse_rig.replug()
        pulse_rig.play(wav)
        _wait_for(lambda: src.status.state == "running", timeout=15)
        _wait_for(lambda: _hears(src, 440.0), timeout=5)
        assert src.status.state == "running" and src.status.message == ""
    pulse_rig.stop_playing()


def test_file_playback_is_heard_through_the_rig(pulse_rig, tmp_path, monkeypatch):
    # Playback goes to the default output; point it at the null sink and record its monitor.
    monkeypatch.setenv("PULSE_SINK", pulse_rig.sink)
    path = write_audio(tmp_path / "a660.wav", make_signal("sine", 20.0, SR, freq=660.0), SR)
    mic = open_source("mic", sample_rate=SR, device=pulse_rig.capture_device)
    player = open_source(str(path), sample_rate=SR, playback=True)
    with mic, player:
        _wait_for(lambda: _hears(mic, 660.0), timeout=10)
        # The player's own ring holds what it plays, paced by the output device.
        assert _hears(player, 660.0) and player.status.state == "running"
        assert os.environ["PULSE_SINK"] == pulse_rig.sink


def test_stereo_file_playback_plays_the_program_audio_and_the_mic_keeps_its_device_rate(pulse_rig, tmp_path,
                                                                                        monkeypatch):
    """A 44.1 kHz stereo file plays at its own rate and channels; the model ring follows the output clock."""
    monkeypatch.setenv("PULSE_SINK", pulse_rig.sink)
    rate = 44100
    tone = make_signal("sine", 20.0, rate, freq=660.0)
    path = write_audio(tmp_path / "st660.wav", np.stack([tone, 0.5 * tone]), rate)
    mic = open_source("mic", sample_rate=SR, device=pulse_rig.capture_device)
    player = open_source(str(path), sample_rate=SR, playback=True)
    assert (player.program_rate, player.program_channels) == (rate, 2)
    with mic, player:
        _wait_for(lambda: _hears(mic, 660.0), timeout=10)
        assert _hears(player, 660.0) and player.status.state == "running"
        head = player.program_write_index
        frames = player.program_read(head - rate // 2, rate // 2)  # [n, 2]: as played
        assert abs(peak_hz(frames[:, 0], rate) - 660.0) <= 5.0
        np.testing.assert_allclose(frames[:, 1], 0.5 * frames[:, 0], atol=1e-3)
        assert abs(player.to_program_index(player.write_index) - player.program_write_index) <= 3
        # The mic's program audio is the device's own stream (rate and up to two channels).
        assert mic.program_rate == int(mic_rate(pulse_rig)) and mic.program_channels in (1, 2)
        recorded = mic.program_read(mic.program_write_index - mic.program_rate // 2, mic.program_rate // 2)
        assert abs(peak_hz(recorded[:, 0], mic.program_rate) - 660.0) <= 5.0


def mic_rate(rig) -> float:
    from livevis.audio.devices import resolve_input_device

    return resolve_input_device(rig.capture_device)["default_samplerate"]


def test_every_unplug_is_a_real_loss_and_reopens_fail_until_the_replug(pulse_rig, tmp_path):
    """PulseAudio moves a stream whose source vanished to any other source (and hands a stream asking for
    a missing source the default one), so on a shared server an unplug could leave the mic "running" on
    someone else's sink. The rig's private server holds only our source: each unplug is a loss."""
    from tests.rigs.pulse import _pactl

    sources = [line.split("\t")[1] for line in _pactl("list", "short", "sources").splitlines()]
    assert sources == [pulse_rig.source]
    wav = tone_wav(tmp_path / "a440.wav", 440.0, seconds=60)
    src = open_source("mic", sample_rate=SR, device=pulse_rig.capture_device)
    with src:
        pulse_rig.play(wav)
        _wait_for(lambda: _hears(src, 440.0), timeout=10)
        for _ in range(3):
            pulse_rig.unplug()
            _wait_for(lambda: src.status.state == "device lost", timeout=2.0)
            time.sleep(2.5)  # two reopen attempts while unplugged: both must fail
            assert src.status.state == "device lost" and "unavailable" in src.status.message
            assert not src.read_last(SR // 2)[0].any()
            pulse_rig.replug()
            pulse_rig.play(wav)
            _wait_for(lambda: src.status.state == "running", timeout=15)
            _wait_for(lambda: _hears(src, 440.0), timeout=5)


def test_real_portaudio_reopens_reuse_their_buffers_and_memory_stays_flat(pulse_rig):
    """60 close/open cycles through PortAudio (what a retried, replugged device does): measured on this
    rig the old code grew ~31 MB (~520 kB a reopen: fresh ring + scratch), the new one ~1.3 MB."""
    from livevis.audio.mic import MicSource

    def rss_mb() -> float:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

    src = MicSource(pulse_rig.capture_device, sample_rate=SR)  # not started: the test drives the reopens
    try:
        for _ in range(6):  # warm up PortAudio and the allocator before the baseline
            src._close_stream()
            src._open_stream()
            time.sleep(0.2)
            src._drain()
        raw, scratch = src._raw, src._scratch
        rss0 = rss_mb()
        for _ in range(60):
            src._close_stream()
            src._open_stream()
            time.sleep(0.1)  # a few callbacks fill part of the ring
            src._drain()
        growth = rss_mb() - rss0
    finally:
        src._close_stream()
    assert growth < 8.0, f"RSS grew {growth:.1f} MB over 60 reopens"
    assert src._raw is raw and src._scratch is scratch
