"""A stand-in for the sounddevice module: one input device whose stream calls its callback from a
thread, like PortAudio. Tests can flag overflows, kill the device and bring it back, so the mic
source's logic (mixdown, resampling, overflow counting, loss and recovery) runs without a sound
server. The real thing is exercised by test_mic_pulse.py."""

from __future__ import annotations

import threading
import time
import types

import numpy as np


class FakeDevice:
    def __init__(self, name="Fake USB Mic", channels=2, rate=48000, freq=440.0, block=480):
        self.name, self.channels, self.rate, self.freq, self.block = name, channels, rate, freq, block
        self.alive = True  # False: callbacks stop and opening fails, as when unplugged
        self.overflow_next = 0  # callbacks to flag with input_overflow
        self.opens = 0
        self._phase = 0

    def next_block(self) -> np.ndarray:
        n = np.arange(self._phase, self._phase + self.block)
        self._phase += self.block
        left = 0.5 * np.sin(2 * np.pi * self.freq * n / self.rate)
        # Channel 2 silent: a mono mixdown halves the amplitude (mean, not sum).
        out = np.zeros((self.block, self.channels), np.float32)
        out[:, 0] = left
        return out


class _Status:
    def __init__(self, overflow: bool):
        self.input_overflow = overflow
        self.output_underflow = False


class FakeInputStream:
    def __init__(self, device, channels, samplerate, dtype, latency, callback):
        self.dev = device
        self.callback = callback
        self.channels = channels
        self._stop = threading.Event()
        self._thread = None

    def start(self):
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        period = self.dev.block / self.dev.rate
        next_t = time.monotonic()
        while not self._stop.is_set() and self.dev.alive:
            block = self.dev.next_block()[:, : self.channels]
            overflow = self.dev.overflow_next > 0
            self.dev.overflow_next -= overflow
            self.callback(block, len(block), None, _Status(overflow))
            next_t += period
            time.sleep(max(0.0, next_t - time.monotonic()))

    def abort(self):
        self._stop.set()

    def close(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)


class PortAudioError(Exception):
    pass


def make_module(dev: FakeDevice) -> types.ModuleType:
    sd = types.ModuleType("sounddevice")
    sd.PortAudioError = PortAudioError
    sd.default = types.SimpleNamespace(device=[1, 0])

    def query_devices(*args, **kwargs):
        devices = [{"index": 0, "name": "Speakers", "max_input_channels": 0, "default_samplerate": 48000.0}]
        if dev.alive:
            devices.append({"index": 1, "name": dev.name, "max_input_channels": dev.channels,
                            "default_samplerate": float(dev.rate)})
        return devices

    def input_stream(device, channels, samplerate, dtype, latency, callback):
        if not dev.alive or device != 1:
            raise PortAudioError("Error opening InputStream: device unavailable")
        assert samplerate == dev.rate and dtype == "float32"
        dev.opens += 1
        return FakeInputStream(dev, channels, samplerate, dtype, latency, callback)

    sd.query_devices = query_devices
    sd.InputStream = input_stream
    sd._terminate = lambda: None
    sd._initialize = lambda: None
    return sd
