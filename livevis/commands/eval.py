"""`livevis eval --model BUNDLE --data DATA`: semantic accuracy, sync and CLIP similarity on held-out
clips, against the same generator driven by a random latent walk (see livevis.eval.report)."""

from __future__ import annotations

import argparse
import json
import sys

from livevis.errors import LivevisError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default="default", metavar="BUNDLE|NAME",
                        help="bundle directory, registry name, or 'default' (the embedded bundle; the default)")
    parser.add_argument("--data", required=True, metavar="DATA",
                        help="dataset written by `livevis prepare` (split 'val' is measured, 'train' teaches the classifier)")
    parser.add_argument("--clips", type=int, default=None, metavar="N",
                        help="measure at most N held-out clips, balanced over classes (default: all)")
    parser.add_argument("--seed", type=int, default=0, metavar="S", help="seed of the starting latents, the baseline walk and the classifier")
    parser.add_argument("--compute", default="cpu", metavar="DEVICE", help="torch device: cpu (default), cuda, cuda:N, auto")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.add_argument("--grid", metavar="PNG", default=None,
                        help="also write a picture: per class, a real held-out frame, then the frames generated "
                             "from that clip's sound (every other step), then the random walk's")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    import torch

    from livevis.eval.grid import ClassGrid
    from livevis.eval.report import evaluate, render_table
    from livevis.models.bundle import load_bundle
    from livevis.pipeline.modules import resolve_device

    if args.clips is not None and args.clips < 1:
        raise LivevisError(f"--clips must be positive, got {args.clips}")
    if not Path(args.data).is_dir():
        raise LivevisError(f"no dataset at {args.data} (make one with `livevis prepare`)")
    device = resolve_device(args.compute)
    bundle = load_bundle(args.model, device=device)
    torch.use_deterministic_algorithms(True, warn_only=True)  # same inputs -> same figures

    def progress(msg: str) -> None:
        if sys.stderr.isatty():
            print(f"livevis eval: {msg}", file=sys.stderr)

    if args.grid is not None and not Path(args.grid).resolve().parent.is_dir():
        raise LivevisError(f"--grid {args.grid}: no such folder")
    grid = ClassGrid() if args.grid else None
    result = evaluate(bundle, args.data, clips=args.clips, seed=args.seed, device=device, progress=progress,
                      on_frames=grid.add if grid else None)
    if grid is not None:
        grid.save(args.grid)
    if args.json:
        print(json.dumps(result))
    else:
        from rich.console import Console

        Console().print(render_table(result))
        for note in result["notes"]:
            print(f"note: {note}")
    return 0
