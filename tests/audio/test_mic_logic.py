"""MicSource logic against a fake PortAudio (no sound server needed)."""

import sys
import time

import numpy as np
import pytest

from livevis.audio import open_source
from livevis.audio.devices import list_input_devices, resolve_input_device
from livevis.audio.meter import peak_hz
from livevis.errors import LivevisError
from tests.audio.fake_sounddevice import FakeDevice, make_module

SR = 16000


@pytest.fixture()
def fake_device(monkeypatch):
    dev = FakeDevice()
    monkeypatch.setitem(sys.modules, "sounddevice", make_module(dev))
    return dev


def _wait_for(predicate, timeout):
    t0 = time.monotonic()
    while not predicate():
        assert time.monotonic() - t0 < timeout, "timed out"
        time.sleep(0.01)
    return time.monotonic() - t0


def test_device_listing_and_selection(fake_device):
    devices = list_input_devices()
    assert [d["name"] for d in devices] == ["Fake USB Mic"] and devices[0]["is_default"]
    assert resolve_input_device("usb")["index"] == 1
    assert resolve_input_device(1)["name"] == "Fake USB Mic"
    assert resolve_input_device("1")["index"] == 1
    assert resolve_input_device(None)["index"] == 1
    with pytest.raises(LivevisError, match="index 0"):
        resolve_input_device(0)  # an output-only device is not an input
    with pytest.raises(LivevisError, match="matching 'studio'"):
        open_source("mic", sample_rate=SR, device="studio")


def test_mixdown_resampling_and_overflows(fake_device):
    fake_device.overflow_next = 3
    with open_source("mic", sample_rate=SR, device="usb") as src:
        _wait_for(lambda: src.write_index > SR // 2, timeout=5)
        window, end = src.read_last(SR // 4)
        assert abs(peak_hz(window, SR) - 440.0) < 2.0
        assert 0.22 < np.abs(window).max() < 0.28  # 48 kHz stereo -> 16 kHz mono mean
        assert src.status.overflows == 3 and src.status.state == "running"  # counted, not fatal
        assert abs(time.monotonic() - src.arrival_time(end)) < 0.2


def test_loss_silence_and_recovery_without_restart(fake_device):
    src = open_source("mic", sample_rate=SR, device="Fake USB Mic")
    with src:
        _wait_for(lambda: src.write_index > SR // 4, timeout=5)
        fake_device.alive = False
        assert _wait_for(lambda: src.status.state == "device lost", timeout=2.0) <= 2.0
        index = src.write_index
        time.sleep(1.0)
        assert 0.7 * SR < src.write_index - index < 1.3 * SR  # silence at real-time pace
        assert not src.read_last(SR // 2)[0].any()
        _wait_for(lambda: "unavailable" in src.status.message, timeout=2.0)  # it retries about once a second
        fake_device.alive = True
        _wait_for(lambda: src.status.state == "running", timeout=3.0)
        _wait_for(lambda: abs(peak_hz(src.read_last(SR // 4)[0], SR) - 440.0) < 2.0, timeout=2.0)
        assert fake_device.opens == 2
    assert src.status.state == "stopped"


def test_program_audio_is_the_device_stream(fake_device):
    """48 kHz stereo device: the program ring holds its frames as they are, on the model ring's clock."""
    with open_source("mic", sample_rate=SR, device="usb") as src:
        assert (src.program_rate, src.program_channels) == (48000, 2)
        _wait_for(lambda: src.write_index > SR // 2, timeout=5)
        head = src.program_write_index
        frames = src.program_read(head - 12000, 12000)  # [n, 2]
        assert abs(peak_hz(frames[:, 0], 48000) - 440.0) < 2.0
        assert 0.48 < np.abs(frames[:, 0]).max() <= 0.5 and not frames[:, 1].any()  # no mixdown
        # Same clock: the program head is where the model head maps to (soxr's delay apart, < 10 ms).
        assert abs(src.program_write_index - src.to_program_index(src.write_index)) < 480 + 2 * 480


def test_program_audio_pads_silence_while_the_device_is_lost(fake_device):
    with open_source("mic", sample_rate=SR, device="usb") as src:
        _wait_for(lambda: src.write_index > SR // 4, timeout=5)
        fake_device.alive = False
        _wait_for(lambda: src.status.state == "device lost", timeout=2.0)
        time.sleep(0.5)
        lag = src.to_program_index(src.write_index) - src.program_write_index
        assert 0 <= lag < 48000 * 0.05  # the program ring keeps pace with silence
        assert not src.program_read(src.program_write_index - 9600, 9600).any()
        fake_device.alive = True
        _wait_for(lambda: src.status.state == "running", timeout=3.0)
        _wait_for(lambda: abs(peak_hz(src.program_read(src.program_write_index - 9600, 9600)[:, 0], 48000) - 440.0) < 2.0,
                  timeout=2.0)
