"""Load NVlabs network pickles (stylegan2-ada-pytorch, stylegan3) without executing their code.

NVlabs pickles store each network as a `torch_utils.persistence` record: the defining module's
source text, the class name, and the object's state (init kwargs, parameters, buffers, submodules).
Unpickling them normally `exec`s that source. Here a restricted unpickler resolves only an
allow-list of globals; persistence records become inert `PersistentRecord`s, from which we build
our own Generator (from the stored init kwargs) and copy the tensors in with a strict name check.
"""

from __future__ import annotations

import _compat_pickle
import collections
import io
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from livevis.errors import LivevisError

NETWORK_KEYS = ("G", "D", "G_ema")


@dataclass
class PersistentRecord:
    """What `_reconstruct_persistent_obj(meta)` describes, kept as data: nothing is executed."""

    class_name: str
    module_src: str
    state: dict[str, Any] = field(repr=False)

    @property
    def init_kwargs(self) -> dict[str, Any]:
        return dict(self.state.get("_init_kwargs") or {})

    @property
    def init_args(self) -> tuple:
        return tuple(self.state.get("_init_args") or ())

    def submodules(self) -> dict[str, Any]:
        return dict(self.state.get("_modules") or {})


def _persistent_record(meta: Any) -> PersistentRecord:
    if not isinstance(meta, dict) or meta.get("type") != "class" or not isinstance(meta.get("class_name"), str):
        raise LivevisError("malformed persistence record in network pickle")
    state = meta.get("state")
    if not isinstance(state, dict):
        raise LivevisError(f"persistence record {meta['class_name']} has no state dict")
    return PersistentRecord(meta["class_name"], str(meta.get("module_src") or ""), dict(state))


def _storage_from_bytes(data: bytes) -> Any:
    # torch.storage._load_from_bytes would run a full (code-executing) torch.load on these bytes.
    if not isinstance(data, (bytes, bytearray)):
        raise LivevisError("malformed tensor storage in network pickle")
    try:
        return torch.load(io.BytesIO(bytes(data)), weights_only=True, map_location="cpu")
    except Exception as exc:  # the weights-only unpickler refuses anything but tensors
        raise LivevisError(f"refused tensor storage in network pickle: {str(exc).splitlines()[0]}") from None


def _numpy_scalar(dtype: Any, data: bytes | None = None) -> Any:
    import numpy as np

    if not isinstance(dtype, np.dtype) or dtype.hasobject or not isinstance(data, (bytes, bytearray)):
        raise LivevisError("refused numpy object scalar in network pickle")
    return np.frombuffer(bytes(data), dtype=dtype, count=1)[0]


def _numpy_reconstruct(cls: Any, shape: Any, dtype_code: Any) -> Any:
    import numpy as np

    if cls is not np.ndarray:
        raise LivevisError("refused numpy array subclass in network pickle")
    return np.ndarray.__new__(np.ndarray, shape, dtype_code)


def _latin1_bytes(text: Any, encoding: Any = "latin1") -> bytes:
    # Protocol-2 pickles (Python 2 era tools) spell bytes as _codecs.encode(str, 'latin1').
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise LivevisError("refused _codecs.encode call in network pickle")
    return text.encode("latin1")


def _numpy_globals() -> dict[tuple[str, str], Callable[..., Any]]:
    import numpy as np

    table: dict[tuple[str, str], Callable[..., Any]] = {("numpy", "dtype"): np.dtype, ("numpy", "ndarray"): np.ndarray}
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        table[(module, "scalar")] = _numpy_scalar
        table[(module, "_reconstruct")] = _numpy_reconstruct
    return table


_ALLOWED: dict[tuple[str, str], Callable[..., Any]] = {
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): _persistent_record,
    ("torch._utils", "_rebuild_tensor"): torch._utils._rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v2"): torch._utils._rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): torch._utils._rebuild_parameter,
    ("torch.storage", "_load_from_bytes"): _storage_from_bytes,
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("_codecs", "encode"): _latin1_bytes,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("dnnlib", "EasyDict"): dict,
    ("dnnlib.util", "EasyDict"): dict,
    ("torch", "Size"): torch.Size,
    ("torch", "device"): torch.device,
}


class RestrictedUnpickler(pickle.Unpickler):
    """Resolves only allow-listed globals; anything else raises LivevisError naming it."""

    def find_class(self, module: str, name: str) -> Any:
        # Protocol < 3 pickles use Python 2 names (__builtin__.set); map them as pickle itself would.
        if (module, name) in _compat_pickle.NAME_MAPPING:
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        fn = _ALLOWED.get((module, name))
        if fn is not None:
            return fn
        if module.startswith("numpy"):
            fn = _numpy_globals().get((module, name))
            if fn is not None:
                return fn
        if module == "torch" and isinstance(getattr(torch, name, None), torch.dtype):
            return getattr(torch, name)  # dtype constants (torch.float32, ...)
        raise LivevisError(f"refused to load pickle: global {module}.{name} is not on the allow-list")

    def persistent_load(self, pid: Any) -> Any:
        raise LivevisError("refused to load pickle: unexpected persistent id (is this a torch.save file?)")


def read_network_pickle(path: str | Path) -> dict[str, Any]:
    """Unpickle an NVlabs snapshot into plain data + PersistentRecords. Never executes pickled code."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            data = RestrictedUnpickler(f).load()
    except LivevisError:
        raise
    except FileNotFoundError:
        raise LivevisError(f"no such file: {path}") from None
    except Exception as exc:  # whatever a damaged or hostile file makes the unpickler raise is the file's fault
        raise LivevisError(f"cannot read network pickle {path}: {type(exc).__name__}: {exc}") from None
    if not isinstance(data, dict):
        raise LivevisError(f"{path} is not an NVlabs network pickle (top level is {type(data).__name__}, expected a dict)")
    return data


def collect_tensors(record: PersistentRecord, prefix: str = "") -> dict[str, torch.Tensor]:
    """state_dict-style {dotted name: tensor} from a record tree (_parameters, persistent _buffers, _modules)."""
    out: dict[str, torch.Tensor] = {}
    state = record.state
    non_persistent = set(state.get("_non_persistent_buffers_set") or ())
    for kind in ("_parameters", "_buffers"):
        for name, tensor in dict(state.get(kind) or {}).items():
            if tensor is None or (kind == "_buffers" and name in non_persistent):
                continue
            if not isinstance(tensor, torch.Tensor):
                raise LivevisError(f"network pickle: {prefix}{name} is not a tensor")
            out[prefix + name] = tensor.detach()
    for name, child in record.submodules().items():
        if child is None:
            continue
        if not isinstance(child, PersistentRecord):
            raise LivevisError(f"network pickle: submodule {prefix}{name} is not a persistence record")
        out.update(collect_tensors(child, prefix=f"{prefix}{name}."))
    return out


def class_names(record: PersistentRecord) -> set[str]:
    names = {record.class_name}
    for child in record.submodules().values():
        if isinstance(child, PersistentRecord):
            names |= class_names(child)
    return names


def detect_architecture(record: PersistentRecord) -> str:
    """'stylegan2' or 'stylegan3', from class and module names only (the source is never run)."""
    names = class_names(record)
    synthesis = record.submodules().get("synthesis")
    layer_names = set(synthesis.submodules()) if isinstance(synthesis, PersistentRecord) else set()
    if "SynthesisInput" in names or any(n.startswith("L0_") for n in layer_names):
        return "stylegan3"
    if "SynthesisBlock" in names or "b4" in layer_names:
        return "stylegan2"
    raise LivevisError(f"unsupported generator in network pickle (classes: {', '.join(sorted(names))})")


_GENERATOR_ARGS = ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels")


def load_state_strict(module: nn.Module, tensors: dict[str, torch.Tensor], source: str) -> None:
    """Copy tensors into module; any missing, unexpected or mis-shaped tensor is a LivevisError naming it."""
    expected = module.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing[:8])}{' ...' if len(missing) > 8 else ''}")
        if unexpected:
            parts.append(f"unexpected {', '.join(unexpected[:8])}{' ...' if len(unexpected) > 8 else ''}")
        raise LivevisError(f"{source}: tensors do not match the architecture: {'; '.join(parts)}")
    for name, tensor in tensors.items():
        if tuple(tensor.shape) != tuple(expected[name].shape):
            raise LivevisError(f"{source}: tensor {name} has shape {tuple(tensor.shape)}, expected {tuple(expected[name].shape)}")
    module.load_state_dict({k: v.to(expected[k].dtype) for k, v in tensors.items()}, strict=True)


def generator_from_record(record: PersistentRecord, source: str = "network pickle") -> nn.Module:
    """Build our Generator for an NVlabs Generator record and load its tensors strictly."""
    kwargs = record.init_kwargs
    for name, value in zip(_GENERATOR_ARGS, record.init_args):
        kwargs.setdefault(name, value)
    arch = detect_architecture(record)
    if arch == "stylegan2":
        from livevis.models import stylegan2 as module
    else:
        from livevis.models import stylegan3 as module
    generator = module.Generator(module.config_from_nvlabs_kwargs(kwargs))
    load_state_strict(generator, collect_tensors(record), source)
    return generator.eval().requires_grad_(False)


def load_nvlabs_pickle(path: str | Path, key: str = "G_ema") -> nn.Module:
    """NVlabs .pkl -> our generator (eval mode) with its `key` network's weights (default 'G_ema')."""
    data = read_network_pickle(path)
    if key not in data:
        raise LivevisError(f"{path}: no {key!r} network in pickle (has: {', '.join(map(str, data)) or 'nothing'})")
    record = data[key]
    if not isinstance(record, PersistentRecord):
        raise LivevisError(f"{path}: {key!r} is not a persistent network record")
    return generator_from_record(record, source=f"{Path(path).name}[{key}]")
