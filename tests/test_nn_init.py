"""Initializers: statistics (mean, std, bounds) against PyTorch's formulas, fan computation,
gains, determinism with a generator, and every layer's default initialisation."""

from __future__ import annotations

import math

import numpy as np
import pytest

import descentlab as dl
from descentlab import nn
from descentlab.nn import init


def _w(*shape):
    return nn.Parameter(np.zeros(shape, dtype=np.float64))


def _gen(seed=0):
    return np.random.default_rng(seed)


def test_fans_match_torch(torch):
    for shape in [(7, 5), (8, 3, 3, 3), (4, 6, 5), (2, 3, 2, 2, 2)]:
        ours = init.calculate_fan_in_and_fan_out(_w(*shape))
        theirs = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
        assert ours == theirs
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        init.calculate_fan_in_and_fan_out(_w(5))


@pytest.mark.parametrize(
    ("name", "param"),
    [("linear", None), ("conv2d", None), ("sigmoid", None), ("tanh", None), ("relu", None),
     ("leaky_relu", None), ("leaky_relu", 0.2), ("selu", None)],
)  # fmt: skip
def test_calculate_gain_matches_torch(name, param, torch):
    assert init.calculate_gain(name, param) == pytest.approx(
        torch.nn.init.calculate_gain(name, param)
    )


def test_calculate_gain_unknown_name():
    with pytest.raises(ValueError, match="unsupported nonlinearity 'swish'"):
        init.calculate_gain("swish")


# (initializer, kwargs, expected std, bound or None) for a (400, 300) weight: fan_in 300, fan_out 400
FAN_IN, FAN_OUT = 300, 400
CASES = [
    (init.uniform_, {"a": -2.0, "b": 1.0}, 3 / math.sqrt(12), (-2.0, 1.0), -0.5),
    (init.normal_, {"mean": 0.5, "std": 2.0}, 2.0, None, 0.5),
    (init.xavier_uniform_, {"gain": 2.0}, 2 * math.sqrt(2 / 700), 2 * math.sqrt(6 / 700), 0),
    (init.xavier_normal_, {}, math.sqrt(2 / 700), None, 0),
    (init.kaiming_uniform_, {"nonlinearity": "relu"}, math.sqrt(2 / FAN_IN), math.sqrt(6 / FAN_IN), 0),
    (init.kaiming_uniform_, {"a": math.sqrt(5)}, 1 / math.sqrt(3 * FAN_IN), 1 / math.sqrt(FAN_IN), 0),
    (init.kaiming_normal_, {"nonlinearity": "relu"}, math.sqrt(2 / FAN_IN), None, 0),
    (init.kaiming_normal_, {"mode": "fan_out", "nonlinearity": "relu"}, math.sqrt(2 / FAN_OUT), None, 0),
    (init.lecun_uniform_, {}, math.sqrt(1 / FAN_IN), math.sqrt(3 / FAN_IN), 0),
    (init.lecun_normal_, {}, math.sqrt(1 / FAN_IN), 2 * math.sqrt(1 / FAN_IN) / 0.87962566103423978, 0),
]  # fmt: skip


@pytest.mark.parametrize(
    ("fn", "kw", "std", "bound", "mean"), CASES, ids=lambda v: getattr(v, "__name__", None)
)
def test_statistics_match_the_formulas(fn, kw, std, bound, mean):
    w = fn(_w(FAN_OUT, FAN_IN), generator=_gen(), **kw).data
    n = w.size
    assert abs(w.mean() - mean) < 5 * std / math.sqrt(n)
    assert w.std() == pytest.approx(std, rel=0.02)
    if bound is not None:
        lo, hi = bound if isinstance(bound, tuple) else (-bound, bound)
        assert w.min() >= lo and w.max() <= hi
        assert w.min() < lo + 0.01 * (hi - lo) and w.max() > hi - 0.01 * (hi - lo)  # bounds reached


def test_same_statistics_as_torch_initializers(torch):
    torch.manual_seed(0)
    t = torch.empty(400, 300)
    for ours, theirs, kw in [
        (init.xavier_uniform_, torch.nn.init.xavier_uniform_, {}),
        (init.kaiming_normal_, torch.nn.init.kaiming_normal_, {"mode": "fan_out"}),
        (init.kaiming_uniform_, torch.nn.init.kaiming_uniform_, {"a": math.sqrt(5)}),
    ]:
        w = ours(_w(400, 300), generator=_gen(), **kw).data
        theirs(t, **kw)
        assert w.std() == pytest.approx(float(t.std()), rel=0.03)
        if ours is not init.kaiming_normal_:
            assert np.abs(w).max() == pytest.approx(float(t.abs().max()), rel=0.01)


def test_trunc_normal_respects_bounds():
    w = init.trunc_normal_(_w(300, 300), mean=1.0, std=2.0, a=-1.0, b=2.0, generator=_gen()).data
    assert w.min() >= -1.0 and w.max() <= 2.0
    w = init.trunc_normal_(_w(300, 300), std=1.0, generator=_gen()).data
    # N(0,1) truncated to [-2, 2] has std 0.8796
    assert w.std() == pytest.approx(0.87962566103423978, rel=0.01)


@pytest.mark.parametrize("shape", [(6, 4), (4, 6), (3, 2, 2, 2)])
def test_orthogonal(shape):
    w = init.orthogonal_(_w(*shape), gain=2.0, generator=_gen()).data.reshape(shape[0], -1)
    if w.shape[0] <= w.shape[1]:
        np.testing.assert_allclose(w @ w.T, 4 * np.eye(w.shape[0]), atol=1e-12)
    else:
        np.testing.assert_allclose(w.T @ w, 4 * np.eye(w.shape[1]), atol=1e-12)


def test_constant_zeros_ones_eye_dirac(torch):
    assert np.all(init.constant_(_w(2, 3), 0.3).data == 0.3)
    assert not init.zeros_(_w(2, 3)).data.any()
    assert np.all(init.ones_(_w(2, 3)).data == 1)
    np.testing.assert_array_equal(init.eye_(_w(3, 4)).data, np.eye(3, 4))
    t = torch.empty(4, 2, 3, 3)
    torch.nn.init.dirac_(t, groups=2)
    np.testing.assert_array_equal(init.dirac_(_w(4, 2, 3, 3), groups=2).data, t.numpy())
    with pytest.raises(ValueError, match="only 2-D"):
        init.eye_(_w(2, 2, 2))


def test_generator_makes_initialisation_reproducible():
    a = init.kaiming_uniform_(_w(5, 5), generator=_gen(3)).data
    b = init.kaiming_uniform_(_w(5, 5), generator=_gen(3)).data
    assert np.array_equal(a, b)
    dl.manual_seed(11)
    c = nn.Linear(5, 5).weight.data.copy()
    dl.manual_seed(11)
    assert np.array_equal(nn.Linear(5, 5).weight.data, c)
    assert np.array_equal(nn.Conv2d(2, 3, 3, generator=_gen(1)).weight.data,
                          nn.Conv2d(2, 3, 3, generator=_gen(1)).weight.data)  # fmt: skip


@pytest.mark.parametrize(
    ("make", "bounds"),
    [
        (lambda m: m.Linear(300, 200), {"weight": 1 / math.sqrt(300), "bias": 1 / math.sqrt(300)}),
        (lambda m: m.Conv2d(16, 32, 5), {"weight": 1 / math.sqrt(400), "bias": 1 / math.sqrt(400)}),
        (
            lambda m: m.Conv1d(16, 32, 5, groups=4),
            {"weight": 1 / math.sqrt(20), "bias": 1 / math.sqrt(20)},
        ),
        (
            lambda m: m.ConvTranspose2d(16, 32, 3),
            {"weight": 1 / math.sqrt(288), "bias": 1 / math.sqrt(288)},
        ),
        (
            lambda m: m.Bilinear(20, 30, 40),
            {"weight": 1 / math.sqrt(20), "bias": 1 / math.sqrt(20)},
        ),
    ],
    ids=["linear", "conv2d", "conv1d_groups", "conv_transpose2d", "bilinear"],
)
def test_default_uniform_layer_init_matches_torch(make, bounds, torch):
    ours, theirs = make(nn), make(torch.nn)
    tp = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        assert p.shape == tuple(tp[name].shape), name
        b = bounds[name]
        assert np.abs(p.data).max() <= b and np.abs(p.data).max() > 0.9 * b, name
        assert float(tp[name].detach().abs().max()) <= b  # the bound is PyTorch's too
        if p.size > 1000:
            assert p.data.std() == pytest.approx(b / math.sqrt(3), rel=0.05), name


def test_default_init_of_other_layers_matches_torch(torch):
    for ours, theirs in [
        (nn.BatchNorm2d(5), torch.nn.BatchNorm2d(5)),
        (nn.LayerNorm(5), torch.nn.LayerNorm(5)),
        (nn.GroupNorm(1, 5), torch.nn.GroupNorm(1, 5)),
        (nn.RMSNorm(5), torch.nn.RMSNorm(5)),
        (nn.PReLU(5), torch.nn.PReLU(5)),
    ]:
        for key, value in theirs.state_dict().items():
            np.testing.assert_array_equal(ours.state_dict()[key], value.numpy(), err_msg=key)
    emb = nn.Embedding(500, 40, padding_idx=3)
    assert not emb.weight.data[3].any()
    rows = np.delete(emb.weight.data, 3, axis=0)
    assert abs(rows.mean()) < 0.02 and rows.std() == pytest.approx(1.0, rel=0.03)
