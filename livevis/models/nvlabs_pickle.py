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
import os
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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


# Legacy storage class names -> element dtype (the class attribute itself warns that TypedStorage is deprecated).
_STORAGE_DTYPES = {
    "FloatStorage": torch.float32, "DoubleStorage": torch.float64, "HalfStorage": torch.float16,
    "BFloat16Storage": torch.bfloat16, "LongStorage": torch.int64, "IntStorage": torch.int32,
    "ShortStorage": torch.int16, "CharStorage": torch.int8, "ByteStorage": torch.uint8, "BoolStorage": torch.bool,
}


def _storage_dtype(name: str) -> torch.dtype:
    if name not in _STORAGE_DTYPES:
        raise LivevisError(f"refused tensor storage in network pickle: unknown storage type torch.{name}")
    return _STORAGE_DTYPES[name]


class _StorageScan(pickle.Unpickler):
    """Reads the persistent ids of a legacy torch.save stream without allocating anything.

    find_class returns fresh strings and persistent_load returns None, so nothing live is reachable.
    """

    def __init__(self, file: Any):
        super().__init__(file)
        self.declared_bytes = 0

    def find_class(self, module: str, name: str) -> Any:
        if module == "torch":
            return f"torch.{name}"
        raise LivevisError(f"refused tensor storage in network pickle: global {module}.{name}")

    def persistent_load(self, pid: Any) -> Any:
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage" and isinstance(pid[1], str)
                and type(pid[4]) is int and pid[4] >= 0):
            raise LivevisError("refused tensor storage in network pickle: malformed storage record")
        dtype = _storage_dtype(pid[1].removeprefix("torch."))
        self.declared_bytes += pid[4] * dtype.itemsize
        return None


def _check_declared_storage(data: bytes) -> None:
    """The legacy stream's storages must fit in the bytes that carry them, before torch allocates them."""
    stream = io.BytesIO(data)
    try:
        for _ in range(3):  # magic number, protocol version, sys_info: plain data
            _StorageScan(stream).load()
        scan = _StorageScan(stream)
        scan.load()
    except LivevisError:
        raise
    except Exception as exc:
        raise LivevisError(f"refused tensor storage in network pickle: {_one_line(exc)}") from None
    if scan.declared_bytes > len(data):
        raise LivevisError(f"refused tensor storage in network pickle: it declares {scan.declared_bytes} bytes "
                           f"but carries only {len(data)}")


def _one_line(exc: BaseException) -> str:
    text = (str(exc).splitlines() or [""])[0]
    return f"{type(exc).__name__}: {text[:200]}"


def _storage_from_bytes(data: bytes) -> Any:
    # torch.storage._load_from_bytes would run a full (code-executing) torch.load on these bytes.
    if not isinstance(data, (bytes, bytearray)):
        raise LivevisError("malformed tensor storage in network pickle")
    _check_declared_storage(bytes(data))
    try:
        return torch.load(io.BytesIO(bytes(data)), weights_only=True, map_location="cpu")
    except Exception as exc:  # the weights-only unpickler refuses anything but tensors
        raise LivevisError(f"refused tensor storage in network pickle: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None


def _int_tuple(value: Any, what: str) -> tuple[int, ...]:
    if not isinstance(value, (tuple, list)) or not all(type(v) is int and v >= 0 for v in value):
        raise LivevisError(f"refused tensor in network pickle: malformed {what}")
    return tuple(value)


def _checked_view(storage: Any, storage_offset: Any, size: Any, stride: Any) -> torch.Tensor:
    """The tensor a (storage, offset, size, stride) record describes, refused if it reaches past its storage.

    torch's set_ grows a storage that is too small for the view, so a tiny file with a huge stride
    would otherwise allocate gigabytes.
    """
    if isinstance(storage, torch.storage.TypedStorage):
        dtype, untyped = storage.dtype, storage._untyped_storage
    else:
        raise LivevisError("refused tensor in network pickle: storage is not a tensor storage")
    size, stride = _int_tuple(size, "size"), _int_tuple(stride, "stride")
    if type(storage_offset) is not int or storage_offset < 0 or len(size) != len(stride):
        raise LivevisError("refused tensor in network pickle: malformed offset or stride")
    available = untyped.nbytes() // dtype.itemsize  # elements the file actually carries
    if 0 in size:
        extent = 0
    else:
        extent = storage_offset + 1 + sum((n - 1) * s for n, s in zip(size, stride))
    if extent > available:
        raise LivevisError(f"refused tensor in network pickle: size {size} stride {stride} offset {storage_offset} "
                           f"reaches element {extent} of a storage holding {available}")
    return torch.empty((0,), dtype=dtype).set_(untyped, storage_offset, size, stride)


def _no_hooks(backward_hooks: Any) -> None:
    if not isinstance(backward_hooks, dict) or backward_hooks:
        raise LivevisError("refused tensor in network pickle: backward hooks")


def _rebuild_tensor(storage: Any, storage_offset: Any, size: Any, stride: Any) -> torch.Tensor:
    return _checked_view(storage, storage_offset, size, stride)


def _rebuild_tensor_v2(storage: Any, storage_offset: Any, size: Any, stride: Any, requires_grad: Any = False,
                       backward_hooks: Any = None, metadata: Any = None) -> torch.Tensor:
    _no_hooks({} if backward_hooks is None else backward_hooks)
    if metadata:  # conj/neg bits and the like: never in an NVlabs snapshot
        raise LivevisError("refused tensor in network pickle: tensor metadata")
    tensor = _checked_view(storage, storage_offset, size, stride)
    return tensor.requires_grad_(bool(requires_grad)) if tensor.is_floating_point() else tensor


def _rebuild_parameter(data: Any, requires_grad: Any, backward_hooks: Any) -> nn.Parameter:
    _no_hooks(backward_hooks)
    if not isinstance(data, torch.Tensor):
        raise LivevisError("refused parameter in network pickle: data is not a tensor")
    return nn.Parameter(data.detach(), requires_grad=bool(requires_grad) and data.is_floating_point())


def _numpy_dtype(obj: Any, align: Any = False, copy: Any = False) -> Any:
    import numpy as np

    # Always a copy: numpy's BUILD (__setstate__) on a shared builtin dtype would change it process-wide.
    dtype = np.dtype(obj, bool(align), True)
    if dtype.hasobject:
        raise LivevisError("refused numpy object dtype in network pickle")
    return dtype


def _numpy_scalar(dtype: Any, data: bytes | None = None) -> Any:
    import numpy as np

    if not isinstance(dtype, np.dtype) or dtype.hasobject or not isinstance(data, (bytes, bytearray)):
        raise LivevisError("refused numpy object scalar in network pickle")
    return np.frombuffer(bytes(data), dtype=dtype, count=1)[0]


def _numpy_reconstruct(cls: Any, shape: Any, dtype_code: Any) -> Any:
    import numpy as np

    if cls is not np.ndarray:
        raise LivevisError("refused numpy array subclass in network pickle")
    if _int_tuple(shape, "numpy shape") != (0,):  # numpy's own reduce always starts from an empty array
        raise LivevisError("refused numpy array in network pickle: unexpected initial shape")
    return np.ndarray.__new__(np.ndarray, (0,), np.dtype(dtype_code))


def _latin1_bytes(text: Any, encoding: Any = "latin1") -> bytes:
    # Protocol-2 pickles (Python 2 era tools) spell bytes as _codecs.encode(str, 'latin1').
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise LivevisError("refused _codecs.encode call in network pickle")
    return text.encode("latin1")


def _numpy_globals() -> dict[tuple[str, str], Any]:
    import numpy as np

    table: dict[tuple[str, str], Any] = {("numpy", "dtype"): _numpy_dtype, ("numpy", "ndarray"): np.ndarray}
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        table[(module, "scalar")] = _numpy_scalar
        table[(module, "_reconstruct")] = _numpy_reconstruct
    return table


# Every callable here is ours or a constructor whose result is fresh; torch's own functions are never
# handed out, so nothing a file does to what it receives can reach the rest of the process.
_ALLOWED: dict[tuple[str, str], Any] = {
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): _persistent_record,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
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

_NEWOBJ_CLASSES = (dict, collections.OrderedDict, set, frozenset)  # cls.__new__ of these makes an empty container


class _BoundedReader:
    """File reads that may not ask for more than the file holds: a length field can't make us allocate it."""

    def __init__(self, file: Any, size: int):
        self._file, self._left = file, size

    def _take(self, n: int) -> None:
        if n > self._left:
            raise LivevisError(f"network pickle is truncated or corrupt: a field asks for {n} bytes, {self._left} remain")

    def read(self, n: int = -1) -> bytes:
        n = self._left if n is None or n < 0 else n
        self._take(n)
        data = self._file.read(n)
        self._left -= len(data)
        return data

    def readinto(self, buf: Any) -> int:
        self._take(len(buf))
        got = self._file.readinto(buf)
        self._left -= got
        return got

    def readline(self) -> bytes:
        line = self._file.readline(self._left)
        self._left -= len(line)
        return line


class RestrictedUnpickler(pickle._Unpickler):  # the pure-Python unpickler: its opcodes can be overridden
    """Resolves only allow-listed globals; anything else raises LivevisError naming it.

    Opcodes that change an existing object (BUILD, SETITEM(S), APPEND(S), ADDITEMS) act only on plain
    containers and on numpy objects made during this load; REDUCE calls only what find_class handed out.
    """

    dispatch = dict(pickle._Unpickler.dispatch)

    def __init__(self, file: Any, size: int | None = None):
        if size is None:
            try:
                size = os.fstat(file.fileno()).st_size - file.tell()
            except (AttributeError, OSError, io.UnsupportedOperation):
                size = len(file.getbuffer()) - file.tell() if isinstance(file, io.BytesIO) else 1 << 62
        super().__init__(_BoundedReader(file, size))
        self._callables: dict[int, Any] = {}
        self._buildable: dict[int, Any] = {}  # numpy objects made by this load (kept alive so ids stay unique)

    def find_class(self, module: str, name: str) -> Any:
        # Protocol < 3 pickles use Python 2 names (__builtin__.set); map them as pickle itself would.
        if (module, name) in _compat_pickle.NAME_MAPPING:
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        fn = _ALLOWED.get((module, name))
        if fn is None and module.startswith("numpy"):
            fn = _numpy_globals().get((module, name))
        if fn is None and module == "torch" and isinstance(getattr(torch, name, None), torch.dtype):
            return getattr(torch, name)  # dtype constants (torch.float32, ...): immutable C objects
        if fn is None:
            raise LivevisError(f"refused to load pickle: global {module}.{name} is not on the allow-list")
        self._callables[id(fn)] = fn
        return fn

    def persistent_load(self, pid: Any) -> Any:
        raise LivevisError("refused to load pickle: unexpected persistent id (is this a torch.save file?)")

    def _call(self, func: Any, args: Any) -> Any:
        if self._callables.get(id(func)) is not func:
            raise LivevisError(f"refused to load pickle: call of a {type(func).__name__} that is not an allowed global")
        if not isinstance(args, tuple):
            raise LivevisError("refused to load pickle: malformed call arguments")
        result = func(*args)
        if func is _numpy_dtype or func is _numpy_reconstruct:
            self._buildable[id(result)] = result
        return result

    def load_reduce(self) -> None:
        args = self.stack.pop()
        self.stack[-1] = self._call(self.stack[-1], args)

    def load_newobj(self) -> None:
        args = self.stack.pop()
        cls = self.stack.pop()
        if cls not in _NEWOBJ_CLASSES or not isinstance(args, tuple):
            raise LivevisError(f"refused to load pickle: cannot create a {getattr(cls, '__name__', type(cls).__name__)}")
        self.append(cls.__new__(cls, *args))

    def load_newobj_ex(self) -> None:
        kwargs = self.stack.pop()
        if kwargs:
            raise LivevisError("refused to load pickle: keyword object construction")
        self.load_newobj()

    def load_obj(self) -> None:
        raise LivevisError("refused to load pickle: OBJ/INST opcodes construct arbitrary classes")

    def load_build(self) -> None:
        state = self.stack.pop()
        inst = self.stack[-1]
        if self._buildable.get(id(inst)) is not inst:
            raise LivevisError(f"refused to load pickle: BUILD on a {type(inst).__name__} would change a live object")
        inst.__setstate__(state)

    def _container(self, obj: Any, kinds: tuple[type, ...], op: str) -> Any:
        if type(obj) not in kinds:
            raise LivevisError(f"refused to load pickle: {op} on a {type(obj).__name__}")
        return obj

    def load_setitem(self) -> None:
        value, key = self.stack.pop(), self.stack.pop()
        self._container(self.stack[-1], (dict, collections.OrderedDict), "SETITEM")[key] = value

    def load_setitems(self) -> None:
        items = self.pop_mark()
        target = self._container(self.stack[-1], (dict, collections.OrderedDict), "SETITEMS")
        for i in range(0, len(items) - 1, 2):
            target[items[i]] = items[i + 1]

    def load_append(self) -> None:
        value = self.stack.pop()
        self._container(self.stack[-1], (list,), "APPEND").append(value)

    def load_appends(self) -> None:
        items = self.pop_mark()
        self._container(self.stack[-1], (list,), "APPENDS").extend(items)

    def load_additems(self) -> None:
        items = self.pop_mark()
        self._container(self.stack[-1], (set,), "ADDITEMS").update(items)

    dispatch[pickle.REDUCE[0]] = load_reduce
    dispatch[pickle.NEWOBJ[0]] = load_newobj
    dispatch[pickle.NEWOBJ_EX[0]] = load_newobj_ex
    dispatch[pickle.OBJ[0]] = load_obj
    dispatch[pickle.INST[0]] = load_obj
    dispatch[pickle.BUILD[0]] = load_build
    dispatch[pickle.SETITEM[0]] = load_setitem
    dispatch[pickle.SETITEMS[0]] = load_setitems
    dispatch[pickle.APPEND[0]] = load_append
    dispatch[pickle.APPENDS[0]] = load_appends
    dispatch[pickle.ADDITEMS[0]] = load_additems


def read_network_pickle(path: str | Path) -> dict[str, Any]:
    """Unpickle an NVlabs snapshot into plain data + PersistentRecords. Never executes pickled code."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            data = RestrictedUnpickler(f, os.fstat(f.fileno()).st_size).load()
    except LivevisError:
        raise
    except FileNotFoundError:
        raise LivevisError(f"no such file: {path}") from None
    except Exception as exc:  # whatever a damaged or hostile file makes the unpickler raise is the file's fault
        raise LivevisError(f"cannot read network pickle {path}: {_one_line(exc)}") from None
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
