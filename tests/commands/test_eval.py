"""`livevis eval`: the JSON contract end to end on a tiny bundle and tiny data, the table, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from livevis.cli import main
from livevis.models.bundle import load_bundle, save_bundle
from livevis.models.clip import ClipSpace, tiny_clip_config
from tests.rigs.cli import assert_one_line_error, livevis
from tests.rigs.tiny_bundle import tiny_bundle  # noqa: F401 (fixture)
from tests.rigs.tiny_data import tiny_data  # noqa: F401 (fixture)

KEYS = {"semantic_accuracy", "per_class", "sync_r", "clip_av", "clip_tv", "baseline", "clips"}


@pytest.fixture(scope="module")
def clip_bundle(tiny_bundle, tmp_path_factory):
    """The tiny bundle plus a tiny CLIP as wide as its sound encoder's embedding (so a <-> v exists)."""
    bundle = load_bundle(tiny_bundle)
    torch.manual_seed(0)
    bundle.clip = ClipSpace.from_config(tiny_clip_config(embed_dim=bundle.sound_encoder.config.embed_dim, image_size=32))
    bundle.config["clip"] = {"kind": "open_clip_config"}
    return save_bundle(bundle, tmp_path_factory.mktemp("eval") / "clip.bundle")


def _eval_json(capsys, *argv) -> dict:
    code = main(["eval", *map(str, argv), "--json"])
    out = capsys.readouterr().out
    assert code == 0
    lines = out.strip().splitlines()
    assert len(lines) == 1, out                       # exactly one object on stdout
    return json.loads(lines[0])


def test_json_contract_on_a_tiny_bundle(capsys, tiny_bundle, tiny_data):
    result = _eval_json(capsys, "--model", tiny_bundle, "--data", tiny_data, "--clips", 9)
    assert KEYS <= set(result) and set(result["baseline"]) >= {"semantic_accuracy", "sync_r"}
    assert result["clips"] == 9 and result["chance"] == pytest.approx(1 / 9)
    assert len(result["per_class"]) == 9                      # balanced: one held-out clip per class
    for value in (result["semantic_accuracy"], result["baseline"]["semantic_accuracy"], *result["per_class"].values()):
        assert 0.0 <= value <= 1.0
    for value in (result["sync_r"], result["baseline"]["sync_r"]):
        assert value is None or -1.0 <= value <= 1.0
    assert result["clip_av"] is None and result["clip_tv"] is None and "no CLIP" in result["notes"][0]
    assert result["classifier_real_accuracy"] >= 0.9        # the classifier knows the real classes
    # Deterministic: the same seed gives the same figures.
    again = _eval_json(capsys, "--model", tiny_bundle, "--data", tiny_data, "--clips", 9)
    assert {k: again[k] for k in KEYS} == {k: result[k] for k in KEYS}


def test_clip_similarities_and_the_table(capsys, clip_bundle, tiny_data):
    result = _eval_json(capsys, "--model", clip_bundle, "--data", tiny_data, "--clips", 3, "--seed", 1)
    assert result["clips"] == 3
    assert -1.0 <= result["clip_av"] <= 1.0 and -1.0 <= result["clip_tv"] <= 1.0
    assert main(["eval", "--model", str(clip_bundle), "--data", str(tiny_data), "--clips", "2"]) == 0
    table = capsys.readouterr().out
    assert "semantic accuracy" in table and "random walk" in table and "CLIP a<->v" in table


def test_grid_shows_each_class_real_then_sound_driven_then_random_walk(capsys, tiny_bundle, tiny_data, tmp_path):
    from PIL import Image

    out = tmp_path / "grid.png"
    result = _eval_json(capsys, "--model", tiny_bundle, "--data", tiny_data, "--clips", 3, "--grid", out)
    img = np.asarray(Image.open(out))
    R = load_bundle(tiny_bundle).generator.img_resolution
    steps = result["frames_per_clip"]
    cols = 1 + (steps + 1) // 2                               # a real frame, then every other step
    assert img.shape == (3 * 2 * R, cols * R, 3)              # 3 classes x (sound row, random-walk row)
    first_real = img[:R, :R].astype(float)
    assert (first_real == img[R:2 * R, :R]).all()             # both rows of a class start from the same real frame
    assert not (img[:R, R:] == img[R:2 * R, R:]).all()        # sound and random walk draw different frames
    assert_one_line_error(livevis("eval", "--model", tiny_bundle, "--data", tiny_data, "--grid", tmp_path / "no/such.png"),
                          "no such folder")


def test_bad_input_is_a_one_line_error(tmp_path, tiny_bundle, tiny_data):
    assert_one_line_error(livevis("eval", "--model", tiny_bundle, "--data", tmp_path / "nothing"), "no dataset")
    assert_one_line_error(livevis("eval", "--model", tiny_bundle, "--data", tiny_data, "--clips", "0"), "--clips")
    from tests.rigs.tiny_parts import tiny_bundle as parts_bundle

    generator_only = save_bundle(parts_bundle(generator_only=True), tmp_path / "gen.bundle")
    assert_one_line_error(livevis("eval", "--model", generator_only, "--data", tiny_data), "generator only")
