"""Fuzzing NVlabs network pickles through the restricted unpickler: random opcode streams and damaged
snapshots give a load or one LivevisError line, never another exception, a hang or a changed torch."""

from __future__ import annotations

import io
import os
import pickle
import pickletools

import pytest
import torch

hypothesis = pytest.importorskip("hypothesis", reason="fuzzing needs hypothesis (the dev extra)")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from livevis.errors import LivevisError  # noqa: E402
from livevis.models.nvlabs_pickle import load_nvlabs_pickle, read_network_pickle  # noqa: E402
from tests.models.nvlabs_standin import nvlabs_kwargs_for, write_network_pickle  # noqa: E402

FUZZ = settings(max_examples=int(os.environ.get("LIVEVIS_FUZZ_EXAMPLES", "150")), derandomize=True, deadline=None,
                database=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

# Globals a file may name (allowed and refused), so random streams reach the interesting code.
GLOBALS = [b"torch._utils\n_rebuild_tensor_v2\n", b"torch._utils\n_rebuild_parameter\n", b"torch._utils\n_rebuild_tensor\n",
           b"torch.storage\n_load_from_bytes\n", b"collections\nOrderedDict\n", b"torch_utils.persistence\n_reconstruct_persistent_obj\n",
           b"numpy\ndtype\n", b"numpy.core.multiarray\n_reconstruct\n", b"numpy.core.multiarray\nscalar\n", b"numpy\nndarray\n",
           b"builtins\nset\n", b"torch\nSize\n", b"torch\nfloat32\n", b"_codecs\nencode\n", b"dnnlib\nEasyDict\n",
           b"builtins\ngetattr\n", b"os\nsystem\n", b"torch\nload\n"]

_ARGLESS = [op.code.encode("latin1") for op in pickletools.opcodes if op.arg is None and op.code not in ".\x80"]

_PIECE = st.one_of(
    st.sampled_from(_ARGLESS),
    st.builds(lambda g: b"c" + g, st.sampled_from(GLOBALS)),
    st.builds(lambda n: b"K" + bytes([n]), st.integers(0, 255)),                          # BININT1
    st.builds(lambda n: b"J" + n.to_bytes(4, "little", signed=True), st.integers(-2**31, 2**31 - 1)),  # BININT
    st.builds(lambda n: b"\x8a\x08" + n.to_bytes(8, "little", signed=True), st.integers(-2**63, 2**63 - 1)),  # LONG1
    st.builds(lambda b: b"C" + bytes([len(b)]) + b, st.binary(max_size=40)),               # SHORT_BINBYTES
    st.builds(lambda b: b"\x8c" + bytes([len(b)]) + b, st.text(max_size=12).map(lambda t: t.encode()[:200])),  # SHORT_BINUNICODE
    st.builds(lambda n: b"q" + bytes([n]), st.integers(0, 8)),                             # BINPUT
    st.builds(lambda n: b"h" + bytes([n]), st.integers(0, 8)),                             # BINGET
    st.builds(lambda n: b"B" + n.to_bytes(4, "little"), st.integers(0, 2**32 - 1)),        # BINBYTES with a length
    st.builds(lambda n: b"\x95" + n.to_bytes(8, "little"), st.integers(0, 2**64 - 1)),     # FRAME
)


def check_read(path) -> None:
    try:
        data = read_network_pickle(path)
    except LivevisError as exc:
        assert str(exc) and "\n" not in str(exc) and len(str(exc)) < 600, repr(str(exc))
        return
    assert isinstance(data, dict)


@pytest.fixture(scope="module")
def torch_state():
    """What a file must never change: the weights-only loader's view of ones(3) and torch's rebuild defaults."""
    return torch._utils._rebuild_tensor_v2.__defaults__


def _torch_unchanged(defaults) -> None:
    assert torch._utils._rebuild_tensor_v2.__defaults__ == defaults
    buf = io.BytesIO()
    torch.save(torch.ones(3), buf)
    buf.seek(0)
    assert torch.equal(torch.load(buf, weights_only=True), torch.ones(3))


@FUZZ
@given(pieces=st.lists(_PIECE, max_size=40), proto=st.sampled_from([2, 4, 5]))
def test_random_opcode_streams(tmp_path, torch_state, pieces, proto):
    path = tmp_path / "random.pkl"
    path.write_bytes(b"\x80" + bytes([proto]) + b"".join(pieces) + b".")
    check_read(path)
    _torch_unchanged(torch_state)


@pytest.fixture(scope="module")
def snapshot_bytes(tmp_path_factory) -> bytes:
    from tests.models.test_nvlabs_pickle import seeded_generator

    G = seeded_generator()
    path = write_network_pickle(tmp_path_factory.mktemp("snap") / "s.pkl", G, nvlabs_kwargs_for(G.config))
    return path.read_bytes()


@FUZZ
@given(edits=st.lists(st.tuples(st.floats(0.0, 1.0), st.binary(min_size=1, max_size=8)), min_size=1, max_size=6),
       cut=st.one_of(st.none(), st.floats(0.0, 1.0)))
def test_damaged_snapshots(tmp_path, torch_state, snapshot_bytes, edits, cut):
    data = bytearray(snapshot_bytes)
    for where, junk in edits:
        at = int(where * (len(data) - 1))
        data[at:at + len(junk)] = junk
    if cut is not None:
        data = data[: int(len(data) * cut)]
    path = tmp_path / "damaged.pkl"
    path.write_bytes(bytes(data))
    try:
        generator = load_nvlabs_pickle(path)
    except LivevisError as exc:
        assert str(exc) and "\n" not in str(exc), repr(str(exc))
    else:
        assert isinstance(generator, torch.nn.Module)
    _torch_unchanged(torch_state)


def test_the_undamaged_snapshot_loads(tmp_path, snapshot_bytes):
    path = tmp_path / "ok.pkl"
    path.write_bytes(snapshot_bytes)
    assert isinstance(load_nvlabs_pickle(path), torch.nn.Module)
    assert pickle.loads  # the stdlib is untouched by our unpickler subclass
