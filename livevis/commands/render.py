"""`livevis render AUDIO --out OUT.mp4`: offline, deterministic, every frame computed, audio muxed."""

from __future__ import annotations

import argparse
import sys

from livevis.commands.run import add_model_arguments, load_model, validate_common
from livevis.errors import LivevisError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("audio", metavar="AUDIO", help="audio or video file (wav, flac, ogg, mp3, m4a, mp4, mkv)")
    parser.add_argument("--out", required=True, metavar="OUT.mp4", help="output video (H.264 + AAC)")
    add_model_arguments(parser)
    parser.add_argument("--fps", type=float, default=30.0, metavar="N", help="frames per second (default 30)")
    parser.add_argument("--size", type=int, default=None, metavar="N",
                        help="render target edge in pixels (default: the generator's resolution); the mp4 "
                             "holds the frame at the generator's resolution with post effects")
    parser.add_argument("--seed", type=int, default=0, help="starting latent seed")
    parser.add_argument("--prompt", default=None, metavar="TEXT", help="starting scene closest to TEXT (bundles with CLIP)")
    parser.add_argument("--no-effects", action="store_true", help="skip the audio-reactive post effect")
    parser.add_argument("--anchor-leak", type=float, default=0.02, metavar="F", help="pull back towards the starting latent per keyframe")


def run(args: argparse.Namespace) -> int:
    import torch
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from livevis.audio import load_audio
    from livevis.pipeline.initial import latent_from_prompt
    from livevis.pipeline.modules import build_live_modules
    from livevis.pipeline.offline import render_offline

    validate_common(args)
    if not str(args.out).lower().endswith((".mp4", ".m4v", ".mov")):
        raise LivevisError(f"--out must be an .mp4 file, got {args.out}")
    bundle, device = load_model(args)
    audio = load_audio(args.audio, bundle.audio.sample_rate)
    if audio.shape[0] == 0:
        raise LivevisError(f"{args.audio}: no audio samples")
    # Deterministic kernels: same inputs -> same frames.
    torch.use_deterministic_algorithms(True, warn_only=True)
    modules = build_live_modules(bundle, backend=args.backend, device=device, precision=args.precision,
                                 progress=lambda msg: print(f"livevis: {msg}", file=sys.stderr))
    size = args.size or modules.resolution
    initial = None
    if args.prompt is not None:
        initial = latent_from_prompt(modules.mapping, modules.synthesis, bundle.clip, modules.z_dim, args.prompt,
                                     seed=args.seed, device=device)
    with Progress(TextColumn("rendering"), BarColumn(), TextColumn("{task.completed}/{task.total} frames"),
                  TimeRemainingColumn(), transient=not sys.stderr.isatty(), console=None) as progress:
        task = progress.add_task("render", total=None)

        def on_frame(k: int, total: int) -> None:
            progress.update(task, completed=k, total=total)

        frames = render_offline(modules, audio, args.out, fps=args.fps, size=size, seed=args.seed, initial_ws=initial,
                                anchor_leak=args.anchor_leak, effects=not args.no_effects, on_frame=on_frame)
    seconds = audio.shape[0] / bundle.audio.sample_rate
    print(f"livevis: wrote {args.out}: {frames} frames at {args.fps:g} fps for {seconds:.2f} s of audio", file=sys.stderr)
    return 0
