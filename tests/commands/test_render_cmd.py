"""`livevis render`: deterministic, every frame, audio muxed, duration = audio's; sound moves the picture."""

import numpy as np
import pytest

from livevis.audio.synth import make_signal
from tests.audio.media_files import write_audio
from tests.rigs.cli import assert_one_line_error, livevis
from tests.rigs.media import decode_video, durations, mean_motion, stream_kinds
from tests.rigs.tiny_bundle import tiny_bundle  # noqa: F401 - fixture

SR = 16000
SMALL = ("--out-size", "64x64")  # the default 1920x1080 is covered in test_output_size.py; small keeps CI fast


@pytest.fixture(scope="module")
def noise_wav(tmp_path_factory):
    return write_audio(tmp_path_factory.mktemp("audio") / "bursts.wav", make_signal("noise", 2.0, SR, seed=3), SR)


def test_render_is_deterministic_with_audio_muxed(tiny_bundle, noise_wav, tmp_path):
    outs = []
    for name in ("a.mp4", "b.mp4"):
        out = tmp_path / name
        proc = livevis("render", noise_wav, "--out", out, "--model", tiny_bundle, "--fps", 15, "--seed", 4, *SMALL)
        assert proc.returncode == 0, proc.stderr
        outs.append(out)
    assert stream_kinds(outs[0]) == ["video", "audio"]
    a, b = decode_video(outs[0]).astype(np.int16), decode_video(outs[1]).astype(np.int16)
    assert a.shape == b.shape and a.shape[0] == 30  # every frame of 2 s at 15 fps
    # The rendered frames are identical (tests/pipeline/test_offline.py checks the pixels exactly); x264
    # itself is not bit-stable across processes here (the same frames sometimes encode to other bytes),
    # so the decoded videos agree up to encoding noise, far below what another seed changes.
    noise = np.abs(a - b).reshape(30, -1).mean(1)
    assert noise.max() <= 5.0 and noise.mean() <= 1.5, noise
    other = tmp_path / "c.mp4"
    assert livevis("render", noise_wav, "--out", other, "--model", tiny_bundle, "--fps", 15, "--seed", 5, *SMALL).returncode == 0
    assert np.abs(decode_video(other).astype(np.int16) - a).mean() > 10 * max(noise.mean(), 0.1)
    d = durations(outs[0])
    assert abs(d["video"] - 2.0) <= 1 / 15 and abs(d["audio"] - 2.0) <= 1 / 15


def test_sound_moves_the_picture(tiny_bundle, noise_wav, tmp_path):
    """What is shown (latent + audio-reactive effect) moves at least twice as much on noise bursts as on silence."""
    silence = write_audio(tmp_path / "silence.wav", np.zeros(2 * SR, np.float32), SR)
    motion = {}
    for name, wav in (("noise", noise_wav), ("silence", silence)):
        out = tmp_path / f"{name}.mp4"
        proc = livevis("render", wav, "--out", out, "--model", tiny_bundle, "--fps", 15, "--seed", 1, *SMALL)
        assert proc.returncode == 0, proc.stderr
        motion[name] = mean_motion(decode_video(out))
    assert motion["noise"] >= 2.0 * motion["silence"], motion


@pytest.mark.parametrize("args, needle", [
    (["--model", "no-such-model"], "no-such-model"),
    (["--fps", "0"], "--fps"),
])
def test_render_bad_options(noise_wav, tmp_path, args, needle):
    assert_one_line_error(livevis("render", noise_wav, "--out", tmp_path / "x.mp4", *args), needle)
    assert not (tmp_path / "x.mp4").exists()


def test_render_unreadable_audio(tmp_path):
    bad = tmp_path / "notes.wav"
    bad.write_text("not audio at all")
    assert_one_line_error(livevis("render", bad, "--out", tmp_path / "x.mp4"), "notes.wav")
    assert not (tmp_path / "x.mp4").exists()


def test_picture_pulses_in_sync_with_the_audio(tiny_bundle, tmp_path):
    """Clicks every 0.5 s: the picture moves at the first frame that hears each click."""
    fps = 20
    wav = write_audio(tmp_path / "clicks.wav", make_signal("clicks", 3.0, SR, bpm=120), SR)
    out = tmp_path / "clicks.mp4"
    proc = livevis("render", wav, "--out", out, "--model", tiny_bundle, "--fps", fps, *SMALL)
    assert proc.returncode == 0, proc.stderr
    frames = decode_video(out).astype(np.float32)
    change = np.abs(np.diff(frames, axis=0)).mean(axis=(1, 2, 3))  # change[k]: frame k -> k+1
    clicks = np.arange(0.5, 3.0, 0.5)  # the click at t=0 has no earlier frame to differ from
    for t in clicks:
        k = int(round(t * fps))  # frame k shows t exactly: frame k+1 is the first to hear the click
        window = change[k - 3:k + 3]
        # The reaction moves the picture into the first frame that heard the click (change[k]); the
        # sound model's next 10 Hz keyframe may move it as much once more, a frame later.
        assert change[k] >= 0.5 * window.max(), (t, window)
        assert k - 3 + int(np.argmax(window)) in (k - 1, k, k + 1), (t, window)
        assert change[k] >= 3.0 * np.median(change[k - 4:k - 1]), (t, window)
