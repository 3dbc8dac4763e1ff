"""Downloads into the user cache: resumable, sha256-verified, never half-visible.

A transfer writes `<dest>.part`; an interrupted one leaves it for the next attempt to resume with an
HTTP Range request. Only a complete file whose sha256 checks out is renamed to `<dest>`, so a file
under its final name is always whole. (The `.part` name must stay stable across runs to be resumed,
which is why this does its own fsync + rename instead of livevis.util.atomic's random temp names.)
"""

from __future__ import annotations

import fcntl
import hashlib
import http.client
import json
import os
import re
import socket
import sys
import urllib.error
import urllib.request
from pathlib import Path

from livevis import __version__
from livevis.errors import LivevisError
from livevis.paths import cache_dir
from livevis.util.atomic import atomic_open

_CHUNK = 1 << 16
_TIMEOUT_S = 30
PINS_FILE = "pins.json"


def downloads_dir() -> Path:
    return cache_dir("downloads")


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _reason(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.URLError) and not isinstance(exc, urllib.error.HTTPError):
        exc = exc.reason if isinstance(exc.reason, BaseException) else exc
    return " ".join(str(exc).split()) or type(exc).__name__


def _open(url: str, offset: int):
    headers = {"User-Agent": f"livevis/{__version__}"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    request = urllib.request.Request(url, headers=headers)
    return urllib.request.urlopen(request, timeout=_TIMEOUT_S)


def _progress(enabled: bool, name: str):
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        disable=not enabled,
        transient=False,
    )


def download(url: str, dest: str | Path | None = None, sha256: str | None = None, progress: bool = True) -> Path:
    """Fetch `url` to `dest` (default: the downloads cache, named after the URL) and return its path.

    A complete `dest` is reused (re-verified when `sha256` is given). Resumes `<dest>.part`.
    Raises LivevisError on HTTP errors, unreachable hosts, truncated transfers (the partial is kept
    for resuming) and sha256 mismatches (the bad file is deleted).
    """
    dest = Path(dest) if dest is not None else downloads_dir() / url.rsplit("/", 1)[-1].split("?")[0]
    dest.parent.mkdir(parents=True, exist_ok=True)
    # Two livevis processes fetching the same file take turns: the second then finds it complete.
    with open(dest.with_name(dest.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _download_locked(url, dest, sha256.lower() if sha256 else None, progress)


def _download_locked(url: str, dest: Path, sha256: str | None, progress: bool) -> Path:
    if dest.is_file():
        if sha256 is None or file_sha256(dest) == sha256:
            return dest
        dest.unlink()  # a stale file under the final name: fetch again
    part = dest.with_name(dest.name + ".part")

    for attempt in range(2):
        offset = part.stat().st_size if part.is_file() else 0
        try:
            response = _open(url, offset)
        except urllib.error.HTTPError as exc:
            if exc.code == 416 and offset and attempt == 0:
                part.unlink()  # the partial doesn't fit the remote file any more: start over
                continue
            raise LivevisError(f"download failed: {url}: HTTP {exc.code} {exc.reason}") from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            raise LivevisError(f"cannot reach {url}: {_reason(exc)}") from None
        with response:
            _receive(response, url, part, offset, progress, dest.name)
        break

    actual = file_sha256(part)
    if sha256 is not None and actual != sha256:
        part.unlink()
        raise LivevisError(f"sha256 mismatch for {url}: expected {sha256}, got {actual}; the download was deleted")
    with open(part, "rb+") as f:
        os.fsync(f.fileno())
    os.replace(part, dest)
    return dest


def _receive(response, url: str, part: Path, offset: int, progress: bool, label: str) -> None:
    """Stream the body into `part` (appending when the server honoured our Range request)."""
    status = getattr(response, "status", 200)
    if offset and status == 206:
        match = re.match(r"bytes (\d+)-", response.headers.get("Content-Range", ""))
        if not match or int(match.group(1)) != offset:
            raise LivevisError(f"download failed: {url}: server resumed at the wrong offset")
        mode = "ab"
    else:
        offset, mode = 0, "wb"  # no Range support: the server sends the whole file again
    length = response.headers.get("Content-Length")
    total = offset + int(length) if length is not None and length.isdigit() else None
    received = offset
    with _progress(progress, label) as bar, open(part, mode) as out:
        task = bar.add_task(label, total=total, completed=offset)
        try:
            while chunk := response.read(_CHUNK):
                out.write(chunk)
                received += len(chunk)
                bar.update(task, completed=received)
        except (http.client.IncompleteRead, OSError, socket.timeout) as exc:
            out.flush()
            raise LivevisError(
                f"download of {url} interrupted at {received} bytes ({_reason(exc)}); run it again to resume"
            ) from None
    if total is not None and received != total:
        raise LivevisError(f"download of {url} interrupted at {received} of {total} bytes; run it again to resume")


# ---------------------------------------------------------------------------------------------
# trust on first use for files without a published hash


def _pins_path() -> Path:
    return downloads_dir() / PINS_FILE


def read_pins() -> dict[str, str]:
    path = _pins_path()
    if not path.is_file():
        return {}
    try:
        pins = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise LivevisError(f"{path}: unreadable ({_reason(exc)}); delete it to re-pin downloads") from None
    if not isinstance(pins, dict):
        raise LivevisError(f"{path}: not a JSON object; delete it to re-pin downloads")
    return pins


def pin(url: str, sha256: str) -> None:
    pins = read_pins()
    pins[url] = sha256
    with atomic_open(_pins_path(), "w") as f:
        json.dump(pins, f, indent=2, sort_keys=True)


def unpin(url: str) -> None:
    pins = read_pins()
    if pins.pop(url, None) is not None:
        with atomic_open(_pins_path(), "w") as f:
            json.dump(pins, f, indent=2, sort_keys=True)


def fetch(entry, progress: bool = True) -> Path:
    """Download a registry entry into the cache, verified by its published sha256 or by the pin.

    Without either, the first download's hash is pinned and a warning printed (trust on first use).
    """
    expected = entry.sha256 or read_pins().get(entry.url)
    path = download(entry.url, downloads_dir() / entry.filename, sha256=expected, progress=progress)
    if expected is None:
        digest = file_sha256(path)
        pin(entry.url, digest)
        print(
            f"warning: {entry.name} has no published sha256; pinned {digest} on first download "
            f"(later downloads must match; delete {_pins_path()} to re-pin)",
            file=sys.stderr,
        )
    return path


def is_cached(entry) -> bool:
    return entry.url is not None and (downloads_dir() / entry.filename).is_file()
