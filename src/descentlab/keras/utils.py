"""Keras' utilities under Keras' names: `to_categorical`, `normalize`, `set_random_seed`, and the
batch datasets `PyDataset` / `Sequence` that `fit` takes.

Example:
    >>> from descentlab.keras.utils import to_categorical
    >>> to_categorical([0, 2, 1])
    array([[1., 0., 0.],
           [0., 0., 1.],
           [0., 1., 0.]])
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np

from descentlab.data.batches import PyDataset, Sequence
from descentlab.random import manual_seed

__all__ = ["to_categorical", "normalize", "set_random_seed", "PyDataset", "Sequence"]


def to_categorical(x: Any, num_classes: int | None = None) -> np.ndarray:
    """One-hot encode integer class labels: (..., ) -> (..., num_classes), float64.

    Convention: Keras 3's: a trailing axis of size 1 is dropped first ((n, 1) -> (n, classes));
    num_classes defaults to max(x) + 1. Unlike Keras, a label outside [0, num_classes) is an
    error rather than an IndexError (too large) or a silent wrap-around (negative).

    Example:
        >>> to_categorical(np.array([[1], [0]]), num_classes=3)
        array([[0., 1., 0.],
               [1., 0., 0.]])
    """
    labels = np.asarray(x)
    if labels.dtype == object or not (
        np.issubdtype(labels.dtype, np.integer) or np.issubdtype(labels.dtype, np.floating)
    ):
        raise TypeError(f"to_categorical: expected integer class labels, got dtype {labels.dtype}")
    if np.issubdtype(labels.dtype, np.floating) and (
        not np.all(np.isfinite(labels)) or np.any(labels != np.round(labels))
    ):
        raise ValueError("to_categorical: labels must be whole numbers (class indices)")
    labels = labels.astype(np.int64)
    shape = labels.shape
    if len(shape) > 1 and shape[-1] == 1:
        shape = shape[:-1]
    flat = labels.reshape(-1)
    if num_classes is None:
        num_classes = int(flat.max()) + 1 if flat.size else 0
    elif (
        isinstance(num_classes, bool)
        or not isinstance(num_classes, (int, np.integer))
        or (num_classes < 1)
    ):
        raise ValueError(f"to_categorical: num_classes must be an int >= 1, got {num_classes!r}")
    if flat.size and (flat.min() < 0 or flat.max() >= num_classes):
        bad = flat[(flat < 0) | (flat >= num_classes)][0]
        raise ValueError(
            f"to_categorical: label {bad} is out of range for num_classes={num_classes} "
            f"(labels must be in [0, {num_classes - 1}])"
        )
    out = np.zeros((flat.size, int(num_classes)))
    out[np.arange(flat.size), flat] = 1.0
    return out.reshape(*shape, int(num_classes))


def normalize(x: Any, axis: int = -1, order: int = 2) -> np.ndarray:
    """x divided by its L`order` norm along `axis` (a zero norm leaves the zeros as they are).

    Convention: Keras' `normalize`, except that axis=0 is honoured (Keras 3 turns it into -1).

    Example:
        >>> normalize(np.array([[3.0, 4.0]]))
        array([[0.6, 0.8]])
    """
    arr = np.asarray(x)
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
    norm = np.linalg.norm(arr, ord=order, axis=axis, keepdims=True)
    return arr / np.where(norm == 0, 1, norm)


def set_random_seed(seed: int) -> None:
    """Seed every generator a run draws from: Python's `random`, NumPy's legacy global one and
    descentlab's (initializers, dropout, shuffling), as Keras seeds Python, NumPy and its
    backend."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"set_random_seed: expected an int seed, got {seed!r}")
    random.seed(int(seed))
    np.random.seed(int(seed) % 2**32)
    manual_seed(int(seed))
