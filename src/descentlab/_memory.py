"""Arrays whose data starts on a cache line (64 bytes), as PyTorch's CPU allocator gives them.

NumPy's allocator aligns array data to 16 bytes only. An optimizer step is a handful of passes
over arrays of a million floats, each streaming its operands through 32-byte SIMD loads and
stores; when every other one straddles two cache lines, a pass takes a few percent longer
(`benchmarks/bench_optim.py`, SGD with momentum: 2-4%). Arrays that descentlab allocates for the
long run (parameters, optimizer state, the step's workspace) come from here.

Example:
    >>> a = empty_aligned((3, 4), np.float32)
    >>> a.ctypes.data % ALIGNMENT, a.shape, a.flags.c_contiguous
    (0, (3, 4), True)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["ALIGNMENT", "empty_aligned", "copy_aligned", "full_aligned"]

ALIGNMENT = 64


def empty_aligned(shape: int | tuple[int, ...], dtype: Any = np.float64) -> np.ndarray:
    """An uninitialised C-contiguous array of `shape` whose data starts on a 64-byte boundary."""
    dtype = np.dtype(dtype)
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    nbytes = math.prod(shape) * dtype.itemsize
    raw = np.empty(nbytes + ALIGNMENT, np.uint8)
    start = -raw.ctypes.data % ALIGNMENT
    return raw[start : start + nbytes].view(dtype).reshape(shape)


def full_aligned(like: np.ndarray, value: float) -> np.ndarray:
    """`np.full_like(like, value)`, aligned (C order)."""
    out = empty_aligned(like.shape, like.dtype)
    out.fill(value)
    return out


def copy_aligned(a: np.ndarray) -> np.ndarray:
    """A C-ordered copy of `a`, aligned."""
    out = empty_aligned(a.shape, a.dtype)
    np.copyto(out, a)
    return out
