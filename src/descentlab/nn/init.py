"""Weight initializers with PyTorch names and formulas; each fills a tensor in place.

Every function takes an optional `generator` (np.random.Generator); without it the global one
(`descentlab.manual_seed`) is used.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from descentlab.random import resolve
from descentlab.tensor import Tensor

__all__ = ["calculate_fan_in_and_fan_out", "uniform_", "zeros_", "ones_", "constant_",
           "kaiming_uniform_"]  # fmt: skip


def calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    """fan_in = in_channels x receptive field, fan_out = out_channels x receptive field."""
    shape = tensor.shape
    if len(shape) < 2:
        raise ValueError(
            f"fan in and fan out need a tensor with at least 2 dimensions, got shape {shape}"
        )
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0,
             generator: np.random.Generator | None = None) -> Tensor:  # fmt: skip
    """Fill with U(a, b)."""
    tensor.data[...] = resolve(generator).uniform(a, b, size=tensor.shape)
    return tensor


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill with `val`."""
    tensor.data[...] = val
    return tensor


def zeros_(tensor: Tensor) -> Tensor:
    return constant_(tensor, 0.0)


def ones_(tensor: Tensor) -> Tensor:
    return constant_(tensor, 1.0)


def kaiming_uniform_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu",
                     generator: np.random.Generator | None = None) -> Any:  # fmt: skip
    """He uniform: U(-b, b) with b = gain * sqrt(3 / fan), gain = sqrt(2 / (1 + a^2)) for leaky_relu.

    PyTorch's default for Linear and Conv weights is this with a = sqrt(5), i.e. b = 1/sqrt(fan_in).
    """
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    fan = fan_in if mode == "fan_in" else fan_out
    gain = math.sqrt(2.0 / (1 + a**2)) if nonlinearity == "leaky_relu" else math.sqrt(2.0)
    bound = gain * math.sqrt(3.0 / fan)
    return uniform_(tensor, -bound, bound, generator)
