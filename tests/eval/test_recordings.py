"""`livevis eval --recordings`: the folder contract, the bookkeeping on a constructed judge, and the
committed real recordings against their manifest."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from livevis.errors import LivevisError
from livevis.eval.recordings import evaluate_recordings, find_recordings
from livevis.models.bundle import load_bundle
from tests.rigs.tiny_bundle import tiny_bundle  # noqa: F401 (fixture)

RECORDINGS = Path(__file__).resolve().parent.parent / "data" / "recordings"
CLASSES = ["thunderstorm", "rain", "waterfall", "fire_crackling", "wind", "underwater_bubbling", "volcano",
           "splashing_water", "calm"]


def _tone(path: Path, seconds: float, rate: int = 16000) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * rate)) / rate
    sf.write(str(path), (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), rate)


def test_find_recordings_checks_the_folders(tmp_path):
    with pytest.raises(LivevisError, match="no such folder"):
        find_recordings(tmp_path / "missing", CLASSES)
    with pytest.raises(LivevisError, match="no wav/ogg/mp3/flac"):
        find_recordings(tmp_path, CLASSES)
    _tone(tmp_path / "rain" / "b.wav", 0.5)
    _tone(tmp_path / "rain" / "a.flac", 0.5)
    (tmp_path / "rain" / "notes.txt").write_text("not audio")
    _tone(tmp_path / "calm" / "c.ogg", 0.5)
    found = find_recordings(tmp_path, CLASSES)
    assert [(p.name, k) for p, k in found] == [("c.ogg", 8), ("a.flac", 1), ("b.wav", 1)]
    _tone(tmp_path / "lava" / "x.wav", 0.5)
    with pytest.raises(LivevisError, match="lava name no class"):
        find_recordings(tmp_path, CLASSES)


def test_accuracy_bookkeeping_with_a_constructed_judge(tmp_path, tiny_bundle):
    """A judge that always says the first class: every first-class frame is right, every other wrong,
    whatever the generator draws; frames per recording follow its length at the step rate."""
    bundle = load_bundle(tiny_bundle)
    names = CLASSES[:2]                              # the tiny bundle names no classes: given here
    _tone(tmp_path / names[0] / "a.wav", 1.0)        # 10 Hz steps: 10 - 1 = 9 frames per seed
    _tone(tmp_path / names[1] / "b.wav", 2.0)        # 19 frames per seed
    _tone(tmp_path / names[1] / "short.wav", 0.1)    # under two steps: skipped, and said so
    out = evaluate_recordings(bundle, tmp_path, lambda f: np.zeros(f.shape[0], np.int64), "features",
                              classes=CLASSES, seeds=2)
    assert out["files"] == 2 and out["skipped"] == [f"{names[1]}/short.wav"] and out["frames"] == 2 * (9 + 19)
    assert out["per_class"] == {names[0]: 1.0, names[1]: 0.0}          # classes without files left out
    assert out["accuracy"] == pytest.approx(9 / 28) and out["baseline_accuracy"] == pytest.approx(9 / 28)
    assert out["per_file"] == {f"{names[0]}/a.wav": 1.0, f"{names[1]}/b.wav": 0.0}
    assert out["predicted_share"][names[0]] == 1.0 and out["judge"] == "features" and out["seeds"] == 2


def test_the_committed_recordings_match_their_manifest():
    rows = [line.split("|")[1:-1] for line in (RECORDINGS / "MANIFEST.md").read_text().splitlines()
            if line.startswith("| ") and not line.startswith("| package")]
    listed = {}
    for package, file, licence, label, used, excerpt, *_ in (map(str.strip, r) for r in rows):
        assert label in CLASSES and used in {"tuning", "test", "not used in training"}
        assert re.match(r"^(GPL|CC|LGPL)", licence), licence
        assert excerpt.startswith(f"{label}/") and package and file.startswith("/usr/share/")
        listed[excerpt] = label
    on_disk = {str(p.relative_to(RECORDINGS)) for p in RECORDINGS.rglob("*.flac")}
    assert on_disk == set(listed) and len(on_disk) >= 16
    for rel in on_disk:
        info = sf.info(str(RECORDINGS / rel))
        assert info.samplerate == 22050 and info.channels == 1 and 1.9 <= info.duration <= 6.01
    found = find_recordings(RECORDINGS, CLASSES)
    assert {CLASSES[k] for _, k in found} == set(CLASSES) - {"underwater_bubbling"}
