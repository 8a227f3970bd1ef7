"""Helper threads for the threaded optimizer step: a bare task queue and one lock per task.

An optimizer step shares its work items with a few helper threads (NumPy and BLAS release the
GIL inside each pass). `concurrent.futures.ThreadPoolExecutor` works, but its `submit` builds a
Future with its own condition variable and takes two locks (about 30 us), and `result()` sleeps on
that condition even when the task is finished; a step of a million parameters takes about 1 ms, so
that is a few percent of it. Here a task is put on a `queue.SimpleQueue` (C code) and its end is a
lock that the helper releases: the caller's `acquire` returns at once when the helper is already
done, and otherwise spins (`_SpinDone`) rather than letting its core go idle.

Example:
    >>> workers = Workers(2)
    >>> workers.run(lambda: 1, helpers=1)  # the caller's result first, then each helper's
    [1, 1]
    >>> workers.close()
"""

from __future__ import annotations

import ctypes
import ctypes.util
import queue
import sys
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["Workers"]

_Task = tuple[Callable[[], Any], Any, list[Any]]


def _spin_routines() -> tuple[Callable[..., int], Callable[..., int], Callable[..., int]] | None:
    """pthread_spin_init, _lock and _unlock from the C library (Linux), or None."""
    name = ctypes.util.find_library("c") if sys.platform.startswith("linux") else None
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
        routines = (libc.pthread_spin_init, libc.pthread_spin_lock, libc.pthread_spin_unlock)
    except (OSError, AttributeError):
        return None
    for f in routines:
        f.restype = ctypes.c_int
        f.argtypes = [ctypes.c_void_p]
    routines[0].argtypes = [ctypes.c_void_p, ctypes.c_int]  # init(lock, pshared)
    return routines


_SPIN = _spin_routines()


class _SpinDone:
    """The end of one task, waited for by spinning: the helper's `release()` clears a spinlock that
    the caller's `acquire()` spins on, in C with the GIL released.

    A thread that sleeps on a lock lets its core go idle, and a virtual machine wakes an idle core
    slowly: 30-50 us on the machine the benchmarks ran on, a tenth of a step of a million parameters. The caller only
    waits here for the rest of one step's share of work, so the spin is short (OpenMP's workers,
    PyTorch's, spin likewise). The lock is set by the caller and cleared by the helper: in glibc
    and musl a spinlock is one word set and cleared atomically, whichever thread clears it.
    """

    __slots__ = ("_word", "_address")

    def __init__(self) -> None:
        self._word = (ctypes.c_int64 * 8)()  # a cache line of its own
        self._address = ctypes.addressof(self._word)
        _SPIN[0](self._address, 0)
        _SPIN[1](self._address)

    def release(self) -> None:
        _SPIN[2](self._address)

    def acquire(self) -> bool:
        _SPIN[1](self._address)
        return True


def _task_end() -> Any:
    """A held lock the helper releases when its task ends: a spinning one where the C library has
    spinlocks (`_SpinDone`), else a `threading.Lock`."""
    if _SPIN is not None:
        return _SpinDone()
    done = threading.Lock()
    done.acquire()
    return done


class Workers:
    """`size` daemon threads that run tasks; `run(fn, helpers)` runs fn on the caller's thread
    and on `helpers` of them at once and returns the results in order, the caller's first."""

    def __init__(self, size: int, name: str = "descentlab-optim") -> None:
        self.size = size
        self._tasks: queue.SimpleQueue[_Task | None] = queue.SimpleQueue()
        self._lock = threading.Lock()  # orders run()'s tasks against close()'s end markers
        self._closed = False
        self._threads = [
            threading.Thread(target=self._serve, name=f"{name}_{i}", daemon=True)
            for i in range(size)
        ]
        for t in self._threads:
            t.start()

    def _serve(self) -> None:
        while (task := self._tasks.get()) is not None:
            fn, done, out = task
            try:
                out.append(fn())
            except BaseException as e:  # handed to the caller, raised there
                out.append(e)
            finally:
                done.release()

    def run(self, fn: Callable[[], Any], helpers: int) -> list[Any]:
        """fn() here and on `helpers` threads (at most `size`); waits for every one of them, even
        when one raises or the wait is interrupted (Ctrl-C): no helper outlives the call. Then
        raises the first error. A closed pool runs fn here only (fn must not rely on helpers)."""
        pending = []
        with self._lock:  # after close(), a queued task would wait forever behind its end markers
            for _ in range(0 if self._closed else min(helpers, self.size)):
                done = _task_end()
                out: list[Any] = []
                self._tasks.put((fn, done, out))
                pending.append((done, out))
        results: list[Any] = []
        try:
            results.append(fn())
        finally:
            interrupted: BaseException | None = None
            for done, out in pending:
                while True:
                    try:
                        done.acquire()
                        break
                    except BaseException as e:  # a signal in the wait: wait on, raise it after
                        interrupted = interrupted or e
                        if out:  # the helper had finished: the signal came after the wait
                            break
                results.append(out[0])
            if interrupted is not None:
                raise interrupted
        for r in results:
            if isinstance(r, BaseException):
                raise r
        return results

    def close(self) -> None:
        """Let the threads end once the tasks already queued are done."""
        with self._lock:
            self._closed = True
            for _ in self._threads:
                self._tasks.put(None)
