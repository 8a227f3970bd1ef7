"""Embedding: a lookup table of learned vectors, indexed by integer ids (PyTorch's `nn.Embedding`).

weight has shape (num_embeddings, embedding_dim) and is initialised N(0, 1) as PyTorch; the row
`padding_idx` (if given) is zero and receives no gradient.

Example:
    >>> emb = Embedding(10, 3, padding_idx=0)
    >>> emb(np.array([[1, 2, 0]])).shape
    (1, 3, 3)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from descentlab.nn import init
from descentlab.nn.module import Module, Parameter
from descentlab.tensor import Function, Tensor

__all__ = ["Embedding", "embedding"]


class EmbeddingLookup(Function):
    """weight[ids]; backward adds each output row's gradient into its id's row (np.add.at handles
    repeated ids), skipping `padding_idx`."""

    def forward(self, weight, ids, padding_idx=None):
        self.ids, self.shape, self.padding_idx = ids, weight.shape, padding_idx
        return weight[ids]

    def backward(self, g):
        gw = np.zeros(self.shape, dtype=g.dtype)
        np.add.at(gw, self.ids.reshape(-1), g.reshape(-1, self.shape[1]))
        if self.padding_idx is not None:
            gw[self.padding_idx] = 0
        return gw


def embedding(ids: Any, weight: Any, padding_idx: int | None = None) -> Tensor:
    """Rows of `weight` selected by the integer array `ids` (PyTorch's `F.embedding`): output shape
    ids.shape + (embedding_dim,)."""
    ids_arr = np.asarray(ids.data if isinstance(ids, Tensor) else ids)
    if not np.issubdtype(ids_arr.dtype, np.integer):
        raise TypeError(f"embedding: ids must be integers, got dtype {ids_arr.dtype}")
    n = weight.shape[0]
    if ids_arr.size and (ids_arr.min() < 0 or ids_arr.max() >= n):
        raise IndexError(
            f"embedding: ids must be in [0, {n}) for a table of {n} rows, got values from "
            f"{ids_arr.min()} to {ids_arr.max()}"
        )
    return EmbeddingLookup.apply(weight, ids=ids_arr, padding_idx=padding_idx)


class Embedding(Module):
    """A table of `num_embeddings` learned vectors of size `embedding_dim`."""

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
                 dtype: Any = np.float32, generator: np.random.Generator | None = None) -> None:  # fmt: skip
        super().__init__()
        if num_embeddings <= 0 or embedding_dim <= 0:
            raise ValueError(
                f"Embedding: sizes must be positive, got ({num_embeddings}, {embedding_dim})"
            )
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(
                    f"Embedding: padding_idx {padding_idx} is outside [-{num_embeddings}, "
                    f"{num_embeddings})"
                )
            padding_idx %= num_embeddings
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.padding_idx, self._generator = padding_idx, generator
        self.weight = Parameter(np.empty((num_embeddings, embedding_dim), dtype=dtype))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.normal_(self.weight, generator=self._generator)
        if self.padding_idx is not None:
            self.weight.data[self.padding_idx] = 0

    def forward(self, ids: Any) -> Tensor:
        return embedding(ids, self.weight, self.padding_idx)

    def extra_repr(self) -> str:
        pad = f", padding_idx={self.padding_idx}" if self.padding_idx is not None else ""
        return f"{self.num_embeddings}, {self.embedding_dim}{pad}"
