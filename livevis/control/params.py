"""Typed, ranged live parameters and the registry that holds their values.

Writers (keys, OSC, MIDI, the web page, presets) call `set` / `set_many`; readers take one
`snapshot()` at the start of a frame and use it for the whole frame, so a change lands between two
frames, never in the middle of one, and a bundle of changes (`set_many`) lands in the same frame.
Snapshots are immutable dicts swapped in whole (copy on write): readers never lock.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Callable, Iterable, Mapping

from livevis.errors import LivevisError

KINDS = ("float", "int", "bool", "str", "choice")


class ParamError(LivevisError):
    """An unknown parameter name or a value of the wrong type or out of range."""


@dataclass(frozen=True)
class Param:
    name: str  # a-z, 0-9 and _ : also the OSC address /livevis/param/<name>
    kind: str  # one of KINDS
    default: Any
    doc: str  # one line
    lo: float | None = None  # numeric range, inclusive
    hi: float | None = None
    unit: str = ""
    choices: tuple[str, ...] = ()  # for kind "choice"
    group: str = "general"  # for the web page and `presets show`
    max_len: int = 500  # for kind "str"

    def __post_init__(self):
        assert self.kind in KINDS, self.kind
        assert self.name.replace("_", "").isalnum() and self.name.islower(), self.name
        if self.kind in ("float", "int"):
            assert self.lo is not None and self.hi is not None and self.lo <= self.hi, self.name
        if self.kind == "choice":
            assert self.choices, self.name
        self.coerce(self.default)  # a default outside its own range is a bug

    def coerce(self, value: Any) -> Any:
        """The value as this parameter's type, or ParamError. Strings from a web form or a
        config file are accepted for numbers and booleans ("0.5", "true")."""
        k = self.kind
        try:
            if k == "bool":
                if isinstance(value, str):
                    low = value.strip().lower()
                    if low in ("1", "true", "on", "yes"):
                        return True
                    if low in ("0", "false", "off", "no"):
                        return False
                    raise ValueError
                if isinstance(value, (bool, int)) or (isinstance(value, float) and value in (0.0, 1.0)):
                    return bool(value)
                raise ValueError
            if k in ("float", "int"):
                if isinstance(value, bool):
                    value = int(value)
                x = float(value)
                if not math.isfinite(x):
                    raise ValueError
                if k == "int":
                    if x != int(x):
                        raise ValueError
                    x = int(x)
                if not (self.lo <= x <= self.hi):
                    raise ParamError(f"{self.name} must be between {_num(self.lo)} and {_num(self.hi)}"
                                     f"{' ' + self.unit if self.unit else ''}, got {_num(x)}")
                return x
            if k == "choice":
                if not isinstance(value, str) or value not in self.choices:
                    raise ParamError(f"{self.name} must be one of {', '.join(self.choices)}, got {value!r}")
                return value
            if not isinstance(value, str):
                raise ValueError
            if len(value) > self.max_len:
                raise ParamError(f"{self.name} is at most {self.max_len} characters, got {len(value)}")
            return value
        except (TypeError, ValueError):
            raise ParamError(f"{self.name} takes a {k}, got {value!r}") from None

    def describe(self) -> dict:
        """JSON-ready description (web page, `livevis params`)."""
        out = {"name": self.name, "kind": self.kind, "default": self.default, "doc": self.doc, "unit": self.unit,
               "group": self.group}
        if self.kind in ("float", "int"):
            out.update(lo=self.lo, hi=self.hi)
        if self.kind == "choice":
            out["choices"] = list(self.choices)
        return out


def _num(x: float) -> str:
    return f"{x:g}"


class ParamRegistry:
    """Values of a fixed set of parameters. Thread-safe writers, lock-free readers."""

    def __init__(self, params: Iterable[Param]):
        self._params: dict[str, Param] = {}
        for p in params:
            assert p.name not in self._params, f"parameter {p.name} declared twice"
            self._params[p.name] = p
        self._lock = threading.Lock()
        self._values: Mapping[str, Any] = MappingProxyType({n: p.default for n, p in self._params.items()})
        self._listeners: list[Callable[[dict], None]] = []
        self.version = 0  # bumped by each accepted change: cheap "did anything change" for readers

    # -- description
    @property
    def params(self) -> Mapping[str, Param]:
        return MappingProxyType(self._params)

    def spec(self, name: str) -> Param:
        try:
            return self._params[name]
        except KeyError:
            raise ParamError(f"unknown parameter {name!r}") from None

    def __contains__(self, name: str) -> bool:
        return name in self._params

    # -- reading
    def snapshot(self) -> Mapping[str, Any]:
        """All values as one immutable mapping: take it once per frame."""
        return self._values

    def __getitem__(self, name: str) -> Any:
        return self._values[self.spec(name).name]

    # -- writing
    def set(self, name: str, value: Any) -> Any:
        """Validate and set one value; returns the stored value. ParamError on a bad name or value."""
        return self.set_many({name: value})[name]

    def set_many(self, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Validate every change first, then apply them all at once (all or nothing)."""
        clean = {name: self.spec(name).coerce(v) for name, v in changes.items()}
        with self._lock:
            changed = {n: v for n, v in clean.items() if self._values[n] != v or type(self._values[n]) is not type(v)}
            if changed:
                merged = dict(self._values)
                merged.update(changed)
                self._values = MappingProxyType(merged)
                self.version += 1
            listeners = list(self._listeners)
        if changed:
            for fn in listeners:
                fn(dict(changed))
        return clean

    def reset(self, names: Iterable[str] | None = None) -> None:
        """Back to the defaults (all, or the named ones)."""
        names = list(self._params) if names is None else list(names)
        self.set_many({n: self.spec(n).default for n in names})

    def subscribe(self, fn: Callable[[dict], None]) -> Callable[[], None]:
        """fn(changed: {name: value}) after each accepted change (on the writer's thread: keep it
        short). Returns a function that unsubscribes."""
        with self._lock:
            self._listeners.append(fn)

        def unsubscribe() -> None:
            with self._lock:
                if fn in self._listeners:
                    self._listeners.remove(fn)

        return unsubscribe
