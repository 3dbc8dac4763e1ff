"""Live control: one registry of typed, ranged parameters that keys, OSC, MIDI, the web page and
presets write, and that the drivers, effects and outputs read between frames."""

from livevis.control.params import Param, ParamError, ParamRegistry
from livevis.control.catalog import live_params

__all__ = ["Param", "ParamError", "ParamRegistry", "live_params"]
