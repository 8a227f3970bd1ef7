"""Activations: sigmoid, tanh, the ReLU family, smooth ReLUs (ELU, GELU, SiLU, Mish, ...), hard
approximations and the softmax family.

Each one is a small primitive `Function` whose backward follows PyTorch's convention at kinks
(e.g. relu'(0) = 0, leaky_relu'(0) = slope, hardtanh'(min) = hardtanh'(max) = 0), so gradients match
`torch.nn.functional` to the last digit, not just almost everywhere.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from descentlab.tensor import Function, Tensor, sum_to

__all__ = [
    "sigmoid", "tanh", "relu", "softmax", "log_softmax", "softmin", "leaky_relu", "prelu", "relu6",
    "elu", "selu", "celu", "gelu", "silu", "swish", "mish", "softplus", "softsign", "hardsigmoid",
    "hardtanh", "hardswish", "logsigmoid",
]  # fmt: skip

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def stable_sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-x)) without overflow for large |x|."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


class Sigmoid(Function):
    def forward(self, x):
        self.out = stable_sigmoid(x)
        return self.out

    def backward(self, g):
        return g * self.out * (1 - self.out)


class Tanh(Function):
    def forward(self, x):
        self.out = np.tanh(x)
        return self.out

    def backward(self, g):
        return g * (1 - self.out * self.out)


_ROW = 1024


def positive_part(x: np.ndarray) -> np.ndarray:
    """max(x, 0) elementwise, in x's memory layout.

    Why not just `np.maximum(x, 0)`: against a broadcast scalar NumPy misses its SIMD loop and is
    about 2x slower than against a zero array. So when x is dense in some axis order (e.g. a
    transposed conv output), its memory is walked as rows of `_ROW` elements against one zero row.
    """
    order = np.argsort(x.strides, kind="stable")[::-1]  # axes from outermost to innermost in memory
    dense = x.transpose(order)
    if x.size < _ROW or not dense.flags.c_contiguous:
        return np.maximum(x, 0)
    out = np.empty(dense.shape, dtype=x.dtype)
    flat, out_flat = dense.reshape(-1), out.reshape(-1)
    full = x.size - x.size % _ROW
    zeros = np.zeros(_ROW, dtype=x.dtype)
    np.maximum(flat[:full].reshape(-1, _ROW), zeros, out=out_flat[:full].reshape(-1, _ROW))
    np.maximum(flat[full:], 0, out=out_flat[full:])
    return out.transpose(np.argsort(order))


class ReLU(Function):
    def forward(self, x):
        out = positive_part(x)
        self.mask = out > 0  # (as x > 0, but reads the dense output: x may be a strided view)
        return out

    def backward(self, g):
        return g * self.mask


class Softmax(Function):
    """softmax(x)_i = exp(x_i - max) / sum_j exp(x_j - max); backward s * (g - sum(g * s))."""

    def forward(self, x, axis=-1):
        self.axis = axis
        e = np.exp(x - x.max(axis=axis, keepdims=True))
        self.out = e / e.sum(axis=axis, keepdims=True)
        return self.out

    def backward(self, g):
        s = self.out
        return s * (g - (g * s).sum(axis=self.axis, keepdims=True))


class LogSoftmax(Function):
    """log_softmax(x) = x - logsumexp(x); backward g - softmax * sum(g)."""

    def forward(self, x, axis=-1):
        self.axis = axis
        shifted = x - x.max(axis=axis, keepdims=True)
        out = shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
        self.out = out
        return out

    def backward(self, g):
        return g - np.exp(self.out) * g.sum(axis=self.axis, keepdims=True)


def sigmoid(x: Any) -> Tensor:
    """1 / (1 + e^-x): squashes to (0, 1); saturates for large |x| (vanishing gradients)."""
    return Sigmoid.apply(x)


def tanh(x: Any) -> Tensor:
    """Hyperbolic tangent: squashes to (-1, 1); zero-centred but saturates like sigmoid."""
    return Tanh.apply(x)


def relu(x: Any) -> Tensor:
    """max(x, 0); gradient 1 for x > 0 and 0 otherwise (0 at 0, as PyTorch)."""
    return ReLU.apply(x)


def _dim(axis: int | None, dim: int | None) -> int:
    return dim if dim is not None else (-1 if axis is None else axis)


def implicit_softmax_dim(name: str, ndim: int, stacklevel: int = 3) -> int:
    """PyTorch's deprecated implicit `dim` of softmax, log_softmax and softmin when dim=None: 0 for
    0-D, 1-D and 3-D input, else 1 (for the layout (N, C, ...) but (C, H, W)); warns as PyTorch does.

    Example:
        >>> import warnings
        >>> with warnings.catch_warnings():
        ...     warnings.simplefilter("ignore")
        ...     implicit_softmax_dim("softmax", 3), implicit_softmax_dim("softmax", 4)
        (0, 1)
    """
    import warnings

    warnings.warn(
        f"Implicit dimension choice for {name} has been deprecated. Change the call to include "
        "dim=X as an argument.",
        UserWarning,
        stacklevel=stacklevel,
    )
    return 0 if ndim in (0, 1, 3) else 1


def softmax(x: Any, axis: int | None = None, *, dim: int | None = None) -> Tensor:
    """exp(x_i) / sum_j exp(x_j) along `axis` (last by default): probabilities that sum to 1."""
    return Softmax.apply(x, axis=_dim(axis, dim))


def log_softmax(x: Any, axis: int | None = None, *, dim: int | None = None) -> Tensor:
    """log(softmax(x)) computed stably as x - logsumexp(x)."""
    return LogSoftmax.apply(x, axis=_dim(axis, dim))


def softmin(x: Any, axis: int | None = None, *, dim: int | None = None) -> Tensor:
    """softmax(-x)."""
    from descentlab.ops.math import neg

    return softmax(neg(x), axis, dim=dim)


# ------------------------------------------------------------------ the ReLU family
class LeakyReLU(Function):
    def forward(self, x, slope=0.01):
        self.pos, self.slope = x > 0, slope
        return np.where(self.pos, x, x * slope)

    def backward(self, g):
        return np.where(self.pos, g, g * self.slope)


class PReLU(Function):
    """x if x > 0 else w * x, with one learned slope per channel (dimension 1) or one shared."""

    def forward(self, x, w):
        self.w_orig = w.shape
        if x.ndim >= 2 and w.size > 1:
            if w.size != x.shape[1]:
                raise ValueError(
                    f"prelu: weight has {w.size} slopes but the input of shape {x.shape} has "
                    f"{x.shape[1]} channels (dimension 1); use 1 or {x.shape[1]} parameters"
                )
            w = w.reshape((1, -1) + (1,) * (x.ndim - 2))
        self.x, self.w, self.w_shape = x, w, w.shape
        self.pos = x > 0
        return np.where(self.pos, x, w * x)

    def backward(self, g):
        gx = np.where(self.pos, g, self.w * g) if self.needs_input_grad[0] else None
        gw = None
        if self.needs_input_grad[1]:
            gw = sum_to(np.where(self.pos, 0, self.x * g), self.w_shape).reshape(self.w_orig)
        return gx, gw


class Hardtanh(Function):
    """clip(x, lo, hi); gradient 1 strictly inside (lo, hi) and 0 at the bounds (PyTorch)."""

    def forward(self, x, lo=-1.0, hi=1.0):
        self.mask = (x > lo) & (x < hi)
        return np.clip(x, lo, hi).astype(x.dtype, copy=False)

    def backward(self, g):
        return g * self.mask


class ELU(Function):
    """x if x > 0 else alpha (e^x - 1); times `scale` (SELU uses scale and alpha constants)."""

    def forward(self, x, alpha=1.0, scale=1.0):
        self.pos, self.alpha, self.scale = x > 0, alpha, scale
        self.neg_exp = np.exp(np.minimum(x, 0))  # exp(x) only where it is used; no overflow
        return scale * np.where(self.pos, x, alpha * (self.neg_exp - 1))

    def backward(self, g):
        return g * (self.scale * np.where(self.pos, 1, self.alpha * self.neg_exp))


class CELU(Function):
    """max(0, x) + min(0, alpha (e^(x / alpha) - 1))."""

    def forward(self, x, alpha=1.0):
        self.pos = x > 0
        self.e = np.exp(np.minimum(x, 0) / alpha)
        return np.where(self.pos, x, alpha * (self.e - 1))

    def backward(self, g):
        return np.where(self.pos, g, g * self.e)


# ------------------------------------------------------------------ smooth ReLUs
_erf = np.frompyfunc(math.erf, 1, 1)


def erf(x: np.ndarray) -> np.ndarray:
    """Elementwise error function, exact to the last bit (math.erf; NumPy has no ufunc for it)."""
    return _erf(x).astype(x.dtype)


class GELU(Function):
    """x Phi(x); exact with erf, or PyTorch's tanh approximation (approximate='tanh')."""

    def forward(self, x, approximate="none"):
        self.x, self.approximate = x, approximate
        if approximate == "tanh":
            k = math.sqrt(2 / math.pi)
            self.t = np.tanh(k * (x + 0.044715 * x**3))
            return 0.5 * x * (1 + self.t)
        self.cdf = 0.5 * (1 + erf(x * (1 / math.sqrt(2))))
        return x * self.cdf

    def backward(self, g):
        x = self.x
        if self.approximate == "tanh":
            k = math.sqrt(2 / math.pi)
            dt = (1 - self.t**2) * k * (1 + 3 * 0.044715 * x**2)
            return g * (0.5 * (1 + self.t) + 0.5 * x * dt)
        pdf = np.exp(-0.5 * x * x) * (1 / math.sqrt(2 * math.pi))
        return g * (self.cdf + x * pdf)


class SiLU(Function):
    """x sigmoid(x) (Swish with beta = 1)."""

    def forward(self, x):
        self.x, self.s = x, stable_sigmoid(x)
        return x * self.s

    def backward(self, g):
        s = self.s
        return g * (s * (1 + self.x * (1 - s)))


def _softplus(x: np.ndarray) -> np.ndarray:
    """log(1 + e^x) without overflow."""
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


class Mish(Function):
    """x tanh(softplus(x))."""

    def forward(self, x):
        self.x = x
        self.t = np.tanh(_softplus(x))
        return x * self.t

    def backward(self, g):
        t = self.t
        return g * (t + self.x * stable_sigmoid(self.x) * (1 - t * t))


class Softplus(Function):
    """log(1 + e^(beta x)) / beta, and x itself where beta x > threshold (PyTorch)."""

    def forward(self, x, beta=1.0, threshold=20.0):
        self.bx = x * beta
        self.linear = self.bx > threshold
        return np.where(self.linear, x, _softplus(self.bx) / beta)

    def backward(self, g):
        return np.where(self.linear, g, g * stable_sigmoid(self.bx))


class Softsign(Function):
    """x / (1 + |x|)."""

    def forward(self, x):
        self.d = 1 + np.abs(x)
        return x / self.d

    def backward(self, g):
        return g / (self.d * self.d)


class Hardsigmoid(Function):
    """relu6(x + 3) / 6; gradient 1/6 strictly inside (-3, 3)."""

    def forward(self, x):
        self.mask = (x > -3) & (x < 3)
        return (np.clip(x, -3, 3) + 3) / 6

    def backward(self, g):
        return g * self.mask / 6


class Hardswish(Function):
    """x relu6(x + 3) / 6; gradient 0 up to -3, x/3 + 1/2 on (-3, 3), 1 from 3 on (PyTorch)."""

    def forward(self, x):
        self.x = x
        return x * ((np.clip(x, -3, 3) + 3) / 6)

    def backward(self, g):
        x = self.x
        return g * np.where(x <= -3, 0, np.where(x < 3, x / 3 + 0.5, 1))


class LogSigmoid(Function):
    """log(sigmoid(x)) = min(x, 0) - log(1 + e^-|x|), stable for large |x|."""

    def forward(self, x):
        self.x = x
        return np.minimum(x, 0) - np.log1p(np.exp(-np.abs(x)))

    def backward(self, g):
        return g * stable_sigmoid(-self.x)


def leaky_relu(x: Any, negative_slope: float = 0.01) -> Tensor:
    """x if x > 0 else negative_slope * x (PyTorch default slope 0.01; Keras uses 0.2).

    Keeps a small gradient for negative inputs so units cannot die.

    Example:
        >>> leaky_relu(descentlab.tensor([-2.0, 3.0])).data
        array([-0.02,  3.  ], dtype=float32)
    """
    return LeakyReLU.apply(x, slope=negative_slope)


def prelu(x: Any, weight: Any) -> Tensor:
    """Parametric ReLU: x if x > 0 else a * x, `weight` a learned slope per channel (dim 1) or one."""
    return PReLU.apply(x, weight)


def hardtanh(x: Any, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """clip(x, min_val, max_val); gradient 1 strictly between the bounds, else 0 (PyTorch)."""
    if min_val >= max_val:
        raise ValueError(f"hardtanh: min_val ({min_val}) must be below max_val ({max_val})")
    return Hardtanh.apply(x, lo=min_val, hi=max_val)


def relu6(x: Any) -> Tensor:
    """min(max(x, 0), 6) = hardtanh(x, 0, 6) (MobileNet's activation)."""
    return Hardtanh.apply(x, lo=0.0, hi=6.0)


def elu(x: Any, alpha: float = 1.0) -> Tensor:
    """x if x > 0 else alpha (e^x - 1): smooth, negative outputs push mean activations to 0."""
    return ELU.apply(x, alpha=alpha)


def selu(x: Any) -> Tensor:
    """scale * elu(x, alpha), alpha = 1.6733, scale = 1.0507: self-normalising (Klambauer 2017)."""
    return ELU.apply(x, alpha=SELU_ALPHA, scale=SELU_SCALE)


def celu(x: Any, alpha: float = 1.0) -> Tensor:
    """max(0, x) + min(0, alpha (e^(x / alpha) - 1)): ELU that is C1 for every alpha."""
    if alpha == 0:
        raise ValueError("celu: alpha must be non-zero")
    return CELU.apply(x, alpha=alpha)


def gelu(x: Any, approximate: str = "none") -> Tensor:
    """x Phi(x), Phi the standard normal CDF (exact, with erf), or with approximate='tanh':
    0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). PyTorch's names and default ('none')."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return GELU.apply(x, approximate=approximate)


def silu(x: Any) -> Tensor:
    """x sigmoid(x) (SiLU, also called Swish)."""
    return SiLU.apply(x)


swish = silu


def mish(x: Any) -> Tensor:
    """x tanh(softplus(x)) (Misra 2019)."""
    return Mish.apply(x)


def softplus(x: Any, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + e^(beta x)) / beta, a smooth ReLU; linear where beta x > threshold (PyTorch)."""
    return Softplus.apply(x, beta=beta, threshold=threshold)


def softsign(x: Any) -> Tensor:
    """x / (1 + |x|)."""
    return Softsign.apply(x)


def hardsigmoid(x: Any) -> Tensor:
    """relu6(x + 3) / 6, a piecewise-linear sigmoid (PyTorch's definition)."""
    return Hardsigmoid.apply(x)


def hardswish(x: Any) -> Tensor:
    """x relu6(x + 3) / 6 (MobileNetV3)."""
    return Hardswish.apply(x)


def logsigmoid(x: Any) -> Tensor:
    """log(1 / (1 + e^-x)), computed stably."""
    return LogSigmoid.apply(x)
