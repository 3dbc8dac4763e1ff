"""The `livevis` command line.

Each subcommand lives in `livevis/commands/<name>.py` and exposes `add_arguments(parser)` and
`run(args) -> int`; its one-line help is in COMMANDS below. Modules are imported lazily, so `livevis --help`
and light commands stay fast and don't pull in torch.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys

from livevis import __version__
from livevis.errors import LivevisError

# name -> (module, one-line help). The order is the order of `livevis --help`.
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("livevis.commands.run", "the live visualizer: sound in, frames on screen (or headless, recorded)"),
    "render": ("livevis.commands.render", "render an audio file to an mp4 offline (deterministic, every frame)"),
    "generate": ("livevis.commands.generate", "text -> generated sound -> the video it drives, muxed"),
    "bench": ("livevis.commands.bench", "measure the live path per stage: fps, latency"),
    "devices": ("livevis.commands.devices", "list audio input devices (default marked)"),
    "listen": ("livevis.commands.listen", "live level meter for checking an audio rig"),
    "prepare": ("livevis.commands.prepare", "turn videos (or a synthetic set) into a training dataset"),
    "models": ("livevis.commands.models", "list, download and import generators"),
    "build-engines": ("livevis.commands.build_engines", "compile a bundle's models ahead of a show"),
    "train": ("livevis.commands.train", "train a stage (generator, clip, audio, video, upscaler, sound-tokens, text-sound) on a prepared dataset"),
    "outputs": ("livevis.commands.outputs", "list the video outputs (--output) this machine offers, and why others are not"),
    "midi": ("livevis.commands.midi", "MIDI input ports and learnt mappings"),
    "presets": ("livevis.commands.presets", "saved presets: list, show NAME"),
    "eval": ("livevis.commands.eval", "measure a bundle: semantic accuracy, sync, CLIP similarity vs a random-walk baseline"),
}


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as one line (no usage dump) and exits 2."""

    def error(self, message: str):  # noqa: D401 - argparse API
        self.exit(2, f"{self.prog}: error: {message}\n")


def _parse(argv: list[str]) -> argparse.Namespace:
    # Only import the chosen command's module: `livevis devices` must not import torch.
    known = [a for a in argv if not a.startswith("-")]
    chosen = known[0] if known else None
    parser = _Parser(prog="livevis", description="Real-time sound-guided StyleGAN visuals for live performance.")
    parser.add_argument("--version", action="version", version=f"livevis {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(_module=module)
        if name == chosen:
            importlib.import_module(module).add_arguments(p)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        raise SystemExit(2)
    return args


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = _parse(argv)
    # SIGTERM behaves like Ctrl-C so recorders and checkpoints finalise on the way out.
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        return int(importlib.import_module(args._module).run(args) or 0)
    except LivevisError as exc:
        print(f"livevis {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
