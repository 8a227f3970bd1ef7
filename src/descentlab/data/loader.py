"""DataLoader: iterate a dataset in (optionally shuffled) mini-batches of NumPy arrays.

One epoch is one pass over the data; `len(loader)` is the number of iterations per epoch:
ceil(N / batch_size), or floor(N / batch_size) with `drop_last=True`. batch_size = N is batch
gradient descent, 1 is stochastic gradient descent, anything between is mini-batch.

Example:
    >>> import numpy as np
    >>> from descentlab.data import TensorDataset
    >>> loader = DataLoader(TensorDataset(np.arange(10.0), np.arange(10)), batch_size=4)
    >>> len(loader), [xb.shape for xb, yb in loader]
    (3, [(4,), (4,), (2,)])
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from descentlab.data.dataset import Dataset, Subset, TensorDataset
from descentlab.random import resolve

__all__ = ["DataLoader", "default_collate"]


def default_collate(samples: Sequence[tuple[Any, ...]]) -> tuple[np.ndarray, ...]:
    """Stack a list of sample tuples into a tuple of batch arrays (field k -> `np.stack`).

    Example:
        >>> default_collate([(np.zeros(2), 0), (np.ones(2), 1)])[1]
        array([0, 1])
    """
    if not samples:
        raise ValueError("default_collate: got an empty list of samples")
    first = samples[0]
    if not isinstance(first, tuple):
        return (np.stack([np.asarray(s) for s in samples]),)
    width = len(first)
    for s in samples:
        if not isinstance(s, tuple) or len(s) != width:
            raise ValueError(
                f"default_collate: every sample must be a tuple of {width} fields, got {s!r:.80}"
            )
    return tuple(np.stack([np.asarray(s[k]) for s in samples]) for k in range(width))


def _array_view(dataset: Any) -> tuple[tuple[np.ndarray, ...], np.ndarray | None] | None:
    """(arrays, index map) when whole batches can be fancy-indexed, else None."""
    if isinstance(dataset, TensorDataset):
        return dataset.arrays, None
    if isinstance(dataset, Subset):
        inner = _array_view(dataset.dataset)
        if inner is not None:
            arrays, index_map = inner
            idx = dataset.indices if index_map is None else index_map[dataset.indices]
            return arrays, idx
    return None


class DataLoader:
    """Mini-batches from a dataset, as tuples of np.ndarrays (PyTorch `DataLoader` convention).

    Args:
        dataset: a `Dataset` (anything with `__len__` and `__getitem__`).
        batch_size: samples per batch (>= 1).
        shuffle: draw a new permutation at the start of every epoch (every `iter(loader)`).
        drop_last: drop the final incomplete batch.
        generator: `np.random.Generator` for shuffling; default the global descentlab generator,
            so restoring `descentlab.set_rng_state` reproduces the order exactly.
        transform: callable applied to the first field (the inputs) of every batch, e.g. an
            augmentation from `descentlab.data.transforms`.
        collate_fn: turns a list of samples into a batch (default `default_collate`); a
            `TensorDataset` (or a `Subset` of one) without collate_fn skips per-sample Python and
            fancy-indexes its arrays.

    Example:
        >>> from descentlab.data import TensorDataset
        >>> ds = TensorDataset(np.arange(6.0).reshape(3, 2), np.array([0, 1, 2]))
        >>> loader = DataLoader(ds, batch_size=2, shuffle=True, generator=np.random.default_rng(0))
        >>> sorted(int(v) for _, yb in loader for v in yb)
        [0, 1, 2]
    """

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int = 1,
        shuffle: bool = False,
        drop_last: bool = False,
        generator: np.random.Generator | None = None,
        transform: Callable[[np.ndarray], np.ndarray] | None = None,
        collate_fn: Callable[[list[tuple[Any, ...]]], tuple[np.ndarray, ...]] | None = None,
    ) -> None:
        if not hasattr(dataset, "__len__") or not hasattr(dataset, "__getitem__"):
            raise TypeError(
                f"DataLoader: dataset must have __len__ and __getitem__, got {type(dataset).__name__}; "
                "wrap arrays with TensorDataset(x, y)"
            )
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
            raise TypeError(f"DataLoader: batch_size must be an integer, got {batch_size!r}")
        if batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be >= 1, got {batch_size}")
        if generator is not None and not isinstance(generator, np.random.Generator):
            raise TypeError(
                f"DataLoader: generator must be an np.random.Generator or None, got "
                f"{type(generator).__name__}"
            )
        if transform is not None and not callable(transform):
            raise TypeError(f"DataLoader: transform must be callable, got {transform!r}")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.generator = generator
        self.transform = transform
        self.collate_fn = collate_fn

    @property
    def num_samples(self) -> int:
        """Samples in the dataset (N)."""
        return len(self.dataset)

    def __len__(self) -> int:
        n, b = len(self.dataset), self.batch_size
        return n // b if self.drop_last else -(-n // b)

    def batch_indices(self) -> list[np.ndarray]:
        """The index arrays of one epoch, drawing the shuffle permutation now if `shuffle`."""
        n = len(self.dataset)
        order = resolve(self.generator).permutation(n) if self.shuffle else np.arange(n)
        stop = (n // self.batch_size) * self.batch_size if self.drop_last else n
        return [order[i : i + self.batch_size] for i in range(0, stop, self.batch_size)]

    def __iter__(self) -> Iterator[tuple[np.ndarray, ...]]:
        # The permutation is drawn when iteration starts (not lazily per batch), so the RNG
        # state at the start of an epoch fully determines that epoch's order.
        batches = self.batch_indices()
        view = None if self.collate_fn is not None else _array_view(self.dataset)
        return self._iterate(batches, view)

    def _iterate(
        self,
        batches: list[np.ndarray],
        view: tuple[tuple[np.ndarray, ...], np.ndarray | None] | None,
    ) -> Iterator[tuple[np.ndarray, ...]]:
        collate = self.collate_fn or default_collate
        for idx in batches:
            if view is not None:
                arrays, index_map = view
                rows = idx if index_map is None else index_map[idx]
                batch = tuple(a[rows] for a in arrays)
            else:
                batch = tuple(collate([self.dataset[int(i)] for i in idx]))
            if self.transform is not None:
                batch = (self.transform(batch[0]), *batch[1:])
            yield batch

    def __repr__(self) -> str:
        return (
            f"DataLoader(num_samples={len(self.dataset)}, batch_size={self.batch_size}, "
            f"shuffle={self.shuffle}, drop_last={self.drop_last}, iterations={len(self)})"
        )
