"""Inference backends (eager, torch.compile, TensorRT, ONNX Runtime), engine cache, parity gate."""
