"""A local HTTP file server for download tests: 127.0.0.1, a free port, served from memory.

It honours `Range: bytes=N-` (206 + Content-Range), answers 404 for unknown paths, and can cut a
transfer short: `truncate_next(path, nbytes)` makes the next response announce the full
Content-Length, send only `nbytes`, then drop the connection.
"""

from __future__ import annotations

import http.server
import re
import threading
from dataclasses import dataclass, field

import pytest


@dataclass
class FileServer:
    host: str = "127.0.0.1"
    port: int = 0
    files: dict[str, bytes] = field(default_factory=dict)
    truncations: dict[str, int] = field(default_factory=dict)
    range_support: bool = True
    requests: list[tuple[str, str | None]] = field(default_factory=list)  # (path, Range header)

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}/{path.lstrip('/')}"

    def add(self, path: str, data: bytes) -> str:
        self.files["/" + path.lstrip("/")] = data
        return self.url(path)

    def truncate_next(self, path: str, nbytes: int) -> None:
        self.truncations["/" + path.lstrip("/")] = nbytes


def _handler(server: FileServer):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # keep test output clean
            pass

        def do_GET(self):
            path = self.path.split("?")[0]
            server.requests.append((path, self.headers.get("Range")))
            data = server.files.get(path)
            if data is None:
                self.send_error(404, "Not Found")
                return
            start = 0
            match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
            if match and server.range_support:
                start = int(match.group(1))
                if start >= len(data):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(data)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            else:
                self.send_response(200)
            body = data[start:]
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            cut = server.truncations.pop(path, None)
            if cut is not None:
                self.wfile.write(body[:cut])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(body)

    return Handler


@pytest.fixture
def http_server():
    """A running FileServer; stopped after the test."""
    state = FileServer()
    httpd = http.server.ThreadingHTTPServer((state.host, 0), _handler(state))
    httpd.daemon_threads = True
    state.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, name="test-http-server", daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
