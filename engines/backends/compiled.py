"""torch.compile (inductor), static shapes, whole graph.

CPU: `freezing=True` turns weights into constants so inductor can prepack them for oneDNN; it is the
only setting that beat eager on this CPU (ARCHITECTURE.md). GPU: "reduce-overhead" adds CUDA graphs.

Cold compiles take tens of seconds. Two caches make the second build fast:
- inductor's on-disk caches (compiled C++/Triton kernels) live in `cache_dir("engines", "inductor")`
  unless the user set TORCHINDUCTOR_CACHE_DIR;
- the entry keeps `torch.compiler.save_cache_artifacts()` (FX graph + autotune caches) and loads them
  before compiling. On CPU with freezing, inductor bypasses the FX graph cache (oneDNN-packed weights
  don't pickle), so there the kernel cache is what saves the time.
"""

from __future__ import annotations

import logging
import os

import torch
from torch import nn

from livevis.engines.backends.common import LOW_PRECISION, AutocastModule, Entry, flat_runner
from livevis.engines.cache import EntryWriter, private_dir, read_entry, verified_bytes, warn_rebuild

log = logging.getLogger(__name__)

ARTIFACTS = "inductor_artifacts.bin"
# Each module instance we compile is a new guard entry on the same forward code object; one process
# building many engines (tests, build-engines) must not hit dynamo's default limit of 8 and fall back.
RECOMPILE_LIMIT = 512


def unavailable(device: torch.device, precision: str) -> str | None:
    if _mesa_llvm_loaded_before_triton():
        return ("torch.compile can't build in a process that already opened an OpenGL context: Mesa's "
                "LLVM clashes with triton's (it crashes on import); build engines before opening a window")
    return None


def _mesa_llvm_loaded_before_triton() -> bool:
    """Inductor imports triton; triton's bundled LLVM segfaults in its static initialisers when Mesa's
    libLLVM (llvmpipe, loaded by any GL context) is already in the process. Once triton is in, it's fine."""
    try:
        with open("/proc/self/maps") as f:
            maps = f.read()
    except OSError:
        return False
    return "libLLVM" in maps and "libtriton" not in maps


def point_inductor_cache() -> str:
    """Send inductor's kernel caches into ours. Importing torch._inductor writes its default into
    TORCHINDUCTOR_CACHE_DIR, so only a value other than that default counts as the user's choice."""
    from torch._inductor.runtime.cache_dir_utils import default_cache_dir

    current = os.environ.get("TORCHINDUCTOR_CACHE_DIR")
    if current is None or os.path.abspath(current) == os.path.abspath(default_cache_dir()):
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(private_dir("inductor"))
    return os.environ["TORCHINDUCTOR_CACHE_DIR"]


def _load_artifacts(entry: Entry) -> bool:
    """True when the entry is valid (its artefacts, if any, are now loaded into torch's caches)."""
    meta = read_entry(entry.folder, entry.key)
    if meta is None:
        return False
    blob = verified_bytes(entry.folder, meta, ARTIFACTS)  # load_cache_artifacts unpickles: checked bytes only
    if blob:
        try:
            torch.compiler.load_cache_artifacts(blob)
        except Exception as exc:  # a foreign/incompatible blob: torch raises various types
            warn_rebuild(entry.folder, f"torch could not load its compile artefacts: {exc}")
            return False
    return True


def _save_artifacts(entry: Entry) -> None:
    saved = torch.compiler.save_cache_artifacts()
    blob = saved[0] if saved else b""
    with EntryWriter(entry.folder, entry.key, entry.fields) as w:
        w.path(ARTIFACTS).write_bytes(blob)


def build(module: nn.Module, inputs: tuple[torch.Tensor, ...], *, precision: str, name: str,
          device: torch.device, entry: Entry | None):
    import torch._dynamo.config as dynamo_config
    import torch._inductor.config as inductor_config

    point_inductor_cache()
    # "No CUDA runtime is found, using CUDA_HOME=..." on every CPU compile is noise for our users.
    logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)
    hit = entry is not None and _load_artifacts(entry)
    target = module if precision == "fp32" else AutocastModule(module, device.type, LOW_PRECISION[precision])
    cuda = device.type == "cuda"
    compiled = torch.compile(target, fullgraph=True, dynamic=False, mode="reduce-overhead" if cuda else None)
    # Compilation happens on the first call: make it here, under the settings we want.
    with torch.no_grad(), inductor_config.patch(freezing=True), dynamo_config.patch(recompile_limit=RECOMPILE_LIMIT):
        for _ in range(3 if cuda else 1):  # CUDA graphs are recorded after warm-up runs
            if cuda:
                torch.compiler.cudagraph_mark_step_begin()
            compiled(*inputs)
    if entry is not None and not hit:
        _save_artifacts(entry)
    if not cuda:
        return flat_runner(compiled), hit

    def run_graphed(*xs):
        # CUDA-graph outputs live in a static pool the next replay overwrites: hand out copies.
        torch.compiler.cudagraph_mark_step_begin()
        return tuple(t.clone() for t in flat_runner(compiled)(*xs))

    return run_graphed, hit
