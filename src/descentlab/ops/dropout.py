"""Dropout: dropout, dropout2d (whole channels) and alpha_dropout (for SELU networks).

Inverted dropout as in PyTorch: during training each element is kept with probability 1 - p and
scaled by 1 / (1 - p), so the expected activation is unchanged and evaluation needs no rescaling;
outside training the input is returned as is. Every function takes an optional
`np.random.Generator`; without one the global generator (`descentlab.manual_seed`) is used, so the
same seed gives the same mask.

Example:
    >>> y = dropout(descentlab.ones(4, 5), p=0.5, training=True)   # entries are 0 or 2
"""

from __future__ import annotations

from typing import Any

import numpy as np

from descentlab.random import resolve
from descentlab.tensor import Function, Tensor, as_tensor

__all__ = ["dropout", "dropout1d", "dropout2d", "alpha_dropout"]

SELU_NEG_SATURATION = 1.7580993408473766  # scale * alpha of SELU: its value as x -> -inf, negated


class ScaleShift(Function):
    """x * mul + add with constant arrays `mul` and `add` (the noise of dropout)."""

    def forward(self, x, mul, add=None):
        self.mul = mul
        out = x * mul
        if add is not None:
            out += add
        return out

    def backward(self, g):
        return g * self.mul


def _check_p(name: str, p: float) -> None:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{name}: dropout probability p must be between 0 and 1, got {p}")


def _keep(shape: tuple[int, ...], p: float, generator: np.random.Generator | None) -> np.ndarray:
    """Boolean mask: True with probability 1 - p."""
    return resolve(generator).random(shape) >= p


def _masked(x: Any, p: float, mask_shape: tuple[int, ...], generator: Any) -> Tensor:
    x = as_tensor(x)
    if p == 1.0:
        mul = np.zeros(mask_shape, dtype=x.dtype)
    else:
        mul = _keep(mask_shape, p, generator).astype(x.dtype) * x.dtype.type(1 / (1 - p))
    return ScaleShift.apply(x, mul=mul)


def dropout(x: Any, p: float = 0.5, training: bool = True,
            generator: np.random.Generator | None = None) -> Tensor:  # fmt: skip
    """Zero each element with probability p and scale the rest by 1 / (1 - p) (PyTorch's
    `F.dropout`); identity when not training or p = 0.

    Example:
        >>> dropout(descentlab.ones(3), 0.5, training=False).data
        array([1., 1., 1.], dtype=float32)
    """
    _check_p("dropout", p)
    if not training or p == 0.0:
        return as_tensor(x)
    return _masked(x, p, tuple(x.shape), generator)


def dropout2d(x: Any, p: float = 0.5, training: bool = True,
              generator: np.random.Generator | None = None) -> Tensor:  # fmt: skip
    """Zero whole channels (N, C, H, W) -> one draw per (n, c), scaled by 1 / (1 - p)
    (PyTorch's `F.dropout2d`); a 3-D input is one unbatched (C, H, W) sample."""
    _check_p("dropout2d", p)
    if x.ndim not in (3, 4):
        raise ValueError(f"dropout2d: expected a 3-D or 4-D input, got shape {tuple(x.shape)}")
    if not training or p == 0.0:
        return as_tensor(x)
    return _masked(x, p, tuple(x.shape[:-2]) + (1, 1), generator)


def dropout1d(x: Any, p: float = 0.5, training: bool = True,
              generator: np.random.Generator | None = None) -> Tensor:  # fmt: skip
    """Zero whole channels of (N, C, L) input (PyTorch's `F.dropout1d`)."""
    _check_p("dropout1d", p)
    if x.ndim not in (2, 3):
        raise ValueError(f"dropout1d: expected a 2-D or 3-D input, got shape {tuple(x.shape)}")
    if not training or p == 0.0:
        return as_tensor(x)
    return _masked(x, p, tuple(x.shape[:-1]) + (1,), generator)


def alpha_dropout(x: Any, p: float = 0.5, training: bool = False,
                  generator: np.random.Generator | None = None) -> Tensor:  # fmt: skip
    """Dropout for SELU networks that keeps zero mean and unit variance (PyTorch's
    `F.alpha_dropout`, whose `training` default is False).

    Dropped units are set to SELU's negative saturation -alpha' (alpha' = 1.7581), then
    y = a * x' + b with a = ((1 - p)(1 + p alpha'^2))^(-1/2), b = a alpha' p restores the moments:
    y = a x + a alpha' p on kept units, a alpha' (p - 1) on dropped ones.
    """
    _check_p("alpha_dropout", p)
    x = as_tensor(x)
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return ScaleShift.apply(x, mul=np.zeros(x.shape, dtype=x.dtype))
    alpha = SELU_NEG_SATURATION
    a = 1 / np.sqrt((alpha * alpha * p + 1) * (1 - p))
    keep = _keep(tuple(x.shape), p, generator).astype(x.dtype)
    add = ((keep - 1) * (alpha * a) + alpha * a * p).astype(x.dtype)
    return ScaleShift.apply(x, mul=(keep * a).astype(x.dtype), add=add)
