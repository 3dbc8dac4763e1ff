"""PulseAudio null-sink rig: a "microphone" that hears whatever the test plays.

    from tests.rigs.pulse import pulse_rig  # noqa: F401  (import the fixture into your test module)

    def test_x(pulse_rig):
        pulse_rig.play(wav_path)          # paplay into the sink (non-blocking; returns the Popen)
        pulse_rig.play_loop(flac_paths)   # or: play files round and round until stop_playing()/unplug()
        ... capture from sounddevice device "pulse" (or `livevis listen --device pulse`) ...
        pulse_rig.unplug()                # unload the sink: the capture device disappears
        pulse_rig.replug()                # load it again

The rig starts a private `pulseaudio` for the test process (its own socket in a temporary folder,
exported as PULSE_SERVER; as root it warns and works; `pactl exit` at process exit), loads
`module-null-sink sink_name=livevis_test_<pid>`, makes its monitor the default source and also exports
PULSE_SOURCE=livevis_test_<pid>.monitor, so PortAudio's "pulse" device (in this process and in
subprocesses) records the sink and, while the sink is unplugged, fails to open instead of silently
falling back to another source. Skips only when the pulseaudio binaries are missing.

Why private: on a shared server PulseAudio moves a recording stream to another source when its own
vanishes (and hands a stream that asks for a missing source the default one), so with other sinks
around an unplug often did not make the mic lose its device. With only our sink on the server the
stream dies and reopens fail until the replug. `unplug()` checks that the source is gone.
"""

from __future__ import annotations

import atexit
import itertools
import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest

SINK = f"livevis_test_{os.getpid()}"  # per process: see the module docstring
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
        self._loop_stop: threading.Event | None = None
        self._loop_thread: threading.Thread | None = None

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

    def unplug(self, timeout: float = 5.0) -> None:
        """Unload the null sink: recording streams on its monitor die, as with a pulled USB cable.

        Raises RuntimeError unless the source is gone from the server within `timeout` seconds.
        """
        self.stop_playing()
        for module in self._module_ids():
            _pactl("unload-module", module, check=False)
        deadline = time.monotonic() + timeout
        while self.source_present():
            if time.monotonic() > deadline:
                raise RuntimeError(f"{SOURCE} still present {timeout} s after unloading its sink")
            time.sleep(0.05)

    def source_present(self) -> bool:
        return any(line.split("\t")[1:2] == [SOURCE] for line in _pactl("list", "short", "sources").splitlines())

    def play_loop(self, paths: list[str | Path]) -> None:
        """Play `paths` into the sink one after another, round and round, until stop_playing()/unplug()."""
        self.stop_playing()
        stop = threading.Event()

        def run():
            for path in itertools.cycle(paths):
                if stop.is_set():
                    return
                proc = self.play(path)
                while proc.poll() is None and not stop.is_set():
                    time.sleep(0.1)

        self._loop_stop = stop
        self._loop_thread = threading.Thread(target=run, name="pulse-rig-music", daemon=True)
        self._loop_thread.start()

    def play(self, path: str | Path) -> subprocess.Popen:
        """Start `paplay` of a wav into the sink; returns the process (stop with stop_playing)."""
        proc = subprocess.Popen(["paplay", f"--device={SINK}", str(path)], stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        self._players.append(proc)
        return proc

    def stop_playing(self) -> None:
        if self._loop_stop is not None:
            self._loop_stop.set()
            self._loop_thread.join(timeout=5)
            self._loop_stop = self._loop_thread = None
        for proc in self._players:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
        self._players.clear()


def _start_server() -> None:
    """A private server for this test process: its own socket, only the null sink we load.

    On a shared server PulseAudio (>= 15) moves a recording stream to the default source when its own
    source vanishes, and a stream asking for a missing source gets the default one: with any other
    sink around (another test run's, module-always-sink's auto_null) an "unplug" then never stopped
    the mic. With no other source, an unload kills the stream and a reopen fails, as with a real cable.
    """
    runtime = Path(tempfile.mkdtemp(prefix="livevis-pulse-"))
    socket_path = runtime / "native"
    script = runtime / "rig.pa"
    script.write_text(f"load-module module-native-protocol-unix auth-anonymous=1 socket={socket_path}\n")
    os.environ["PULSE_RUNTIME_PATH"] = str(runtime)
    os.environ["PULSE_SERVER"] = f"unix:{socket_path}"  # this process, pactl/paplay and `livevis` subprocesses
    # As root pulseaudio prints "not intended to be run as root" and works; CI runs as root.
    subprocess.run(["pulseaudio", "--daemonize=yes", "-n", "-F", str(script), "--exit-idle-time=-1",
                    "--use-pid-file=no", "--disallow-module-loading=no"], capture_output=True, timeout=30)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if _server_up():
            atexit.register(_stop_server, runtime)
            return
        time.sleep(0.2)
    pytest.fail("pulseaudio -D started but no server answers `pactl info` within 10 s")


def _stop_server(runtime: Path) -> None:
    subprocess.run(["pactl", "exit"], capture_output=True, timeout=15)
    shutil.rmtree(runtime, ignore_errors=True)


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
        atexit.register(_unload_session)
    return _SESSION


def _unload_session() -> None:
    """This process's sink goes with it (names are per process, so nobody else would unload it)."""
    if _SESSION is not None:
        _SESSION.stop_playing()
        for module in _SESSION._module_ids():
            _pactl("unload-module", module, check=False)


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
