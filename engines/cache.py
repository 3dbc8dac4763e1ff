"""Engine cache: one folder per (caller key, module, shapes, precision, backend, versions, device).

Layout under `cache_dir("engines")`:
    <backend>/<name>-<key16>/meta.json     key, backend, files and their sha256
    <backend>/<name>-<key16>/<artifacts>   model.onnx, engine.ep, inductor_artifacts.bin, ...
    choices/<name>-<key16>.json            the backend `select_backend` measured as fastest
Entries are written whole (atomic_dir / atomic_open): meta.json, with every artefact's sha256, appears
only together with the artefacts. A missing, corrupt or foreign entry is reported with an
EngineCacheWarning and rebuilt, never trusted. Artefacts are deserialised (torch.export.load,
torch.compiler.load_cache_artifacts: unpicklers) only from bytes whose sha256 matched meta.json.

Because loading an entry runs code from it, the engines folder and every folder under it must be
private: created 0700, and refused (UnsafeCacheError) when owned by someone else or writable by
group or others, e.g. a shared LIVEVIS_CACHE_DIR.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import platform
import re
import shutil
import stat
import time
import warnings
from pathlib import Path
from typing import Any, Sequence

import torch

from livevis.engines.errors import EngineCacheWarning, UnsafeCacheError
from livevis.models.download import file_sha256
from livevis.paths import cache_dir
from livevis.util.atomic import atomic_dir, atomic_open

FORMAT = 1  # bump when the layout or what a backend stores changes


@functools.lru_cache(maxsize=None)
def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_name(device: torch.device) -> str:
    """What the compiled code is specific to: the GPU model (and compute capability), or the CPU model."""
    if device.type == "cuda":
        major, minor = torch.cuda.get_device_capability(device)
        return f"{torch.cuda.get_device_name(device)} sm{major}{minor}"
    return f"cpu {cpu_name()} {platform.machine()}"


def library_versions(backend: str) -> dict[str, str]:
    versions = {"torch": torch.__version__, "python": platform.python_version()}
    if backend == "onnxruntime":
        import onnxruntime

        versions["onnxruntime"] = onnxruntime.__version__
    if backend == "tensorrt":
        import torch_tensorrt

        versions["torch_tensorrt"] = torch_tensorrt.__version__
        try:
            import tensorrt

            versions["tensorrt"] = tensorrt.__version__
        except ImportError:
            pass
    return versions


def input_specs(inputs: Sequence[torch.Tensor]) -> list[str]:
    return [f"{tuple(x.shape)}:{str(x.dtype).removeprefix('torch.')}" for x in inputs]


def engine_key(*, cache_key: str, name: str, backend: str, precision: str, inputs: Sequence[torch.Tensor],
               device: torch.device, extra: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
    """sha256 over everything a compiled artefact depends on -> (hex key, the fields hashed)."""
    fields = {
        "format": FORMAT,
        "cache_key": cache_key,
        "name": name,
        "backend": backend,
        "precision": precision,
        "inputs": input_specs(inputs),
        "versions": library_versions(backend),
        "device": device_name(device),
        **(extra or {}),
    }
    blob = json.dumps(fields, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest(), fields


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:48] or "module"


def _ensure_private(folder: Path) -> None:
    """Create `folder` 0700 if absent; refuse it if someone else owns it or can write to it."""
    try:
        folder.mkdir(mode=0o700)
    except FileExistsError:
        pass
    st = os.stat(folder)  # follows a symlink: what counts is who controls the folder it points to
    if not stat.S_ISDIR(st.st_mode):
        raise UnsafeCacheError(f"engine cache {folder} is not a folder")
    if st.st_uid != os.geteuid():
        raise UnsafeCacheError(f"engine cache {folder} is owned by uid {st.st_uid}, not you (uid {os.geteuid()}): "
                               f"refusing to load engines from it; set LIVEVIS_CACHE_DIR to a folder of your own")
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise UnsafeCacheError(f"engine cache {folder} is writable by others (mode {stat.S_IMODE(st.st_mode):o}): "
                               f"refusing to load engines from it; check its contents, then chmod 700 {folder}")
    if st.st_mode & 0o077:  # ours and not writable by others, but readable: tighten (older livevis made 0755)
        os.chmod(folder, 0o700)


def private_dir(*parts: str) -> Path:
    """`cache_dir("engines", *parts)`, with the engines folder and each folder below it checked private."""
    path = cache_dir() / "engines"
    _ensure_private(path)
    for part in parts:
        path = path / part
        _ensure_private(path)
    return path


def entry_dir(backend: str, name: str, key: str) -> Path:
    return private_dir(backend) / f"{_slug(name)}-{key[:16]}"


def choice_file(name: str, key: str) -> Path:
    return private_dir("choices") / f"{_slug(name)}-{key[:16]}.json"


def evict(folder: Path) -> None:
    """Remove a cache entry (a folder, or a choice file) so that it is rebuilt."""
    if folder.is_dir():
        shutil.rmtree(folder, ignore_errors=True)
    else:
        folder.unlink(missing_ok=True)


def warn_rebuild(what: Path, reason: str) -> None:
    warnings.warn(f"engine cache entry {what} is unusable ({reason}); rebuilding", EngineCacheWarning, stacklevel=3)


def read_entry(folder: Path, key: str) -> dict[str, Any] | None:
    """The entry's meta if it exists and every file checks out; None (with a warning if it was broken) else."""
    if not folder.exists():
        return None
    try:
        meta = json.loads((folder / "meta.json").read_text())
        if not isinstance(meta, dict) or meta.get("key") != key or meta.get("format") != FORMAT:
            raise ValueError("key or format mismatch")
        for fname, digest in meta["files"].items():
            if file_sha256(folder / fname) != digest:
                raise ValueError(f"{fname} does not match its checksum")
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:  # JSONDecodeError is a ValueError
        warn_rebuild(folder, str(exc) or type(exc).__name__)
        return None
    return meta


def verified_bytes(folder: Path, meta: dict[str, Any], fname: str) -> bytes:
    """The bytes of an entry's artefact, read once and checked against meta.json's sha256.

    Deserialisers get these bytes (not the path), so a file swapped after read_entry checked it is never loaded.
    """
    data = (folder / fname).read_bytes()
    if hashlib.sha256(data).hexdigest() != meta["files"].get(fname):
        raise UnsafeCacheError(f"engine cache entry {folder}: {fname} changed after it was checked; refusing to load it")
    return data


class EntryWriter:
    """Collects artefacts in a temporary folder that replaces the entry only once meta.json is written."""

    def __init__(self, folder: Path, key: str, fields: dict[str, Any]):
        self.folder, self.key, self.fields = folder, key, fields

    def __enter__(self) -> "EntryWriter":
        self._ctx = atomic_dir(self.folder)
        self.tmp = self._ctx.__enter__()
        return self

    def path(self, fname: str) -> Path:
        return self.tmp / fname

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            files = {p.name: file_sha256(p) for p in sorted(self.tmp.iterdir()) if p.is_file()}
            meta = {"format": FORMAT, "key": self.key, "fields": self.fields, "files": files,
                    "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
            (self.tmp / "meta.json").write_text(json.dumps(meta, indent=1, sort_keys=True))
            os.chmod(self.tmp, 0o700)  # atomic_dir makes it 0755; the parent is private anyway
        return self._ctx.__exit__(exc_type, exc, tb)


def read_choice(path: Path, key: str) -> dict[str, Any] | None:
    if not path.exists():
        return None
    try:
        doc = json.loads(path.read_text())
        if doc.get("key") != key or not isinstance(doc.get("backend"), str):
            raise ValueError("key mismatch")
    except (OSError, ValueError, AttributeError) as exc:
        warn_rebuild(path, str(exc) or type(exc).__name__)
        return None
    return doc


def write_choice(path: Path, key: str, backend: str, timings_ms: dict[str, float], refusals: list[str]) -> None:
    doc = {"key": key, "backend": backend, "timings_ms": timings_ms, "refusals": refusals,
           "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    with atomic_open(path, "w") as f:
        json.dump(doc, f, indent=1, sort_keys=True)
