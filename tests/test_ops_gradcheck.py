"""Float64 gradient checks (central differences) for every differentiable op of the engine.

The fixed catalogue in engine_cases.py covers each op and its variants; hypothesis then draws
broadcasting shapes for the binary ops, axes for the reductions and indices for getitem.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, mutually_broadcastable_shapes

import descentlab as dl
from descentlab import gradcheck
from descentlab.nn import functional as F
from engine_cases import CASES, Case, values

FAST = settings(max_examples=15, deadline=None)


def single_output(fn):
    """gradcheck needs one tensor: join several outputs (split) into one flat vector."""

    def wrapped(*xs):
        out = fn(*xs)
        if isinstance(out, (tuple, list)):
            return dl.concat([o.reshape(-1) for o in out])
        return out

    return wrapped


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_gradcheck_catalogue(case: Case):
    assert gradcheck(single_output(case.ours), *case.arrays())


# ----------------------------------------------------------------- ops beyond the torch catalogue
@pytest.mark.parametrize(
    "fn, shapes",
    [
        (lambda a: a[::-1, 1::2], [(4, 5)]),  # negative step (torch has none)
        (lambda a: a[np.array([[0, 1], [1, 1]])], [(3, 2)]),  # 2-D integer index, repeats
        (lambda a: a[1:, np.array([2, 0, 2]), None], [(3, 4)]),
        (lambda a: a[np.array([True, False, True]), 1:], [(3, 4)]),
        (lambda a: dl.pad(a, [(1, 0), (2, 3)]), [(2, 3)]),  # NumPy-style widths
        (lambda a: a.prod((0, 2), keepdims=True), [(2, 3, 2)]),
        (lambda a: a.var((0, 1), correction=0), [(3, 4)]),
        (lambda a: a.std(1, unbiased=False), [(3, 4)]),
        (lambda a, b: dl.where(a.data > 0, a, 2.0) * b, [(3, 4), (4,)]),
        (lambda a: a.sum(1).sum(), [(3, 4)]),
        (lambda a: dl.logsumexp(a, axis=None), [(3, 4)]),
        (lambda a: (a.exp() + 1).log() - a.sigmoid().log1p(), [(5,)]),
    ],
)
def test_gradcheck_more_variants(fn, shapes):
    rng = np.random.default_rng(3)
    arrays = [values(rng, s, "away") for s in shapes]
    assert gradcheck(fn, *arrays)


def test_gradcheck_prod_with_zeros():
    """prod's backward must be exact with one zero and with two zeros in a row."""
    x = np.array([[1.5, 0.0, -2.0], [0.0, 0.0, 3.0], [0.5, 2.0, -1.0]])
    assert gradcheck(lambda a: a.prod(1), x)
    assert gradcheck(lambda a: a.prod(), np.array([2.0, 0.0, -3.0]))


def test_gradcheck_cross_entropy_with_integer_labels():
    logits = np.random.default_rng(0).standard_normal((6, 5))
    labels = np.array([0, 4, 4, 1, 2, 3])
    assert gradcheck(lambda z, y: F.cross_entropy(z, y), logits, labels)


# ----------------------------------------------------------------- hypothesis: broadcasting shapes
BINARY = {
    "add": (lambda a, b: a + b, "real", "real"),
    "sub": (lambda a, b: a - b, "real", "real"),
    "mul": (lambda a, b: a * b, "real", "real"),
    "div": (lambda a, b: a / b, "real", "away"),
    "pow": (lambda a, b: a**b, "pos", "real"),
    "maximum": (dl.maximum, "distinct", "distinct"),
    "minimum": (dl.minimum, "distinct", "distinct"),
}


@FAST
@given(
    shapes=mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3),
    op=st.sampled_from(sorted(BINARY)),
    seed=st.integers(0, 2**16),
)
def test_gradcheck_binary_broadcasting(shapes, op, seed):
    fn, dom_a, dom_b = BINARY[op]
    rng = np.random.default_rng(seed)
    a, b = values(rng, shapes.input_shapes[0], dom_a), values(rng, shapes.input_shapes[1], dom_b)
    if op in ("maximum", "minimum"):
        b = b + 0.05  # offset the two grids so no broadcast pair ties
    out = fn(dl.tensor(a), dl.tensor(b))
    assert out.shape == shapes.result_shape
    assert gradcheck(fn, a, b)


@FAST
@given(
    shapes=mutually_broadcastable_shapes(num_shapes=3, min_dims=0, max_dims=3, max_side=3),
    seed=st.integers(0, 2**16),
)
def test_gradcheck_where_broadcasting(shapes, seed):
    rng = np.random.default_rng(seed)
    cond = rng.random(shapes.input_shapes[0]) > 0.5
    a, b = (rng.standard_normal(s) for s in shapes.input_shapes[1:])
    assert gradcheck(lambda x, y: dl.where(cond, x, y), a, b)


@FAST
@given(
    batch=mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=2, max_side=3),
    m=st.integers(1, 3),
    k=st.integers(1, 3),
    n=st.integers(1, 3),
    vec=st.sampled_from(["none", "left", "right"]),
    seed=st.integers(0, 2**16),
)
def test_gradcheck_matmul_shapes(batch, m, k, n, vec, seed):
    rng = np.random.default_rng(seed)
    a_shape = (k,) if vec == "left" else batch.input_shapes[0] + (m, k)
    b_shape = (k,) if vec == "right" else batch.input_shapes[1] + (k, n)
    a, b = rng.standard_normal(a_shape), rng.standard_normal(b_shape)
    assert dl.matmul(dl.tensor(a), dl.tensor(b)).shape == np.matmul(a, b).shape
    assert gradcheck(dl.matmul, a, b)


REDUCTIONS = {
    "sum": lambda x, ax, kd: x.sum(ax, keepdims=kd),
    "mean": lambda x, ax, kd: x.mean(ax, keepdims=kd),
    "var": lambda x, ax, kd: x.var(ax, keepdims=kd, correction=0),
    "std": lambda x, ax, kd: x.std(ax, keepdims=kd, correction=0),
    "max": lambda x, ax, kd: x.max(ax, keepdims=kd),
    "min": lambda x, ax, kd: x.min(ax, keepdims=kd),
    "prod": lambda x, ax, kd: x.prod(ax, keepdims=kd),
    "logsumexp": lambda x, ax, kd: x.logsumexp(ax, keepdims=kd),
}


@FAST
@given(
    shape=array_shapes(min_dims=1, max_dims=3, min_side=2, max_side=3),
    data=st.data(),
    op=st.sampled_from(sorted(REDUCTIONS)),
    keepdims=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_gradcheck_reductions_over_axes(shape, data, op, keepdims, seed):
    ndim = len(shape)
    axis = data.draw(
        st.one_of(
            st.none(),
            st.integers(-ndim, ndim - 1),
            st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True).map(tuple),
        )
    )
    x = values(np.random.default_rng(seed), shape, "distinct")
    fn = REDUCTIONS[op]
    expected = {"prod": np.prod, "max": np.max, "min": np.min, "sum": np.sum}.get(op)
    if expected is not None:
        np.testing.assert_allclose(
            fn(dl.tensor(x), axis, keepdims).data, expected(x, axis=axis, keepdims=keepdims)
        )
    assert gradcheck(lambda t: fn(t, axis, keepdims), x)


@FAST
@given(
    rows=st.integers(1, 4),
    cols=st.integers(1, 4),
    data=st.data(),
    seed=st.integers(0, 2**16),
)
def test_gradcheck_getitem_random_indices(rows, cols, data, seed):
    """Integer arrays with repeats and boolean masks scatter-add the gradient back."""
    idx = np.array(data.draw(st.lists(st.integers(-rows, rows - 1), min_size=1, max_size=6)))
    mask = np.array(data.draw(st.lists(st.booleans(), min_size=cols, max_size=cols)))
    x = np.random.default_rng(seed).standard_normal((rows, cols))
    np.testing.assert_array_equal(dl.tensor(x)[idx].data, x[idx])
    np.testing.assert_array_equal(dl.tensor(x)[:, mask].data, x[:, mask])
    assert gradcheck(lambda t: t[idx], x)
    assert gradcheck(lambda t: t[:, mask] * 2.0, x)
    assert gradcheck(lambda t: t[idx, idx % cols] if cols > 0 else t[idx], x)


@FAST
@given(
    shapes=st.lists(st.integers(1, 3), min_size=1, max_size=4),
    axis=st.integers(0, 1),
    seed=st.integers(0, 2**16),
)
def test_gradcheck_concat_stack_split(shapes, axis, seed):
    rng = np.random.default_rng(seed)
    parts = [rng.standard_normal((n, 2) if axis == 0 else (2, n)) for n in shapes]
    assert gradcheck(lambda *ts: dl.concat(ts, axis=axis), *parts)
    same = [rng.standard_normal((2, 3)) for _ in shapes]
    assert gradcheck(lambda *ts: dl.stack(ts, axis=axis), *same)
    whole = rng.standard_normal((sum(shapes), 2))
    assert gradcheck(lambda t: single_output(lambda u: dl.split(u, shapes))(t), whole)
