"""`livevis run`: the live visualizer — sound in, StyleGAN frames on screen (or EGL + recording)."""

from __future__ import annotations

import argparse
import sys

from livevis.errors import LivevisError

BACKENDS = ("auto", "eager", "compile", "tensorrt", "onnxruntime")


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """--model / --backend / --compute / --precision, shared by run, render and bench."""
    parser.add_argument("--model", default="default", metavar="BUNDLE|NAME",
                        help="bundle directory, registry name, or 'default' (the embedded bundle; the default)")
    parser.add_argument("--backend", default=None, choices=BACKENDS,
                        help="inference backend (default: onnxruntime on CPU, eager on CUDA; engines are built once "
                             "and cached; auto measures the candidates once and remembers the fastest that passes parity)")
    parser.add_argument("--compute", default="auto", metavar="DEVICE",
                        help="torch device for the models: auto (cuda if available), cpu, cuda, cuda:N")
    parser.add_argument("--precision", default="fp32", choices=("fp32", "fp16", "bf16"),
                        help="engine precision (fp16 needs CUDA; bf16 for eager/compile on recent CPUs); "
                             "engines from `livevis build-engines --precision P` are reused")


def add_interop_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--interop", default="auto", choices=("auto", "on", "off"),
                        help="CUDA-GL interop: frames go from the GPU to the GL texture without a host copy "
                             "(auto: when the models run on CUDA and cuda-python is installed)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", default="mic", metavar="mic|PATH|synth:KIND",
                        help="audio input: the microphone, an audio/video file, or a test signal "
                             "(synth:sine, sweep, noise, clicks, silence; e.g. synth:clicks@120)")
    parser.add_argument("--device", default=None, metavar="D", help="input device index or name substring (see `livevis devices`)")
    add_model_arguments(parser)
    add_interop_argument(parser)
    parser.add_argument("--size", type=int, default=512, metavar="N", help="window (or headless output) edge in pixels (default 512)")
    parser.add_argument("--fps", type=float, default=30.0, metavar="N", help="render and recording rate (default 30)")
    parser.add_argument("--seconds", type=float, default=None, metavar="S", help="stop after S seconds (default: until q/Esc or the file ends)")
    parser.add_argument("--headless", action="store_true", help="render offscreen through EGL (no window)")
    parser.add_argument("--record", default=None, metavar="OUT.mp4", help="record what is shown, with the input audio, to an mp4")
    parser.add_argument("--prompt", default=None, metavar="TEXT", help="pick the starting scene closest to TEXT in CLIP space (bundles with CLIP)")
    parser.add_argument("--seed", type=int, default=0, help="starting latent seed (space picks the next one)")
    parser.add_argument("--fullscreen", action="store_true", help="start fullscreen (f toggles)")
    parser.add_argument("--monitor", type=int, default=0, metavar="N", help="monitor for fullscreen (default 0)")
    parser.add_argument("--no-vsync", action="store_true", help="don't wait for vertical sync")
    parser.add_argument("--loop", action="store_true", help="loop a file input")
    parser.add_argument("--playback", action="store_true", help="play a file input through the default output too")
    parser.add_argument("--anchor-leak", type=float, default=0.02, metavar="F",
                        help="per-keyframe pull back towards the starting latent, keeps hours-long shows on the image manifold (default 0.02)")


def validate_common(args: argparse.Namespace) -> None:
    if args.fps is not None and args.fps <= 0:
        raise LivevisError(f"--fps must be positive, got {args.fps:g}")
    if getattr(args, "seconds", None) is not None and args.seconds <= 0:
        raise LivevisError(f"--seconds must be positive, got {args.seconds:g}")
    if args.size is not None and (args.size < 16 or args.size > 8192):
        raise LivevisError(f"--size must be between 16 and 8192, got {args.size}")


def load_model(args: argparse.Namespace, quiet: bool = False):
    """Resolve and load the bundle named by --model on --compute; print what it is (stand-ins say so)."""
    from livevis.models.bundle import load_bundle
    from livevis.pipeline.modules import resolve_device

    device = resolve_device(args.compute)
    bundle = load_bundle(args.model, device=device)
    if not quiet:
        kind = "UNTRAINED STAND-IN" if bundle.is_stand_in else "bundle"
        print(f"livevis: model {bundle.name} ({kind}): {bundle.description}", file=sys.stderr)
    return bundle, device


def run(args: argparse.Namespace) -> int:
    import torch

    from livevis.audio import open_source
    from livevis.pipeline.initial import latent_from_prompt
    from livevis.pipeline.modules import build_live_modules, use_interop
    from livevis.pipeline.show import LiveShow, ShowOptions, worker_failure
    from livevis.util.malloc import tune_glibc_malloc

    validate_common(args)
    if args.size % 2:
        raise LivevisError(f"--size must be even, got {args.size}")
    if not 0.0 <= args.anchor_leak < 1.0:
        raise LivevisError(f"--anchor-leak must be in [0, 1), got {args.anchor_leak:g}")
    if not args.headless and args.monitor < 0:
        raise LivevisError(f"--monitor must be 0 or more, got {args.monitor}")
    tune_glibc_malloc()
    bundle, device = load_model(args)
    source = open_source(args.input, sample_rate=bundle.audio.sample_rate, device=args.device, realtime=True,
                         loop=args.loop, playback=args.playback)
    modules = build_live_modules(bundle, backend=args.backend, device=device, precision=args.precision,
                                 progress=lambda msg: print(f"livevis: {msg}", file=sys.stderr))
    initial = None
    if args.prompt is not None:
        initial = latent_from_prompt(modules.mapping, modules.synthesis, bundle.clip, modules.z_dim, args.prompt,
                                     seed=args.seed, device=device)
    options = ShowOptions(size=args.size, fps=args.fps, seconds=args.seconds, headless=args.headless,
                          record=args.record, seed=args.seed, fullscreen=args.fullscreen, monitor=args.monitor,
                          vsync=not args.no_vsync, anchor_leak=args.anchor_leak,
                          interop=use_interop(args.interop, device))
    def started() -> None:
        where = "offscreen (EGL)" if args.headless else "in the window: q/Esc quit, f fullscreen, space new seed, s stats, e effect"
        print(f"livevis: running on {args.input} at {args.fps:g} fps, {where}", file=sys.stderr, flush=True)

    show = LiveShow(modules, source, options, initial_ws=initial)
    with torch.inference_mode():
        stats = show.run(on_start=started)
    worker = show.worker
    lat = stats.latency_ms.get("median") if stats.latency_ms else None
    print(f"livevis: {stats.frames_new} frames shown at {stats.fps:.1f} fps"
          + (f", audio-to-photon latency {lat:.0f} ms median" if lat is not None else "")
          + (f", recorded to {args.record}" if args.record else ""), file=sys.stderr)
    if worker is not None and worker.error:
        raise worker_failure(worker)
    return 0
