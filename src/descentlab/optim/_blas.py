"""Fused multiply-add passes for the optimizer step: y <- a*x + y and y <- a*x + b*y in one pass.

NumPy has no fused `a*x + y`: written with ufuncs it is two passes over memory and a temporary,
and an optimizer step is nothing but such passes (SGD with momentum: four; Adam: a dozen). The BLAS
that NumPy's wheels bundle (OpenBLAS) has the level-1 routine `axpby`, so this module calls it
through ctypes for float32 arrays when it can find it, and uses the NumPy form otherwise (another
BLAS, a non-contiguous array, and float64 always). `axpy` is `axpby` with b = 1 rather than BLAS's
own axpy: that one wakes OpenBLAS's worker threads, which then spin on the core our own step
threads (and the next GEMM) want, for no gain on cache-sized pieces.

`recording()` collects the passes instead of running them, for `run()` to run later on another
thread (the optimizer's "handed" step, see `optimizer._apply_handed`); `ufunc_pass(ufunc, ...)`
is a NumPy pass that is recorded alike.

Rounding: a fused multiply-add rounds once, so the result may differ from the two-pass NumPy form
in the last bit, and OpenBLAS picks its kernel by CPU. Which path runs depends only on the dtype
and layout, never on the size, so an array cut into pieces rounds exactly as the whole, and runs
stay reproducible bit for bit on a machine. float64, the dtype of gradient checks, parity tests
and the playground's figures, keeps NumPy's per-operation IEEE rounding, the same on every machine;
float32 is the training dtype, where the passes saved matter. Set DESCENTLAB_NO_BLAS=1 to always
use the NumPy form.

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
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["axpy", "axpby", "available", "recording", "run", "ufunc_pass"]

# cblas_saxpby by dtype (float32 only, see the module docstring), or None without a usable BLAS
_Routines = dict[np.dtype, Callable[..., None]]
_routines: _Routines | None = None
_loaded = False
_address: Callable[[np.ndarray], int] = lambda a: a.ctypes.data  # noqa: E731 (_blas_for sets it)


def _library_files() -> list[str]:
    """The OpenBLAS shared libraries shipped inside the NumPy wheel (Linux, macOS, Windows)."""
    root = os.path.dirname(np.__file__)
    patterns = [os.path.join(root, "..", "numpy.libs", "libscipy_openblas*"),
                os.path.join(root, ".dylibs", "libscipy_openblas*")]  # fmt: skip
    return sorted(f for pattern in patterns for f in glob.glob(pattern))


def _bind(lib: Any, name: str, index: type, scalar: type) -> Callable[..., None]:
    """cblas_?axpby(n, alpha, x, incx, beta, y, incy) from `lib`, typed for ctypes."""
    fn = getattr(lib, name)
    ptr = ctypes.c_void_p
    fn.argtypes = [index, scalar, ptr, index, scalar, ptr, index]
    fn.restype = None
    return fn


def _load() -> _Routines | None:
    """Find cblas_saxpby (64-bit or 32-bit integer interface) in NumPy's BLAS."""
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
                    np.dtype(np.float32): _bind(
                        lib, f"{prefix}saxpby{suffix}", index, ctypes.c_float
                    ),
                }
            except AttributeError:
                continue
    return None


def _array_data_address(a: np.ndarray) -> int:
    """The address of a's first element, read straight from NumPy's array struct.

    `a.ctypes.data` costs about 2 us (it builds a helper object), as much as an axpy on a thousand
    floats; the struct (PyArrayObject: the object header, then `char *data`) has kept this layout
    since NumPy 1.0, and `_load` checks it on probe arrays before relying on it.
    """
    return _pointer_at(id(a) + _DATA_OFFSET).value


_pointer_at = ctypes.c_void_p.from_address
_DATA_OFFSET = object.__basicsize__  # PyObject_HEAD: refcount and type pointer


def _address_reader() -> Callable[[np.ndarray], int]:
    """`_array_data_address` where it agrees with `a.ctypes.data`, else the slow, documented way."""
    base = np.arange(10.0)
    probes = [base, base[3:], base[::-1], np.zeros(0, np.float32), base[2:].view()]
    probes[-1].flags.writeable = False
    if all(_array_data_address(p) == p.ctypes.data for p in probes):
        return _array_data_address
    return lambda a: a.ctypes.data


def _blas_for(x: Any, y: Any, a: float, b: float) -> Callable[..., None] | None:
    """The axpby routine for this call, or None when the NumPy form must be used: no BLAS, not
    two arrays (a NumPy scalar has no data pointer to pass), dtypes, shapes or layouts that differ,
    or a zero coefficient (BLAS then skips that operand, so 0 * NaN would give 0, not NaN as NumPy
    and PyTorch give)."""
    global _routines, _loaded, _address
    if not _loaded:
        _address = _address_reader()
        _routines, _loaded = _load(), True
    if _routines is None or not (isinstance(x, np.ndarray) and isinstance(y, np.ndarray)):
        return None
    routine = _routines.get(x.dtype)  # first: float64, the usual other dtype, stops here
    if routine is None or x.dtype != y.dtype or x.shape != y.shape or not y.size:
        return None
    if a == 0.0 or b == 0.0:
        return None
    yflags = y.flags
    if not (x.flags.c_contiguous and yflags.c_contiguous and yflags.writeable):
        return None
    return routine


def available() -> bool:
    """Whether the fused BLAS routine was found (float32, contiguous arrays)."""
    probe = np.zeros(1, np.float32)
    return _blas_for(probe, probe, 1.0, 1.0) is not None


Call = tuple[Callable[..., Any], tuple[Any, ...], tuple[np.ndarray, ...]]  # fn, args, arrays


class _Recorder(threading.local):
    calls: list[Call] | None = None  # while recording() is open on this thread


_recorder = _Recorder()


class _Recording:
    # a class, not @contextmanager: the optimizer opens one per part of a step
    __slots__ = ("calls", "outer")

    def __enter__(self) -> list[Call]:
        self.outer, self.calls = _recorder.calls, []
        _recorder.calls = self.calls
        return self.calls

    def __exit__(self, *exc: object) -> None:
        _recorder.calls = self.outer


def recording() -> _Recording:
    """While open (`with recording() as calls:`), `axpy`, `axpby` and `ufunc_pass` on this thread
    append their pass to `calls` instead of running it; `run(calls)` runs them later, in order,
    on any thread.

    A pass is recorded as it would have run (the BLAS routine and the arrays' addresses, the
    NumPy form, or the ufunc and its arrays), so running the record gives the same bits as
    running the passes at once. The record keeps its arrays alive; nothing else may use them
    until it has run. The optimizer uses it to hand a ready list of passes to a helper thread,
    which then needs the GIL only for a moment between two passes (see
    `GradientTransformation.deferrable`).

    Example:
        >>> y = np.zeros(2, np.float32)
        >>> with recording() as calls:
        ...     axpy(2.0, np.ones(2, np.float32), y)
        >>> y  # nothing ran yet
        array([0., 0.], dtype=float32)
        >>> run(calls); y
        array([2., 2.], dtype=float32)
    """
    return _Recording()


def run(calls: list[Call]) -> None:
    """Run recorded passes in order (see `recording`)."""
    for fn, args, _ in calls:
        fn(*args)


def ufunc_pass(ufunc: np.ufunc, *args: Any) -> Any:
    """ufunc(*args) with the output array as the last argument (`ufunc_pass(np.sqrt, v, out)`),
    returning it: run now, or recorded while `recording()` is open on this thread.

    Example:
        >>> v = np.array([4.0, 9.0], np.float32)
        >>> ufunc_pass(np.sqrt, v, v)
        array([2., 3.], dtype=float32)
    """
    calls = _recorder.calls
    if calls is None:
        return ufunc(*args)
    calls.append((ufunc, args, ()))  # args holds the arrays alive
    return args[-1]


def _axpy_numpy(a: float, x: np.ndarray, y: np.ndarray) -> None:
    y += x * a if a != 1.0 else x


def _axpby_numpy(a: float, x: np.ndarray, b: float, y: np.ndarray) -> None:
    ax = x * a if a != 1.0 or np.may_share_memory(x, y) else x  # before y changes
    y *= b
    y += ax


def axpy(a: float, x: np.ndarray, y: np.ndarray) -> None:
    """y <- a * x + y, in place, in one pass (BLAS axpby with b = 1) where possible."""
    axpby(a, x, 1.0, y)


def axpby(a: float, x: np.ndarray, b: float, y: np.ndarray) -> None:
    """y <- a * x + b * y, in place, in one pass (BLAS axpby) where possible; x may be y."""
    routine = _blas_for(x, y, a, b)
    calls = _recorder.calls
    if routine is not None and calls is None:  # the usual case: no tuple built
        routine(y.size, a, _address(x), 1, b, _address(y), 1)
        return
    if routine is None:
        fn, args = (_axpy_numpy, (a, x, y)) if b == 1.0 else (_axpby_numpy, (a, x, b, y))
    else:
        fn, args = routine, (y.size, a, _address(x), 1, b, _address(y), 1)
    if calls is None:
        fn(*args)
    else:
        calls.append((fn, args, (x, y)))  # the addresses stay valid while the record lives
