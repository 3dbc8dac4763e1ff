"""Fuzzing bundles through livevis.models.bundle.load_bundle: corrupt safetensors headers, config values
of the wrong type or size, tensors of the wrong shape. Each gives a loaded bundle or one LivevisError
line, never another exception type or a hang."""

from __future__ import annotations

import json
import os
import shutil
import struct

import pytest
import torch

hypothesis = pytest.importorskip("hypothesis", reason="fuzzing needs hypothesis (the dev extra)")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from livevis.errors import LivevisError  # noqa: E402
from livevis.models.bundle import Bundle, load_bundle, save_bundle  # noqa: E402
from tests.rigs.tiny_parts import tiny_bundle  # noqa: E402

FUZZ = settings(max_examples=int(os.environ.get("LIVEVIS_FUZZ_EXAMPLES", "60")), derandomize=True, deadline=None,
                database=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture(scope="module")
def original(tmp_path_factory):
    return save_bundle(tiny_bundle(), tmp_path_factory.mktemp("fuzz-bundle") / "tiny.bundle")


@pytest.fixture
def copy(original, tmp_path):
    counter = iter(range(10**9))

    def make():
        dest = tmp_path / f"b{next(counter)}.bundle"
        shutil.copytree(original, dest)
        return dest
    return make


def check_load(path) -> None:
    try:
        bundle = load_bundle(path)
    except LivevisError as exc:
        text = str(exc)
        assert text and "\n" not in text and len(text) < 800, repr(text)
        return
    assert isinstance(bundle, Bundle)


def _config_fields(doc) -> list[tuple[str, ...]]:
    out = []
    for part in ("generator", "sound_encoder", "recurrent"):
        out += [(part, "config", k) for k in doc[part]["config"]]
    out += [("audio", k) for k in doc["audio"]]
    return out


JSON_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 3), st.sampled_from([0, -1, 10**9, 2**31, 2**63, 10**30, 7, 1024]),
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0.5, -0.5, 1e308, 1e-308]),
    st.text(max_size=5), st.lists(st.integers(-2, 2000), max_size=4), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


@FUZZ
@given(data=st.data())
def test_config_values_of_the_wrong_type_or_size(copy, data):
    path = copy()
    doc = json.loads((path / "config.json").read_text())
    field = data.draw(st.sampled_from(_config_fields(doc)))
    value = data.draw(JSON_VALUES)
    target = doc
    for key in field[:-1]:
        target = target[key]
    target[field[-1]] = value
    (path / "config.json").write_text(json.dumps(doc))
    check_load(path)


def _header(file) -> tuple[int, bytes, bytes]:
    raw = file.read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    return n, raw[8:8 + n], raw[8 + n:]


@FUZZ
@given(part=st.sampled_from(["generator", "sound_encoder", "recurrent"]),
       edits=st.lists(st.tuples(st.floats(0.0, 1.0), st.binary(min_size=1, max_size=6)), min_size=1, max_size=4),
       length=st.one_of(st.none(), st.sampled_from([0, 1, 7, 2**31, 2**63, 2**64 - 1]), st.integers(0, 4096)))
def test_corrupt_safetensors_headers(copy, part, edits, length):
    path = copy()
    file = path / f"{part}.safetensors"
    n, header, body = _header(file)
    header = bytearray(header)
    for where, junk in edits:
        at = int(where * (len(header) - 1))
        header[at:at + len(junk)] = junk
    declared = len(header) if length is None else length
    file.write_bytes(struct.pack("<Q", declared) + bytes(header) + body)
    check_load(path)


@FUZZ
@given(part=st.sampled_from(["generator", "sound_encoder", "recurrent"]), data=st.data())
def test_header_entries_that_lie_about_shape_dtype_or_offsets(copy, part, data):
    path = copy()
    file = path / f"{part}.safetensors"
    n, header, body = _header(file)
    doc = json.loads(header)
    name = data.draw(st.sampled_from(sorted(k for k in doc if k != "__metadata__")))
    entry = doc[name]
    what = data.draw(st.sampled_from(["shape", "dtype", "data_offsets"]))
    if what == "shape":
        entry["shape"] = data.draw(st.lists(st.sampled_from([0, 1, 3, 2**20, 2**40, -1]), max_size=4))
    elif what == "dtype":
        entry["dtype"] = data.draw(st.sampled_from(["F16", "I64", "BOOL", "U8", "F64", "X9", ""]))
    else:
        entry["data_offsets"] = data.draw(st.lists(st.sampled_from([0, 4, 2**40, -4, len(body), len(body) + 4]), min_size=0, max_size=3))
    header = json.dumps(doc).encode()
    file.write_bytes(struct.pack("<Q", len(header)) + header + body)
    check_load(path)


@FUZZ
@given(part=st.sampled_from(["generator", "sound_encoder", "recurrent"]), data=st.data())
def test_tensors_of_the_wrong_shape(copy, part, data):
    from safetensors.torch import load_file, save_file

    path = copy()
    file = path / f"{part}.safetensors"
    tensors = load_file(str(file))
    name = data.draw(st.sampled_from(sorted(tensors)))
    shape = data.draw(st.lists(st.integers(0, 5), max_size=4).filter(lambda s: tuple(s) != tuple(tensors[name].shape)))
    tensors[name] = torch.zeros(shape)
    save_file(tensors, str(file))
    with pytest.raises(LivevisError, match="has shape|dtype"):
        load_bundle(path)


def test_the_untouched_bundle_loads(original):
    assert isinstance(load_bundle(original), Bundle)
