"""Test-only writer of NVlabs-format network pickles, built from OUR modules (no NVlabs code here).

NVlabs' torch_utils.persistence pickles every network object as
    torch_utils.persistence._reconstruct_persistent_obj(meta)
    meta = dict(type='class', version=6, module_src=<module source text>, class_name=<class>,
                state=<the object's __dict__: _parameters, _buffers, _modules, ..., _init_args, _init_kwargs>)
with tensors pickled by torch itself (_rebuild_parameter / _rebuild_tensor_v2 / storage._load_from_bytes)
and EasyDicts as dnnlib.EasyDict. A snapshot is a dict with G, D, G_ema, augment_pipe,
training_set_kwargs. `write_network_pickle` emits exactly that record layout for a module tree.

The writer temporarily registers stand-in modules `torch_utils.persistence` and `dnnlib` in
sys.modules so that pickle can name those globals; they are removed again afterwards.
"""

from __future__ import annotations

import collections
import contextlib
import pickle
import sys
import types
from pathlib import Path
from typing import Any, Iterator

import torch
from torch import nn

PERSISTENCE_VERSION = 6

# Source text stored in every record. If it were ever executed it would leave a marker file.
DEFAULT_MODULE_SRC = "open({marker!r}, 'w').write('module_src was executed')\n"


class _EasyDict(dict):
    """Pickles as dnnlib.EasyDict (a dict subclass with attribute access)."""


class _Record:
    """Pickles as _reconstruct_persistent_obj(meta), like an NVlabs persistent object."""

    def __init__(self, meta: dict[str, Any]):
        self.meta = meta

    def __reduce__(self):
        return (_reconstruct_persistent_obj, (self.meta,))


def _reconstruct_persistent_obj(meta):  # only ever referenced by name in the written pickle
    raise RuntimeError("stand-in: never called")


@contextlib.contextmanager
def _standin_globals() -> Iterator[None]:
    persistence = types.ModuleType("torch_utils.persistence")
    persistence._reconstruct_persistent_obj = _reconstruct_persistent_obj
    torch_utils = types.ModuleType("torch_utils")
    torch_utils.persistence = persistence
    dnnlib = types.ModuleType("dnnlib")
    dnnlib.EasyDict = _EasyDict
    fakes = {"torch_utils": torch_utils, "torch_utils.persistence": persistence, "dnnlib": dnnlib}
    saved = {name: sys.modules.get(name) for name in fakes}
    saved_attrs = (_reconstruct_persistent_obj.__module__, _EasyDict.__module__, _EasyDict.__qualname__)
    try:
        sys.modules.update(fakes)
        _reconstruct_persistent_obj.__module__ = "torch_utils.persistence"
        _EasyDict.__module__, _EasyDict.__qualname__ = "dnnlib", "EasyDict"
        yield
    finally:
        _reconstruct_persistent_obj.__module__, _EasyDict.__module__, _EasyDict.__qualname__ = saved_attrs
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


def easydict(d: dict[str, Any]) -> _EasyDict:
    return _EasyDict({k: easydict(v) if isinstance(v, dict) else v for k, v in d.items()})


def _plain(value: Any) -> bool:
    """Values an NVlabs module __dict__ would hold that pickle as plain data."""
    if value is None or isinstance(value, (bool, int, float, str, bytes, torch.Tensor)):
        return True
    if isinstance(value, (list, tuple, set)):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return False


def record_for(module: nn.Module, init_kwargs: dict[str, Any] | None = None, class_name: str | None = None,
               module_src: str = "") -> _Record:
    """Persistence record for `module` and, recursively, its submodules (same tree, same names)."""
    state: dict[str, Any] = {}
    for key, value in module.__dict__.items():
        if key == "_modules":
            state[key] = {name: (record_for(child, module_src=module_src) if child is not None else None)
                          for name, child in value.items()}
        elif key in ("_parameters", "_buffers"):
            state[key] = collections.OrderedDict(value)
        elif _plain(value):
            state[key] = value
    state["_init_args"] = ()
    state["_init_kwargs"] = easydict(init_kwargs or {})
    meta = dict(type="class", version=PERSISTENCE_VERSION, module_src=module_src,
                class_name=class_name or type(module).__name__, state=state)
    return _Record(meta)


def write_network_pickle(path: str | Path, G_ema: nn.Module, G_init_kwargs: dict[str, Any], *, G: nn.Module | None = None,
                         D: nn.Module | None = None, marker: str | Path = "/nonexistent/livevis-marker",
                         module_src: str | None = None, extra: dict[str, Any] | None = None, protocol: int = 4) -> Path:
    """Write an NVlabs-style snapshot {G, D, G_ema, augment_pipe, training_set_kwargs} to `path`."""
    src = DEFAULT_MODULE_SRC.format(marker=str(marker)) if module_src is None else module_src
    D = D if D is not None else nn.Sequential(nn.Conv2d(3, 4, 3), nn.LeakyReLU(0.2))
    snapshot: dict[str, Any] = {
        "G": record_for(G if G is not None else G_ema, G_init_kwargs, "Generator", src),
        "D": record_for(D, {"c_dim": 0, "img_resolution": 32, "img_channels": 3}, "Discriminator", src),
        "G_ema": record_for(G_ema, G_init_kwargs, "Generator", src),
        "augment_pipe": None,
        "training_set_kwargs": easydict({"class_name": "training.dataset.ImageFolderDataset", "path": "data.zip",
                                         "use_labels": False, "max_size": 1000, "xflip": False, "resolution": 32}),
    }
    snapshot.update(extra or {})
    path = Path(path)
    with _standin_globals(), open(path, "wb") as f:
        pickle.dump(snapshot, f, protocol=protocol)
    return path


def nvlabs_kwargs_for(config: Any) -> dict[str, Any]:
    """NVlabs stylegan3-repo Generator init kwargs for one of our StyleGAN2Configs (as train.py stores them)."""
    return {
        "z_dim": config.z_dim, "c_dim": config.c_dim, "w_dim": config.w_dim,
        "img_resolution": config.img_resolution, "img_channels": config.img_channels,
        "mapping_kwargs": {"num_layers": config.mapping_layers},
        "channel_base": config.channel_base, "channel_max": config.channel_max,
        "num_fp16_res": 4, "conv_clamp": config.conv_clamp, "fused_modconv_default": "inference_only",
    }
