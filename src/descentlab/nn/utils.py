"""Gradient clipping with PyTorch semantics: `clip_grad_norm_` and `clip_grad_value_`.

Against exploding gradients: rescale all gradients together when their joint norm exceeds a
threshold (direction kept), or clip each coordinate.

Example:
    >>> import numpy as np
    >>> from descentlab.nn import Parameter
    >>> w = Parameter(np.array([3.0, 4.0]))
    >>> w.grad = np.array([3.0, 4.0])
    >>> clip_grad_norm_([w], max_norm=1.0)  # returns the norm before clipping
    5.0
    >>> np.round(w.grad, 6)
    array([0.6, 0.8])
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from descentlab.tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_", "get_total_norm", "clip_grads_with_norm_"]


def _tensors(parameters: Tensor | Iterable[Tensor]) -> list[Tensor]:
    return [parameters] if isinstance(parameters, Tensor) else list(parameters)


def _vector_norm(a: np.ndarray, p: float) -> float:
    a = np.abs(a.reshape(-1))
    if a.size == 0:
        return 0.0
    if p == math.inf:
        return float(a.max())
    if p == -math.inf:
        return float(a.min())
    if p == 0:
        return float(np.count_nonzero(a))
    if p == 2:
        return float(np.sqrt(np.dot(a, a)))
    if p == 1:
        return float(a.sum())
    return float(np.sum(a**p) ** (1.0 / p))


def get_total_norm(tensors: Iterable[np.ndarray | None], norm_type: float = 2.0,
                   error_if_nonfinite: bool = False) -> float:  # fmt: skip
    """The p-norm of the per-array p-norms (= the norm of all entries together)."""
    p = float(norm_type)
    arrays = [np.asarray(t) for t in tensors if t is not None]
    if not arrays:
        return 0.0
    total = _vector_norm(np.array([_vector_norm(a, p) for a in arrays]), p)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(
            f"The total norm of order {p} for gradients from `parameters` is non-finite, so it "
            "cannot be clipped. To disable this error and scale the gradients by the non-finite "
            "norm anyway, set `error_if_nonfinite=False`"
        )
    return total


def clip_grads_with_norm_(parameters: Tensor | Iterable[Tensor], max_norm: float,
                          total_norm: float) -> None:  # fmt: skip
    """Scale every .grad in place by min(1, max_norm / (total_norm + 1e-6))."""
    coef = min(float(max_norm) / (float(total_norm) + 1e-6), 1.0)
    with np.errstate(invalid="ignore"):  # an infinite norm gives coef 0 and inf * 0 = NaN, as torch
        for p in _tensors(parameters):
            if p.grad is not None:
                p.grad *= coef


def clip_grad_norm_(parameters: Tensor | Iterable[Tensor], max_norm: float,
                    norm_type: float = 2.0, error_if_nonfinite: bool = False) -> float:  # fmt: skip
    """Rescale all gradients together so their joint norm is at most max_norm; return the norm.

        total = || (||g_1||_p, ..., ||g_n||_p) ||_p;   g_i <- g_i * min(1, max_norm / (total + 1e-6))

    Convention: PyTorch `torch.nn.utils.clip_grad_norm_` (the 1e-6 guards a zero norm; a NaN/inf
    norm raises only with `error_if_nonfinite=True`). Parameters without a gradient are ignored.
    """
    if float(max_norm) < 0:
        raise ValueError(f"invalid max_norm: {max_norm!r}; must be >= 0")
    params = _tensors(parameters)
    total = get_total_norm([p.grad for p in params], norm_type, error_if_nonfinite)
    clip_grads_with_norm_(params, max_norm, total)
    return total


def clip_grad_value_(parameters: Tensor | Iterable[Tensor], clip_value: float) -> None:
    """Clip every gradient coordinate into [-clip_value, clip_value] in place (PyTorch semantics)."""
    c = float(clip_value)
    if c < 0:
        raise ValueError(f"invalid clip_value: {clip_value!r}; must be >= 0")
    for p in _tensors(parameters):
        if p.grad is not None:
            np.clip(p.grad, -c, c, out=p.grad)
