"""Core activations and the softmax family: sigmoid, tanh, relu, softmax, log_softmax, softmin.

The rest of the activation catalogue (ReLU variants, GELU, ...) lives beside these as primitives
or compositions.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from descentlab.tensor import Function, Tensor

__all__ = ["sigmoid", "tanh", "relu", "softmax", "log_softmax", "softmin"]


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


class ReLU(Function):
    def forward(self, x):
        self.mask = x > 0
        return np.maximum(x, 0)

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
