"""Architecture configs: small JSON documents loaded into dataclasses that reject unknown keys.

Every architecture module defines a `@dataclass class XConfig(StrictConfig)`; its module is built
from that config alone, and keeps it as `module.config` so bundles can save it next to the weights.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from typing import Any, TypeVar

from livevis.errors import LivevisError

C = TypeVar("C", bound="StrictConfig")


@dataclasses.dataclass
class StrictConfig:
    @classmethod
    def from_dict(cls: type[C], data: dict[str, Any]) -> C:
        if not isinstance(data, dict):
            raise LivevisError(f"{cls.__name__}: expected a JSON object, got {type(data).__name__}")
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - set(fields))
        if unknown:
            raise LivevisError(f"{cls.__name__}: unknown key(s) {', '.join(unknown)}")
        missing = sorted(
            name
            for name, f in fields.items()
            if name not in data and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        )
        if missing:
            raise LivevisError(f"{cls.__name__}: missing key(s) {', '.join(missing)}")
        hints = typing.get_type_hints(cls)
        values = {}
        for name, value in data.items():
            values[name] = _coerce(cls.__name__, name, hints[name], value)
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(dataclasses.asdict(self)))


def _coerce(owner: str, name: str, hint: Any, value: Any) -> Any:
    """Nested StrictConfig fields come in as dicts; tuples come in as JSON lists."""
    origin = typing.get_origin(hint)
    if isinstance(hint, type) and issubclass(hint, StrictConfig):
        return hint.from_dict(value)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(hint):
            if isinstance(arg, type) and issubclass(arg, StrictConfig) and isinstance(value, dict):
                return arg.from_dict(value)
        return value
    if origin is tuple and isinstance(value, list):
        return tuple(tuple(v) if isinstance(v, list) else v for v in value)
    return value
