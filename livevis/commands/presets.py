"""`livevis presets list|show NAME`: the saved presets of live parameter values. Imports no torch."""

from __future__ import annotations

import argparse
import json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("list", "show"), help="list: saved presets; show NAME|FILE: one preset's values")
    parser.add_argument("name", nargs="?", default=None, metavar="NAME|FILE", help="for show: a saved name or a preset file")
    parser.add_argument("--json", action="store_true", help="show: print the preset file's JSON")


def run(args: argparse.Namespace) -> int:
    from livevis.control.catalog import PARAMS
    from livevis.control.presets import PresetStore
    from livevis.errors import LivevisError

    store = PresetStore()
    if args.action == "list":
        names = store.names()
        if not names:
            print(f"no presets yet (save one from the web page or with /livevis/preset/save NAME; folder: {store.root})")
            return 0
        for name in names:
            print(name)
        return 0
    if not args.name:
        raise LivevisError("presets show needs a preset NAME or FILE (see `livevis presets list`)")
    preset = store.resolve(args.name)
    if args.json:
        print(json.dumps(preset.to_json(), indent=1))
        return 0
    p = preset.params
    print(f"preset {preset.name}" + (f"  ({preset.path})" if preset.path else ""))
    print(f"  model   {preset.model or '(not recorded)'}")
    for key in ("mode", "prompt", "seed"):
        if key in p:
            print(f"  {key:<7} {p[key]!r}" if key == "prompt" else f"  {key:<7} {p[key]}")
    if preset.latent is not None:
        print(f"  latent  {list(preset.latent.shape)}")
    group = None
    for spec in PARAMS:  # catalog order, by group
        if spec.name not in p or spec.name in ("mode", "prompt", "seed"):
            continue
        if spec.group != group:
            group = spec.group
            print(f"  [{group}]")
        v = p[spec.name]
        shown = f"{v:g}" if isinstance(v, float) else str(v).lower() if isinstance(v, bool) else str(v)
        print(f"    {spec.name:<18} {shown}{' ' + spec.unit if spec.unit else ''}")
    return 0
