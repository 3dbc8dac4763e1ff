"""`livevis render AUDIO --out OUT.mp4`: offline, deterministic, every frame computed, audio muxed."""

from __future__ import annotations

import argparse
import sys

from livevis.commands.run import add_model_arguments, load_model, prepare_scene, validate_common
from livevis.errors import LivevisError

DEFAULT_OUT_SIZE = (1920, 1080)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("audio", metavar="AUDIO", help="audio or video file (wav, flac, ogg, mp3, m4a, mp4, mkv)")
    parser.add_argument("--out", required=True, metavar="OUT.mp4", help="output video (H.264 + AAC)")
    add_model_arguments(parser)
    parser.add_argument("--fps", type=float, default=30.0, metavar="N", help="frames per second (default 30)")
    parser.add_argument("--size", type=int, default=None, metavar="N",
                        help="square output NxN (same as --out-size NxN)")
    from livevis.render.output_options import add_output_arguments

    add_output_arguments(parser, f"{DEFAULT_OUT_SIZE[0]}x{DEFAULT_OUT_SIZE[1]}")
    parser.add_argument("--seed", type=int, default=0, help="starting latent seed")
    parser.add_argument("--prompt", default=None, metavar="TEXT", help="starting scene closest to TEXT (bundles with CLIP)")
    parser.add_argument("--no-effects", action="store_true", help="skip the audio-reactive post effect")
    parser.add_argument("--anchor-leak", type=float, default=0.02, metavar="F", help="pull back towards the starting latent per keyframe")


def run(args: argparse.Namespace) -> int:
    import torch
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from livevis.audio import load_audio
    from livevis.audio.program_audio import load_program_audio
    from livevis.pipeline.offline import render_offline
    from livevis.render.output_options import output_options
    from livevis.render.upscale import plan_upscaler, with_upscaler

    validate_common(args)
    if not str(args.out).lower().endswith((".mp4", ".m4v", ".mov")):
        raise LivevisError(f"--out must be an .mp4 file, got {args.out}")
    if args.size is not None and args.out_size is not None:
        raise LivevisError("give --out-size or --size, not both")
    if args.size is not None:
        args.out_size = f"{args.size}x{args.size}"
    output = output_options(args, DEFAULT_OUT_SIZE)
    bundle, device = load_model(args)
    audio = load_audio(args.audio, bundle.audio.sample_rate)
    if audio.shape[0] == 0:
        raise LivevisError(f"{args.audio}: no audio samples")
    program = load_program_audio(args.audio)  # muxed as is: the file's own rate and channels
    # Deterministic kernels: same inputs -> same frames.
    torch.use_deterministic_algorithms(True, warn_only=True)
    modules, mode, params, bank, text_embed = prepare_scene(args, bundle, device)
    # Offline has no frame rate to hold: auto takes the learned upscaler whenever the model has one.
    plan = plan_upscaler(output.upscaler, bundle.upscaler, resolution=modules.resolution, out_size=output.out_size,
                         fps=None, device=device)
    print(f"livevis: output {output.out_size[0]}x{output.out_size[1]} ({output.fit}), {plan.describe()}", file=sys.stderr)
    modules = with_upscaler(modules, plan)
    with Progress(TextColumn("rendering"), BarColumn(), TextColumn("{task.completed}/{task.total} frames"),
                  TimeRemainingColumn(), transient=not sys.stderr.isatty(), console=None) as progress:
        task = progress.add_task("render", total=None)

        def on_frame(k: int, total: int) -> None:
            progress.update(task, completed=k, total=total)

        frames = render_offline(modules, audio, args.out, fps=args.fps, out_size=output.out_size, fit=output.fit,
                                resample=plan.resample, params=params, bank=bank,
                                text_embed=text_embed, effects=not args.no_effects, program=program, on_frame=on_frame)
    seconds = audio.shape[0] / bundle.audio.sample_rate
    print(f"livevis: wrote {args.out}: {frames} frames at {args.fps:g} fps for {seconds:.2f} s of audio ({mode} mode)", file=sys.stderr)
    return 0
