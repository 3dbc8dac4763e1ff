"""`livevis prepare` through the real CLI: both modes, the printed summary, and one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.rigs.videos import make_video_tree

ROOT = Path(__file__).resolve().parents[2]


def livevis(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "livevis", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def assert_one_line_error(result: subprocess.CompletedProcess, needle: str) -> None:
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert needle in lines[0], lines[0]


def test_prepare_videos_reports_skipped_files(tmp_path):
    videos = make_video_tree(tmp_path / "videos")
    out = tmp_path / "data"
    r = livevis("prepare", str(videos), "--out", str(out), "--size", "32", "--fps", "10", "--clip-seconds", "1")
    assert r.returncode == 0, r.stderr
    assert "8 clips from 3 of 5 videos (blue, red)" in r.stdout
    assert "blue/silent.mp4: no audio track" in r.stdout and "blue/broken.mp4: cannot decode" in r.stdout
    assert len(json.loads((out / "report.json").read_text())["skipped"]) == 2
    again = livevis("prepare", str(videos), "--out", str(out), "--size", "32", "--fps", "10", "--clip-seconds", "1")
    assert again.returncode == 0 and "3 already done" in again.stdout


def test_prepare_synthetic(tmp_path):
    r = livevis("prepare", "--synthetic", "6", "--out", str(tmp_path / "syn"), "--classes", "rain,calm", "--size", "32",
                "--clip-seconds", "1", "--seed", "4")
    assert r.returncode == 0, r.stderr
    assert "wrote 6 synthetic clips (2 classes, 32 px" in r.stdout
    index = json.loads((tmp_path / "syn/index.json").read_text())
    assert index["classes"] == ["rain", "calm"] and index["seed"] == 4 and len(index["clips"]) == 6


@pytest.mark.parametrize("args, needle", [
    (["prepare", "{tmp}/nowhere", "--out", "{tmp}/d"], "no video folder at"),
    (["prepare", "{tmp}/empty", "--out", "{tmp}/d"], "no videos"),
    (["prepare", "{tmp}/junk", "--out", "{tmp}/d"], "no usable clips"),
    (["prepare", "--out", "{tmp}/d"], "give either VIDEO_DIR or --synthetic N"),
    (["prepare", "--synthetic", "3", "--out", "{tmp}/d", "--classes", "rain,disco"], "unknown synthetic class(es) disco"),
    (["prepare", "--synthetic", "0", "--out", "{tmp}/d"], "positive clip count"),
    (["prepare", "--synthetic", "2", "--out", "{tmp}/d", "--fps", "0"], "must be positive"),
    (["prepare", "{tmp}/videos", "--out", "{tmp}/d", "--labels", "{tmp}/missing.csv"], "cannot read labels CSV"),
    (["prepare", "--synthetic", "2", "--out", "{tmp}/notdata", "--size", "32"], "not a livevis dataset"),
])
def test_bad_input_is_one_line(tmp_path, capsys, args, needle):
    # In-process through livevis.cli.main (an unexpected exception would fail the test with its traceback).
    from livevis.cli import main

    (tmp_path / "empty").mkdir()
    (tmp_path / "junk" / "a").mkdir(parents=True)
    (tmp_path / "junk" / "a" / "x.mp4").write_bytes(b"\x00" * 100)
    (tmp_path / "videos" / "a").mkdir(parents=True)
    (tmp_path / "videos" / "a" / "x.mp4").write_bytes(b"\x00" * 100)
    (tmp_path / "notdata").mkdir()
    (tmp_path / "notdata" / "thesis.txt").write_text("keep me")
    code = main([a.format(tmp=tmp_path) for a in args])
    err = capsys.readouterr().err
    assert_one_line_error(subprocess.CompletedProcess(args, code, "", err), needle)
    assert (tmp_path / "notdata" / "thesis.txt").read_text() == "keep me"


def test_bad_data_folder_via_subprocess(tmp_path):
    (tmp_path / "empty").mkdir()
    assert_one_line_error(livevis("prepare", str(tmp_path / "empty"), "--out", str(tmp_path / "d")), "no videos")
