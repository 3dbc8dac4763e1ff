"""`livevis eval --model BUNDLE --data DATA`: semantic accuracy, sync and CLIP similarity on held-out
clips, against the same generator driven by a random latent walk (see livevis.eval.report), plus the
independent CNN judge's figures (livevis.eval.judge). `--recordings DIR` scores labelled real
recordings (livevis.eval.recordings), with or without --data."""

from __future__ import annotations

import argparse
import json
import sys

from livevis.errors import LivevisError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default="default", metavar="BUNDLE|NAME",
                        help="bundle directory, registry name, or 'default' (the embedded bundle; the default)")
    parser.add_argument("--data", default=None, metavar="DATA",
                        help="dataset written by `livevis prepare` (split 'val' is measured, 'train' teaches the classifiers); "
                             "required unless --recordings is given")
    parser.add_argument("--recordings", default=None, metavar="DIR",
                        help="also score labelled real recordings DIR/<class>/*.wav|ogg|mp3|flac (no video needed); without "
                             "--data the frame judge learns from a synthetic reference set of the model's classes")
    parser.add_argument("--seeds", type=int, default=4, metavar="N",
                        help="starting latents per recording for --recordings (default 4)")
    parser.add_argument("--judge", choices=("cnn", "features"), default="cnn",
                        help="frame classifier for --recordings: the independent CNN judge (default) or the feature classifier")
    parser.add_argument("--judge-size", type=int, default=64, metavar="PX",
                        help="input side of the CNN judge (default 64; at most the dataset's frame size): 128 compares "
                             "generators of different sizes at 128 px, the smaller one's frames upsampled")
    parser.add_argument("--no-judge", action="store_true",
                        help="skip the independent CNN judge's figures on --data (faster)")
    parser.add_argument("--clips", type=int, default=None, metavar="N",
                        help="measure at most N held-out clips, balanced over classes (default: all)")
    parser.add_argument("--seed", type=int, default=0, metavar="S", help="seed of the starting latents, the baseline walk and the classifier")
    parser.add_argument("--compute", default="cpu", metavar="DEVICE", help="torch device: cpu (default), cuda, cuda:N, auto")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.add_argument("--music", nargs="+", default=None, metavar="AUDIO",
                        help="music files: sync r (onset strength vs frame change per rendered frame) of the frames "
                             "the show renders from each, against a random latent walk")
    parser.add_argument("--fps", type=float, default=None, metavar="N",
                        help="render rate for --music (default 30) and --generate (default 10, the training clips' "
                             "rate; `livevis generate` writes 30)")
    parser.add_argument("--generate", action="store_true",
                        help="score text-to-sounding-video (needs --data): sound and picture follow the text, sync, "
                             "Frechet distance of the sound, CLIP t<->v")
    parser.add_argument("--per-class", type=int, default=4, metavar="N", help="--generate: clips per class (default 4)")
    parser.add_argument("--mode", default=None, choices=("learned", "react", "retrieve"),
                        help="what drives the frames: learned (the sound model; default when the bundle has one), "
                             "react (music reaction only), retrieve (sound -> the generator's nearest samples)")
    parser.add_argument("--grid", metavar="PNG", default=None,
                        help="also write a picture: per class, a real held-out frame, then the frames generated "
                             "from that clip's sound (every other step), then the random walk's")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    import torch

    from livevis.commands.run import GENERATOR_FILES, generator_bundle
    from livevis.eval.grid import ClassGrid
    from livevis.eval.report import evaluate, render_recordings_table, render_table
    from livevis.models.bundle import load_bundle
    from livevis.pipeline.modules import resolve_device

    if args.clips is not None and args.clips < 1:
        raise LivevisError(f"--clips must be positive, got {args.clips}")
    if args.generate and args.data is None:
        raise LivevisError("--generate needs --data DATA (its audio classifier and frame judge learn from it)")
    if args.per_class < 1:
        raise LivevisError(f"--per-class must be positive, got {args.per_class}")
    if args.data is None and args.recordings is None and args.music is None:
        raise LivevisError("eval needs --data DATA (a prepared dataset), --recordings DIR or --music AUDIO...")
    for track in args.music or []:
        if not Path(track).is_file():
            raise LivevisError(f"--music {track}: no such file")
    if args.fps is not None and not args.fps > 0:
        raise LivevisError(f"--fps must be positive, got {args.fps:g}")
    if args.data is not None and not Path(args.data).is_dir():
        raise LivevisError(f"no dataset at {args.data} (make one with `livevis prepare`)")
    if args.recordings is not None and not Path(args.recordings).is_dir():
        raise LivevisError(f"--recordings {args.recordings}: no such folder")
    if args.seeds < 1:
        raise LivevisError(f"--seeds must be positive, got {args.seeds}")
    if args.judge_size < 16:
        raise LivevisError(f"--judge-size must be at least 16 px (the judge pools four times), got {args.judge_size}")
    device = resolve_device(args.compute)
    if Path(str(args.model)).suffix.lower() in GENERATOR_FILES and Path(str(args.model)).is_file():
        bundle = generator_bundle(Path(str(args.model)), device)  # an NVlabs .pkl / rosinality .pt as is
    else:
        bundle = load_bundle(args.model, device=device)
    torch.use_deterministic_algorithms(True, warn_only=True)  # same inputs -> same figures

    def progress(msg: str) -> None:
        if sys.stderr.isatty():
            print(f"livevis eval: {msg}", file=sys.stderr)

    if args.grid is not None and not Path(args.grid).resolve().parent.is_dir():
        raise LivevisError(f"--grid {args.grid}: no such folder")
    if args.grid is not None and args.data is None:
        raise LivevisError("--grid needs --data")
    if args.recordings is not None:
        _check_recording_folders(args, bundle)   # folder errors before minutes of generation
    result: dict = {"model": bundle.name}
    if args.generate:
        from livevis.eval.generate_sound import evaluate_generate, render_table as render_generate_table

        gen = evaluate_generate(bundle, args.data, per_class=args.per_class, seed=args.seed, device=device,
                                fps=args.fps or 10.0, use_judge=not args.no_judge, progress=progress, mode=args.mode)
        if args.json:
            print(json.dumps(gen))
        else:
            from rich.console import Console

            Console().print(render_generate_table(gen))
        return 0
    if args.data is not None:
        make_judge = None if args.no_judge else (lambda: _judge_for(args.data, progress, args.judge_size))
        grid = ClassGrid() if args.grid else None
        result = evaluate(bundle, args.data, clips=args.clips, seed=args.seed, device=device, progress=progress,
                          on_frames=grid.add if grid else None, make_judge=make_judge, mode=args.mode)
        if grid is not None:
            grid.save(args.grid)
    if args.recordings is not None:
        result["recordings"] = _score_recordings(args, bundle, device, progress)
    if args.music is not None:
        result["music"] = _score_music(args, bundle, device, progress)
    if args.json:
        print(json.dumps(result))
    else:
        from rich.console import Console

        if args.data is not None:
            Console().print(render_table(result))
        if args.recordings is not None:
            Console().print(render_recordings_table(result["recordings"], bundle.name))
        if args.music is not None:
            m = result["music"]
            fmt = lambda x, digits=2: "-" if x is None else f"{x:.{digits}f}"  # noqa: E731
            for t in m["tracks"]:
                print(f"{t['file']}: sync r {fmt(t['sync_r'])} (random walk {fmt(t['walk_sync_r'])}), "
                      f"frame change {fmt(t['frame_change'], 3)}")
            print(f"music ({m['mode']} mode, {m['fps']:g} fps): mean sync r {fmt(m['sync_r'])}, random walk {fmt(m['walk_sync_r'])}, "
                  f"frame change {fmt(m['frame_change'], 3)}")
        for note in result.get("notes", []):
            print(f"note: {note}")
    return 0


def _score_music(args, bundle, device, progress) -> dict:
    """Sync r of the show's frames on each music file (livevis.eval.response.music_sync)."""
    import math

    from livevis.audio import load_audio
    from livevis.control import live_params
    from livevis.eval.response import music_sync
    from livevis.models.sample_bank import cached_sample_bank
    from livevis.pipeline.modules import build_live_modules
    from livevis.pipeline.scene import check_mode, default_mode

    modules = build_live_modules(bundle, backend="eager", device=device, class_index=getattr(args, "class_index", None))
    mode = args.mode or default_mode(modules)
    check_mode(mode, modules, bundle.clip is not None)
    bank = cached_sample_bank(bundle, device=modules.device) if mode == "retrieve" else None
    fps = args.fps or 30.0
    tracks = []
    for n, path in enumerate(args.music):
        progress(f"rendering music {n + 1}/{len(args.music)}")
        params = live_params(mode)
        params.set("seed", args.seed)
        r = music_sync(modules, params, load_audio(path, modules.sample_rate), fps=fps, bank=bank)
        tracks.append({"file": str(path), **r})

    def mean(key: str) -> float | None:
        values = [t[key] for t in tracks if math.isfinite(t[key])]
        return sum(values) / len(values) if values else None

    out = {"mode": mode, "fps": fps, "sync_r": mean("sync_r"), "walk_sync_r": mean("walk_sync_r"),
           "frame_change": mean("frame_change")}
    for t in tracks:  # a constant picture has no correlation: null, not NaN, in JSON
        for key in ("sync_r", "walk_sync_r"):
            t[key] = t[key] if math.isfinite(t[key]) else None
    return {**out, "tracks": tracks}


def _judge_for(data, progress, size: int):
    """The independent CNN judge of a dataset at input side `size` (trained on its train split once, then
    cached beside it)."""
    from dataclasses import replace

    from livevis.eval.judge import JudgeSettings, trained_judge
    from livevis.training.data import ClipDataset

    try:
        train_set = ClipDataset(data, "train")
    except LivevisError as exc:
        raise LivevisError(f"--data: {exc}") from None
    progress("training the independent frame judge on real training frames (cached after the first run)")
    return trained_judge(train_set, replace(JudgeSettings(), size=size))


def _check_recording_folders(args, bundle) -> None:
    from livevis.eval.recordings import find_recordings
    from livevis.training.data.store import read_index

    names = [c.name for c in bundle.classes]
    if not names and args.data is not None:
        try:
            names = list(read_index(args.data)["classes"])
        except LivevisError as exc:
            raise LivevisError(f"--data: {exc}") from None
    if names:
        find_recordings(args.recordings, names)


def _score_recordings(args, bundle, device, progress) -> dict:
    from livevis.eval import classifier as clf
    from livevis.eval.recordings import evaluate_recordings, reference_data
    from livevis.training.data import ClipDataset

    names = [c.name for c in bundle.classes]
    data = args.data if args.data is not None else reference_data(bundle, progress)
    try:
        train_set = ClipDataset(data, "train")
    except LivevisError as exc:
        raise LivevisError(f"--data: {exc}") from None
    if names and list(train_set.classes) != names:
        raise LivevisError(f"the dataset's classes ({', '.join(train_set.classes)}) are not the model's ({', '.join(names)})")
    names = list(train_set.classes)
    if args.judge == "cnn":
        judge = _judge_for(data, progress, args.judge_size)
        predict = judge.predict
    else:
        frames, labels = clf.sample_frames(train_set, 8)
        predict = clf.fit(frames, labels, names, seed=args.seed).predict
    out = evaluate_recordings(bundle, args.recordings, predict, args.judge, classes=names, seeds=args.seeds,
                              seed=args.seed, device=device, progress=progress, mode=args.mode)
    out["reference_data"] = str(data)
    return out
