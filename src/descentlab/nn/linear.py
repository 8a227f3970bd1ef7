"""Fully connected layers."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from descentlab.nn import init
from descentlab.nn.module import Module, Parameter
from descentlab.ops.math import linear
from descentlab.tensor import Tensor

__all__ = ["Linear", "Bilinear", "Identity"]


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

    def _materialize_from_state(self, state: Any, prefix: str) -> None:
        """Build a lazy layer from a state_dict's weight shape before loading it."""
        key = prefix + "weight"
        if self.weight is None and key in state:
            self._build(int(state[key].shape[1]))

    def forward(self, input: Tensor) -> Tensor:
        if self.weight is None:
            self._build(input.shape[-1])
        if input.shape[-1] != self.in_features:
            raise ValueError(
                f"{self!r} expected input with {self.in_features} features in the last dimension, "
                f"got input of shape {tuple(input.shape)}"
            )
        return linear(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self._use_bias}"
        )


class Identity(Module):
    """Returns its input unchanged (a placeholder layer)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, input: Any) -> Any:
        return input


class Bilinear(Module):
    """y_k = x1^T A_k x2 + b_k with A of shape (out_features, in1_features, in2_features) (PyTorch).

    Default initialisation is PyTorch's: A and b ~ U(-1/sqrt(in1_features), 1/sqrt(in1_features)).

    Example:
        >>> Bilinear(3, 4, 2)(descentlab.randn(5, 3), descentlab.randn(5, 4)).shape
        (5, 2)
    """

    def __init__(self, in1_features: int, in2_features: int, out_features: int, bias: bool = True,
                 dtype: Any = np.float32, generator: np.random.Generator | None = None) -> None:  # fmt: skip
        super().__init__()
        if min(in1_features, in2_features, out_features) <= 0:
            raise ValueError(
                f"Bilinear: feature sizes must be positive, got ({in1_features}, {in2_features}, "
                f"{out_features})"
            )
        self.in1_features, self.in2_features = in1_features, in2_features
        self.out_features = out_features
        self.weight = Parameter(np.empty((out_features, in1_features, in2_features), dtype=dtype))
        self.bias = Parameter(np.empty(out_features, dtype=dtype)) if bias else None
        if not bias:
            self.register_parameter("bias", None)
        self._generator = generator
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1 / math.sqrt(self.in1_features)
        init.uniform_(self.weight, -bound, bound, generator=self._generator)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound, generator=self._generator)

    def forward(self, input1: Tensor, input2: Tensor) -> Tensor:
        from descentlab.ops.math import matmul
        from descentlab.ops.reduce import sum as reduce_sum
        from descentlab.ops.shape import reshape

        if input1.shape[-1] != self.in1_features or input2.shape[-1] != self.in2_features:
            raise ValueError(
                f"{self!r} expected inputs with {self.in1_features} and {self.in2_features} "
                f"features, got shapes {tuple(input1.shape)} and {tuple(input2.shape)}"
            )
        lead = input1.shape[:-1]
        a = reshape(input1, -1, 1, 1, self.in1_features)  # (B, 1, 1, in1)
        # (B, 1, 1, in1) @ (out, in1, in2) -> (B, out, 1, in2); then dot with input2 over in2.
        t = matmul(
            a, reshape(self.weight, 1, self.out_features, self.in1_features, self.in2_features)
        )
        y = reduce_sum(reshape(t, -1, self.out_features, self.in2_features)
                       * reshape(input2, -1, 1, self.in2_features), axis=-1)  # fmt: skip
        if self.bias is not None:
            y = y + self.bias
        return reshape(y, *lead, self.out_features)

    def extra_repr(self) -> str:
        return (
            f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
            f"out_features={self.out_features}, bias={self.bias is not None}"
        )
