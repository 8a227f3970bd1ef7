"""Helper threads for the threaded optimizer step: a bare task queue and one lock per task.

An optimizer step shares its work items with a few helper threads (NumPy and BLAS release the
GIL inside each pass). `concurrent.futures.ThreadPoolExecutor` works, but its `submit` builds a
Future with its own condition variable and takes two locks (about 30 us), and `result()` sleeps on
that condition even when the task is finished; a step of a million parameters takes about 1 ms, so
that is a few percent of it. Here a task is put on a `queue.SimpleQueue` (C code) and its end is a
`threading.Lock` that the helper releases: the caller's `acquire` returns at once when the helper
is already done.

Example:
    >>> workers = Workers(2)
    >>> workers.run(lambda: 1, helpers=1)  # the caller's result first, then each helper's
    [1, 1]
    >>> workers.close()
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["Workers"]

_Task = tuple[Callable[[], Any], threading.Lock, list[Any]]


def _task_end() -> threading.Lock:
    """A held lock that the helper releases when its task ends."""
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

    def run(self, fn: Callable[[], Any], helpers: int,
            helper_fn: Callable[[], Any] | None = None) -> list[Any]:  # fmt: skip
        """fn() here and on `helpers` threads (at most `size`), or `helper_fn()` there when given;
        waits for every one of them, even when one raises or the wait is interrupted (Ctrl-C): no
        helper outlives the call. Then raises the first error. A closed pool runs fn here only
        (fn must not rely on helpers, and a helper_fn's work must be done by fn then too)."""
        pending = []
        with self._lock:  # after close(), a queued task would wait forever behind its end markers
            for _ in range(0 if self._closed else min(helpers, self.size)):
                done = _task_end()
                out: list[Any] = []
                self._tasks.put((fn if helper_fn is None else helper_fn, done, out))
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
