"""Expose a method other than `forward` (e.g. RecurrentBlocks.step) as a module backends can compile."""

from __future__ import annotations

from torch import nn


class MethodModule(nn.Module):
    """`MethodModule(m, "step")(*x) == m.step(*x)`; `m` stays a registered child, so its weights are ours."""

    def __init__(self, module: nn.Module, method: str):
        super().__init__()
        if not callable(getattr(module, method, None)):
            raise AttributeError(f"{type(module).__name__} has no method {method!r}")
        self.inner = module
        self.method = method

    def forward(self, *inputs):
        return getattr(self.inner, self.method)(*inputs)


def wrap_method(module: nn.Module, method: str) -> nn.Module:
    """An nn.Module whose forward is `module.<method>`; the training flag follows `module`'s."""
    wrapped = MethodModule(module, method)
    wrapped.train(module.training)
    return wrapped
