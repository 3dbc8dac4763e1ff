"""Engine cache: one folder per (caller key, module, shapes, precision, backend, versions, device).

Layout under `cache_dir("engines")`:
    <backend>/<name>-<key16>/meta.json     key, backend, files and their sha256
    <backend>/<name>-<key16>/<artifacts>   model.onnx, engine.ep, inductor_artifacts.bin, ...
    choices/<name>-<key16>.json            the backend `select_backend` measured as fastest
Entries are written whole (atomic_dir / atomic_open). A missing, corrupt or foreign entry is reported
with an EngineCacheWarning and rebuilt, never trusted.
"""

from __future__ import annotations

import functools
import hashlib
import json
import platform
import re
import time
import warnings
from pathlib import Path
from typing import Any, Sequence

import torch

from livevis.engines.errors import EngineCacheWarning
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


def entry_dir(backend: str, name: str, key: str) -> Path:
    return cache_dir("engines", backend) / f"{_slug(name)}-{key[:16]}"


def choice_file(name: str, key: str) -> Path:
    return cache_dir("engines", "choices") / f"{_slug(name)}-{key[:16]}.json"


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
