"""Backend registry: name -> module with `unavailable(device, precision) -> str | None` and
`build(module, inputs, *, precision, name, device, entry) -> (runner, from_cache)`.

Backend modules are imported on first use: asking for eager never imports onnxruntime or torch_tensorrt.
"""

from __future__ import annotations

import importlib
from types import ModuleType

BACKENDS: dict[str, str] = {
    "eager": "livevis.engines.backends.eager",
    "compile": "livevis.engines.backends.compiled",
    "onnxruntime": "livevis.engines.backends.onnxrt",
    "tensorrt": "livevis.engines.backends.tensorrt",
}


def backend_module(name: str) -> ModuleType:
    from livevis.engines.errors import BackendUnavailable

    try:
        return importlib.import_module(BACKENDS[name])
    except KeyError:
        raise BackendUnavailable(f"unknown backend {name!r} (known: {', '.join(BACKENDS)})") from None
