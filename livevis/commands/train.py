"""`livevis train STAGE --data DATA --out RUN`: train one stage (see livevis.training.stages).

Common flags live here; a stage adds its own through its module's add_arguments. The run folder
gets the full config (config.json), metrics.csv, checkpoints/ and samples/; --resume continues a
run exactly where its last checkpoint left it. Under torchrun the same command trains data-parallel.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path
from typing import Any

from livevis.errors import LivevisError


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", required=True, metavar="DATA", help="dataset folder written by `livevis prepare`")
    p.add_argument("--out", required=True, metavar="RUN", help="run folder (config, metrics, checkpoints, samples, results)")
    p.add_argument("--preset", default="default", metavar="NAME", help="hyper-parameter preset: tiny (seconds on CPU) or default")
    p.add_argument("--steps", type=int, metavar="N", help="stop after N optimisation steps (default: the preset's)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its latest checkpoint")
    p.add_argument("--generator", metavar="PATH", help="frozen generator: NVlabs .pkl, rosinality .pt or a livevis bundle")
    p.add_argument("--clip", metavar="SPEC", help="CLIP: MODEL:PRETRAINED (open_clip tag or local weights file), "
                   "bundle:PATH (a bundle's or an audio run's CLIP), or tiny[:SEED] (random, for tests)")
    p.add_argument("--batch", type=int, metavar="N", help="global batch size over all processes (default: the preset's)")
    p.add_argument("--seed", type=int, metavar="S", help="run seed: latents, batches, augmentations (default: the preset's)")
    p.add_argument("--ckpt-every", type=int, metavar="N", help="checkpoint every N steps (default: the preset's)")
    p.add_argument("--device", default=None, metavar="cpu|cuda", help="training device (default: cuda when available)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config entry, dotted keys, JSON values (e.g. --set loss.w_intra=0.5); repeatable")


class _StageParsers(argparse._SubParsersAction):
    """Sub-parsers that import a stage's module (and add its own flags) only once it is chosen, so a
    broken or heavy stage never slows down or breaks another."""

    def __call__(self, parser, namespace, values, option_string=None):
        from livevis.training.stages import load_stage

        name = values[0]
        sub = self._name_parser_map.get(name)
        if sub is not None and not getattr(sub, "_stage_flags_added", False):
            module = load_stage(name)
            if hasattr(module, "add_arguments"):
                module.add_arguments(sub)
            sub._stage_flags_added = True
        super().__call__(parser, namespace, values, option_string)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from livevis.training.stages import STAGES

    parser.register("action", "stage_parsers", _StageParsers)
    sub = parser.add_subparsers(dest="stage", metavar="STAGE", required=True, action="stage_parsers")
    for name in STAGES:
        p = sub.add_parser(name, help=f"train the {name} stage", description=f"livevis train {name}: see `livevis train {name} --help`")
        _add_common(p)


def apply_override(config: dict[str, Any], item: str) -> None:
    """`a.b=VALUE` -> config["a"]["b"] = json(VALUE) (a bare word stays a string); the key must exist."""
    key, sep, text = item.partition("=")
    if not sep or not key:
        raise LivevisError(f"--set expects KEY=VALUE, got {item!r}")
    try:
        value = json.loads(text)
    except ValueError:
        value = text
    node = config
    parts = key.split(".")
    for i, part in enumerate(parts):
        if not isinstance(node, dict) or part not in node:
            raise LivevisError(f"--set {key}: no config entry {'.'.join(parts[:i + 1])!r} in this stage's preset")
        if i == len(parts) - 1:
            node[part] = value
        else:
            node = node[part]


def build_config(args: argparse.Namespace, module) -> dict[str, Any]:
    """The run's config: the preset, then the common flags, then --set, then the stage's configure."""
    if args.preset not in module.PRESETS:
        raise LivevisError(f"unknown preset {args.preset!r} for stage {args.stage} (known: {', '.join(module.PRESETS)})")
    config = copy.deepcopy(module.PRESETS[args.preset])
    config.update(stage=args.stage, preset=args.preset, data=str(Path(args.data)))
    for flag, key in (("steps", "steps"), ("batch", "batch"), ("seed", "seed"), ("ckpt_every", "ckpt_every")):
        value = getattr(args, flag)
        if value is not None:
            if value < (0 if key == "steps" else 1) and key != "seed":
                raise LivevisError(f"--{flag.replace('_', '-')} must be {'>= 0' if key == 'steps' else 'positive'}, got {value}")
            config[key] = value
    if args.generator is not None:
        config["generator"] = str(args.generator)
    if args.clip is not None:
        config["clip"] = args.clip
    for item in args.set:
        apply_override(config, item)
    if hasattr(module, "configure"):
        config = module.configure(args, config)
    return config


def _check_data(data: Path) -> None:
    from livevis.training.data import ClipDataset

    if not data.is_dir():
        raise LivevisError(f"no dataset at {data} (make one with `livevis prepare`)")
    ClipDataset(data, "train")  # raises a one-line LivevisError for a missing index or no clips


def _print_throughput(run_, stage: str) -> None:
    """Steps and clips per second over the logged steps after the first (which includes warm-up)."""
    rows = run_.read_metrics()
    first = len(rows) - 1
    while first > 0 and rows[first - 1]["seconds"] <= rows[first]["seconds"]:  # this session's rows only
        first -= 1
    rows = rows[first:]
    if len(rows) < 3:
        return
    seconds = rows[-1]["seconds"] - rows[0]["seconds"]
    steps = len(rows) - 1
    if seconds > 0:
        batch = run_.config.get("batch", 0)
        print(f"livevis train {stage}: {steps / seconds:.3g} steps/s, {batch * steps / seconds:.3g} clips/s "
              f"(batch {batch}, {steps} steps after the first)", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    import os

    # Exact --resume on CPU: MKL's strict conditional-numerical-reproducibility mode makes BLAS
    # reductions independent of buffer alignment (which varies with a process's allocation
    # history), at a few percent of speed. Read when MKL first runs, so set before any torch work.
    os.environ.setdefault("MKL_CBWR", "AUTO,STRICT")
    from livevis.training import distributed
    from livevis.training.run import Run
    from livevis.training.stages import load_stage

    module = load_stage(args.stage)
    config = build_config(args, module)
    _check_data(Path(args.data))  # before the run folder exists: a bad --data leaves nothing behind
    dist = distributed.init_distributed(args.device)
    try:
        run_ = Run(args.out, config, resume=args.resume, is_main=dist.is_main)
        distributed.barrier()  # other ranks must not look into RUN before the main rank created it
        product = module.train(args, run_, dist)
        if dist.is_main:
            _print_throughput(run_, args.stage)
            print(f"livevis train {args.stage}: done, run in {run_.dir}" + (f", result {product}" if product else ""),
                  file=sys.stderr)
    finally:
        distributed.shutdown()
    return 0
