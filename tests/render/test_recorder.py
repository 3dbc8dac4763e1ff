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


@pytest.mark.parametrize("fragmented", [False, True])
def test_two_seconds_with_a_tone_decode_in_sync(tmp_path, fragmented):
    out = tmp_path / "clip.mp4"
    fps, seconds = 30, 2
    with Recorder(out, 128, 96, fps, SR, fragmented=fragmented) as rec:
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
    # live recordings are fragmented MP4 (the muxer's index is flushed per fragment), renders are not
    assert (b"moof" in out.read_bytes()) == fragmented


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
    with Recorder(out, 64, 64, 25, SR, channels=2) as rec:
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


# -- program audio: recordings carry the input's own rate and channels -------------------------------
def _probe_audio(path):
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        rate, channels, bitrate = stream.codec_context.sample_rate, stream.codec_context.channels, stream.bit_rate
        samples = np.concatenate([f.to_ndarray() for f in container.decode(audio=0)], axis=1)  # [C, N]
    return rate, channels, bitrate, samples


def _lag(recorded: np.ndarray, reference: np.ndarray) -> int:
    """Lag (samples) of the cross-correlation peak of recorded against reference."""
    n = 1 << int(np.ceil(np.log2(len(recorded) + len(reference))))
    corr = np.fft.irfft(np.fft.rfft(recorded, n) * np.conj(np.fft.rfft(reference, n)), n)
    lag = int(np.argmax(corr))
    return lag if lag < n // 2 else lag - n


@pytest.mark.parametrize("rate,channels", [(44100, 2), (48000, 1)])
def test_recording_of_a_file_source_keeps_its_rate_channels_and_timing(tmp_path, rate, channels):
    from livevis.audio import open_source
    from tests.audio.media_files import write_audio

    rng = np.random.default_rng(rate)
    seconds, fps, model_rate = 2.0, 30, 16000
    n = int(seconds * rate)
    spectrum = np.fft.rfft(rng.standard_normal((channels, n)), axis=1)
    spectrum[:, np.fft.rfftfreq(n, 1 / rate) > 4000] = 0  # band-limited noise: aperiodic, and AAC keeps it
    signal = np.fft.irfft(spectrum, n, axis=1)
    signal = (0.3 * signal / signal.std()).astype(np.float32)  # [C, N]
    signal[:, : rate // 4] *= 0.1  # a quiet start: a shifted copy would not line up
    path = write_audio(tmp_path / f"in{rate}.wav", signal, rate)
    out = tmp_path / "rec.mp4"
    # The live show's path, offline: the model ring advances per frame, the program audio follows it.
    with open_source(str(path), sample_rate=model_rate, realtime=False) as src, \
            Recorder(out, 64, 64, fps, src.program_rate, channels=src.program_channels) as rec:
        assert (src.program_rate, src.program_channels) == (rate, channels)
        done = 0
        for k in range(int(seconds * fps)):
            src.advance(round((k + 1) * model_rate / fps) - src.write_index)
            rec.write_video(np.zeros((64, 64, 3), np.uint8))
            head = src.to_program_index(src.write_index)
            rec.write_audio(src.program_read(done, head - done))  # [n, C]
            done = head
        assert done == src.program_write_index == signal.shape[1]
    got_rate, got_channels, bitrate, recorded = _probe_audio(out)
    assert (got_rate, got_channels) == (rate, channels)
    target = 128_000 if channels == 1 else 192_000
    assert abs(bitrate - target) < 0.15 * target, bitrate  # measured over the file by the demuxer
    reference = np.round(signal * 32767) / 32767  # the wav is 16-bit
    frame = rate / fps
    for c in range(channels):
        assert abs(_lag(recorded[c], reference[c])) < frame  # in sync within one frame
        # and it is the same sound
        n = min(recorded.shape[1], reference.shape[1])
        lag = max(0, _lag(recorded[c], reference[c]))
        r = np.corrcoef(recorded[c, lag:n], reference[c, : n - lag])[0, 1]
        assert r > 0.9, r
    if channels == 2:  # the channels stay apart (independent noise in L and R)
        assert abs(np.corrcoef(recorded[0], recorded[1])[0, 1]) < 0.2


def test_write_audio_maps_channels_and_bitrate_is_settable(tmp_path):
    out = tmp_path / "mono.mp4"
    with Recorder(out, 64, 64, 25, SR, channels=1, audio_bitrate=96_000) as rec:
        stereo = np.stack([_tone(0, SR), _tone(0, SR)], axis=1)  # [N, 2] into a mono recording: the mean
        rec.write_audio(stereo)
        for _ in range(25):
            rec.write_video(np.zeros((64, 64, 3), np.uint8))
    rate, channels, _bitrate, samples = _probe_audio(out)
    assert (rate, channels) == (SR, 1) and abs(_dominant_hz(samples[0]) - 440.0) <= 5.0
    with pytest.raises(LivevisError, match="mono or stereo"):
        Recorder(tmp_path / "x.mp4", 64, 64, 25, SR, channels=6)
    with pytest.raises(LivevisError, match="bitrate"):
        Recorder(tmp_path / "x.mp4", 64, 64, 25, SR, audio_bitrate=0)


def test_live_recording_of_a_realtime_source_stays_in_sync(tmp_path):
    """The live path: a real-time 44.1 kHz stereo file source, the program-audio tap thread and video
    frames at the wall clock's pace; the recording is the file from the tap's start, within a frame."""
    import time

    from livevis.audio import open_source
    from livevis.audio.program_audio import ProgramAudioTap
    from tests.audio.media_files import write_audio

    rate, fps, seconds = 44100, 25, 1.6
    rng = np.random.default_rng(7)
    n = int(3.0 * rate)
    spectrum = np.fft.rfft(rng.standard_normal((2, n)), axis=1)
    spectrum[:, np.fft.rfftfreq(n, 1 / rate) > 4000] = 0
    signal = np.fft.irfft(spectrum, n, axis=1)
    signal = (0.3 * signal / signal.std()).astype(np.float32)  # [2, N]
    path = write_audio(tmp_path / "live.wav", signal, rate)
    out = tmp_path / "live.mp4"
    with open_source(str(path), sample_rate=16000) as src:
        time.sleep(0.3)  # the show starts recording mid-file, with its first shown frame
        with Recorder(out, 64, 64, fps, src.program_rate, channels=src.program_channels) as rec:
            tap = ProgramAudioTap(src, rec)
            t0 = time.monotonic()
            tap.start()
            for k in range(int(seconds * fps)):  # frame k is shown at t0 + k / fps
                time.sleep(max(0.0, t0 + k / fps - time.monotonic()))
                rec.write_video(np.zeros((64, 64, 3), np.uint8))
            tap.stop()
    got_rate, got_channels, _bitrate, recorded = _probe_audio(out)
    assert (got_rate, got_channels) == (rate, 2)
    reference = np.round(signal * 32767) / 32767
    expected = reference[:, tap.start_index :]
    for c in range(2):
        lag = _lag(recorded[c], expected[c])
        print(f"live recording lag ch{c}: {lag} samples")
        assert abs(lag) < rate / fps  # in sync within one frame
