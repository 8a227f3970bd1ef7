"""Samplers: which dataset indices a DataLoader reads, and in what order (torch.utils.data names).

A sampler is an iterable of indices with a `len()`; `BatchSampler` groups one into lists of
indices. Pass one to `DataLoader(ds, batch_size=..., sampler=...)`, or a batch sampler as
`DataLoader(ds, batch_sampler=...)`; `DataLoader(ds, shuffle=True)` is
`sampler=RandomSampler(ds)`.

Convention: torch 2.13's class names, argument order, defaults and argument errors. The random
samplers draw from an `np.random.Generator`, by default descentlab's global one at the moment
iteration starts (so `descentlab.manual_seed` and `descentlab.set_rng_state` repeat them), and
draw a whole epoch's indices in one NumPy call when iteration starts; the indices are therefore
not torch's for the same seed. Deliberate differences from torch: `WeightedRandomSampler` checks
its weights when built and raises ValueError (torch raises RuntimeError from `torch.multinomial`
on the first iteration), and refuses `replacement=False` with more samples than nonzero weights
(torch then returns zero-weight indices); integer arguments may be NumPy integers.

Example:
    >>> list(BatchSampler(SequentialSampler(range(10)), batch_size=3, drop_last=False))
    [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    >>> import descentlab as dl
    >>> _ = dl.manual_seed(0)
    >>> draws = list(WeightedRandomSampler([0.0, 1.0, 3.0], num_samples=1000))
    >>> draws.count(0), abs(draws.count(2) / 1000 - 3 / 4) < 0.05   # weight 0: never; 3: 3/4
    (0, True)
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence, Sized
from typing import Any, Generic, TypeVar

import numpy as np

from descentlab.random import resolve

__all__ = [
    "Sampler",
    "SequentialSampler",
    "RandomSampler",
    "SubsetRandomSampler",
    "WeightedRandomSampler",
    "BatchSampler",
]

T_co = TypeVar("T_co", covariant=True)


def check_generator(generator: Any, who: str) -> np.random.Generator | None:
    """`generator` if it is an `np.random.Generator` or None, else a TypeError naming `who`."""
    if generator is not None and not isinstance(generator, np.random.Generator):
        raise TypeError(
            f"{who}: generator must be an np.random.Generator or None, got "
            f"{type(generator).__name__}; pass np.random.default_rng(seed), or None for "
            "descentlab's global generator (descentlab.manual_seed)"
        )
    return generator


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def check_positive_int(value: Any, name: str, who: str) -> int:
    """`value` as an int if it is an integer >= 1, else torch's ValueError naming `who`."""
    if not _is_int(value) or value <= 0:
        raise ValueError(
            f"{who}: {name} should be a positive integer value, but got {name}={value!r}"
        )
    return int(value)


def check_bool(value: Any, name: str, who: str, error: type[Exception] = ValueError) -> bool:
    """`value` as a bool if it is one (NumPy's too), else torch's error naming `who`."""
    if not isinstance(value, (bool, np.bool_)):
        raise error(f"{who}: {name} should be a boolean value, but got {name}={value!r}")
    return bool(value)


class Sampler(Generic[T_co]):
    """Base class of samplers: an iterable of dataset indices (torch's `Sampler` convention).

    A subclass defines `__iter__` (the indices of one pass over the data) and, so that
    `len(loader)` works, `__len__`; `Sampler[int]` and `Sampler[list[int]]` annotate it as in torch.

    Example:
        >>> class EvensFirst(Sampler[int]):
        ...     def __init__(self, n):
        ...         self.n = n
        ...     def __iter__(self):
        ...         return iter([*range(0, self.n, 2), *range(1, self.n, 2)])
        ...     def __len__(self):
        ...         return self.n
        >>> list(EvensFirst(5))
        [0, 2, 4, 1, 3]
    """

    def __iter__(self) -> Iterator[T_co]:
        return iter(self._draw().tolist())

    def _draw(self) -> np.ndarray:
        """The indices of one pass as an int array, random numbers drawn now (our samplers)."""
        raise NotImplementedError(
            f"{type(self).__name__}: a Sampler subclass must define __iter__ (the indices of one "
            "pass over the data) and __len__"
        )


def _drawn(sampler: Any) -> np.ndarray | None:
    """One pass of `sampler` as an int array in one NumPy call, or None if it must be iterated.

    Only our own samplers qualify: a subclass that defines its own `__iter__` is iterated.
    """
    if isinstance(sampler, Sampler) and type(sampler).__iter__ is Sampler.__iter__:
        return sampler._draw()
    return None


class SequentialSampler(Sampler[int]):
    """Indices 0, 1, ..., len(data_source) - 1, in order, every pass (torch convention).

    Example:
        >>> list(SequentialSampler(range(4))), len(SequentialSampler(range(4)))
        ([0, 1, 2, 3], 4)
    """

    def __init__(self, data_source: Sized) -> None:
        self.data_source = data_source

    def _draw(self) -> np.ndarray:
        return np.arange(len(self.data_source))

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(Sampler[int]):
    """A new random order of the data every pass; or `num_samples` draws with replacement.

    Without replacement each pass is a permutation of range(len(data_source)); a `num_samples`
    larger than the data chains whole permutations, then part of one (torch 2.13 convention).
    With replacement, `num_samples` (default len(data_source)) independent uniform draws.
    `generator` defaults to descentlab's global generator, read when iteration starts.

    Example:
        >>> import descentlab as dl
        >>> _ = dl.manual_seed(0)
        >>> sorted(RandomSampler(range(5))), len(RandomSampler(range(5), True, num_samples=8))
        ([0, 1, 2, 3, 4], 8)
    """

    def __init__(
        self,
        data_source: Sized,
        replacement: bool = False,
        num_samples: int | None = None,
        generator: np.random.Generator | None = None,
    ) -> None:
        self.data_source = data_source
        self.replacement = check_bool(replacement, "replacement", "RandomSampler", TypeError)
        self.generator = check_generator(generator, "RandomSampler")
        if num_samples is None and len(data_source) == 0:
            raise ValueError(
                "RandomSampler: num_samples should be a positive integer value, but got "
                "num_samples=0 (the data source is empty)"
            )
        if num_samples is not None:
            num_samples = check_positive_int(num_samples, "num_samples", "RandomSampler")
        self._num_samples = num_samples

    @property
    def num_samples(self) -> int:
        """Indices per pass: `num_samples` if given, else len(data_source) (read each time)."""
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def _draw(self) -> np.ndarray:
        n, k = len(self.data_source), self.num_samples
        if n == 0:
            raise ValueError("RandomSampler: the data source is empty; there is nothing to sample")
        rng = resolve(self.generator)
        if self.replacement:
            return rng.integers(0, n, size=k)
        whole, rest = divmod(k, n)
        parts = [rng.permutation(n) for _ in range(whole)]
        if rest:
            parts.append(rng.permutation(n)[:rest])
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler[int]):
    """The given indices in a new random order every pass, without replacement (torch convention).

    The usual train/validation split of one dataset: two samplers over disjoint index lists.

    Example:
        >>> import numpy as np
        >>> s = SubsetRandomSampler([5, 6, 7], generator=np.random.default_rng(0))
        >>> sorted(s), len(s)
        ([5, 6, 7], 3)
    """

    def __init__(
        self, indices: Sequence[int], generator: np.random.Generator | None = None
    ) -> None:
        array = np.asarray(indices)
        if array.ndim != 1 or (array.size and not np.issubdtype(array.dtype, np.integer)):
            raise ValueError(
                "SubsetRandomSampler: indices should be a 1-d sequence of integers, got "
                f"{array.dtype} with shape {array.shape}; pass e.g. np.arange(0, 800)"
            )
        self.indices = indices
        self.generator = check_generator(generator, "SubsetRandomSampler")

    def _draw(self) -> np.ndarray:
        indices = np.asarray(self.indices, dtype=np.int64)
        return indices[resolve(self.generator).permutation(len(indices))]

    def __len__(self) -> int:
        return len(self.indices)


class WeightedRandomSampler(Sampler[int]):
    """`num_samples` indices of range(len(weights)), each drawn with probability weight / sum.

    The remedy for class imbalance: give every sample the inverse frequency of its class, and
    each batch sees the classes about equally often. Without replacement an index is drawn at
    most once per pass (successive draws among those left, as `torch.multinomial`). Weights must
    be finite and non-negative with a positive sum (checked here; torch fails on iteration).

    Example:
        >>> import numpy as np
        >>> y = np.array([0, 0, 0, 0, 1])                 # class 1 is rare
        >>> weights = (1.0 / np.bincount(y))[y]           # 0.25 for class 0, 1.0 for class 1
        >>> s = WeightedRandomSampler(weights, num_samples=len(weights))
        >>> len(s), s.replacement
        (5, True)
    """

    def __init__(
        self,
        weights: Sequence[float],
        num_samples: int,
        replacement: bool = True,
        generator: np.random.Generator | None = None,
    ) -> None:
        who = "WeightedRandomSampler"
        self.num_samples = check_positive_int(num_samples, "num_samples", who)
        self.replacement = check_bool(replacement, "replacement", who)
        self.generator = check_generator(generator, who)
        w = np.asarray(weights, dtype=np.float64)
        if w.ndim != 1 or w.size == 0:
            raise ValueError(
                f"{who}: weights should be a 1d sequence (one weight per sample) but given "
                f"weights have shape {w.shape}"
            )
        bad = np.flatnonzero(~np.isfinite(w) | (w < 0))
        if bad.size:
            raise ValueError(
                f"{who}: weights should be finite and non-negative, got {w[bad[0]]} at index "
                f"{bad[0]}; a weight is a relative probability (e.g. 1 / class count)"
            )
        nonzero = int(np.count_nonzero(w))
        if nonzero == 0:
            raise ValueError(f"{who}: the weights sum to 0; give some sample a positive weight")
        if not self.replacement and self.num_samples > nonzero:
            raise ValueError(
                f"{who}: cannot draw num_samples={self.num_samples} distinct indices without "
                f"replacement from {nonzero} nonzero weights; lower num_samples or pass "
                "replacement=True"
            )
        self.weights = w

    def _draw(self) -> np.ndarray:
        p = self.weights / self.weights.sum()
        rng = resolve(self.generator)
        return rng.choice(len(p), size=self.num_samples, replace=self.replacement, p=p)

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler[list[int]]):
    """Groups the indices of `sampler` (a Sampler or any iterable) into lists of `batch_size`.

    The last list is shorter unless `drop_last`. `len()` is ceil(len(sampler) / batch_size), or
    floor with `drop_last` (torch convention).

    Example:
        >>> list(BatchSampler(SequentialSampler(range(10)), batch_size=3, drop_last=True))
        [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
        >>> list(BatchSampler([4, 2, 0], 2, False)), len(BatchSampler(range(10), 4, False))
        ([[4, 2], [0]], 3)
    """

    def __init__(
        self, sampler: Sampler[int] | Iterable[int], batch_size: int, drop_last: bool
    ) -> None:
        self.batch_size = check_positive_int(batch_size, "batch_size", "BatchSampler")
        self.drop_last = check_bool(drop_last, "drop_last", "BatchSampler")
        self.sampler = sampler

    def __iter__(self) -> Iterator[list[int]]:
        order = _drawn(self.sampler)
        if order is None:
            return self._group(iter(self.sampler))
        return iter([batch.tolist() for batch in self._slices(order)])

    def _index_batches(self) -> Iterator[np.ndarray]:
        """The batches of one pass as index arrays; our samplers draw the whole pass now."""
        order = _drawn(self.sampler)
        if order is None:
            return (np.asarray(batch) for batch in self._group(iter(self.sampler)))
        return iter(self._slices(order))

    def _slices(self, order: np.ndarray) -> list[np.ndarray]:
        b = self.batch_size
        stop = len(order) // b * b if self.drop_last else len(order)
        return [order[i : i + b] for i in range(0, stop, b)]

    def _group(self, indices: Iterator[Any]) -> Iterator[list[Any]]:
        """Lazy batches of any iterable (it may be endless), as torch does."""
        batch = list(itertools.islice(indices, self.batch_size))
        while batch and (len(batch) == self.batch_size or not self.drop_last):
            yield batch
            batch = list(itertools.islice(indices, self.batch_size))

    def __len__(self) -> int:
        n = len(self.sampler)  # type: ignore[arg-type]
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
