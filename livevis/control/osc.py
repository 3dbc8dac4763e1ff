"""OSC in (`--osc`) and out (`--osc-out`), with python-osc.

In: `/livevis/param/<name> <value>`, `/livevis/preset <name>`, `/livevis/preset/save <name>`,
`/livevis/prompt <text>`, `/livevis/seed <int>`, `/livevis/blackout <0|1>`, `/livevis/tap`,
`/livevis/bpm <float>`, `/livevis/learn <name>`. The messages of one OSC bundle become one
registry bundle (one frame). Anything malformed is counted by the hub and dropped.

Out: `/livevis/param/<name> <value>` on change (the addresses a controller like TouchOSC also sends,
so its faders follow), and `/livevis/state/{bpm,beat,level,fps}` a few times a second, plus
`/livevis/state/heard <class> <probability>` when the learned mode's sound class model hears one.
"""

from __future__ import annotations

import socket
import socketserver
import threading
import time
from typing import Any, Callable, Mapping

from pythonosc import osc_bundle, osc_message, osc_packet
from pythonosc.osc_message_builder import OscMessageBuilder

from livevis.control.hub import ControlHub
from livevis.errors import LivevisError

PREFIX = "/livevis/"
MAX_DATAGRAM = 16384  # bytes; bigger datagrams are dropped whole ("oversized")
MAX_MESSAGES = 256  # messages in one bundle
RCVBUF = 1 << 20  # keep bursts of thousands of messages in the kernel instead of dropping them
SOURCE = "osc"


class _Server(socketserver.UDPServer):
    """A UDP server that hands every datagram, valid OSC or not, to `on_datagram` on its one thread.

    One thread in arrival order (rather than python-osc's ThreadingOSCUDPServer, a thread per
    datagram): per-datagram threads may apply two values of one parameter out of order, and the
    last value sent must be the one that stays."""

    max_packet_size = 65536  # read whole datagrams so oversized ones are seen as such, not truncated
    allow_reuse_address = False

    def __init__(self, address: tuple[str, int], on_datagram: Callable[[bytes, Any], None]):
        self.address_family = _family(address[0])
        super().__init__(address, socketserver.BaseRequestHandler, bind_and_activate=False)
        self.on_datagram = on_datagram
        try:
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
        except OSError:
            pass
        try:
            self.server_bind()
            self.server_activate()
        except BaseException:
            self.server_close()
            raise

    def finish_request(self, request, client_address) -> None:
        self.on_datagram(request[0], client_address)


def _family(host: str) -> socket.AddressFamily:
    try:
        return socket.getaddrinfo(host, None, type=socket.SOCK_DGRAM)[0][0]
    except (socket.gaierror, IndexError):
        return socket.AF_INET


class OscServer:
    """Listens on host:port (127.0.0.1 unless told otherwise) and drives the hub."""

    def __init__(self, hub: ControlHub, host: str = "127.0.0.1", port: int = 9000):
        self.hub = hub
        self.host = host
        self.port = port
        self.datagrams = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> "OscServer":
        try:
            self._server = _Server((self.host, self.port), self.handle_datagram)
        except OSError as exc:
            raise LivevisError(f"--osc cannot listen on {self.host}:{self.port}: {exc.strerror or exc}"
                               + (" (another program uses that port: pick another)" if exc.errno == 98 else "")) from None
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="livevis-osc", daemon=True)
        self._thread.start()
        self.hub.add_status("osc", lambda: f"{self.host}:{self.port}")
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- decoding
    def handle_datagram(self, data: bytes, client_address: Any = None) -> None:
        """One UDP datagram: a message, or a bundle whose changes land together. Never raises.
        Bundle time tags are not waited for: a bundle applies on arrival (waiting would stall the
        listener for everything else)."""
        self.datagrams += 1
        try:
            self._handle(data)
        except Exception as exc:  # noqa: BLE001 - whatever arrives, the listener keeps going
            self.hub.ignore(SOURCE, "malformed", f"{type(exc).__name__}: {exc}")

    def _handle(self, data: bytes) -> None:
        hub = self.hub
        if len(data) > MAX_DATAGRAM:
            hub.ignore(SOURCE, "oversized", f"{len(data)}-byte datagram (at most {MAX_DATAGRAM})")
            return
        is_bundle = osc_bundle.OscBundle.dgram_is_bundle(data)
        if not is_bundle and not osc_message.OscMessage.dgram_is_message(data):
            hub.ignore(SOURCE, "malformed", "not an OSC message or bundle")
            return
        problem = _scan(data)
        if problem:  # caught before python-osc, which would log a warning line per bad element
            hub.ignore(SOURCE, "malformed", problem)
            return
        try:
            messages = [m.message for m in osc_packet.OscPacket(data).messages]
        except (osc_packet.ParseError, ValueError, IndexError, UnicodeDecodeError) as exc:
            hub.ignore(SOURCE, "malformed", f"cannot parse OSC: {exc}")
            return
        if len(messages) > MAX_MESSAGES:
            hub.ignore(SOURCE, "oversized", f"bundle of {len(messages)} messages (at most {MAX_MESSAGES})")
            return
        changes: dict[str, Any] = {}
        actions: list[Callable[[], Any]] = []
        preset: str | None = None
        for msg in messages:
            try:
                preset = self._translate(msg.address, list(msg.params), changes, actions) or preset
            except _Bad as bad:
                hub.ignore(SOURCE, bad.kind, f"{msg.address}: {bad}")
        if preset is not None:  # a preset in a bundle: its values first, the bundle's changes on top
            hub.load_preset(preset, overrides=changes, source=SOURCE)
        elif changes:
            hub.set_params(changes, SOURCE)
        for act in actions:
            act()

    def _translate(self, address: str, args: list, changes: dict, actions: list) -> str | None:
        """Validate one message; put parameter changes into `changes`, actions into `actions`.
        Returns a preset name for /livevis/preset. Raises _Bad."""
        hub, reg = self.hub, self.hub.registry
        if not address.startswith(PREFIX):
            raise _Bad("unknown address", "not a /livevis/ address")
        path = address[len(PREFIX):]
        if path.startswith("param/"):
            name = path[len("param/"):]
            if name not in reg:
                raise _Bad("unknown parameter", f"no parameter {name!r}")
            value = _one(args)
            spec = reg.spec(name)
            if spec.kind == "choice" and isinstance(value, (int, float)) and not isinstance(value, bool):
                # a fader or button grid sends an index: 0..len-1, or 0..1 spread over the choices
                value = _choice_from_number(spec.choices, value)
            changes[name] = _checked(spec, value)
        elif path in ("prompt", "seed", "blackout", "bpm"):
            changes[path] = _checked(reg.spec(path), _one(args))
        elif path == "preset":
            return _str(_one(args))
        elif path == "preset/save":
            name = _str(_one(args))
            actions.append(lambda: hub.save_preset(name, source=SOURCE))
        elif path == "tap":
            # no argument: tap; a button's press (1) taps, its release (0) does not
            if len(args) > 1:
                raise _Bad("bad arguments", "takes no argument or one number")
            if args and not _truthy(args[0]):
                return None
            actions.append(lambda: hub.tap(SOURCE))
        elif path == "learn":
            name = _str(args[0]) if args else ""
            if len(args) > 1:
                raise _Bad("bad arguments", "takes one parameter name")
            actions.append(lambda: hub.learn(name or None, SOURCE))
        else:
            raise _Bad("unknown address", "unknown address")
        return None


TYPE_TAGS = frozenset("ihfdsbrmtTFN[]")  # what python-osc decodes


def _scan(data: bytes, depth: int = 0) -> str | None:
    """What is wrong with a datagram's structure that python-osc would only log about (unknown type
    tags, unknown bundle elements, nesting), or None (errors it raises on are left to it)."""
    if depth > 8:
        return "bundles nested too deep"
    if osc_bundle.OscBundle.dgram_is_bundle(data):
        i = 16  # "#bundle\0" + 8-byte time tag
        while i + 4 <= len(data):
            size = int.from_bytes(data[i:i + 4], "big", signed=True)
            element = data[i + 4:i + 4 + size]
            if size <= 0 or len(element) != size:
                return "truncated bundle element"
            if osc_bundle.OscBundle.dgram_is_bundle(element):
                problem = _scan(element, depth + 1)
            elif osc_message.OscMessage.dgram_is_message(element):
                problem = _scan_message(element)
            else:
                problem = "bundle element is neither a message nor a bundle"
            if problem:
                return problem
            i += 4 + size
        return None
    return _scan_message(data)


def _scan_message(data: bytes) -> str | None:
    end = data.find(b"\0")
    if end < 0:
        return None
    i = (end // 4 + 1) * 4  # the address is null-terminated and padded to 4 bytes
    if i >= len(data) or data[i:i + 1] != b",":
        return None
    end = data.find(b"\0", i)
    tags = data[i + 1:end if end >= 0 else len(data)]
    bad = next((chr(c) for c in tags if chr(c) not in TYPE_TAGS), None)
    return f"unknown OSC type tag {bad!r}" if bad is not None else None


class _Bad(Exception):
    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


def _one(args: list) -> Any:
    if len(args) != 1:
        raise _Bad("bad arguments", f"takes one argument, got {len(args)}")
    return args[0]


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise _Bad("wrong type", f"takes a string, got {value!r}")
    return value


def _truthy(value: Any) -> bool:
    if isinstance(value, (bool, int, float)):
        return bool(value)
    raise _Bad("wrong type", f"takes a number, got {value!r}")


def _checked(spec, value: Any) -> Any:
    from livevis.control.params import ParamError

    if isinstance(value, (bytes, tuple, list)) or value is None:
        raise _Bad("wrong type", f"{spec.name} takes a {spec.kind}, got {type(value).__name__}")
    if spec.kind not in ("str", "choice") and isinstance(value, str):
        # OSC is typed: a string where a number or switch is expected is a wrong type, not text to parse
        raise _Bad("wrong type", f"{spec.name} takes a {spec.kind}, got the string {value[:40]!r}")
    if spec.kind == "bool" and isinstance(value, (int, float)) and value not in (0, 1):
        raise _Bad("bad value", f"{spec.name} takes 0 or 1, got {value:g}")
    try:
        return spec.coerce(value)
    except ParamError as exc:
        raise _Bad("bad value", str(exc)) from None


def _choice_from_number(choices: tuple[str, ...], value: float) -> Any:
    """An OSC int is an index into the choices; a float 0..1 (a fader) is spread over them."""
    if isinstance(value, int):
        if 0 <= value < len(choices):
            return choices[value]
        raise _Bad("bad value", f"index {value} is not one of 0..{len(choices) - 1}")
    if 0.0 <= value <= 1.0:
        return choices[min(int(value * len(choices)), len(choices) - 1)]
    raise _Bad("bad value", f"{value:g} is neither an index nor a fader position 0..1")


def _osc_value(value: Any) -> Any:
    return int(value) if isinstance(value, bool) else value


class OscSender:
    """Sends state to HOST:PORT over UDP: parameter changes (coalesced, at most `param_hz` times a
    second) and bpm/beat/level/fps `state_hz` times a second. Never blocks the show: the socket is
    non-blocking and send errors (a dead receiver, a full buffer) are counted, not raised."""

    def __init__(self, host: str, port: int, *, registry=None, stats: Callable[[], dict] | None = None,
                 state_hz: float = 4.0, param_hz: float = 30.0):
        self.host, self.port = host, port
        self.registry = registry
        self.stats = stats
        self.state_period = 1.0 / state_hz
        self.param_period = 1.0 / param_hz
        self.sent = 0
        self.errors = 0
        try:
            info = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
        except socket.gaierror as exc:
            raise LivevisError(f"--osc-out: cannot resolve {host}: {exc.strerror}") from None
        self._addr = info[4]
        self._sock = socket.socket(info[0], socket.SOCK_DGRAM)
        self._sock.setblocking(False)
        self._pending: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._unsubscribe: Callable[[], None] | None = None

    def start(self) -> "OscSender":
        if self.registry is not None:
            self._on_change(dict(self.registry.snapshot()))  # a controller that joins sees everything once
            self._unsubscribe = self.registry.subscribe(self._on_change)
        self._thread = threading.Thread(target=self._loop, name="livevis-osc-out", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._unsubscribe:
            self._unsubscribe()
            self._unsubscribe = None
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None
        self._sock.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _on_change(self, changed: Mapping[str, Any]) -> None:  # on the writer's thread: just note it
        with self._lock:
            self._pending.update(changed)
        self._wake.set()

    def send(self, address: str, *values: Any) -> bool:
        b = OscMessageBuilder(address=address)
        for v in values:
            b.add_arg(_osc_value(v))
        try:
            self._sock.sendto(b.build().dgram, self._addr)
        except OSError:  # ECONNREFUSED from an earlier ICMP, EAGAIN on a full buffer ...
            self.errors += 1
            return False
        self.sent += 1
        return True

    def flush_params(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
        for name, value in pending.items():
            if value is not None:
                self.send(f"{PREFIX}param/{name}", value)

    def send_state(self) -> None:
        if self.stats is None:
            return
        try:
            st = self.stats()
        except Exception:
            self.errors += 1
            return
        for key in ("bpm", "beat", "level", "fps"):
            v = st.get(key)
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                self.send(f"{PREFIX}state/{key}", float(v))
        heard, p = st.get("heard"), st.get("heard_p")
        if isinstance(heard, str) and isinstance(p, (int, float)):
            self.send(f"{PREFIX}state/heard", heard, float(p))

    def _loop(self) -> None:
        next_state = 0.0
        while not self._stop.is_set():
            self._wake.clear()  # before the flush: a change noted after it wakes the wait below
            now = time.monotonic()
            if now >= next_state:
                self.send_state()
                next_state = now + self.state_period
            self.flush_params()
            self._wake.wait(timeout=max(0.0, next_state - time.monotonic()))
            self._stop.wait(self.param_period)  # coalesce bursts: at most param_hz sends of the changes
