"""TensorRT backend: without torch-tensorrt or CUDA it says so in one line and auto never picks it; the
export step it starts from runs (and is checked) on CPU; the GPU build runs where CUDA + torch_tensorrt are."""

import importlib.util

import pytest
import torch

import livevis.engines as engines
from livevis.engines.backends import tensorrt as trt_backend
from livevis.engines.errors import BackendUnavailable
from tests.rigs.engines import LinearGRU, TinyConvNet, TwoHeads, seeded

HAVE_TRT = importlib.util.find_spec("torch_tensorrt") is not None and torch.cuda.is_available()
NEEDS = "tensorrt backend needs torch-tensorrt (pip install 'livevis[trt]') and a CUDA GPU"


@pytest.mark.skipif(HAVE_TRT, reason="checks the message shown where TensorRT is missing")
def test_without_tensorrt_one_line_and_never_auto():
    m, x = seeded(TinyConvNet()), torch.randn(1, 3, 8, 8)
    with pytest.raises(BackendUnavailable) as info:
        engines.build(m, (x,), backend="tensorrt", name="conv")
    assert str(info.value) == NEEDS
    assert "tensorrt" not in engines.available_backends("cpu")
    e = engines.select_backend(m, (x,), name="conv", cache_key=None, candidates=["tensorrt", "eager"])
    assert e.backend == "eager"


@pytest.mark.parametrize("make, inputs", [
    (lambda: seeded(TinyConvNet()), lambda: (torch.randn(1, 3, 8, 8),)),
    (lambda: engines.wrap_method(seeded(LinearGRU()), "step"), lambda: (torch.randn(1, 16), torch.zeros(1, 16))),
    (lambda: seeded(TwoHeads()), lambda: (torch.randn(1, 8, 12),)),
])
def test_export_for_tensorrt_captures_whole_graph(make, inputs):
    module, xs = make(), inputs()
    exported = trt_backend.export_for_tensorrt(module, xs)
    want, got = module(*xs), exported.module()(*xs)
    want = want if isinstance(want, tuple) else (want,)
    got = got if isinstance(got, (tuple, list)) else (got,)
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(want, got))
    # a single graph of ATen ops, weights lifted as parameters: what torch_tensorrt.dynamo.compile takes
    assert all(n.op != "call_module" for n in exported.graph.nodes)


def test_export_failure_is_a_build_error():
    class Dynamic(torch.nn.Module):
        def forward(self, x):
            return x[: int(x.sum().item() > 0) + 1]  # data-dependent shape

    with pytest.raises(engines.BuildError, match="torch.export failed for Dynamic"):
        trt_backend.export_for_tensorrt(Dynamic(), (torch.randn(4),))


def test_compile_settings_follow_the_installed_api():
    new_api = {"arg_inputs", "min_block_size", "use_explicit_typing", "enable_autocast",
               "autocast_low_precision_type", "optimization_level", "truncate_double", "require_full_compilation"}
    s, cast = trt_backend.compile_settings("fp16", new_api)
    assert not cast and s["enable_autocast"] and s["autocast_low_precision_type"] is torch.float16
    assert s["use_explicit_typing"] and "enabled_precisions" not in s
    s, cast = trt_backend.compile_settings("fp16", (new_api - {"autocast_low_precision_type"}) | {"low_precision_type"})
    assert not cast and s["low_precision_type"] is torch.float16
    s, cast = trt_backend.compile_settings("fp16", {"inputs", "min_block_size"})  # no autocast: half weights
    assert cast and "enable_autocast" not in s
    s, cast = trt_backend.compile_settings("fp32", new_api)
    assert not cast and "enable_autocast" not in s


@pytest.mark.gpu
@pytest.mark.skipif(not HAVE_TRT, reason="needs a CUDA GPU and torch-tensorrt (pip install 'livevis[trt]')")
@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_tensorrt_builds_caches_and_passes_parity(tmp_path, monkeypatch, precision):
    monkeypatch.setenv("LIVEVIS_CACHE_DIR", str(tmp_path))
    m, x = seeded(TinyConvNet()).cuda(), torch.randn(1, 3, 16, 16, device="cuda")
    first = engines.build(m, (x,), backend="tensorrt", precision=precision, name="conv", cache_key="w")
    second = engines.build(m, (x,), backend="tensorrt", precision=precision, name="conv", cache_key="w")
    assert not first.from_cache and second.from_cache
    assert second.parity <= engines.TOLERANCE[precision]


def _installed_trt():
    try:
        import torch_tensorrt
    except Exception as exc:  # not installed, or installed without its CUDA libraries
        pytest.skip(f"torch_tensorrt is not importable here ({type(exc).__name__}): the settings are checked "
                    "against its signatures where it is installed (pip install 'livevis[trt]')")
    return torch_tensorrt


@pytest.mark.parametrize("precision", ["fp32", "fp16", "bf16"])
def test_settings_exist_in_the_installed_torch_tensorrt(precision):
    import inspect

    trt = _installed_trt()
    signature = inspect.signature(trt.dynamo.compile)
    params = signature.parameters
    settings, _ = trt_backend.compile_settings(precision, set(params))
    accepts_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    known = set(params)
    if accepts_any:  # **kwargs: the real names are CompilationSettings' fields
        import dataclasses

        known |= {f.name for f in dataclasses.fields(trt.dynamo.CompilationSettings)}
    assert set(settings) <= known, f"not in torch_tensorrt {trt.__version__}: {sorted(set(settings) - known)}"
    input_key = "arg_inputs" if "arg_inputs" in params else "inputs"
    signature.bind_partial(object(), **{input_key: []}, **settings)  # names and positions as _compile passes them
    for name, value in settings.items():
        default = params[name].default if name in params else inspect.Parameter.empty
        if isinstance(default, (bool, int)) and default is not inspect.Parameter.empty:
            assert type(value) is type(default), (name, value, default)
    save = inspect.signature(trt.save).parameters
    assert "output_format" in save and ({"arg_inputs", "inputs"} & set(save))
