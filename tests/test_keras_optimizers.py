"""Keras-convention optimizers: trajectory parity with Keras 3 (torch backend, float32), legacy
arguments against hand-computed steps, the PyTorch-style interface, checkpoints and the registry."""

from __future__ import annotations

import numpy as np
import pytest

import descentlab as dl
from descentlab.keras import optimizers as K

STEPS = 60
_rng = np.random.default_rng(7)
INIT = [_rng.standard_normal((4, 3)).astype(np.float32), _rng.standard_normal(3).astype(np.float32)]
TARGET = [
    _rng.standard_normal((4, 3)).astype(np.float32),
    _rng.standard_normal(3).astype(np.float32),
]


def grad_fn(values, t, scale=1.0):
    """Gradients that depend on the current parameters (so errors compound) and on the step."""
    out = []
    for k, (p, target) in enumerate(zip(values, TARGET)):
        g = (p - target) * (1.0 + 0.5 * np.sin(0.3 * t + k)) + 0.2 * np.cos(3.0 * p + 0.1 * t)
        out.append((g * scale).astype(np.float32))
    return out


def grad_scale(name):
    return 1e-6 if name.startswith("tiny_") else 1.0


# Each case builds the optimizer from a module with Keras' names: keras.optimizers or ours.
CASES = {
    "sgd": lambda m: m.SGD(learning_rate=0.05),
    "sgd_momentum": lambda m: m.SGD(learning_rate=0.05, momentum=0.9),
    "sgd_nesterov_clipnorm": lambda m: m.SGD(0.05, momentum=0.9, nesterov=True, clipnorm=0.5),
    "rmsprop": lambda m: m.RMSprop(0.01),
    "rmsprop_centered_momentum_globalclip": lambda m: m.RMSprop(
        0.01, momentum=0.5, centered=True, global_clipnorm=1.0
    ),
    "adam": lambda m: m.Adam(0.01),
    "adam_amsgrad_clipvalue": lambda m: m.Adam(0.01, amsgrad=True, clipvalue=0.3),
    "adam_ema": lambda m: m.Adam(0.01, use_ema=True, ema_momentum=0.9),
    "adam_wd_ema_overwrite": lambda m: m.Adam(
        0.01, weight_decay=0.05, use_ema=True, ema_overwrite_frequency=7
    ),
    "adam_schedule": lambda m: m.Adam(learning_rate=m.schedules.ExponentialDecay(0.02, 10, 0.7)),
    "adam_loss_scale": lambda m: m.Adam(0.01, loss_scale_factor=4.0),
    "adamw": lambda m: m.AdamW(0.01),
    "adamw_globalclip": lambda m: m.AdamW(0.01, weight_decay=0.1, global_clipnorm=0.8),
    "adagrad": lambda m: m.Adagrad(0.1),
    "adagrad_clipnorm": lambda m: m.Adagrad(0.1, initial_accumulator_value=0.5, clipnorm=0.3),
    "adadelta": lambda m: m.Adadelta(1.0),
    "adadelta_wd": lambda m: m.Adadelta(0.5, rho=0.9, weight_decay=0.01),
    "adamax": lambda m: m.Adamax(0.02),
    "nadam": lambda m: m.Nadam(0.01),
    "nadam_accumulate": lambda m: m.Nadam(0.01, gradient_accumulation_steps=3),
    "lion": lambda m: m.Lion(0.001),
    "lion_wd_schedule": lambda m: m.Lion(
        m.schedules.CosineDecay(0.003, 40, alpha=0.1), weight_decay=0.5
    ),
    "ftrl": lambda m: m.Ftrl(0.1),
    "ftrl_regularized": lambda m: m.Ftrl(
        0.1,
        l1_regularization_strength=0.01,
        l2_regularization_strength=0.02,
        l2_shrinkage_regularization_strength=0.01,
        beta=0.1,
    ),
    # Gradients of ~1e-6 make sqrt(v) smaller than epsilon: where epsilon goes (inside or outside
    # the root, before or after bias correction) and its Keras default now decide the trajectory.
    "tiny_adam": lambda m: m.Adam(0.01),
    "tiny_adam_epsilon_none": lambda m: m.Adam(0.01, epsilon=None if m is K else 1e-7),
    "tiny_rmsprop": lambda m: m.RMSprop(0.1),
    "tiny_adagrad": lambda m: m.Adagrad(0.1, initial_accumulator_value=0.0),
    "tiny_adamax": lambda m: m.Adamax(0.02),
    "tiny_nadam": lambda m: m.Nadam(0.01),
    "tiny_adadelta": lambda m: m.Adadelta(1.0),
    "sgd_accumulate_ema": lambda m: m.SGD(
        0.05, momentum=0.9, gradient_accumulation_steps=2, use_ema=True, ema_momentum=0.8
    ),
}


@pytest.fixture(scope="module")
def keras_trajectories():
    """Run every case in Keras once (Keras is slow to import and to step; share the work)."""
    import importlib
    import os

    os.environ.setdefault("KERAS_BACKEND", "torch")
    try:
        keras = importlib.import_module("keras")
    except ImportError:  # pragma: no cover - the `keras` fixture below reports it loudly
        return None
    out = {}
    for name, build in CASES.items():
        variables = [keras.Variable(a.copy()) for a in INIT]
        opt = build(keras.optimizers)
        traj = []
        for t in range(STEPS):
            grads = grad_fn([np.asarray(v.numpy()) for v in variables], t, grad_scale(name))
            opt.apply_gradients(zip([keras.ops.convert_to_tensor(g) for g in grads], variables))
            traj.append([np.array(v.numpy()) for v in variables])
        opt.finalize_variable_values(variables)
        final = [np.array(v.numpy()) for v in variables]
        out[name] = (traj, final, int(opt.iterations.numpy()))
    return out


def run_ours(build, use_step: bool, scale: float = 1.0):
    params = [dl.nn.Parameter(a.copy()) for a in INIT]
    opt = build(K)
    traj = []
    for t in range(STEPS):
        grads = grad_fn([p.data for p in params], t, scale)
        if use_step:
            if not opt.built:
                opt.build(params)
            for p, g in zip(params, grads):
                p.grad = g
            opt.step()
            opt.zero_grad()
        else:
            opt.apply_gradients(zip(grads, params))
        traj.append([p.data.copy() for p in params])
    opt.finalize_variable_values()
    return traj, [p.data.copy() for p in params], opt.iterations


@pytest.mark.parametrize("name", sorted(CASES))
def test_trajectory_matches_keras(keras, keras_trajectories, name):
    k_traj, k_final, k_iters = keras_trajectories[name]
    # Half the cases go through step() with .grad, half through apply_gradients.
    use_step = sorted(CASES).index(name) % 2 == 0
    traj, final, iters = run_ours(CASES[name], use_step, grad_scale(name))
    assert traj[-1][0].dtype == np.float32
    assert iters == k_iters
    moved = max(float(np.abs(a - b).max()) for a, b in zip(traj[-1], INIT))
    # Far more than the tolerance below, so the comparison is not vacuous.
    assert moved > (1e-4 if name.startswith("tiny_") else 1e-2), "the parameters barely moved"
    for t, (ours, theirs) in enumerate(zip(traj, k_traj)):
        for a, b in zip(ours, theirs):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6, err_msg=f"{name} step {t}")
    for a, b in zip(final, k_final):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6, err_msg=f"{name} after finalize")


# ----------------------------------------------------------------------------- legacy arguments
def one_param(value=1.0):
    return dl.nn.Parameter(np.array([value], dtype=np.float64))


def test_legacy_sgd_lr_decay_hand_computed():
    p = one_param()
    opt = K.SGD(lr=0.1, momentum=0.0, decay=0.5, nesterov=False)
    for _ in range(3):
        opt.apply_gradients([(np.array([1.0]), p)])
    # lr_t = 0.1 / (1 + 0.5 t) for t = 0, 1, 2
    assert p.data[0] == pytest.approx(1.0 - 0.1 - 0.1 / 1.5 - 0.1 / 2.0, rel=1e-12)


def test_legacy_sgd_momentum_decay_hand_computed():
    p = one_param()
    opt = K.SGD(lr=0.1, momentum=0.9, decay=0.1)
    m, expect = 0.0, 1.0
    for t, g in enumerate([1.0, -2.0, 0.5]):
        opt.apply_gradients([(np.array([g]), p)])
        m = 0.9 * m - 0.1 / (1 + 0.1 * t) * g
        expect += m
    assert p.data[0] == pytest.approx(expect, rel=1e-12)


def test_legacy_adam_signature_and_hand_steps():
    p = one_param()
    opt = K.Adam(lr=0.001, beta_1=0.9, beta_2=0.999, epsilon=None, decay=0.01, amsgrad=False)
    assert opt.defaults["epsilon"] == 1e-7  # epsilon=None -> the Keras default
    m = v = 0.0
    expect = 1.0
    for t, g in enumerate([0.5, -0.25]):
        opt.apply_gradients([(np.array([g]), p)])
        lr_t = 0.001 / (1 + 0.01 * t)
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        alpha = lr_t * np.sqrt(1 - 0.999 ** (t + 1)) / (1 - 0.9 ** (t + 1))
        expect -= alpha * m / (np.sqrt(v) + 1e-7)
        assert p.data[0] == pytest.approx(expect, rel=1e-12)


def test_legacy_rmsprop_signature_and_hand_step():
    p = one_param()
    opt = K.RMSprop(lr=0.01, rho=0.9, epsilon=None)
    opt.apply_gradients([(np.array([2.0]), p)])
    # v = 0.1 * g^2; eps inside the square root (Keras)
    assert p.data[0] == pytest.approx(1.0 - 0.01 * 2.0 / np.sqrt(0.1 * 4.0 + 1e-7), rel=1e-12)
    assert opt.learning_rate == 0.01 and opt.lr == 0.01


def test_legacy_arguments_errors():
    with pytest.raises(ValueError, match="not both"):
        K.Adam(learning_rate=0.1, lr=0.2)
    with pytest.raises(ValueError, match="decay"):
        K.SGD(lr=0.1, decay=-1.0)
    with pytest.raises(ValueError, match="only one of clipnorm"):
        K.Adam(clipnorm=1.0, clipvalue=1.0)
    with pytest.raises(ValueError, match="momentum"):
        K.SGD(momentum=1.5)
    with pytest.raises(ValueError, match="nesterov"):
        K.SGD(nesterov=True)
    with pytest.raises(ValueError, match="beta_1"):
        K.Adam(beta_1=1.0).build([one_param()])
    with pytest.raises(ValueError, match=r"beta_1: 1.5; beta_1 must be in \[0, 1\)"):
        K.Adam(beta_1=1.5)  # at construction, as Keras, not at build()
    with pytest.raises(ValueError, match="beta_2"):
        K.Adamax(beta_2=-0.1)
    with pytest.raises(ValueError, match="rho"):
        K.RMSprop(rho=1.0)
    with pytest.raises(ValueError, match="rho"):
        K.Adadelta(rho=-0.5)
    with pytest.raises(ValueError, match="epsilon"):
        K.Nadam(epsilon=-1e-7)
    with pytest.raises(ValueError, match="gradient_accumulation_steps"):
        K.Adam(gradient_accumulation_steps=1)
    with pytest.raises(ValueError, match="learning_rate_power"):
        K.Ftrl(learning_rate_power=0.5)
    with pytest.raises(ValueError, match="weight_decay"):
        K.AdamW(weight_decay=None)
    with pytest.raises(RuntimeError, match="no parameters yet"):
        K.Adam().step()
    with pytest.raises(TypeError, match="model.parameters"):
        K.Adam(dl.nn.Linear(2, 2))


def test_keras_defaults():
    cases = {
        K.SGD: dict(lr=0.01, momentum=0.0, nesterov=False),
        K.RMSprop: dict(lr=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False),
        K.Adam: dict(lr=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False),
        K.AdamW: dict(lr=0.001, weight_decay=0.004),
        K.Adagrad: dict(lr=0.001, initial_accumulator_value=0.1, epsilon=1e-7),
        K.Adadelta: dict(lr=0.001, rho=0.95, epsilon=1e-7),
        K.Adamax: dict(lr=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7),
        K.Nadam: dict(lr=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7),
        K.Lion: dict(lr=0.001, beta_1=0.9, beta_2=0.99),
        K.Ftrl: dict(lr=0.001, learning_rate_power=-0.5, initial_accumulator_value=0.1),
    }
    for cls, expected in cases.items():
        defaults = cls().defaults
        for k, v in expected.items():
            assert defaults[k] == v, (cls.__name__, k)


# ----------------------------------------------------------------------------- PyTorch-style use
def quadratic_model():
    dl.manual_seed(0)
    model = dl.nn.Linear(3, 2)
    x = dl.tensor(np.random.default_rng(0).standard_normal((8, 3)).astype(np.float32))
    y = dl.tensor(np.random.default_rng(1).standard_normal((8, 2)).astype(np.float32))
    return model, x, y


def train(model, x, y, opt, steps, sched=None):
    for _ in range(steps):
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
        if sched is not None:
            sched.step()
    return float(loss.data)


def test_step_interface_trains_a_model_and_matches_apply_gradients():
    model, x, y = quadratic_model()
    opt = K.Adam(params=model.parameters(), learning_rate=0.05, clipnorm=1.0)
    first = train(model, x, y, opt, 1)
    last = train(model, x, y, opt, 300)
    xa = np.hstack([x.data, np.ones((8, 1), np.float32)])
    best = float(((xa @ np.linalg.lstsq(xa, y.data, rcond=None)[0] - y.data) ** 2).mean())
    assert last - best < 0.05 * (first - best)  # most of the way to the least-squares optimum
    model2, x, y = quadratic_model()
    opt2 = K.Adam(learning_rate=0.05, clipnorm=1.0)
    params = list(model2.parameters())
    for _ in range(301):
        loss = ((model2(x) - y) ** 2).mean()
        for p in params:
            p.grad = None
        loss.backward()
        opt2.apply_gradients(zip([p.grad for p in params], params))
    for a, b in zip(model.parameters(), params):
        np.testing.assert_array_equal(a.data, b.data)


@pytest.mark.parametrize("name", ["sgd_accumulate_ema", "nadam", "adam_wd_ema_overwrite", "ftrl"])
def test_state_dict_resume_is_bit_exact(name):
    build = CASES[name]

    def fresh():
        params = [dl.nn.Parameter(a.copy()) for a in INIT]
        return params, build(K).build(params)

    def run(params, opt, t0, t1):
        for t in range(t0, t1):
            opt.apply_gradients(zip(grad_fn([p.data for p in params], t), params))

    params, opt = fresh()
    run(params, opt, 0, 40)
    saved_params = [p.data.copy() for p in params]
    saved = opt.state_dict()
    run(params, opt, 40, 80)

    params2, opt2 = fresh()
    for p, s in zip(params2, saved_params):
        p.data[...] = s
    opt2.load_state_dict(saved)
    assert opt2.iterations == opt.iterations - 40 // (opt.gradient_accumulation_steps or 1)
    run(params2, opt2, 40, 80)
    for a, b in zip(params, params2):
        np.testing.assert_array_equal(a.data, b.data)


def test_torch_style_scheduler_drives_keras_optimizer():
    from descentlab.optim.lr_scheduler import CyclicLR, StepLR

    p = one_param()
    opt = K.SGD(params=[p], learning_rate=0.1)
    sched = StepLR(opt, step_size=2, gamma=0.5)
    for _ in range(4):
        p.grad = np.array([1.0])
        opt.step()
        sched.step()
    assert p.data[0] == pytest.approx(1.0 - 0.1 - 0.1 - 0.05 - 0.05, rel=1e-12)
    # CyclicLR cycles Keras' beta_1 the way it cycles torch's betas[0].
    adam = K.Adam(params=[one_param()], learning_rate=0.1)
    cyc = CyclicLR(adam, 0.01, 0.1, step_size_up=4, base_momentum=0.8, max_momentum=0.9)
    cyc.step()
    assert adam.param_groups[0]["beta_1"] == pytest.approx(0.9 - 0.1 * 0.25)


def test_schedule_learning_rate_cannot_be_set_and_is_evaluated_per_iteration():
    sched = dl.optim.schedules.ExponentialDecay(0.1, 1, 0.5)
    p = one_param()
    opt = K.SGD(sched, params=[p])
    assert opt.learning_rate == 0.1
    opt.apply_gradients([(np.array([1.0]), p)])
    assert opt.learning_rate == 0.05
    with pytest.raises(TypeError, match="schedule"):
        opt.learning_rate = 0.3
    assert p.data[0] == pytest.approx(0.9)


def test_registry_has_keras_entries():
    names = [f"keras.{n}" for n in
             ("sgd", "rmsprop", "adam", "adamw", "adagrad", "adadelta", "adamax", "nadam", "lion", "ftrl")]  # fmt: skip
    for name in names:
        spec = dl.optim.registry.spec(name)
        assert spec.convention == "keras"
        opt = dl.optim.get(name, [one_param()], lr=0.01)
        assert isinstance(opt, K.Optimizer) and opt.learning_rate == 0.01
    assert isinstance(K.get("adam"), K.Adam)
    assert K.get("Adam").defaults["epsilon"] == 1e-7


@pytest.mark.parametrize("name", sorted(K._ALL))
def test_registry_defaults_converge_on_quadratic(name):
    """Every keras.* entry, with its registry defaults only, gets within 1e-2 of the minimum of an
    ill-conditioned quadratic (condition number 10) within 6000 steps. (The Rosenbrock check over
    the whole registry lives in test_optim_behaviour.py.)"""
    a = np.array([1.0, 3.0, 10.0])
    target = np.array([1.0, -2.0, 0.5])
    p = dl.nn.Parameter(np.zeros(3))
    opt = dl.optim.get(f"keras.{name}", [p])
    for _ in range(6000):
        p.grad = a * (p.data - target)
        opt.step()
    assert np.abs(p.data - target).max() < 1e-2, (name, p.data)


def test_get_config_round_trip_and_exclude_from_weight_decay():
    opt = K.AdamW(K.schedules.CosineDecay(0.01, 100), weight_decay=0.1, clipnorm=2.0)
    back = K.AdamW.from_config(opt.get_config())
    assert back.get_config() == opt.get_config()
    assert back._schedule == opt._schedule
    w, b = one_param(1.0), one_param(1.0)
    sgd = K.SGD(learning_rate=0.1, weight_decay=0.5, params=[w, b])
    sgd.exclude_from_weight_decay(var_list=[b])
    sgd.apply_gradients([(np.zeros(1), w), (np.zeros(1), b)])
    assert w.data[0] == pytest.approx(1.0 - 0.1 * 0.5) and b.data[0] == 1.0
    with pytest.raises(ValueError, match="var_list"):
        sgd.exclude_from_weight_decay(var_names=["bias"])
