"""Sources that yield whole batches, as Keras' `fit` takes them: a Python generator (any iterator)
of batches, and a batch-level dataset (`PyDataset`: `len()` batches, `[i]` the i-th batch).

A batch is `(x, y)` or `(x, y, sample_weight)` (or `x` alone, or `(x,)`, for `predict`).
`BatchLoader` is what `fit`, `evaluate` and `predict` iterate for such a source, with Keras' rules:

- a generator is read once, across epochs: `steps` (fit's `steps_per_epoch`) batches per epoch; with
  no `steps`, the first epoch reads it to the end and that count becomes the epoch length. When
  it runs out early, `ran_out` is set (fit then warns and stops, as Keras does).
- a `PyDataset` is read again every epoch, its batch order shuffled when `shuffle` (with the
  global descentlab generator, so `manual_seed` repeats it), at most `steps` batches; its
  `on_epoch_begin()` is called before each epoch and `on_epoch_end()` after.

Example:
    >>> import numpy as np
    >>> class Squares(PyDataset):
    ...     def __len__(self):
    ...         return 3
    ...     def __getitem__(self, i):
    ...         x = np.arange(4.0).reshape(2, 2) + i
    ...         return x, x**2
    >>> [len(xb) for xb, yb in BatchLoader(Squares())]
    [2, 2, 2]
    >>> def gen():
    ...     for i in range(5):
    ...         yield np.full((2, 1), i), np.zeros(2)
    >>> loader = BatchLoader(gen(), steps=2)
    >>> [float(xb[0, 0]) for xb, _ in loader], [float(xb[0, 0]) for xb, _ in loader]
    ([0.0, 1.0], [2.0, 3.0])
"""

from __future__ import annotations

import collections.abc
import itertools
from collections.abc import Iterator
from typing import Any

from descentlab.random import default_generator

__all__ = ["PyDataset", "Sequence", "BatchLoader", "is_batch_source"]


class PyDataset:
    """A dataset of batches (Keras' `keras.utils.PyDataset`): subclass it with `__len__` (the
    number of batches) and `__getitem__(index)` returning one batch, `(x, y)` or
    `(x, y, sample_weight)`; `on_epoch_end()` runs after every epoch (e.g. to reshuffle files).

    Keras' `workers`, `use_multiprocessing` and `max_queue_size` are accepted and kept; batches
    are read on the training thread.
    """

    def __init__(self, workers: int = 1, use_multiprocessing: bool = False,
                 max_queue_size: int = 10) -> None:  # fmt: skip
        self.workers = workers
        self.use_multiprocessing = use_multiprocessing
        self.max_queue_size = max_queue_size

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must define __len__ (number of batches)")

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__ (one batch)")

    def on_epoch_begin(self) -> None:
        """Called before every epoch (Keras 3)."""

    def on_epoch_end(self) -> None:
        """Called after every epoch; override to reshuffle or augment."""

    @property
    def num_batches(self) -> int:
        """The number of batches (Keras 3's name for len())."""
        return len(self)


Sequence = PyDataset  # Keras 2's name, kept by Keras 3 as an alias


def _is_pydataset(x: Any) -> bool:
    """Ours, or Keras' own `keras.utils.PyDataset` / `Sequence` (not any class named Sequence:
    a `collections.abc.Sequence` of samples is a dataset of samples)."""
    return isinstance(x, PyDataset) or any(
        c.__name__ in ("PyDataset", "Sequence") and c.__module__.split(".")[0] == "keras"
        for c in type(x).__mro__
    )


def is_batch_source(x: Any) -> bool:
    """True for a generator / iterator of batches or a `PyDataset`."""
    return isinstance(x, collections.abc.Iterator) or _is_pydataset(x)


class BatchLoader:
    """Iterate a batch source epoch by epoch (see the module docstring for Keras' rules).

    `steps` is the number of batches per epoch (None: a PyDataset's length, or a generator read
    to its end on the first epoch). `batch_size` and `dataset` are None: the source decides.
    """

    batch_size = None
    dataset = None

    def __init__(self, source: Any, steps: int | None = None, shuffle: bool = False,
                 who: str = "fit") -> None:  # fmt: skip
        if steps is not None and (isinstance(steps, bool) or not isinstance(steps, int)
                                  or steps < 1):  # fmt: skip
            raise ValueError(f"{who}: the number of steps must be an int >= 1 or None, got "
                             f"{steps!r}")  # fmt: skip
        if not is_batch_source(source):
            raise TypeError(
                f"{who}: expected a generator of batches or a PyDataset, got {type(source).__name__}"
            )
        self.source = source
        self.steps = steps
        self.shuffle = bool(shuffle)
        self.ran_out = False
        self._pydataset = _is_pydataset(source)
        self._peeked: list[Any] = []

    def __len__(self) -> int:
        if self.steps is not None:
            return self.steps if not self._pydataset else min(self.steps, len(self.source))
        if self._pydataset:
            return len(self.source)
        raise TypeError("the number of batches of a generator is not known until it has run out")

    def first(self) -> Any:
        """The first batch, without using it up: a generator's is kept for the first epoch."""
        if self._pydataset:
            return self.source[0] if len(self.source) else None
        if not self._peeked:
            try:
                self._peeked.append(next(self.source))
            except StopIteration:
                return None
        return self._peeked[0]

    def __iter__(self) -> Iterator[Any]:
        if self._pydataset:
            yield from self._pydataset_epoch()
        else:
            yield from self._generator_epoch()

    def _pydataset_epoch(self) -> Iterator[Any]:
        begin = getattr(self.source, "on_epoch_begin", None)
        if begin is not None:
            begin()
        n = len(self.source)
        order = default_generator().permutation(n) if self.shuffle else range(n)
        for i in itertools.islice(order, len(self)):
            yield self.source[int(i)]
        self.source.on_epoch_end()

    def _generator_epoch(self) -> Iterator[Any]:
        count = 0
        while self.steps is None or count < self.steps:
            if self._peeked:
                batch = self._peeked.pop()
            else:
                try:
                    batch = next(self.source)
                except StopIteration:
                    # the end of the first epoch, with no steps given, is the epoch's length
                    if self.steps is None and count > 0:
                        self.steps = count
                    else:
                        self.ran_out = True
                    return
            count += 1
            yield batch
