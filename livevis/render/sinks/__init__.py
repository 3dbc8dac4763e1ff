"""Video outputs beside the window: v4l2 virtual camera, NDI, Syphon, Spout, file.

    group = SinkGroup.from_specs(["v4l2:/dev/video10", "ndi:livevis"])  # LivevisError on bad specs
    group.open(width, height, fps)
    group.send(rgb)  # per program frame, [H, W, 3 | 4] uint8; never blocks
    group.close()
"""

from livevis.render.sinks.base import Sink, SinkStats
from livevis.render.sinks.group import SinkGroup
from livevis.render.sinks.registry import KINDS, OutputKind, list_outputs, parse_output

__all__ = ["KINDS", "OutputKind", "Sink", "SinkGroup", "SinkStats", "list_outputs", "parse_output"]
