"""ControlHub: the one door every controller (OSC, MIDI, web page, keys) goes through.

It validates what comes in, writes the registry (a bundle of changes is one `set_many`, so it lands
in one frame), runs the actions (tap, preset load/save, MIDI learn), counts what it accepted and what
it ignored (by kind), and gathers the show's live state for the web page and OSC out. Bad input never
raises into a listener thread: it is counted and logged at most once a second per kind.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from typing import Any, Callable, Mapping

from livevis.control.params import ParamError, ParamRegistry
from livevis.control.presets import Preset, PresetStore
from livevis.errors import LivevisError

# MIDI learn targets besides parameter names ("tap": a pad or button that taps the tempo)
LEARN_ACTIONS = ("tap",)
LOG_INTERVAL_S = 1.0


class ControlHub:
    def __init__(self, registry: ParamRegistry, *, presets: PresetStore,
                 on_tap: Callable[[], None] | None = None,
                 on_learn: Callable[[str | None], None] | None = None,
                 state: Callable[[], dict] | None = None,
                 on_preset: Callable[[Preset], None] | None = None,
                 model: Callable[[], str | None] | None = None,
                 latent: Callable[[], Any] | None = None,
                 log: Callable[[str], None] | None = None):
        """on_tap: tap the tempo now (the show passes the analyzer's tap at the current audio index).
        on_learn(name|None): arm (or cancel) MIDI learn; MidiInput attaches itself here when started.
        state(): the show's live figures (fps, response_ms, level, bpm, beat, device ...).
        on_preset(preset): after a preset's values were set (the show may glide to preset.latent).
        model() / latent(): what `save_preset` records besides the parameter values."""
        self.registry = registry
        self.presets = presets
        self.on_tap = on_tap
        self.on_learn = on_learn
        self.state = state
        self.on_preset = on_preset
        self.model = model
        self.latent = latent
        self._log = log or (lambda m: print(m, file=sys.stderr, flush=True))
        self._lock = threading.Lock()
        self.accepted = 0  # values set plus actions done
        self.ignored = 0
        self.ignored_by: Counter[str] = Counter()  # kind -> count
        self.last_ignored: str | None = None
        self._last_log: dict[str, float] = {}
        self._suppressed: Counter[str] = Counter()
        self.learning: str | None = None
        self.last_preset: str | None = None
        self._status: dict[str, Callable[[], Any]] = {}

    # -- bookkeeping
    def ignore(self, source: str, kind: str, message: str) -> None:
        """Count one ignored input and log it (one line per kind per second, with how many were folded)."""
        now = time.monotonic()
        with self._lock:
            self.ignored += 1
            self.ignored_by[kind] += 1
            self.last_ignored = f"{source}: {message}"
            if now - self._last_log.get(kind, -1e9) < LOG_INTERVAL_S:
                self._suppressed[kind] += 1
                return
            self._last_log[kind] = now
            folded = self._suppressed.pop(kind, 0)
        more = f" (+{folded} more like it)" if folded else ""
        try:
            self._log(f"livevis: ignored {source} input ({kind}): {message}{more}")
        except Exception:  # a closed stderr must not take a listener down
            pass

    def _accept(self, n: int = 1) -> None:
        with self._lock:
            self.accepted += n

    def add_status(self, name: str, fn: Callable[[], Any]) -> None:
        """A controller's own status line for stats() (e.g. "midi": the port name)."""
        self._status[name] = fn

    # -- parameters
    def clean(self, changes: Mapping[str, Any], source: str = "control") -> dict[str, Any]:
        """The valid changes, coerced; each bad one is counted and dropped (the rest still apply)."""
        out = {}
        for name, value in changes.items():
            try:
                out[name] = self.registry.spec(name).coerce(value)
            except ParamError as exc:
                self.ignore(source, "unknown parameter" if name not in self.registry else "bad value", str(exc))
        return out

    def set_params(self, changes: Mapping[str, Any], source: str = "control") -> dict[str, Any]:
        """Apply the valid ones of `changes` as one bundle (one set_many: one frame). Returns them."""
        clean = self.clean(changes, source)
        if clean:
            self.registry.set_many(clean)
            self._accept(len(clean))
        return clean

    def set_param(self, name: str, value: Any, source: str = "control") -> bool:
        return bool(self.set_params({name: value}, source))

    def prompt(self, text: str, source: str = "control") -> bool:
        return self.set_param("prompt", text, source)

    def seed(self, n: int, source: str = "control") -> bool:
        return self.set_param("seed", n, source)

    def blackout(self, flag: bool, source: str = "control") -> bool:
        return self.set_param("blackout", flag, source)

    def bpm(self, value: float, source: str = "control") -> bool:
        return self.set_param("bpm", value, source)

    # -- actions
    def tap(self, source: str = "control") -> bool:
        if self.on_tap is None:
            self.ignore(source, "unavailable", "tap tempo is not available in this show")
            return False
        try:
            self.on_tap()
        except Exception as exc:  # the analyzer's problem must not kill a listener thread
            self.ignore(source, "failed", f"tap: {exc}")
            return False
        self._accept()
        return True

    def load_preset(self, spec: str, overrides: Mapping[str, Any] | None = None,
                    source: str | None = None) -> Preset | None:
        """Set a preset's values in one bundle (plus `overrides` on top, same frame); the show crossfades.
        Without `source` (the command line, --preset NAME|FILE): raises LivevisError. From a controller
        (`source` given): a saved name only, and a bad one is counted and None returned."""
        try:
            # a controller names a saved preset; only the command line may point at a file
            preset = self.presets.resolve(spec) if source is None else self.presets.load(spec)
        except LivevisError as exc:
            if source is None:
                raise
            self.ignore(source, "bad preset", str(exc))
            return None
        changes = dict(preset.params)
        if overrides:
            changes.update(overrides)
        self.registry.set_many(changes)  # validated already (preset on load, overrides by clean())
        self._accept()
        self.last_preset = preset.name
        if self.on_preset is not None:
            try:
                self.on_preset(preset)
            except Exception as exc:
                self.ignore(source or "control", "failed", f"preset {preset.name}: {exc}")
        return preset

    def save_preset(self, name: str, source: str | None = None):
        """Save the current values (+ model and latent when the show provides them) as NAME."""
        try:
            model = self.model() if self.model else None
            latent = self.latent() if self.latent else None
            path = self.presets.save(name, self.registry.snapshot(), model=model, latent=latent)
        except LivevisError as exc:
            if source is None:
                raise
            self.ignore(source, "bad preset", str(exc))
            return None
        except OSError as exc:
            if source is None:
                raise LivevisError(f"cannot save preset {name}: {exc}") from None
            self.ignore(source, "failed", f"cannot save preset {name}: {exc}")
            return None
        self._accept()
        self.last_preset = name
        return path

    def learn(self, name: str | None, source: str = "control") -> bool:
        """Arm MIDI learn for a parameter (or "tap"); the next CC/note moved is bound. None/"" cancels."""
        name = name or None
        if name is not None:
            if name not in self.registry and name not in LEARN_ACTIONS:
                self.ignore(source, "unknown parameter", f"cannot learn {name!r}: no such parameter")
                return False
            if name in self.registry and self.registry.spec(name).kind == "str":
                self.ignore(source, "bad value", f"{name} takes text: it cannot be mapped to a MIDI control")
                return False
        if self.on_learn is None:
            self.ignore(source, "unavailable", "MIDI learn needs --midi")
            return False
        try:
            self.on_learn(name)
        except Exception as exc:
            self.ignore(source, "failed", f"learn: {exc}")
            return False
        self.learning = name
        self._accept()
        return True

    def learned(self) -> None:
        """Called by the MIDI input once the armed parameter got its control."""
        self.learning = None

    # -- state
    def stats(self) -> dict:
        """The show's state() plus the hub's counters and the controllers' status, JSON-ready."""
        out: dict[str, Any] = {}
        if self.state is not None:
            try:
                out.update(self.state() or {})
            except Exception as exc:  # keep the page alive if the show's probe trips
                out["state_error"] = str(exc)
        with self._lock:
            out.update(accepted=self.accepted, ignored=self.ignored, ignored_by=dict(self.ignored_by),
                       last_ignored=self.last_ignored)
        out.update(learn=self.learning, preset=self.last_preset)
        for name, fn in list(self._status.items()):
            try:
                out[name] = fn()
            except Exception as exc:
                out[name] = f"error: {exc}"
        return out
