"""DataLoader: iterate a dataset in (optionally shuffled) mini-batches of Tensors.

One epoch is one pass over the data; `len(loader)` is the number of iterations per epoch:
ceil(N / batch_size), or floor(N / batch_size) with `drop_last=True`. batch_size = N is batch
gradient descent, 1 is stochastic gradient descent, anything between is mini-batch. A `sampler`
(`descentlab.data.sampler`) chooses which samples an epoch reads, e.g. `WeightedRandomSampler`
against class imbalance; `len(loader)` then counts the sampler's indices instead of N.

Convention: torch.utils.data.DataLoader's arguments, order, defaults and argument errors, and its
batches: tuples (or dicts) of Tensors, sharing memory with the stacked arrays (no copy), so a
training loop's `xb.to(device)`, `xb.size(0)`, `yb.long()` work; NumPy takes them as arrays
(`np.asarray(xb)`, `xb.numpy()`). Batches are always loaded in the calling process:
`num_workers > 0` is accepted and gives exactly the batches of `num_workers=0` (see `DataLoader`).

Example:
    >>> import numpy as np
    >>> from descentlab.data import TensorDataset
    >>> loader = DataLoader(TensorDataset(np.arange(10.0), np.arange(10)), batch_size=4)
    >>> len(loader), [xb.shape for xb, yb in loader]
    (3, [(4,), (4,), (2,)])
"""

from __future__ import annotations

import multiprocessing
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from descentlab.data.dataset import Dataset, Subset, TensorDataset
from descentlab.data.sampler import (
    BatchSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    check_bool,
    check_generator,
    check_positive_int,
)
from descentlab.tensor import Tensor

__all__ = ["DataLoader", "default_collate"]


def default_collate(samples: Sequence[Any]) -> Any:
    """Stack a list of samples into a batch, field by field (PyTorch's `default_collate` rules).

    A sample that is a tuple or list of fields gives a tuple of batch arrays (field k ->
    `np.stack`), a dict gives a dict (key -> stacked values), fields nested in either are
    collated the same way, and a sample that is one array gives a 1-tuple. Numbers and Tensors
    become arrays.

    Example:
        >>> default_collate([(np.zeros(2), 0), (np.ones(2), 1)])[1]
        array([0, 1])
        >>> default_collate([{"x": np.zeros(2), "y": 0}, {"x": np.ones(2), "y": 1}])["x"].shape
        (2, 2)
    """
    if not samples:
        raise ValueError("default_collate: got an empty list of samples")
    first = samples[0]
    if isinstance(first, Mapping):
        return _collate_field(samples, "")
    if not isinstance(first, (tuple, list)):
        return (_collate_field(samples, ""),)
    return _collate_field(samples, "")


def _collate_field(values: Sequence[Any], where: str) -> Any:
    """One field of every sample, stacked (tuples/lists and dicts field by field, recursively)."""
    first = values[0]
    if isinstance(first, Mapping):
        for v in values:
            if not isinstance(v, Mapping) or v.keys() != first.keys():
                raise ValueError(f"default_collate: every sample{where} must be a dict with keys "
                                 f"{sorted(first)}, got {v!r:.80}")  # fmt: skip
        return {k: _collate_field([v[k] for v in values], f"{where}[{k!r}]") for k in first}
    if isinstance(first, (tuple, list)):  # fields, as torch transposes any sequence
        width = len(first)
        for v in values:
            if not isinstance(v, (tuple, list)) or len(v) != width:
                raise ValueError(f"default_collate: every sample{where} must be a tuple of "
                                 f"{width} fields, got {v!r:.80}")  # fmt: skip
        return tuple(_collate_field([v[k] for v in values], f"{where}[{k}]") for k in range(width))
    try:
        return np.stack([np.asarray(v) for v in values])
    except ValueError as err:
        raise ValueError(f"default_collate: the samples' field{where} cannot be stacked "
                         f"({err})") from None  # fmt: skip


def _as_tensors(batch: Any) -> Any:
    """The batch's arrays as Tensors sharing their memory (PyTorch's DataLoader yields tensors,
    so `xb.to(device)`, `xb.size(0)`, `yb.long()` work), fields and dict values alike."""
    if isinstance(batch, tuple):
        return tuple(_as_tensors(f) for f in batch)
    if isinstance(batch, dict):
        return {k: _as_tensors(v) for k, v in batch.items()}
    return Tensor._wrap(batch, False) if isinstance(batch, np.ndarray) else batch


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


# Set once, as in torch: changing them later would leave the batch sampler built from the old ones.
_FIXED = ("batch_size", "batch_sampler", "sampler", "drop_last", "dataset", "persistent_workers")


class DataLoader:
    """Mini-batches from a dataset, as tuples of Tensors (PyTorch `DataLoader` convention).

    Args:
        dataset: a `Dataset` (anything with `__len__` and `__getitem__`).
        batch_size: samples per batch (>= 1).
        shuffle: a new random order every epoch (every `iter(loader)`): `sampler=RandomSampler`.
        sampler: the indices of one epoch (a `descentlab.data.sampler` Sampler or any iterable of
            indices, e.g. `WeightedRandomSampler`); not with `shuffle=True`.
        batch_sampler: yields whole lists of indices; not with `batch_size`, `shuffle`,
            `sampler` or `drop_last`.
        num_workers: accepted for torch code; descentlab loads every batch in this process (a
            TensorDataset batch is one fancy-indexing call, so worker processes would only copy),
            and the batches are exactly those of `num_workers=0`.
        collate_fn: turns a list of samples into a batch (default `default_collate`); a
            `TensorDataset` (or a `Subset` of one) without collate_fn skips per-sample Python and
            fancy-indexes its arrays with each batch's indices, whatever the sampler.
        pin_memory: there is no accelerator, so, as torch on a CPU-only machine, iterating warns
            that pinned memory won't be used and does nothing else.
        drop_last: drop the final incomplete batch.
        timeout: checked (>= 0) and unused: nothing waits on a worker.
        worker_init_fn: never called, as torch never calls it with `num_workers=0`: batches
            are loaded in this process, where there is no worker to set up. (Calling it here
            would re-seed this process with the same seed every epoch, e.g. PyTorch's
            `seed_worker` recipe, and freeze any NumPy-random augmentation.) Given with
            `num_workers > 0`, it warns once, when the loader is built.
        multiprocessing_context, prefetch_factor, persistent_workers, in_order: checked as torch
            does (they need `num_workers > 0`) and otherwise unused; `pin_memory_device` is
            deprecated in torch, which warns when it is given with `pin_memory=True`; so do we.
        generator: `np.random.Generator` for `shuffle=True`; default the global descentlab
            generator, so restoring `descentlab.set_rng_state` reproduces the order exactly.
        transform: (descentlab, keyword only) callable applied to the first field (the inputs) of
            every batch, e.g. an augmentation from `descentlab.data.transforms`.

    The indices of an epoch are drawn when iteration starts, so the RNG state at the start of an
    epoch fully determines that epoch's batches. As in torch, `sampler`, `batch_sampler`,
    `batch_size`, `drop_last`, `dataset` and `persistent_workers` cannot be changed afterwards.

    Example:
        >>> from descentlab.data import TensorDataset, WeightedRandomSampler
        >>> ds = TensorDataset(np.arange(6.0).reshape(3, 2), np.array([0, 1, 2]))
        >>> loader = DataLoader(ds, batch_size=2, shuffle=True, generator=np.random.default_rng(0))
        >>> sorted(int(v) for _, yb in loader for v in yb)
        [0, 1, 2]
        >>> rare = DataLoader(ds, batch_size=4, sampler=WeightedRandomSampler([0, 0, 1.0], 8))
        >>> len(rare), [yb.tolist() for _, yb in rare]
        (2, [[2, 2, 2, 2], [2, 2, 2, 2]])
    """

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int | None = 1,
        shuffle: bool | None = False,
        sampler: Sampler[Any] | Iterable[Any] | None = None,
        batch_sampler: Sampler[Any] | Iterable[Sequence[Any]] | None = None,
        num_workers: int = 0,
        collate_fn: Callable[[list[tuple[Any, ...]]], tuple[np.ndarray, ...]] | None = None,
        pin_memory: bool = False,
        drop_last: bool = False,
        timeout: float = 0,
        worker_init_fn: Callable[[int], Any] | None = None,
        multiprocessing_context: str | Any | None = None,
        generator: np.random.Generator | None = None,
        *,
        prefetch_factor: int | None = None,
        persistent_workers: bool = False,
        pin_memory_device: str = "",
        in_order: bool = True,
        transform: Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> None:
        if not hasattr(dataset, "__len__") or not hasattr(dataset, "__getitem__"):
            raise TypeError(
                f"DataLoader: dataset must have __len__ and __getitem__, got {type(dataset).__name__}; "
                "wrap arrays with TensorDataset(x, y)"
            )
        prefetch_factor = _check_workers(
            num_workers, timeout, prefetch_factor, persistent_workers, multiprocessing_context
        )
        shuffle = bool(shuffle)
        drop_last = check_bool(drop_last, "drop_last", "DataLoader")
        for name, value in (("sampler", sampler), ("batch_sampler", batch_sampler)):
            if value is not None and not hasattr(value, "__iter__"):
                raise TypeError(
                    f"DataLoader: {name} must be an iterable of indices such as a "
                    f"descentlab.data.sampler Sampler, got {type(value).__name__}"
                )
        if sampler is not None and shuffle:
            raise ValueError(
                "DataLoader: sampler option is mutually exclusive with shuffle; the sampler "
                "sets the order, so drop shuffle=True (RandomSampler / SubsetRandomSampler "
                "shuffle)"
            )
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError(
                    "DataLoader: batch_sampler option is mutually exclusive with batch_size, "
                    "shuffle, sampler, and drop_last; the batch sampler makes the batches, so "
                    "leave those at their defaults"
                )
            batch_size = None
        elif batch_size is None:
            raise ValueError(
                "DataLoader: batch_size=None (torch's unbatched loading, one sample at a time) "
                "is not supported; use batch_size=1, or index the dataset directly"
            )
        else:
            batch_size = check_positive_int(batch_size, "batch_size", "DataLoader")
        generator = check_generator(generator, "DataLoader")
        if transform is not None and not callable(transform):
            raise TypeError(f"DataLoader: transform must be callable, got {transform!r}")
        if worker_init_fn is not None and not callable(worker_init_fn):
            raise TypeError(f"DataLoader: worker_init_fn must be callable, got {worker_init_fn!r}")
        if worker_init_fn is not None and num_workers > 0:
            warnings.warn(
                "DataLoader: worker_init_fn is not called: descentlab loads batches in this "
                "process, with no worker processes to set up (seed augmentation through "
                "descentlab.manual_seed or the transform's own generator instead)",
                UserWarning,
                stacklevel=2,
            )
        if sampler is None:
            sampler = (
                RandomSampler(dataset, generator=generator)
                if shuffle
                else SequentialSampler(dataset)
            )
        if batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.num_workers = int(num_workers)
        self.collate_fn = collate_fn
        self.pin_memory = bool(pin_memory)
        self.drop_last = drop_last
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.generator = generator
        self.prefetch_factor = prefetch_factor
        self.persistent_workers = bool(persistent_workers)
        self.pin_memory_device = pin_memory_device
        self.in_order = bool(in_order)
        self.transform = transform
        self._initialized = True

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _FIXED and getattr(self, "_initialized", False):
            raise ValueError(
                f"DataLoader: {name} attribute should not be set after DataLoader is "
                "initialized; make a new DataLoader"
            )
        super().__setattr__(name, value)

    @property
    def num_samples(self) -> int:
        """Samples in the dataset (N)."""
        return len(self.dataset)

    def __len__(self) -> int:
        try:
            return len(self.batch_sampler)  # type: ignore[arg-type]
        except TypeError as err:
            raise TypeError(
                f"DataLoader: len() needs a sampler with __len__ ({err}); give the sampler a "
                "__len__, or iterate without len()"
            ) from err

    def batch_indices(self) -> list[np.ndarray]:
        """The index arrays of one epoch, drawing the random ones now (shuffle or a sampler)."""
        return list(self._index_batches())

    def _index_batches(self) -> Iterator[np.ndarray]:
        bs = self.batch_sampler
        if isinstance(bs, BatchSampler) and type(bs).__iter__ is BatchSampler.__iter__:
            return bs._index_batches()
        return (np.asarray(batch) for batch in bs)  # type: ignore[union-attr]

    def __iter__(self) -> Iterator[tuple[np.ndarray, ...]]:
        self._start_epoch()
        # Our samplers draw the epoch's indices here (not lazily per batch), so the RNG state
        # at the start of an epoch fully determines that epoch's order.
        batches = self._index_batches()
        view = None if self.collate_fn is not None else _array_view(self.dataset)
        return self._iterate(batches, view)

    def _start_epoch(self) -> None:
        """What torch does as an epoch's iterator starts: pinning warnings, new workers."""
        if self.pin_memory and self.pin_memory_device:
            warnings.warn(
                "pin_memory_device is deprecated, the current accelerator will be used as the "
                f"device, ignore pin_memory_device={self.pin_memory_device!r}.",
                UserWarning,
                stacklevel=3,
            )
        if self.pin_memory:
            warnings.warn(
                "'pin_memory' argument is set as true but no accelerator is found, then device "
                "pinned memory won't be used. (descentlab computes on the CPU; pass "
                "pin_memory=False to silence this.)",
                UserWarning,
                stacklevel=3,
            )

    def _iterate(
        self,
        batches: Iterator[np.ndarray],
        view: tuple[tuple[np.ndarray, ...], np.ndarray | None] | None,
    ) -> Iterator[tuple[np.ndarray, ...]]:
        collate = self.collate_fn or default_collate
        for idx in batches:
            if view is not None:
                arrays, index_map = view
                rows = idx if index_map is None else index_map[idx]
                batch = tuple(a[rows] for a in arrays)
            else:
                batch = collate([self.dataset[i] for i in idx.tolist()])
                if isinstance(batch, list):  # fields, as a tuple like every other batch
                    batch = tuple(batch)
            if self.transform is not None:
                if not isinstance(batch, tuple):
                    raise TypeError(
                        f"DataLoader: transform applies to a batch's first field, but the batch "
                        f"is a {type(batch).__name__}; transform inside the dataset or collate_fn"
                    )
                batch = (self.transform(batch[0]), *batch[1:])
            yield _as_tensors(batch)

    def __repr__(self) -> str:
        try:
            iterations: int | str = len(self)
        except TypeError:
            iterations = "unknown"
        custom = ""
        if not isinstance(self.sampler, (SequentialSampler, RandomSampler)):
            custom = f"sampler={type(self.sampler).__name__}, "
        if not isinstance(self.batch_sampler, BatchSampler) or self.batch_size is None:
            custom += f"batch_sampler={type(self.batch_sampler).__name__}, "
        return (
            f"DataLoader(num_samples={len(self.dataset)}, batch_size={self.batch_size}, "
            f"shuffle={self.shuffle}, drop_last={self.drop_last}, {custom}"
            f"iterations={iterations})"
        )


def _check_workers(
    num_workers: Any,
    timeout: Any,
    prefetch_factor: Any,
    persistent_workers: Any,
    multiprocessing_context: Any,
) -> int | None:
    """torch's checks of the worker options; the prefetch_factor torch would use."""
    if isinstance(num_workers, bool) or not isinstance(num_workers, (int, np.integer)):
        raise TypeError(f"DataLoader: num_workers must be an integer, got {num_workers!r}")
    if num_workers < 0:
        raise ValueError(
            "DataLoader: num_workers option should be non-negative; use num_workers=0 to "
            "disable multiprocessing."
        )
    if timeout < 0:
        raise ValueError("DataLoader: timeout option should be non-negative")
    if num_workers == 0 and prefetch_factor is not None:
        raise ValueError(
            "DataLoader: prefetch_factor option could only be specified in multiprocessing; "
            "let num_workers > 0 to enable multiprocessing, otherwise set prefetch_factor to None."
        )
    if num_workers > 0 and prefetch_factor is None:
        prefetch_factor = 2
    elif prefetch_factor is not None and prefetch_factor < 0:
        raise ValueError("DataLoader: prefetch_factor option should be non-negative")
    if persistent_workers and num_workers == 0:
        raise ValueError("DataLoader: persistent_workers option needs num_workers > 0")
    if multiprocessing_context is not None:
        if num_workers == 0:
            raise ValueError(
                "DataLoader: multiprocessing_context can only be used with multi-process "
                f"loading (num_workers > 0), but got num_workers={num_workers}"
            )
        methods = multiprocessing.get_all_start_methods()
        if isinstance(multiprocessing_context, str) and multiprocessing_context not in methods:
            raise ValueError(
                "DataLoader: multiprocessing_context option should specify a valid start method "
                f"in {methods!r}, but got multiprocessing_context={multiprocessing_context!r}"
            )
        if not isinstance(multiprocessing_context, (str, multiprocessing.context.BaseContext)):
            raise TypeError(
                "DataLoader: multiprocessing_context option should be a valid context object or "
                "a string specifying the start method, but got "
                f"multiprocessing_context={multiprocessing_context!r}"
            )
    return prefetch_factor
