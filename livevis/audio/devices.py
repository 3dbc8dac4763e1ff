"""Audio input devices through PortAudio (python-sounddevice). Imports no torch."""

from __future__ import annotations

import contextlib
import os

from livevis.errors import LivevisError


@contextlib.contextmanager
def quiet_stderr():
    """Silence ALSA/PortAudio's C-level chatter on fd 2 while PortAudio starts, lists devices or
    opens a stream: failures come back as exceptions, which we report as one line. Process-wide,
    for the few milliseconds of the call."""
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def import_sounddevice():
    """The sounddevice module, or LivevisError when the PortAudio library is missing."""
    try:
        with quiet_stderr():  # PortAudio's init probes ALSA, which complains about absent cards
            import sounddevice
    except OSError as exc:  # sounddevice raises OSError when libportaudio cannot be loaded
        raise LivevisError(f"PortAudio library not found ({exc}); install it, e.g. apt-get install libportaudio2") from None
    return sounddevice


def _default_input_index(sd) -> int | None:
    try:
        default = sd.default.device[0]
    except Exception:  # noqa: BLE001 - PortAudio without devices raises assorted errors here
        return None
    if isinstance(default, str):
        try:
            default = sd.query_devices(default, "input")["index"]
        except Exception:  # noqa: BLE001
            return None
    return None if default is None or default < 0 else int(default)


def list_input_devices() -> list[dict]:
    """[{index, name, channels, default_samplerate, is_default}] for devices with inputs.

    LivevisError when PortAudio is missing or there is no input device at all.
    """
    sd = import_sounddevice()
    try:
        with quiet_stderr():
            devices = sd.query_devices()
    except Exception as exc:  # noqa: BLE001
        raise LivevisError(f"cannot query audio devices: {exc}") from None
    default = _default_input_index(sd)
    found = [
        {
            "index": int(d["index"]),
            "name": str(d["name"]),
            "channels": int(d["max_input_channels"]),
            "default_samplerate": float(d["default_samplerate"]),
            "is_default": int(d["index"]) == default,
        }
        for d in devices
        if d["max_input_channels"] > 0
    ]
    if not found:
        raise LivevisError("no audio input devices found (no sound card, or no sound server running)")
    return found


def resolve_input_device(device: str | int | None) -> dict:
    """One entry of `list_input_devices()`: by index, by exact name, by unique name substring, or the
    default when `device` is None. Unknown or ambiguous -> LivevisError naming the choices."""
    devices = list_input_devices()
    names = ", ".join(f"{d['index']}: {d['name']}" for d in devices)
    if device is None or device == "":
        for d in devices:
            if d["is_default"]:
                return d
        return devices[0]
    if isinstance(device, int) or (isinstance(device, str) and device.strip().isdigit()):
        index = int(device)
        for d in devices:
            if d["index"] == index:
                return d
        raise LivevisError(f"no audio input device with index {index}; inputs are {names}")
    exact = [d for d in devices if d["name"] == device]
    if exact:
        return exact[0]
    matches = [d for d in devices if device.lower() in d["name"].lower()]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise LivevisError(f"no audio input device matching {device!r}; inputs are {names}")
    raise LivevisError(f"{device!r} matches several input devices ({', '.join(d['name'] for d in matches)}); "
                       "give more of the name or the index")
