"""PulseAudio null-sink rig: a "microphone" that hears whatever the test plays.

    from tests.rigs.pulse import pulse_rig  # noqa: F401  (import the fixture into your test module)

    def test_x(pulse_rig):
        pulse_rig.play(wav_path)          # paplay into the sink (non-blocking; returns the Popen)
        ... capture from sounddevice device "pulse" (or `livevis listen --device pulse`) ...
        pulse_rig.unplug()                # unload the sink: the capture device disappears
        pulse_rig.replug()                # load it again

The rig starts `pulseaudio -D --exit-idle-time=-1` when no server answers (as root it warns and
works), loads `module-null-sink sink_name=livevis_test`, makes its monitor the default source and
also exports PULSE_SOURCE=livevis_test.monitor, so PortAudio's "pulse" device (in this process and in
subprocesses) records the sink and, while the sink is unplugged, fails to open instead of silently
falling back to another source. Skips only when the pulseaudio binaries are missing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

SINK = "livevis_test"
SOURCE = f"{SINK}.monitor"
_TOOLS = ("pulseaudio", "pactl", "paplay")


def _pactl(*args: str, check: bool = True) -> str:
    res = subprocess.run(["pactl", *args], capture_output=True, text=True, timeout=15)
    if check and res.returncode != 0:
        raise RuntimeError(f"pactl {' '.join(args)} failed: {res.stderr.strip()}")
    return res.stdout


def _server_up() -> bool:
    return subprocess.run(["pactl", "info"], capture_output=True, timeout=15).returncode == 0


def write_wav(path: str | Path, samples: np.ndarray, sample_rate: int) -> Path:
    """16-bit mono wav via the stdlib (the rig should not depend on the code under test)."""
    import wave

    path = Path(path)
    pcm = (np.clip(np.asarray(samples, dtype=np.float64), -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(pcm.tobytes())
    return path


def tone_wav(path: str | Path, freq: float = 440.0, seconds: float = 4.0, sample_rate: int = 44100,
             amplitude: float = 0.5) -> Path:
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    return write_wav(path, amplitude * np.sin(2 * np.pi * freq * t), sample_rate)


class PulseRig:
    sink = SINK
    source = SOURCE
    capture_device = "pulse"  # the sounddevice/PortAudio name that records the default pulse source

    def __init__(self):
        self._players: list[subprocess.Popen] = []

    def _module_ids(self) -> list[str]:
        ids = []
        for line in _pactl("list", "short", "modules").splitlines():
            cols = line.split("\t")
            if len(cols) >= 3 and cols[1] == "module-null-sink" and f"sink_name={SINK}" in cols[2].split():
                ids.append(cols[0])
        return ids

    @property
    def plugged(self) -> bool:
        return bool(self._module_ids())

    def replug(self) -> None:
        """Load the null sink (if absent) and make its monitor the default source."""
        if not self.plugged:
            _pactl("load-module", "module-null-sink", f"sink_name={SINK}",
                   f"sink_properties=device.description={SINK}")
        _pactl("set-default-source", SOURCE)

    def unplug(self) -> None:
        """Unload the null sink: recording streams on its monitor die, as with a pulled USB cable."""
        self.stop_playing()
        for module in self._module_ids():
            _pactl("unload-module", module, check=False)

    def play(self, path: str | Path) -> subprocess.Popen:
        """Start `paplay` of a wav into the sink; returns the process (stop with stop_playing)."""
        proc = subprocess.Popen(["paplay", f"--device={SINK}", str(path)], stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        self._players.append(proc)
        return proc

    def stop_playing(self) -> None:
        for proc in self._players:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
        self._players.clear()


def _start_server() -> None:
    if _server_up():
        return
    # As root pulseaudio prints "not intended to be run as root" and works; CI runs as root.
    subprocess.run(["pulseaudio", "-D", "--exit-idle-time=-1"], capture_output=True, timeout=30)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if _server_up():
            return
        time.sleep(0.2)
    pytest.fail("pulseaudio -D started but no server answers `pactl info` within 10 s")


_SESSION: PulseRig | None = None


def pulse_session() -> PulseRig:
    """Once per process: a running server, the sink loaded, PULSE_SOURCE pointing at its monitor.
    (Lazily, not as a second fixture, so importing `pulse_rig` alone is enough.)"""
    global _SESSION
    if _SESSION is None:
        missing = [t for t in _TOOLS if shutil.which(t) is None]
        if missing:
            pytest.skip(f"PulseAudio rig needs {', '.join(missing)} (apt-get install pulseaudio pulseaudio-utils)")
        try:
            import sounddevice
        except OSError as exc:
            pytest.skip(f"PortAudio library missing: {exc}")
        _start_server()
        # PortAudio lists ALSA's "pulse" device only if a server answered when it initialised; this
        # process may have initialised it (imported sounddevice) before the server was up.
        sounddevice._terminate()
        sounddevice._initialize()
        os.environ["PULSE_SOURCE"] = SOURCE  # inherited by subprocesses (`livevis listen` in tests)
        _SESSION = PulseRig()
    return _SESSION


@pytest.fixture()
def pulse_rig():
    """The rig, plugged in and quiet at the start of each test and again afterwards (even when the
    test failed mid-unplug), so one test's simulated unplug never leaks into the next."""
    rig = pulse_session()
    rig.stop_playing()
    rig.replug()
    try:
        yield rig
    finally:
        rig.stop_playing()
        rig.replug()
