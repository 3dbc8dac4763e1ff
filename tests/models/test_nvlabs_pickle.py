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
