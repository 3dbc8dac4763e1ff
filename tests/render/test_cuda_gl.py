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
