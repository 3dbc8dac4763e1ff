"""`prepare_videos`: PyAV-made mp4s in class sub-folders (one silent, one corrupt), CSV labels,
resume, and what the loader sees."""

from __future__ import annotations

import json

import numpy as np
import pytest

from livevis.errors import LivevisError
from livevis.training.data import ClipDataset, prepare_videos
from livevis.training.data import prepare as prepare_mod
from tests.rigs.videos import make_video, make_video_tree

KW = dict(size=32, fps=10, clip_seconds=1.0, val_fraction=0.0)


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    return make_video_tree(tmp_path_factory.mktemp("videos"))


def test_clips_index_and_report(videos, tmp_path):
    report = prepare_videos(videos, tmp_path / "d", **KW)
    assert report["videos"] == 5 and report["used"] == 3 and report["classes"] == ["blue", "red"]
    reasons = {s["source"]: s["reason"] for s in report["skipped"]}
    assert reasons["blue/silent.mp4"] == "no audio track"
    assert reasons["blue/broken.mp4"].startswith("cannot decode")
    assert json.loads((tmp_path / "d/report.json").read_text()) == report
    index = json.loads((tmp_path / "d/index.json").read_text())
    assert (index["fps"], index["sample_rate"], index["size"], index["clip_seconds"]) == (10, 16000, 32, 1.0)
    starts = sorted((c["source"], c["start"]) for c in index["clips"])
    # 2.5 s videos give two 1 s clips, the 4.3 s one four.
    assert starts == [("blue/b1.mp4", 0.0), ("blue/b1.mp4", 1.0), ("red/r1.mp4", 0.0), ("red/r1.mp4", 1.0),
                      ("red/r2.mp4", 0.0), ("red/r2.mp4", 1.0), ("red/r2.mp4", 2.0), ("red/r2.mp4", 3.0)]
    ds = ClipDataset(tmp_path / "d", "train")
    assert len(ds) == 8 and ds.classes == ["blue", "red"]
    for i in range(len(ds)):
        item, rec = ds[i], ds.clips[i]
        assert item["frames"].shape == (10, 3, 32, 32) and item["audio"].shape == (16000,)
        assert item["label"] == ds.classes.index(rec["class"]) and item["caption"] == f"a video of {rec['class']}"
        mean = item["frames"].float().mean(dim=(0, 2, 3))          # [3]: the class colour survives decoding
        assert (mean[0] > mean[2]) == (rec["class"] == "red")
        # The tone is there at the right pitch (440 Hz red, 880 Hz blue) and at full length.
        spectrum = np.abs(np.fft.rfft(item["audio"].numpy()))
        assert abs(int(np.argmax(spectrum)) - (440 if rec["class"] == "red" else 880)) <= 2


def test_moving_bar_is_resampled_in_time(tmp_path):
    make_video(tmp_path / "v" / "a" / "x.mp4", seconds=1.0, fps=20, width=64, height=64)
    prepare_videos(tmp_path / "v", tmp_path / "d", size=64, fps=10, clip_seconds=1.0, val_fraction=0.0)
    frames = ClipDataset(tmp_path / "d", "all")[0]["frames"].numpy()     # [T, 3, 64, 64]
    bar_cols = [int(np.argmax(f[1].mean(0))) for f in frames]            # green channel: the white bar
    # Source frame 2k (bar at column 4k) is shown at output frame k.
    assert bar_cols == [4 * k for k in range(10)]


def test_rerun_resumes_done_videos(videos, tmp_path, monkeypatch):
    out = tmp_path / "d"
    prepare_videos(videos, out, **KW)
    shards = sorted(p.name for p in (out / "shards").iterdir())
    seen = []
    real = prepare_mod.iter_clips
    monkeypatch.setattr(prepare_mod, "iter_clips", lambda path, fmt: (seen.append(path.name), real(path, fmt))[1])
    report = prepare_videos(videos, out, **KW)
    assert sorted(seen) == ["broken.mp4", "silent.mp4"]           # done videos are not decoded again
    assert report["resumed"] == 3 and report["clips"] == 8
    assert sorted(p.name for p in (out / "shards").iterdir()) == shards
    with pytest.raises(LivevisError, match="other settings"):
        prepare_videos(videos, out, **{**KW, "size": 48})


def test_interrupted_run_redoes_only_unfinished_videos(videos, tmp_path, monkeypatch):
    monkeypatch.setattr(prepare_mod, "SHARD_CLIPS", 2)
    real = prepare_mod.iter_clips

    def dies_on_r2(path, fmt):
        if path.name == "r2.mp4":
            raise KeyboardInterrupt
        return real(path, fmt)

    monkeypatch.setattr(prepare_mod, "iter_clips", dies_on_r2)
    with pytest.raises(KeyboardInterrupt):
        prepare_videos(videos, tmp_path / "d", **KW)
    done = json.loads((tmp_path / "d/index.json").read_text())["done_sources"]
    assert done == ["blue/b1.mp4", "red/r1.mp4"]
    monkeypatch.setattr(prepare_mod, "iter_clips", real)
    report = prepare_videos(videos, tmp_path / "d", **KW)
    assert report["resumed"] == 2 and report["clips"] == 8 and len(ClipDataset(tmp_path / "d", "all")) == 8


def test_labels_csv(videos, tmp_path):
    csv = tmp_path / "labels.csv"
    csv.write_text("path,label,caption\nred/r1.mp4,sunset,a red sunset\nblue/b1.mp4,sea,\nblue/gone.mp4,sea,x\n")
    report = prepare_videos(videos, tmp_path / "d", labels_csv=csv, **KW)
    assert report["classes"] == ["sea", "sunset"] and report["used"] == 2
    reasons = {s["source"]: s["reason"] for s in report["skipped"]}
    assert reasons["red/r2.mp4"] == "not listed in the labels CSV"
    assert reasons["blue/gone.mp4"] == "listed in the labels CSV but not found"
    ds = ClipDataset(tmp_path / "d", "all")
    captions = {c["source"]: c["caption"] for c in ds.clips}
    assert captions == {"red/r1.mp4": "a red sunset", "blue/b1.mp4": "a video of sea"}


def test_split_is_per_source_file(videos, tmp_path):
    prepare_videos(videos, tmp_path / "d", **{**KW, "val_fraction": 0.5})
    index = json.loads((tmp_path / "d/index.json").read_text())
    by_source = {}
    for c in index["clips"]:
        by_source.setdefault(c["source"], set()).add(c["split"])
    assert all(len(s) == 1 for s in by_source.values())
    assert all(next(iter(s)) == prepare_mod.split_of(src, 0.5) for src, s in by_source.items())


def test_bad_folders_are_user_errors(tmp_path):
    with pytest.raises(LivevisError, match="no video folder"):
        prepare_videos(tmp_path / "missing", tmp_path / "d", **KW)
    (tmp_path / "empty").mkdir()
    with pytest.raises(LivevisError, match="no videos"):
        prepare_videos(tmp_path / "empty", tmp_path / "d", **KW)
    bad = tmp_path / "bad"
    (bad / "x").mkdir(parents=True)
    (bad / "x" / "a.mp4").write_bytes(b"not a video")
    with pytest.raises(LivevisError, match="no usable clips"):
        prepare_videos(bad, tmp_path / "d2", **KW)
    assert json.loads((tmp_path / "d2/report.json").read_text())["skipped"][0]["source"] == "x/a.mp4"
