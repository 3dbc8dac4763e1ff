"""Training: datasets, losses, stages (generator, audio, video), checkpoints, distributed."""
