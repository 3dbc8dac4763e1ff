"""The live modules of a real (tiny) bundle: shapes, and the export TensorRT would start from."""

import pytest
import torch

from livevis.engines.backends.tensorrt import export_for_tensorrt
from livevis.engines.engine import as_flat
from livevis.engines.live import live_modules
from livevis.models.bundle import load_bundle
from tests.rigs.engines import tiny_bundle


@pytest.fixture(scope="module")
def parts(tmp_path_factory):
    bundle = load_bundle(tiny_bundle(tmp_path_factory.mktemp("bundle") / "tiny"), load_clip=False)
    return {p.name: p for p in live_modules(bundle)}


def test_live_modules_and_their_inputs(parts):
    assert list(parts) == ["sound_encoder", "recurrent", "synthesis"]
    (mel,) = parts["sound_encoder"].inputs
    assert mel.shape == (1, 80, 59) and -60 < mel.mean() < -20  # dB-like
    ws, hidden, offset = parts["recurrent"].inputs
    assert ws.shape == offset.shape == (1, 10, 64) and hidden.shape == (1, 3, 32) and not hidden.any()
    emb, w_offset = parts["sound_encoder"].module(mel)
    assert emb.shape == (1, 64) and w_offset.shape == (1, 10, 64)
    assert parts["synthesis"].module(*parts["synthesis"].inputs).shape == (1, 3, 64, 64)


@pytest.mark.parametrize("name", ["sound_encoder", "recurrent", "synthesis"])
def test_real_modules_export_whole_for_tensorrt(parts, name):
    part = parts[name]
    exported = export_for_tensorrt(part.module, part.inputs)
    with torch.no_grad():
        want, got = as_flat(part.module(*part.inputs)), as_flat(exported.module()(*part.inputs))
    assert len(want) == len(got) and all(torch.allclose(a, b, atol=1e-5) for a, b in zip(want, got))
    assert all(n.op != "call_module" for n in exported.graph.nodes)
