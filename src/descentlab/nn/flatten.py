"""Flatten and Unflatten layers (PyTorch's `nn.Flatten` / `nn.Unflatten`).

Example:
    >>> Flatten()(descentlab.randn(64, 64, 7, 7)).shape
    (64, 3136)
    >>> Unflatten(1, (1, 28, 28))(descentlab.randn(8, 784)).shape
    (8, 1, 28, 28)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from descentlab.nn.module import Module
from descentlab.ops.shape import flatten, reshape
from descentlab.tensor import Tensor

__all__ = ["Flatten", "Unflatten"]


class Flatten(Module):
    """Merge dimensions start_dim..end_dim into one (default: all but the batch dimension)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x: Tensor) -> Tensor:
        return flatten(x, self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split dimension `dim` into `unflattened_size` (one entry may be -1)."""

    def __init__(self, dim: int, unflattened_size: Sequence[int]) -> None:
        super().__init__()
        self.dim, self.unflattened_size = dim, tuple(unflattened_size)

    def forward(self, x: Tensor) -> Tensor:
        dim = self.dim % x.ndim
        sizes = self.unflattened_size
        known = int(np.prod([s for s in sizes if s != -1]))
        if (-1 not in sizes and known != x.shape[dim]) or (known == 0 or x.shape[dim] % known):
            raise ValueError(
                f"Unflatten: cannot split dimension {self.dim} of size {x.shape[dim]} (input shape "
                f"{tuple(x.shape)}) into {sizes}; their product must equal {x.shape[dim]}"
            )
        return reshape(x, *x.shape[:dim], *sizes, *x.shape[dim + 1 :])

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
