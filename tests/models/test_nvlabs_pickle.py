"""NVlabs network pickles: persistence records load into our classes; nothing in the pickle is executed."""

from __future__ import annotations

import io
import os
import pickle

import numpy as np
import pytest
import torch

from livevis.errors import LivevisError
from livevis.models.nvlabs_pickle import (PersistentRecord, RestrictedUnpickler, detect_architecture,
                                          load_nvlabs_pickle, read_network_pickle)
from livevis.models.stylegan2 import Generator, StyleGAN2Config
from tests.models.nvlabs_standin import nvlabs_kwargs_for, record_for, write_network_pickle


def seeded_generator(seed: int = 0, **overrides) -> Generator:
    cfg = dict(z_dim=16, w_dim=16, img_resolution=16, channel_base=128, channel_max=16, mapping_layers=2)
    cfg.update(overrides)
    torch.manual_seed(seed)
    G = Generator(StyleGAN2Config(**cfg)).eval()
    with torch.no_grad():
        for name, t in list(G.named_parameters()) + list(G.named_buffers()):
            if "resample_filter" not in name:
                t.copy_(torch.randn_like(t) * 0.5)
    return G


@pytest.fixture
def snapshot(tmp_path):
    G = seeded_generator()
    marker = tmp_path / "module_src_ran"
    path = write_network_pickle(tmp_path / "network-snapshot.pkl", G, nvlabs_kwargs_for(G.config), marker=marker,
                                G=seeded_generator(seed=1))
    return G, path, marker


def test_round_trip_matches_and_never_runs_module_src(snapshot):
    G, path, marker = snapshot
    loaded = load_nvlabs_pickle(path)
    assert isinstance(loaded, Generator) and not loaded.training
    assert (loaded.num_ws, loaded.w_dim, loaded.img_resolution) == (G.num_ws, G.w_dim, G.img_resolution)
    z = torch.randn(2, 16)
    with torch.no_grad():
        ws = G.mapping(z, truncation_psi=0.6)
        assert torch.equal(loaded.mapping(z, truncation_psi=0.6), ws)
        assert torch.equal(loaded.synthesis(ws), G.synthesis(ws))
    assert not marker.exists(), "embedded module source was executed"


@pytest.mark.parametrize("protocol", [2, 3, 5])
def test_older_and_newer_pickle_protocols(tmp_path, protocol):
    G = seeded_generator()
    path = write_network_pickle(tmp_path / "p.pkl", G, nvlabs_kwargs_for(G.config), protocol=protocol)
    ws = G.mapping(torch.randn(1, 16))
    assert torch.equal(load_nvlabs_pickle(path).synthesis(ws), G.synthesis(ws))


def test_key_selects_network(snapshot):
    G, path, _ = snapshot
    g = load_nvlabs_pickle(path, key="G")
    assert not torch.equal(g.synthesis.b4.const, G.synthesis.b4.const)  # G and G_ema differ in the snapshot
    with pytest.raises(LivevisError, match="no 'G_avg' network"):
        load_nvlabs_pickle(path, key="G_avg")
    with pytest.raises(LivevisError, match="unsupported generator"):
        load_nvlabs_pickle(path, key="D")


def test_ada_layout_and_numpy_scalars(tmp_path):
    G = seeded_generator(conv_clamp=None)
    kwargs = dict(z_dim=16, c_dim=0, w_dim=16, img_resolution=16, img_channels=3,
                  mapping_kwargs=dict(num_layers=2, lr_multiplier=np.float64(0.01)),
                  synthesis_kwargs=dict(channel_base=128, channel_max=16, num_fp16_res=4))
    path = write_network_pickle(tmp_path / "ada.pkl", G, kwargs, extra={"progress": np.arange(3.0)})
    loaded = load_nvlabs_pickle(path)
    assert loaded.config.conv_clamp is None
    ws = G.mapping(torch.randn(1, 16))
    assert torch.equal(loaded.synthesis(ws), G.synthesis(ws))
    assert read_network_pickle(path)["progress"].tolist() == [0.0, 1.0, 2.0]


def _evil_os_system(marker):
    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))
    return Evil()


def test_os_system_payload_is_refused_without_side_effect(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"G_ema": _evil_os_system(marker)}))
    with pytest.raises(LivevisError, match=r"global (posix|os|nt)\.system is not on the allow-list"):
        load_nvlabs_pickle(path)
    assert not marker.exists()


def test_payload_hidden_in_a_snapshot_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    path = write_network_pickle(tmp_path / "evil.pkl", seeded_generator(), nvlabs_kwargs_for(seeded_generator().config),
                                extra={"augment_pipe": _evil_os_system(marker)})
    with pytest.raises(LivevisError, match="allow-list"):
        load_nvlabs_pickle(path)
    assert not marker.exists()


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_load_from_bytes_gadget_goes_through_weights_only(tmp_path):
    marker = tmp_path / "pwned"
    inner = pickle.dumps(_evil_os_system(marker))

    class Gadget:
        def __reduce__(self):
            return (torch.storage._load_from_bytes, (inner,))

    path = tmp_path / "gadget.pkl"
    path.write_bytes(pickle.dumps({"G_ema": Gadget()}))
    with pytest.raises(LivevisError, match="refused tensor storage"):
        load_nvlabs_pickle(path)
    assert not marker.exists()


def test_other_globals_refused():
    data = pickle.dumps({"x": io.BytesIO})
    with pytest.raises(LivevisError, match="_io.BytesIO"):
        RestrictedUnpickler(io.BytesIO(data)).load()
    for module, name in [("torch", "FloatStorage"), ("builtins", "eval"), ("torch", "load"), ("numpy", "load")]:
        data = b"\x80\x02c" + f"{module}\n{name}\n".encode() + b"q\x00."  # a bare GLOBAL opcode
        with pytest.raises(LivevisError, match=f"{module}.{name} is not on the allow-list"):
            RestrictedUnpickler(io.BytesIO(data)).load()
    assert RestrictedUnpickler(io.BytesIO(b"\x80\x02ctorch\nfloat32\nq\x00.")).load() is torch.float32


def test_missing_unexpected_and_misshaped_tensors_are_named(tmp_path):
    G = seeded_generator()
    kwargs = nvlabs_kwargs_for(G.config)
    del G.synthesis.b8.conv0.noise_strength
    path = write_network_pickle(tmp_path / "missing.pkl", G, kwargs)
    with pytest.raises(LivevisError, match=r"missing synthesis\.b8\.conv0\.noise_strength"):
        load_nvlabs_pickle(path)

    G = seeded_generator()
    G.synthesis.b4.register_buffer("surprise", torch.zeros(2))
    path = write_network_pickle(tmp_path / "unexpected.pkl", G, kwargs)
    with pytest.raises(LivevisError, match=r"unexpected synthesis\.b4\.surprise"):
        load_nvlabs_pickle(path)

    G = seeded_generator()
    G.synthesis.b4.const = torch.nn.Parameter(torch.zeros(3, 4, 4))
    path = write_network_pickle(tmp_path / "shape.pkl", G, kwargs)
    with pytest.raises(LivevisError, match=r"synthesis\.b4\.const has shape \(3, 4, 4\)"):
        load_nvlabs_pickle(path)


def test_bad_files_are_user_errors(tmp_path):
    with pytest.raises(LivevisError, match="no such file"):
        load_nvlabs_pickle(tmp_path / "absent.pkl")
    junk = tmp_path / "junk.pkl"
    junk.write_bytes(b"this is not a pickle at all")
    with pytest.raises(LivevisError, match="cannot read network pickle"):
        load_nvlabs_pickle(junk)
    G = seeded_generator()
    good = write_network_pickle(tmp_path / "good.pkl", G, nvlabs_kwargs_for(G.config))
    truncated = tmp_path / "truncated.pkl"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(LivevisError):
        load_nvlabs_pickle(truncated)
    listed = tmp_path / "list.pkl"
    listed.write_bytes(pickle.dumps([1, 2, 3]))
    with pytest.raises(LivevisError, match="top level is list"):
        load_nvlabs_pickle(listed)


def test_architecture_detection_uses_names_only():
    def rec(cls, modules=None):
        return PersistentRecord(cls, "raise SystemExit", {"_modules": modules or {}})

    sg3 = rec("Generator", {"synthesis": rec("SynthesisNetwork", {"input": rec("SynthesisInput"), "L0_36_512": rec("SynthesisLayer")}),
                            "mapping": rec("MappingNetwork")})
    sg2 = rec("Generator", {"synthesis": rec("SynthesisNetwork", {"b4": rec("SynthesisBlock")}), "mapping": rec("MappingNetwork")})
    assert detect_architecture(sg3) == "stylegan3"
    assert detect_architecture(sg2) == "stylegan2"
    with pytest.raises(LivevisError, match="unsupported generator"):
        detect_architecture(rec("Generator", {"body": rec("Conv")}))


def test_record_layout_matches_nvlabs_persistence(tmp_path):
    """The stand-in writes what NVlabs writes: meta dict with type/version/module_src/class_name/state."""
    G = seeded_generator()
    rec = record_for(G, {"z_dim": 16}, "Generator", "SRC")
    fn, (meta,) = rec.__reduce__()
    assert set(meta) == {"type", "version", "module_src", "class_name", "state"} and meta["version"] == 6
    state = meta["state"]
    assert {"_parameters", "_buffers", "_modules", "_init_args", "_init_kwargs", "training"} <= set(state)
    assert set(state["_modules"]) == {"synthesis", "mapping"}


def _weights_only_ones() -> torch.Tensor:
    buf = io.BytesIO()
    torch.save(torch.ones(3), buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


def _build_payload(module: str, name: str) -> bytes:
    """GLOBAL module.name, then BUILD (None, {'__defaults__': ({'neg': True},)}): sets an attribute on it."""
    state = pickle.dumps((None, {"__defaults__": ({"neg": True},)}), protocol=2)[2:-1]  # strip PROTO and STOP
    return b"\x80\x02c" + f"{module}\n{name}\n".encode() + state + b"b."


@pytest.mark.parametrize("target", [("torch._utils", "_rebuild_tensor_v2"), ("torch._utils", "_rebuild_parameter"),
                                    ("torch_utils.persistence", "_reconstruct_persistent_obj"), ("torch", "float32"),
                                    ("collections", "OrderedDict"), ("numpy", "dtype")])
def test_build_payload_is_refused_and_leaves_torch_unchanged(tmp_path, target):
    # Before the fix, BUILD set __defaults__ on torch's own _rebuild_tensor_v2: every later tensor load
    # in the process got the neg bit (torch.load of ones(3) gave [-1, -1, -1]).
    defaults = torch._utils._rebuild_tensor_v2.__defaults__
    path = tmp_path / "build.pkl"
    path.write_bytes(_build_payload(*target))
    try:
        with pytest.raises(LivevisError, match="refused to load pickle: BUILD"):
            read_network_pickle(path)
        assert torch._utils._rebuild_tensor_v2.__defaults__ == defaults
        assert torch.equal(_weights_only_ones(), torch.ones(3))
    finally:
        torch._utils._rebuild_tensor_v2.__defaults__ = defaults  # keep other tests sane if this one fails


def test_mutating_opcodes_only_touch_fresh_containers():
    # SETITEM / APPEND on an allow-listed global (a class) and a call of a non-global are refused.
    setitem_on_class = b"\x80\x02ccollections\nOrderedDict\nX\x01\x00\x00\x00kK\x01s."
    with pytest.raises(LivevisError, match="SETITEM on a type"):
        RestrictedUnpickler(io.BytesIO(setitem_on_class)).load()
    append_on_size = b"\x80\x02ctorch\nSize\n)RK\x01a."
    with pytest.raises(LivevisError, match="APPEND on a Size"):
        RestrictedUnpickler(io.BytesIO(append_on_size)).load()
    call_of_data = b"\x80\x02}q\x00)R."
    with pytest.raises(LivevisError, match="call of a dict"):
        RestrictedUnpickler(io.BytesIO(call_of_data)).load()
    assert RestrictedUnpickler(io.BytesIO(pickle.dumps({"a": [1, 2], "b": {3}}, protocol=4))).load() == {"a": [1, 2], "b": {3}}


def _stride_bomb(stride: int) -> bytes:
    """A 4-element float storage viewed with size (2,) and a huge stride: torch's set_ would grow the storage."""
    real = pickle.dumps(torch.arange(4.0), protocol=2)
    tail = b"K\x00K\x04\x85q\tK\x01\x85q\n"  # offset 0, size (4,), stride (1,) as pickled by torch
    assert tail in real
    bomb = b"K\x00K\x02\x85q\t\x8a\x08" + stride.to_bytes(8, "little") + b"\x85q\n"  # size (2,), stride (LONG1 8 bytes)
    return real.replace(tail, bomb)


def test_stride_bomb_is_refused_without_allocating(tmp_path):
    import tracemalloc

    path = tmp_path / "bomb.pkl"
    stride = 75_000_000  # 300 MB of float32 if torch grew the storage to fit
    path.write_bytes(b"\x80\x02}q\x00X\x01\x00\x00\x00tq\x01" + _stride_bomb(stride)[2:-1] + b"s.")
    tracemalloc.start()
    try:
        with pytest.raises(LivevisError, match=r"refused tensor in network pickle: size \(2,\) stride \(75000000,\).*storage holding 4"):
            read_network_pickle(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 5_000_000
    good = tmp_path / "good.pkl"
    good.write_bytes(b"\x80\x02}q\x00X\x01\x00\x00\x00tq\x01" + _stride_bomb(2)[2:-1] + b"s.")
    assert read_network_pickle(good)["t"].tolist() == [0.0, 2.0]


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_storage_declaring_more_than_it_carries_is_refused(tmp_path):
    inner_buf = io.BytesIO()
    torch.save(torch.arange(4.0).storage(), inner_buf, _use_new_zipfile_serialization=False)
    inner = inner_buf.getvalue()
    numel = b"X\x03\x00\x00\x00cpuq\x03K\x04N"  # ('storage', FloatStorage, key, 'cpu', 4, None)
    assert inner.count(numel) == 1
    forged = inner.replace(numel, b"X\x03\x00\x00\x00cpuq\x03J\x00\xe1\xf5\x05N")  # numel 100_000_000

    class Storage:
        def __init__(self, data):
            self.data = data

        def __reduce__(self):
            return (torch.storage._load_from_bytes, (self.data,))

    path = tmp_path / "big.pkl"
    path.write_bytes(pickle.dumps({"s": Storage(forged)}, protocol=4))
    with pytest.raises(LivevisError, match="declares 400000000 bytes but carries only"):
        read_network_pickle(path)
    path.write_bytes(pickle.dumps({"s": Storage(inner)}, protocol=4))
    assert read_network_pickle(path)["s"].tolist() == [0.0, 1.0, 2.0, 3.0]


def test_length_fields_cannot_exceed_the_file(tmp_path):
    path = tmp_path / "len.pkl"
    path.write_bytes(b"\x80\x04\x8e" + (1 << 40).to_bytes(8, "little") + b"abc")  # BINBYTES8 of 1 TiB
    with pytest.raises(LivevisError, match="asks for 1099511627776 bytes, 3 remain"):
        read_network_pickle(path)
