"""scripts/extract_recordings.py and the folders it writes: tests/data/recordings (the test set, only
measured), tests/data/recordings-val (the validation set, for choosing settings) and the training set
(built into build/real-sounds, not committed: only its list is checked). The committed folders are
checked against their manifests and against each other; the extraction itself runs on a small .deb
built here (a plain sound file and one inside a zip archive), so no network."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from livevis.training.data.synthetic import CLASSES

ROOT = Path(__file__).resolve().parents[2]
TEST_SET = ROOT / "tests" / "data" / "recordings"
VAL_SET = ROOT / "tests" / "data" / "recordings-val"
COLUMNS = ["package", "file", "licence", "label", "used", "excerpt", "seconds", "origin"]


def _script():
    spec = importlib.util.spec_from_file_location("extract_recordings", ROOT / "scripts" / "extract_recordings.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module        # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


er = _script()


def _rows(folder: Path) -> list[dict[str, str]]:
    lines = (folder / "MANIFEST.md").read_text().splitlines()
    rows = [dict(zip(COLUMNS, map(str.strip, line.split("|")[1:-1])))
            for line in lines if line.startswith("| ") and not line.startswith("| package")]
    assert rows and all(len(r) == len(COLUMNS) for r in rows)
    return rows


def _seconds(row: dict[str, str]) -> float:
    return float(row["seconds"].split("+")[1])


def test_the_validation_manifest_lists_every_file_in_the_folder_and_no_other():
    listed = [r["excerpt"] for r in _rows(VAL_SET)]
    on_disk = sorted(str(p.relative_to(VAL_SET)) for p in VAL_SET.rglob("*") if p.is_file() and p.name != "MANIFEST.md")
    assert sorted(listed) == on_disk and len(set(listed)) == len(listed)
    assert all(name.endswith(".flac") for name in on_disk)


@pytest.mark.parametrize("folder", [TEST_SET, VAL_SET], ids=["test", "validation"])
def test_each_file_decodes_to_mono_22050_hz_of_its_listed_length_and_is_heard(folder):
    """Audible too: the test set's stormbolts excerpt was the silence between two storms until 2026-12."""
    for row in _rows(folder):
        audio, rate = sf.read(str(folder / row["excerpt"]), dtype="float32")
        assert rate == 22050 and audio.ndim == 1, row["excerpt"]
        assert abs(len(audio) / rate - _seconds(row)) <= 0.05, row["excerpt"]
        assert np.sqrt(np.mean(audio**2)) > er.MIN_RMS, f"{row['excerpt']} is (nearly) silent"
    assert sum(f.stat().st_size for f in folder.rglob("*")) < 4_000_000


def test_labels_are_classes_and_every_validation_row_is_for_tuning_only():
    for folder, use in ((VAL_SET, "tuning"), (TEST_SET, "test")):
        for row in _rows(folder):
            assert row["label"] in CLASSES, row
            assert row["excerpt"].startswith(row["label"] + "/") and row["used"] == use, row
            assert row["licence"].startswith(("GPL", "LGPL", "CC")), row
    text = (VAL_SET / "MANIFEST.md").read_text()
    assert "choose training" in text and "never reported" in text


def test_no_source_file_is_in_both_sets():
    test_files = {(r["package"], r["file"]) for r in _rows(TEST_SET)}
    val_files = {(r["package"], r["file"]) for r in _rows(VAL_SET)}
    assert not test_files & val_files
    assert er.shared_sources(er.SOURCES, er.VALIDATION_SOURCES) == []
    assert er.shared_sources(er.SOURCES, [er.SOURCES[3]]) == [f"{er.SOURCES[3].package}:/{er.SOURCES[3].path}"]


def test_the_training_list_shares_no_source_with_the_other_sets_and_labels_are_classes():
    train = er.TRAIN_SOURCES
    assert er.overlaps() == []
    assert er.shared_sources(er.SOURCES, train) == [] and er.shared_sources(er.VALIDATION_SOURCES, train) == []
    committed = {(r["package"], r["file"]) for folder in (TEST_SET, VAL_SET) for r in _rows(folder)}
    assert not committed & {(s.package, er.source_file(s)) for s in train}
    assert not set(er.TRAIN_EXCLUDED) & {(s.package, er.source_file(s)) for s in train}
    assert all(s.label in CLASSES and s.use == "training" for s in train)
    assert all(s.licence.startswith(("GPL", "LGPL", "CC", "GFDL")) and 0 < s.duration <= 20 for s in train)
    names = [f"{s.label}/{er.output_name(s)}" for s in train]
    assert len(set(names)) == len(names)                     # megaglest's tilesets share stems: renamed
    assert "rain/megaglest-data--birch_forest-rain.flac" in names and "rain/megaglest-data--desert2-rain.flac" in names
    assert {s.label for s in train} == set(CLASSES) - set(er.TRAIN_MISSING)
    assert er.SETS["train"].out == ROOT / "build" / "real-sounds"


@pytest.mark.parametrize("other, name", [("SOURCES", "test"), ("VALIDATION_SOURCES", "validation")])
def test_a_training_source_shared_with_another_set_is_refused_before_any_download(tmp_path, monkeypatch, other, name):
    monkeypatch.setattr(er, "TRAIN_SOURCES", er.TRAIN_SOURCES + [getattr(er, other)[-1]])
    with pytest.raises(SystemExit, match=f"in both the {name} and the training set"):
        er.main(["--set", "train", "--out", str(tmp_path / "out"), "--debs", str(tmp_path / "no-debs")])
    assert not (tmp_path / "no-debs").exists() and not (tmp_path / "out").exists()


def test_a_training_file_known_to_be_a_test_recording_is_refused(tmp_path, monkeypatch):
    redeclipse_lava2 = er.Source("redeclipse-data", f"{er.RE}/lava2.ogg", "CC-BY-SA-3.0", "volcano", 0, 2, "x", "training")
    monkeypatch.setattr(er, "TRAIN_SOURCES", er.TRAIN_SOURCES + [redeclipse_lava2])
    assert er.overlaps() == [f"training files that are the same recording as a test or validation file: "
                             f"['redeclipse-data:/{er.RE}/lava2.ogg']"]
    with pytest.raises(SystemExit, match="same recording"):
        er.main(["--set", "train", "--out", str(tmp_path / "out"), "--debs", str(tmp_path / "no-debs")])


@pytest.mark.parametrize("which, folder", [("test", TEST_SET), ("validation", VAL_SET)])
def test_the_script_rewrites_each_committed_manifest_byte_for_byte(tmp_path, which, folder):
    """The script's lists are what the folders hold: the manifest written from them (with the lengths
    of the committed files) is the committed one; the test set's is unchanged by the second set."""
    recording_set = er.SETS[which]
    rows = [(src, er.output_name(src), sf.info(str(folder / src.label / er.output_name(src))).frames / er.SAMPLE_RATE)
            for src in recording_set.sources]
    er.write_manifest(tmp_path, rows, recording_set)
    assert (tmp_path / "MANIFEST.md").read_bytes() == (folder / "MANIFEST.md").read_bytes()
    assert recording_set.out == folder


def test_sets_share_a_source_refused_before_any_download(tmp_path, monkeypatch):
    monkeypatch.setattr(er, "VALIDATION_SOURCES", er.VALIDATION_SOURCES + [er.SOURCES[0]])
    with pytest.raises(SystemExit, match="in both the test and the validation set"):
        er.main(["--set", "validation", "--out", str(tmp_path / "out"), "--debs", str(tmp_path / "no-debs")])
    assert not (tmp_path / "no-debs").exists() and not (tmp_path / "out").exists()


def _build_deb(root: Path, package: str, arch: str, debs: Path) -> None:
    (root / "DEBIAN").mkdir(parents=True, exist_ok=True)
    (root / "DEBIAN" / "control").write_text(f"Package: {package}\nVersion: 1.0\nArchitecture: {arch}\n"
                                             "Maintainer: t <t@example.org>\nDescription: test\n")
    subprocess.run(["dpkg-deb", "--root-owner-group", "--build", str(root), str(debs / f"{package}_1.0_{arch}.deb")],
                   check=True, capture_output=True)


def _fake_deb(tmp_path: Path) -> Path:
    """A .deb holding a 44.1 kHz stereo wav and a zip archive with a 48 kHz mono wav inside."""
    root = tmp_path / "pkg"
    share = root / "usr" / "share" / "games" / "fake"
    share.mkdir(parents=True)
    t = np.arange(3 * 44100) / 44100
    ramp = np.stack([t / 3, t / 3], axis=1).astype(np.float32) * 0.5                 # [N, 2]: level = time / 6
    sf.write(str(share / "ramp.wav"), ramp, 44100, subtype="FLOAT")
    sf.write(str(tmp_path / "tone.wav"), 0.25 * np.sin(2 * np.pi * 440 * np.arange(48000 * 2) / 48000), 48000)
    with zipfile.ZipFile(share / "data.zip", "w") as zf:
        zf.write(tmp_path / "tone.wav", "audio/tone.wav")
    debs = tmp_path / "debs"
    debs.mkdir()
    _build_deb(root, "livevis-fake-data", "all", debs)
    return debs


@pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="needs dpkg-deb (Debian)")
def test_extraction_of_plain_and_zipped_sounds_from_a_local_deb(tmp_path, monkeypatch):
    debs = _fake_deb(tmp_path)
    share = "usr/share/games/fake"
    sources = [
        er.Source("livevis-fake-data", f"{share}/ramp.wav", "CC0", "rain", 1.0, 1.5, "test", "tuning"),
        er.Source("livevis-fake-data", f"{share}/data.zip", "GPL-2+", "calm", 0.5, 6.0, "test", "tuning", "audio/tone.wav"),
    ]
    monkeypatch.setitem(er.SETS, "validation", er.RecordingSet(sources, tmp_path / "default-out", {"wind": "none"}, ["# t"]))
    assert er.main(["--set", "validation", "--out", str(tmp_path / "out"), "--debs", str(debs)]) == 0
    out = tmp_path / "out"
    ramp, rate = sf.read(str(out / "rain" / "livevis-fake-data--ramp.flac"), dtype="float32")
    assert rate == 22050 and ramp.ndim == 1 and len(ramp) == int(1.5 * 22050)
    assert ramp[100] == pytest.approx(1.0 / 6, abs=2e-3) and ramp[-100] == pytest.approx(2.5 / 6, abs=2e-3)  # from 1 s on
    tone, rate = sf.read(str(out / "calm" / "livevis-fake-data--tone.flac"), dtype="float32")
    assert rate == 22050 and abs(len(tone) / rate - 1.5) < 1e-3                    # 2 s file from 0.5 s: shorter
    spectrum = np.abs(np.fft.rfft(tone))
    assert np.fft.rfftfreq(len(tone), 1 / rate)[spectrum.argmax()] == pytest.approx(440, abs=2)
    rows = _rows(out)
    assert [r["file"] for r in rows] == [f"/{share}/ramp.wav", f"/{share}/data.zip!audio/tone.wav"]
    assert [r["seconds"] for r in rows] == ["1+1.50", "0.5+1.50"] and [r["used"] for r in rows] == ["tuning"] * 2
    assert (out / "MANIFEST.md").read_text().startswith("# t\n") and "- wind: none" in (out / "MANIFEST.md").read_text()
    assert not list(out.rglob("*.tmp*"))


@pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="needs dpkg-deb (Debian)")
def test_a_silent_excerpt_is_refused_and_nothing_of_it_written(tmp_path, monkeypatch):
    debs = _fake_deb(tmp_path)
    sources = [er.Source("livevis-fake-data", "usr/share/games/fake/ramp.wav", "CC0", "rain", 10.0, 1.5, "test", "tuning")]
    monkeypatch.setitem(er.SETS, "validation", er.RecordingSet(sources, tmp_path / "default-out", {}, ["# t"]))
    with pytest.raises(SystemExit, match=r"ramp.wav: the excerpt 10\+1.5 s is silence"):
        er.main(["--set", "validation", "--out", str(tmp_path / "out"), "--debs", str(debs)])
    assert not list(tmp_path.glob("out/**/*.flac"))


@pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="needs dpkg-deb (Debian)")
def test_a_member_of_an_openclonk_group_file_is_unpacked_by_the_packages_c4group(tmp_path, monkeypatch):
    """.ocg group files are unpacked in place by `c4group FILE -x` from the `openclonk` .deb: here a
    stand-in tool (the group is a tar file) in a local `openclonk` .deb, so no network."""
    debs = tmp_path / "debs"
    debs.mkdir()
    tool = tmp_path / "tool" / "usr" / "bin" / "c4group"
    tool.parent.mkdir(parents=True)
    tool.write_text('#!/bin/sh\nset -e\n[ "$2" = "-x" ]\nmkdir "$1.d"\ntar -xf "$1" -C "$1.d"\nrm "$1"\nmv "$1.d" "$1"\n')
    tool.chmod(0o755)
    _build_deb(tmp_path / "tool", "openclonk", "amd64", debs)
    group = tmp_path / "group"
    (group / "Liquids.ocg").mkdir(parents=True)
    sf.write(str(group / "Liquids.ocg" / "Boiling.wav"), 0.25 * np.sin(2 * np.pi * 220 * np.arange(22050) / 22050), 22050)
    share = tmp_path / "data" / "usr" / "share" / "games" / "fake"
    share.mkdir(parents=True)
    subprocess.run(["tar", "-cf", str(share / "Sound.ocg"), "-C", str(group), "Liquids.ocg"], check=True)
    _build_deb(tmp_path / "data", "livevis-fake-clonk", "all", debs)
    ocg = "usr/share/games/fake/Sound.ocg"
    boiling = er.Source("livevis-fake-clonk", ocg, "CC0-1.0", "volcano", 0.0, 20.0, "test", "training", "Liquids.ocg/Boiling.wav")
    monkeypatch.setitem(er.SETS, "validation", er.RecordingSet([boiling], tmp_path / "default-out", {}, ["# t"]))
    assert er.main(["--set", "validation", "--out", str(tmp_path / "out"), "--debs", str(debs)]) == 0
    audio, rate = sf.read(str(tmp_path / "out" / "volcano" / "livevis-fake-clonk--Boiling.flac"), dtype="float32")
    assert rate == 22050 and len(audio) == 22050 and np.abs(audio).max() == pytest.approx(0.25, abs=2e-3)
    assert [r["file"] for r in _rows(tmp_path / "out")] == [f"/{ocg}!Liquids.ocg/Boiling.wav"]
    missing = er.Source("livevis-fake-clonk", ocg, "CC0-1.0", "volcano", 0.0, 20.0, "test", "training", "Liquids.ocg/Lava.wav")
    monkeypatch.setitem(er.SETS, "validation", er.RecordingSet([missing], tmp_path / "default-out", {}, ["# t"]))
    with pytest.raises(SystemExit, match="Liquids.ocg/Lava.wav is not in .*Sound.ocg of livevis-fake-clonk"):
        er.main(["--set", "validation", "--out", str(tmp_path / "out2"), "--debs", str(debs)])
