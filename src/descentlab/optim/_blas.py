"""Fused multiply-add passes for the optimizer step: y <- a*x + y and y <- a*x + b*y in one pass.

NumPy has no fused `a*x + y`: written with ufuncs it is two passes over memory and a temporary,
and an optimizer step is nothing but such passes (SGD with momentum: four; Adam: a dozen). The BLAS
that NumPy's wheels bundle (OpenBLAS) has them as level-1 routines, `axpy` (threaded for long
vectors) and `axpby`, so this module calls those through ctypes when it can find them, and falls
back to NumPy otherwise (another BLAS, a dtype other than float32/float64, a non-contiguous
array). The rounding may differ from the two-pass NumPy form in the last bit (a fused multiply-add
rounds once); a given machine and array layout always takes the same path, so runs stay
reproducible bit for bit. Set DESCENTLAB_NO_BLAS=1 to always use the NumPy form.

Example:
    >>> import numpy as np
    >>> y = np.array([1.0, 2.0], np.float32)
    >>> axpby(0.5, np.array([2.0, 4.0], np.float32), 0.9, y)  # y <- 0.5 x + 0.9 y
    >>> y
    array([1.9, 3.8], dtype=float32)
"""

from __future__ import annotations

import ctypes
import glob
import os
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["axpy", "axpby", "available"]

# (axpy, axpby) per dtype, or None when no usable BLAS was found
_Routines = dict[np.dtype, tuple[Callable[..., None], Callable[..., None]]]
_routines: _Routines | None = None
_loaded = False


def _library_files() -> list[str]:
    """The OpenBLAS shared libraries shipped inside the NumPy wheel (Linux, macOS, Windows)."""
    root = os.path.dirname(np.__file__)
    patterns = [os.path.join(root, "..", "numpy.libs", "libscipy_openblas*"),
                os.path.join(root, ".dylibs", "libscipy_openblas*")]  # fmt: skip
    return sorted(f for pattern in patterns for f in glob.glob(pattern))


def _bind(lib: Any, name: str, index: type, scalar: type, with_beta: bool) -> Callable[..., None]:
    fn = getattr(lib, name)
    ptr = ctypes.c_void_p
    fn.argtypes = (
        [index, scalar, ptr, index, scalar, ptr, index]
        if with_beta
        else [index, scalar, ptr, index, ptr, index]
    )
    fn.restype = None
    return fn


def _load() -> _Routines | None:
    """Find cblas_?axpy / cblas_?axpby (64-bit or 32-bit integer interface) in NumPy's BLAS."""
    if os.environ.get("DESCENTLAB_NO_BLAS", "") not in ("", "0"):
        return None
    for path in _library_files():
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix, suffix, index in (("scipy_cblas_", "64_", ctypes.c_int64),
                                      ("cblas_", "64_", ctypes.c_int64),
                                      ("cblas_", "", ctypes.c_int)):  # fmt: skip
            try:
                return {
                    np.dtype(np.float32): (
                        _bind(lib, f"{prefix}saxpy{suffix}", index, ctypes.c_float, False),
                        _bind(lib, f"{prefix}saxpby{suffix}", index, ctypes.c_float, True),
                    ),
                    np.dtype(np.float64): (
                        _bind(lib, f"{prefix}daxpy{suffix}", index, ctypes.c_double, False),
                        _bind(lib, f"{prefix}daxpby{suffix}", index, ctypes.c_double, True),
                    ),
                }
            except AttributeError:
                continue
    return None


def _blas_for(
    x: np.ndarray, y: np.ndarray
) -> tuple[Callable[..., None], Callable[..., None]] | None:
    """The routines for this pair, or None when the NumPy form must be used."""
    global _routines, _loaded
    if not _loaded:
        _routines, _loaded = _load(), True
    if _routines is None or x.dtype != y.dtype or x.shape != y.shape or not y.size:
        return None
    if not (x.flags.c_contiguous and y.flags.c_contiguous and y.flags.writeable):
        return None
    return _routines.get(x.dtype)


def available() -> bool:
    """Whether the fused BLAS routines were found (float32 and float64, contiguous arrays)."""
    probe = np.zeros(1)
    return _blas_for(probe, probe) is not None


def axpy(a: float, x: np.ndarray, y: np.ndarray) -> None:
    """y <- a * x + y, in place, in one pass (BLAS axpy) where possible."""
    routines = _blas_for(x, y)
    if routines is None:
        y += x * a if a != 1.0 else x
    else:
        routines[1](y.size, a, x.ctypes.data, 1, 1.0, y.ctypes.data, 1)


def axpby(a: float, x: np.ndarray, b: float, y: np.ndarray) -> None:
    """y <- a * x + b * y, in place, in one pass (BLAS axpby) where possible."""
    routines = _blas_for(x, y)
    if routines is None:
        y *= b
        y += x * a if a != 1.0 else x
    else:
        routines[1](y.size, a, x.ctypes.data, 1, b, y.ctypes.data, 1)
