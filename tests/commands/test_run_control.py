"""A headless show driven over OSC: parameter changes land in the recorded frames (brightness halves
the picture, blackout blacks it out), malformed messages are ignored, and a flood of valid messages
neither stops the show nor loses the last value."""

import socket
import subprocess
import time

import numpy as np
from pythonosc.udp_client import SimpleUDPClient

from tests.rigs.cli import LIVEVIS
from tests.rigs.display import run_env
from tests.rigs.media import decode_video
from tests.rigs.tiny_bundle import tiny_bundle  # noqa: F401 - fixture

FPS = 20


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(proc: subprocess.Popen, text: str, timeout: float = 120.0) -> str:
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        seen.append(line)
        if text in line:
            return "".join(seen)
    raise AssertionError(f"{text!r} never printed:\n{''.join(seen)}")


def test_osc_changes_reach_the_recorded_frames(tiny_bundle, tmp_path):
    port = free_port()
    out = tmp_path / "show.mp4"
    cmd = [*LIVEVIS, "run", "--input", "synth:noise", "--headless", "--seconds", "9", "--fps", str(FPS), "--record",
           str(out), "--model", str(tiny_bundle), "--size", "64", "--osc", str(port)]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=run_env())
    try:
        wait_for(proc, "running on")
        osc = SimpleUDPClient("127.0.0.1", port)
        osc.send_message("/livevis/param/effects", 0)  # plain frames: brightness is easy to read
        time.sleep(2.5)
        osc.send_message("/livevis/param/brightness", 0.5)
        raw = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for junk in (b"\x00garbage", b"/livevis/param/brightness\x00\x00\x00,s\x00\x00nope\x00\x00\x00\x00"):
            raw.sendto(junk, ("127.0.0.1", port))  # malformed: counted and ignored
        osc.send_message("/livevis/param/nope", 1.0)
        osc.send_message("/livevis/param/brightness", 9.0)  # out of range: ignored, 0.5 stays
        for i in range(200):  # a burst of valid messages, the last one wins
            osc.send_message("/livevis/param/gain_mid", 1.0 + (i % 7) * 0.1)
        time.sleep(2.5)
        osc.send_message("/livevis/blackout", 1)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    frames = decode_video(out).astype(np.float32)  # [T, H, W, 3]
    means = frames.reshape(len(frames), -1).mean(1)
    t = np.arange(len(frames)) / FPS
    before = means[(t > 1.0) & (t < 2.0)].mean()
    dimmed = means[(t > 3.5) & (t < 4.5)].mean()
    assert 0.35 < dimmed / before < 0.65, (before, dimmed)  # brightness 0.5, not 9
    assert means[-FPS:].max() < 1.0, means[-FPS:]  # blackout: black frames to the end


def test_osc_out_says_what_the_default_hears_in_a_real_recording(tmp_path):
    """The shipped default's sound class model on a real rain recording (validation set): the show's
    OSC out reports `/livevis/state/heard rain <p>` while it plays."""
    from pathlib import Path

    from pythonosc.osc_message import OscMessage

    rain = Path(__file__).resolve().parents[1] / "data" / "recordings-val" / "rain" / "0ad-data--rain_11.flac"
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.settimeout(1.0)
    cmd = [*LIVEVIS, "run", "--input", str(rain), "--headless", "--seconds", "6", "--fps", "15", "--size", "64",
           "--osc-out", f"127.0.0.1:{rx.getsockname()[1]}"]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=run_env())
    heard = []
    try:
        wait_for(proc, "running on")
        deadline = time.monotonic() + 30
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                m = OscMessage(rx.recv(65536))
            except OSError:
                continue
            if m.address == "/livevis/state/heard":
                heard.append(list(m.params))
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert heard and all(isinstance(name, str) and 0.0 < p <= 1.0 for name, p in heard), heard
    assert [name for name, _p in heard].count("rain") >= len(heard) // 2, heard
