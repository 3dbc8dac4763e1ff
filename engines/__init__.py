"""Inference backends (eager, torch.compile, TensorRT, ONNX Runtime), engine cache, parity gate.

    engine = build(module, (x,), backend="onnxruntime", name="synthesis", cache_key=weights_sha)
    y = engine(x)                                   # same outputs as module(x), within the parity bound
    engine = select_backend(module, (x,), name="synthesis", cache_key=weights_sha)   # --backend auto
"""

from livevis.engines.backends import BACKENDS
from livevis.engines.build import available_backends, build, build_first_passing, unavailable_reason
from livevis.engines.engine import Engine
from livevis.engines.errors import BackendUnavailable, BuildError, EngineCacheWarning, ParityError
from livevis.engines.parity import PRECISIONS, TOLERANCE
from livevis.engines.auto import select_backend
from livevis.engines.timing import measure_ms
from livevis.engines.wrap import wrap_method

__all__ = [
    "BACKENDS", "PRECISIONS", "TOLERANCE", "Engine", "BackendUnavailable", "BuildError", "EngineCacheWarning",
    "ParityError", "available_backends", "build", "build_first_passing", "measure_ms", "select_backend",
    "unavailable_reason", "wrap_method",
]
