"""Weight penalties to add to a loss: L1 (sparsity), L2 (weight decay), both (elastic net).

Keras convention: l2 = coeff * sum(w^2) with no factor 1/2, so its gradient is 2 * coeff * w;
l1 = coeff * sum(|w|) with gradient coeff * sign(w) (0 at 0). The penalties are differentiable
tensors built from ordinary ops: add them to the data loss before `backward()`.

`params` is a Module (all its parameters, biases included, as torch's weight_decay does), one
tensor, or an iterable of tensors; to penalise weights only, pass
`[p for name, p in model.named_parameters() if name.endswith("weight")]`.

Example:
    >>> from descentlab.nn import Linear, functional as F
    >>> model, x, y = Linear(4, 3), descentlab.randn(8, 4), np.zeros(8, dtype=np.int64)
    >>> loss = F.cross_entropy(model(x), y) + l2(model, 1e-4)
    >>> loss.backward()
    >>> model.weight.grad.shape
    (3, 4)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from descentlab.nn.module import Module
from descentlab.ops.math import abs as abs_
from descentlab.tensor import Tensor

__all__ = ["l1", "l2", "l1_l2", "Regularizer", "L1", "L2", "L1L2"]


def _tensors(params: Any) -> list[Tensor]:
    if isinstance(params, Module):
        out = list(params.parameters())
    elif isinstance(params, Tensor):
        out = [params]
    elif isinstance(params, Iterable):
        out = list(params)
    else:
        raise TypeError(
            f"regularizers: expected a Module, a Tensor or an iterable of tensors, got "
            f"{type(params).__name__}"
        )
    if not out:
        raise ValueError("regularizers: no parameters to penalise")
    bad = [type(p).__name__ for p in out if not isinstance(p, Tensor)]
    if bad:
        raise TypeError(f"regularizers: every parameter must be a Tensor, got {bad[0]}")
    return out


def _check(name: str, coeff: float) -> None:
    if coeff < 0:
        raise ValueError(f"{name}: the coefficient must be non-negative, got {coeff}")


def l1(params: Any, coeff: float = 0.01) -> Tensor:
    """coeff * sum_i |w_i| over every parameter (Keras `L1`): pushes weights to exactly zero."""
    _check("l1", coeff)
    total = None
    for p in _tensors(params):
        term = abs_(p).sum()
        total = term if total is None else total + term
    return total * coeff


def l2(params: Any, coeff: float = 0.01) -> Tensor:
    """coeff * sum_i w_i^2 over every parameter (Keras `L2`, no 1/2): shrinks weights smoothly."""
    _check("l2", coeff)
    total = None
    for p in _tensors(params):
        term = (p * p).sum()
        total = term if total is None else total + term
    return total * coeff


def l1_l2(params: Any, l1_coeff: float = 0.01, l2_coeff: float = 0.01) -> Tensor:
    """l1_coeff * sum |w| + l2_coeff * sum w^2 (Keras `L1L2`, the elastic net penalty)."""
    params = _tensors(params)
    return l1(params, l1_coeff) + l2(params, l2_coeff)


class Regularizer:
    """Base of the penalty objects, with Keras' config protocol: `get_config()` gives the
    coefficients ({'l2': 0.01}), `from_config(config)` is `cls(**config)`.

    Example:
        >>> L1L2(l1=0.1, l2=0.2).get_config()
        {'l1': 0.1, 'l2': 0.2}
    """

    def get_config(self) -> dict[str, float]:
        return {k: float(v) for k, v in vars(self).items()}

    @classmethod
    def from_config(cls, config: dict[str, float]) -> Regularizer:
        return cls(**config)


class L1(Regularizer):
    """Keras-style callable: `L1(0.01)(weights)` is `l1(weights, 0.01)`."""

    def __init__(self, l1: float = 0.01) -> None:
        _check("L1", l1)
        self.l1 = l1

    def __call__(self, params: Any) -> Tensor:
        return l1(params, self.l1)

    def __repr__(self) -> str:
        return f"L1(l1={self.l1})"


class L2(Regularizer):
    """Keras-style callable: `L2(0.01)(weights)` is `l2(weights, 0.01)`."""

    def __init__(self, l2: float = 0.01) -> None:
        _check("L2", l2)
        self.l2 = l2

    def __call__(self, params: Any) -> Tensor:
        return l2(params, self.l2)

    def __repr__(self) -> str:
        return f"L2(l2={self.l2})"


class L1L2(Regularizer):
    """Keras-style callable for both penalties (Keras defaults: both 0)."""

    def __init__(self, l1: float = 0.0, l2: float = 0.0) -> None:
        _check("L1L2", l1)
        _check("L1L2", l2)
        self.l1, self.l2 = l1, l2

    def __call__(self, params: Any) -> Tensor:
        return l1_l2(params, self.l1, self.l2)

    def __repr__(self) -> str:
        return f"L1L2(l1={self.l1}, l2={self.l2})"
