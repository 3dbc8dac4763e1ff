"""--out-size / --fit / --upscaler on run, render and bench: recordings and renders at the output size,
bundles with and without a learned upscaler, and one-line errors for bad values."""

from __future__ import annotations

import numpy as np
import pytest

from livevis.audio.synth import make_signal
from tests.audio.media_files import write_audio
from tests.rigs.cli import assert_one_line_error, livevis
from tests.rigs.media import decode_video
from tests.rigs.tiny_bundle import make_tiny_bundle, tiny_bundle  # noqa: F401 - fixture

SR = 16000


@pytest.fixture(scope="module")
def short_wav(tmp_path_factory):
    return write_audio(tmp_path_factory.mktemp("audio") / "noise.wav", make_signal("noise", 0.6, SR, seed=2), SR)


@pytest.fixture(scope="module")
def upscaler_bundle(tmp_path_factory):
    """The tiny bundle with an (untrained) x2 learned upscaler part."""
    from livevis.models import factory
    from livevis.training.stages.upscaler import write_into_bundle

    path = make_tiny_bundle(tmp_path_factory.mktemp("bundles") / "up.bundle", seed=1)
    write_into_bundle(factory.build("upscaler", factory.load_preset("upscaler-tiny")[1]), path)
    return path


@pytest.mark.parametrize("size", [None, "1280x720"])
def test_render_writes_the_output_size(tiny_bundle, short_wav, tmp_path, size):
    out = tmp_path / "r.mp4"
    flags = [] if size is None else ["--out-size", size]
    proc = livevis("render", short_wav, "--out", out, "--model", tiny_bundle, "--fps", 10, *flags)
    assert proc.returncode == 0, proc.stderr
    frames = decode_video(out)
    assert frames.shape[1:3] == ((1080, 1920) if size is None else (720, 1280))  # default 1920x1080
    assert frames.std() > 1.0
    assert "upscaler lanczos" in proc.stderr  # auto without a learned upscaler in the bundle


def test_headless_run_records_at_the_output_size(tiny_bundle, short_wav, tmp_path):
    for size, want in (("1280x720", (720, 1280)), ("1920x1080", (1080, 1920))):
        out = tmp_path / f"{size}.mp4"
        proc = livevis("run", "--input", short_wav, "--headless", "--seconds", 1, "--fps", 10, "--record", out,
                       "--model", tiny_bundle, "--out-size", size, "--fit", "contain", "--upscaler", "none")
        assert proc.returncode == 0, proc.stderr
        frames = decode_video(out)
        assert frames.shape[1:3] == want
        # contain: a square picture between black bars left and right
        bar = (want[1] - want[0]) // 2
        assert frames[:, :, : bar - 4].max() <= 16 and frames[:, :, bar + 4 : -bar - 4].std() > 1.0


def test_bundle_with_a_learned_upscaler_renders_through_it(upscaler_bundle, tiny_bundle, short_wav, tmp_path):
    out = tmp_path / "learned.mp4"
    proc = livevis("render", short_wav, "--out", out, "--model", upscaler_bundle, "--fps", 10, "--out-size", "128x72",
                   "--upscaler", "learned")
    assert proc.returncode == 0, proc.stderr
    assert "upscaler learned" in proc.stderr and decode_video(out).shape[1:3] == (72, 128)
    # A bundle without one: auto plays with lanczos, learned is one clear line.
    assert_one_line_error(livevis("render", short_wav, "--out", tmp_path / "x.mp4", "--model", tiny_bundle,
                                  "--upscaler", "learned"), "no upscaler")


@pytest.mark.parametrize("flags, needle", [
    (["--out-size", "0x0"], "--out-size"),
    (["--out-size", "13x7"], "--out-size"),
    (["--out-size", "1281x720"], "even"),
    (["--out-size", "wide"], "WIDTHxHEIGHT"),
    (["--fit", "bogus"], "--fit"),
    (["--upscaler", "magic"], "--upscaler"),
])
def test_bad_output_options_are_one_line_errors(short_wav, tmp_path, flags, needle):
    assert_one_line_error(livevis("run", "--input", "synth:sine", "--headless", "--seconds", 1, *flags), needle)
    assert_one_line_error(livevis("render", short_wav, "--out", tmp_path / "x.mp4", *flags), needle)
    assert not (tmp_path / "x.mp4").exists()


def test_bench_reports_the_output_size_and_upscaler(tiny_bundle):
    import json

    proc = livevis("bench", "--model", tiny_bundle, "--frames", 10, "--warmup", 2, "--out-size", "320x180",
                   "--upscaler", "lanczos", "--json")
    assert proc.returncode == 0, proc.stderr
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    assert r["out_size"] == [320, 180] and r["upscaler"] == "lanczos" and r["size"] == 32
    assert r["stages_ms"]["upscale"]["median"] == 0.0 and r["fps"] > 0
    assert_one_line_error(livevis("bench", "--model", tiny_bundle, "--out-size", "0x0"), "--out-size")
