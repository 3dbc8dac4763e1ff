"""`livevis bench`: the live path measured per stage on this machine, sequentially, frame by frame.

Each frame runs exactly what a live frame runs (live analysis, the mode's driver and the reactive
layer, synthesis, RGBA conversion, PBO upload, post effect + blit into an EGL framebuffer) in one
thread, so per-stage times add up to the frame time. The live show overlaps inference and display on
two threads, so it is at least this fast.

Two different delays are reported:
- latency_ms, processing latency: from the arrival of the newest sample a frame saw to the moment its
  pixels are drawn (what the machine adds);
- response_ms, response delay: from an onset in a click track to half of / the peak of the picture's
  motion, on frames rendered deterministically at 60 fps through the same path (what the latent path
  adds; livevis.eval.response).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from livevis.commands.run import BACKENDS, add_interop_argument, add_model_arguments, load_model
from livevis.errors import LivevisError

STAGES = ("analysis", "react", "mel", "encoder", "recurrent", "synthesis", "upscale", "convert", "upload", "draw")
RESPONSE_FPS = 60.0
MIN_KEYFRAMES = 10


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser)
    add_interop_argument(parser)
    parser.add_argument("--backends", default=None, metavar="A,B,..",
                        help=f"several backends side by side in one run (of {', '.join(BACKENDS)}); overrides --backend")
    parser.add_argument("--frames", type=int, default=150, metavar="N", help="frames measured per backend (default 150)")
    parser.add_argument("--warmup", type=int, default=15, metavar="N", help="frames run before measuring (default 15)")
    parser.add_argument("--size", type=int, default=None, metavar="N", help="square output NxN (same as --out-size NxN)")
    from livevis.render.output_options import add_output_arguments

    add_output_arguments(parser, "the generator's resolution, square")
    parser.add_argument("--input", default="synth:noise", metavar="synth:KIND|PATH", help="audio driving the bench (default synth:noise)")
    parser.add_argument("--json", action="store_true", help="print one JSON object per backend")
    parser.add_argument("--seed", type=int, default=0, help="starting latent seed")


def _summary(values: list[float]) -> dict[str, float]:
    import numpy as np

    a = np.asarray(values, dtype=np.float64)
    return {"median": float(np.median(a)), "p95": float(np.percentile(a, 95))}


def bench_modules(bundle, modules, device, backend: str, *, frames: int, warmup: int, size: int | None,
                  input_spec: str, params, interop: str = "auto", bank=None, text_embed=None,
                  out_size: tuple[int, int] | None = None, fit: str = "cover", plan=None) -> dict:
    """plan: a livevis.render.upscale.UpscalePlan (None: lanczos); out_size (w, h) of the program frame
    (default: size x size, else the generator's resolution)."""
    import dataclasses

    import numpy as np
    import torch

    from livevis.audio import open_source
    from livevis.eval.response import measure_response
    from livevis.pipeline.latent import source_window_reader
    from livevis.pipeline.live import timed
    from livevis.pipeline.scene import SceneDriver
    from livevis.pipeline.modules import RGBAConverter, use_interop
    from livevis.pipeline.reactive import AudioReactivity
    from livevis.pipeline.stats import StageStats
    from livevis.render.frame import Frame
    from livevis.render.offscreen import Offscreen
    from livevis.render.renderer import Renderer

    from livevis.render.upscale import UpscalePlan, with_upscaler

    gen_res = modules.resolution
    out_w, out_h = out_size or ((size, size) if size else (gen_res, gen_res))
    plan = plan or UpscalePlan("lanczos", "lanczos", None)
    stats = StageStats(window=max(frames, 1) * 4)
    response = measure_response(modules, params, fps=RESPONSE_FPS, bank=bank, text_embed=text_embed)
    timed_modules = dataclasses.replace(
        modules, mel=timed(stats, "mel", modules.mel),
        encoder=None if modules.encoder is None else timed(stats, "encoder", modules.encoder),
        recurrent_step=None if modules.recurrent_step is None else timed(stats, "recurrent", modules.recurrent_step))
    scene = SceneDriver(timed_modules, params, max_catchup=1, bank=bank, text_embed=text_embed, stats=stats)
    keyframes_needed = MIN_KEYFRAMES if params["mode"] in ("learned", "retrieve") else 0
    fresh = np.zeros(modules.sample_rate, dtype=np.float32)
    synthesis = timed(stats, "synthesis", modules.synthesis)
    # The learned upscaler (if any) runs right after synthesis on the model's device, timed on its own.
    synthesis = with_upscaler(dataclasses.replace(modules, synthesis=synthesis), plan,
                              wrap=lambda f: timed(stats, "upscale", f)).synthesis
    res = gen_res * (plan.upscaler.scale if plan.upscaler is not None else 1)
    on_device = use_interop(interop, device)
    to_rgba = RGBAConverter(res, device=device, on_device=on_device)
    react = AudioReactivity()
    latencies: list[float] = []
    frame_ms: list[float] = []
    target = Offscreen(out_w, out_h)
    renderer = Renderer(target.ctx, res, res, out_size=(out_w, out_h), fit=fit, resample=plan.resample)
    source = open_source(input_spec, sample_rate=modules.sample_rate, realtime=True, loop=True)
    reader = source_window_reader(source, modules.window_samples)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    try:
        source.start()
        time.sleep(modules.window_samples / modules.sample_rate * 0.25)  # some audio in the ring
        last = source.write_index
        scene.reset(last)
        start_all = None
        measured = 0
        i = 0
        with torch.inference_mode():
            # At least `frames` frames and enough keyframes (10/s) for the per-keyframe stages to mean something.
            while measured < frames or stats.count("encoder") < keyframes_needed:
                if i == warmup:
                    stats.clear()
                    start_all = time.perf_counter()
                t0 = time.perf_counter()
                index = source.write_index
                n = min(max(index - last, 0), fresh.shape[0])
                new_audio = source.read(index - n, n, fresh[:n])
                last = index
                ws = scene.frame(index, new_audio, reader)
                img = synthesis(ws)
                sync()
                with stats.time("convert"):
                    rgba = to_rgba(img)
                level, onset = react.update(new_audio)
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
        "size": gen_res,
        "out_size": [out_w, out_h],
        "fit": fit,
        "upscaler": plan.name,
        "upscaler_reason": plan.reason,
        "interop": on_device,
        "fps": measured / elapsed,
        "frames": measured,
        "frame_ms": _summary(frame_ms),
        # A stage this mode does not run (react: no encoder, no recurrent step) costs 0 ms.
        "stages_ms": {s: summary.get(s, {"median": 0.0, "p95": 0.0}) for s in STAGES},
        "latency_ms": _summary(latencies),
        "response_ms": {"half": response["half"], "peak": response["peak"], "fps": RESPONSE_FPS, "hits": response["hits"]},
        "mode": params["mode"],
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
    from livevis.commands.run import pick_mode, scene_extras, show_params
    from livevis.pipeline.modules import default_backend
    from livevis.util.malloc import tune_glibc_malloc

    if args.frames < 10:
        raise LivevisError(f"--frames must be at least 10, got {args.frames}")
    if args.warmup < 0:
        raise LivevisError(f"--warmup must be 0 or more, got {args.warmup}")
    from livevis.render.output_options import output_options
    from livevis.render.upscale import plan_upscaler

    if args.size is not None and args.out_size is not None:
        raise LivevisError("give --out-size or --size, not both")
    if args.size is not None:
        args.out_size = f"{args.size}x{args.size}"
    output = output_options(args, (0, 0))  # (0, 0): the generator's resolution, known once built

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
                                   progress=lambda msg: print(f"livevis: {msg}", file=sys.stderr),
                                   class_index=args.class_index) for b in backends}
    first = built[backends[0]]
    mode = pick_mode(args, bundle, first)
    args.prompt = None
    bank, text_embed = scene_extras(args, bundle, first, mode)
    out_size = output.out_size if args.out_size is not None else (first.resolution, first.resolution)
    # The bench's own pace is as fast as it goes: auto judges the learned upscaler against 60 fps.
    plan = plan_upscaler(output.upscaler, bundle.upscaler, resolution=first.resolution, out_size=out_size,
                         fps=60.0, device=device)
    results = []
    for backend in backends:
        r = bench_modules(bundle, built[backend], device, backend, frames=args.frames, warmup=args.warmup,
                          size=None, input_spec=args.input, params=show_params(args, mode), interop=args.interop,
                          bank=bank, text_embed=text_embed, out_size=out_size, fit=output.fit, plan=plan)
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
    out = base["out_size"]
    table = Table(title=f"livevis bench: {base['model']} at {base['size']}px -> {out[0]}x{out[1]} "
                        f"({base['fit']}, upscaler {base['upscaler']}) on {base['device']}")
    table.add_column("stage")
    for r in results:
        table.add_column(f"{r['backend']} ms (median / p95)", justify="right")
    for stage in STAGES:
        table.add_row(stage, *[f"{r['stages_ms'][stage]['median']:.2f} / {r['stages_ms'][stage]['p95']:.2f}" for r in results])
    table.add_row("frame", *[f"{r['frame_ms']['median']:.2f} / {r['frame_ms']['p95']:.2f}" for r in results])
    table.add_row("processing latency", *[f"{r['latency_ms']['median']:.1f} / {r['latency_ms']['p95']:.1f}" for r in results])
    table.add_row("response delay (half / peak)", *[f"{r['response_ms']['half']:.0f} / {r['response_ms']['peak']:.0f}" for r in results])
    table.add_row("fps", *[f"{r['fps']:.1f}" + (f" ({r['fps'] / base['fps']:.2f}x)" if r is not base else "") for r in results])
    Console().print(table)
