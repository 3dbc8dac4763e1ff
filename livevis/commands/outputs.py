"""`livevis outputs`: the video outputs (--output KIND:TARGET) this machine offers, and why the others
are not there (module or extra missing, no device, wrong platform). Imports no torch."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object per output kind, one per line")


def run(args: argparse.Namespace) -> int:
    from livevis.render.sinks.registry import list_outputs

    kinds = list_outputs()
    if args.json:
        for k in kinds:
            print(json.dumps(dataclasses.asdict(k)))
        return 0
    if not sys.stdout.isatty():
        for k in kinds:
            mark = "+" if k.available else "-"
            print(f"{mark} {k.kind:7s} {'available' if k.available else 'unavailable'}: {k.reason}")
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title="video outputs (--output KIND:TARGET)")
    table.add_column("kind")
    table.add_column("available")
    table.add_column("details / why not")
    table.add_column("example")
    table.add_column("extra")
    for k in kinds:
        table.add_row(k.kind, "yes" if k.available else "no", k.reason, k.example, k.extra or "core")
    Console().print(table)
    print("use them with: livevis run ... --output KIND:TARGET (any number at once)")
    return 0
