"""Fully connected layers."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from descentlab.nn import init
from descentlab.nn.module import Module, Parameter
from descentlab.ops.math import linear
from descentlab.tensor import Tensor

__all__ = ["Linear", "Identity"]


class Linear(Module):
    """y = x W^T + b, W of shape (out_features, in_features) as in PyTorch.

    Default initialisation is PyTorch's: W and b ~ U(-1/sqrt(in_features), 1/sqrt(in_features)).
    `in_features=None` defers creating W until the first call, which infers it from the input.

    Example:
        >>> fc = Linear(784, 10)
        >>> fc(descentlab.randn(32, 784)).shape
        (32, 10)
    """

    def __init__(self, in_features: int | None, out_features: int, bias: bool = True,
                 dtype: Any = np.float32, generator: np.random.Generator | None = None) -> None:  # fmt: skip
        super().__init__()
        if out_features <= 0 or (in_features is not None and in_features <= 0):
            raise ValueError(
                f"Linear: in_features and out_features must be positive, got "
                f"({in_features}, {out_features})"
            )
        self.in_features, self.out_features = in_features, out_features
        self._dtype, self._generator = np.dtype(dtype), generator
        self.register_parameter("weight", None)
        self.register_parameter("bias", None)
        self._use_bias = bias
        if in_features is not None:
            self._build(in_features)

    def _build(self, in_features: int) -> None:
        self.in_features = in_features
        self.weight = Parameter(np.empty((self.out_features, in_features), dtype=self._dtype))
        if self._use_bias:
            self.bias = Parameter(np.empty(self.out_features, dtype=self._dtype))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.kaiming_uniform_(self.weight, a=math.sqrt(5), generator=self._generator)
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_features)
            init.uniform_(self.bias, -bound, bound, generator=self._generator)

    def forward(self, x: Tensor) -> Tensor:
        if self.weight is None:
            self._build(x.shape[-1])
        if x.shape[-1] != self.in_features:
            raise ValueError(
                f"{self!r} expected input with {self.in_features} features in the last dimension, "
                f"got input of shape {tuple(x.shape)}"
            )
        return linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self._use_bias}"
        )


class Identity(Module):
    """Returns its input unchanged (a placeholder layer)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, x: Any) -> Any:
        return x
