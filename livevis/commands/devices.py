"""`livevis devices`: audio input devices, default marked. Imports no torch."""

from __future__ import annotations

import argparse
import json
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object per device, one per line")


def run(args: argparse.Namespace) -> int:
    from livevis.audio.devices import list_input_devices

    devices = list_input_devices()  # LivevisError without PortAudio or without inputs
    if args.json:
        for d in devices:
            print(json.dumps(d))
        return 0
    if not sys.stdout.isatty():
        for d in devices:
            mark = "*" if d["is_default"] else " "
            print(f"{mark} {d['index']:3d}  {d['name']}  ({d['channels']} ch, {d['default_samplerate']:g} Hz)")
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title="audio inputs (* = default)")
    table.add_column("", width=1)
    table.add_column("index", justify="right")
    table.add_column("name")
    table.add_column("channels", justify="right")
    table.add_column("default rate", justify="right")
    for d in devices:
        table.add_row("*" if d["is_default"] else "", str(d["index"]), d["name"], str(d["channels"]),
                      f"{d['default_samplerate']:g} Hz")
    Console().print(table)
    print("use one with: livevis listen --device INDEX|NAME")
    return 0
