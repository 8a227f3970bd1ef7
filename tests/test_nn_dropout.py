"""Dropout: inverted scaling, the kept fraction, identity in eval mode, reproducible masks,
channel-wise variants, alpha dropout's moments, and gradients through the mask."""

from __future__ import annotations

import numpy as np
import pytest

import descentlab as dl
from descentlab import nn
from descentlab.nn import functional as F


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_inverted_scaling_and_kept_fraction(p):
    x = dl.ones(200, 500)
    y = nn.Dropout(p, generator=np.random.default_rng(0))(x).data
    kept = y != 0
    np.testing.assert_allclose(y[kept], 1 / (1 - p), rtol=1e-6)
    n = kept.size
    assert abs(kept.mean() - (1 - p)) < 5 * np.sqrt(p * (1 - p) / n)  # 5 sigma binomial band
    assert abs(y.mean() - 1.0) < 0.02  # expectation preserved


def test_eval_mode_and_p_zero_are_identity():
    x = dl.randn(4, 6)
    drop = nn.Dropout(0.5).eval()
    assert drop(x) is x or np.array_equal(drop(x).data, x.data)
    assert np.array_equal(nn.Dropout(0.0)(x).data, x.data)
    assert np.array_equal(nn.Dropout2d(0.3).eval()(dl.randn(2, 3, 4, 4)).shape, (2, 3, 4, 4))


def test_p_one_drops_everything():
    assert not nn.Dropout(1.0)(dl.randn(3, 3)).data.any()


def test_same_generator_seed_gives_the_same_mask():
    x = dl.randn(8, 16)
    a = F.dropout(x, 0.5, generator=np.random.default_rng(42)).data
    b = F.dropout(x, 0.5, generator=np.random.default_rng(42)).data
    c = F.dropout(x, 0.5, generator=np.random.default_rng(43)).data
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    dl.manual_seed(7)
    d = nn.Dropout(0.5)(x).data
    dl.manual_seed(7)
    assert np.array_equal(nn.Dropout(0.5)(x).data, d)


def test_gradient_flows_through_kept_units_only():
    x = dl.tensor(np.ones((5, 7)), requires_grad=True)
    y = F.dropout(x, 0.4, generator=np.random.default_rng(1))
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, y.data)  # d y / d x = mask / (1 - p) = y for x = 1


def test_dropout2d_and_dropout1d_drop_whole_channels():
    x = dl.ones(50, 40, 3, 3)
    y = F.dropout2d(x, 0.5, generator=np.random.default_rng(0)).data
    per_channel = y.reshape(50, 40, 9)
    assert np.all((per_channel == 0).all(-1) | (per_channel == 2).all(-1))
    assert 0.4 < (per_channel[..., 0] == 0).mean() < 0.6
    z = F.dropout1d(dl.ones(30, 20, 5), 0.5, generator=np.random.default_rng(0)).data
    assert np.all((z == 0).all(-1) | (z == 2).all(-1))


def test_alpha_dropout_keeps_zero_mean_unit_variance():
    x = dl.randn(400, 500, generator=np.random.default_rng(0))
    drop = nn.AlphaDropout(0.2, generator=np.random.default_rng(1))
    y = drop(x).data
    assert abs(y.mean()) < 0.01 and abs(y.std() - 1) < 0.01
    assert np.array_equal(drop.eval()(x).data, x.data)


def test_alpha_dropout_values_follow_torch_formula():
    # PyTorch: kept units a * x + a * alpha' * p, dropped ones a * alpha' * (p - 1), with
    # a = ((alpha'^2 p + 1)(1 - p))^(-1/2) and alpha' = 1.7580993408473766.
    p, alpha = 0.3, 1.7580993408473766
    a = 1 / np.sqrt((alpha**2 * p + 1) * (1 - p))
    x = np.linspace(-2, 2, 1000)
    y = F.alpha_dropout(dl.tensor(x), p, training=True, generator=np.random.default_rng(3)).data
    kept = np.isclose(y, a * x + a * alpha * p, rtol=0, atol=1e-12)
    np.testing.assert_allclose(y[~kept], a * alpha * (p - 1), rtol=1e-12)
    assert 0.6 < kept.mean() < 0.8


def test_bad_probability_is_a_clear_error():
    with pytest.raises(ValueError, match="p must be between 0 and 1, got 1.5"):
        nn.Dropout(1.5)
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.dropout(dl.randn(2), -0.1)
    with pytest.raises(ValueError, match="expected a 3-D or 4-D input"):
        F.dropout2d(dl.randn(2, 3), 0.5)


@pytest.mark.parametrize(
    ("fn", "shape"),
    [(F.dropout, (4, 5)), (F.dropout1d, (2, 3, 4)), (F.dropout2d, (2, 3, 2, 2)),
     (F.alpha_dropout, (4, 5))],
    ids=["dropout", "dropout1d", "dropout2d", "alpha_dropout"],
)  # fmt: skip
def test_gradcheck_in_training_mode_with_a_fixed_mask(fn, shape):
    """float64 gradient check of each dropout in training mode: a generator reseeded on every call
    keeps the mask fixed while gradcheck perturbs the input."""
    x = np.random.default_rng(0).standard_normal(shape)
    assert dl.gradcheck(lambda t: fn(t, 0.4, True, generator=np.random.default_rng(5)), x)
    on_ones = fn(dl.ones(*shape).double(), 0.4, True, generator=np.random.default_rng(5)).data
    assert len(np.unique(on_ones)) == 2  # the mask really drops something and keeps something


def test_repr_matches_torch(torch):
    for name in ("Dropout", "Dropout1d", "Dropout2d", "AlphaDropout"):
        assert repr(getattr(nn, name)(0.3)) == repr(getattr(torch.nn, name)(0.3))
