"""Per-thread scratch memory for the optimizer step, so a step on cache-sized work items allocates
nothing.

A transform's intermediate (Adam's g^2 and sqrt(v) + eps, RMSprop's mean square, a Nesterov
look-ahead) lives only until the work item's update is added to the parameters. Allocating it
afresh costs more than the arithmetic on it: a megabyte comes from the operating system as fresh
pages (glibc hands large blocks back to it on free, above all in the arenas of non-main threads),
and touching them costs a page fault per 4 KiB, for a buffer that one NumPy pass then fills in
about 20 us. So while a step's work item (or whole-array step) runs, inside `work_item()`,
`temporary(like)` carves its arrays from this thread's workspace, which the next one reuses;
outside, or once the workspace is full, it is `np.empty_like`.

Example:
    >>> g = np.ones(4, np.float32)
    >>> with work_item():
    ...     tmp = np.multiply(g, g, out=temporary(g))  # in this thread's workspace
    ...     float(tmp.sum())
    4.0
"""

from __future__ import annotations

import threading

import numpy as np

from descentlab._memory import ALIGNMENT, empty_aligned

__all__ = ["temporary", "work_item", "scratch", "WORKSPACE_ELEMENTS"]

# Elements of each dtype a thread's workspace holds (16 MiB of float32: sixteen work items' worth
# of temporaries, see optimizer._CHUNK, or a whole-array step of a few million parameters); a
# chain asking for more gets new arrays, correct but slower. Pages are only committed once touched.
WORKSPACE_ELEMENTS = 1 << 22


class _ThreadState(threading.local):
    def __init__(self) -> None:
        self.open = 0  # nesting depth of work_item()
        self.used: dict[np.dtype, int] = {}
        self.arenas: dict[np.dtype, np.ndarray] = {}
        self.scratch: dict[tuple[np.dtype, int], np.ndarray] = {}


_thread = _ThreadState()


class _WorkItem:
    # a class, not @contextmanager: a step opens one per work item, and a generator-based context
    # manager costs a few microseconds each time
    __slots__ = ("state",)

    def __enter__(self) -> None:
        self.state = state = _thread
        if state.open == 0:
            state.used.clear()
        state.open += 1

    def __exit__(self, *exc: object) -> None:
        self.state.open -= 1


def work_item() -> _WorkItem:
    """While open (`with work_item():`), `temporary` hands out this thread's workspace; the next
    work item reuses it, so nothing taken here may be kept past the block."""
    return _WorkItem()


def temporary(like: np.ndarray) -> np.ndarray:
    """An uninitialised array with `like`'s shape and dtype, for an intermediate of one step."""
    state = _thread
    n = like.size
    if state.open == 0 or n > WORKSPACE_ELEMENTS:
        return np.empty_like(like)
    dtype = like.dtype
    start = state.used.get(dtype, 0)
    if start + n > WORKSPACE_ELEMENTS:
        return np.empty_like(like)
    arena = state.arenas.get(dtype)
    if arena is None:
        arena = state.arenas[dtype] = empty_aligned(WORKSPACE_ELEMENTS, dtype)
    step = max(1, ALIGNMENT // dtype.itemsize)  # the next temporary starts on a cache line too
    state.used[dtype] = start + -(-n // step) * step
    return arena[start : start + n].reshape(like.shape)


def scratch(dtype: np.dtype, n: int) -> np.ndarray:
    """This thread's reusable buffer of n elements, kept between steps (a work item's gradient
    copies are written here); distinct from `temporary`'s workspace."""
    key = (np.dtype(dtype), n)
    buf = _thread.scratch.get(key)
    if buf is None:
        buf = _thread.scratch[key] = empty_aligned(n, dtype)
    return buf
