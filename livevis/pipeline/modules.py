"""The per-frame callables of the live path, built once from a bundle on one device and one backend."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from livevis.errors import LivevisError

STAGES = ("encoder", "recurrent", "synthesis")


@dataclass
class LiveModules:
    mel: Callable  # samples [window_samples] -> [1, n_mels, frames]
    encoder: Callable | None  # [1, n_mels, frames] -> ([1, D], [1, num_ws, w_dim]); None: no sound model
    recurrent_step: Callable | None  # (ws, hidden, offset) -> (ws_next, hidden_next); None: no sound model
    synthesis: Callable  # ws [1, num_ws, w_dim] -> img [1, 3, H, W] in about [-1, 1]
    mapping: Callable  # z [B, z_dim] -> ws [B, num_ws, w_dim] (eager: used on seed changes only)
    hidden_init: torch.Tensor | None  # [1, G, H]
    sample_rate: int  # the bundle's audio rate: sources are resampled to it
    window_samples: int
    step_samples: int
    num_ws: int
    w_dim: int
    z_dim: int
    resolution: int
    device: torch.device
    backends: dict[str, str] = field(default_factory=dict)
    # [3] StyleGAN2 noise gains per layer group (coarse, mid, fine), read by `synthesis` on every call
    # and written in place by the scene driver; None when the generator has no noise inputs.
    noise_gains: torch.Tensor | None = None
    # SoundClasses on `device` (eager: a tiny MLP) -- the sound's class and its scenes in W -- or None
    # for bundles without one (livevis.pipeline.sound_scene).
    sound_classes: torch.nn.Module | None = None
    class_names: tuple[str, ...] = ()  # the bundle's classes, in the sound class model's order


def resolve_device(name: str | None) -> torch.device:
    """'auto' / None -> cuda if available else cpu; an unavailable device is a user error."""
    if name in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise LivevisError(f"unknown device {name!r} (use cpu, cuda or cuda:N)") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise LivevisError(f"device {name!r} asked for but CUDA is not available on this machine")
    return device


def default_backend(device: torch.device, precision: str = "fp32") -> str:
    """What runs when --backend isn't given: on CPU, ONNX Runtime was 2-5x faster than eager per module
    and builds in seconds (BENCHMARKS.md); on CUDA, eager until `build-engines` picks something better."""
    if device.type == "cpu":
        from livevis.engines import available_backends

        if "onnxruntime" in available_backends("cpu", precision):
            return "onnxruntime"
    return "eager"


def class_mapping(gen, class_index: int | None) -> Callable:
    """gen.mapping, with the one-hot label of `class_index` for conditional generators (c_dim > 0)."""
    c_dim = int(getattr(gen, "c_dim", 0) or 0)
    if c_dim == 0:
        if class_index is not None:
            raise LivevisError("--class is for conditional generators; this one is unconditional")
        return gen.mapping
    if class_index is None:
        raise LivevisError(f"this generator is conditional ({c_dim} classes): pick one with --class N (0 to {c_dim - 1})")
    if not 0 <= class_index < c_dim:
        raise LivevisError(f"--class must be between 0 and {c_dim - 1}, got {class_index}")

    def mapping(z: torch.Tensor, truncation_psi: float = 1.0) -> torch.Tensor:
        c = torch.zeros(z.shape[0], c_dim, device=z.device, dtype=z.dtype)
        c[:, class_index] = 1.0
        return gen.mapping(z, c, truncation_psi=truncation_psi)

    return mapping


def build_live_modules(bundle, *, backend: str | None = "eager", device: torch.device | str = "cpu",
                       precision: str = "fp32", progress: Callable[[str], None] | None = None,
                       class_index: int | None = None) -> LiveModules:
    """Wrap a loaded bundle's encoder, recurrent step and synthesis for the live path.

    backend "eager" at fp32 uses the modules directly; anything else goes through livevis.engines (cache,
    parity gate; "auto" measures and remembers the fastest backend that passes parity).
    """
    from livevis.audio.mel import StreamingLogMel

    device = torch.device(device)
    backend = backend or default_backend(device, precision)
    audio = bundle.audio
    gen = bundle.generator.to(device).eval()
    mapping = class_mapping(gen, class_index)  # a conditional generator needs --class: say so first
    if bundle.sound_encoder is not None:
        bundle.sound_encoder.to(device).eval()
    recurrent = bundle.recurrent.to(device).eval() if bundle.recurrent is not None else None
    mel = StreamingLogMel(audio.sample_rate, audio.n_fft, audio.hop_length, audio.n_mels, audio.window_seconds,
                          fmin=audio.fmin, fmax=audio.fmax, device=str(device))
    num_ws, w_dim = int(gen.num_ws), int(gen.w_dim)
    hidden = recurrent.init_hidden(1).to(device) if recurrent is not None else None

    # The same modules, example inputs and cache keys as `livevis build-engines`, so engines built
    # ahead of a show are the ones the show loads.
    from livevis.engines.live import live_modules

    parts = {p.name: p for p in live_modules(bundle, device)}
    callables: dict[str, Callable] = {}
    chosen: dict[str, str] = {}
    if backend == "eager" and precision == "fp32":
        for name, part in parts.items():
            callables[name], chosen[name] = part.module, "eager"
    else:
        from livevis.engines.report import build_module
        from livevis.models.bundle import bundle_sha256

        weights_key = getattr(bundle, "weights_key", None) or (bundle_sha256(bundle.path) if getattr(bundle, "path", None) else None)
        for name, part in parts.items():
            if progress:
                progress(f"preparing {name} ({backend}; built once, then cached)")
            key = None if weights_key is None else f"{weights_key}:{name}"
            engine = build_module(part.module, part.inputs, backend=backend, precision=precision, name=name,
                                  cache_key=key, progress=progress)
            callables[name], chosen[name] = engine, engine.backend

    synthesis = callables["synthesis"]
    noise_gains = None
    if len(parts["synthesis"].inputs) == 2:  # NoiseGainSynthesis: (ws, gains)
        from livevis.models.noise_gain import NoiseGainCall

        noise_gains = torch.ones(3, device=device)
        synthesis = NoiseGainCall(synthesis, noise_gains)
    sample_rate = int(audio.sample_rate)
    return LiveModules(
        mel=mel,
        encoder=callables.get("sound_encoder"),
        recurrent_step=callables.get("recurrent"),
        synthesis=synthesis,
        mapping=mapping,
        hidden_init=hidden,
        sample_rate=sample_rate,
        window_samples=int(mel.window_samples),
        step_samples=max(1, int(round(sample_rate / float(audio.step_rate)))),
        num_ws=num_ws,
        w_dim=w_dim,
        z_dim=int(gen.z_dim),
        resolution=int(gen.img_resolution),
        device=device,
        backends=chosen,
        noise_gains=noise_gains,
        sound_classes=bundle.sound_classes.to(device).eval() if getattr(bundle, "sound_classes", None) is not None else None,
        class_names=tuple(c.name for c in bundle.classes),
    )


class RGBAConverter:
    """img [1, 3, H, W] in [-1, 1] -> RGBA8 [H, W, 4] in a reused buffer.

    On the CPU path the buffers are numpy arrays (uploaded through a PBO). With `on_device` they are
    uint8 CUDA tensors that the renderer copies into the GL texture through CUDA-GL interop, device to
    device, with no host round trip. The producer cycles through `pool` buffers: the render thread
    uploads a frame within milliseconds of taking it, long before the producer comes back to its buffer.
    """

    def __init__(self, resolution: int, pool: int = 3, *, device: torch.device | str = "cpu", on_device: bool = False):
        self.on_device = on_device
        if on_device:
            self._bufs = [torch.full((resolution, resolution, 4), 255, dtype=torch.uint8, device=device) for _ in range(pool)]
            self._views = self._bufs
        else:
            self._bufs = [np.full((resolution, resolution, 4), 255, dtype=np.uint8) for _ in range(pool)]
            self._views = [torch.from_numpy(b) for b in self._bufs]
        self._i = 0
        self._scaled: torch.Tensor | None = None  # [3, H, W] float32 on the image's device, reused

    @torch.inference_mode()
    def __call__(self, img: torch.Tensor):
        assert img.ndim == 4 and img.shape[0] == 1 and img.shape[1] == 3, f"img must be [1, 3, H, W], got {tuple(img.shape)}"
        self._i = (self._i + 1) % len(self._bufs)
        view = self._views[self._i]
        if self._scaled is None or self._scaled.device != img.device:
            self._scaled = torch.empty(img.shape[1:], dtype=torch.float32, device=img.device)
        x = self._scaled.copy_(img[0]).mul_(127.5).add_(128.0).clamp_(0.0, 255.0)  # [3, H, W]
        view[..., :3].copy_(x.permute(1, 2, 0))
        if self.on_device:
            # The render thread reads this buffer on its own; finish writing it before handing it over.
            torch.cuda.current_stream(view.device).synchronize()
        return self._bufs[self._i]


def use_interop(choice: str, device: torch.device, *, gl_check: Callable[[int], str | None] | None = None) -> bool:
    """--interop auto|on|off -> whether frames stay on the GPU (CUDA-GL) or go through host memory.

    auto and on first check that a GL context lands on the models' CUDA device (`gl_check`: device
    index -> reason it cannot, or None; default cuda_gl.interop_unavailable_reason). auto then falls
    back to the PBO path with one line saying why; on fails with that line.
    """
    if choice == "off":
        return False
    if device.type != "cuda":
        if choice == "on":
            raise LivevisError("--interop on needs the models on CUDA (--compute cuda)")
        return False
    if gl_check is None:
        from livevis.render.cuda_gl import interop_unavailable_reason as gl_check
    index = device.index if device.index is not None else torch.cuda.current_device()
    reason = gl_check(index)
    if reason is None:
        return True
    if choice == "on":
        raise LivevisError(f"--interop on: {reason}")
    import sys

    print(f"livevis: --interop auto: frames go through host memory (PBO), not CUDA-GL: {reason}", file=sys.stderr)
    return False
