import signal
import subprocess
import sys
import time

import av
import numpy as np
import pytest

from livevis.errors import LivevisError
from livevis.render.recorder import Recorder
from tests.rigs.display import run_env

SR = 48000


def _tone(start: int, n: int, hz: float = 440.0) -> np.ndarray:
    t = np.arange(start, start + n) / SR
    return (0.5 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def _probe(path):
    with av.open(str(path)) as container:
        video = [s for s in container.streams if s.type == "video"]
        audio = [s for s in container.streams if s.type == "audio"]
        info = {
            "video_streams": len(video),
            "audio_streams": len(audio),
            "video_codec": video[0].codec_context.name if video else None,
            "pix_fmt": video[0].codec_context.pix_fmt if video else None,
        }
    with av.open(str(path)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    with av.open(str(path)) as container:
        samples = np.concatenate([f.to_ndarray().reshape(f.layout.nb_channels, -1)[0] for f in container.decode(audio=0)])
    info["frames"] = frames
    info["audio"] = samples
    return info


def _dominant_hz(samples: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.argmax(spectrum) * SR / len(samples))


def test_two_seconds_with_a_tone_decode_in_sync(tmp_path):
    out = tmp_path / "clip.mp4"
    fps, seconds = 30, 2
    with Recorder(out, 128, 96, fps, SR) as rec:
        for i in range(fps * seconds):
            rgb = np.zeros((96, 128, 3), np.uint8)
            rgb[:, (4 * i) % 128] = 255  # a moving bar
            rec.write_video(rgb)
            rec.write_audio(_tone(i * SR // fps, SR // fps))  # audio in the same cadence as video
        assert not out.exists()  # only renamed into place on close
    assert out.exists()
    assert oct(out.stat().st_mode & 0o777) != oct(0o600)
    info = _probe(out)
    assert info["video_streams"] == 1 and info["audio_streams"] == 1
    assert info["video_codec"] == "h264" and info["pix_fmt"] == "yuv420p"
    assert abs(len(info["frames"]) - fps * seconds) <= 0.05 * fps * seconds
    audio_seconds = len(info["audio"]) / SR
    assert abs(audio_seconds - seconds) < 0.05  # trimmed/padded to the video (+ AAC priming)
    assert abs(_dominant_hz(info["audio"]) - 440.0) <= 5.0
    assert not list(tmp_path.glob(".*tmp*"))


def test_short_audio_is_padded_and_long_audio_trimmed(tmp_path):
    short, long = tmp_path / "short.mp4", tmp_path / "long.mp4"
    with Recorder(short, 64, 64, 30, SR) as rec:
        rec.write_audio(_tone(0, SR // 2))  # 0.5 s of audio for 2 s of video
        for _ in range(60):
            rec.write_video(np.zeros((64, 64, 3), np.uint8))
    with Recorder(long, 64, 64, 30, SR) as rec:
        for _ in range(30):
            rec.write_video(np.zeros((64, 64, 3), np.uint8))
        rec.write_audio(_tone(0, 3 * SR))  # 3 s of audio for 1 s of video
    assert abs(len(_probe(short)["audio"]) / SR - 2.0) < 0.05
    assert abs(len(_probe(long)["audio"]) / SR - 1.0) < 0.05


def test_audio_from_another_thread_and_stereo(tmp_path):
    import threading

    out = tmp_path / "stereo.mp4"
    with Recorder(out, 64, 64, 25, SR, audio_channels=2) as rec:
        feeder = threading.Thread(target=lambda: [rec.write_audio(_tone(k * 4800, 4800)) for k in range(10)])
        feeder.start()
        for _ in range(25):
            rec.write_video(np.zeros((64, 64, 3), np.uint8))
        feeder.join()
    info = _probe(out)
    assert len(info["frames"]) == 25
    assert abs(_dominant_hz(info["audio"]) - 440.0) <= 5.0


def test_bad_arguments_and_empty_recordings(tmp_path):
    with pytest.raises(LivevisError, match="even"):
        Recorder(tmp_path / "odd.mp4", 65, 64, 30, SR)
    with pytest.raises(LivevisError, match="fps"):
        Recorder(tmp_path / "zero.mp4", 64, 64, 0, SR)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(LivevisError, match="cannot write recording"):
        Recorder(blocker / "sub" / "x.mp4", 64, 64, 30, SR)
    with Recorder(tmp_path / "empty.mp4", 64, 64, 30, SR):
        pass  # no frames: nothing playable, so no file
    assert not (tmp_path / "empty.mp4").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_exception_mid_recording_still_finalises_the_file(tmp_path):
    out = tmp_path / "crash.mp4"
    with pytest.raises(RuntimeError):
        with Recorder(out, 64, 64, 30, SR) as rec:
            for _ in range(10):
                rec.write_video(np.full((64, 64, 3), 90, np.uint8))
            raise RuntimeError("boom")
    assert len(_probe(out)["frames"]) == 10
    rec.write_audio(_tone(0, 100))  # late audio from another thread: ignored
    with pytest.raises(LivevisError, match="already closed"):
        rec.write_video(np.zeros((64, 64, 3), np.uint8))
    rec.close()  # twice is fine


_SIGTERM_SCRIPT = r"""
import signal, sys, time
import numpy as np
from livevis.render.recorder import Recorder

def interrupt(signum, frame):
    raise KeyboardInterrupt  # what the livevis CLI installs for SIGTERM

signal.signal(signal.SIGTERM, interrupt)
sr = 48000
try:
    with Recorder(sys.argv[1], 160, 120, 30, sr) as rec:
        i = 0
        while True:
            rgb = np.full((120, 160, 3), (i * 3) % 256, np.uint8)
            rec.write_video(rgb)
            t = np.arange(i * 1600, (i + 1) * 1600) / sr
            rec.write_audio((0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32))
            i += 1
            if i == 15:
                print("recording", flush=True)
            time.sleep(1 / 30)
except KeyboardInterrupt:
    sys.exit(130)
"""


def test_sigterm_mid_recording_leaves_a_valid_file(tmp_path):
    out = tmp_path / "term.mp4"
    proc = subprocess.Popen([sys.executable, "-c", _SIGTERM_SCRIPT, str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=run_env(), text=True)
    try:
        assert proc.stdout.readline().strip() == "recording", proc.stderr.read()
        time.sleep(0.3)
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    info = _probe(out)
    assert info["video_streams"] == 1 and info["audio_streams"] == 1
    assert len(info["frames"]) >= 15
    assert abs(len(info["audio"]) / SR - len(info["frames"]) / 30) < 0.1
    assert [p.name for p in tmp_path.iterdir()] == ["term.mp4"]  # no temporary left behind
