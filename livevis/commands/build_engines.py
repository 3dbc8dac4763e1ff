"""`livevis build-engines`: compile a bundle's live modules ahead of a show and report the speed-up."""

from __future__ import annotations

import argparse

from livevis.errors import LivevisError

BACKEND_CHOICES = ("auto", "eager", "compile", "onnxruntime", "tensorrt")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default="default", metavar="BUNDLE",
                        help="bundle directory, registry name or 'default' (default: default)")
    parser.add_argument("--backend", default="auto", choices=BACKEND_CHOICES,
                        help="auto measures every backend available here and remembers the fastest that "
                             "passes the parity gate (default: auto)")
    parser.add_argument("--precision", default="fp32", choices=("fp32", "fp16", "bf16"),
                        help="fp16 needs a CUDA GPU; bf16 runs on CPU with eager/compile (default: fp32)")
    parser.add_argument("--size", type=int, default=None, metavar="N",
                        help="output resolution to build for; StyleGAN synthesis is fixed at the resolution "
                             "it was trained at, so N must equal it (the window scales the image for display)")
    parser.add_argument("--remeasure", action="store_true",
                        help="with --backend auto: measure all candidates again instead of reusing the "
                             "remembered choice")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"),
                        help="where the engines run (default: cuda if available, else cpu)")


def _device(choice: str):
    import torch

    if choice == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if choice == "cuda" and not torch.cuda.is_available():
        raise LivevisError("--device cuda: no CUDA GPU is visible to torch")
    return torch.device(choice)


def run(args: argparse.Namespace) -> int:
    from livevis.engines.report import build_bundle_engines
    from livevis.models.bundle import bundle_sha256, load_bundle
    from livevis.models.resolve import resolve_model

    device = _device(args.device)
    path = resolve_model(args.model)
    bundle = load_bundle(path, device=device, load_clip=False)  # CLIP is not on the live path
    resolution = bundle.generator.img_resolution
    if args.size is not None and args.size != resolution:
        raise LivevisError(f"--size {args.size}: this bundle's generator was trained at {resolution}x{resolution} "
                           f"and synthesis only runs at that size (the display scales it)")
    print(f"building {bundle.name or path.name} ({resolution}x{resolution}) on {device} "
          f"with {args.backend}/{args.precision}", flush=True)

    def progress(line: str) -> None:
        print(line, flush=True)

    # each module's row is printed as soon as it is built and measured
    build_bundle_engines(bundle, backend=args.backend, precision=args.precision, weights_key=bundle_sha256(path),
                         device=device, progress=progress, remeasure=args.remeasure)
    return 0
