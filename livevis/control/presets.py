"""Presets: named sets of live parameter values (which include mode, prompt and seed), plus the model
they were made with and, optionally, the scene latent. JSON files in
`$XDG_CONFIG_HOME/livevis/presets/NAME.json` (else ~/.config/livevis/presets/), written atomically and
validated on load. Loading a preset only ever sets parameter values (the show crossfades to them);
the model is recorded for the performer's information, the latent for the show to glide to."""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from livevis.control.options import config_dir
from livevis.control.params import Param, ParamError
from livevis.errors import LivevisError
from livevis.util.atomic import atomic_open

FORMAT = "livevis-preset"
VERSION = 1
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
# Performance state, not scene: a saved preset does not black out or pin the tempo when loaded later.
NOT_SAVED = ("blackout", "bpm")
MAX_FILE_BYTES = 64 << 20  # a latent of a few MB is plenty; refuse anything absurd before parsing it
MAX_LATENT_VALUES = 1 << 22


@dataclass
class Preset:
    name: str
    params: dict[str, Any]  # validated values, by parameter name
    model: str | None = None
    latent: np.ndarray | None = None  # e.g. [1, num_ws, w_dim] float32
    path: Path | None = field(default=None, compare=False)

    def __eq__(self, other: object) -> bool:  # the latent is an array: compare it by value
        if not isinstance(other, Preset):
            return NotImplemented
        same_latent = (self.latent is None and other.latent is None) or (
            self.latent is not None and other.latent is not None and np.array_equal(self.latent, other.latent))
        return (self.name, self.params, self.model) == (other.name, other.params, other.model) and same_latent

    def to_json(self) -> dict:
        out: dict[str, Any] = {"format": FORMAT, "version": VERSION, "name": self.name, "model": self.model,
                               "params": dict(self.params)}
        if self.latent is not None:
            lat = np.ascontiguousarray(self.latent, dtype="<f4")
            out["latent"] = {"shape": list(lat.shape), "dtype": "float32",
                             "base64": base64.b64encode(lat.tobytes()).decode("ascii")}
        return out


def check_name(name: str) -> str:
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise LivevisError(f"preset names are 1-64 letters, digits, '_', '-' or '.', starting with a letter or "
                           f"digit, got {name!r}")
    return name


def _decode_latent(obj: Any, where: str) -> np.ndarray:
    try:
        if isinstance(obj, list):
            arr = np.asarray(obj, dtype=np.float32)
            if arr.dtype == object:
                raise ValueError
        elif isinstance(obj, dict):
            shape = [int(s) for s in obj["shape"]]
            if obj.get("dtype", "float32") != "float32":
                raise ValueError
            raw = base64.b64decode(obj["base64"], validate=True)
            arr = np.frombuffer(raw, dtype="<f4").astype(np.float32).reshape(shape)
        else:
            raise ValueError
    except (KeyError, TypeError, ValueError):
        raise LivevisError(f"{where}: latent must be a list of numbers or "
                           f'{{"shape": [...], "dtype": "float32", "base64": "..."}}') from None
    if arr.size == 0 or arr.size > MAX_LATENT_VALUES or not np.isfinite(arr).all():
        raise LivevisError(f"{where}: latent must hold 1 to {MAX_LATENT_VALUES} finite numbers")
    return arr


def parse_preset(obj: Any, params: Mapping[str, Param], where: str, name: str | None = None) -> Preset:
    """Validate a decoded preset JSON object against the parameter specs; LivevisError names the problem."""
    if not isinstance(obj, dict):
        raise LivevisError(f"{where}: a preset is a JSON object")
    if obj.get("format", FORMAT) != FORMAT:
        raise LivevisError(f"{where}: not a livevis preset (format {obj.get('format')!r})")
    if not isinstance(obj.get("version", VERSION), int) or obj.get("version", VERSION) > VERSION:
        raise LivevisError(f"{where}: preset version {obj.get('version')!r} is newer than this livevis reads ({VERSION})")
    unknown_keys = set(obj) - {"format", "version", "name", "model", "params", "latent"}
    if unknown_keys:
        raise LivevisError(f"{where}: unknown preset fields {', '.join(sorted(unknown_keys))}")
    raw = obj.get("params", {})
    if not isinstance(raw, dict):
        raise LivevisError(f"{where}: params must be an object of parameter name -> value")
    unknown = sorted(n for n in raw if n not in params)
    if unknown:
        raise LivevisError(f"{where}: unknown parameters {', '.join(unknown)}")
    clean = {}
    for n, v in raw.items():
        try:
            clean[n] = params[n].coerce(v)
        except ParamError as exc:
            raise LivevisError(f"{where}: {exc}") from None
    model = obj.get("model")
    if model is not None and not isinstance(model, str):
        raise LivevisError(f"{where}: model must be a string")
    latent = _decode_latent(obj["latent"], where) if obj.get("latent") is not None else None
    pname = name or obj.get("name")
    if not isinstance(pname, str) or not pname:
        pname = "preset"
    return Preset(name=pname, params=clean, model=model, latent=latent)


class PresetStore:
    """The presets folder, and reading preset files named on the command line."""

    def __init__(self, root: str | Path | None = None, params: Mapping[str, Param] | None = None):
        if params is None:
            from livevis.control.catalog import PARAMS

            params = {p.name: p for p in PARAMS}
        self.params = params
        self._root = Path(root) if root is not None else None

    @property
    def root(self) -> Path:
        # resolved on use so tests (and users) can point XDG_CONFIG_HOME elsewhere after import
        return self._root if self._root is not None else config_dir("presets")

    def path(self, name: str) -> Path:
        return self.root / f"{check_name(name)}.json"

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.stem for p in self.root.glob("*.json") if NAME_RE.match(p.stem))

    def load_file(self, path: str | Path, name: str | None = None) -> Preset:
        path = Path(path)
        try:
            size = path.stat().st_size
            if size > MAX_FILE_BYTES:
                raise LivevisError(f"{path}: {size} bytes is too big for a preset")
            obj = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise LivevisError(f"no preset file {path}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise LivevisError(f"cannot read preset {path}: {exc}") from None
        except json.JSONDecodeError as exc:
            raise LivevisError(f"{path}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
        preset = parse_preset(obj, self.params, str(path), name=name or path.stem)
        preset.path = path
        return preset

    def load(self, name: str) -> Preset:
        """A preset saved in the presets folder, by name."""
        path = self.path(name)
        if not path.is_file():
            have = self.names()
            hint = f"saved ones: {', '.join(have)}" if have else f"none saved yet in {self.root}"
            raise LivevisError(f"no preset named {name!r} ({hint})")
        return self.load_file(path, name=name)

    def resolve(self, spec: str) -> Preset:
        """`--preset NAME|FILE`: a path (has a '/', ends in .json, or is an existing file) or a saved name."""
        p = Path(spec).expanduser()
        if "/" in spec or spec.endswith(".json") or (p.is_file() and not NAME_RE.match(spec)):
            return self.load_file(p)
        return self.load(spec)

    def save(self, name: str, values: Mapping[str, Any], model: str | None = None,
             latent: Any = None) -> Path:
        """Write NAME.json atomically from the current parameter values (blackout and bpm left out)."""
        check_name(name)
        params = {n: v for n, v in values.items() if n in self.params and n not in NOT_SAVED}
        lat = None
        if latent is not None:
            if hasattr(latent, "detach"):  # a torch tensor
                latent = latent.detach().float().cpu().numpy()
            lat = np.asarray(latent, dtype=np.float32)
        preset = parse_preset(Preset(name, params, model, lat).to_json(), self.params, name)  # same rules as load
        path = self.path(name)
        with atomic_open(path, "w") as f:
            json.dump(preset.to_json(), f, indent=1)
            f.write("\n")
        return path
