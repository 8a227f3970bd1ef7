"""Engine behaviour: autograd semantics, grad modes, graph freeing, dtypes, randomness, gradcheck."""

from __future__ import annotations

import threading
import warnings

import numpy as np
import pytest

import descentlab as dl
from descentlab import Function, GradcheckError, gradcheck, nn
from engine_cases import CASES, Case


def t(values, requires_grad=True, dtype=np.float32):
    return dl.tensor(np.asarray(values, dtype=dtype), requires_grad=requires_grad)


# ----------------------------------------------------------------- accumulation and graph reuse
def test_gradients_accumulate_over_two_backward_calls():
    x = t([1.0, 2.0, 3.0])
    (x * x).sum().backward()
    (3 * x).sum().backward()
    np.testing.assert_allclose(x.grad, 2 * x.data + 3)


def test_input_used_twice_gets_the_sum_of_both_paths():
    x = t([0.5, -1.0])
    y = x * x + x.exp() * x  # diamond: x feeds four nodes
    y.sum().backward()
    np.testing.assert_allclose(x.grad, 2 * x.data + np.exp(x.data) * (1 + x.data), rtol=1e-6)


def test_retain_graph_allows_a_second_backward():
    x = t([1.0, 2.0])
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad, 4 * x.data)


def test_second_backward_through_a_freed_graph_raises_a_clear_error():
    x = t([1.0, 2.0])
    y = (x * x).sum()
    y.backward()
    with pytest.raises(
        RuntimeError, match="backward through the graph a second time.*retain_graph"
    ):
        y.backward()


def test_backward_through_a_shared_subgraph_freed_by_another_loss_raises():
    x = t([1.0, 2.0])
    z = x.exp()
    a, b = z.sum(), (z * 2).sum()
    a.backward()
    with pytest.raises(RuntimeError, match="second time"):
        b.backward()


def test_graph_is_freed_after_backward():
    x = t([1.0, 2.0])
    h = x * 2
    y = h.sum()
    assert h.grad_fn is not None and not h.is_leaf
    y.backward()
    assert h.grad_fn is None and y.grad_fn is None


def test_non_scalar_backward_without_grad_raises_a_clear_error():
    y = t([1.0, 2.0]) * 2
    with pytest.raises(RuntimeError, match=r"scalar outputs.*shape \(2,\)"):
        y.backward()


def test_backward_with_explicit_grad_array_or_tensor():
    x = t([1.0, 2.0])
    (x * 3).backward(np.array([1.0, 10.0]))
    np.testing.assert_allclose(x.grad, [3.0, 30.0])
    assert x.grad.dtype == np.float32
    (x * 1).backward(dl.tensor([1.0, 1.0]))
    np.testing.assert_allclose(x.grad, [4.0, 31.0])


def test_backward_grad_of_wrong_shape_raises():
    y = t([1.0, 2.0]) * 2
    with pytest.raises(ValueError, match=r"grad has shape \(3,\).*shape \(2,\)"):
        y.backward(np.ones(3))


def test_backward_on_a_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        t([1.0], requires_grad=False).sum().backward()


def test_deep_graph_needs_no_recursion():
    x = t([1.0])
    y = x
    for _ in range(5000):
        y = y * 1.0001
    y.sum().backward()
    np.testing.assert_allclose(x.grad, [1.0001**5000], rtol=1e-3)


# ----------------------------------------------------------------- leaf gradients are owned arrays
def test_leaf_gradients_are_independent_arrays():
    """Add hands the same gradient array to both inputs: editing one .grad leaves the other alone."""
    a, b = t([1.0, 2.0]), t([3.0, 4.0])
    (a + b).sum().backward()
    a.grad *= 10
    np.testing.assert_allclose(b.grad, [1.0, 1.0])


def test_leaf_never_adopts_the_callers_grad_array():
    x = t([1.0, 2.0])
    upstream = np.array([1.0, 1.0], dtype=np.float32)
    (x + 1.0).backward(upstream)
    x.grad += 5
    np.testing.assert_allclose(upstream, [1.0, 1.0])
    x.grad = None
    x.backward(upstream)  # a leaf as the root: its grad is the caller's array, copied
    x.grad[0] = 99
    np.testing.assert_allclose(upstream, [1.0, 1.0])


def test_leaf_gradient_is_writable_and_shaped_like_the_leaf():
    x = t([[1.0, 2.0], [3.0, 4.0]])
    x.sum().backward()  # sum's backward is a read-only broadcast view
    assert x.grad.flags.writeable and x.grad.shape == (2, 2)
    x.grad += 1
    np.testing.assert_allclose(x.grad, 2.0)


def test_accumulation_does_not_alias_an_earlier_gradient():
    w = t([1.0, 2.0])
    (w * 2).sum().backward()
    first = w.grad
    kept = first.copy()
    (w * 3).sum().backward()
    assert w.grad is first  # accumulated in place, as PyTorch
    np.testing.assert_allclose(w.grad, kept + 3)


# ----------------------------------------------------------------- grad modes
def test_no_grad_records_nothing_and_enable_grad_turns_it_back_on():
    x = t([1.0, 2.0])
    with dl.no_grad():
        assert not dl.is_grad_enabled()
        y = x * 2
        with dl.enable_grad():
            assert dl.is_grad_enabled()
            z = x * 2
        w = x * 2
    assert dl.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None and y.is_leaf
    assert not w.requires_grad
    assert z.requires_grad and z.grad_fn is not None
    z.sum().backward()
    np.testing.assert_allclose(x.grad, [2.0, 2.0])


def test_set_grad_enabled_restores_the_mode_after_an_exception():
    with pytest.raises(KeyError), dl.set_grad_enabled(False):
        raise KeyError("boom")
    assert dl.is_grad_enabled()


def test_grad_mode_is_per_thread():
    seen = []

    def worker():
        seen.append(dl.is_grad_enabled())
        seen.append((t([1.0]) * 2).requires_grad)

    with dl.no_grad():
        th = threading.Thread(target=worker)
        th.start()
        th.join()
    assert seen == [True, True]


# ----------------------------------------------------------------- requires_grad rules
def test_requires_grad_propagates_only_from_inputs_that_require_it():
    a, b = t([1.0], requires_grad=False), t([2.0], requires_grad=False)
    assert not (a * b).requires_grad and (a * b).is_leaf
    c = t([3.0])
    out = a * c
    assert out.requires_grad and not out.is_leaf
    out.sum().backward()
    assert a.grad is None and c.grad is not None


def test_only_floating_tensors_can_require_grad():
    with pytest.raises(TypeError, match="floating-point"):
        dl.tensor([1, 2, 3], requires_grad=True)
    with pytest.raises(TypeError, match="floating-point"):
        dl.tensor([1, 2]).requires_grad_()


def test_requires_grad_false_on_a_non_leaf_raises():
    y = t([1.0]) * 2
    with pytest.raises(RuntimeError, match="leaf"):
        y.requires_grad_(False)


def test_an_input_that_gets_no_gradient_keeps_grad_none():
    x, w = t([1.0, -2.0]), t([0.5, 0.5])
    dl.where(x.data > 0, x, w).sum().backward()
    np.testing.assert_allclose(x.grad, [1.0, 0.0])
    np.testing.assert_allclose(w.grad, [0.0, 1.0])
    frozen = t([1.0], requires_grad=False)
    (frozen * w).sum().backward()
    assert frozen.grad is None


# ----------------------------------------------------------------- detach, item, numpy, dtypes
def test_detach_shares_data_and_stops_the_gradient():
    x = t([1.0, 2.0])
    d = (x * 2).detach()
    assert not d.requires_grad and d.is_leaf and d.grad_fn is None
    x2 = x.detach()
    assert np.shares_memory(x2.data, x.data)
    (x * d).sum().backward()  # d is a constant here
    np.testing.assert_allclose(x.grad, [2.0, 4.0])


def test_item_and_numpy():
    s = t([[2.5]]).sum()
    assert s.item() == 2.5 and isinstance(s.item(), float)
    with pytest.raises(ValueError, match=r"exactly one element.*\(2,\)"):
        t([1.0, 2.0]).item()
    x = t([1.0, 2.0], requires_grad=False)
    assert x.numpy() is x.data
    assert dl.argmax(x).item() == 1 and isinstance(dl.argmax(x).item(), int)


def test_creation_dtype_rules():
    assert dl.tensor([1.0, 2.0]).dtype == np.float32  # Python floats -> float32, like PyTorch
    assert dl.tensor(np.array([1.0])).dtype == np.float64  # NumPy arrays keep their dtype
    assert dl.tensor([1, 2]).dtype == np.int64
    assert dl.tensor([1, 2], dtype=np.float64).dtype == np.float64
    src = np.array([1.0, 2.0], dtype=np.float32)
    copied, wrapped = dl.tensor(src), dl.as_tensor(src)
    src[0] = 7
    assert copied.data[0] == 1 and wrapped.data[0] == 7


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_every_op_keeps_the_input_dtype(case: Case, dtype):
    """float32 stays float32 (and float64 float64) through the forward and into every gradient,
    Python scalar operands included."""
    xs = [dl.tensor(a, requires_grad=True) for a in case.arrays(dtype)]
    out = case.ours(*xs)
    outs = out if isinstance(out, (tuple, list)) else (out,)
    for o in outs:
        assert o.dtype == dtype, f"{case.name}: output {o.dtype}"
        o.backward(np.ones(o.shape, dtype=dtype))
    for i, x in enumerate(xs):
        assert x.grad is not None and x.grad.dtype == dtype, f"{case.name}: grad {i}"


def test_python_scalars_take_the_tensor_dtype():
    for dtype in (np.float32, np.float64):
        x = t([1.0, 2.0], dtype=dtype)
        for y in (x + 1, 1 - x, x * 2.5, 2.5 / x, x**2, 2**x, x.clip(0.5, 1.5), dl.maximum(x, 1.5)):
            assert y.dtype == dtype


def test_cast_sends_the_gradient_back_in_the_source_dtype():
    x = t([1.0, 2.0])
    y = x.double()
    assert y.dtype == np.float64
    (y * y).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad, [2.0, 4.0])


def test_comparisons_return_boolean_tensors_outside_the_graph():
    x = t([1.0, 3.0])
    m = x > 2
    assert m.dtype == np.bool_ and not m.requires_grad
    np.testing.assert_array_equal(m.data, [False, True])


# ----------------------------------------------------------------- randomness
def test_manual_seed_makes_random_tensors_and_init_reproducible():
    dl.manual_seed(123)
    a, r, layer = dl.randn(3, 4), dl.rand(5), nn.Linear(4, 3)
    dl.manual_seed(123)
    a2, r2, layer2 = dl.randn(3, 4), dl.rand(5), nn.Linear(4, 3)
    np.testing.assert_array_equal(a.data, a2.data)
    np.testing.assert_array_equal(r.data, r2.data)
    np.testing.assert_array_equal(layer.weight.data, layer2.weight.data)
    assert a.dtype == np.float32 and not np.array_equal(dl.randn(3, 4).data, a.data)


def test_rng_state_round_trip_and_private_generators():
    dl.manual_seed(5)
    state = dl.get_rng_state()
    first = dl.randn(4).data
    dl.set_rng_state(state)
    np.testing.assert_array_equal(dl.randn(4).data, first)
    g1, g2 = np.random.default_rng(9), np.random.default_rng(9)
    np.testing.assert_array_equal(dl.randn(3, generator=g1).data, dl.randn(3, generator=g2).data)
    with pytest.raises(ValueError, match="seed"):
        dl.manual_seed(-1)


def test_same_seed_same_training_step_bit_identical():
    def run():
        dl.manual_seed(0)
        model = nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 3))
        x = dl.randn(8, 6)
        loss = nn.functional.cross_entropy(model(x), np.arange(8) % 3)
        loss.backward()
        return [p.grad.copy() for p in model.parameters()]

    for g1, g2 in zip(run(), run()):
        np.testing.assert_array_equal(g1, g2)


# ----------------------------------------------------------------- gradcheck itself
class WrongSquare(Function):
    """x^2 with a deliberately wrong backward at one element."""

    def forward(self, x):
        self.x = x
        return x * x

    def backward(self, g):
        grad = 2 * self.x * g
        grad[1, 2] += 0.5  # the bug gradcheck must find
        return grad


def test_gradcheck_reports_the_worst_element_of_a_wrong_function():
    x = np.random.default_rng(0).standard_normal((3, 4))
    with pytest.raises(GradcheckError, match=r"input 0 \(shape \(3, 4\)\) at element \(1, 2\)"):
        gradcheck(lambda a: WrongSquare.apply(a).sum(), x)
    with pytest.raises(GradcheckError, match="1 of 12 elements off"):
        gradcheck(lambda a: WrongSquare.apply(a), x)


def test_gradcheck_passes_a_correct_function_and_checks_every_float_input():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((2, 3)), rng.standard_normal(3)
    assert gradcheck(lambda x, y: (x * y).sum(), a, b)
    with pytest.raises(GradcheckError, match="input 1"):
        gradcheck(lambda x, y: x * y.detach(), a, b)  # y's gradient is lost: caught
    with pytest.raises(ValueError, match="no floating-point input"):
        gradcheck(lambda x: x, np.array([1, 2]))


def test_gradcheck_catches_a_function_that_cuts_the_graph():
    """The output does not require grad at all: the analytic gradient is zero, the numeric one not."""
    with pytest.raises(GradcheckError, match="analytic 0 vs numeric"):
        gradcheck(lambda x: dl.tensor(x.data * 2).sum(), np.ones(2))
    assert gradcheck(lambda x: dl.tensor([1.0]).sum(), np.ones(2))  # truly constant: passes


def test_np_array_of_a_tensor_is_a_copy_and_np_asarray_a_view():
    x = dl.tensor([1.0, 2.0])
    copied = np.array(x)
    copied[0] = 99
    assert x.data[0] == 1.0
    assert np.asarray(x) is x.data
    assert np.array(x, dtype=np.float64).dtype == np.float64


def test_array_protocol_takes_dtype_and_copy_without_warnings():
    """NumPy 2's __array__(dtype, copy): no DeprecationWarning, copy=False never copies."""
    x = dl.tensor([1.0, 2.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.asarray(x, dtype=np.float32) is x.data
        assert np.array(x, copy=False) is x.data
        assert np.array(x, copy=True) is not x.data
        assert np.asarray(x, dtype=np.float64).dtype == np.float64
        assert np.asarray(dl.nn.Parameter(np.ones(2)), dtype=np.float64, copy=None).shape == (2,)
        with pytest.raises(ValueError, match="without a copy"):
            np.array(x, dtype=np.float64, copy=False)


def test_backward_order_with_interleaved_branches_and_late_consumers():
    """Creation order, not call structure, orders the walk: a tensor made early and consumed
    late, and branches built alternately, still get every contribution before they pass it on."""
    x64 = np.array([0.5, -1.5])
    assert gradcheck(_interleaved, x64)
    x = t(x64)
    _interleaved(x).backward()
    reference = dl.tensor(x64, requires_grad=True)
    _interleaved(reference).backward()
    np.testing.assert_allclose(x.grad, reference.grad, rtol=1e-5)


def _interleaved(x):
    early = x * 2
    a, b = x * 3, x.exp()
    for _ in range(3):
        a, b = a * b.sin(), b + a * 0.5
    return (a + b + early * early).sum()


def test_a_function_returning_the_wrong_number_of_gradients_is_named():
    class TwoInOneGrad(Function):
        def forward(self, a, b):
            return a + b

        def backward(self, g):
            return (g,)

    out = TwoInOneGrad.apply(t([1.0]), t([2.0]))
    with pytest.raises(RuntimeError, match="TwoInOneGrad.backward returned 1 gradients for 2"):
        out.sum().backward()
