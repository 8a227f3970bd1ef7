"""Schedules: Keras parity for the Keras-named ones, torch parity for OneCycle/Cyclic, composition."""

from __future__ import annotations

import json

import numpy as np
import pytest

from descentlab.optim import schedules as S

STEPS = np.arange(0, 220)


def keras_cases(ks):
    """(ours, Keras) pairs with the same arguments, including boundaries and cycles."""
    return [
        (S.ExponentialDecay(0.1, 7, 0.5), ks.ExponentialDecay(0.1, 7, 0.5)),
        (S.ExponentialDecay(0.1, 7, 0.5, staircase=True),
         ks.ExponentialDecay(0.1, 7, 0.5, staircase=True)),
        (S.InverseTimeDecay(0.1, 3, 0.5), ks.InverseTimeDecay(0.1, 3, 0.5)),
        (S.InverseTimeDecay(0.1, 3, 0.5, staircase=True),
         ks.InverseTimeDecay(0.1, 3, 0.5, staircase=True)),
        (S.PolynomialDecay(0.1, 30, 0.01, power=2.0), ks.PolynomialDecay(0.1, 30, 0.01, power=2.0)),
        (S.PolynomialDecay(0.1, 30, 0.01, power=0.5, cycle=True),
         ks.PolynomialDecay(0.1, 30, 0.01, power=0.5, cycle=True)),
        (S.CosineDecay(0.1, 40, alpha=0.1), ks.CosineDecay(0.1, 40, alpha=0.1)),
        (S.CosineDecay(0.01, 40, alpha=0.1, warmup_target=0.1, warmup_steps=15),
         ks.CosineDecay(0.01, 40, alpha=0.1, warmup_target=0.1, warmup_steps=15)),
        (S.CosineDecayRestarts(0.1, 10, t_mul=2.0, m_mul=0.5, alpha=0.05),
         ks.CosineDecayRestarts(0.1, 10, t_mul=2.0, m_mul=0.5, alpha=0.05)),
        (S.CosineDecayRestarts(0.1, 7, t_mul=1.0, m_mul=0.8),
         ks.CosineDecayRestarts(0.1, 7, t_mul=1.0, m_mul=0.8)),
        (S.CosineDecayRestarts(0.1, 3, t_mul=1.5), ks.CosineDecayRestarts(0.1, 3, t_mul=1.5)),
        (S.PiecewiseConstantDecay([10, 20, 50], [1.0, 0.5, 0.1, 0.01]),
         ks.PiecewiseConstantDecay([10, 20, 50], [1.0, 0.5, 0.1, 0.01])),
    ]  # fmt: skip


def test_keras_named_schedules_match_keras(keras):
    for ours, theirs in keras_cases(keras.optimizers.schedules):
        a = np.array([ours(int(s)) for s in STEPS])
        b = np.array([float(theirs(int(s))) for s in STEPS])
        # Keras evaluates in float32: relative 1e-5, plus an absolute floor where cos(pi) ~ -1
        # makes float32 cancel to a few ulps of the initial rate.
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7, err_msg=repr(ours))
        assert len(np.unique(np.round(a, 9))) > 2


def test_keras_schedule_drives_keras_optimizer_same_as_ours(keras):
    """Our schedule plugged into a Keras optimizer gives the same lr Keras' own schedule does."""
    ours = S.CosineDecay(0.2, 25, alpha=0.05)
    theirs = keras.optimizers.schedules.CosineDecay(0.2, 25, alpha=0.05)
    opt = keras.optimizers.SGD(learning_rate=theirs)
    for step in [0, 3, 24, 100]:
        opt.iterations.assign(step)
        assert float(opt.learning_rate) == pytest.approx(ours(step), rel=1e-6)


def test_one_cycle_matches_torch(torch):
    for kw in [dict(max_lr=0.4, total_steps=150),
               dict(max_lr=1.0, total_steps=120, pct_start=0.25, anneal_strategy="linear",
                    three_phase=True, div_factor=10.0, final_div_factor=100.0)]:  # fmt: skip
        sched = S.OneCycle(**kw)
        opt = torch.optim.SGD([torch.nn.Parameter(torch.ones(1))], lr=0.1, momentum=0.9)
        tkw = {k: v for k, v in kw.items()}
        ref = torch.optim.lr_scheduler.OneCycleLR(opt, **tkw)
        for step in range(kw["total_steps"]):
            assert sched(step) == pytest.approx(ref.get_last_lr()[0], rel=1e-12, abs=0)
            assert sched.momentum(step) == pytest.approx(opt.param_groups[0]["momentum"], rel=1e-12)
            opt.step()
            ref.step()
        # Past the end the schedule holds its final value.
        assert sched(10_000) == sched(kw["total_steps"] - 1)


@pytest.mark.parametrize(
    "kw",
    [dict(base_lr=0.01, max_lr=0.1, step_size_up=9, step_size_down=14),
     dict(base_lr=0.01, max_lr=0.1, step_size_up=8, mode="triangular2"),
     dict(base_lr=0.01, max_lr=0.1, step_size_up=10, mode="exp_range", gamma=0.98)],
)  # fmt: skip
def test_cyclic_matches_torch(torch, kw):
    sched = S.Cyclic(**kw)
    opt = torch.optim.SGD([torch.nn.Parameter(torch.ones(1))], lr=0.1)
    ref = torch.optim.lr_scheduler.CyclicLR(opt, cycle_momentum=False, **kw)
    for step in range(150):
        assert sched(step) == pytest.approx(ref.get_last_lr()[0], rel=1e-12, abs=0)
        opt.step()
        ref.step()


def test_join_and_sequential_lr_agree(torch):
    """Join is the pure-function twin of SequentialLR: each piece restarts from its step 0."""
    sched = S.Join(
        [S.PolynomialDecay(0.1, 10, end_learning_rate=0.1), S.ExponentialDecay(0.1, 1, 0.9), 0.05],
        [10, 40],
    )
    opt = torch.optim.SGD([torch.nn.Parameter(torch.ones(1))], lr=0.1)
    lr_s = torch.optim.lr_scheduler
    ref = lr_s.SequentialLR(
        opt, [lr_s.ConstantLR(opt, factor=1.0), lr_s.ExponentialLR(opt, 0.9),
              lr_s.LambdaLR(opt, lambda e: 0.5)], milestones=[10, 40],
    )  # fmt: skip
    for step in range(80):
        assert sched(step) == pytest.approx(ref.get_last_lr()[0], rel=1e-12)
        opt.step()
        ref.step()


def test_constant_piecewise_join_hand_values():
    assert S.Constant(0.3)(0) == S.Constant(0.3)(10**6) == 0.3
    pc = S.PiecewiseConstantDecay([100, 200], [1.0, 0.5, 0.1])
    assert [pc(s) for s in (0, 100, 101, 200, 201)] == [1.0, 1.0, 0.5, 0.5, 0.1]
    j = S.Join([S.Constant(0.1), S.ExponentialDecay(0.1, 1, 0.5)], [10])
    assert [j(9), j(10), j(12)] == [0.1, 0.1, pytest.approx(0.025)]


def test_linear_warmup_joins_any_schedule(keras):
    # Warmup from 0.01 to a cosine equals Keras' CosineDecay(warmup_target=...) exactly.
    ours = S.LinearWarmup(S.CosineDecay(0.1, 40, alpha=0.1), warmup_steps=15, start_value=0.01)
    theirs = keras.optimizers.schedules.CosineDecay(
        0.01, 40, alpha=0.1, warmup_target=0.1, warmup_steps=15
    )
    for step in range(60):
        assert ours(step) == pytest.approx(float(theirs(step)), rel=1e-5, abs=1e-8)
    w = S.LinearWarmup(S.ExponentialDecay(0.2, 10, 0.5), warmup_steps=4)
    assert [w(0), w(1), w(4), w(14)] == [0.0, 0.05, 0.2, pytest.approx(0.1)]
    assert S.LinearWarmup(0.5, warmup_steps=2)(1) == 0.25


def test_exponential_inverse_time_polynomial_hand_values():
    assert S.ExponentialDecay(0.1, 10, 0.5, staircase=True)(25) == pytest.approx(0.025)
    assert S.ExponentialDecay(0.1, 10, 0.5)(5) == pytest.approx(0.1 * 0.5**0.5)
    # The legacy Keras `decay=` argument is InverseTimeDecay with decay_steps=1.
    assert S.InverseTimeDecay(0.1, 1, 0.5)(2) == pytest.approx(0.05)
    assert S.PolynomialDecay(0.1, 100, end_learning_rate=0.0)(50) == pytest.approx(0.05)
    assert S.PolynomialDecay(0.1, 100, end_learning_rate=0.0)(500) == 0.0
    assert S.CosineDecay(0.1, 100)(50) == pytest.approx(0.05)
    assert S.CosineDecayRestarts(0.1, 10, t_mul=2.0)(10) == pytest.approx(0.1)
    assert S.CosineDecayRestarts(0.1, 10, t_mul=2.0)(30) == pytest.approx(0.1)


ALL = [
    S.Constant(0.1),
    S.PiecewiseConstantDecay([3, 9], [0.3, 0.2, 0.1]),
    S.ExponentialDecay(0.1, 5, 0.9, staircase=True),
    S.InverseTimeDecay(0.1, 5, 0.9),
    S.PolynomialDecay(0.1, 50, power=2.0, cycle=True),
    S.CosineDecay(0.1, 50, alpha=0.1, warmup_target=0.2, warmup_steps=5),
    S.CosineDecayRestarts(0.1, 10, t_mul=1.5, m_mul=0.9),
    S.LinearWarmup(S.CosineDecay(0.1, 50), warmup_steps=5),
    S.OneCycle(100, 0.5, three_phase=True),
    S.Cyclic(0.01, 0.1, step_size_up=7, mode="exp_range", gamma=0.99),
    S.Join([S.Constant(0.1), S.Join([0.05, S.ExponentialDecay(0.05, 1, 0.9)], [5])], [10]),
]


@pytest.mark.parametrize("sched", ALL, ids=lambda s: type(s).__name__)
def test_serialize_round_trip_through_json(sched):
    config = json.loads(json.dumps(S.serialize(sched)))
    back = S.deserialize(config)
    assert back == sched
    assert [back(s) for s in range(0, 120, 7)] == [sched(s) for s in range(0, 120, 7)]


def test_as_schedule_and_errors():
    assert S.as_schedule(0.1)(5) == 0.1
    fn = lambda step: 1.0 / (step + 1)  # noqa: E731
    assert S.as_schedule(fn) is fn
    with pytest.raises(TypeError, match="float or a schedule"):
        S.as_schedule("0.1")
    with pytest.raises(ValueError, match="decay_steps"):
        S.ExponentialDecay(0.1, 0, 0.5)
    with pytest.raises(ValueError, match="one more entry"):
        S.PiecewiseConstantDecay([1, 2], [0.1])
    with pytest.raises(ValueError, match="increasing"):
        S.Join([0.1, 0.2, 0.3], [5, 2])
    with pytest.raises(ValueError, match="anneal_strategy"):
        S.OneCycle(10, 0.1, anneal_strategy="exp")
    with pytest.raises(ValueError, match="mode"):
        S.Cyclic(0.1, 1.0, mode="zigzag")
    with pytest.raises(ValueError, match="non-negative"):
        S.Constant(0.1)(-1)
    with pytest.raises(ValueError, match="unknown schedule"):
        S.deserialize({"class_name": "Nope", "config": {}})
    with pytest.raises(TypeError, match="serialised"):
        S.serialize(lambda s: 0.1)
