"""`livevis run`: the live visualizer — sound in, StyleGAN frames on screen (or EGL + recording)."""

from __future__ import annotations

import argparse
import sys

from livevis.errors import LivevisError

BACKENDS = ("auto", "eager", "compile", "tensorrt", "onnxruntime")


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """--model / --backend / --compute / --precision, shared by run, render and bench."""
    parser.add_argument("--model", default="default", metavar="BUNDLE|NAME|FILE",
                        help="bundle directory, registry name, an NVlabs .pkl or rosinality .pt generator, or 'default' "
                             "(the embedded bundle; the default)")
    parser.add_argument("--mode", default=None, choices=("learned", "react", "retrieve"),
                        help="what drives the picture: learned (the bundle's sound model; default when it has one), "
                             "react (training-free music reaction, any generator; default otherwise), retrieve "
                             "(sound -> CLIP -> the generator's nearest samples)")
    parser.add_argument("--class", dest="class_index", type=int, default=None, metavar="N",
                        help="class label for conditional generators")
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
    parser.add_argument("--size", type=int, default=None, metavar="N",
                        help="window (or headless framebuffer) edge in pixels: NxN, or the --out-size shape with its "
                             "longer edge N (default: --out-size, else 512x512)")
    from livevis.render.output_options import add_output_arguments

    add_output_arguments(parser, "the window's size")
    parser.add_argument("--fps", type=float, default=30.0, metavar="N", help="render and recording rate (default 30)")
    parser.add_argument("--seconds", type=float, default=None, metavar="S", help="stop after S seconds (default: until q/Esc or the file ends)")
    parser.add_argument("--headless", action="store_true", help="render offscreen through EGL (no window)")
    parser.add_argument("--record", default=None, metavar="OUT.mp4",
                        help="record the program output (--out-size, without the stats overlay), with the input audio, to an mp4")
    parser.add_argument("--record-overlay", action="store_true", help="burn the stats overlay (s key) into the recording too")
    parser.add_argument("--prompt", default=None, metavar="TEXT", help="pick the starting scene closest to TEXT in CLIP space (bundles with CLIP)")
    parser.add_argument("--seed", type=int, default=0, help="starting latent seed (space picks the next one)")
    parser.add_argument("--fullscreen", action="store_true", help="start fullscreen (f toggles)")
    parser.add_argument("--monitor", type=int, default=0, metavar="N", help="monitor for fullscreen (default 0)")
    parser.add_argument("--no-vsync", action="store_true", help="don't wait for vertical sync")
    parser.add_argument("--loop", action="store_true", help="loop a file input")
    parser.add_argument("--playback", action="store_true", help="play a file input through the default output too")
    parser.add_argument("--anchor-leak", type=float, default=0.02, metavar="F",
                        help="per-keyframe pull back towards the starting latent, keeps hours-long shows on the image manifold (default 0.02)")
    parser.add_argument("--output", action="append", default=[], metavar="KIND:TARGET",
                        help="also send the program to v4l2:/dev/videoN (virtual camera), ndi:NAME, syphon:NAME (macOS), "
                             "spout:NAME (Windows) or file:PATH; repeat for several (`livevis outputs` lists them)")
    from livevis.control.options import add_control_arguments

    add_control_arguments(parser)


def validate_common(args: argparse.Namespace) -> None:
    if args.fps is not None and args.fps <= 0:
        raise LivevisError(f"--fps must be positive, got {args.fps:g}")
    if getattr(args, "seconds", None) is not None and args.seconds <= 0:
        raise LivevisError(f"--seconds must be positive, got {args.seconds:g}")
    if args.size is not None and (args.size < 16 or args.size > 8192):
        raise LivevisError(f"--size must be between 16 and 8192, got {args.size}")


def window_and_output(args: argparse.Namespace):
    """((window w, h), OutputOptions) from --size and --out-size: the window takes the output's shape
    (its longer edge --size when both are given); without --out-size the output is the window's size."""
    from livevis.render.output_options import output_options

    if args.out_size is None:
        edge = 512 if args.size is None else args.size
        if edge % 2:
            raise LivevisError(f"--size must be even, got {edge}")
        window = (edge, edge)
        return window, output_options(args, window)
    output = output_options(args, (0, 0))
    w, h = output.out_size
    if args.size is None:
        return (w, h), output
    scale = args.size / max(w, h)
    return (max(16, round(w * scale)), max(16, round(h * scale))), output


GENERATOR_FILES = (".pkl", ".pt", ".pth")


def load_model(args: argparse.Namespace, quiet: bool = False):
    """Resolve and load the bundle named by --model on --compute; print what it is (stand-ins say so).
    A generator file (.pkl / .pt) is played directly: a generator-only bundle in memory."""
    from pathlib import Path

    from livevis.models.bundle import load_bundle
    from livevis.pipeline.modules import resolve_device

    device = resolve_device(args.compute)
    path = Path(str(args.model)).expanduser()
    if path.suffix.lower() in GENERATOR_FILES and path.is_file():
        bundle = generator_bundle(path, device)
    else:
        bundle = load_bundle(args.model, device=device)
    if not quiet:
        kind = "UNTRAINED STAND-IN" if bundle.is_stand_in else "bundle"
        print(f"livevis: model {bundle.name} ({kind}): {bundle.description}", file=sys.stderr)
    return bundle, device


def generator_bundle(path, device):
    """An NVlabs .pkl / rosinality .pt as an in-memory generator-only bundle (engine caches keyed by
    the file's sha256)."""
    from livevis.models.bundle import Bundle
    from livevis.models.download import file_sha256
    from livevis.models.loading import load_generator

    generator = load_generator(path).to(device)
    bundle = Bundle.new(generator, name=path.stem, description=f"generator from {path.name} (no sound model)")
    bundle.weights_key = file_sha256(path)
    return bundle


def pick_mode(args: argparse.Namespace, bundle, modules) -> str:
    """--mode, or the model's default; one clear line when the model cannot run that mode."""
    from livevis.pipeline.scene import check_mode, default_mode

    mode = args.mode or default_mode(modules)
    check_mode(mode, modules, bundle.clip is not None)
    return mode


def show_params(args: argparse.Namespace, mode: str):
    """The live parameter registry for a show, seeded from the command line."""
    from livevis.control import live_params

    params = live_params(mode)
    changes = {"seed": args.seed}
    if getattr(args, "prompt", None):
        changes["prompt"] = args.prompt
    if getattr(args, "anchor_leak", None) is not None:
        changes["anchor_leash"] = args.anchor_leak
    params.set_many(changes)
    return params


def scene_extras(args: argparse.Namespace, bundle, modules, mode: str):
    """(sample bank, text embedder) for retrieve mode and prompts; (None, None) when neither is
    needed. A prompt without a CLIP model is one clear line."""
    import torch

    from livevis.models.sample_bank import cached_sample_bank

    prompt = getattr(args, "prompt", None)
    if prompt is not None and not prompt.strip():
        raise LivevisError("--prompt is empty")
    if mode != "retrieve" and not prompt:
        return None, None
    if bundle.clip is None:
        raise LivevisError("--prompt needs a bundle with a CLIP model (this one has none)")
    bank = cached_sample_bank(bundle, device=modules.device, progress=lambda msg: print(f"livevis: {msg}", file=sys.stderr))
    clip = bundle.clip

    def text_embed(text: str) -> torch.Tensor:
        with torch.inference_mode():
            return clip.encode_text([text]).float()  # [1, D]

    return bank, text_embed


def prepare_scene(args: argparse.Namespace, bundle, device):
    """What run, render and generate set up the same way: the live modules on their backend, the
    mode, the parameter registry, and the bank and text embedder prompts and retrieve need."""
    from livevis.pipeline.modules import build_live_modules

    modules = build_live_modules(bundle, backend=args.backend, device=device, precision=args.precision,
                                 progress=lambda msg: print(f"livevis: {msg}", file=sys.stderr),
                                 class_index=args.class_index)
    mode = pick_mode(args, bundle, modules)
    params = show_params(args, mode)
    bank, text_embed = scene_extras(args, bundle, modules, mode)
    return modules, mode, params, bank, text_embed


def run(args: argparse.Namespace) -> int:
    import torch

    from livevis.audio import open_source
    from livevis.control.hub import ControlHub
    from livevis.control.options import start_controls
    from livevis.control.presets import PresetStore
    from livevis.pipeline.modules import use_interop
    from livevis.pipeline.show import LiveShow, ShowOptions, worker_failure
    from livevis.render.upscale import plan_upscaler, with_upscaler
    from livevis.util.malloc import tune_glibc_malloc

    validate_common(args)
    window, output = window_and_output(args)
    if not 0.0 <= args.anchor_leak < 1.0:
        raise LivevisError(f"--anchor-leak must be in [0, 1), got {args.anchor_leak:g}")
    if not args.headless and args.monitor < 0:
        raise LivevisError(f"--monitor must be 0 or more, got {args.monitor}")
    tune_glibc_malloc()
    from livevis.render.sinks import SinkGroup

    sinks = SinkGroup.from_specs(args.output) if args.output else None  # a bad --output fails before anything starts
    bundle, device = load_model(args)
    source = open_source(args.input, sample_rate=bundle.audio.sample_rate, device=args.device, realtime=True,
                         loop=args.loop, playback=args.playback)
    modules, mode, params, bank, text_embed = prepare_scene(args, bundle, device)
    plan = plan_upscaler(output.upscaler, bundle.upscaler, resolution=modules.resolution, out_size=output.out_size,
                         fps=args.fps, device=device)
    print(f"livevis: output {output.out_size[0]}x{output.out_size[1]} ({output.fit}), {plan.describe()}", file=sys.stderr)
    modules = with_upscaler(modules, plan)
    options = ShowOptions(size=max(window), fps=args.fps, seconds=args.seconds, headless=args.headless,
                          record=args.record, fullscreen=args.fullscreen, monitor=args.monitor,
                          vsync=not args.no_vsync, interop=use_interop(args.interop, device),
                          window_size=window, out_size=output.out_size, fit=output.fit, resample=plan.resample,
                          record_overlay=args.record_overlay)
    def started() -> None:
        where = "offscreen (EGL)" if args.headless else "in the window: q/Esc quit, f fullscreen, space new seed, s stats, e effect"
        print(f"livevis: running on {args.input} at {args.fps:g} fps in {mode} mode, {where}", file=sys.stderr, flush=True)

    show = LiveShow(modules, source, options, params=params, bank=bank, text_embed=text_embed, sinks=sinks)
    hub = ControlHub(params, presets=PresetStore(params=params.params), on_tap=show.tap, state=show.state,
                     model=lambda: str(args.model))
    with start_controls(args, hub, params), torch.inference_mode():
        stats = show.run(on_start=started)
    worker = show.worker
    lat = stats.latency_ms.get("median") if stats.latency_ms else None
    print(f"livevis: {stats.frames_new} frames shown at {stats.fps:.1f} fps"
          + (f", audio-to-photon latency {lat:.0f} ms median" if lat is not None else "")
          + (f", recorded to {args.record}" if args.record else ""), file=sys.stderr)
    if worker is not None and worker.error:
        raise worker_failure(worker)
    return 0
