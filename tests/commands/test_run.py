"""`livevis run`: headless from a file and from the microphone rig, a real window under Xvfb,
recordings that decode with the input audio, mic loss mid-show, and one-line errors."""

import os
import subprocess
import time

import numpy as np
import pytest

from livevis.audio.synth import make_signal
from tests.audio.media_files import write_audio
from tests.rigs.cli import LIVEVIS, assert_one_line_error, livevis
from tests.rigs.display import run_env, xvfb  # noqa: F401 - fixture
from tests.rigs.media import decode_audio, decode_video, dominant_hz, stream_kinds
from tests.rigs.pulse import pulse_rig, tone_wav  # noqa: F401 - fixture
from tests.rigs.tiny_bundle import tiny_bundle  # noqa: F401 - fixture

SR = 16000
FPS = 15


def _check_recording(path, seconds: float, tone_hz: float | None = None) -> np.ndarray:
    assert stream_kinds(path) == ["video", "audio"]
    frames = decode_video(path)
    assert abs(len(frames) - seconds * FPS) <= 0.05 * seconds * FPS + 1, len(frames)
    if tone_hz is not None:
        audio, rate = decode_audio(path)
        heard = audio[int(0.3 * rate):]  # skip the first moments (source start-up)
        assert np.sqrt(np.mean(heard ** 2)) > 0.01, "recording has no audio"
        assert abs(dominant_hz(heard, rate) - tone_hz) <= 5.0
    return frames


def test_headless_file_run_records_video_with_the_input_audio(tiny_bundle, tmp_path):
    wav = write_audio(tmp_path / "a440.wav", make_signal("sine", 6.0, SR, freq=440.0), SR)
    out = tmp_path / "show.mp4"
    proc = livevis("run", "--input", wav, "--headless", "--seconds", 3, "--fps", FPS, "--record", out,
                   "--model", tiny_bundle, "--size", 64)
    assert proc.returncode == 0, proc.stderr
    assert "UNTRAINED STAND-IN" in proc.stderr  # the model says what it is at start-up
    frames = _check_recording(out, 3.0, tone_hz=440.0)
    assert frames.std() > 1.0  # a picture, not a constant
    assert b"moof" in out.read_bytes()  # fragmented MP4: a long show's muxer index stays bounded


@pytest.mark.pulse
def test_headless_mic_run_records_the_rig_tone(pulse_rig, tiny_bundle, tmp_path):
    pulse_rig.play(tone_wav(tmp_path / "tone.wav", 440.0, seconds=30))
    try:
        out = tmp_path / "mic.mp4"
        proc = livevis("run", "--input", "mic", "--device", "pulse", "--headless", "--seconds", 3, "--fps", FPS,
                       "--record", out, "--model", tiny_bundle, "--size", 64, env={**run_env(), **_pulse_env()})
    finally:
        pulse_rig.stop_playing()
    assert proc.returncode == 0, proc.stderr
    _check_recording(out, 3.0, tone_hz=440.0)


@pytest.mark.pulse
def test_mic_unplugged_mid_show_keeps_running_and_recording(pulse_rig, tiny_bundle, tmp_path):
    pulse_rig.play(tone_wav(tmp_path / "tone.wav", 440.0, seconds=30))
    out = tmp_path / "unplug.mp4"
    proc = subprocess.Popen([*LIVEVIS, "run", "--input", "mic", "--device", "pulse", "--headless", "--seconds", "6",
                             "--fps", str(FPS), "--record", str(out), "--model", str(tiny_bundle), "--size", "64"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**run_env(), **_pulse_env()})
    seen = []
    try:
        for line in proc.stderr:  # start-up (imports, model, engines) can take a while on a busy machine
            seen.append(line)
            if line.startswith("livevis: running on"):
                break
        time.sleep(1.0)  # a little of the show with the mic in
        pulse_rig.unplug()
        time.sleep(2.5)
        pulse_rig.replug()
        _, rest = proc.communicate(timeout=120)
        stderr = "".join(seen) + rest
    finally:
        if proc.poll() is None:
            proc.kill()
        pulse_rig.stop_playing()
        if not pulse_rig.plugged:
            pulse_rig.replug()
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr
    _check_recording(out, 6.0)


def test_window_under_xvfb_shows_frames(xvfb, tiny_bundle, tmp_path):
    out = tmp_path / "window.mp4"
    env = {**run_env(), "DISPLAY": xvfb}
    env.pop("WAYLAND_DISPLAY", None)
    proc = livevis("run", "--input", "synth:noise", "--seconds", 2, "--fps", FPS, "--record", out,
                   "--model", tiny_bundle, "--size", 96, env=env)
    assert proc.returncode == 0, proc.stderr
    frames = _check_recording(out, 2.0)
    assert frames.std() > 1.0


def test_no_model_flag_plays_the_shipped_trained_default(tmp_path):
    out = tmp_path / "default.mp4"
    proc = livevis("run", "--input", "synth:noise", "--headless", "--seconds", 2, "--fps", FPS, "--record", out)
    assert proc.returncode == 0, proc.stderr
    assert "livevis: model default (bundle): trained by livevis" in proc.stderr and "STAND-IN" not in proc.stderr
    frames = _check_recording(out, 2.0)
    assert frames.std() > 1.0


def test_bad_input(xvfb, tiny_bundle, tmp_path):
    bad = tmp_path / "text.wav"
    bad.write_text("this is not audio")
    assert_one_line_error(livevis("run", "--model", "nope-model", "--headless"), "nope-model")
    assert_one_line_error(livevis("run", "--input", bad, "--headless", "--model", tiny_bundle), "text.wav")
    assert_one_line_error(livevis("run", "--input", "synth:sine", "--fps", 0, "--headless"), "--fps")
    no_display = {k: v for k, v in run_env().items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    assert_one_line_error(livevis("run", "--input", "synth:sine", "--model", tiny_bundle, env=no_display), "--headless")
    on_xvfb = {**run_env(), "DISPLAY": xvfb}
    assert_one_line_error(livevis("run", "--input", "synth:sine", "--model", tiny_bundle, "--monitor", 7, env=on_xvfb),
                          "monitor")


def _pulse_env() -> dict:
    return {k: v for k, v in os.environ.items() if k.startswith("PULSE")}
