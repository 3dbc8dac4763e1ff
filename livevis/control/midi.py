"""MIDI in (`--midi [PORT]`, mido + python-rtmidi): mappings from CC/notes to parameters, MIDI learn,
and the mappings file (`$XDG_CONFIG_HOME/livevis/midi.json`, else ~/.config/livevis/midi.json).

A mapping binds (channel, CC or note) to a parameter (or the "tap" action):
- mode "absolute": the CC value (or note velocity) 0..127 spreads over [lo, hi] (the parameter's range
  unless narrowed); a choice parameter spreads over its choices.
- mode "toggle": each press (CC >= 64 after < 64, note on) flips a switch (or lo <-> hi, or the next choice).
- mode "momentary": on while held (press -> hi / True, release -> lo / False).
- hires: 14-bit CC, MSB on CC n (0-31) and LSB on CC n+32, as the MIDI spec pairs them; detected when
  the device sends the LSB right after the MSB, so learning a 14-bit fader binds both.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from livevis.control.hub import LEARN_ACTIONS, ControlHub
from livevis.control.options import config_dir
from livevis.errors import LivevisError
from livevis.util.atomic import atomic_open

SOURCE = "midi"
MODES = ("absolute", "toggle", "momentary")
FORMAT = "livevis-midi"
ALSA_SEQ = "/dev/snd/seq"


@dataclass
class Mapping:
    target: str  # a parameter name, or "tap"
    kind: str  # "cc" | "note"
    number: int  # CC number or note number, 0..127
    channel: int | None = None  # 0..15 (mido numbering: MIDI channel 1 is 0); None: any channel
    mode: str = "absolute"
    lo: float | None = None  # None: the parameter's own range
    hi: float | None = None
    hires: bool = False  # 14-bit CC: MSB on `number`, LSB on `number + 32`

    def matches(self, kind: str, channel: int, number: int) -> bool:
        return self.kind == kind and self.number == number and (self.channel is None or self.channel == channel)


def mappings_path() -> Path:
    return config_dir("midi.json")


def check_mapping(m: Mapping, registry, where: str) -> Mapping:
    def bad(msg: str) -> LivevisError:
        return LivevisError(f"{where}: mapping {m.kind} {m.number} -> {m.target}: {msg}")

    if m.target not in registry and m.target not in LEARN_ACTIONS:
        raise bad("no such parameter")
    if m.target in registry and registry.spec(m.target).kind == "str":
        raise bad("a text parameter cannot be mapped")
    if m.kind not in ("cc", "note"):
        raise bad('kind must be "cc" or "note"')
    if not isinstance(m.number, int) or not 0 <= m.number <= 127:
        raise bad("number must be 0..127")
    if m.channel is not None and (not isinstance(m.channel, int) or not 0 <= m.channel <= 15):
        raise bad("channel must be 0..15 or null (any)")
    if m.mode not in MODES:
        raise bad(f"mode must be one of {', '.join(MODES)}")
    if m.hires and (m.kind != "cc" or m.number > 31):
        raise bad("14-bit (hires) needs a CC 0..31 (its LSB is CC number+32)")
    if m.hires and m.mode != "absolute":
        raise bad("14-bit (hires) mappings are absolute")
    if m.target in registry:
        spec = registry.spec(m.target)
        for end in (m.lo, m.hi):
            if end is None:
                continue
            if spec.kind not in ("float", "int"):
                raise bad("lo/hi only apply to numeric parameters")
            if not isinstance(end, (int, float)) or not spec.lo <= end <= spec.hi:
                raise bad(f"lo/hi must lie in {spec.lo:g}..{spec.hi:g}")
    return m


def load_mappings(path: Path, registry) -> list[Mapping]:
    if not path.is_file():
        return []
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
        rows = obj["mappings"] if isinstance(obj, dict) else None
        if not isinstance(rows, list):
            raise ValueError("expected {\"mappings\": [...]}")
        fields = set(Mapping.__dataclass_fields__)
        out = []
        for row in rows:
            if not isinstance(row, dict) or not {"target", "kind", "number"} <= set(row) or set(row) - fields:
                raise ValueError(f"bad mapping {row!r}")
            out.append(check_mapping(Mapping(**row), registry, str(path)))
        return out
    except (OSError, UnicodeDecodeError, ValueError, TypeError, KeyError) as exc:
        raise LivevisError(f"cannot read MIDI mappings {path}: {exc} (fix or delete the file)") from None


def save_mappings(path: Path, mappings: list[Mapping]) -> None:
    with atomic_open(path, "w") as f:
        json.dump({"format": FORMAT, "version": 1, "mappings": [asdict(m) for m in mappings]}, f, indent=1)
        f.write("\n")


class MidiMapper:
    """Turns mido messages into hub calls through the mappings; handles learn. No I/O but the file."""

    def __init__(self, hub: ControlHub, path: Path | None = None, mappings: list[Mapping] | None = None):
        self.hub = hub
        self.registry = hub.registry
        self.path = Path(path) if path is not None else mappings_path()
        self.mappings = list(mappings) if mappings is not None else load_mappings(self.path, self.registry)
        self.armed: str | None = None
        self.received = 0
        self._lock = threading.Lock()
        self._pressed: dict[tuple, bool] = {}  # (kind, channel, number) -> last press state, for toggles
        self._msb: dict[tuple[int, int], int] = {}  # (channel, cc) -> last MSB of a 14-bit pair
        self._just_learned: tuple[int, int] | None = None  # (channel, cc) bound by learn, LSB may follow

    # -- learn
    def arm(self, target: str | None) -> None:
        with self._lock:
            self.armed = target

    def _bind(self, kind: str, channel: int, number: int) -> Mapping:
        target = self.armed
        spec = self.registry.spec(target) if target in self.registry else None
        mode = "toggle" if (spec is None and kind == "note") or (spec is not None and spec.kind == "bool") else "absolute"
        if target in LEARN_ACTIONS:
            mode = "momentary"  # fires on press
        m = Mapping(target=target, kind=kind, number=number, channel=channel, mode=mode)
        # one control drives one target, and relearning a target moves it to the new control
        self.mappings = [x for x in self.mappings if x.target != target and not x.matches(kind, channel, number)]
        self.mappings.append(m)
        self.armed = None
        self._just_learned = (channel, number) if kind == "cc" and number < 32 else None
        self._save()
        self.hub.learned()
        return m

    def _save(self) -> None:
        try:
            save_mappings(self.path, self.mappings)
        except OSError as exc:
            self.hub.ignore(SOURCE, "failed", f"cannot save MIDI mappings to {self.path}: {exc}")

    # -- messages
    def feed(self, msg) -> None:
        """One mido Message. Never raises: what cannot be used is counted by the hub."""
        try:
            self._feed(msg)
        except Exception as exc:  # a bug must not kill rtmidi's callback thread
            self.hub.ignore(SOURCE, "failed", f"{msg}: {exc}")

    def _feed(self, msg) -> None:
        self.received += 1
        t = msg.type
        if t == "control_change":
            kind, number, value = "cc", msg.control, msg.value
        elif t in ("note_on", "note_off"):
            kind, number = "note", msg.note
            value = msg.velocity if t == "note_on" else 0  # note_on with velocity 0 is a release
        else:
            return  # clock, sysex, aftertouch ...: not ours, not an error
        ch = msg.channel
        with self._lock:
            if kind == "cc" and 32 <= number < 64 and self._lsb(ch, number, value):
                return
            if kind == "cc" and number < 32:
                self._msb[(ch, number)] = value
            if self.armed is not None and value > 0:
                self._bind(kind, ch, number)  # the learning move only binds; the next one drives
                self._pressed[(kind, ch, number)] = value >= 64 if kind == "cc" else True
                return
            if kind == "cc":
                self._just_learned = None
            todo = [m for m in self.mappings if m.matches(kind, ch, number)]
        for m in todo:
            if m.hires:
                continue  # applied when its LSB arrives
            self._apply(m, kind, ch, number, value, value / 127.0)

    def _lsb(self, ch: int, number: int, value: int) -> bool:
        """CC 32..63: the LSB of a 14-bit pair when CC number-32 is mapped (or was just learned)."""
        msb_cc = number - 32
        pair = [m for m in self.mappings if m.kind == "cc" and m.matches("cc", ch, msb_cc)]
        if not pair:
            return False
        if self._just_learned == (ch, msb_cc):  # the device sends 14-bit: upgrade the new mapping
            for m in pair:
                m.hires = True
            self._just_learned = None
            self._save()
            return True  # still part of the learning move
        hires = [m for m in pair if m.hires]
        if not hires:
            return False
        full = (self._msb.get((ch, msb_cc), 0) << 7) | value  # 0..16383
        for m in hires:  # hires mappings are absolute (check_mapping)
            self.hub.set_params(self._values(m, full / 16383.0, full >= 8192), SOURCE)
        return True

    def _apply(self, m: Mapping, kind: str, ch: int, number: int, value: int, frac: float) -> None:
        pressed = value >= 64 if kind == "cc" else value > 0
        key = (kind, ch, number)
        was = self._pressed.get(key, False)
        self._pressed[key] = pressed
        if m.target == "tap":
            if pressed and not was:
                self.hub.tap(SOURCE)
            return
        if m.mode == "absolute":
            changes = self._values(m, frac, pressed)
        elif m.mode == "toggle":
            if not pressed or was:
                return
            changes = {m.target: self._flipped(m)}
        else:  # momentary
            if pressed == was and kind == "cc":
                return
            changes = {m.target: self._end(m, pressed)}
        self.hub.set_params(changes, SOURCE)

    def _values(self, m: Mapping, frac: float, value_pressed: bool) -> dict[str, Any]:
        spec = self.registry.spec(m.target)
        if spec.kind == "bool":
            return {m.target: value_pressed}
        if spec.kind == "choice":
            return {m.target: spec.choices[min(int(frac * len(spec.choices)), len(spec.choices) - 1)]}
        lo = spec.lo if m.lo is None else m.lo
        hi = spec.hi if m.hi is None else m.hi
        x = lo + frac * (hi - lo)
        return {m.target: round(x) if spec.kind == "int" else x}

    def _end(self, m: Mapping, on: bool) -> Any:
        spec = self.registry.spec(m.target)
        if spec.kind == "bool":
            return on
        if spec.kind == "choice":
            return spec.choices[-1] if on else spec.choices[0]
        lo = spec.lo if m.lo is None else m.lo
        hi = spec.hi if m.hi is None else m.hi
        return (hi if on else lo) if spec.kind == "float" else round(hi if on else lo)

    def _flipped(self, m: Mapping) -> Any:
        spec = self.registry.spec(m.target)
        cur = self.registry[m.target]
        if spec.kind == "bool":
            return not cur
        if spec.kind == "choice":
            return spec.choices[(spec.choices.index(cur) + 1) % len(spec.choices)]
        lo = spec.lo if m.lo is None else m.lo
        hi = spec.hi if m.hi is None else m.hi
        return self._end(m, abs(cur - lo) <= abs(cur - hi))  # at (or near) lo -> hi, else -> lo


def alsa_sequencer_missing() -> str | None:
    """Why MIDI cannot work here (one line), or None. rtmidi on Linux needs the ALSA sequencer."""
    if sys.platform.startswith("linux") and not os.path.exists(ALSA_SEQ):
        return (f"the ALSA sequencer ({ALSA_SEQ}) is missing: load the snd-seq kernel module "
                f"(or give the container /dev/snd)")
    return None


def input_names() -> list[str]:
    """MIDI input port names. LivevisError (one line) when MIDI is unavailable on this machine."""
    why = alsa_sequencer_missing()
    if why:
        raise LivevisError(f"no MIDI: {why}")
    import mido

    try:
        return list(mido.get_input_names())
    except Exception as exc:  # rtmidi's SystemError, missing backend ...
        raise LivevisError(f"no MIDI: {exc}") from None


def pick_port(names: list[str], wanted: str | None) -> str:
    if not names:
        raise LivevisError("no MIDI input ports (plug in a controller; `livevis midi ports` lists them)")
    if not wanted:
        return names[0]
    if wanted in names:
        return wanted
    hits = [n for n in names if wanted.lower() in n.lower()]
    if len(hits) == 1:
        return hits[0]
    if not hits:
        raise LivevisError(f"no MIDI input port matches {wanted!r}; ports: {', '.join(names)}")
    raise LivevisError(f"{wanted!r} matches several MIDI ports: {', '.join(hits)}")


class MidiInput:
    """Opens a MIDI input port; its messages go through a MidiMapper (on rtmidi's thread)."""

    def __init__(self, hub: ControlHub, port_name: str | None = None, *, path: Path | None = None,
                 virtual: bool = False):
        self.hub = hub
        self.wanted = port_name
        self.virtual = virtual  # open a virtual port named port_name (tests, software routing)
        self.mapper = MidiMapper(hub, path)  # reads the mappings file first: a bad file fails early
        self.port_name: str | None = None
        self._port = None

    def start(self) -> "MidiInput":
        import mido

        if self.virtual:
            why = alsa_sequencer_missing()
            if why:
                raise LivevisError(f"no MIDI: {why}")
            name = self.wanted or "livevis"
        else:
            name = pick_port(input_names(), self.wanted)
        try:
            self._port = mido.open_input(name, virtual=self.virtual, callback=self.mapper.feed)
        except Exception as exc:
            raise LivevisError(f"cannot open MIDI port {name!r}: {exc}") from None
        self.port_name = name
        self.hub.on_learn = self.mapper.arm
        self.hub.add_status("midi", lambda: self.port_name)
        return self

    def stop(self) -> None:
        if self._port is not None:
            self._port.close()
            self._port = None
        if self.hub.on_learn == self.mapper.arm:
            self.hub.on_learn = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
