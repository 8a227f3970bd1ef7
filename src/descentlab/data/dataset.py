"""Datasets: indexable collections of samples, and ways to split them.

A `Dataset` has `__len__` and `__getitem__(i) -> tuple` (PyTorch convention). `TensorDataset`
wraps equally long arrays so that a `DataLoader` can slice whole batches at once.

Example:
    >>> import numpy as np
    >>> ds = TensorDataset(np.arange(10.0).reshape(5, 2), np.array([0, 1, 0, 1, 1]))
    >>> len(ds), ds[1]
    (5, (array([2., 3.]), np.int64(1)))
    >>> train, val = random_split(ds, [0.6, 0.4], generator=np.random.default_rng(0))
    >>> len(train), len(val)
    (3, 2)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from descentlab.random import resolve

__all__ = [
    "Dataset",
    "TensorDataset",
    "Subset",
    "ConcatDataset",
    "random_split",
    "as_array",
    "as_generator",
]


def as_array(x: Any, name: str = "array") -> np.ndarray:
    """`x` as an np.ndarray: Tensors give their `.data`, lists become arrays (no copy when possible)."""
    data = getattr(x, "data", None)
    if isinstance(data, np.ndarray) and not isinstance(x, np.ndarray):
        return data
    try:
        return np.asarray(x)
    except (TypeError, ValueError) as err:
        raise TypeError(
            f"{name}: cannot convert {type(x).__name__} to a NumPy array ({err})"
        ) from err


def as_generator(seed: int | np.random.Generator | None) -> np.random.Generator:
    """A Generator from an int seed, a Generator (used as is) or None (the global descentlab one)."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None:
        return resolve(None)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(
            f"seed must be a non-negative int, a np.random.Generator or None, got {seed!r}"
        )
    return np.random.default_rng(int(seed))


class Dataset:
    """Base class: subclasses implement `__len__` and `__getitem__(index) -> tuple of samples`.

    Convention: PyTorch's map-style dataset. `ds1 + ds2` concatenates.

    Example:
        >>> class Squares(Dataset):
        ...     def __len__(self): return 4
        ...     def __getitem__(self, i): return (np.float32(i), np.float32(i * i))
        >>> Squares()[3]
        (np.float32(3.0), np.float32(9.0))
    """

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must implement __len__")

    def __getitem__(self, index: int) -> tuple[Any, ...]:
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    def __add__(self, other: Dataset) -> ConcatDataset:
        return ConcatDataset([self, other])


def _check_index(index: Any, n: int, owner: str) -> int:
    if not isinstance(index, (int, np.integer)):
        raise TypeError(f"{owner}: index must be an integer, got {type(index).__name__}")
    i = int(index)
    if i < -n or i >= n:
        raise IndexError(f"{owner}: index {i} is out of range for a dataset of {n} samples")
    return i % n if n else i


class TensorDataset(Dataset):
    """Dataset of equally long arrays; sample i is `tuple(a[i] for a in arrays)`.

    Accepts np.ndarrays, Tensors (their `.data` is used) or anything `np.asarray` understands.
    The arrays are kept in `.arrays` so a `DataLoader` can fancy-index whole batches.

    Example:
        >>> ds = TensorDataset(np.zeros((3, 2)), np.arange(3))
        >>> ds.arrays[1].tolist(), len(ds)
        ([0, 1, 2], 3)
    """

    def __init__(self, *arrays: Any) -> None:
        if not arrays:
            raise ValueError("TensorDataset needs at least one array, got none")
        converted = tuple(as_array(a, f"TensorDataset array {k}") for k, a in enumerate(arrays))
        for k, a in enumerate(converted):
            if a.ndim == 0:
                raise ValueError(
                    f"TensorDataset: array {k} is a scalar; every array needs a first (sample) axis"
                )
        lengths = [len(a) for a in converted]
        if len(set(lengths)) != 1:
            raise ValueError(
                f"TensorDataset: arrays have different numbers of samples {lengths}; "
                "x and y must have the same length along axis 0"
            )
        self.arrays: tuple[np.ndarray, ...] = converted

    def __len__(self) -> int:
        return len(self.arrays[0])

    def __getitem__(self, index: int) -> tuple[Any, ...]:
        i = _check_index(index, len(self), "TensorDataset")
        return tuple(a[i] for a in self.arrays)

    def __repr__(self) -> str:
        shapes = ", ".join(str(a.shape) for a in self.arrays)
        return f"TensorDataset({shapes})"


class Subset(Dataset):
    """The samples of `dataset` at `indices` (in that order).

    Example:
        >>> Subset(TensorDataset(np.arange(5)), [4, 0])[0]
        (np.int64(4),)
    """

    def __init__(self, dataset: Dataset, indices: Sequence[int] | np.ndarray) -> None:
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        n = len(dataset)
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            raise IndexError(
                f"Subset: indices must lie in [0, {n}) for a dataset of {n} samples, "
                f"got min {idx.min()} and max {idx.max()}"
            )
        self.dataset = dataset
        self.indices = idx

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int) -> tuple[Any, ...]:
        i = _check_index(index, len(self), "Subset")
        return self.dataset[int(self.indices[i])]

    @property
    def arrays(self) -> tuple[np.ndarray, ...]:
        """The subset's arrays (only when the underlying dataset has `.arrays`)."""
        base = self.dataset.arrays  # AttributeError for datasets without arrays, as intended
        return tuple(a[self.indices] for a in base)


class ConcatDataset(Dataset):
    """Several datasets one after another.

    Example:
        >>> ds = ConcatDataset([TensorDataset(np.arange(2)), TensorDataset(np.arange(3))])
        >>> len(ds), ds[2]
        (5, (np.int64(0),))
    """

    def __init__(self, datasets: Sequence[Dataset]) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset needs at least one dataset")
        self.cumulative_sizes = np.cumsum([len(d) for d in self.datasets])

    def __len__(self) -> int:
        return int(self.cumulative_sizes[-1])

    def __getitem__(self, index: int) -> tuple[Any, ...]:
        i = _check_index(index, len(self), "ConcatDataset")
        k = int(np.searchsorted(self.cumulative_sizes, i, side="right"))
        start = 0 if k == 0 else int(self.cumulative_sizes[k - 1])
        return self.datasets[k][i - start]


def _split_lengths(lengths: Sequence[float], n: int) -> list[int]:
    values = list(lengths)
    if not values:
        raise ValueError("random_split: lengths must not be empty")
    if all(isinstance(v, (int, np.integer)) for v in values):
        counts = [int(v) for v in values]
        if any(c < 0 for c in counts) or sum(counts) != n:
            raise ValueError(
                f"random_split: lengths {counts} must be non-negative and sum to the dataset "
                f"length {n}; or pass fractions that sum to 1"
            )
        return counts
    fractions = [float(v) for v in values]
    if any(f < 0 or f > 1 for f in fractions) or not math.isclose(
        sum(fractions), 1.0, abs_tol=1e-6
    ):
        raise ValueError(
            f"random_split: fractions {fractions} must each lie in [0, 1] and sum to 1 "
            f"(they sum to {sum(fractions):g})"
        )
    # Same rule as torch.utils.data.random_split: floor, then hand the remainder out round-robin.
    counts = [int(math.floor(n * f)) for f in fractions]
    for k in range(n - sum(counts)):
        counts[k % len(counts)] += 1
    return counts


def random_split(
    dataset: Dataset,
    lengths: Sequence[float],
    generator: np.random.Generator | None = None,
) -> list[Subset]:
    """Split `dataset` into non-overlapping random `Subset`s of the given lengths or fractions.

    Fractions are floored and the remainder is given out one by one from the first subset
    (PyTorch convention). Shuffling uses `generator` or the global descentlab generator.

    Example:
        >>> a, b = random_split(TensorDataset(np.arange(10)), [7, 3], np.random.default_rng(0))
        >>> len(a), len(b), sorted(a.indices.tolist() + b.indices.tolist()) == list(range(10))
        (7, 3, True)
    """
    n = len(dataset)
    counts = _split_lengths(lengths, n)
    perm = resolve(generator).permutation(n)
    out, start = [], 0
    for c in counts:
        out.append(Subset(dataset, perm[start : start + c]))
        start += c
    return out
