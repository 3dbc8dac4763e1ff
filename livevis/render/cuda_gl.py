"""CUDA-GL interop: copy a torch CUDA tensor into a GL texture on the GPU (no host round trip).

Uses the CUDA runtime API through cuda-python (`pip install livevis[cuda]`). The texture is
registered once (cudaGraphicsGLRegisterImage, write-discard); each frame maps it, takes its level-0
cudaArray, does one device-to-device cudaMemcpy2DToArrayAsync on torch's current stream, and unmaps
(unmapping orders the copy before GL's next use of the texture). The GL context that owns the
texture must be current on the calling thread and live on the same GPU as the tensor:
`gl_device_mismatch` checks that (vendor string, then cudaGLGetDevices or the device name), and
`interop_unavailable_reason` runs the whole check on a probe EGL context before a show starts.
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


def require_runtime() -> None:
    """Raise a one-line LivevisError when cuda-python is missing or sees no CUDA device."""
    rt = _runtime()
    if not _check(rt, rt.cudaGetDeviceCount(), "cudaGetDeviceCount"):
        raise LivevisError("CUDA-GL interop: no CUDA device found")


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


def _error_name(rt, err) -> str:
    _, name = rt.cudaGetErrorName(err)
    return name.decode() if isinstance(name, bytes) else str(name)


def gl_identity(ctx) -> tuple[str, str]:
    """(GL_VENDOR, GL_RENDERER) of a moderngl context, e.g. ('NVIDIA Corporation', 'NVIDIA GeForce RTX 4090/PCIe/SSE2')."""
    info = ctx.info
    return str(info.get("GL_VENDOR", "") or ""), str(info.get("GL_RENDERER", "") or "")


def _normalise(name: str) -> str:
    return " ".join(name.lower().replace("nvidia", "").replace("/", " ").split())


def cuda_device_name(rt, index: int) -> str:
    err, props = rt.cudaGetDeviceProperties(index)
    if not _ok(rt, err):
        return ""
    name = props.name
    return (name.split(b"\0", 1)[0].decode(errors="replace") if isinstance(name, bytes) else str(name)).strip()


def gl_device_mismatch(ctx, device_index: int, rt=None) -> str | None:
    """Why frames on cuda:`device_index` cannot be copied into `ctx`'s textures, or None when they can.

    `ctx` must be current on this thread. A Mesa/llvmpipe or Intel/AMD context (hybrid laptops, EGL
    without NVIDIA's driver) cannot register textures with CUDA at all; an NVIDIA context on another
    GPU than the tensors would copy across devices or fail.
    """
    vendor, renderer = gl_identity(ctx)
    if "nvidia" not in f"{vendor} {renderer}".lower():
        return f"the GL context runs on {renderer or 'an unknown renderer'} ({vendor or 'unknown vendor'}), not on an NVIDIA GPU"
    rt = rt or _runtime()
    get_devices = getattr(rt, "cudaGLGetDevices", None)
    device_list = getattr(getattr(rt, "cudaGLDeviceList", None), "cudaGLDeviceListAll", None)
    if get_devices is not None and device_list is not None:
        result = get_devices(16, device_list)  # (err, count, [device ordinals])
        if not _ok(rt, result[0]):
            return f"the GL context ({renderer}) is not on a CUDA device (cudaGLGetDevices: {_error_name(rt, result[0])})"
        gl_devices = sorted({int(d) for d in list(result[2])[: int(result[1])]})
        if device_index not in gl_devices:
            on = ", ".join(f"cuda:{d}" for d in gl_devices) or "no CUDA device"
            return f"the GL context ({renderer}) is on {on}, the models on cuda:{device_index}"
        return None
    name = cuda_device_name(rt, device_index)  # older runtimes: compare the marketing names
    if name and _normalise(name) not in _normalise(renderer):
        return f"the GL context runs on {renderer}, the models on cuda:{device_index} ({name})"
    return None


def interop_unavailable_reason(device_index: int, make_context=None) -> str | None:
    """Why CUDA-GL interop cannot work for cuda:`device_index` here, or None when it can. Never raises.

    Probes a standalone EGL context (what headless shows use; a glfw window on the same display
    normally lands on the same GPU): cuda-python present, a CUDA device, an NVIDIA GL on that device.
    Creating the probe makes it current, so call this before the show makes its own GL context.
    """
    try:
        rt = _runtime()
    except LivevisError as exc:
        return str(exc)
    err, count = rt.cudaGetDeviceCount()
    if not _ok(rt, err) or count <= device_index:
        return f"cuda-python sees no CUDA device {device_index}"
    if make_context is None:
        from livevis.render.offscreen import create_egl_context as make_context
    try:
        ctx = make_context()
    except Exception as exc:  # LivevisError from EGL, or whatever the GL loader raises
        return f"no GL context to check the GPU with: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
    try:
        with ctx:
            return gl_device_mismatch(ctx, device_index, rt)
    except Exception as exc:  # a driver that fails the query cannot be trusted with interop either
        return f"checking the GL context failed: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    finally:
        ctx.release()


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
    """Writes [H, W, 4] uint8 CUDA tensors into one RGBA8 moderngl texture.

    device_index: the CUDA device of the tensors; when given, the texture's (current) GL context is
    checked to run on it first, so a mismatch is one clear line instead of a CUDA error.
    """

    def __init__(self, texture, device_index: int | None = None) -> None:
        self.rt = _runtime()
        rt = self.rt
        count = _check(rt, rt.cudaGetDeviceCount(), "cudaGetDeviceCount")
        if not count:
            raise LivevisError("CUDA-GL interop: no CUDA device found")
        if texture.components != 4 or texture.dtype != "f1":
            raise LivevisError("CUDA-GL interop: the frame texture must be RGBA8")
        if device_index is not None:
            reason = gl_device_mismatch(texture.ctx, device_index, rt)
            if reason is not None:
                raise LivevisError(f"CUDA-GL interop: {reason} (use --interop off)")
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
