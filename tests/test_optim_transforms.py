"""Gradient transformations on their own: chaining, the Keras-convention flags (checked against
Keras 3 itself), clipping, EMA, accumulation, skipping non-finite steps, schedules as learning rates."""

from __future__ import annotations

import numpy as np
import pytest

from descentlab.optim import transforms as T


def _run(tx, grads_fn, p0, steps, hyper_fn=None):
    params = [p.copy() for p in p0]
    state = tx.init(params)
    for k in range(steps):
        grads = [g.copy() for g in grads_fn(params, k)]
        hyper = hyper_fn(k) if hyper_fn else None
        updates, state = tx.update(grads, state, params, hyper)
        for p, u in zip(params, updates):
            p += u
    return params, state


def _grads(params, k):
    # A gradient that depends on the parameters and changes sign now and then.
    return [np.sin(3.0 * p + 0.1 * k) + 0.5 * p for p in params]


P0 = [np.array([1.0, -2.0, 0.5]), np.array([[0.3, -0.7], [1.5, 0.01]])]

# Keras 3 optimizer (name, kwargs) -> the chain of our transforms that should reproduce it.
# Keras keeps the learning rate, weight decay, clip thresholds and EMA momentum as float32, so those
# are dyadic numbers (exact in float32) here.
KERAS_CASES = [
    ("SGD", {"learning_rate": 0.0625},
     lambda: T.chain(T.scale_by_learning_rate(0.0625))),
    ("SGD", {"learning_rate": 0.0625, "momentum": 0.9},
     lambda: T.chain(T.scale_by_learning_rate(0.0625), T.trace(0.9, convention="keras"))),
    ("SGD", {"learning_rate": 0.0625, "momentum": 0.9, "nesterov": True},
     lambda: T.chain(T.scale_by_learning_rate(0.0625), T.trace(0.9, nesterov=True, convention="keras"))),
    ("RMSprop", {"learning_rate": 0.0078125},
     lambda: T.chain(T.scale_by_rms(0.9, 1e-7, eps_in_sqrt=True), T.scale_by_learning_rate(0.0078125))),
    ("RMSprop", {"learning_rate": 0.0078125, "rho": 0.8, "momentum": 0.5, "centered": True},
     lambda: T.chain(T.scale_by_rms(0.8, 1e-7, centered=True, eps_in_sqrt=True),
                     T.scale_by_learning_rate(0.0078125), T.trace(0.5, convention="keras"))),
    ("Adam", {"learning_rate": 0.0078125},
     lambda: T.chain(T.scale_by_adam(0.9, 0.999, 1e-7, eps_convention="keras"),
                     T.scale_by_learning_rate(0.0078125))),
    ("Adam", {"learning_rate": 0.0078125, "amsgrad": True, "epsilon": 1e-3},
     lambda: T.chain(T.scale_by_adam(0.9, 0.999, 1e-3, amsgrad=True, eps_convention="keras"),
                     T.scale_by_learning_rate(0.0078125))),
    ("AdamW", {"learning_rate": 0.0078125, "weight_decay": 0.125},
     lambda: T.chain(T.scale_by_adam(0.9, 0.999, 1e-7, eps_convention="keras"),
                     T.add_decayed_weights(0.125), T.scale_by_learning_rate(0.0078125))),
    ("Adagrad", {"learning_rate": 0.125},
     lambda: T.chain(T.scale_by_adagrad(1e-7, 0.1, eps_in_sqrt=True), T.scale_by_learning_rate(0.125))),
    ("Adamax", {"learning_rate": 0.0078125},
     lambda: T.chain(T.scale_by_adamax(0.9, 0.999, 1e-7, eps_convention="keras"),
                     T.scale_by_learning_rate(0.0078125))),
    ("Nadam", {"learning_rate": 0.0078125},
     lambda: T.chain(T.scale_by_adam(0.9, 0.999, 1e-7, nesterov=True, momentum_decay=1.0),
                     T.scale_by_learning_rate(0.0078125))),
    ("Adadelta", {"learning_rate": 1.0},
     lambda: T.chain(T.scale_by_adadelta(0.95, 1e-7), T.scale_by_learning_rate(1.0))),
    ("Lion", {"learning_rate": 0.0078125},
     lambda: T.chain(T.scale_by_lion(0.9, 0.99), T.scale_by_learning_rate(0.0078125))),
    ("SGD", {"learning_rate": 0.0625, "momentum": 0.5, "clipnorm": 0.375},
     lambda: T.chain(T.clip_by_norm(0.375), T.scale_by_learning_rate(0.0625),
                     T.trace(0.5, convention="keras"))),
    ("SGD", {"learning_rate": 0.0625, "global_clipnorm": 0.5},
     lambda: T.chain(T.clip_by_global_norm(0.5, convention="keras"), T.scale_by_learning_rate(0.0625))),
    ("SGD", {"learning_rate": 0.0625, "clipvalue": 0.375},
     lambda: T.chain(T.clip(0.375), T.scale_by_learning_rate(0.0625))),
]  # fmt: skip


@pytest.mark.keras
@pytest.mark.parametrize(("name", "kw", "make"), KERAS_CASES,
                         ids=[f"{n}-{'-'.join(kw)}" for n, kw, _ in KERAS_CASES])  # fmt: skip
def test_keras_conventions_match_keras(keras, name, kw, make):
    variables = [keras.Variable(p.copy(), dtype="float64") for p in P0]
    opt = getattr(keras.optimizers, name)(**kw)
    for k in range(60):
        grads = _grads([v.numpy() for v in variables], k)
        opt.apply_gradients(
            [(keras.ops.convert_to_tensor(g, dtype="float64"), v) for g, v in zip(grads, variables)]
        )
    ours, _ = _run(make(), _grads, P0, 60)
    # Keras (torch backend) rounds the norm used for clipnorm / global_clipnorm to float32 whatever
    # the variables' dtype, so those two agree to float32 precision only.
    rtol = 1e-6 if "global_clipnorm" in kw or "clipnorm" in kw else 1e-10
    for a, v in zip(ours, variables):
        np.testing.assert_allclose(a, v.numpy(), rtol=rtol, atol=1e-13)


@pytest.mark.keras
def test_ema_matches_keras_use_ema(keras):
    variables = [keras.Variable(p.copy(), dtype="float64") for p in P0]
    opt = keras.optimizers.SGD(learning_rate=0.0625, use_ema=True, ema_momentum=0.875)
    for k in range(30):
        grads = _grads([v.numpy() for v in variables], k)
        opt.apply_gradients(
            [(keras.ops.convert_to_tensor(g, dtype="float64"), v) for g, v in zip(grads, variables)]
        )
    tx = T.chain(T.scale_by_learning_rate(0.0625), T.ema(0.875))
    ours, state = _run(tx, _grads, P0, 30)
    for a, b in zip(state["ema"], opt._model_variables_moving_average):
        np.testing.assert_allclose(a, b.numpy(), rtol=1e-10)
    live = [p.copy() for p in ours]
    T.swap_ema(ours, state)  # evaluate with the averages, then swap back
    np.testing.assert_allclose(ours[0], opt._model_variables_moving_average[0].numpy(), rtol=1e-10)
    T.swap_ema(ours, state)
    np.testing.assert_array_equal(ours[0], live[0])


# ----------------------------------------------------------------------------- unit behaviour
def test_chain_rejects_state_name_clash():
    tx = T.chain(T.trace(0.9), T.trace(0.5))
    with pytest.raises(ValueError, match="momentum_buffer"):
        tx.init([np.zeros(2)])


def test_trace_conventions_differ_only_with_dampening_on_first_step():
    g = [np.array([1.0, 2.0])]
    u_t, _ = T.trace(0.9, dampening=0.5).update([g[0].copy()], T.trace(0.9, 0.5).init(g), g)
    np.testing.assert_array_equal(u_t[0], g[0])  # PyTorch: the buffer starts as the gradient
    with pytest.raises(ValueError, match="dampening must be 0"):
        T.trace(0.9, dampening=0.5, convention="keras")
    with pytest.raises(ValueError, match="Nesterov"):
        T.trace(0.0, nesterov=True)


def test_accumulate_steps_inner_once_every_k():
    inner = T.chain(T.scale_by_adam(), T.scale_by_learning_rate(0.1))
    tx = T.accumulate(3, inner)
    p = [np.array([1.0, -1.0])]
    state = tx.init(p)
    seen = []
    for k in range(6):
        u, state = tx.update([np.array([k + 1.0, -(k + 1.0)])], state, p)
        seen.append(u[0].copy())
    assert not seen[0].any() and not seen[1].any() and not seen[3].any()
    assert state["step"] == [2]  # inner Adam stepped twice
    # Its first step saw the mean of the first three gradients, (2, -2): Adam's first step is sign.
    np.testing.assert_allclose(seen[2], [-0.1, 0.1], rtol=1e-6)


def test_skip_nonfinite_counts_and_leaves_state():
    tx = T.skip_nonfinite(T.chain(T.trace(0.9), T.scale_by_learning_rate(1.0)))
    p = [np.zeros(2)]
    state = tx.init(p)
    u, state = tx.update([np.array([1.0, np.nan])], state, p)
    assert not u[0].any() and state["nonfinite_count"] == [1]
    assert state["momentum_buffer"] == [None]
    u, state = tx.update([np.array([1.0, 2.0])], state, p)
    np.testing.assert_array_equal(u[0], [-1.0, -2.0])


def test_clipping_transforms():
    u = [np.array([3.0, 4.0]), np.array([0.0, 0.5])]
    out, _ = T.clip_by_norm(1.0).update([x.copy() for x in u], {}, u)
    np.testing.assert_allclose(out[0], [0.6, 0.8])
    np.testing.assert_array_equal(out[1], [0.0, 0.5])  # already within the norm
    total = T.global_norm(u)
    assert total == pytest.approx(np.sqrt(25.25))
    out, _ = T.clip_by_global_norm(1.0).update([x.copy() for x in u], {}, u)
    np.testing.assert_allclose(out[0], u[0] / (total + 1e-6))
    out, _ = T.clip(0.5).update([x.copy() for x in u], {}, u)
    np.testing.assert_array_equal(out[0], [0.5, 0.5])


def test_learning_rate_schedule_and_hyper():
    p = [np.zeros(1)]
    tx = T.scale_by_learning_rate(lambda step: 0.1 * 0.5**step)
    state = tx.init(p)
    rates = []
    for _ in range(3):
        u, state = tx.update([np.ones(1)], state, p)
        rates.append(-u[0][0])
    assert rates == [0.1, 0.05, 0.025]
    tx = T.scale_by_learning_rate()  # the rate comes from hyper['lr'] at every step
    u, _ = tx.update([np.ones(1)], tx.init(p), p, {"lr": 0.3})
    assert u[0][0] == -0.3
    with pytest.raises(ValueError, match="hyper"):
        tx.update([np.ones(1)], {}, p, None)


def test_shared_step_from_hyper():
    """Keras counts steps once per optimizer: hyper['step'] overrides per-parameter counters."""
    a = T.scale_by_adam(eps_convention="keras")
    g = [np.array([0.5])]
    sa = a.init(g)
    ua, sa = a.update([g[0].copy()], sa, g, {"step": 5})
    sb = a.init(g)
    ub, _ = a.update([g[0].copy()], sb, g)
    assert ua[0][0] != ub[0][0]  # bias correction used t = 5 rather than t = 1
    assert sa["step"] == [1]


def test_transform_argument_validation():
    with pytest.raises(ValueError, match=r"beta1.*\[0, 1\)"):
        T.scale_by_adam(b1=1.0)
    with pytest.raises(ValueError, match="eps"):
        T.scale_by_rms(eps=-1.0)
    with pytest.raises(ValueError, match="convention"):
        T.scale_by_adam(eps_convention="jax")
    with pytest.raises(ValueError, match="every_k"):
        T.accumulate(0, T.identity())
