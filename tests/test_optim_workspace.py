"""The optimizer step's per-thread workspace: temporaries are carved from it while a work item runs,
so a step allocates (almost) nothing, and nothing handed out is shared by two live arrays."""

from __future__ import annotations

import threading
import tracemalloc

import numpy as np
import pytest

import descentlab as dl
from descentlab import optim
from descentlab.optim import workspace
from descentlab.optim.optimizer import _Tuner
from descentlab.optim.workspace import WORKSPACE_ELEMENTS, temporary, work_item


def test_outside_a_work_item_temporaries_are_new_arrays():
    like = np.ones((2, 3), np.float32)
    a, b = temporary(like), temporary(like)
    assert a.shape == (2, 3) and a.dtype == np.float32
    assert not np.shares_memory(a, b)


def test_inside_a_work_item_temporaries_do_not_overlap_and_the_next_item_reuses_them():
    like = np.ones(10, np.float64)
    with work_item():
        a, b = temporary(like), temporary(like.reshape(2, 5))
        c = temporary(like.astype(np.float32))  # another dtype: another arena
        assert b.shape == (2, 5) and c.dtype == np.float32
        assert not np.shares_memory(a, b)
        with work_item():  # nested: still the same item, no reset
            d = temporary(like)
        assert not np.shares_memory(d, a) and not np.shares_memory(d, b)
    with work_item():
        e = temporary(like)
    assert np.shares_memory(e, a)  # the next item starts over


def test_a_full_workspace_falls_back_to_new_arrays():
    with work_item():
        big = temporary(np.empty(WORKSPACE_ELEMENTS - 4, np.float32))
        rest = temporary(np.empty(8, np.float32))  # does not fit any more
        assert not np.shares_memory(big, rest)
        huge = temporary(np.empty(WORKSPACE_ELEMENTS + 1, np.float32))
        assert not np.shares_memory(huge, big)


def test_each_thread_has_its_own_workspace():
    like = np.ones(16, np.float32)
    with work_item():
        mine = temporary(like)
    theirs = []

    def other() -> None:
        with work_item():
            theirs.append(temporary(like))

    t = threading.Thread(target=other)
    t.start()
    t.join()
    assert not np.shares_memory(mine, theirs[0])
    assert workspace.scratch(np.float32, 8) is workspace.scratch(np.float32, 8)


@pytest.mark.parametrize("way", ["whole", "pieces", "threads"])
@pytest.mark.parametrize(
    "make",
    [
        lambda ps: optim.Adam(ps, lr=1e-3),
        lambda ps: optim.RMSprop(ps, lr=1e-3),
        lambda ps: optim.Adagrad(ps, lr=1e-2),
        lambda ps: optim.SGD(ps, lr=1e-2, momentum=0.9, nesterov=True),
        lambda ps: optim.Adadelta(ps),
    ],
    ids=["adam", "rmsprop", "adagrad", "sgd_nesterov", "adadelta"],
)
def test_a_warm_step_allocates_almost_nothing(make, way, monkeypatch):
    """Before the workspace, every step allocated a temporary the size of each tensor (Adam's g^2,
    RMSprop's mean square), about one parameter-sized array per step."""
    monkeypatch.setattr(_Tuner, "choose", lambda self, ways: way if way in ways else ways[0])
    rng = np.random.default_rng(0)
    params = [dl.nn.Parameter(rng.standard_normal(n).astype(np.float32)) for n in (300_000, 200)]
    for p in params:
        p.grad = rng.standard_normal(p.data.shape).astype(np.float32)
    opt = make(params)
    for _ in range(3):  # state, scratch buffers, the thread pool and workspaces are created
        opt.step()
    tracemalloc.start()
    try:
        opt.step()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    param_bytes = sum(p.data.nbytes for p in params)
    assert peak < param_bytes / 10, f"a step allocated {peak} bytes ({param_bytes} in parameters)"
