"""Parity with PyTorch for every op of the engine: forward values and input gradients.

Same inputs in both libraries, the same random upstream gradient, compared in float64
(rtol 1e-10) and in float32 (rtol 1e-5). Kinks and ties, where a convention decides the
gradient, are tested against torch explicitly below.
"""

from __future__ import annotations

import numpy as np
import pytest

import descentlab as dl
from descentlab.nn import functional as F
from engine_cases import TORCH_CASES, Case

TOL = {np.float64: dict(rtol=1e-10, atol=1e-12), np.float32: dict(rtol=1e-5, atol=1e-6)}


def _as_tuple(out):
    return tuple(out) if isinstance(out, (tuple, list)) else (out,)


def run_ours(fn, arrays, upstream):
    xs = [dl.tensor(a, requires_grad=True) for a in arrays]
    outs = _as_tuple(fn(*xs))
    for o, v in zip(outs, upstream):
        o.backward(v, retain_graph=True)  # several outputs: their gradients accumulate
    return [o.data for o in outs], [x.grad for x in xs]


def run_torch(torch, fn, arrays, upstream):
    xs = [torch.tensor(a, requires_grad=True) for a in arrays]
    outs = _as_tuple(fn(torch, *xs))
    torch.autograd.backward(outs, [torch.from_numpy(v) for v in upstream])
    return [o.detach().numpy() for o in outs], [
        None if x.grad is None else x.grad.numpy() for x in xs
    ]


def compare(torch, fn_ours, fn_torch, arrays, dtype, seed=0):
    """Forward values and input gradients of both libraries agree within TOL[dtype]."""
    tol = TOL[dtype]
    arrays = [a.astype(dtype) for a in arrays]
    with torch.no_grad():
        shapes = [
            tuple(o.shape) for o in _as_tuple(fn_torch(torch, *map(torch.from_numpy, arrays)))
        ]
    rng = np.random.default_rng(seed + 100)
    upstream = [rng.standard_normal(s).astype(dtype) for s in shapes]
    ours_out, ours_grads = run_ours(fn_ours, arrays, upstream)
    torch_out, torch_grads = run_torch(torch, fn_torch, arrays, upstream)
    assert len(ours_out) == len(torch_out)
    for o, t in zip(ours_out, torch_out):
        assert o.dtype == dtype, f"output dtype {o.dtype}, expected {np.dtype(dtype)}"
        assert o.shape == t.shape
        np.testing.assert_allclose(o, t, **tol)
    for i, (g, tg) in enumerate(zip(ours_grads, torch_grads)):
        if tg is None:
            assert g is None or not np.any(g), f"input {i}: torch has no gradient"
            continue
        assert g is not None, f"input {i}: no gradient, torch has one"
        assert g.dtype == dtype and g.shape == tg.shape
        np.testing.assert_allclose(g, tg, err_msg=f"gradient of input {i}", **tol)


@pytest.mark.torch
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("case", TORCH_CASES, ids=[c.name for c in TORCH_CASES])
def test_op_matches_torch(torch, case: Case, dtype):
    compare(torch, case.ours, case.theirs, case.arrays(), dtype, case.seed)


# ----------------------------------------------------------------- conventions at kinks and ties
KINKS = [
    ("relu_at_zero", dl.relu, lambda t, a: t.relu(a), [np.array([-1.0, 0.0, 2.0])]),
    ("abs_at_zero", dl.abs, lambda t, a: t.abs(a), [np.array([-1.0, 0.0, 2.0])]),
    (
        "clip_on_bounds",
        lambda a: dl.clip(a, -1.0, 1.0),
        lambda t, a: t.clamp(a, -1.0, 1.0),
        [np.array([-2.0, -1.0, 0.0, 1.0, 2.0])],
    ),
    (
        "maximum_ties",
        dl.maximum,
        lambda t, a, b: t.maximum(a, b),
        [np.array([1.0, 2.0, 3.0]), np.array([1.0, 5.0, 3.0])],
    ),
    (
        "minimum_ties",
        dl.minimum,
        lambda t, a, b: t.minimum(a, b),
        [np.array([1.0, 2.0, 3.0]), np.array([1.0, 5.0, -3.0])],
    ),
    (
        "amax_ties",
        lambda a: a.max(1),
        lambda t, a: a.amax(1),
        [np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])],
    ),
    (
        "amin_ties_all",
        lambda a: a.min(),
        lambda t, a: a.amin(),
        [np.array([[1.0, 3.0, 1.0], [2.0, 1.0, 2.0]])],
    ),
    (
        "prod_with_zero",
        lambda a: a.prod(1),
        lambda t, a: a.prod(1),
        [np.array([[1.0, 0.0, 3.0], [0.0, 0.0, 2.0], [2.0, 3.0, 4.0]])],
    ),
    (
        "pow_zero_base",
        lambda a, b: a**b,
        lambda t, a, b: a**b,
        [np.array([0.0, 0.0, 2.0, 0.0]), np.array([2.0, 1.0, 0.0, 0.0])],
    ),
    ("pow_scalar_zero_exponent", lambda a: a**0, lambda t, a: a**0, [np.array([0.0, 1.5, -2.0])]),
    (
        "sqrt_of_one",
        dl.sqrt,
        lambda t, a: t.sqrt(a),
        [np.array([1.0, 4.0, 0.25])],
    ),
    (
        "var_single_element_population",
        lambda a: a.var(1, correction=0),
        lambda t, a: a.var(1, correction=0),
        [np.array([[1.5], [2.0]])],
    ),
]


@pytest.mark.torch
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("name, ours, theirs, arrays", KINKS, ids=[k[0] for k in KINKS])
def test_convention_matches_torch(torch, name, ours, theirs, arrays, dtype):
    compare(torch, ours, theirs, arrays, dtype)


LARGE = [
    (
        "logsumexp_large",
        lambda a: a.logsumexp(1),
        lambda t, a: t.logsumexp(a, 1),
        [np.array([[1000.0, 1000.0, -1000.0], [-1e4, -1e4 + 1, -1e4 + 2]])],
    ),
    (
        "softmax_large",
        lambda a: a.softmax(1),
        lambda t, a: a.softmax(1),
        [np.array([[1000.0, 999.0, -1000.0], [50.0, 0.0, -50.0]])],
    ),
    (
        "cross_entropy_large_logits",
        lambda a: F.cross_entropy(a, np.array([2, 0])),
        lambda t, a: t.nn.functional.cross_entropy(a, t.tensor([2, 0])),
        [np.array([[1000.0, 999.0, -1000.0], [50.0, 0.0, -50.0]])],
    ),
]


@pytest.mark.torch
@pytest.mark.parametrize("name, ours, theirs, arrays", LARGE, ids=[c[0] for c in LARGE])
def test_large_inputs_stay_finite_and_match_torch(torch, name, ours, theirs, arrays):
    """Huge logits do not overflow. In float64 we match torch to 1e-10; in float32 we match
    torch's float64 result to 1e-5 (shifting by the max is exact in float32, so no precision is
    lost; torch's own float32 gradient here is off by about 1e-4, so it is not the reference)."""
    compare(torch, ours, theirs, arrays, np.float64)
    upstream = [np.ones(np.shape(ours(*[dl.tensor(a) for a in arrays]).data))]
    out64, grads64 = run_torch(torch, theirs, arrays, upstream)
    out32, grads32 = run_ours(ours, [a.astype(np.float32) for a in arrays],
                              [u.astype(np.float32) for u in upstream])  # fmt: skip
    assert np.all(np.isfinite(out32[0])) and np.all(np.isfinite(grads32[0]))
    np.testing.assert_allclose(out32[0], out64[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(grads32[0], grads64[0], rtol=1e-5, atol=1e-6)


@pytest.mark.torch
def test_argmax_argmin_match_torch(torch, rng):
    x = rng.standard_normal((4, 5))
    t = torch.from_numpy(x)
    for axis in (None, 0, 1, -1):
        kw = {} if axis is None else {"dim": axis}
        np.testing.assert_array_equal(dl.argmax(dl.tensor(x), **kw).data, t.argmax(**kw).numpy())
        np.testing.assert_array_equal(dl.argmin(dl.tensor(x), **kw).data, t.argmin(**kw).numpy())
    kept = dl.tensor(x).argmax(dim=1, keepdim=True)
    np.testing.assert_array_equal(kept.data, t.argmax(dim=1, keepdim=True).numpy())
    assert kept.dtype == np.int64 and not kept.requires_grad


@pytest.mark.torch
def test_float32_training_step_matches_torch(torch, rng):
    """A two-layer MLP step end to end in float32: loss and every weight gradient within 1e-5."""
    x = rng.standard_normal((16, 8)).astype(np.float32)
    y = rng.integers(0, 3, 16)
    w1 = (rng.standard_normal((6, 8)) * 0.3).astype(np.float32)
    b1 = (rng.standard_normal(6) * 0.1).astype(np.float32)
    w2 = (rng.standard_normal((3, 6)) * 0.3).astype(np.float32)
    b2 = (rng.standard_normal(3) * 0.1).astype(np.float32)

    def ours(w1, b1, w2, b2):
        return F.cross_entropy(F.linear(F.relu(F.linear(dl.tensor(x), w1, b1)), w2, b2), y)

    def theirs(t, w1, b1, w2, b2):
        f = t.nn.functional
        return f.cross_entropy(f.linear(f.relu(f.linear(t.from_numpy(x), w1, b1)), w2, b2),
                               t.from_numpy(y))  # fmt: skip

    compare(torch, ours, theirs, [w1, b1, w2, b2], np.float32)
