"""Reductions: sum, mean, var, std, max, min, prod, logsumexp, argmax.

`axis` takes an int, a tuple of ints or None (all axes); `keepdims` keeps reduced axes as size 1.
`var`/`std` use PyTorch's default `correction=1` (the unbiased estimate); pass 0 for the population
variance as NumPy does.
"""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from descentlab.tensor import Function, Tensor

__all__ = ["sum", "mean", "var", "std", "max", "min", "amax", "amin", "prod", "logsumexp", "argmax",
           "argmin"]  # fmt: skip

Axis = int | tuple[int, ...] | None


def normalize_axis(axis: Axis, ndim: int) -> tuple[int, ...]:
    """Axes as a sorted tuple of non-negative ints, with a clear error for out-of-range axes."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    # builtins.max: this module defines its own `max` (the differentiable reduction).
    bound = builtins.max(ndim, 1)
    out = []
    for a in axes:
        if not -bound <= a < bound:
            raise IndexError(
                f"axis {a} is out of range for a tensor with {ndim} dimensions "
                f"(valid: {-ndim} to {ndim - 1})"
            )
        out.append(a % bound)
    if ndim == 0:
        return ()  # a 0-d tensor accepts axis 0 or -1 (as PyTorch) and has nothing to reduce
    return tuple(sorted(set(out)))


def expand_reduced(g: np.ndarray, shape: tuple[int, ...], axes: tuple[int, ...], keepdims: bool):
    """Reshape a reduced gradient so it broadcasts back over the input's shape."""
    if not keepdims and shape:
        g = np.expand_dims(g, axes)
    return g


class Sum(Function):
    def forward(self, x, axis=None, keepdims=False):
        self.shape, self.keepdims = x.shape, keepdims
        self.axes = normalize_axis(axis, x.ndim)
        return np.sum(x, axis=self.axes, keepdims=keepdims)

    def backward(self, g):
        return np.broadcast_to(expand_reduced(g, self.shape, self.axes, self.keepdims), self.shape)


class Mean(Function):
    def forward(self, x, axis=None, keepdims=False):
        self.shape, self.keepdims = x.shape, keepdims
        self.axes = normalize_axis(axis, x.ndim)
        self.n = int(np.prod([x.shape[a] for a in self.axes])) if x.ndim else 1
        return np.mean(x, axis=self.axes, keepdims=keepdims)

    def backward(self, g):
        g = expand_reduced(g, self.shape, self.axes, self.keepdims) / self.n
        return np.broadcast_to(g, self.shape)


class Var(Function):
    """Variance with Bessel's `correction`: sum((x - mean)^2) / (n - correction)."""

    def forward(self, x, axis=None, keepdims=False, correction=1):
        self.shape, self.keepdims = x.shape, keepdims
        self.axes = normalize_axis(axis, x.ndim)
        n = int(np.prod([x.shape[a] for a in self.axes])) if x.ndim else 1
        self.denom = builtins.max(n - correction, 0)
        self.centered = x - x.mean(axis=self.axes, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.sum(self.centered**2, axis=self.axes, keepdims=keepdims) / self.denom
        return out.astype(x.dtype, copy=False)

    def backward(self, g):
        g = expand_reduced(g, self.shape, self.axes, self.keepdims)
        with np.errstate(divide="ignore", invalid="ignore"):
            return (g * (2 / self.denom) * self.centered).astype(g.dtype, copy=False)


class _Extreme(Function):
    """max/min over axes; ties share the gradient evenly (PyTorch's amax/amin convention)."""

    reducer = staticmethod(np.max)

    def forward(self, x, axis=None, keepdims=False):
        if x.size == 0:
            raise ValueError(f"{self.reducer.__name__}() of an empty tensor has no value")
        self.shape, self.keepdims = x.shape, keepdims
        self.axes = normalize_axis(axis, x.ndim)
        kept = self.reducer(x, axis=self.axes, keepdims=True)
        self.mask = x == kept
        return kept if keepdims else kept.reshape([n for i, n in enumerate(x.shape)
                                                    if i not in self.axes])  # fmt: skip

    def backward(self, g):
        g = expand_reduced(g, self.shape, self.axes, self.keepdims)
        count = self.mask.sum(axis=self.axes, keepdims=True)
        return (g * self.mask / count).astype(g.dtype, copy=False)


class Max(_Extreme):
    reducer = staticmethod(np.max)


class Min(_Extreme):
    reducer = staticmethod(np.min)


class Prod(Function):
    """Product; backward uses exclusive cumulative products so zeros are handled exactly."""

    def forward(self, x, axis=None, keepdims=False):
        self.x, self.keepdims = x, keepdims
        self.axes = normalize_axis(axis, x.ndim)
        return np.prod(x, axis=self.axes, keepdims=keepdims)

    def backward(self, g):
        x, axes = self.x, self.axes
        rest = [i for i in range(x.ndim) if i not in axes]
        moved = np.transpose(x, rest + list(axes))
        flat = moved.reshape(moved.shape[: len(rest)] + (-1,))
        ones = np.ones(flat.shape[:-1] + (1,), dtype=x.dtype)
        left = np.cumprod(np.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)
        right = np.cumprod(np.concatenate([ones, flat[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
        dprod = (left * right).reshape(moved.shape)
        dprod = np.transpose(dprod, np.argsort(rest + list(axes)))
        return expand_reduced(g, x.shape, axes, self.keepdims) * dprod


class LogSumExp(Function):
    """log(sum(exp(x))) computed as m + log(sum(exp(x - m))) with m the max: never overflows."""

    def forward(self, x, axis=None, keepdims=False):
        self.shape, self.keepdims = x.shape, keepdims
        self.axes = normalize_axis(axis, x.ndim)
        m = np.max(x, axis=self.axes, keepdims=True)
        m = np.where(np.isfinite(m), m, 0)
        e = np.exp(x - m)
        s = e.sum(axis=self.axes, keepdims=True)
        self.softmax = e / s
        out = np.log(s) + m
        return out if keepdims else np.squeeze(out, axis=self.axes)

    def backward(self, g):
        return expand_reduced(g, self.shape, self.axes, self.keepdims) * self.softmax


def _axis(axis: Axis, dim: Axis) -> Axis:
    """Accept PyTorch's `dim` as an alias of `axis`."""
    return dim if dim is not None else axis


def _keep(keepdims: bool, keepdim: bool | None) -> bool:
    return keepdim if keepdim is not None else keepdims


def sum(x: Any, axis: Axis = None, keepdims: bool = False, *, dim: Axis = None,  # noqa: A001
        keepdim: bool | None = None) -> Tensor:  # fmt: skip
    """Sum over `axis` (all by default)."""
    return Sum.apply(x, axis=_axis(axis, dim), keepdims=_keep(keepdims, keepdim))


def mean(x: Any, axis: Axis = None, keepdims: bool = False, *, dim: Axis = None,
         keepdim: bool | None = None) -> Tensor:  # fmt: skip
    """Arithmetic mean over `axis`."""
    return Mean.apply(x, axis=_axis(axis, dim), keepdims=_keep(keepdims, keepdim))


def var(x: Any, axis: Axis = None, keepdims: bool = False, correction: int = 1, *,
        dim: Axis = None, keepdim: bool | None = None, unbiased: bool | None = None) -> Tensor:  # fmt: skip
    """Variance sum((x - mean)^2) / (n - correction); correction=1 (unbiased) as in PyTorch."""
    if unbiased is not None:
        correction = int(unbiased)
    return Var.apply(x, axis=_axis(axis, dim), keepdims=_keep(keepdims, keepdim),
                     correction=correction)  # fmt: skip


def std(x: Any, axis: Axis = None, keepdims: bool = False, correction: int = 1, *,
        dim: Axis = None, keepdim: bool | None = None, unbiased: bool | None = None) -> Tensor:  # fmt: skip
    """Standard deviation sqrt(var(x)); correction=1 as in PyTorch."""
    from descentlab.ops.math import sqrt

    return sqrt(var(x, axis, keepdims, correction, dim=dim, keepdim=keepdim, unbiased=unbiased))


def max(x: Any, axis: Axis = None, keepdims: bool = False, *, dim: Axis = None,  # noqa: A001
        keepdim: bool | None = None) -> Tensor:  # fmt: skip
    """Largest value over `axis` (values only, like `torch.amax`)."""
    return Max.apply(x, axis=_axis(axis, dim), keepdims=_keep(keepdims, keepdim))


def min(x: Any, axis: Axis = None, keepdims: bool = False, *, dim: Axis = None,  # noqa: A001
        keepdim: bool | None = None) -> Tensor:  # fmt: skip
    """Smallest value over `axis` (values only, like `torch.amin`)."""
    return Min.apply(x, axis=_axis(axis, dim), keepdims=_keep(keepdims, keepdim))


amax, amin = max, min


def prod(x: Any, axis: Axis = None, keepdims: bool = False, *, dim: Axis = None,
         keepdim: bool | None = None) -> Tensor:  # fmt: skip
    """Product over `axis`."""
    return Prod.apply(x, axis=_axis(axis, dim), keepdims=_keep(keepdims, keepdim))


def logsumexp(x: Any, axis: Axis = -1, keepdims: bool = False, *, dim: Axis = None,
              keepdim: bool | None = None) -> Tensor:  # fmt: skip
    """Stable log(sum(exp(x))) over `axis` (last by default)."""
    return LogSumExp.apply(x, axis=_axis(axis, dim), keepdims=_keep(keepdims, keepdim))


def argmax(x: Any, axis: int | None = None, keepdims: bool = False, *, dim: int | None = None,
           keepdim: bool | None = None) -> Tensor:  # fmt: skip
    """Index of the largest value (int64, not differentiable)."""
    data = x.data if isinstance(x, Tensor) else np.asarray(x)
    return Tensor(np.argmax(data, axis=_axis(axis, dim), keepdims=_keep(keepdims, keepdim)))


def argmin(x: Any, axis: int | None = None, keepdims: bool = False, *, dim: int | None = None,
           keepdim: bool | None = None) -> Tensor:  # fmt: skip
    """Index of the smallest value (int64, not differentiable)."""
    data = x.data if isinstance(x, Tensor) else np.asarray(x)
    return Tensor(np.argmin(data, axis=_axis(axis, dim), keepdims=_keep(keepdims, keepdim)))
