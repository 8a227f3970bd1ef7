"""Activation layers: modules wrapping the functions in `descentlab.ops.activation` (PyTorch names,
arguments and defaults; PReLU has a learned slope).

Example:
    >>> LeakyReLU(0.1)(descentlab.tensor([-1.0, 2.0])).data
    array([-0.1,  2. ], dtype=float32)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from descentlab.nn.module import Module, Parameter
from descentlab.ops import activation as F
from descentlab.tensor import Tensor

__all__ = [
    "ReLU", "Sigmoid", "Tanh", "Softmax", "LogSoftmax", "Softmin", "LeakyReLU", "PReLU", "ReLU6",
    "ELU", "SELU", "CELU", "GELU", "SiLU", "Swish", "Mish", "Softplus", "Softsign", "Hardsigmoid",
    "Hardtanh", "Hardswish", "LogSigmoid",
]  # fmt: skip


class _Elementwise(Module):
    """An activation without arguments: forward is `fn(x)`."""

    fn: Any = None

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace  # accepted for PyTorch compatibility; never in place

    def forward(self, input: Tensor) -> Tensor:
        return type(self).fn(input)


class ReLU(_Elementwise):
    """max(x, 0): the default hidden activation; does not saturate for x > 0."""

    fn = staticmethod(F.relu)


class Sigmoid(_Elementwise):
    """1 / (1 + e^-x); saturates for large |x| (vanishing gradients in deep nets)."""

    fn = staticmethod(F.sigmoid)


class Tanh(_Elementwise):
    """tanh(x); zero-centred but saturating."""

    fn = staticmethod(F.tanh)


class ReLU6(_Elementwise):
    """min(max(x, 0), 6)."""

    fn = staticmethod(F.relu6)


class SELU(_Elementwise):
    """scale * elu(x, alpha) with the self-normalising constants (scale 1.0507, alpha 1.6733)."""

    fn = staticmethod(F.selu)


class SiLU(_Elementwise):
    """x * sigmoid(x) (also called Swish)."""

    fn = staticmethod(F.silu)


Swish = SiLU


class Mish(_Elementwise):
    """x * tanh(softplus(x))."""

    fn = staticmethod(F.mish)


class Softsign(_Elementwise):
    """x / (1 + |x|)."""

    fn = staticmethod(F.softsign)


class Hardsigmoid(_Elementwise):
    """relu6(x + 3) / 6."""

    fn = staticmethod(F.hardsigmoid)


class Hardswish(_Elementwise):
    """x * relu6(x + 3) / 6."""

    fn = staticmethod(F.hardswish)


class LogSigmoid(_Elementwise):
    """log(sigmoid(x)), computed stably."""

    fn = staticmethod(F.logsigmoid)


class LeakyReLU(Module):
    """x if x > 0 else negative_slope * x (PyTorch default slope 0.01)."""

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False) -> None:
        super().__init__()
        self.negative_slope, self.inplace = negative_slope, inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.leaky_relu(input, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class PReLU(Module):
    """x if x > 0 else a * x with a learned slope `a`: one shared (num_parameters=1) or one per
    channel (dimension 1); initialised to `init` = 0.25 as PyTorch."""

    def __init__(
        self, num_parameters: int = 1, init: float = 0.25, dtype: Any = np.float32
    ) -> None:
        super().__init__()
        if num_parameters <= 0:
            raise ValueError(f"PReLU: num_parameters must be positive, got {num_parameters}")
        self.num_parameters, self.init = num_parameters, init
        self.weight = Parameter(np.full(num_parameters, init, dtype=dtype))

    def reset_parameters(self) -> None:
        self.weight.data[...] = self.init

    def forward(self, input: Tensor) -> Tensor:
        return F.prelu(input, self.weight)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"


class ELU(Module):
    """x if x > 0 else alpha (e^x - 1)."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha, self.inplace = alpha, inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.elu(input, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


class CELU(ELU):
    """max(0, x) + min(0, alpha (e^(x / alpha) - 1))."""

    def forward(self, input: Tensor) -> Tensor:
        return F.celu(input, self.alpha)


class GELU(Module):
    """x * Phi(x), exact (approximate='none', PyTorch's default) or with the tanh approximation."""

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, input: Tensor) -> Tensor:
        return F.gelu(input, self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class Softplus(Module):
    """log(1 + e^(beta x)) / beta, linear above `threshold`."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, input: Tensor) -> Tensor:
        return F.softplus(input, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class Hardtanh(Module):
    """clip(x, min_val, max_val)."""

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        if min_val >= max_val:
            raise ValueError(f"Hardtanh: min_val ({min_val}) must be below max_val ({max_val})")
        self.min_val, self.max_val, self.inplace = min_val, max_val, inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.hardtanh(input, self.min_val, self.max_val)

    def extra_repr(self) -> str:
        return f"min_val={self.min_val}, max_val={self.max_val}"


class Softmax(Module):
    """softmax along `dim`: exp(x_i) / sum_j exp(x_j), probabilities that sum to 1 (PyTorch's
    `nn.Softmax`).

    Convention: as PyTorch, `dim=None` (the default) picks the deprecated implicit dimension (0 for
    0-D, 1-D and 3-D input, else 1) and warns; pass `dim` explicitly.

    Example:
        >>> Softmax(dim=1)(descentlab.zeros(2, 4)).data.tolist()
        [[0.25, 0.25, 0.25, 0.25], [0.25, 0.25, 0.25, 0.25]]
    """

    _name = "softmax"

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def _dim(self, x: Tensor) -> int:
        if self.dim is not None:
            return self.dim
        # stacklevel 5 points past implicit_softmax_dim, _dim, forward, Module.__call__: the caller
        return F.implicit_softmax_dim(self._name, x.ndim, stacklevel=5)

    def forward(self, input: Tensor) -> Tensor:
        return F.softmax(input, dim=self._dim(input))

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Softmax):
    """log_softmax along `dim`: x_i - logsumexp(x) (PyTorch's `nn.LogSoftmax`; `dim=None` as
    `Softmax`)."""

    _name = "log_softmax"

    def forward(self, input: Tensor) -> Tensor:
        return F.log_softmax(input, dim=self._dim(input))


class Softmin(Softmax):
    """softmax(-x) along `dim` (PyTorch's `nn.Softmin`; `dim=None` as `Softmax`)."""

    _name = "softmin"

    def forward(self, input: Tensor) -> Tensor:
        return F.softmin(input, dim=self._dim(input))
