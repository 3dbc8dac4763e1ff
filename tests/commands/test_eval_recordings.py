"""`livevis eval --recordings DIR` and the independent judge's figures: the JSON contract end to end on
a tiny bundle, tiny data and two of the committed real recordings; folder and flag errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from livevis.cli import main
from tests.rigs.cli import assert_one_line_error, livevis
from tests.rigs.tiny_bundle import tiny_bundle  # noqa: F401 (fixture)
from tests.rigs.tiny_data import tiny_data  # noqa: F401 (fixture)

RECORDINGS = Path(__file__).resolve().parent.parent / "data" / "recordings"
OLD_KEYS = {"semantic_accuracy", "per_class", "sync_r", "clip_av", "clip_tv", "baseline", "clips"}
JUDGE_KEYS = {"semantic_accuracy", "per_class", "frechet", "frechet_real_vs_real"}
REC_KEYS = {"accuracy", "per_class", "baseline_accuracy", "files", "judge"}


@pytest.fixture(scope="module")
def two_recordings(tmp_path_factory) -> Path:
    """One committed real recording of rain and one of fire, in their class folders."""
    root = tmp_path_factory.mktemp("recordings")
    for label in ("rain", "fire_crackling"):
        first = sorted((RECORDINGS / label).glob("*.flac"))[0]
        (root / label).mkdir()
        shutil.copy(first, root / label / first.name)
    return root


def _eval_json(capsys, *argv) -> dict:
    code = main(["eval", *map(str, argv), "--json"])
    out = capsys.readouterr().out
    assert code == 0
    lines = out.strip().splitlines()
    assert len(lines) == 1, out
    return json.loads(lines[0])


def test_json_has_the_old_keys_the_judge_and_the_recordings(capsys, tiny_bundle, tiny_data, two_recordings):
    result = _eval_json(capsys, "--model", tiny_bundle, "--data", tiny_data, "--clips", 3,
                        "--recordings", two_recordings, "--seeds", 1)
    assert OLD_KEYS <= set(result)
    judge = result["judge"]
    assert JUDGE_KEYS <= set(judge) and 0 <= judge["semantic_accuracy"] <= 1 and len(judge["per_class"]) == 3
    assert judge["real_accuracy"] >= 0.5                    # the judge knows the real held-out frames
    assert judge["frechet_real_vs_real"] is None or judge["frechet_real_vs_real"] >= 0
    assert judge["classifier_semantic_accuracy"] == result["semantic_accuracy"]   # the old figure beside it
    assert judge["input_size"] == 32                        # 64 asked, the data's 32 px frames not upsampled
    rec = result["recordings"]
    assert REC_KEYS <= set(rec) and rec["judge"] == "cnn" and rec["files"] == 2 and rec["seeds"] == 1
    assert set(rec["per_class"]) == {"rain", "fire_crackling"}
    assert 0 <= rec["accuracy"] <= 1 and 0 <= rec["baseline_accuracy"] <= 1
    # The judge was cached beside the data: the second run reads it, same figures.
    again = _eval_json(capsys, "--model", tiny_bundle, "--data", tiny_data, "--clips", 3,
                       "--recordings", two_recordings, "--seeds", 1)
    assert again["judge"]["cached"] and again["recordings"]["accuracy"] == rec["accuracy"]
    assert {k: again["judge"][k] for k in JUDGE_KEYS} == {k: judge[k] for k in JUDGE_KEYS}


def test_judge_size_sets_the_judges_input_side(capsys, tiny_bundle, tiny_data):
    """--judge-size 16: a judge of its own (another cache entry) that sees 16 px frames."""
    small = _eval_json(capsys, "--model", tiny_bundle, "--data", tiny_data, "--clips", 3, "--judge-size", 16)
    full = _eval_json(capsys, "--model", tiny_bundle, "--data", tiny_data, "--clips", 3)
    assert small["judge"]["input_size"] == 16 and full["judge"]["input_size"] == 32
    assert small["judge"]["frechet"] != full["judge"]["frechet"]
    assert small["semantic_accuracy"] == full["semantic_accuracy"]     # the feature classifier is unchanged


def test_the_feature_classifier_can_judge_and_the_table_prints(capsys, tiny_bundle, tiny_data, two_recordings):
    result = _eval_json(capsys, "--model", tiny_bundle, "--data", tiny_data, "--recordings", two_recordings,
                        "--seeds", 1, "--judge", "features", "--no-judge", "--clips", 2)
    assert result["recordings"]["judge"] == "features" and "judge" not in result
    assert main(["eval", "--model", str(tiny_bundle), "--data", str(tiny_data), "--recordings", str(two_recordings),
                 "--seeds", "1", "--no-judge", "--clips", "2"]) == 0
    assert "livevis eval --recordings" in capsys.readouterr().out


def test_bad_recordings_are_one_line_errors(tmp_path, tiny_bundle, tiny_data, two_recordings):
    bad = tmp_path / "bad"
    shutil.copytree(two_recordings, bad)
    (bad / "rain").rename(bad / "drizzle")
    assert_one_line_error(livevis("eval", "--model", tiny_bundle, "--data", tiny_data, "--recordings", bad),
                          "drizzle name no class")
    assert_one_line_error(livevis("eval", "--model", tiny_bundle), "--data DATA")
    assert_one_line_error(livevis("eval", "--model", tiny_bundle, "--recordings", tmp_path / "none"), "no such folder")
    assert_one_line_error(livevis("eval", "--model", tiny_bundle, "--data", tiny_data, "--recordings", two_recordings,
                                  "--seeds", "0"), "--seeds")
    assert_one_line_error(livevis("eval", "--model", tiny_bundle, "--data", tiny_data, "--judge-size", "8"), "--judge-size")
    # A model without class names and no --data: nothing to learn the frames' classes from.
    assert_one_line_error(livevis("eval", "--model", tiny_bundle, "--recordings", two_recordings), "--data")
