"""`livevis midi ports|mappings`: MIDI input ports, and the saved MIDI mappings. Imports no torch."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("ports", "mappings"),
                        help="ports: list MIDI input ports (use one with `livevis run --midi PORT`); "
                             "mappings: show the learnt mappings and where they are saved")


def run(args: argparse.Namespace) -> int:
    from livevis.control import midi

    if args.action == "ports":
        why = midi.alsa_sequencer_missing()
        if why:
            print(f"no MIDI ports: {why}")
            return 0
        names = midi.input_names()  # LivevisError (one line) when rtmidi cannot start
        if not names:
            print("no MIDI ports")
            return 0
        for name in names:
            print(name)
        return 0
    from livevis.control.catalog import live_params

    path = midi.mappings_path()
    mappings = midi.load_mappings(path, live_params())
    if not mappings:
        print(f"no MIDI mappings yet (learn them from the web page or /livevis/learn NAME; saved to {path})")
        return 0
    print(f"{len(mappings)} mappings in {path}:")
    for m in mappings:
        ch = "any channel" if m.channel is None else f"channel {m.channel + 1}"
        what = f"CC {m.number}{'+' + str(m.number + 32) + ' (14-bit)' if m.hires else ''}" if m.kind == "cc" else f"note {m.number}"
        rng = f" {m.lo:g}..{m.hi:g}" if m.lo is not None or m.hi is not None else ""
        print(f"  {what}, {ch} -> {m.target} ({m.mode}{rng})")
    return 0
