"""Parameters, optimizer state and the step's workspace sit on 64-byte boundaries (as PyTorch's CPU
allocator places tensors), and nothing else about them changes."""

from __future__ import annotations

import numpy as np
import pytest

import descentlab as dl
from descentlab import optim
from descentlab._memory import ALIGNMENT, copy_aligned, empty_aligned, full_aligned
from descentlab.optim.workspace import temporary, work_item


def _aligned(a: np.ndarray) -> bool:
    return a.size == 0 or a.ctypes.data % ALIGNMENT == 0  # an empty array has no data to align


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16, np.int64, np.uint8])
@pytest.mark.parametrize("shape", [(), (0,), (1,), (7,), (3, 5), (2, 3, 4)])
def test_empty_full_and_copy_are_aligned_c_ordered_and_sized(dtype, shape):
    a = empty_aligned(shape, dtype)
    assert _aligned(a) and a.shape == shape and a.dtype == dtype and a.flags.c_contiguous
    assert a.flags.writeable
    f = full_aligned(a, 3)
    assert _aligned(f) and np.all(f == 3) and f.shape == shape
    src = np.arange(int(np.prod(shape)), dtype=dtype).reshape(shape)
    c = copy_aligned(src)
    assert _aligned(c) and np.array_equal(c, src) and not np.shares_memory(c, src)


def test_other_layouts_plain_values_and_object_arrays_are_copied_as_numpy_would():
    assert empty_aligned(5, np.float32).shape == (5,)
    f = np.asfortranarray(np.arange(6.0).reshape(2, 3))
    for made in (copy_aligned(f), full_aligned(f, 1.0)):
        assert made.flags.f_contiguous  # like the parameter: its state steps alike
    assert np.array_equal(copy_aligned(f), f)
    assert full_aligned([1.0, 2.0], 0.0).tolist() == [0.0, 0.0]
    assert copy_aligned([[1.0, 2.0]]).shape == (1, 2)
    objects = np.array([1, "a"], dtype=object)
    assert copy_aligned(objects).tolist() == [1, "a"]


def test_a_parameter_holds_an_aligned_copy_of_the_callers_array():
    for _ in range(5):  # NumPy's own allocations are 16-byte aligned: some would miss by chance
        a = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
        p = dl.nn.Parameter(a)
        assert _aligned(p.data) and np.array_equal(p.data, a) and not np.shares_memory(p.data, a)
        assert p.data.dtype == np.float32 and p.data.shape == (4, 3)
    f = np.asfortranarray(np.ones((3, 2)))
    assert np.array_equal(dl.nn.Parameter(f).data, f)  # other layouts: a plain copy
    assert _aligned(dl.nn.Linear(5, 3).weight.data)


@pytest.mark.parametrize(
    "make, keys",
    [
        (lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9), ["momentum_buffer"]),
        (lambda ps: optim.Adam(ps, lr=0.1), ["exp_avg", "exp_avg_sq"]),
        (lambda ps: optim.RMSprop(ps, lr=0.1), ["square_avg"]),
        (lambda ps: optim.Adagrad(ps, lr=0.1), ["sum"]),
    ],
)
def test_optimizer_state_is_aligned(make, keys):
    params = [dl.nn.Parameter(np.ones(n, np.float32)) for n in (3, 100, 1001)]
    for p in params:
        p.grad = np.full(p.data.shape, 0.5, np.float32)
    opt = make(params)
    opt.step()
    for i in range(len(params)):
        for k in keys:
            assert _aligned(opt.state[i][k]), k


def test_temporaries_start_on_cache_lines():
    like = np.ones(7, np.float32)  # 28 bytes: the next one is moved to the next line
    with work_item():
        tmps = [temporary(like) for _ in range(4)]
    assert all(_aligned(t) for t in tmps)
    assert len({t.ctypes.data for t in tmps}) == 4


def test_flat_buffers_are_aligned_and_kept_from_step_to_step():
    # the flat buffers are views of raw aligned memory: recognising them by their owner, a step
    # must not rebuild them (a copy of all state, and arrays a user holds gone stale)
    rng = np.random.default_rng(0)
    ps = [dl.nn.Parameter(rng.standard_normal(s).astype(np.float32)) for s in [(30,), (7, 3)]]
    opt = optim.Adam(ps, lr=0.01).flatten()
    seen = []
    for _ in range(4):
        for p in ps:
            p.grad = np.ones(p.data.shape, np.float32)
        opt.step()
        cache = opt._flat_cache[0]
        seen.append((cache["buf"], cache["state"]["exp_avg"], opt.state[ps[1]]["exp_avg"]))
    assert all(all(a is b for a, b in zip(s, seen[0])) for s in seen)
    assert _aligned(seen[0][0]) and _aligned(seen[0][1])
    assert all(np.shares_memory(p.data, seen[0][0]) for p in ps)
