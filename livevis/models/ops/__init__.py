"""Pure-PyTorch StyleGAN ops: FIR resampling, bias + activation, modulated convolution. Nothing compiles at import."""
