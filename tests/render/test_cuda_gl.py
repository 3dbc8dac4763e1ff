"""CUDA-GL interop. The real copy needs cuda-python and a GPU whose driver also runs the GL context;
on CPU machines the call sequence runs against a recording stand-in for the CUDA runtime."""

import sys

import numpy as np
import pytest

from livevis.errors import LivevisError
from livevis.render import cuda_gl
from livevis.render.frame import Frame
from livevis.render.renderer import Renderer
from tests.rigs.display import egl_ctx  # noqa: F401  (fixture)


class _Enum:
    def __init__(self, **values):
        self.__dict__.update(values)


class FakeRuntime:
    """Just enough of cuda.bindings.runtime to check what CudaTextureWriter asks for."""

    cudaError_t = _Enum(cudaSuccess=0, cudaErrorInvalidValue=1)
    cudaGraphicsRegisterFlags = _Enum(cudaGraphicsRegisterFlagsWriteDiscard=2)
    cudaMemcpyKind = _Enum(cudaMemcpyDeviceToDevice=3)

    def __init__(self, fail: str | None = None):
        self.calls = []
        self.fail = fail

    def _ret(self, name, *values):
        self.calls.append(name)
        return (1 if name == self.fail else 0, *values)

    def cudaStream_t(self, handle):
        return ("stream", handle)

    def cudaGetDeviceCount(self):
        return self._ret("cudaGetDeviceCount", 1)

    def cudaGetErrorName(self, err):
        return (0, b"cudaErrorInvalidValue")

    def cudaGraphicsGLRegisterImage(self, glo, target, flags):
        self.registered = (glo, target, flags)
        return self._ret("cudaGraphicsGLRegisterImage", "resource")

    def cudaGraphicsMapResources(self, count, resource, stream):
        assert (count, resource) == (1, "resource")
        return self._ret("cudaGraphicsMapResources")

    def cudaGraphicsSubResourceGetMappedArray(self, resource, index, level):
        return self._ret("cudaGraphicsSubResourceGetMappedArray", "array")

    def cudaMemcpy2DToArrayAsync(self, dst, w_offset, h_offset, src, spitch, width, height, kind, stream):
        self.copy = (dst, w_offset, h_offset, src, spitch, width, height, kind, stream)
        return self._ret("cudaMemcpy2DToArrayAsync")

    def cudaGraphicsUnmapResources(self, count, resource, stream):
        return self._ret("cudaGraphicsUnmapResources")

    def cudaGraphicsUnregisterResource(self, resource):
        return self._ret("cudaGraphicsUnregisterResource")


class FakeCudaTensor:
    is_cuda = True
    dtype = "torch.uint8"

    def __init__(self, h, w):
        self.shape = (h, w, 4)

    def is_contiguous(self):
        return True

    def data_ptr(self):
        return 0xDEAD0000


def test_without_cuda_python_the_error_says_how_to_get_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "cuda", None)  # import of cuda.* now fails
    monkeypatch.setitem(sys.modules, "cuda.bindings", None)
    with pytest.raises(LivevisError, match=r"cuda-python: pip install 'livevis\[cuda\]'"):
        cuda_gl._runtime()
    assert cuda_gl.available() is False


def test_call_sequence_against_a_stand_in_runtime(egl_ctx, monkeypatch):
    fake = FakeRuntime()
    monkeypatch.setattr(cuda_gl, "_runtime", lambda: fake)
    texture = egl_ctx.texture((48, 32), 4)
    writer = cuda_gl.CudaTextureWriter(texture)
    assert fake.registered == (texture.glo, 0x0DE1, 2)  # GL_TEXTURE_2D, write-discard
    writer.write(FakeCudaTensor(32, 48), stream=7)
    assert fake.calls[-4:] == ["cudaGraphicsMapResources", "cudaGraphicsSubResourceGetMappedArray", "cudaMemcpy2DToArrayAsync", "cudaGraphicsUnmapResources"]
    assert fake.copy == ("array", 0, 0, 0xDEAD0000, 48 * 4, 48 * 4, 32, 3, ("stream", 7))
    with pytest.raises(AssertionError):
        writer.write(FakeCudaTensor(48, 32), stream=7)  # wrong shape
    writer.release()
    assert fake.calls[-1] == "cudaGraphicsUnregisterResource"
    texture.release()


def test_a_failing_copy_is_a_clear_error_and_still_unmaps(egl_ctx, monkeypatch):
    fake = FakeRuntime(fail="cudaMemcpy2DToArrayAsync")
    monkeypatch.setattr(cuda_gl, "_runtime", lambda: fake)
    texture = egl_ctx.texture((16, 16), 4)
    writer = cuda_gl.CudaTextureWriter(texture)
    with pytest.raises(LivevisError, match="cudaMemcpy2DToArrayAsync failed: cudaErrorInvalidValue"):
        writer.write(FakeCudaTensor(16, 16), stream=0)
    assert fake.calls[-1] == "cudaGraphicsUnmapResources"
    with pytest.raises(LivevisError, match="RGBA8"):
        cuda_gl.CudaTextureWriter(egl_ctx.texture((16, 16), 3))
    texture.release()


@pytest.mark.gpu
def test_cuda_tensor_reaches_the_screen_without_host_copy(egl_ctx):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    if not cuda_gl.available():
        pytest.skip("cuda-python not installed (pip install 'livevis[cuda]')")
    if "llvmpipe" in egl_ctx.info["GL_RENDERER"].lower():
        pytest.skip("the EGL context runs on llvmpipe, not on the CUDA GPU: interop impossible")
    frame = np.random.default_rng(1).integers(0, 256, (64, 64, 4), dtype=np.uint8)
    renderer = Renderer(egl_ctx, 64, 64)
    fbo = egl_ctx.simple_framebuffer((64, 64))
    try:
        renderer.upload(Frame(rgba=torch.from_numpy(frame).cuda()))
        torch.cuda.synchronize()
        fbo.use()
        renderer.draw((64, 64), effects_on=False)
        assert np.array_equal(renderer.read_pixels(), frame[..., :3])
    finally:
        renderer.release()
        fbo.release()


class FakeGLContext:
    def __init__(self, vendor, renderer):
        self.info = {"GL_VENDOR": vendor, "GL_RENDERER": renderer}
        self.released = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def release(self):
        self.released = True


class FakeGLRuntime(FakeRuntime):
    """Adds the device queries: `gl_devices` is what cudaGLGetDevices reports (None: the call is missing)."""

    cudaGLDeviceList = _Enum(cudaGLDeviceListAll=1)

    def __init__(self, gl_devices=(0,), names=("NVIDIA GeForce RTX 4090",), gl_error=False):
        super().__init__()
        self.gl_devices, self.names, self.gl_error = gl_devices, names, gl_error
        if gl_devices is None:
            self.cudaGLGetDevices = None

    def cudaGetDeviceCount(self):
        return self._ret("cudaGetDeviceCount", len(self.names))

    def cudaGLGetDevices(self, count, device_list):
        assert device_list == 1
        if self.gl_error:
            return (1, 0, [])
        return (0, len(self.gl_devices), list(self.gl_devices) + [0] * (count - len(self.gl_devices)))

    def cudaGetDeviceProperties(self, index):
        return (0, _Enum(name=self.names[index].encode() + b"\0\0"))


NV = ("NVIDIA Corporation", "NVIDIA GeForce RTX 4090/PCIe/SSE2")
MESA = ("Mesa", "llvmpipe (LLVM 19.1.7, 256 bits)")


@pytest.mark.parametrize("gl, rt, index, expect", [
    (("Mesa", "llvmpipe (LLVM 15.0.6, 256 bits)"), FakeGLRuntime(), 0, r"runs on llvmpipe .*\(Mesa\), not on an NVIDIA GPU"),
    (("Intel", "Mesa Intel(R) UHD Graphics 620"), FakeGLRuntime(), 0, "not on an NVIDIA GPU"),
    (NV, FakeGLRuntime(gl_devices=(0,), names=("A", "B")), 1, r"is on cuda:0, the models on cuda:1"),
    (NV, FakeGLRuntime(gl_error=True), 0, "is not on a CUDA device .cudaGLGetDevices: cudaErrorInvalidValue"),
    (NV, FakeGLRuntime(gl_devices=None, names=("NVIDIA GeForce RTX 4090", "NVIDIA A100-SXM4-80GB")), 1,
     r"runs on NVIDIA GeForce RTX 4090/PCIe/SSE2, the models on cuda:1 \(NVIDIA A100-SXM4-80GB\)"),
    (NV, FakeGLRuntime(gl_devices=(0, 1), names=("A", "B")), 1, None),
    (NV, FakeGLRuntime(gl_devices=None), 0, None),  # names match
])
def test_gl_device_mismatch(gl, rt, index, expect):
    reason = cuda_gl.gl_device_mismatch(FakeGLContext(*gl), index, rt)
    if expect is None:
        assert reason is None
    else:
        assert reason is not None and __import__("re").search(expect, reason), reason


def test_probe_reports_llvmpipe_of_a_real_egl_context(egl_ctx, monkeypatch):
    monkeypatch.setattr(cuda_gl, "_runtime", lambda: FakeGLRuntime())
    renderer = egl_ctx.info["GL_RENDERER"]
    try:
        reason = cuda_gl.interop_unavailable_reason(0)  # creates (and makes current) its own probe context
    finally:
        egl_ctx.__enter__()  # the shared test context is current again
    if "nvidia" in renderer.lower():
        pytest.skip("this machine's EGL is NVIDIA's: the llvmpipe case cannot be shown here")
    assert reason is not None and "not on an NVIDIA GPU" in reason and renderer.split()[0] in reason


def test_probe_never_raises(monkeypatch):
    monkeypatch.setitem(sys.modules, "cuda", None)
    monkeypatch.setitem(sys.modules, "cuda.bindings", None)
    assert "cuda-python" in cuda_gl.interop_unavailable_reason(0)
    monkeypatch.setattr(cuda_gl, "_runtime", lambda: FakeGLRuntime())
    assert cuda_gl.interop_unavailable_reason(3) == "cuda-python sees no CUDA device 3"

    def no_egl():
        raise LivevisError("headless rendering needs EGL (libEGL + a GL driver such as Mesa): no display")
    assert cuda_gl.interop_unavailable_reason(0, make_context=no_egl).startswith("no GL context to check the GPU with: headless")
    ctx = FakeGLContext(*NV)
    assert cuda_gl.interop_unavailable_reason(0, make_context=lambda: ctx) is None and ctx.released


def test_use_interop_auto_falls_back_with_one_line_and_on_fails_clearly(capsys):
    import torch

    from livevis.pipeline.modules import use_interop

    cuda = torch.device("cuda", 0)
    llvmpipe = lambda index: "the GL context runs on llvmpipe (Mesa), not on an NVIDIA GPU"  # noqa: E731
    assert use_interop("auto", cuda, gl_check=llvmpipe) is False
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["livevis: --interop auto: frames go through host memory (PBO), not CUDA-GL: "
                   "the GL context runs on llvmpipe (Mesa), not on an NVIDIA GPU"]
    with pytest.raises(LivevisError, match=r"^--interop on: the GL context runs on llvmpipe"):
        use_interop("on", cuda, gl_check=llvmpipe)
    seen = []
    assert use_interop("on", torch.device("cuda", 1), gl_check=lambda i: seen.append(i)) is True and seen == [1]
    assert use_interop("auto", cuda, gl_check=lambda i: None) is True
    assert use_interop("off", cuda, gl_check=llvmpipe) is False
    assert use_interop("auto", torch.device("cpu"), gl_check=llvmpipe) is False
    assert capsys.readouterr().err == ""


def test_writer_refuses_a_context_on_another_device(egl_ctx, monkeypatch):
    monkeypatch.setattr(cuda_gl, "_runtime", lambda: FakeGLRuntime())
    # The context's identity is stated, not read: on a machine with NVIDIA's EGL the real one is NVIDIA.
    monkeypatch.setattr(cuda_gl, "gl_identity", lambda ctx: MESA)
    texture = egl_ctx.texture((16, 16), 4)
    try:
        with pytest.raises(LivevisError, match=r"CUDA-GL interop: the GL context runs on .* not on an NVIDIA GPU \(use --interop off\)"):
            cuda_gl.CudaTextureWriter(texture, device_index=0)
        monkeypatch.setattr(cuda_gl, "gl_identity", lambda ctx: NV)
        cuda_gl.CudaTextureWriter(texture, device_index=0).release()
    finally:
        texture.release()


def test_render_thread_copies_on_the_frames_cuda_device(egl_ctx, monkeypatch):
    import contextlib

    import torch

    fake = FakeGLRuntime(gl_devices=(1,), names=("A", "B"))
    monkeypatch.setattr(cuda_gl, "_runtime", lambda: fake)
    monkeypatch.setattr(cuda_gl, "gl_identity", lambda ctx: NV)
    entered = []

    @contextlib.contextmanager
    def fake_device(device):
        entered.append(str(device))
        yield

    current = []

    def fake_stream(device):
        current.append((entered[-1] if entered else None, str(device)))
        return _Enum(cuda_stream=9)

    monkeypatch.setattr(torch.cuda, "device", fake_device)
    monkeypatch.setattr(torch.cuda, "current_stream", fake_stream)
    tensor = FakeCudaTensor(16, 16)
    tensor.device = torch.device("cuda", 1)
    renderer = Renderer(egl_ctx, 16, 16)
    try:
        renderer.upload(Frame(rgba=tensor))
        renderer.upload(Frame(rgba=tensor))
    finally:
        renderer.release()
    assert entered == ["cuda:1", "cuda:1"] and current == [("cuda:1", "cuda:1")] * 2
    assert fake.copy[-1] == ("stream", 9) and fake.calls.count("cudaGraphicsGLRegisterImage") == 1
