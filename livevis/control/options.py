"""The control options of `livevis run` (--osc, --osc-out, --midi, --web, --preset), their parsing, and
`start_controls`, which starts the requested listeners and stops them when the show ends."""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import os
import sys
from pathlib import Path
from typing import Callable

from livevis.errors import LivevisError

LOCAL_HOSTS = ("localhost", "ip6-localhost")


def config_dir(*parts: str) -> Path:
    """`$XDG_CONFIG_HOME/livevis`, else `~/.config/livevis` (not created: writers create it atomically)."""
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "livevis"
    return base.joinpath(*parts)


def _split_host_port(spec: str, what: str) -> tuple[str | None, int]:
    spec = spec.strip()
    host: str | None = None
    port_text = spec
    if spec.startswith("["):  # [::1]:9000
        end = spec.find("]")
        if end < 0 or spec[end + 1:end + 2] != ":":
            raise LivevisError(f"{what} takes [HOST:]PORT, got {spec!r}")
        host, port_text = spec[1:end], spec[end + 2:]
    elif ":" in spec:
        host, _, port_text = spec.rpartition(":")
        if ":" in host:
            raise LivevisError(f"{what}: write IPv6 hosts in brackets, e.g. [::1]:9000, got {spec!r}")
    if host is not None and not host:
        raise LivevisError(f"{what} takes [HOST:]PORT, got {spec!r}")
    try:
        port = int(port_text)
    except ValueError:
        raise LivevisError(f"{what} takes [HOST:]PORT with a numeric port, got {spec!r}") from None
    if not 0 <= port <= 65535:
        raise LivevisError(f"{what}: port must be between 0 and 65535, got {port}")
    return host, port


def is_loopback(host: str) -> bool:
    if host.lower() in LOCAL_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_listen(spec: str, what: str = "--osc", warn: Callable[[str], None] | None = None) -> tuple[str, int]:
    """`"9000"` -> ("127.0.0.1", 9000); `"HOST:9000"` -> (HOST, 9000), with a warning on stderr when HOST
    is not a loopback address (anyone who can reach it can drive the show). Bad -> LivevisError."""
    host, port = _split_host_port(spec, what)
    host = host or "127.0.0.1"
    if not is_loopback(host):
        msg = (f"livevis: warning: {what} listens on {host}:{port}: anyone on that network can drive the show "
               f"(bind 127.0.0.1, the default, to keep it on this machine)")
        (warn or (lambda m: print(m, file=sys.stderr, flush=True)))(msg)
    return host, port


def parse_target(spec: str, what: str = "--osc-out") -> tuple[str, int]:
    """`"HOST:PORT"` (a bare port means 127.0.0.1) for a destination; port 0 is not a destination."""
    host, port = _split_host_port(spec, what)
    if port == 0:
        raise LivevisError(f"{what}: port must be between 1 and 65535, got 0")
    return host or "127.0.0.1", port


def add_control_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("performer control")
    g.add_argument("--osc", default=None, metavar="[HOST:]PORT",
                   help="listen for OSC (/livevis/param/<name> <value>, /livevis/preset <name>, /livevis/prompt "
                        "<text>, /livevis/seed, /livevis/blackout, /livevis/tap, /livevis/bpm, /livevis/learn); "
                        "a bare port binds 127.0.0.1")
    g.add_argument("--osc-out", default=None, metavar="HOST:PORT",
                   help="send state over OSC: parameter values on change, bpm/beat/level a few times a second")
    g.add_argument("--midi", nargs="?", const="", default=None, metavar="PORT",
                   help="take MIDI from PORT (name or part of it; without PORT: the first input; "
                        "`livevis midi ports` lists them); mappings are learnt from the web page or /livevis/learn")
    g.add_argument("--web", default=None, metavar="[HOST:]PORT",
                   help="serve the control page (sliders, presets, prompt, tap, blackout, MIDI learn, stats); "
                        "a bare port binds 127.0.0.1")
    g.add_argument("--preset", default=None, metavar="NAME|FILE",
                   help="start from a saved preset (`livevis presets list`) or a preset JSON file")


def start_controls(args: argparse.Namespace, hub, registry) -> contextlib.ExitStack:
    """Apply --preset and start the listeners asked for in `args`; the returned ExitStack stops them all.
    If one fails to start (port in use, no MIDI port), those already started are stopped and the
    LivevisError is raised."""
    say = lambda m: print(f"livevis: {m}", file=sys.stderr, flush=True)  # noqa: E731
    with contextlib.ExitStack() as stack:
        if getattr(args, "preset", None):
            preset = hub.load_preset(args.preset)
            say(f"preset {preset.name} loaded")
        if getattr(args, "osc", None) is not None:
            from livevis.control.osc import OscServer

            host, port = parse_listen(args.osc, "--osc")
            osc = OscServer(hub, host=host, port=port).start()
            stack.callback(osc.stop)
            say(f"OSC in on {osc.host}:{osc.port} (/livevis/param/<name> <value>, /livevis/preset <name>, ...)")
        if getattr(args, "osc_out", None):
            from livevis.control.osc import OscSender

            host, port = parse_target(args.osc_out)
            sender = OscSender(host, port, registry=registry, stats=hub.stats).start()
            hub.add_status("osc_out", lambda: f"{host}:{port} ({sender.errors} errors)")
            stack.callback(sender.stop)
            say(f"OSC out to {host}:{port}")
        if getattr(args, "midi", None) is not None:
            from livevis.control.midi import MidiInput

            midi = MidiInput(hub, args.midi or None).start()
            stack.callback(midi.stop)
            say(f"MIDI from {midi.port_name!r}, mappings in {midi.mapper.path}")
        if getattr(args, "web", None) is not None:
            from livevis.control.web import WebControl

            host, port = parse_listen(args.web, "--web")
            web = WebControl(hub, registry, host=host, port=port).start()
            stack.callback(web.stop)
            say(f"control page on {web.url}")
        return stack.pop_all()
