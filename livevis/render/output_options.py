"""The output-stage command-line options shared by run, render and bench: --out-size, --fit,
--upscaler (and --record-overlay for run). Parsed into an OutputOptions before anything starts, so a
bad value is one clear line and nothing is opened."""

from __future__ import annotations

import argparse
import dataclasses

from livevis.render.output_stage import FITS, check_fit, parse_size
from livevis.render.upscale import UPSCALERS, check_choice

DEFAULT_FIT = "cover"  # fill the output (no black bars on a projector); `contain` keeps the whole frame


@dataclasses.dataclass(frozen=True)
class OutputOptions:
    out_size: tuple[int, int]  # program frame (w, h)
    fit: str                   # contain | cover | stretch
    upscaler: str              # auto | learned | lanczos | none


def add_output_arguments(parser: argparse.ArgumentParser, default_help: str) -> None:
    parser.add_argument("--out-size", default=None, metavar="WxH",
                        help=f"output (program) frame size, even numbers, e.g. 1920x1080 (default: {default_help}); "
                             "what is shown, recorded and sent to --output")
    parser.add_argument("--fit", default=DEFAULT_FIT, metavar="|".join(FITS),
                        help="how the frame fills an output of another aspect: cover (fill, crop the edges; the default: "
                             "no bars on a projector), contain (whole frame, black bars), stretch")
    parser.add_argument("--upscaler", default="auto", metavar="|".join(UPSCALERS),
                        help="frame -> output resampling: learned (the bundle's network, then lanczos), lanczos (GL "
                             "Lanczos-3), none (bilinear), auto (learned when the bundle has one and it holds the "
                             "frame rate here, else lanczos; the default)")


def output_options(args: argparse.Namespace, default_size: tuple[int, int]) -> OutputOptions:
    """Validate --out-size / --fit / --upscaler (one clear line each) with `default_size` for no --out-size."""
    size = parse_size(args.out_size) if args.out_size is not None else default_size
    return OutputOptions(out_size=size, fit=check_fit(args.fit), upscaler=check_choice(args.upscaler))
