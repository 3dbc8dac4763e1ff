"""Bundle loading validation: config values are type-checked, and a config describing a network far
larger than its weights file is refused from a memory-free build, before anything is allocated."""

import json
import resource

import pytest

from livevis.errors import LivevisError
from livevis.models.bundle import load_bundle, save_bundle
from tests.rigs.tiny_parts import tiny_bundle


@pytest.fixture
def saved(tmp_path):
    return save_bundle(tiny_bundle(), tmp_path / "tiny.bundle")


def _edit(path, part, **values):
    doc = json.loads((path / "config.json").read_text())
    target = doc[part]["config"] if part != "audio" else doc["audio"]
    target.update(values)
    (path / "config.json").write_text(json.dumps(doc))


@pytest.mark.parametrize("part, values, message", [
    ("generator", {"z_dim": "32"}, r"z_dim must be int, got \"32\""),
    ("generator", {"w_dim": None}, "w_dim must be int, got null"),
    ("generator", {"w_dim": True}, "w_dim must be int, got true"),
    ("recurrent", {"num_ws": 2.5}, "num_ws must be int, got 2.5"),
    ("audio", {"window_seconds": float("nan")}, "window_seconds must be float, got NaN"),
    ("generator", {"img_resolution": 2**40}, "img_resolution must be int"),
])
def test_config_values_of_the_wrong_type_are_one_line_errors(saved, part, values, message):
    _edit(saved, part, **values)
    with pytest.raises(LivevisError, match=message):
        load_bundle(saved)


def test_a_config_far_larger_than_its_weights_is_refused_without_allocating(saved):
    # w_dim 200000 would be a 200000 x 200000 mapping layer: 160 GB of float32.
    _edit(saved, "generator", w_dim=200_000)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(LivevisError, match=r"generator.safetensors: tensor '.*' has shape \[.*\], expected \[.*200000"):
        load_bundle(saved)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200_000  # KiB: no big allocation


def test_a_config_with_far_more_layers_than_the_file_stops_early(saved):
    _edit(saved, "generator", mapping_layers=100_000)
    with pytest.raises(LivevisError, match="the config describes far more tensors than the file's"):
        load_bundle(saved)
