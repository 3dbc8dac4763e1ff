"""The web control page (`--web [HOST:]PORT`): static HTML/JS/CSS shipped in livevis/control/static and
one WebSocket at /ws, served by `websockets` (its process_request answers the plain HTTP GETs for the
three static files, so one small, well-kept dependency does both) on its own asyncio loop in a daemon
thread.

Protocol (JSON text frames):
  server -> page: {"type": "hello", "params": [Param.describe()...], "values": {...}, "presets": [...],
                   "stats": {...}}, then {"type": "values", "values": {changed}} on every change,
                  {"type": "stats", "stats": {...}} ~4x a second, {"type": "presets", "presets": [...]},
                  {"type": "error", "message": "..."} for a request that was ignored.
  page -> server: {"type": "set", "values": {name: value, ...}} (one bundle, one frame),
                  {"type": "preset", "name"}, {"type": "save", "name"}, {"type": "prompt", "text"},
                  {"type": "seed", "value"}, {"type": "bpm", "value"}, {"type": "blackout", "on"},
                  {"type": "tap"}, {"type": "learn", "name"|null}.
"""

from __future__ import annotations

import asyncio
import json
import threading
from http import HTTPStatus
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from livevis.control.hub import ControlHub
from livevis.control.options import is_loopback
from livevis.errors import LivevisError

SOURCE = "web"
STATIC = {"/": ("index.html", "text/html; charset=utf-8"), "/index.html": ("index.html", "text/html; charset=utf-8"),
          "/app.js": ("app.js", "text/javascript; charset=utf-8"), "/style.css": ("style.css", "text/css; charset=utf-8")}
WS_PATH = "/ws"
MAX_MESSAGE = 64 * 1024  # bytes per WebSocket message from the page
STATS_PERIOD_S = 0.25


def _static(name: str) -> bytes:
    return (resources.files("livevis.control") / "static" / name).read_bytes()


class WebControl:
    def __init__(self, hub: ControlHub, registry, host: str = "127.0.0.1", port: int = 8080):
        self.hub = hub
        self.registry = registry
        self.host, self.port = host, port
        self.clients: set = set()
        self.requests = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopping: asyncio.Event | None = None
        self._pending: dict[str, Any] = {}
        self._pending_lock = threading.Lock()
        self._unsubscribe = None
        self._files = {path: _static(name) for path, (name, _) in STATIC.items()}  # missing package data fails here

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    # -- lifecycle
    def start(self) -> "WebControl":
        ready = threading.Event()
        failure: list[BaseException] = []
        self._thread = threading.Thread(target=self._run, args=(ready, failure), name="livevis-web", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            self._thread.join()
            exc = failure[0]
            if isinstance(exc, OSError):
                raise LivevisError(f"--web cannot listen on {self.host}:{self.port}: {exc.strerror or exc}"
                                   + (" (another program uses that port: pick another)" if exc.errno == 98 else "")) from None
            raise exc
        self._unsubscribe = self.registry.subscribe(self._on_change)
        self.hub.add_status("web", lambda: self.url)
        return self

    def stop(self) -> None:
        if self._unsubscribe:
            self._unsubscribe()
            self._unsubscribe = None
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _run(self, ready: threading.Event, failure: list) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._main(ready, failure))
        except BaseException as exc:  # noqa: BLE001 - reported to start()
            if not ready.is_set():
                failure.append(exc)
        finally:
            ready.set()
            loop.close()

    async def _main(self, ready: threading.Event, failure: list) -> None:
        from websockets.asyncio.server import serve

        self._stopping = asyncio.Event()
        server = await serve(self._session, self.host, self.port, process_request=self._http,
                             max_size=MAX_MESSAGE, compression=None, server_header="livevis",
                             close_timeout=1)
        self.port = server.sockets[0].getsockname()[1]
        ready.set()
        ticker = asyncio.create_task(self._push_stats())
        try:
            await self._stopping.wait()
        finally:
            ticker.cancel()
            server.close()
            try:  # a client that never closes its side must not hold up the end of the show
                await asyncio.wait_for(server.wait_closed(), timeout=1.0)
            except (asyncio.TimeoutError, TimeoutError):
                rest = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
                for t in rest:
                    t.cancel()
                await asyncio.gather(*rest, return_exceptions=True)

    # -- HTTP: the static page; anything else is a 404 (counted)
    def _http(self, connection, request):
        from websockets.datastructures import Headers
        from websockets.http11 import Response

        self.requests += 1
        path = urlsplit(request.path).path
        if path == WS_PATH:
            hosts, origins = request.headers.get_all("Host"), request.headers.get_all("Origin")
            if len(hosts) != 1 or len(origins) > 1:
                self.hub.ignore(SOURCE, "bad request", "WebSocket request with repeated Host or Origin headers")
                return connection.respond(HTTPStatus.BAD_REQUEST, "bad request\n")
            host, origin = hosts[0], (origins[0] if origins else None)
            if origin is not None and urlsplit(origin).netloc != host:
                # another site open in the performer's browser must not drive the show
                self.hub.ignore(SOURCE, "bad request", f"WebSocket from foreign origin {origin[:80]}")
                return connection.respond(HTTPStatus.FORBIDDEN, "foreign origin\n")
            if is_loopback(self.host) and not is_loopback(urlsplit(f"//{host}").hostname or ""):
                # bound to this machine but asked for by another name: DNS rebinding, refuse
                self.hub.ignore(SOURCE, "bad request", f"WebSocket for host {str(host)[:80]}")
                return connection.respond(HTTPStatus.FORBIDDEN, "unexpected host\n")
            return None  # go on with the WebSocket handshake
        if path == "/favicon.ico":  # browsers ask on their own: not a bad request
            return Response(204, "No Content", Headers([("Content-Length", "0"), ("Connection", "close")]), b"")
        if path not in STATIC:
            self.hub.ignore(SOURCE, "bad request", f"no page {path[:80]!r}")
            return connection.respond(HTTPStatus.NOT_FOUND, "not found\n")
        body = self._files[path]
        headers = Headers([("Content-Type", STATIC[path][1]), ("Content-Length", str(len(body))),
                           ("Cache-Control", "no-store"), ("X-Content-Type-Options", "nosniff"), ("Connection", "close"),
                           ("Content-Security-Policy", "default-src 'self'; connect-src 'self' ws: wss:")])
        return Response(200, "OK", headers, body)

    # -- WebSocket
    async def _session(self, ws) -> None:
        self.clients.add(ws)
        try:
            await ws.send(json.dumps(self._hello(), default=str))
            async for raw in ws:
                reply = self.handle(raw)
                if reply is not None:
                    await ws.send(json.dumps(reply))
        except Exception:  # a client going away mid-send is normal
            pass
        finally:
            self.clients.discard(ws)

    def _hello(self) -> dict:
        return {"type": "hello", "params": [p.describe() for p in self.registry.params.values()],
                "values": dict(self.registry.snapshot()), "presets": self.hub.presets.names(),
                "stats": self.hub.stats()}

    def handle(self, raw: Any) -> dict | None:
        """One message from a page; returns a reply for it (an error, or the new preset list)."""
        hub = self.hub
        if not isinstance(raw, str):
            return self._bad("bad message", "binary frames are not understood")
        try:
            msg = json.loads(raw)
        except ValueError:
            return self._bad("bad message", "not JSON")
        if not isinstance(msg, dict) or not isinstance(msg.get("type"), str):
            return self._bad("bad message", 'expected {"type": ...}')
        t = msg["type"]
        before = hub.ignored
        if t == "set":
            values = msg.get("values")
            if not isinstance(values, dict) or not values:
                return self._bad("bad message", 'set needs {"values": {name: value}}')
            hub.set_params(values, SOURCE)
        elif t == "preset":
            hub.load_preset(_text(msg.get("name")), source=SOURCE)
        elif t == "save":
            if hub.save_preset(_text(msg.get("name")), source=SOURCE) is not None:
                return {"type": "presets", "presets": hub.presets.names()}
        elif t == "prompt":
            hub.prompt(_text(msg.get("text")), SOURCE)
        elif t == "seed":
            hub.seed(msg.get("value"), SOURCE)
        elif t == "bpm":
            hub.bpm(msg.get("value"), SOURCE)
        elif t == "blackout":
            hub.blackout(msg.get("on"), SOURCE)
        elif t == "tap":
            hub.tap(SOURCE)
        elif t == "learn":
            name = msg.get("name")
            hub.learn(name if isinstance(name, str) else None, SOURCE)
        else:
            return self._bad("bad message", f"unknown type {t[:40]!r}")
        if hub.ignored != before:
            return {"type": "error", "message": hub.last_ignored}
        return None

    def _bad(self, kind: str, message: str) -> dict:
        self.hub.ignore(SOURCE, kind, message)
        return {"type": "error", "message": f"{SOURCE}: {message}"}

    # -- pushes
    def _on_change(self, changed: dict) -> None:  # on the writer's thread: hand over and return
        with self._pending_lock:
            first = not self._pending
            self._pending.update(changed)
        if first and self._loop is not None and not self._loop.is_closed():
            try:
                self._loop.call_soon_threadsafe(self._flush_values)
            except RuntimeError:  # loop closed while stopping
                pass

    def _flush_values(self) -> None:
        from websockets.asyncio.server import broadcast

        with self._pending_lock:
            pending, self._pending = self._pending, {}
        if pending and self.clients:
            broadcast(self.clients, json.dumps({"type": "values", "values": pending}))

    async def _push_stats(self) -> None:
        from websockets.asyncio.server import broadcast

        while True:
            await asyncio.sleep(STATS_PERIOD_S)
            if self.clients:
                try:
                    broadcast(self.clients, json.dumps({"type": "stats", "stats": self.hub.stats()}, default=str))
                except Exception as exc:  # noqa: BLE001 - keep pushing
                    self.hub.ignore(SOURCE, "failed", f"stats: {exc}")


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""
