"""Dropout layers: Dropout, Dropout1d, Dropout2d, AlphaDropout (PyTorch semantics: active in
training mode, identity after `model.eval()`).

Each layer takes an optional `generator` (np.random.Generator) so its masks can be reproduced
independently of the global seed.

Example:
    >>> drop = Dropout(0.5, generator=np.random.default_rng(0))
    >>> sorted(set(drop(descentlab.ones(2, 4)).data.ravel().tolist()))  # training: zeros and 2s
    [0.0, 2.0]
    >>> drop.eval()(descentlab.ones(2, 4)).data.tolist()  # eval: the identity
    [[1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0]]
"""

from __future__ import annotations

import numpy as np

from descentlab.nn.module import Module
from descentlab.ops import dropout as D
from descentlab.tensor import Tensor

__all__ = ["Dropout", "Dropout1d", "Dropout2d", "AlphaDropout"]


class Dropout(Module):
    """Zero each element with probability p during training, scale the rest by 1 / (1 - p)."""

    _fn = staticmethod(D.dropout)

    def __init__(self, p: float = 0.5, inplace: bool = False,
                 generator: np.random.Generator | None = None) -> None:  # fmt: skip
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"{type(self).__name__}: p must be between 0 and 1, got {p}")
        self.p, self.inplace, self.generator = p, inplace, generator  # inplace: accepted, ignored

    def forward(self, input: Tensor) -> Tensor:
        return self._fn(input, self.p, self.training, self.generator)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"  # as PyTorch's repr


class Dropout1d(Dropout):
    """Zero whole channels of (N, C, L) input during training (PyTorch's `nn.Dropout1d`)."""

    _fn = staticmethod(D.dropout1d)


class Dropout2d(Dropout):
    """Zero whole channels of (N, C, H, W) input during training (PyTorch's `nn.Dropout2d`):
    better than element dropout after convolutions, whose neighbouring pixels are correlated."""

    _fn = staticmethod(D.dropout2d)


class AlphaDropout(Dropout):
    """Dropout that keeps SELU's zero mean and unit variance (PyTorch's `nn.AlphaDropout`)."""

    _fn = staticmethod(D.alpha_dropout)
