"""Parity gate: tolerance, scaling, refusals."""

import pytest
import torch

from livevis.engines.errors import ParityError
from livevis.engines.parity import TOLERANCE, check_parity, max_abs_diff, parity_inputs
from livevis.errors import LivevisError
from tests.rigs.engines import TinyConvNet, seeded


def test_parity_inputs_are_fixed_and_keep_the_examples():
    x, idx = torch.zeros(2, 3), torch.tensor([1, 2])
    a, b = parity_inputs((x, idx)), parity_inputs((x, idx))
    assert a[0][0] is x and torch.equal(a[1][0], b[1][0])  # seeded: the same draw every time
    assert a[1][0].std() > 0.5 and torch.equal(a[1][1], idx)  # floats drawn, ints copied


def test_exact_runner_passes_with_zero_diff():
    m = seeded(TinyConvNet())
    assert check_parity(m, m, (torch.randn(1, 3, 8, 8),), precision="fp32", backend="x", name="m") == 0.0


def test_perturbed_runner_is_refused_with_one_line():
    m = seeded(TinyConvNet())
    with pytest.raises(ParityError) as info:
        check_parity(lambda x: m(x) + 5e-3, m, (torch.randn(1, 3, 8, 8),), precision="fp32", backend="fake", name="m")
    assert isinstance(info.value, LivevisError) and "\n" not in str(info.value)
    assert "fake refused for m" in str(info.value) and "fp32" in str(info.value)
    # the same error is inside the fp16 bound
    assert check_parity(lambda x: m(x) + 5e-3, m, (torch.randn(1, 3, 8, 8),), precision="fp16",
                        backend="fake", name="m") == pytest.approx(5e-3, rel=1e-2)


def test_bound_scales_with_output_magnitude():
    big = lambda x: x * 100.0  # noqa: E731 - outputs around +-300
    off = lambda x: x * 100.0 + 0.05  # noqa: E731 - 0.05 abs is < 1e-3 relative to 300
    assert check_parity(off, big, (torch.randn(4, 64),), precision="fp32", backend="x", name="m") < 0.06
    with pytest.raises(ParityError):
        check_parity(lambda x: x + 0.05, lambda x: x, (torch.randn(4, 64) * 0.1,), precision="fp32",
                     backend="x", name="m")


def test_each_output_is_bounded_by_its_own_magnitude():
    # a large second output must not loosen the bound on a small first one (unit-norm embedding + offsets)
    eager = lambda x: (x * 0.1, x * 100.0)  # noqa: E731
    with pytest.raises(ParityError, match="output 0"):
        check_parity(lambda x: (x * 0.1 + 0.05, x * 100.0), eager, (torch.randn(4, 8),), precision="fp32",
                     backend="x", name="m")


def test_nan_and_shape_mismatch_are_infinite():
    assert max_abs_diff([torch.tensor([float("nan")])], [torch.tensor([0.0])])[0][0] == float("inf")
    assert max_abs_diff([torch.zeros(2)], [torch.zeros(3)])[0][0] == float("inf")
    assert max_abs_diff([torch.zeros(2)], [torch.zeros(2), torch.zeros(2)])[0][0] == float("inf")
    with pytest.raises(ParityError):
        check_parity(lambda x: x * float("nan"), lambda x: x, (torch.ones(3),), precision="bf16", backend="x", name="m")


def test_tolerances_are_ordered():
    assert TOLERANCE["fp32"] == 1e-3 and TOLERANCE["fp32"] < TOLERANCE["fp16"] < TOLERANCE["bf16"]
