"""Training data: `livevis prepare` (videos or the synthetic set) and the `ClipDataset` loader."""

from livevis.training.data.dataset import ClipDataset
from livevis.training.data.prepare import prepare_videos
from livevis.training.data.synthetic import CLASSES as SYNTHETIC_CLASSES
from livevis.training.data.synthetic import write_synthetic

__all__ = ["ClipDataset", "SYNTHETIC_CLASSES", "prepare_videos", "write_synthetic"]
