"""`livevis generate --text`: text -> generated sound -> the video it drives, muxed, deterministic per seed;
timed prompts switch sound and picture at their times; bad input is one clear line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile

from livevis.errors import LivevisError
from tests.rigs.cli import assert_one_line_error
from tests.rigs.display import run_env
from tests.rigs.media import decode_audio, decode_video, durations, stream_kinds
from tests.rigs.tiny_bundle import tiny_bundle  # noqa: F401 - fixture
from tests.rigs.tiny_data import tiny_data, train  # noqa: F401 - fixture
from tests.training.test_stage_text_sound import bundle_with_clip

FPS = 10
# `livevis generate` as a user runs it (registered here too in case the CLI table does not list it yet).
RUNNER = ("from livevis import cli; cli.COMMANDS.setdefault('generate', ('livevis.commands.generate', 'generate')); "
          "raise SystemExit(cli.main())")


def generate(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", RUNNER, "generate", *map(str, args)], capture_output=True, text=True,
                          timeout=300, env=run_env(), stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def sound_bundle(tiny_data, tmp_path_factory) -> Path:
    """The tiny live bundle + tiny CLIP, with a tokenizer and a text-to-sound model trained on the tiny set."""
    root = tmp_path_factory.mktemp("generate")
    bundle = bundle_with_clip(root / "sound.bundle")
    code, err = train("sound-tokens", "--data", tiny_data, "--out", root / "tok", "--preset", "tiny")
    assert code == 0, err
    code, err = train("text-sound", "--data", tiny_data, "--out", root / "ts", "--preset", "tiny", "--tokens", root / "tok",
                      "--clip", f"bundle:{bundle}", "--bundle", bundle)
    assert code == 0, err
    return bundle


@pytest.fixture(scope="module")
def rain_clips(sound_bundle, tmp_path_factory):
    """'the sound of rain', 2 s: twice with seed 3, once with seed 4 -> {name: (mp4, wav)}."""
    root = tmp_path_factory.mktemp("rain")
    out = {}
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        mp4, wav = root / f"{name}.mp4", root / f"{name}.wav"
        proc = generate("--text", "the sound of rain", "--seconds", 2, "--model", sound_bundle, "--seed", seed,
                        "--fps", FPS, "--size", 32, "--backend", "eager", "--out", mp4, "--audio-out", wav)
        assert proc.returncode == 0, proc.stderr
        out[name] = (mp4, wav)
    return out


def test_deterministic_per_seed_with_video_and_audio_of_the_asked_length(rain_clips):
    (a, wa), (b, wb), (_c, wc) = rain_clips["a"], rain_clips["b"], rain_clips["c"]
    assert stream_kinds(a) == ["video", "audio"]
    fa, fb = decode_video(a).astype(np.int16), decode_video(b).astype(np.int16)
    # The frames are rendered identically; x264 is not bit-stable across processes (see
    # tests/commands/test_render_cmd.py), so the decoded videos agree up to encoding noise.
    assert fa.shape[0] == 2 * FPS and np.abs(fa - fb).reshape(len(fa), -1).mean(1).max() <= 5.0
    sa, sr = soundfile.read(wa, dtype="float32")
    sb, _ = soundfile.read(wb, dtype="float32")
    sc, _ = soundfile.read(wc, dtype="float32")
    assert sr == 16000 and sa.shape == (32000,) and np.array_equal(sa, sb)
    assert not np.array_equal(sa, sc)                          # another seed, another sound
    assert float(np.sqrt(np.mean(sa ** 2))) > 1e-3             # not silence
    d = durations(a)
    assert abs(d["video"] - 2.0) <= 1 / FPS and abs(d["audio"] - 2.0) <= 1 / FPS
    muxed, rate = decode_audio(a)                               # the generated sound is what is muxed
    n = min(muxed.shape[0], sa.shape[0]) - 2048
    assert rate == 16000 and np.corrcoef(muxed[1024:n], sa[1024:n])[0, 1] > 0.9


def _class_profiles(data) -> dict[str, np.ndarray]:
    from livevis.models.bundle import AudioFrontend
    from livevis.training.data import ClipDataset
    from livevis.training.stages.sound_tokens import clip_mel

    ds, fe = ClipDataset(data, "train"), AudioFrontend()
    prof: dict[str, list] = {}
    for i in range(len(ds)):
        item = ds[i]
        prof.setdefault(ds.classes[item["label"]], []).append(clip_mel(item["audio"], fe).mean(1).numpy())
    return {k: np.mean(v, 0) for k, v in prof.items()}


def _profile(audio: np.ndarray) -> np.ndarray:
    from livevis.audio import log_mel

    return log_mel(audio.astype(np.float32), 16000, 1024, 256, 80).mean(1)


def test_timed_prompts_switch_sound_and_picture_at_their_times(sound_bundle, rain_clips, tiny_data, tmp_path):
    mp4, wav = tmp_path / "t.mp4", tmp_path / "t.wav"
    proc = generate("--text", "0:the sound of rain;1:the sound of calm", "--seconds", 2, "--model", sound_bundle,
                    "--seed", 3, "--fps", FPS, "--size", 32, "--backend", "eager", "--out", mp4, "--audio-out", wav)
    assert proc.returncode == 0, proc.stderr
    # Sound: the first second's band levels are nearer the real rain clips', the second's nearer calm's.
    prof = _class_profiles(tiny_data)
    audio, _ = soundfile.read(wav, dtype="float32")
    first, second = _profile(audio[1600:14400]), _profile(audio[17600:30400])
    dist = lambda p, c: float(np.abs(p - prof[c]).mean())  # noqa: E731
    assert dist(first, "rain") < dist(first, "calm") and dist(second, "calm") < dist(second, "rain"), \
        {k: (dist(first, k), dist(second, k)) for k in ("rain", "calm")}
    # Picture: the same seed with rain throughout shows nearly the same frames until 1 s, then the
    # scene crossfades towards calm's.
    timed = decode_video(mp4).astype(np.float32)
    solo = decode_video(rain_clips["a"][0]).astype(np.float32)
    before = np.abs(timed[:FPS] - solo[:FPS]).mean()
    after = np.abs(timed[FPS + 5:] - solo[FPS + 5:]).mean()
    assert after > 3 * before + 1.0, (before, after)


@pytest.mark.parametrize("args, needle", [
    (["--text", "  "], "--text is empty"),
    (["--text", "rain", "--seconds", "0"], "--seconds"),
    (["--text", "0:rain;later:wind"], "TIME:TEXT"),
    (["--text", "1:rain;2:wind"], "start at 0"),
    (["--text", "0:rain;3:wind", "--seconds", "2"], "past the clip"),
    (["--text", "0:rain;0:wind"], "increase"),
    (["--text", "0:"], "no text"),
    (["--text", "rain", "--text-match", "closest"], "--text-match"),
])
def test_bad_input_is_one_clear_line(sound_bundle, tmp_path, args, needle):
    out = tmp_path / "x.mp4"
    assert_one_line_error(generate(*args, "--model", sound_bundle, "--out", out), needle)
    assert not out.exists()


def test_a_bundle_without_a_text_to_sound_model_is_one_clear_line(tiny_bundle, tmp_path):
    out = tmp_path / "x.mp4"
    assert_one_line_error(generate("--text", "rain", "--model", tiny_bundle, "--out", out), "no text-to-sound model")
    assert not out.exists()


def test_prompt_parsing():
    from livevis.commands.generate import parse_prompts, prompt_at

    assert [(s.start, s.text) for s in parse_prompts("heavy rain at night", 4)] == [(0.0, "heavy rain at night")]
    segs = parse_prompts("0:rain; 2.5: thunder over the sea;", 4)
    assert [(s.start, s.text) for s in segs] == [(0.0, "rain"), (2.5, "thunder over the sea")]
    assert [prompt_at(segs, t) for t in (0.0, 2.49, 2.5, 3.9)] == ["rain", "rain", "thunder over the sea", "thunder over the sea"]
    with pytest.raises(LivevisError):
        parse_prompts(None, 4)
