"""Procedural paired audio-visual dataset (the Landscape-like test bed, demo data and metric ground truth)."""

from livevis.training.data.synthetic.generate import CLASSES, render_clip, write_synthetic

__all__ = ["CLASSES", "render_clip", "write_synthetic"]
