"""`parse_output(spec)` -> a Sink, and what each kind needs (for `livevis outputs`).

Specs: v4l2:/dev/videoN | ndi:NAME | syphon:NAME | spout:NAME | file:PATH. Kinds are imported only
when named, so an extra that is not installed costs nothing until it is asked for.
"""

from __future__ import annotations

import dataclasses
import importlib

from livevis.errors import LivevisError
from livevis.render.sinks.base import Sink

# kind -> (module, class, what it is, the extra that provides it (None: core), licence of that extra)
KINDS: dict[str, tuple[str, str, str, str | None, str]] = {
    "v4l2": ("livevis.render.sinks.v4l2", "V4L2Sink", "v4l2loopback virtual camera (Linux)", None,
             "none needed (kernel module v4l2loopback is GPL-2.0, installed by the system)"),
    "ndi": ("livevis.render.sinks.ndi", "NDISink", "NDI network source", "ndi",
            "cyndilib MIT; bundled NDI runtime proprietary (NDI SDK licence)"),
    "syphon": ("livevis.render.sinks.syphon", "SyphonSink", "Syphon server (macOS)", "syphon",
               "syphon-python MIT; Syphon framework BSD-2-Clause"),
    "spout": ("livevis.render.sinks.spout", "SpoutSink", "Spout sender (Windows)", "spout",
              "SpoutGL BSD (per its README); Spout2 SDK BSD-2-Clause"),
    "file": ("livevis.render.sinks.file", "FileSink", "video file of the frames sent (.mp4/.mkv/.mov)", None,
             "PyAV (core)"),
}
EXAMPLES = {"v4l2": "v4l2:/dev/video10", "ndi": "ndi:livevis", "syphon": "syphon:livevis",
            "spout": "spout:livevis", "file": "file:out/program.mp4"}


def parse_output(spec: str, **options) -> Sink:
    """Build (not open) the sink named by `spec`. Unknown kind, bad target, missing device or extra,
    wrong platform -> LivevisError with one line. `options` go to the sink (timeout, warn)."""
    kind, sep, target = (spec or "").partition(":")
    if not sep or kind not in KINDS:
        known = ", ".join(EXAMPLES.values())
        raise LivevisError(f"unknown output {spec!r}; use one of: {known}")
    if not target:
        raise LivevisError(f"output {spec!r} needs a target after the colon, e.g. {EXAMPLES[kind]}")
    module, cls, *_ = KINDS[kind]
    return getattr(importlib.import_module(module), cls)(target, **options)


@dataclasses.dataclass(frozen=True)
class OutputKind:
    kind: str
    available: bool
    reason: str  # why not, or what is there
    devices: list[str]
    description: str
    extra: str | None
    license: str
    example: str


def list_outputs() -> list[OutputKind]:
    """Every sink kind with its availability on this machine and the reason."""
    out = []
    for kind, (module, _cls, description, extra, licence) in KINDS.items():
        if kind == "file":
            available, reason, devices = True, "always (PyAV)", []
        else:
            try:
                available, reason, devices = importlib.import_module(module).probe()
            except Exception as exc:  # noqa: BLE001 - a broken optional install must not break the listing
                available, reason, devices = False, f"probe failed: {type(exc).__name__}: {exc}", []
        out.append(OutputKind(kind, available, reason, devices, description, extra, licence, EXAMPLES[kind]))
    return out
