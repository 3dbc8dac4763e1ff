"""CUDA-GL interop: copy a torch CUDA tensor into a GL texture on the GPU (no host round trip).

Uses the CUDA runtime API through cuda-python (`pip install livevis[cuda]`). The texture is
registered once (cudaGraphicsGLRegisterImage, write-discard); each frame maps it, takes its level-0
cudaArray, does one device-to-device cudaMemcpy2DToArrayAsync on torch's current stream, and unmaps
(unmapping orders the copy before GL's next use of the texture). The GL context that owns the
texture must be current on the calling thread and live on the same GPU as the tensor.
"""

from __future__ import annotations

from livevis.errors import LivevisError

_GL_TEXTURE_2D = 0x0DE1


def _runtime():
    """The cuda-python runtime module, or a LivevisError saying how to get it."""
    try:
        from cuda.bindings import runtime  # cuda-python >= 12.6
        return runtime
    except ImportError:
        pass
    try:
        from cuda import cudart  # older cuda-python layout
        return cudart
    except ImportError:
        raise LivevisError(
            "CUDA-GL interop needs cuda-python: pip install 'livevis[cuda]' (or run the models on the CPU)"
        ) from None


def available() -> bool:
    """True when cuda-python imports and a CUDA device is visible."""
    try:
        rt = _runtime()
    except LivevisError:
        return False
    err, count = rt.cudaGetDeviceCount()
    return _ok(rt, err) and count > 0


def _ok(rt, err) -> bool:
    return int(err) == int(rt.cudaError_t.cudaSuccess)


def _check(rt, result, what: str):
    """Unpack a cuda-python result tuple (err, *values); raise on error."""
    if not isinstance(result, tuple):
        result = (result,)
    err, values = result[0], result[1:]
    if not _ok(rt, err):
        _, name = rt.cudaGetErrorName(err)
        raise LivevisError(f"CUDA-GL interop: {what} failed: {name.decode() if isinstance(name, bytes) else name}")
    if not values:
        return None
    return values[0] if len(values) == 1 else values


class CudaTextureWriter:
    """Writes [H, W, 4] uint8 CUDA tensors into one RGBA8 moderngl texture."""

    def __init__(self, texture) -> None:
        self.rt = _runtime()
        rt = self.rt
        count = _check(rt, rt.cudaGetDeviceCount(), "cudaGetDeviceCount")
        if not count:
            raise LivevisError("CUDA-GL interop: no CUDA device found")
        if texture.components != 4 or texture.dtype != "f1":
            raise LivevisError("CUDA-GL interop: the frame texture must be RGBA8")
        self.width, self.height = texture.size
        flags = rt.cudaGraphicsRegisterFlags.cudaGraphicsRegisterFlagsWriteDiscard
        self.resource = _check(
            rt, rt.cudaGraphicsGLRegisterImage(texture.glo, _GL_TEXTURE_2D, flags), "cudaGraphicsGLRegisterImage"
        )

    def write(self, rgba, stream: int | None = None) -> None:
        """Copy `rgba` ([H, W, 4] uint8 torch CUDA tensor, row 0 = top) into the texture.

        stream: CUDA stream handle to order the copy on; default torch's current stream of the tensor.
        """
        assert rgba.is_cuda and str(rgba.dtype) == "torch.uint8", "expected a uint8 CUDA tensor"
        assert tuple(rgba.shape) == (self.height, self.width, 4), f"frame {tuple(rgba.shape)} != texture {(self.height, self.width, 4)}"
        rgba = rgba if rgba.is_contiguous() else rgba.contiguous()
        rt = self.rt
        if stream is None:
            import torch

            stream = torch.cuda.current_stream(rgba.device).cuda_stream
        stream = rt.cudaStream_t(stream)
        row_bytes = self.width * 4
        _check(rt, rt.cudaGraphicsMapResources(1, self.resource, stream), "cudaGraphicsMapResources")
        try:
            array = _check(rt, rt.cudaGraphicsSubResourceGetMappedArray(self.resource, 0, 0), "cudaGraphicsSubResourceGetMappedArray")
            _check(
                rt,
                rt.cudaMemcpy2DToArrayAsync(
                    array, 0, 0, rgba.data_ptr(), row_bytes, row_bytes, self.height,
                    rt.cudaMemcpyKind.cudaMemcpyDeviceToDevice, stream,
                ),
                "cudaMemcpy2DToArrayAsync",
            )
        finally:
            _check(rt, rt.cudaGraphicsUnmapResources(1, self.resource, stream), "cudaGraphicsUnmapResources")

    def release(self) -> None:
        if self.resource is not None:
            _check(self.rt, self.rt.cudaGraphicsUnregisterResource(self.resource), "cudaGraphicsUnregisterResource")
            self.resource = None
