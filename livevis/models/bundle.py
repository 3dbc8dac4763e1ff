"""The livevis bundle: a directory with `config.json` and one `<part>.safetensors` per network.

A bundle is everything the live path needs (generator, sound encoder, recurrent blocks, optional
CLIP and discriminators) plus the audio front-end settings and class prompts. Loading never runs
code: architectures are rebuilt from their JSON configs through the factory, then weights are
checked tensor by tensor (names and shapes) before they are copied in.

    config.json = {"format": "livevis-bundle", "version": 1, "name", "description",
                   "generator": {"arch", "config"}, "sound_encoder"?, "recurrent"?,
                   "image_discriminator"?, "video_discriminator"?, "upscaler"?, "sound_tokenizer"?, "text_sound"?, "sound_classes"?, "clip"?,
                   "audio": {...}, "classes": [{"name", "prompt"}], "weights_dtype", "provenance"}
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import datetime
import hashlib
import json
import math
import os
import types
import typing
from pathlib import Path
from typing import Any, Iterator

import torch
from torch import nn

from livevis import __version__
from livevis.errors import LivevisError
from livevis.models import factory
from livevis.models.config import StrictConfig
from livevis.util.atomic import atomic_dir

FORMAT = "livevis-bundle"
VERSION = 1
CONFIG_NAME = "config.json"

# Parts rebuilt through the factory, with the architectures each may use.
MODULE_PARTS: dict[str, tuple[str, ...]] = {
    "generator": ("stylegan2", "stylegan3"),
    "sound_encoder": ("sound_encoder",),
    "recurrent": ("recurrent",),
    "image_discriminator": ("image_discriminator",),
    "video_discriminator": ("video_discriminator",),
    "upscaler": ("upscaler",),  # optional: the output stage's learned upscaler (older bundles have none)
    "sound_tokenizer": ("sound_tokenizer",),  # optional: `livevis generate` (text -> sound); older bundles have none
    "text_sound": ("text_sound",),
    "sound_classes": ("sound_classes",),  # optional: the sound's class and its scenes in W (learned mode)
}
PARTS = (*MODULE_PARTS, "clip")
_TOP_LEVEL = {"format", "version", "name", "description", *PARTS, "audio", "classes", "weights_dtype", "provenance"}
_DTYPES = {"float32": torch.float32, "float16": torch.float16}


@dataclasses.dataclass
class AudioFrontend(StrictConfig):
    """How the live path turns sound into encoder input (the bundle's "audio" block)."""

    sample_rate: int = 16000  # Hz the encoder was trained at; sources are resampled to it
    n_fft: int = 1024  # STFT size (samples)
    hop_length: int = 256  # STFT hop (samples)
    n_mels: int = 80  # mel bands = encoder input height
    window_seconds: float = 1.0  # audio context per encoder call, ending "now"
    fmin: float = 0.0  # lowest mel frequency (Hz)
    fmax: float | None = None  # highest mel frequency (Hz); None = sample_rate / 2
    step_rate: float = 10.0  # recurrent keyframes per second

    def __post_init__(self):
        for name in ("sample_rate", "n_fft", "hop_length", "n_mels", "window_seconds", "step_rate"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
                raise LivevisError(f"AudioFrontend: {name} must be a positive number, got {value!r}")
        if self.hop_length > self.n_fft:
            raise LivevisError(f"AudioFrontend: hop_length {self.hop_length} exceeds n_fft {self.n_fft}")
        if self.window_samples < self.n_fft:
            raise LivevisError(f"AudioFrontend: window of {self.window_samples} samples is shorter than n_fft")
        nyquist = self.sample_rate / 2
        top = nyquist if self.fmax is None else self.fmax
        if not 0 <= self.fmin < top <= nyquist:
            raise LivevisError(f"AudioFrontend: need 0 <= fmin < fmax <= {nyquist:g} Hz, got {self.fmin}, {self.fmax}")

    @property
    def window_samples(self) -> int:
        return int(round(self.window_seconds * self.sample_rate))

    @property
    def frames(self) -> int:
        """Mel frames in one window (center=False framing)."""
        return 1 + (self.window_samples - self.n_fft) // self.hop_length


@dataclasses.dataclass
class ClassPrompt(StrictConfig):
    name: str
    prompt: str


@dataclasses.dataclass
class Bundle:
    """A loaded (or about to be saved) bundle. `config` is the parsed config.json."""

    config: dict[str, Any]
    generator: nn.Module
    sound_encoder: nn.Module | None = None
    recurrent: nn.Module | None = None
    clip: nn.Module | None = None
    image_discriminator: nn.Module | None = None
    video_discriminator: nn.Module | None = None
    upscaler: nn.Module | None = None
    sound_tokenizer: nn.Module | None = None
    text_sound: nn.Module | None = None
    sound_classes: nn.Module | None = None
    path: Path | None = None

    @classmethod
    def new(
        cls,
        generator: nn.Module,
        *,
        name: str,
        description: str,
        sound_encoder: nn.Module | None = None,
        recurrent: nn.Module | None = None,
        clip: nn.Module | None = None,
        clip_spec: dict[str, Any] | None = None,
        image_discriminator: nn.Module | None = None,
        video_discriminator: nn.Module | None = None,
        upscaler: nn.Module | None = None,
        audio: AudioFrontend | None = None,
        classes: list[dict[str, str]] | None = None,
        provenance: dict[str, Any] | None = None,
    ) -> "Bundle":
        """Assemble a bundle from modules. Architecture configs are taken from the modules at save time.

        `clip_spec` is the "clip" block; for a CLIP given as weights it may be None
        ({"kind": "open_clip_config"} is filled in), for open_clip's own pretrained weights pass
        {"kind": "open_clip_pretrained", "name": ..., "pretrained": ...}.
        """
        config: dict[str, Any] = {
            "format": FORMAT,
            "version": VERSION,
            "name": name,
            "description": description,
            "audio": (audio or AudioFrontend()).to_dict(),
            "classes": [ClassPrompt.from_dict(c).to_dict() for c in (classes or [])],
            "weights_dtype": "float32",
            "provenance": dict(provenance or {}),
        }
        if clip is not None or clip_spec is not None:
            config["clip"] = dict(clip_spec or {"kind": "open_clip_config"})
        return cls(
            config=config,
            generator=generator,
            sound_encoder=sound_encoder,
            recurrent=recurrent,
            clip=clip,
            image_discriminator=image_discriminator,
            video_discriminator=video_discriminator,
            upscaler=upscaler,
        )

    @property
    def name(self) -> str:
        return self.config.get("name", "")

    @property
    def description(self) -> str:
        return self.config.get("description", "")

    @property
    def audio(self) -> AudioFrontend:
        return AudioFrontend.from_dict(self.config.get("audio", {}))

    @property
    def classes(self) -> list[ClassPrompt]:
        return [ClassPrompt.from_dict(c) for c in self.config.get("classes", [])]

    @property
    def is_stand_in(self) -> bool:
        return bool(self.config.get("provenance", {}).get("stand_in", False))

    def part(self, name: str) -> nn.Module | None:
        if name not in PARTS:
            raise KeyError(name)
        return getattr(self, name)

    def to(self, device: str | torch.device) -> "Bundle":
        for name in PARTS:
            module = getattr(self, name)
            if module is not None:
                module.to(device)
        return self


# ---------------------------------------------------------------------------------------------
# config validation


def _arch_of(module: nn.Module, allowed: tuple[str, ...]) -> str:
    """The factory architecture name whose model class `module` is."""
    for arch in allowed:
        module_name, _, model_name = factory.ARCHITECTURES[arch]
        cls = type(module)
        if cls.__module__ == module_name and cls.__name__ == model_name:
            return arch
    raise LivevisError(f"{type(module).__name__} is not one of the architectures {', '.join(allowed)}")


def _part_config(module: nn.Module, part: str) -> dict[str, Any]:
    config = getattr(module, "config", None)
    if not isinstance(config, StrictConfig):
        raise LivevisError(f"{part}: module {type(module).__name__} has no StrictConfig `.config` to save")
    return {"arch": _arch_of(module, MODULE_PARTS[part]), "config": config.to_dict()}


def _json_matches(hint: Any, value: Any) -> bool:
    """Whether a JSON value fits a config field's type hint (the hints configs use: int, float, bool,
    str, X | None, tuple[int, ...], tuple[tuple[int, int], ...])."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_json_matches(arg, value) for arg in args)
    if hint is type(None):
        return value is None
    if hint is bool:
        return type(value) is bool
    if hint is int:
        return type(value) is int and abs(value) < 2**31
    if hint is float:
        return type(value) in (int, float) and math.isfinite(value) and abs(value) < 2**31
    if hint is str:
        return isinstance(value, str)
    if origin is tuple:
        if not isinstance(value, list):
            return False
        if len(args) == 2 and args[1] is Ellipsis:
            return all(_json_matches(args[0], v) for v in value)
        return len(value) == len(args) and all(_json_matches(a, v) for a, v in zip(args, value))
    if isinstance(hint, type) and issubclass(hint, StrictConfig):
        return isinstance(value, dict)
    return True  # a hint this check does not know: the config class validates it


def _strict_from_dict(cls: type, data: Any) -> Any:
    """cls.from_dict(data) after checking each value's JSON type; whatever the config's own checks
    raise on odd values becomes a LivevisError naming the field."""
    if isinstance(data, dict):
        hints = typing.get_type_hints(cls)
        for key, value in data.items():
            if key in hints and not _json_matches(hints[key], value):
                shown = json.dumps(value)
                shown = shown if len(shown) <= 40 else shown[:37] + "..."
                raise LivevisError(f"{cls.__name__}: {key} must be {_hint_name(hints[key])}, got {shown}")
    try:
        return cls.from_dict(data)
    except LivevisError:
        raise
    except (TypeError, ValueError, ArithmeticError, AttributeError, KeyError, IndexError) as exc:
        raise LivevisError(f"{cls.__name__}: invalid values ({_one_line(exc)})") from None


def _hint_name(hint: Any) -> str:
    return str(hint).replace("<class '", "").replace("'>", "").replace("typing.", "")


def validate_config(doc: Any, where: str) -> dict[str, StrictConfig]:
    """Check a config.json document; returns {part: validated StrictConfig} for the module parts.

    `where` names the file in error messages.
    """
    if not isinstance(doc, dict):
        raise LivevisError(f"{where}: expected a JSON object")
    if doc.get("format") != FORMAT:
        raise LivevisError(f"{where}: not a livevis bundle (format is {doc.get('format')!r}, expected {FORMAT!r})")
    if doc.get("version") != VERSION:
        raise LivevisError(f"{where}: unsupported bundle version {doc.get('version')!r} (this livevis reads {VERSION})")
    unknown = sorted(set(doc) - _TOP_LEVEL)
    if unknown:
        raise LivevisError(f"{where}: unknown key(s) {', '.join(unknown)}")
    for key in ("name", "description"):
        if not isinstance(doc.get(key), str):
            raise LivevisError(f"{where}: {key!r} must be a string")
    if "generator" not in doc:
        raise LivevisError(f"{where}: no 'generator' part")
    if doc.get("weights_dtype") not in _DTYPES:
        raise LivevisError(f"{where}: weights_dtype must be one of {', '.join(_DTYPES)}, got {doc.get('weights_dtype')!r}")
    if not isinstance(doc.get("provenance"), dict):
        raise LivevisError(f"{where}: 'provenance' must be an object")
    try:
        _strict_from_dict(AudioFrontend, doc.get("audio"))
        classes = doc.get("classes")
        if not isinstance(classes, list):
            raise LivevisError("'classes' must be a list")
        for c in classes:
            _strict_from_dict(ClassPrompt, c)
    except LivevisError as exc:
        raise LivevisError(f"{where}: {exc}") from None

    configs: dict[str, StrictConfig] = {}
    for part, allowed in MODULE_PARTS.items():
        if part not in doc:
            continue
        spec = doc[part]
        if not isinstance(spec, dict) or set(spec) != {"arch", "config"}:
            raise LivevisError(f"{where}: {part} must be {{\"arch\": .., \"config\": {{..}}}}")
        if spec["arch"] not in allowed:
            raise LivevisError(f"{where}: {part} arch {spec['arch']!r} is not one of {', '.join(allowed)}")
        try:
            configs[part] = _strict_from_dict(factory.config_class(spec["arch"]), spec["config"])
        except LivevisError as exc:
            raise LivevisError(f"{where}: {part}: {exc}") from None
    if "clip" in doc:
        _validate_clip_spec(doc["clip"], where)
    return configs


def _validate_clip_spec(spec: Any, where: str) -> None:
    if not isinstance(spec, dict):
        raise LivevisError(f"{where}: clip must be an object")
    kind = spec.get("kind")
    if kind == "open_clip_config":
        if set(spec) != {"kind", "model_cfg"} or not isinstance(spec["model_cfg"], dict):
            raise LivevisError(f"{where}: clip of kind open_clip_config needs exactly 'model_cfg' (an object)")
    elif kind == "open_clip_pretrained":
        if set(spec) != {"kind", "name", "pretrained"} or not all(isinstance(spec[k], str) for k in ("name", "pretrained")):
            raise LivevisError(f"{where}: clip of kind open_clip_pretrained needs exactly 'name' and 'pretrained' strings")
    else:
        raise LivevisError(f"{where}: unknown clip kind {kind!r} (open_clip_config or open_clip_pretrained)")


def read_config(path: str | Path) -> dict[str, Any]:
    """Read and validate `<bundle>/config.json` without loading any weights."""
    path = Path(path)
    config_path = path / CONFIG_NAME
    if not path.is_dir():
        if path.exists():
            raise LivevisError(f"{path} is not a bundle directory (convert it: livevis models import {path} --out BUNDLE)")
        raise LivevisError(f"no such bundle: {path}")
    try:
        doc = json.loads(config_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LivevisError(f"{path} is not a bundle: no {CONFIG_NAME}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LivevisError(f"{config_path}: unreadable JSON ({_one_line(exc)})") from None
    validate_config(doc, str(config_path))
    return doc


# ---------------------------------------------------------------------------------------------
# saving


def _state_for_file(module: nn.Module, dtype: torch.dtype) -> dict[str, torch.Tensor]:
    # clone: safetensors refuses tensors that share storage (tied weights, views).
    out = {}
    for key, value in module.state_dict().items():
        value = value.detach().to("cpu")
        if value.is_floating_point():
            value = value.to(dtype)
        out[key] = value.contiguous().clone()
    return out


def save_bundle(bundle: Bundle, path: str | Path, weights_dtype: torch.dtype = torch.float32) -> Path:
    """Write `bundle` to the directory `path`, atomically (an existing bundle is replaced whole)."""
    from safetensors.torch import save_file

    dtype_name = {v: k for k, v in _DTYPES.items()}.get(weights_dtype)
    if dtype_name is None:
        raise LivevisError(f"weights_dtype must be torch.float32 or torch.float16, got {weights_dtype}")
    path = Path(path)
    _refuse_to_clobber(path)
    config = copy.deepcopy(bundle.config)
    config.update(format=FORMAT, version=VERSION, weights_dtype=dtype_name)
    config.setdefault("audio", AudioFrontend().to_dict())
    config.setdefault("classes", [])
    provenance = config.setdefault("provenance", {})
    provenance.setdefault("created", datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"))
    provenance.setdefault("livevis_version", __version__)

    weights: dict[str, dict[str, torch.Tensor]] = {}
    if bundle.generator is None:
        raise LivevisError("a bundle needs a generator")
    for part in MODULE_PARTS:
        module = getattr(bundle, part)
        if module is None:
            config.pop(part, None)
            continue
        config[part] = _part_config(module, part)
        weights[part] = _state_for_file(module, weights_dtype)
    spec = config.get("clip") or {"kind": "open_clip_config"}
    if spec.get("kind") == "open_clip_pretrained":
        # A reference to open_clip's own weights: kept even when the module isn't loaded.
        config["clip"] = {k: spec.get(k) for k in ("kind", "name", "pretrained")}
    elif bundle.clip is None:
        config.pop("clip", None)
    else:
        config["clip"] = {"kind": "open_clip_config", "model_cfg": copy.deepcopy(bundle.clip.model_cfg)}
        weights["clip"] = _state_for_file(bundle.clip.model, weights_dtype)  # open_clip's own key names
    validate_config(config, f"bundle {config.get('name', path.name)!r}")

    with atomic_dir(path) as tmp:
        (tmp / CONFIG_NAME).write_text(json.dumps(config, indent=2, sort_keys=False) + "\n", encoding="utf-8")
        for part, tensors in weights.items():
            save_file(tensors, str(tmp / f"{part}.safetensors"), metadata={"format": "pt"})  # one key: safetensors orders keys randomly
        _ordinary_permissions(tmp)
    bundle.config = config
    bundle.path = path
    return path


def _refuse_to_clobber(path: Path) -> None:
    """Saving replaces an existing bundle whole; never a file or a directory that is something else."""
    if not path.exists() and not path.is_symlink():
        return
    if path.is_dir() and not path.is_symlink():
        if not any(path.iterdir()):
            return
        try:
            if json.loads((path / CONFIG_NAME).read_text(encoding="utf-8")).get("format") == FORMAT:
                return
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError):
            pass
    raise LivevisError(f"{path} exists and is not a livevis bundle; refusing to overwrite it (choose another path)")


def _ordinary_permissions(directory: Path) -> None:
    """Temp dirs are created 0700: give the bundle the modes a normal mkdir / open would (umask)."""
    umask = os.umask(0)
    os.umask(umask)
    directory.chmod(0o777 & ~umask)
    for file in directory.iterdir():
        file.chmod(0o666 & ~umask)


# ---------------------------------------------------------------------------------------------
# loading


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _read_tensors(file: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    if not file.is_file():
        raise LivevisError(f"{file}: weights file missing")
    try:
        return load_file(str(file), device="cpu")
    except Exception as exc:  # safetensors raises its own error types for every kind of damage
        raise LivevisError(f"{file}: corrupt safetensors ({_one_line(exc)})") from None


def _header_shapes(file: Path) -> dict[str, tuple[int, ...]]:
    """{tensor name: shape} from a safetensors header, without reading the tensors."""
    from safetensors import safe_open

    if not file.is_file():
        raise LivevisError(f"{file}: weights file missing")
    try:
        with safe_open(str(file), "pt") as f:
            return {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
    except Exception as exc:  # safetensors raises its own error types for every kind of damage
        raise LivevisError(f"{file}: corrupt safetensors ({_one_line(exc)})") from None


@contextlib.contextmanager
def _tensor_budget(held: int, file: Path) -> Iterator[None]:
    """Abort a module build that registers far more parameters and buffers than the `held` tensors
    of its weights file: a config that describes a huge network is refused before it costs time."""
    from torch.nn.modules import module as nn_module

    count, limit = 0, 2 * held + 64  # slack for non-persistent buffers, which files do not hold

    def hook(*_args):
        nonlocal count
        count += 1
        if count > limit:
            raise LivevisError(f"{file}: the config describes far more tensors than the file's {held}")

    handles = [nn_module.register_module_parameter_registration_hook(hook),
               nn_module.register_module_buffer_registration_hook(hook)]
    try:
        yield
    finally:
        for h in handles:
            h.remove()


def _build_part(arch: str, config: StrictConfig, file: Path) -> nn.Module:
    """The part's module, built only after a memory-free (meta device) build of the same config was
    checked against the weights file's header: a config of absurd size is refused, not allocated."""
    shapes = _header_shapes(file)
    where = file.parent / CONFIG_NAME
    try:
        with _tensor_budget(len(shapes), file), torch.device("meta"):
            skeleton = factory.build(arch, config)
        _check_shapes({k: tuple(v.shape) for k, v in skeleton.state_dict().items()}, shapes, file)
        return factory.build(arch, config)
    except LivevisError:
        raise
    except (TypeError, ValueError, ArithmeticError, AttributeError, KeyError, IndexError, RuntimeError, AssertionError) as exc:
        raise LivevisError(f"{where}: cannot build {arch} from its config ({_one_line(exc)})") from None


def _check_shapes(expected: dict[str, tuple[int, ...]], found: dict[str, tuple[int, ...]], file: Path) -> None:
    missing = sorted(set(expected) - set(found))
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise LivevisError(f"{file}: missing tensor {missing[0]!r}{more}")
    unexpected = sorted(set(found) - set(expected))
    if unexpected:
        more = f" (and {len(unexpected) - 1} more)" if len(unexpected) > 1 else ""
        raise LivevisError(f"{file}: unexpected tensor {unexpected[0]!r}{more}")
    for key, ref in expected.items():
        if tuple(found[key]) != tuple(ref):
            raise LivevisError(f"{file}: tensor {key!r} has shape {list(found[key])}, expected {list(ref)}")


def _check_tensors(expected: dict[str, torch.Tensor], found: dict[str, torch.Tensor], file: Path) -> None:
    _check_shapes({k: tuple(v.shape) for k, v in expected.items()}, {k: tuple(v.shape) for k, v in found.items()}, file)
    for key, ref in expected.items():
        if found[key].is_floating_point() != ref.is_floating_point():
            raise LivevisError(f"{file}: tensor {key!r} has dtype {found[key].dtype}, expected {ref.dtype}")


def _load_weights(module: nn.Module, file: Path) -> None:
    found = _read_tensors(file)
    expected = module.state_dict()
    _check_tensors(expected, found, file)
    # Cast to the module's own dtypes: fp16 storage loads as fp32 unless the module is fp16.
    module.load_state_dict({k: found[k].to(expected[k].dtype) for k in expected}, strict=True)


def _load_clip(spec: dict[str, Any], file: Path) -> nn.Module:
    from livevis.models.clip import ClipSpace

    if spec["kind"] == "open_clip_pretrained":
        return ClipSpace.from_open_clip(spec["name"], spec["pretrained"])
    try:
        clip = ClipSpace.from_config(spec["model_cfg"])
    except LivevisError as exc:
        raise LivevisError(f"{file.parent / CONFIG_NAME}: clip: {exc}") from None
    _load_weights(clip.model, file)
    return clip


def load_bundle(path_or_name: str | Path, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32,
                load_clip: bool = True) -> Bundle:
    """Load a bundle directory (or a registry name / "default", via `resolve_model`) onto `device`.

    Every part is rebuilt from its validated config, then filled from its safetensors file after a
    strict check of tensor names and shapes. Modules are returned in eval mode, as `dtype`.
    `load_clip=False` leaves `bundle.clip` None (an open_clip_pretrained CLIP would be downloaded).
    """
    from livevis.models.resolve import resolve_model

    path = resolve_model(str(path_or_name))
    doc = read_config(path)
    configs = validate_config(doc, str(path / CONFIG_NAME))
    declared = {f"{part}.safetensors" for part in configs}
    if doc.get("clip", {}).get("kind") == "open_clip_config":
        declared.add("clip.safetensors")
    stray = sorted(p.name for p in path.glob("*.safetensors") if p.name not in declared)
    if stray:
        raise LivevisError(f"{path / stray[0]}: weights file for a part config.json does not declare")

    try:
        target = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise LivevisError(f"bad device {device!r}: {_one_line(exc)}") from None

    parts: dict[str, nn.Module | None] = {}
    for part, config in configs.items():
        module = _build_part(doc[part]["arch"], config, path / f"{part}.safetensors").to(dtype)
        _load_weights(module, path / f"{part}.safetensors")
        parts[part] = module
    if "clip" in doc and load_clip:
        parts["clip"] = _load_clip(doc["clip"], path / "clip.safetensors").to(dtype)

    bundle = Bundle(config=doc, path=path, **{p: parts.get(p) for p in PARTS})
    try:
        bundle.to(target)
    except (RuntimeError, AssertionError) as exc:  # e.g. CUDA asked for on a CPU-only torch
        raise LivevisError(f"cannot use device {device!r}: {_one_line(exc)}") from None
    for part in PARTS:
        module = getattr(bundle, part)
        if module is not None:
            module.eval()
    return bundle


def bundle_files(path: str | Path) -> list[Path]:
    """config.json followed by the weights files, in a stable order."""
    path = Path(path)
    return [path / CONFIG_NAME, *sorted(path.glob("*.safetensors"))]


def bundle_sha256(path: str | Path) -> str:
    """Content hash of a bundle (config.json + weights), e.g. for engine cache keys."""
    digest = hashlib.sha256()
    for file in bundle_files(path):
        if not file.is_file():
            raise LivevisError(f"{file}: missing")
        digest.update(file.name.encode() + b"\0" + str(file.stat().st_size).encode() + b"\0")
        with open(file, "rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
    return digest.hexdigest()
