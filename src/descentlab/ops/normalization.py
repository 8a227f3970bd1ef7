"""Normalization: batch_norm, layer_norm, group_norm, rms_norm (PyTorch semantics).

Batch norm is one fused Function with the closed-form backward (fused for speed: the composite
would build about ten full-size intermediates). Layer and group norm share `normalize` (the same
closed form without the affine part) and apply their affine parameters with ordinary ops.

    x_hat = (x - mean) / sqrt(var + eps)            (var the biased batch variance)
    y     = gamma * x_hat + beta
    dx    = (gamma / sqrt(var + eps)) * (g - mean(g) - x_hat * mean(g * x_hat))

Example:
    >>> x = descentlab.randn(8, 3, 4, 4)
    >>> running_mean, running_var = np.zeros(3, np.float32), np.ones(3, np.float32)
    >>> y = batch_norm(x, running_mean, running_var, training=True)
    >>> bool(np.allclose(y.data.mean(axis=(0, 2, 3)), 0, atol=1e-5)), bool(running_mean.any())
    (True, True)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from descentlab.tensor import Function, Tensor

__all__ = ["batch_norm", "layer_norm", "group_norm", "rms_norm", "normalize"]


def _stats_axes(ndim: int) -> tuple[int, ...]:
    return (0,) + tuple(range(2, ndim))


def _channel(a: np.ndarray, ndim: int) -> np.ndarray:
    """(C,) -> (1, C, 1, ...) to broadcast over an (N, C, ...) array."""
    return a.reshape((1, -1) + (1,) * (ndim - 2))


class BatchNorm(Function):
    """Per-channel normalisation over (N, *spatial); batch statistics in training, running ones in
    eval. Running statistics (NumPy buffers) are updated in place with the unbiased variance."""

    def forward(self, x, weight=None, bias=None, *, running_mean=None, running_var=None,
                training=True, momentum=0.1, eps=1e-5, has_weight=True):  # fmt: skip
        axes = _stats_axes(x.ndim)
        if not has_weight:  # bias alone was passed
            weight, bias = None, weight
        if training:
            n = x.size // x.shape[1]
            mean = x.mean(axis=axes)
            xc = x - _channel(mean, x.ndim)
            var = np.mean(xc * xc, axis=axes)
            invstd = 1 / np.sqrt(var + eps)
            if running_mean is not None:
                running_mean *= 1 - momentum
                running_mean += momentum * mean.astype(running_mean.dtype, copy=False)
            if running_var is not None:
                running_var *= 1 - momentum
                running_var += (momentum * n / (n - 1)) * var.astype(running_var.dtype, copy=False)
        else:
            xc = x - _channel(running_mean.astype(x.dtype, copy=False), x.ndim)
            invstd = (1 / np.sqrt(running_var + eps)).astype(x.dtype, copy=False)
        self.training, self.axes = training, axes
        self.xhat = xc * _channel(invstd, x.ndim)
        self.invstd, self.weight, self.has_bias = invstd, weight, bias is not None
        out = self.xhat if weight is None else self.xhat * _channel(weight, x.ndim)
        if bias is not None:
            out = out + _channel(bias, x.ndim)
        return out

    def backward(self, g):
        nd, axes, xhat = g.ndim, self.axes, self.xhat
        scale = self.invstd if self.weight is None else self.invstd * self.weight
        gx = None
        if self.needs_input_grad[0]:
            if self.training:
                mean_g = g.mean(axis=axes, keepdims=True)
                mean_gx = (g * xhat).mean(axis=axes, keepdims=True)
                gx = _channel(scale, nd) * (g - mean_g - xhat * mean_gx)
            else:
                gx = g * _channel(scale, nd)
        grads = [gx]
        if self.weight is not None:
            grads.append((g * xhat).sum(axis=axes) if self.needs_input_grad[1] else None)
        if self.has_bias:
            grads.append(g.sum(axis=axes) if self.needs_input_grad[-1] else None)
        return tuple(grads)


class Normalize(Function):
    """(x - mean) / sqrt(var + eps) over `axes` (biased variance), with the closed-form backward."""

    def forward(self, x, axes=(-1,), eps=1e-5):
        self.axes = axes
        xc = x - x.mean(axis=axes, keepdims=True)
        self.invstd = 1 / np.sqrt(np.mean(xc * xc, axis=axes, keepdims=True) + eps)
        self.xhat = xc * self.invstd
        return self.xhat

    def backward(self, g):
        xhat, axes = self.xhat, self.axes
        return self.invstd * (
            g - g.mean(axis=axes, keepdims=True) - xhat * (g * xhat).mean(axis=axes, keepdims=True)
        )


def normalize(x: Any, axes: Sequence[int], eps: float = 1e-5) -> Tensor:
    """Zero mean, unit (biased) variance over `axes`: (x - mean) / sqrt(var + eps)."""
    return Normalize.apply(x, axes=tuple(axes), eps=eps)


def batch_norm(x: Any, running_mean: np.ndarray | None, running_var: np.ndarray | None,
               weight: Any = None, bias: Any = None, training: bool = False,
               momentum: float = 0.1, eps: float = 1e-5) -> Tensor:  # fmt: skip
    """Batch normalization over dimension 1 of (N, C, ...) input (PyTorch's `F.batch_norm`).

    Training: normalise with the batch mean and biased variance, and update the running statistics
    in place: r = (1 - momentum) r + momentum * stat, with the unbiased variance (n / (n-1)) for
    `running_var`, as PyTorch. Eval: normalise with the running statistics.

    Example:
        >>> rm, rv = np.zeros(3, np.float32), np.ones(3, np.float32)
        >>> batch_norm(descentlab.randn(8, 3, 4, 4), rm, rv, training=True).shape
        (8, 3, 4, 4)
    """
    if x.ndim < 2:
        raise ValueError(
            f"batch_norm: expected input of shape (N, C, ...), got shape {tuple(x.shape)}"
        )
    if training:
        per_channel = x.size // x.shape[1] if x.shape[1] else 0
        if per_channel <= 1:
            raise ValueError(
                f"batch_norm: expected more than 1 value per channel when training, got input of "
                f"shape {tuple(x.shape)}; use a batch of at least 2 or call model.eval()"
            )
    elif running_mean is None or running_var is None:
        raise ValueError("batch_norm: eval mode needs running_mean and running_var")
    for name, a in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):  # fmt: skip
        if a is not None and tuple(a.shape) != (x.shape[1],):
            raise ValueError(
                f"batch_norm: {name} has shape {tuple(a.shape)} but the input of shape "
                f"{tuple(x.shape)} has {x.shape[1]} channels"
            )
    args = [x] + [a for a in (weight, bias) if a is not None]
    return BatchNorm.apply(*args, running_mean=running_mean, running_var=running_var,
                           training=training, momentum=momentum, eps=eps,
                           has_weight=weight is not None)  # fmt: skip


def _normalized_axes(name: str, x: Any, normalized_shape: int | Sequence[int]) -> tuple[int, ...]:
    shape = (
        (normalized_shape,)
        if isinstance(normalized_shape, (int, np.integer))
        else tuple(normalized_shape)
    )
    if tuple(x.shape[x.ndim - len(shape) :]) != shape or len(shape) > x.ndim:
        raise ValueError(
            f"{name}: normalized_shape {shape} must equal the last dimensions of the input, got "
            f"input of shape {tuple(x.shape)}"
        )
    return tuple(range(x.ndim - len(shape), x.ndim))


def layer_norm(x: Any, normalized_shape: int | Sequence[int], weight: Any = None,
               bias: Any = None, eps: float = 1e-5) -> Tensor:  # fmt: skip
    """Normalise each sample over its last dimensions, then scale and shift elementwise
    (PyTorch's `F.layer_norm`): y = (x - mean) / sqrt(var + eps) * weight + bias.

    Example:
        >>> layer_norm(descentlab.randn(4, 10), 10).shape
        (4, 10)
    """
    y = normalize(x, _normalized_axes("layer_norm", x, normalized_shape), eps)
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y


def group_norm(x: Any, num_groups: int, weight: Any = None, bias: Any = None,
               eps: float = 1e-5) -> Tensor:  # fmt: skip
    """Normalise each sample over groups of channels (PyTorch's `F.group_norm`), then a per-channel
    affine. num_groups = 1 is layer norm over (C, H, W); num_groups = C is instance norm.

    Example:
        >>> group_norm(descentlab.randn(2, 6, 4, 4), 3).shape
        (2, 6, 4, 4)
    """
    from descentlab.ops.shape import reshape

    if x.ndim < 2 or num_groups <= 0 or x.shape[1] % num_groups:
        raise ValueError(
            f"group_norm: num_groups={num_groups} must divide the channels (dimension 1) of the "
            f"input of shape {tuple(x.shape)}"
        )
    n, c = x.shape[:2]
    y = reshape(normalize(reshape(x, n, num_groups, -1), (2,), eps), x.shape)
    bshape = (1, c) + (1,) * (x.ndim - 2)
    if weight is not None:
        y = y * reshape(weight, bshape)
    if bias is not None:
        y = y + reshape(bias, bshape)
    return y


def rms_norm(x: Any, normalized_shape: int | Sequence[int], weight: Any = None,
             eps: float | None = None) -> Tensor:  # fmt: skip
    """Root-mean-square normalisation (PyTorch's `F.rms_norm`): y = x / sqrt(mean(x^2) + eps) * weight,
    the mean over the last dimensions; eps defaults to the dtype's machine epsilon, as PyTorch.

    Example:
        >>> rms_norm(descentlab.randn(4, 10), 10).shape
        (4, 10)
    """
    from descentlab.ops.math import sqrt
    from descentlab.ops.reduce import mean

    axes = _normalized_axes("rms_norm", x, normalized_shape)
    eps = float(np.finfo(x.dtype).eps) if eps is None else eps
    y = x / sqrt(mean(x * x, axis=axes, keepdims=True) + eps)
    return y if weight is None else y * weight
