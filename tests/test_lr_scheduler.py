"""lr_scheduler: exact PyTorch lr (and momentum) sequences over 100+ steps, JSON state round trips."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import descentlab as dl
from descentlab.optim import lr_scheduler as ls

STEPS = 130


def make_ours(kind: str = "sgd"):
    """Two param groups with different lrs (per-group behaviour), like the torch twin below."""
    from descentlab.optim import SGD, Adam

    p1, p2 = dl.nn.Parameter(np.ones(3)), dl.nn.Parameter(np.ones(2))
    groups = [{"params": [p1]}, {"params": [p2], "lr": 0.05}]
    if kind == "adam":
        return Adam(groups, lr=0.1, betas=(0.9, 0.99))
    return SGD(groups, lr=0.1, momentum=0.9)


def make_torch(torch, kind: str = "sgd"):
    p1, p2 = torch.nn.Parameter(torch.ones(3)), torch.nn.Parameter(torch.ones(2))
    groups = [{"params": [p1]}, {"params": [p2], "lr": 0.05}]
    if kind == "adam":
        return torch.optim.Adam(groups, lr=0.1, betas=(0.9, 0.99))
    return torch.optim.SGD(groups, lr=0.1, momentum=0.9)


def momentum_of(group):
    return group["betas"][0] if "betas" in group else group["momentum"]


# name -> (builder given (module, optimizer), optimizer kind, check momentum)
CASES = {
    "StepLR": (lambda m, o: m.StepLR(o, step_size=7, gamma=0.5), "sgd", False),
    "MultiStepLR": (lambda m, o: m.MultiStepLR(o, [10, 25, 25, 60], gamma=0.3), "sgd", False),
    "ExponentialLR": (lambda m, o: m.ExponentialLR(o, gamma=0.97), "sgd", False),
    "CosineAnnealingLR": (
        lambda m, o: m.CosineAnnealingLR(o, T_max=40, eta_min=1e-3),
        "sgd",
        False,
    ),
    "CosineAnnealingWarmRestarts": (
        lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=9, T_mult=2, eta_min=1e-4),
        "sgd",
        False,
    ),
    "CosineAnnealingWarmRestarts_T1": (
        lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=11),
        "sgd",
        False,
    ),
    "LinearLR": (
        lambda m, o: m.LinearLR(o, start_factor=0.1, end_factor=0.9, total_iters=30),
        "sgd",
        False,
    ),
    "ConstantLR": (lambda m, o: m.ConstantLR(o, factor=0.25, total_iters=12), "sgd", False),
    "PolynomialLR": (lambda m, o: m.PolynomialLR(o, total_iters=80, power=2.5), "sgd", False),
    "LambdaLR": (
        lambda m, o: m.LambdaLR(o, [lambda e: 0.9**e, lambda e: 1 / (1 + e)]),
        "sgd",
        False,
    ),
    "MultiplicativeLR": (
        lambda m, o: m.MultiplicativeLR(o, lambda e: 0.95 if e % 3 else 1.01),
        "sgd",
        False,
    ),
    "OneCycleLR": (
        lambda m, o: m.OneCycleLR(o, max_lr=[1.0, 0.3], total_steps=STEPS + 1),
        "sgd",
        True,
    ),
    "OneCycleLR_linear_3phase_adam": (
        lambda m, o: m.OneCycleLR(
            o,
            max_lr=0.5,
            epochs=11,
            steps_per_epoch=12,
            pct_start=0.25,
            anneal_strategy="linear",
            three_phase=True,
        ),
        "adam",
        True,
    ),
    "CyclicLR": (
        lambda m, o: m.CyclicLR(
            o, base_lr=0.01, max_lr=[0.1, 0.2], step_size_up=9, step_size_down=14
        ),
        "sgd",
        True,
    ),
    "CyclicLR_triangular2": (
        lambda m, o: m.CyclicLR(o, 0.01, 0.1, step_size_up=8, mode="triangular2"),
        "sgd",
        True,
    ),
    "CyclicLR_exp_range_adam": (
        lambda m, o: m.CyclicLR(
            o,
            0.01,
            0.1,
            step_size_up=10,
            mode="exp_range",
            gamma=0.98,
            base_momentum=0.85,
            max_momentum=0.95,
        ),
        "adam",
        True,
    ),
    "SequentialLR": (
        lambda m, o: m.SequentialLR(
            o,
            [
                m.LinearLR(o, start_factor=0.1, total_iters=10),
                m.CosineAnnealingLR(o, T_max=30),
                m.StepLR(o, step_size=5, gamma=0.7),
                m.ExponentialLR(o, gamma=0.9),
            ],
            milestones=[10, 50, 90],
        ),
        "sgd",
        False,
    ),
    "ChainedScheduler": (
        lambda m, o: m.ChainedScheduler(
            [m.ConstantLR(o, factor=0.5, total_iters=6), m.ExponentialLR(o, gamma=0.98)]
        ),
        "sgd",
        False,
    ),
}


def run(sched, opt, steps, metrics=None):
    lrs, moms = [], []
    for i in range(steps):
        opt.step()
        if metrics is None:
            sched.step()
        else:
            sched.step(metrics[i])
        lrs.append(list(sched.get_last_lr()))
        moms.append([momentum_of(g) for g in opt.param_groups])
    return np.array(lrs), np.array(moms)


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_torch_sequence(torch, name):
    build, kind, check_momentum = CASES[name]
    topt, oopt = make_torch(torch, kind), make_ours(kind)
    tsched, osched = build(torch.optim.lr_scheduler, topt), build(ls, oopt)
    assert osched.get_last_lr() == pytest.approx(tsched.get_last_lr(), rel=1e-12)
    t_lr, t_m = run(tsched, topt, STEPS)
    o_lr, o_m = run(osched, oopt, STEPS)
    np.testing.assert_allclose(o_lr, t_lr, rtol=1e-12, atol=0)
    np.testing.assert_allclose([g["lr"] for g in oopt.param_groups], t_lr[-1], rtol=1e-12)
    if check_momentum:
        np.testing.assert_allclose(o_m, t_m, rtol=1e-12, atol=0)
    if hasattr(tsched, "last_epoch"):
        assert osched.last_epoch == tsched.last_epoch


def test_reduce_on_plateau_matches_torch(torch):
    rng = np.random.default_rng(0)
    # A noisy loss that plateaus in stretches, so reductions, cooldown and min_lr all happen.
    metrics = np.concatenate(
        [
            np.linspace(1.0, 0.5, 30),
            0.5 + 0.01 * rng.standard_normal(40),
            np.linspace(0.5, 0.3, 20),
            np.full(60, 0.3),
        ]
    )
    for kwargs in [dict(patience=3, factor=0.5, cooldown=2, min_lr=[1e-3, 1e-2]),
                   dict(mode="max", patience=2, threshold=0.05, threshold_mode="abs"),
                   dict(patience=0, factor=0.9, threshold_mode="rel", eps=1e-3)]:  # fmt: skip
        mets = -metrics if kwargs.get("mode") == "max" else metrics
        topt, oopt = make_torch(torch), make_ours()
        t = torch.optim.lr_scheduler.ReduceLROnPlateau(topt, **kwargs)
        o = ls.ReduceLROnPlateau(oopt, **kwargs)
        t_lr, _ = run(t, topt, len(mets), mets)
        o_lr, _ = run(o, oopt, len(mets), mets)
        assert len(np.unique(o_lr[:, 0])) > 2, "the test metrics should trigger several reductions"
        np.testing.assert_allclose(o_lr, t_lr, rtol=1e-12, atol=0)
        assert o.best == t.best and o.num_bad_epochs == t.num_bad_epochs


@pytest.mark.parametrize("name", sorted(CASES))
def test_state_dict_json_resume(name):
    """Stop halfway, save the scheduler state as JSON, rebuild, load, continue: identical lrs."""
    build, kind, _ = CASES[name]
    opt = make_ours(kind)
    full_lr, full_m = run(build(ls, opt), opt, STEPS)

    opt1 = make_ours(kind)
    s1 = build(ls, opt1)
    run(s1, opt1, 50)
    saved_sched = json.loads(json.dumps(s1.state_dict()))
    saved_groups = [{k: v for k, v in g.items() if k != "params"} for g in opt1.param_groups]

    opt2 = make_ours(kind)
    s2 = build(ls, opt2)
    for g, saved in zip(opt2.param_groups, saved_groups):
        g.update(saved)
    s2.load_state_dict(saved_sched)
    rest_lr, rest_m = run(s2, opt2, STEPS - 50)
    np.testing.assert_array_equal(rest_lr, full_lr[50:])
    np.testing.assert_array_equal(rest_m, full_m[50:])


def test_reduce_on_plateau_state_round_trip():
    opt = make_ours()
    s = ls.ReduceLROnPlateau(opt, patience=1, factor=0.5)
    for m in [1.0, 1.0, 1.0, 0.5]:
        s.step(m)
    state = json.loads(json.dumps(s.state_dict()))
    s2 = ls.ReduceLROnPlateau(make_ours(), patience=7)
    s2.load_state_dict(state)
    assert s2.patience == 1 and s2.best == 0.5 and s2.num_bad_epochs == s.num_bad_epochs
    assert math.isinf(ls.ReduceLROnPlateau(make_ours()).state_dict()["best"])


def test_lambda_lr_saves_no_functions_but_callable_state():
    class Decay:
        def __init__(self, rate):
            self.rate = rate

        def __call__(self, epoch):
            return self.rate**epoch

    s = ls.LambdaLR(make_ours(), [lambda e: 1.0, Decay(0.5)])
    state = s.state_dict()
    assert state["lr_lambdas"] == [None, {"rate": 0.5}]
    json.dumps(state)
    other = ls.LambdaLR(make_ours(), [lambda e: 1.0, Decay(0.9)])
    other.load_state_dict(state)
    assert other.lr_lambdas[1].rate == 0.5


def test_chainable_schedulers_compose(torch):
    """Two recursive schedulers on one optimizer multiply their effects, as in torch."""
    topt, oopt = make_torch(torch), make_ours()
    ts = [
        torch.optim.lr_scheduler.StepLR(topt, 5, 0.5),
        torch.optim.lr_scheduler.ExponentialLR(topt, 0.9),
    ]
    os_ = [ls.StepLR(oopt, 5, 0.5), ls.ExponentialLR(oopt, 0.9)]
    for _ in range(40):
        topt.step()
        oopt.step()
        for a, b in zip(ts, os_):
            a.step()
            b.step()
        assert [g["lr"] for g in oopt.param_groups] == pytest.approx(
            [g["lr"] for g in topt.param_groups], rel=1e-12
        )


def test_warm_restarts_fractional_epochs(torch):
    topt, oopt = make_torch(torch), make_ours()
    t = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(topt, T_0=3, T_mult=2)
    o = ls.CosineAnnealingWarmRestarts(oopt, T_0=3, T_mult=2)
    for i in range(100):
        e = i / 7
        t.step(e)
        o.step(e)
        assert o.get_last_lr() == pytest.approx(t.get_last_lr(), rel=1e-12)


def test_resume_with_last_epoch_needs_initial_lr():
    from descentlab.optim import SGD

    opt = SGD([dl.nn.Parameter(np.ones(2))], lr=0.1)
    with pytest.raises(KeyError, match="initial_lr"):
        ls.StepLR(opt, 3, last_epoch=5)


def test_bad_arguments_raise_clear_errors():
    opt = make_ours()
    with pytest.raises(TypeError, match="param_groups"):
        ls.StepLR(object(), 3)
    with pytest.raises(ValueError, match="step_size"):
        ls.StepLR(opt, 0)
    with pytest.raises(ValueError, match="one value per param group"):
        ls.OneCycleLR(make_ours(), max_lr=[1.0, 2.0, 3.0], total_steps=10)
    with pytest.raises(ValueError, match="milestone"):
        ls.SequentialLR(opt, [ls.ExponentialLR(opt, 0.9)], milestones=[3])
    with pytest.raises(ValueError, match="factor"):
        ls.ReduceLROnPlateau(opt, factor=1.5)
    with pytest.raises(ValueError, match="mode"):
        ls.CyclicLR(opt, 0.1, 1.0, mode="zigzag")
    o = ls.OneCycleLR(make_ours(), max_lr=1.0, total_steps=3)
    for _ in range(3):
        o.step()
    with pytest.raises(ValueError, match="total_steps"):
        o.step()


def test_schedule_lr_drives_torch_named_optimizer_with_a_pure_schedule():
    from descentlab.optim import schedules

    cos = schedules.CosineDecay(0.1, 50, alpha=0.01)
    opt = make_ours()
    s = ls.ScheduleLR(opt, [cos, schedules.ExponentialDecay(0.05, 10, 0.5)])
    lrs, _ = run(s, opt, STEPS)
    expected = [[cos(e), 0.05 * 0.5 ** (e / 10)] for e in range(1, STEPS + 1)]
    np.testing.assert_allclose(lrs, expected, rtol=1e-15)
    # Inside SequentialLR a ScheduleLR restarts at its step 0, like schedules.Join.
    opt = make_ours()
    seq = ls.SequentialLR(opt, [ls.LinearLR(opt, 0.1, total_iters=5), ls.ScheduleLR(opt, cos)], [5])
    join = schedules.Join([schedules.Constant(0.0), cos], [5])
    lrs, _ = run(seq, opt, 30)
    np.testing.assert_allclose(lrs[4:, 0], [join(e) for e in range(5, 31)], rtol=1e-15)
    state = json.loads(json.dumps(s.state_dict()))
    assert "schedules" not in state and state["last_epoch"] == STEPS
    with pytest.raises(TypeError, match="function of the step"):
        ls.ScheduleLR(make_ours(), 0.1)


RESUME_KWARGS = {
    "StepLR": dict(step_size=7, gamma=0.5),
    "MultiStepLR": dict(milestones=[10, 25, 25, 60], gamma=0.3),
    "ExponentialLR": dict(gamma=0.97),
    "CosineAnnealingLR": dict(T_max=40, eta_min=1e-3),
    "LinearLR": dict(start_factor=0.1, end_factor=0.9, total_iters=30),
    "PolynomialLR": dict(total_iters=80, power=2.5),
    "CosineAnnealingWarmRestarts": dict(T_0=9, T_mult=2, eta_min=1e-4),
    "LambdaLR": dict(lr_lambda=lambda e: 0.9**e),
}


@pytest.mark.parametrize("name", sorted(RESUME_KWARGS))
def test_constructed_with_last_epoch_matches_torch(torch, name):
    """Resuming by last_epoch (initial_lr already in the groups) follows torch from the first step."""
    topt, oopt = make_torch(torch), make_ours()
    for opt in (topt, oopt):
        for g in opt.param_groups:
            g["initial_lr"] = g["lr"]
            g["lr"] = g["lr"] * 0.7  # the lr a checkpoint left behind
    kwargs = {**RESUME_KWARGS[name], "last_epoch": 12}
    t = getattr(torch.optim.lr_scheduler, name)(topt, **kwargs)
    o = getattr(ls, name)(oopt, **kwargs)
    assert o.get_last_lr() == pytest.approx(t.get_last_lr(), rel=1e-12)
    t_lr, _ = run(t, topt, 40)
    o_lr, _ = run(o, oopt, 40)
    np.testing.assert_allclose(o_lr, t_lr, rtol=1e-12, atol=0)
