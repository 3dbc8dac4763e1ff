"""`livevis eval --recordings DIR`: labelled real recordings, no paired video.

DIR/<class>/*.wav|ogg|mp3|flac, class folders named after the bundle's classes. Each recording drives
the live path offline (livevis.eval.generate: the same LatentDriver path as `livevis render`) from a
few seeded starting latents; every generated frame is judged by a frame classifier trained on real
frames, and the judged class is compared with the folder's label. Baseline: the same starts driven
by a random latent walk of the same mean step length.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from livevis.audio.labelled import EXTENSIONS, find_recordings  # noqa: F401 - this module's API too
from livevis.errors import LivevisError
from livevis.eval import generate, metrics

TRUNCATION = 0.7            # starting latents, as `livevis run` / `render`
ANCHOR_LEAK = 0.02          # the live path's default leash


def evaluate_recordings(bundle, root: str | Path, predict: Callable[[torch.Tensor], np.ndarray], judge_name: str, *,
                        classes: list[str] | None = None, seeds: int = 4, seed: int = 0,
                        device: str | torch.device = "cpu", progress: Callable[[str], None] | None = None,
                        mode: str | None = None) -> dict[str, Any]:
    """Score `bundle` on the recordings under `root`; predict(frames [T, 3, H, W] in [-1, 1]) -> [T]
    indices into `classes` (default: the bundle's class names). Returns the JSON-ready "recordings" object."""
    from livevis.audio.decode import load_audio
    from livevis.pipeline.modules import build_live_modules

    if seeds < 1:
        raise LivevisError(f"--seeds must be positive, got {seeds}")
    t0 = time.monotonic()
    say = progress or (lambda _msg: None)
    classes = list(classes) if classes is not None else [c.name for c in bundle.classes]
    if not classes:
        raise LivevisError("the model names no classes: pass --data DATA, whose classes the recordings' folders name")
    files = find_recordings(root, classes)
    modules = build_live_modules(bundle, backend="eager", device=device)
    trajectory = generate.ModeTrajectories(bundle, modules, mode, progress)
    runs, skipped = [], []
    for n, (path, label) in enumerate(files):
        audio = load_audio(path, modules.sample_rate)                          # [N] mono at the bundle's rate
        steps = audio.shape[0] // modules.step_samples - 1
        if steps < 1:
            skipped.append(str(path.relative_to(root)))
            continue
        say(f"generating from recording {n + 1}/{len(files)}")
        for s in range(seeds):
            start = seed * 100003 + s
            ws0 = generate.initial_latent(modules, start, TRUNCATION)
            runs.append((path, label, ws0, trajectory(audio, steps, ws0, ANCHOR_LEAK, pick=start)))
    if not runs:
        raise LivevisError(f"--recordings {root}: every recording is shorter than two steps of the model")
    step_size = generate.mean_step([r[3] for r in runs], [r[2] for r in runs])

    preds, base_preds, labels, per_file = [], [], [], {}
    for k, (path, label, ws0, traj) in enumerate(runs):
        say(f"judging run {k + 1}/{len(runs)}")
        p = predict(generate.synthesize(modules, traj.ws))
        walk = generate.random_walk(ws0, traj.ws.shape[0], step_size, seed * 100003 + k + 1, ANCHOR_LEAK)
        base_preds.append(predict(generate.synthesize(modules, walk.ws)))
        preds.append(p)
        labels.append(np.full(p.shape[0], label))
        per_file.setdefault(str(path.relative_to(root)), []).append(p == label)
    pred, lab = np.concatenate(preds), np.concatenate(labels)
    acc, per_class = metrics.accuracy(pred, lab, classes)
    base_acc, base_per_class = metrics.accuracy(np.concatenate(base_preds), lab, classes)
    counts = np.bincount(pred, minlength=len(classes))
    return {
        "accuracy": acc,
        "per_class": per_class,
        "baseline_accuracy": base_acc,
        "baseline_per_class": base_per_class,
        "files": len(files) - len(skipped),
        "skipped": skipped,
        "per_file": {f: float(np.concatenate(v).mean()) for f, v in per_file.items()},
        "predicted_share": {c: float(counts[i] / max(1, pred.size)) for i, c in enumerate(classes)},
        "judge": judge_name,
        "seeds": seeds,
        "frames": int(pred.size),
        "chance": 1.0 / len(classes),
        "seconds": round(time.monotonic() - t0, 2),
    }


def reference_data(bundle, progress: Callable[[str], None] | None = None) -> Path:
    """Real frames to train the judge on when `--recordings` comes without `--data`: a synthetic set of
    the bundle's classes (the procedural scenes its training set is made of), written once into the
    user cache (seed 777, which no shipped recipe trains or is measured on)."""
    from livevis.paths import cache_dir
    from livevis.training.data.synthetic import CLASSES
    from livevis.training.data.synthetic.generate import write_synthetic
    from livevis.util.atomic import atomic_dir

    classes = [c.name for c in bundle.classes]
    if not classes or any(c not in CLASSES for c in classes):
        raise LivevisError("the model's classes are not the synthetic set's: pass --data DATA (real frames of its classes) "
                           "to train the frame judge for --recordings")
    knobs = (bundle.config.get("provenance") or {}).get("knobs") or {}
    fps = int(knobs.get("FPS", 15))
    rate = int(bundle.audio.sample_rate)
    name = f"synthetic-90-s777-{rate}hz-{fps}fps-" + "-".join(str(list(CLASSES).index(c)) for c in classes)
    target = cache_dir("reference-data") / name
    if not (target / "index.json").is_file():
        if progress:
            progress("writing a synthetic reference set for the frame judge (once)")
        with atomic_dir(target) as tmp:
            write_synthetic(tmp, 90, classes=classes, seed=777, size=128, fps=fps, clip_seconds=2.0, sample_rate=rate)
    return target
