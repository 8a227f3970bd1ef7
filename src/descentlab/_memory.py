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
    """An uninitialised C-contiguous array of `shape` whose data starts on a 64-byte boundary
    (object arrays, which hold references, come from NumPy as usual)."""
    dtype = np.dtype(dtype)
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    if dtype.hasobject:
        return np.empty(shape, dtype)
    nbytes = math.prod(shape) * dtype.itemsize
    raw = np.empty(nbytes + ALIGNMENT, np.uint8)
    start = -raw.ctypes.data % ALIGNMENT
    return raw[start : start + nbytes].view(dtype).reshape(shape)


def full_aligned(like: Any, value: float) -> np.ndarray:
    """`np.full_like(like, value)`, aligned when `like` is C-ordered (other layouts are kept, as
    `full_like` keeps them: the optimizer's passes then run alike on the parameter and its state)."""
    like = np.asarray(like)
    if not like.flags.c_contiguous:
        return np.full_like(like, value)
    out = empty_aligned(like.shape, like.dtype)
    out.fill(value)
    return out


def copy_aligned(a: Any) -> np.ndarray:
    """A copy of `a`, aligned when `a` is C-ordered (other layouts are copied as they are)."""
    a = np.asarray(a)
    if not a.flags.c_contiguous:
        return a.copy(order="K")
    out = empty_aligned(a.shape, a.dtype)
    np.copyto(out, a)
    return out
