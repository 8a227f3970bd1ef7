"""Embedding: a lookup table of learned vectors, indexed by integer ids (PyTorch's `nn.Embedding`).

weight has shape (num_embeddings, embedding_dim) and is initialised N(0, 1) as PyTorch; the row
`padding_idx` (if given) is zero and receives no gradient. With `max_norm`, every row that a
lookup reads and whose `norm_type`-norm exceeds max_norm is first rescaled in place to norm
max_norm (PyTorch's renorm: w *= max_norm / (norm + 1e-7), outside the graph).

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

__all__ = ["Embedding", "embedding", "embedding_renorm_"]


class EmbeddingLookup(Function):
    """weight[ids]; backward adds each output row's gradient into its id's row (np.add.at handles
    repeated ids), skipping `padding_idx`; with `scale_grad_by_freq` each id's gradient is divided
    by how often the id occurs in `ids`."""

    def forward(self, weight, ids, padding_idx=None, scale_grad_by_freq=False):
        self.ids, self.shape, self.padding_idx = ids, weight.shape, padding_idx
        self.scale = scale_grad_by_freq
        return weight[ids]

    def backward(self, g):
        gw = np.zeros(self.shape, dtype=g.dtype)
        flat = self.ids.reshape(-1)
        rows = g.reshape(-1, self.shape[1])
        if self.scale:
            counts = np.bincount(flat, minlength=self.shape[0])
            rows = rows / counts[flat, None].astype(g.dtype)
        np.add.at(gw, flat, rows)
        if self.padding_idx is not None:
            gw[self.padding_idx] = 0
        return gw


def embedding_renorm_(weight: Any, ids: np.ndarray, max_norm: float, norm_type: float) -> None:
    """Rescale in place (no gradient) the rows `ids` of `weight` whose `norm_type`-norm exceeds
    `max_norm` to norm max_norm: row *= max_norm / (norm + 1e-7), PyTorch's `embedding_renorm_`."""
    data = weight.data if isinstance(weight, Tensor) else weight
    rows = np.unique(ids)
    if not rows.size:
        return
    norms = np.linalg.norm(data[rows].astype(np.float64), ord=norm_type, axis=1)
    big = norms > max_norm
    if big.any():
        scale = (max_norm / (norms[big] + 1e-7)).astype(data.dtype)
        data[rows[big]] *= scale[:, None]


def embedding(input: Any, weight: Any, padding_idx: int | None = None,
              max_norm: float | None = None, norm_type: float = 2.0,
              scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:  # fmt: skip
    """Rows of `weight` selected by the integer array `input` (PyTorch's `F.embedding`): output
    shape input.shape + (embedding_dim,), out[..., :] = weight[input[...], :].

    `max_norm` renormalises the looked-up rows of `weight` in place first (see the module
    docstring); `scale_grad_by_freq` divides each row's gradient by its id's count in `input`.
    `sparse=True` (sparse gradients) is not supported.

    Example:
        >>> w = descentlab.tensor([[3.0, 4.0], [0.6, 0.8]], dtype=np.float64)
        >>> embedding(np.array([0, 1]), w, max_norm=1.0).data.round(6).tolist()
        [[0.6, 0.8], [0.6, 0.8]]
    """
    ids_arr = np.asarray(input.data if isinstance(input, Tensor) else input)
    if not np.issubdtype(ids_arr.dtype, np.integer):
        raise TypeError(f"embedding: ids must be integers, got dtype {ids_arr.dtype}")
    if sparse:
        raise ValueError("embedding: sparse=True (sparse gradients) is not supported")
    n = weight.shape[0]
    if ids_arr.size and (ids_arr.min() < 0 or ids_arr.max() >= n):
        raise IndexError(
            f"embedding: ids must be in [0, {n}) for a table of {n} rows, got values from "
            f"{ids_arr.min()} to {ids_arr.max()}"
        )
    if padding_idx is not None:
        if not -n <= padding_idx < n:
            raise ValueError(f"embedding: padding_idx {padding_idx} is outside [-{n}, {n})")
        padding_idx %= n
    if max_norm is not None:
        embedding_renorm_(weight, ids_arr, max_norm, norm_type)
    return EmbeddingLookup.apply(weight, ids=ids_arr, padding_idx=padding_idx,
                                 scale_grad_by_freq=scale_grad_by_freq)  # fmt: skip


class Embedding(Module):
    """A table of `num_embeddings` learned vectors of size `embedding_dim` (PyTorch's
    `nn.Embedding`; `max_norm`, `norm_type`, `scale_grad_by_freq` as in `embedding`).

    Example:
        >>> emb = Embedding(10, 3, max_norm=1.0)
        >>> bool((np.linalg.norm(emb(np.array([1, 2])).data, axis=1) <= 1.0 + 1e-6).all())
        True
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
                 max_norm: float | None = None, norm_type: float = 2.0,
                 scale_grad_by_freq: bool = False, sparse: bool = False, dtype: Any = np.float32,
                 generator: np.random.Generator | None = None) -> None:  # fmt: skip
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
        if sparse:
            raise ValueError("Embedding: sparse=True (sparse gradients) is not supported")
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.padding_idx, self._generator = padding_idx, generator
        self.max_norm, self.norm_type = max_norm, norm_type
        self.scale_grad_by_freq, self.sparse = scale_grad_by_freq, sparse
        self.weight = Parameter(np.empty((num_embeddings, embedding_dim), dtype=dtype))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.normal_(self.weight, generator=self._generator)
        if self.padding_idx is not None:
            self.weight.data[self.padding_idx] = 0

    def forward(self, input: Any) -> Tensor:
        return embedding(input, self.weight, self.padding_idx, self.max_norm, self.norm_type,
                         self.scale_grad_by_freq)  # fmt: skip

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            s += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq:
            s += ", scale_grad_by_freq=True"
        return s
