"""`livevis eval`'s measurement: generate from held-out clips' audio, score, compare with a baseline.

    semantic accuracy  frames generated live-style from a clip's audio, classified by a frame
                       classifier trained on the dataset's real training frames; per class, overall
    sync_r             per clip, Pearson r between the audio's causal onset strength per step and the
                       generated frames' change per step; mean over clips
    clip_av, clip_tv   mean cosine of CLIP(frame) with the sound encoder's embedding of the same step
                       (a <-> v) and with the clip's class prompt (t <-> v), Lee et al. Table 3a
    baseline           the same generator and starting latents, driven by a random latent walk of
                       the same mean step length instead of the sound: accuracy and sync_r
    judge              (when given) the independent CNN judge (livevis.eval.judge): its semantic
                       accuracy on the generated frames, per class, the Frechet distance between
                       generated and held-out real frames in its features, and the real-vs-real floor
                       (held-out real vs training real frames)
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F

from livevis.errors import LivevisError
from livevis.eval import classifier as clf
from livevis.eval import generate, metrics

TRAIN_FRAMES_PER_CLIP = 8   # real frames per training clip for the classifier
TRUNCATION = 0.7            # starting latents, as `livevis run` / `render`
ANCHOR_LEAK = 0.02          # the live path's default leash


def pick_clips(labels: list[int], count: int | None) -> list[int]:
    """Up to `count` clip indices, round-robin over classes (balanced), in a stable order."""
    by_class: dict[int, list[int]] = {}
    for i, lab in enumerate(labels):
        by_class.setdefault(lab, []).append(i)
    order, depth = [], 0
    while len(order) < len(labels):
        for lab in sorted(by_class):
            if depth < len(by_class[lab]):
                order.append(by_class[lab][depth])
        depth += 1
    return order if count is None else order[:count]


def _finite_or_none(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def class_texts(bundle, dataset_classes: list[str]) -> list[str]:
    """The text of each dataset class for t <-> v: the bundle's prompt for that class name, else a
    generic prompt."""
    prompts = {c.name: c.prompt for c in bundle.classes}
    return [prompts.get(c, f"a video of {c.replace('_', ' ')}") for c in dataset_classes]


def evaluate(bundle, data: str | Path, *, clips: int | None = None, seed: int = 0, device: str | torch.device = "cpu",
             progress: Callable[[str], None] | None = None,
             on_frames: Callable[[str, dict, torch.Tensor], None] | None = None,
             make_judge: Callable[[], Any] | None = None, mode: str | None = None) -> dict[str, Any]:
    """Measure a loaded bundle on the held-out split of `data`; returns the JSON-ready result.

    on_frames(kind, item, frames), if given, sees every scored clip: kind "sound" or "baseline", the
    dataset item, frames [T, 3, R, R] in [-1, 1] (for `livevis eval --grid`). make_judge(),
    if given, returns the livevis.eval.judge.Judge of this dataset's train split (called once the inputs
    are checked: training it takes a while) and adds the "judge" figures."""
    from livevis.pipeline.modules import build_live_modules
    from livevis.training.data import ClipDataset

    t0 = time.monotonic()
    say = progress or (lambda _msg: None)
    try:
        train_set = ClipDataset(data, "train")
        val = ClipDataset(data, "val")
    except LivevisError as exc:
        raise LivevisError(f"--data: {exc}") from None
    if clips is not None and clips < 1:
        raise LivevisError(f"--clips must be positive, got {clips}")
    modules = build_live_modules(bundle, backend="eager", device=device)
    trajectory = generate.ModeTrajectories(bundle, modules, mode, progress)  # a mode the model lacks: one line
    if val.sample_rate != modules.sample_rate:
        raise LivevisError(f"the dataset's audio is {val.sample_rate} Hz but the bundle expects {modules.sample_rate} Hz")
    classes = list(val.classes)
    chosen = pick_clips(val.labels(), clips)
    steps = val.samples_per_clip // modules.step_samples - 1   # keyframes whose frame is shown within the clip
    if steps < 3:
        raise LivevisError(f"clips of {val.clip_seconds:g} s hold too few steps at the bundle's step rate for a sync measure")

    judge = make_judge() if make_judge is not None else None
    say("training the frame classifier on real frames")
    frames, labels = clf.sample_frames(train_set, TRAIN_FRAMES_PER_CLIP)
    classifier = clf.fit(frames, labels, classes, seed=seed)
    real_frames, real_labels = clf.sample_frames(val, TRAIN_FRAMES_PER_CLIP, chosen)
    real_acc, _ = metrics.accuracy(classifier.predict(real_frames), real_labels.numpy(), classes)

    fe = bundle.audio
    clip_model = bundle.clip
    notes: list[str] = []
    use_clip = clip_model is not None
    if not use_clip:
        notes.append("the bundle carries no CLIP: clip_av and clip_tv are null")
    text_emb = None
    if use_clip:
        clip_model = clip_model.to(modules.device).eval()
        with torch.inference_mode():
            text_emb = clip_model.encode_text(class_texts(bundle, classes)).float()   # [K, D]

    sound, starts, items = [], [], []
    for n, i in enumerate(chosen):
        say(f"generating from clip {n + 1}/{len(chosen)}")
        item = val[i]
        start = seed * 100003 + i
        ws0 = generate.initial_latent(modules, start, TRUNCATION)
        sound.append(trajectory(item["audio"].numpy(), steps, ws0, ANCHOR_LEAK, pick=start))
        starts.append(ws0)
        items.append(item)
    step_size = generate.mean_step(sound, starts)

    judged: dict[str, list] = {"sound": [], "baseline": [], "features": []}

    def score(trajs: list[generate.Trajectory], with_clip: bool, kind: str) -> dict[str, Any]:
        preds, labs, syncs, av, tv = [], [], [], [], []
        for traj, item in zip(trajs, items):
            imgs = generate.synthesize(modules, traj.ws)                          # [T, 3, R, R]
            if on_frames is not None:
                on_frames(kind, item, imgs)
            preds.append(classifier.predict(imgs))
            if judge is not None:
                judged[kind].append(judge.predict(imgs))
                if kind == "sound":
                    judged["features"].append(judge.features(imgs))             # [T, D]
            labs.append(np.full(imgs.shape[0], item["label"]))
            env, ends = metrics.onset_envelope(item["audio"].numpy(), fe.sample_rate, fe.n_fft, fe.hop_length, fe.n_mels)
            strength = metrics.strength_per_step(env, ends, modules.step_samples, imgs.shape[0])
            syncs.append(metrics.clip_sync(metrics.frame_change(imgs), strength))
            if with_clip:
                with torch.inference_mode():
                    v = clip_model.encode_image(imgs.to(modules.device)).float()  # [T, D] unit norm
                tv.append(float((v @ text_emb[item["label"]]).mean()))
                if traj.embeddings is not None and traj.embeddings.shape[-1] == v.shape[-1]:
                    a = F.normalize(traj.embeddings.to(v), dim=-1)               # [T, D]
                    av.append(float((a * v).sum(-1).mean()))
        acc, per_class = metrics.accuracy(np.concatenate(preds), np.concatenate(labs), classes)
        return {"semantic_accuracy": acc, "per_class": per_class, "sync_r": metrics.mean_ignoring_nan(syncs),
                "sync_clips": sum(1 for s in syncs if math.isfinite(s)), "clip_av": float(np.mean(av)) if av else None,
                "clip_tv": float(np.mean(tv)) if tv else None}

    say("scoring the sound-driven frames")
    main = score(sound, use_clip, "sound")
    if use_clip and main["clip_av"] is None:
        notes.append("the sound encoder's embedding width differs from the CLIP's: clip_av is null")
    say("scoring the random-walk baseline")
    walks = [generate.random_walk(ws0, steps, step_size, seed * 100003 + i + 1, ANCHOR_LEAK) for ws0, i in zip(starts, chosen)]
    base = score(walks, False, "baseline")
    result = {
        "semantic_accuracy": main["semantic_accuracy"],
        "per_class": main["per_class"],
        "sync_r": _finite_or_none(main["sync_r"]),
        "clip_av": _finite_or_none(main["clip_av"]),
        "clip_tv": _finite_or_none(main["clip_tv"]),
        "baseline": {"semantic_accuracy": base["semantic_accuracy"], "sync_r": _finite_or_none(base["sync_r"]),
                     "per_class": base["per_class"], "step_size": step_size},
        "clips": len(chosen),
        "chance": 1.0 / len(classes),
        "classifier_real_accuracy": real_acc,
        "frames_per_clip": steps,
        "step_rate": float(fe.step_rate),
        "sync_clips": main["sync_clips"],
        "model": bundle.name,
        "mode": trajectory.mode,
        "seed": seed,
        "notes": notes,
    }
    if judge is not None:
        say("judging with the independent CNN")
        labs = np.concatenate([np.full(len(p), it["label"]) for p, it in zip(judged["sound"], items)])
        acc, per_class = metrics.accuracy(np.concatenate(judged["sound"]), labs, classes)
        base_acc, _ = metrics.accuracy(np.concatenate(judged["baseline"]), labs, classes)
        judge_real_acc, _ = metrics.accuracy(judge.predict(real_frames), real_labels.numpy(), classes)
        real_feats = judge.features(real_frames)                                 # [N_val, D]
        train_feats = judge.features(frames)                                     # [N_train, D]
        from livevis.eval.judge import frechet_distance

        result["judge"] = {
            "semantic_accuracy": acc,
            "per_class": per_class,
            "frechet": _finite_or_none(frechet_distance(torch.cat(judged["features"]), real_feats)),
            "frechet_real_vs_real": _finite_or_none(frechet_distance(real_feats, train_feats)),
            "real_accuracy": judge_real_acc,
            "baseline_accuracy": base_acc,
            "classifier_semantic_accuracy": main["semantic_accuracy"],
            "input_size": judge.settings.size,
            "cached": judge.from_cache,
        }
    result["seconds"] = round(time.monotonic() - t0, 2)
    return result


def render_table(result: dict[str, Any]):
    """A rich Table of the result (model vs baseline, then per class)."""
    from rich.table import Table

    def fmt(x: float | None, pct: bool = False) -> str:
        if x is None:
            return "n/a"
        return f"{100 * x:.1f}%" if pct else f"{x:.3f}"

    base = result["baseline"]
    table = Table(title=f"livevis eval: {result['model']} on {result['clips']} held-out clips "
                        f"({result['frames_per_clip']} frames each at {result['step_rate']:g} Hz)")
    table.add_column("measure")
    table.add_column("sound-driven", justify="right")
    table.add_column("random walk", justify="right")
    table.add_row("semantic accuracy", fmt(result["semantic_accuracy"], True), fmt(base["semantic_accuracy"], True))
    table.add_row("  chance", fmt(result["chance"], True), fmt(result["chance"], True))
    table.add_row("sync r (onsets vs frame change)", fmt(result["sync_r"]), fmt(base["sync_r"]))
    table.add_row("CLIP a<->v", fmt(result["clip_av"]), "")
    table.add_row("CLIP t<->v", fmt(result["clip_tv"]), "")
    table.add_row("classifier on real frames", fmt(result["classifier_real_accuracy"], True), "")
    for name, acc in result["per_class"].items():
        table.add_row(f"  {name}", fmt(acc, True), fmt(base["per_class"].get(name), True))
    judge = result.get("judge")
    if judge:
        table.add_row("independent CNN judge: semantic accuracy", fmt(judge["semantic_accuracy"], True),
                      fmt(judge["baseline_accuracy"], True))
        table.add_row("  judge on real held-out frames", fmt(judge["real_accuracy"], True), "")
        table.add_row("  Frechet distance (generated vs real)", fmt(judge["frechet"]), "")
        table.add_row("  Frechet floor (real held-out vs real train)", fmt(judge["frechet_real_vs_real"]), "")
        for name, acc in judge["per_class"].items():
            table.add_row(f"  judge: {name}", fmt(acc, True), "")
    return table


def render_recordings_table(rec: dict[str, Any], model: str):
    """A rich Table of the `--recordings` result (per class, then per file)."""
    from rich.table import Table

    def pct(x: float | None) -> str:
        return "n/a" if x is None or not math.isfinite(x) else f"{100 * x:.1f}%"

    table = Table(title=f"livevis eval --recordings: {model} on {rec['files']} recordings x {rec['seeds']} seeds "
                        f"(judge: {'independent CNN' if rec['judge'] == 'cnn' else 'feature classifier'})")
    table.add_column("recordings")
    table.add_column("sound-driven", justify="right")
    table.add_column("random walk", justify="right")
    table.add_row("accuracy", pct(rec["accuracy"]), pct(rec["baseline_accuracy"]))
    table.add_row("  chance", pct(rec["chance"]), pct(rec["chance"]))
    for name, acc in rec["per_class"].items():
        table.add_row(f"  {name}", pct(acc), pct(rec["baseline_per_class"].get(name)))
    for name, acc in rec["per_file"].items():
        table.add_row(f"  {name}", pct(acc), "")
    return table
