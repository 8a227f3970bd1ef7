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
from descentlab.ops.shape import flatten, reshape, wrap_dim
from descentlab.tensor import Tensor

__all__ = ["Flatten", "Unflatten"]


class Flatten(Module):
    """Merge dimensions start_dim..end_dim into one (default: all but the batch dimension), as
    PyTorch's `nn.Flatten`: a dimension out of range of the input (e.g. start_dim=1 of a 0-D or
    1-D input) is an IndexError naming the layer and the shape."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, input: Tensor) -> Tensor:
        try:
            return flatten(input, self.start_dim, self.end_dim)
        except (IndexError, ValueError) as err:
            msg = str(err).removeprefix("flatten: ")
            raise type(err)(f"Flatten({self.extra_repr()}): {msg}") from None

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split dimension `dim` into `unflattened_size` (one entry may be -1), as PyTorch's
    `nn.Unflatten`: the sizes must be a non-empty sequence of ints whose product is the size of
    `dim` (sizes of 0 allowed), else a clear error naming the layer and the input shape."""

    def __init__(self, dim: int, unflattened_size: Sequence[int]) -> None:
        super().__init__()
        if not isinstance(unflattened_size, (list, tuple)):
            raise TypeError(
                f"Unflatten: unflattened_size must be a tuple of ints, got {unflattened_size!r}"
            )
        for i, size in enumerate(unflattened_size):
            if not isinstance(size, (int, np.integer)) or isinstance(size, bool):
                raise TypeError(
                    f"Unflatten: unflattened_size must be a tuple of ints, but found element of "
                    f"type {type(size).__name__} at pos {i}"
                )
        sizes = tuple(int(n) for n in unflattened_size)
        if not sizes:
            raise ValueError("Unflatten: unflattened_size must be non-empty")
        if sizes.count(-1) > 1 or any(n < -1 for n in sizes):
            raise ValueError(
                f"Unflatten: unflattened_size {sizes} may hold one -1 (inferred) and otherwise "
                "sizes >= 0"
            )
        self.dim, self.unflattened_size = dim, sizes

    def forward(self, input: Tensor) -> Tensor:
        name = f"Unflatten({self.extra_repr()})"
        shape = tuple(input.shape)
        dim = wrap_dim(self.dim, input.ndim, name, shape)
        if not shape:
            raise IndexError(f"{name}: cannot unflatten a 0-D input")
        sizes = self.unflattened_size
        known = int(np.prod([n for n in sizes if n != -1]))
        size = shape[dim]
        fits = (known != 0 and size % known == 0) if -1 in sizes else known == size
        if not fits:
            raise ValueError(
                f"{name}: cannot split dimension {self.dim} of size {size} (input shape {shape}) "
                f"into {sizes}; their product must equal {size}"
            )
        return reshape(input, *shape[:dim], *sizes, *shape[dim + 1 :])

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
