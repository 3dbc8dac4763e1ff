"""`livevis prepare`: turn a folder of videos (or the procedural synthetic set) into a training dataset."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("video_dir", nargs="?", metavar="VIDEO_DIR", help="folder of videos; labels from sub-folder names or --labels")
    parser.add_argument("--out", required=True, metavar="DATA", help="dataset folder to write (re-running resumes)")
    parser.add_argument("--synthetic", type=int, metavar="N", help="generate N procedural audio-visual clips instead of reading videos")
    parser.add_argument("--labels", metavar="CSV", help="CSV of path,label[,caption] (paths relative to VIDEO_DIR)")
    parser.add_argument("--classes", metavar="A,B,...", help="synthetic classes to generate (default: all 9)")
    parser.add_argument("--seed", type=int, default=0, help="synthetic set seed (default 0)")
    parser.add_argument("--size", type=int, help="frame side in pixels (default 256; synthetic 128)")
    parser.add_argument("--fps", type=int, default=15, help="frames per second (default 15)")
    parser.add_argument("--clip-seconds", type=float, default=2.0, help="clip length in seconds (default 2)")
    parser.add_argument("--sample-rate", type=int, default=16000, help="audio sample rate in Hz (default 16000)")
    parser.add_argument("--val-fraction", type=float, default=0.1, help="share of held-out clips (default 0.1)")
    parser.add_argument("--workers", type=int, default=1, help="processes rendering the synthetic set (default 1)")


def run(args: argparse.Namespace) -> int:
    from livevis.errors import LivevisError

    if (args.synthetic is None) == (args.video_dir is None):
        raise LivevisError("give either VIDEO_DIR or --synthetic N")
    if args.fps < 1 or args.clip_seconds <= 0 or args.sample_rate < 1000 or (args.size is not None and args.size < 8):
        raise LivevisError("--fps, --clip-seconds, --sample-rate and --size must be positive (sample rate >= 1000)")
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    console = Console(stderr=True)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=False, disable=not console.is_terminal) as progress:
        if args.synthetic is not None:
            return _synthetic(args, progress, console)
        return _videos(args, progress, console)


def _synthetic(args, progress, console) -> int:
    from livevis.training.data.synthetic import write_synthetic

    task = progress.add_task("synthesising clips", total=args.synthetic)
    classes = [c.strip() for c in args.classes.split(",") if c.strip()] if args.classes else None
    settings = write_synthetic(
        args.out, args.synthetic, classes=classes, seed=args.seed, size=args.size or 128, fps=args.fps,
        clip_seconds=args.clip_seconds, sample_rate=args.sample_rate, val_fraction=args.val_fraction,
        workers=max(1, args.workers), on_clip=lambda done, total: progress.update(task, completed=done),
    )
    print(f"wrote {args.synthetic} synthetic clips ({len(settings['classes'])} classes, "
          f"{settings['size']} px, {settings['fps']} fps, {settings['clip_seconds']:g} s) to {args.out}")
    return 0


def _videos(args, progress, console) -> int:
    from livevis.training.data.prepare import prepare_videos

    task = progress.add_task("decoding videos", total=None)

    def on_file(done: int, total: int, name: str) -> None:
        progress.update(task, completed=done, total=total, description=f"decoding {name}" if name else "done")
        if not console.is_terminal and name:
            print(f"[{done + 1}/{total}] {name}", flush=True)

    report = prepare_videos(
        args.video_dir, args.out, labels_csv=args.labels, size=args.size or 256, fps=args.fps,
        clip_seconds=args.clip_seconds, sample_rate=args.sample_rate, val_fraction=args.val_fraction, on_file=on_file,
    )
    print(f"{report['clips']} clips from {report['used']} of {report['videos']} videos "
          f"({', '.join(report['classes'])}) written to {args.out}"
          + (f"; {report['resumed']} already done" if report["resumed"] else ""))
    if report["skipped"]:
        print(f"skipped {len(report['skipped'])} file(s) (listed in {args.out}/report.json):")
        for item in report["skipped"]:
            print(f"  {item['source']}: {item['reason']}")
    return 0
