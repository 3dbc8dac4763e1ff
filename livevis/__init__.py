"""livevis: real-time, sound-guided StyleGAN video synthesis for live performance."""

__version__ = "0.1.0"
