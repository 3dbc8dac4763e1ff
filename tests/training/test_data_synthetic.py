"""The synthetic audio-visual set: determinism, event sync measured from pixels and samples,
class separability, resumable writing, and loading through ClipDataset."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from livevis.errors import LivevisError
from livevis.training.data import ClipDataset, write_synthetic
from livevis.training.data.synthetic import CLASSES, render_clip
from livevis.training.data.synthetic import generate
from livevis.training.data.synthetic.canvas import ClipSpec

NAMES = list(CLASSES)
SPEC = ClipSpec(size=64, fps=15, clip_seconds=2.0, sample_rate=16000)


def _digest(root) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes_other_seed_differs(tmp_path):
    kw = dict(size=32, clip_seconds=1.0)
    write_synthetic(tmp_path / "a", 12, seed=5, **kw)
    write_synthetic(tmp_path / "b", 12, seed=5, **kw)
    write_synthetic(tmp_path / "c", 12, seed=6, **kw)
    a, b, c = _digest(tmp_path / "a"), _digest(tmp_path / "b"), _digest(tmp_path / "c")
    assert a == b
    assert a["shards/00000.frames.npy"] != c["shards/00000.frames.npy"]
    assert a["shards/00000.audio.npy"] != c["shards/00000.audio.npy"]


def test_parallel_workers_write_identical_bytes(tmp_path):
    kw = dict(size=32, clip_seconds=1.0, seed=2)
    write_synthetic(tmp_path / "one", 6, workers=1, **kw)
    write_synthetic(tmp_path / "two", 6, workers=2, **kw)
    assert _digest(tmp_path / "one") == _digest(tmp_path / "two")


def _visual_events(frames: np.ndarray) -> list[int]:
    """Frames whose mean brightness jumps up (flash, white splash) well above the clip's usual change."""
    b = frames.astype(np.float32).mean(axis=(1, 2, 3))                 # [T]
    v = np.diff(b)
    thr = max(4 * float(np.median(np.abs(v))), 0.5)
    return [int(k) + 1 for k in np.nonzero(v > thr)[0]]


def _audio_events(audio: np.ndarray, spec: ClipSpec) -> list[int]:
    """Frames whose high-passed audio energy jumps 4x over the previous frame's."""
    spf = spec.sample_rate // spec.fps
    d = np.diff(audio, prepend=0.0)
    e = (d[: spec.frames * spf].reshape(spec.frames, spf) ** 2).mean(1) + 1e-10  # [T]
    return [int(k) + 1 for k in np.nonzero(e[1:] / e[:-1] > 4)[0]]


def _matches(truth: list[int], found: list[int]) -> bool:
    return all(any(abs(g - k) <= 1 for k in found) for g in truth) and all(any(abs(g - k) <= 1 for g in truth) for k in found)


@pytest.mark.parametrize("name", ["thunderstorm", "splashing_water"])
def test_events_are_in_sync_across_picture_and_sound(name):
    ci = NAMES.index(name)
    good, total = 0, 10
    for j in range(total):
        frames, audio, rec = render_clip(ci + len(NAMES) * j, seed=11, spec=SPEC, classes=NAMES)
        truth = [round(t * SPEC.fps) for t in rec.onsets]
        assert truth, "event classes always have events"
        vis, aud = _visual_events(frames), _audio_events(audio, SPEC)
        # Measured, not just declared: picture jumps and sound onsets land within one frame of each other.
        good += _matches(truth, vis) and _matches(truth, aud) and _matches(vis, aud)
    assert good >= total - 1, f"{name}: only {good}/{total} clips had picture and sound events in sync"


def test_event_free_classes_have_no_onsets():
    for name in ("waterfall", "calm"):
        _, _, rec = render_clip(NAMES.index(name), seed=0, spec=SPEC, classes=NAMES)
        assert rec.onsets == []


def _features(frames: np.ndarray, audio: np.ndarray) -> np.ndarray:
    colour = frames.reshape(-1, 3).mean(0) / 255.0                        # [3]
    spec = np.abs(np.fft.rfft(audio[: len(audio) // 512 * 512].reshape(-1, 512), axis=1)) ** 2  # [frames, 257]
    bands = np.log(np.stack([b.mean() for b in np.array_split(spec.mean(0), 16)]) + 1e-9)  # [16]
    return np.concatenate([colour * 10, bands])


def test_nearest_centroid_separates_classes():
    spec = ClipSpec(size=48, fps=15, clip_seconds=1.0, sample_rate=16000)
    feats, labels = [], []
    for i in range(len(NAMES) * 10):
        frames, audio, rec = render_clip(i, seed=3, spec=spec, classes=NAMES)
        feats.append(_features(frames, audio))
        labels.append(NAMES.index(rec.label))
    x, y = np.stack(feats), np.array(labels)
    train = np.arange(len(y)) < len(NAMES) * 6                            # first 6 per class train, 4 held out
    mu, sd = x[train].mean(0), x[train].std(0) + 1e-6
    z = (x - mu) / sd
    centroids = np.stack([z[train & (y == c)].mean(0) for c in range(len(NAMES))])
    pred = np.argmin(((z[~train, None] - centroids[None]) ** 2).sum(-1), axis=1)
    accuracy = float((pred == y[~train]).mean())
    print(f"nearest-centroid accuracy {accuracy:.3f}")
    assert accuracy >= 0.9, f"nearest-centroid accuracy {accuracy:.2f}"


def test_captions_and_labels_follow_the_class():
    for i, name in enumerate(NAMES):
        _, _, rec = render_clip(i, seed=0, spec=SPEC, classes=NAMES)
        assert rec.label == name
        assert rec.caption and isinstance(rec.caption, str)


def test_written_set_loads_with_splits(tmp_path):
    write_synthetic(tmp_path / "d", 27, size=32, clip_seconds=1.0, val_fraction=0.5)
    train, val = ClipDataset(tmp_path / "d", "train"), ClipDataset(tmp_path / "d", "val")
    assert len(train) + len(val) == 27 and len(val) == 9                   # one held-out clip per class
    assert sorted(val.labels()) == list(range(9))
    item = val[0]
    assert item["frames"].shape == (15, 3, 32, 32) and str(item["frames"].dtype) == "torch.uint8"
    assert item["audio"].shape == (16000,) and str(item["audio"].dtype) == "torch.float32"
    assert train.classes == NAMES and train.fps == 15 and train.sample_rate == 16000 and train.size == 32
    assert train.clip_seconds == 1.0
    for k in range(len(train)):
        rec = train.clips[k]
        assert train[k]["onsets"] == rec["onsets"] and train[k]["label"] == NAMES.index(rec["class"])


def test_rerun_resumes_and_other_settings_refuse(tmp_path, monkeypatch):
    monkeypatch.setattr(generate, "SHARD_CLIPS", 4)
    out = tmp_path / "d"
    calls = []
    real = generate.render_clip
    monkeypatch.setattr(generate, "render_clip", lambda i, **kw: (calls.append(i), real(i, **kw))[1])
    write_synthetic(out, 6, size=32, clip_seconds=1.0)
    first = _digest(out)
    # Simulate a run killed after the first shard: drop shard 1 from disk and index.
    import json
    index = json.loads((out / "index.json").read_text())
    index["clips"] = [c for c in index["clips"] if c["shard"] == "00000"]
    (out / "index.json").write_text(json.dumps(index))
    (out / "shards/00001.frames.npy").unlink()
    calls.clear()
    write_synthetic(out, 6, size=32, clip_seconds=1.0)
    assert calls == [4, 5]                                                 # only the missing shard is redone
    assert {k: v for k, v in _digest(out).items() if k != "index.json"} == {k: v for k, v in first.items() if k != "index.json"}
    assert len(ClipDataset(out, "all")) == 6
    with pytest.raises(LivevisError, match="other settings"):
        write_synthetic(out, 6, size=48, clip_seconds=1.0)


def test_bad_inputs_are_user_errors(tmp_path):
    with pytest.raises(LivevisError, match="unknown synthetic class"):
        write_synthetic(tmp_path / "x", 3, classes=["rain", "lava_lamp"])
    with pytest.raises(LivevisError, match="no dataset at"):
        ClipDataset(tmp_path / "nothing")
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "index.json").write_text("{not json")
    with pytest.raises(LivevisError, match="bad dataset index"):
        ClipDataset(tmp_path / "junk")


def test_picture_change_follows_sound_onsets_in_every_event_class():
    """The eval's sync ground truth: per clip, frame-to-frame change correlates with audio onset strength."""
    spec = ClipSpec(size=48, fps=15, clip_seconds=2.0, sample_rate=16000)
    spf = spec.sample_rate // spec.fps
    for name in NAMES:
        if name in ("waterfall", "calm"):
            continue
        rs = []
        for j in range(6):
            frames, audio, _ = render_clip(NAMES.index(name) + len(NAMES) * j, seed=21, spec=spec, classes=NAMES)
            hp = np.diff(audio, prepend=0.0)
            log_e = np.log((hp[: spec.frames * spf].reshape(spec.frames, spf) ** 2).mean(1) + 1e-8)  # [T]
            onset = np.maximum(np.diff(log_e), 0)                                                    # [T-1]
            change = np.abs(np.diff(frames.astype(np.float32), axis=0)).mean(axis=(1, 2, 3))        # [T-1]
            rs.append(np.corrcoef(onset, change)[0, 1])
        assert np.mean(rs) >= 0.45, f"{name}: picture change vs sound onsets r = {np.mean(rs):.2f}"
