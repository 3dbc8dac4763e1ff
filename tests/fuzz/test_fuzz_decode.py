"""Fuzzing what users load: damaged audio and video files through livevis.audio.decode.

Every input must give a valid decode (finite float32 [N]) or one LivevisError line, never another
exception type, crash or hang. Deterministic (derandomized hypothesis, bounded example counts);
the pytest timeout catches a hang.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis", reason="fuzzing needs hypothesis (the dev extra)")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from livevis.audio.decode import load_audio  # noqa: E402
from livevis.errors import LivevisError  # noqa: E402
from tests.audio.media_files import write_audio  # noqa: E402

# LIVEVIS_FUZZ_EXAMPLES=2000 for a longer hunt; the default keeps each test to a few seconds.
FUZZ = settings(max_examples=int(os.environ.get("LIVEVIS_FUZZ_EXAMPLES", "80")), derandomize=True, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
RATE = 16000


@pytest.fixture(scope="module")
def originals(tmp_path_factory) -> dict[str, bytes]:
    """Small valid files of each container the decoder is asked to read."""
    folder = tmp_path_factory.mktemp("fuzz-media")
    t = np.arange(int(0.3 * 22050)) / 22050
    tone = 0.3 * np.sin(2 * np.pi * 440 * t)
    out = {}
    for ext in (".wav", ".flac", ".ogg", ".mp3", ".m4a"):
        rate = 48000 if ext == ".ogg" else 22050
        samples = tone if ext != ".ogg" else 0.3 * np.sin(2 * np.pi * 440 * np.arange(int(0.3 * rate)) / rate)
        out[ext] = write_audio(folder / f"a{ext}", samples, rate).read_bytes()
    out[".mp4"] = write_audio(folder / "v.mp4", tone, 22050, video=True).read_bytes()
    return out


def check_decode(path: Path) -> None:
    """The property: a valid decode or one clear LivevisError line."""
    try:
        samples = load_audio(path, RATE)
    except LivevisError as exc:
        text = str(exc)
        assert text and "\n" not in text and len(text) < 400, repr(text)
        return
    assert samples.dtype == np.float32 and samples.ndim == 1 and samples.size > 0
    assert np.isfinite(samples).all()


EXTS = st.sampled_from([".wav", ".flac", ".ogg", ".mp3", ".m4a", ".mp4"])


@FUZZ
@given(ext=EXTS, cut=st.floats(0.0, 1.0))
def test_truncated_files(originals, tmp_path, ext, cut):
    data = originals[ext]
    path = tmp_path / f"cut{ext}"
    path.write_bytes(data[: int(len(data) * cut)])
    check_decode(path)


@FUZZ
@given(ext=EXTS, edits=st.lists(st.tuples(st.floats(0.0, 1.0), st.binary(min_size=1, max_size=16)), min_size=1, max_size=8))
def test_bytes_corrupted_at_random_offsets(originals, tmp_path, ext, edits):
    data = bytearray(originals[ext])
    for where, junk in edits:
        at = int(where * (len(data) - 1))
        data[at:at + len(junk)] = junk
    path = tmp_path / f"bad{ext}"
    path.write_bytes(bytes(data))
    check_decode(path)


@FUZZ
@given(ext=EXTS, keep=st.integers(4, 200), garbage=st.binary(min_size=0, max_size=4096))
def test_valid_header_then_garbage(originals, tmp_path, ext, keep, garbage):
    path = tmp_path / f"hdr{ext}"
    path.write_bytes(originals[ext][:keep] + garbage)
    check_decode(path)


def _wav(rate: int, channels: int, bits: int, frames: bytes, data_size: int | None = None) -> bytes:
    block = channels * max(bits // 8, 1)
    size = len(frames) if data_size is None else data_size
    fmt = struct.pack("<HHIIHH", 1, channels, rate, (rate * block) & 0xFFFFFFFF, block & 0xFFFF, bits)
    return (b"RIFF" + struct.pack("<I", (36 + size) & 0xFFFFFFFF) + b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt
            + b"data" + struct.pack("<I", size & 0xFFFFFFFF) + frames)


@FUZZ
@given(rate=st.one_of(st.sampled_from([0, 1, 2, 7, 100, 999, 8000, 96001, 192000, 2**31 - 1, 2**32 - 1]),
                      st.integers(0, 2**32 - 1)),
       channels=st.sampled_from([0, 1, 2, 3, 255, 65535]), bits=st.sampled_from([0, 8, 16, 24, 32, 7, 64]),
       declared=st.one_of(st.none(), st.sampled_from([0, 1, 2**31, 2**32 - 1])),
       payload=st.binary(min_size=0, max_size=2048))
def test_wav_headers_with_absurd_fields(tmp_path, rate, channels, bits, declared, payload):
    path = tmp_path / "absurd.wav"
    path.write_bytes(_wav(rate, channels, bits, payload, declared))
    check_decode(path)


def test_zero_length_and_header_only_files(originals, tmp_path):
    for ext, data in originals.items():
        empty = tmp_path / f"empty{ext}"
        empty.write_bytes(b"")
        with pytest.raises(LivevisError, match="empty"):
            load_audio(empty, RATE)
    header_only = tmp_path / "nodata.wav"
    header_only.write_bytes(_wav(22050, 1, 16, b""))
    with pytest.raises(LivevisError):
        load_audio(header_only, RATE)


def test_absurdly_low_sample_rate_is_refused_before_decoding(tmp_path):
    # 1 Hz audio resampled to 16 kHz would be 16000x the file's size in memory.
    path = tmp_path / "slow.wav"
    path.write_bytes(_wav(1, 1, 16, b"\x00\x01" * 4000))
    with pytest.raises(LivevisError, match=r"is 1 Hz; livevis reads files from"):
        load_audio(path, RATE)
