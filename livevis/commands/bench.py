"""`livevis bench`: the live path measured per stage on this machine, sequentially, frame by frame.

Each frame runs exactly what a live frame runs (keyframes at the bundle's step rate from a real-time
test signal, interpolation, synthesis, RGBA conversion, PBO upload, post effect + blit into an EGL
framebuffer) in one thread, so per-stage times add up to the frame time. The live show overlaps
inference and display on two threads, so it is at least this fast. Latency is audio-to-photon: from
the arrival of the newest sample a frame saw to the moment its pixels are drawn.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from livevis.commands.run import BACKENDS, add_interop_argument, add_model_arguments, load_model
from livevis.errors import LivevisError

STAGES = ("mel", "encoder", "recurrent", "synthesis", "convert", "upload", "draw")
MIN_KEYFRAMES = 10


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser)
    add_interop_argument(parser)
    parser.add_argument("--backends", default=None, metavar="A,B,..",
                        help=f"several backends side by side in one run (of {', '.join(BACKENDS)}); overrides --backend")
    parser.add_argument("--frames", type=int, default=150, metavar="N", help="frames measured per backend (default 150)")
    parser.add_argument("--warmup", type=int, default=15, metavar="N", help="frames run before measuring (default 15)")
    parser.add_argument("--size", type=int, default=None, metavar="N", help="draw target edge (default: the generator's resolution)")
    parser.add_argument("--input", default="synth:noise", metavar="synth:KIND|PATH", help="audio driving the bench (default synth:noise)")
    parser.add_argument("--json", action="store_true", help="print one JSON object per backend")


def _summary(values: list[float]) -> dict[str, float]:
    import numpy as np

    a = np.asarray(values, dtype=np.float64)
    return {"median": float(np.median(a)), "p95": float(np.percentile(a, 95))}


def bench_modules(bundle, modules, device, backend: str, *, frames: int, warmup: int, size: int | None,
                  input_spec: str, interop: str = "auto") -> dict:
    import torch

    from livevis.audio import open_source
    from livevis.pipeline.initial import latent_from_seed
    from livevis.pipeline.latent import LatentDriver, source_window_reader
    from livevis.pipeline.live import timed
    from livevis.pipeline.modules import RGBAConverter, use_interop
    from livevis.pipeline.reactive import AudioReactivity
    from livevis.pipeline.stats import StageStats
    from livevis.render.frame import Frame
    from livevis.render.offscreen import Offscreen
    from livevis.render.renderer import Renderer

    res = modules.resolution
    size = size or res
    stats = StageStats(window=max(frames, 1) * 4)
    driver = LatentDriver(mel=timed(stats, "mel", modules.mel), encoder=timed(stats, "encoder", modules.encoder),
                          recurrent_step=timed(stats, "recurrent", modules.recurrent_step),
                          hidden_init=modules.hidden_init, window_samples=modules.window_samples,
                          step_samples=modules.step_samples, device=device, max_catchup=1)
    synthesis = timed(stats, "synthesis", modules.synthesis)
    on_device = use_interop(interop, device)
    to_rgba = RGBAConverter(res, device=device, on_device=on_device)
    react = AudioReactivity()
    latencies: list[float] = []
    frame_ms: list[float] = []
    target = Offscreen(size, size)
    renderer = Renderer(target.ctx, res, res)
    source = open_source(input_spec, sample_rate=modules.sample_rate, realtime=True, loop=True)
    reader = source_window_reader(source, modules.window_samples)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    try:
        source.start()
        time.sleep(modules.window_samples / modules.sample_rate * 0.25)  # some audio in the ring
        driver.reset(latent_from_seed(modules.mapping, modules.z_dim, 0, device=device), source.write_index)
        start_all = None
        measured = 0
        i = 0
        with torch.inference_mode():
            # At least `frames` frames and enough keyframes (10/s) for the per-keyframe stages to mean something.
            while measured < frames or stats.count("encoder") < MIN_KEYFRAMES:
                if i == warmup:
                    stats.clear()
                    start_all = time.perf_counter()
                t0 = time.perf_counter()
                index = source.write_index
                ws = driver.advance(index, reader)
                img = synthesis(ws)
                sync()
                with stats.time("convert"):
                    rgba = to_rgba(img)
                level, onset = react.update(source.read_last(min(modules.step_samples, 4096))[0])
                with stats.time("upload"):
                    renderer.upload(Frame(rgba=rgba, audio_index=index, seq=i))
                with stats.time("draw"):
                    target.use()
                    renderer.draw(target.framebuffer_size, post={"level": level, "onset": onset, "time": i / 30.0})
                    target.ctx.finish()
                if i >= warmup:
                    latencies.append((time.monotonic() - source.arrival_time(index)) * 1e3)
                    frame_ms.append((time.perf_counter() - t0) * 1e3)
                    measured += 1
                i += 1
        elapsed = time.perf_counter() - start_all
    finally:
        source.stop()
        renderer.release()
        target.close()
    summary = stats.summary()
    return {
        "backend": backend if backend != "auto" else "auto:" + ",".join(f"{k}={v}" for k, v in modules.backends.items()),
        "backends": modules.backends,
        "device": _device_name(device),
        "size": res,
        "interop": on_device,
        "fps": measured / elapsed,
        "frames": measured,
        "frame_ms": _summary(frame_ms),
        "stages_ms": {s: summary[s] for s in STAGES},
        "latency_ms": _summary(latencies),
        "model": bundle.name,
    }


def _device_name(device) -> str:
    import os

    import torch

    from livevis.engines.cache import cpu_name

    if device.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(device)}"
    return f"cpu: {cpu_name()} ({os.cpu_count()} threads)"


def run(args: argparse.Namespace) -> int:
    from livevis.pipeline.modules import default_backend
    from livevis.util.malloc import tune_glibc_malloc

    if args.frames < 10:
        raise LivevisError(f"--frames must be at least 10, got {args.frames}")
    if args.warmup < 0:
        raise LivevisError(f"--warmup must be 0 or more, got {args.warmup}")

    backends = [b.strip() for b in args.backends.split(",") if b.strip()] if args.backends else []
    unknown = [b for b in backends if b not in BACKENDS]
    if unknown:
        raise LivevisError(f"unknown backend {unknown[0]!r} (choose from {', '.join(BACKENDS)})")
    tune_glibc_malloc()
    bundle, device = load_model(args, quiet=args.json)
    backends = backends or [args.backend or default_backend(device, args.precision)]
    from livevis.pipeline.modules import build_live_modules

    # Build every backend's engines before any GL context exists: torch.compile (inductor) crashes
    # when Mesa's llvmpipe is already loaded in the process.
    built = {b: build_live_modules(bundle, backend=b, device=device, precision=args.precision,
                                   progress=lambda msg: print(f"livevis: {msg}", file=sys.stderr)) for b in backends}
    results = []
    for backend in backends:
        r = bench_modules(bundle, built[backend], device, backend, frames=args.frames, warmup=args.warmup,
                          size=args.size, input_spec=args.input, interop=args.interop)
        results.append(r)
        if args.json:
            print(json.dumps(r), flush=True)
    if not args.json:
        _print_table(results)
    return 0


def _print_table(results: list[dict]) -> None:
    from rich.console import Console
    from rich.table import Table

    base = results[0]
    table = Table(title=f"livevis bench: {base['model']} at {base['size']}px on {base['device']}")
    table.add_column("stage")
    for r in results:
        table.add_column(f"{r['backend']} ms (median / p95)", justify="right")
    for stage in STAGES:
        table.add_row(stage, *[f"{r['stages_ms'][stage]['median']:.2f} / {r['stages_ms'][stage]['p95']:.2f}" for r in results])
    table.add_row("frame", *[f"{r['frame_ms']['median']:.2f} / {r['frame_ms']['p95']:.2f}" for r in results])
    table.add_row("latency", *[f"{r['latency_ms']['median']:.1f} / {r['latency_ms']['p95']:.1f}" for r in results])
    table.add_row("fps", *[f"{r['fps']:.1f}" + (f" ({r['fps'] / base['fps']:.2f}x)" if r is not base else "") for r in results])
    Console().print(table)
