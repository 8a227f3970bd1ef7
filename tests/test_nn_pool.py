"""Pooling layers: PyTorch parity over option combinations, float64 gradient checks, PyTorch's
first-maximum tie rule, and clear errors."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import descentlab as dl
from descentlab import nn
from nn_parity import module_gradcheck, torch_parity

MAX_CASES = list(itertools.product((2, 3, (2, 3)), (None, 1, 2), (0, 1), (1, 2), (False, True)))


@pytest.mark.parametrize(("k", "s", "p", "d", "c"), MAX_CASES)
def test_max_pool2d_matches_torch(k, s, p, d, c, torch, rng):
    kw = dict(stride=s, padding=p, dilation=d, ceil_mode=c)
    x = rng.standard_normal((2, 3, 9, 8))
    torch_parity(nn.MaxPool2d(k, **kw), torch.nn.MaxPool2d(k, **kw), torch, x)


@pytest.mark.parametrize(
    ("k", "s", "p", "c", "cip", "div"),
    list(
        itertools.product(
            (2, 3, (3, 2)), (None, 1, 2), (0, 1), (False, True), (True, False), (None,)
        )
    )
    + [(2, 2, 1, False, True, 3), (3, 2, 1, True, False, 5)],
)
def test_avg_pool2d_matches_torch(k, s, p, c, cip, div, torch, rng):
    kw = dict(stride=s, padding=p, ceil_mode=c, count_include_pad=cip, divisor_override=div)
    x = rng.standard_normal((2, 3, 9, 8))
    torch_parity(nn.AvgPool2d(k, **kw), torch.nn.AvgPool2d(k, **kw), torch, x)


@pytest.mark.parametrize(
    ("k", "s", "p", "d", "c"),
    list(itertools.product((2, 3), (None, 2), (0, 1), (1, 2), (False, True))),
)
def test_max_pool1d_matches_torch(k, s, p, d, c, torch, rng):
    kw = dict(stride=s, padding=p, dilation=d, ceil_mode=c)
    torch_parity(
        nn.MaxPool1d(k, **kw), torch.nn.MaxPool1d(k, **kw), torch, rng.standard_normal((2, 3, 11))
    )


@pytest.mark.parametrize(
    ("k", "s", "p", "c", "cip"),
    list(itertools.product((2, 3), (None, 2), (0, 1), (False, True), (True, False))),
)
def test_avg_pool1d_matches_torch(k, s, p, c, cip, torch, rng):
    kw = dict(stride=s, padding=p, ceil_mode=c, count_include_pad=cip)
    torch_parity(
        nn.AvgPool1d(k, **kw), torch.nn.AvgPool1d(k, **kw), torch, rng.standard_normal((2, 3, 11))
    )


@pytest.mark.parametrize("size", [1, 3, (4, 3), (None, 2), (9, 8), (5, 7)])
def test_adaptive_avg_pool2d_matches_torch(size, torch, rng):
    torch_parity(nn.AdaptiveAvgPool2d(size), torch.nn.AdaptiveAvgPool2d(size), torch,
                 rng.standard_normal((2, 3, 9, 8)))  # fmt: skip


@pytest.mark.parametrize("size", [1, 4, 11])
def test_adaptive_avg_pool1d_matches_torch(size, torch, rng):
    torch_parity(nn.AdaptiveAvgPool1d(size), torch.nn.AdaptiveAvgPool1d(size), torch,
                 rng.standard_normal((2, 3, 11)))  # fmt: skip


def test_float32_pooling_matches_torch(torch, rng):
    x = rng.standard_normal((4, 8, 12, 12)).astype(np.float32)
    for ours, theirs in [
        (nn.MaxPool2d(2), torch.nn.MaxPool2d(2)),
        (nn.AvgPool2d(3, 2, 1), torch.nn.AvgPool2d(3, 2, 1)),
    ]:
        torch_parity(ours, theirs, torch, x, dtype=np.float32)


@pytest.mark.parametrize(
    "module",
    [nn.MaxPool2d(2), nn.MaxPool2d(3, 2, 1), nn.AvgPool2d(3, 2, 1, count_include_pad=False),
     nn.AdaptiveAvgPool2d((2, 3)), nn.MaxPool1d(3, 2), nn.AvgPool1d(2)],
    ids=["max2", "max3s2p1", "avg3s2p1", "adaptive", "max1d", "avg1d"],
)  # fmt: skip
def test_gradcheck(module, rng):
    shape = (1, 2, 6) if isinstance(module, (nn.MaxPool1d, nn.AvgPool1d)) else (1, 2, 5, 6)
    x = rng.permutation(np.prod(shape)).reshape(shape) * 0.1  # distinct values: no ties
    assert module_gradcheck(module, x)


@pytest.mark.parametrize(
    "module_args", [(2,), (3, 2, 1), (2, 1)], ids=["tiled", "padded", "overlapping"]
)
def test_ties_send_the_gradient_to_the_first_maximum_like_torch(module_args, torch, rng):
    x = np.maximum(rng.standard_normal((2, 3, 8, 8)), 0)  # many all-zero windows, as after ReLU
    x[0, 0, :2, :2] = 1.5  # a window with four equal maxima
    torch_parity(nn.MaxPool2d(*module_args), torch.nn.MaxPool2d(*module_args), torch, x)


def test_tiled_max_pool_gradient_counts():
    x = dl.tensor(np.ones((1, 1, 4, 4)), requires_grad=True)
    nn.MaxPool2d(2)(x).sum().backward()
    assert x.grad.sum() == 4 and x.grad[0, 0, 0, 0] == 1 and x.grad[0, 0, 1, 1] == 0


def test_pooling_errors():
    with pytest.raises(
        ValueError, match="padding \\(2, 2\\) must be between 0 and half the kernel size"
    ):
        nn.MaxPool2d(3, padding=2)(dl.randn(1, 1, 8, 8))
    with pytest.raises(ValueError, match="larger than the padded input"):
        nn.MaxPool2d(5)(dl.randn(1, 1, 3, 3))
    with pytest.raises(ValueError, match=r"expected a 3-D \(C, H, W\) or 4-D \(N, C, H, W\)"):
        nn.MaxPool2d(2)(dl.randn(8, 8))
    with pytest.raises(ValueError, match="output_size must be positive"):
        nn.AdaptiveAvgPool2d(0)(dl.randn(1, 1, 3, 3))


# ---------------------------------------------------------- Sequential runs ReLU -> max-pool swapped
def _one_by_one(model: nn.Sequential, x: dl.Tensor) -> dl.Tensor:
    for m in model:
        x = m(x)
    return x


def _hard_input(rng, shape, dtype):
    """Ties, zeros, all-negative windows and a NaN: the cases where the order could matter."""
    x = rng.integers(-3, 3, shape).astype(dtype)
    x[0, 0] = -1.0
    x.reshape(-1)[5] = np.nan
    return x


@pytest.mark.parametrize(("k", "s", "p", "d", "c"), MAX_CASES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sequential_relu_max_pool2d_swap_is_exact(k, s, p, d, c, dtype, rng):
    model = nn.Sequential(nn.ReLU(), nn.MaxPool2d(k, stride=s, padding=p, dilation=d, ceil_mode=c))
    x = _hard_input(rng, (2, 3, 9, 7), dtype)
    g = rng.standard_normal((2, 3) + tuple(_one_by_one(model, dl.tensor(x)).shape[2:]))
    outs = []
    for run in (model, lambda t: _one_by_one(model, t)):
        xt = dl.tensor(x, requires_grad=True)
        y = run(xt)
        y.backward(g.astype(dtype))
        outs.append((y.data, xt.grad))
    np.testing.assert_array_equal(outs[0][0], outs[1][0])  # NaN == NaN here
    np.testing.assert_array_equal(outs[0][1], outs[1][1])


@pytest.mark.parametrize(("k", "s", "p"), [(2, None, 0), (3, 2, 1), (2, 1, 1)])
def test_sequential_relu_max_pool1d_swap_is_exact(k, s, p, rng):
    model = nn.Sequential(nn.ReLU(), nn.MaxPool1d(k, stride=s, padding=p, ceil_mode=True))
    x = rng.integers(-3, 3, (2, 3, 11)).astype(np.float64)
    ys, grads = [], []
    for run in (model, lambda t: _one_by_one(model, t)):
        xt = dl.tensor(x, requires_grad=True)
        y = run(xt)
        y.sum().backward()
        ys.append(y.data)
        grads.append(xt.grad)
    np.testing.assert_array_equal(ys[0], ys[1])
    np.testing.assert_array_equal(grads[0], grads[1])


def test_sequential_conv_relu_max_pool_matches_torch_and_gradcheck(torch, rng):
    def build(m):
        return m.Sequential(
            m.Conv2d(3, 4, 3, padding=1), m.ReLU(), m.MaxPool2d(2),
            m.Conv2d(4, 5, 3, padding=1, dilation=2, groups=1), m.ReLU(), m.MaxPool2d(3, 2, 1, ceil_mode=True),
        )  # fmt: skip

    x = rng.standard_normal((2, 3, 9, 7))
    torch_parity(build(nn), build(torch.nn), torch, x)
    torch_parity(build(nn), build(torch.nn), torch, x, dtype=np.float32)
    assert module_gradcheck(build(nn), dl.tensor(x[:1], requires_grad=True))


def test_sequential_relu_max_pool_not_swapped_with_indices_or_hooks(torch, rng):
    x = -np.abs(rng.standard_normal((1, 2, 4, 4))) - 0.5  # every window negative
    ours = nn.Sequential(nn.ReLU(), nn.MaxPool2d(2, return_indices=True))
    theirs = torch.nn.Sequential(torch.nn.ReLU(), torch.nn.MaxPool2d(2, return_indices=True))
    _, idx = ours(dl.tensor(x))
    _, tidx = theirs(torch.tensor(x))
    np.testing.assert_array_equal(idx.data, tidx.numpy())  # the first element of each window
    seen = []
    relu = nn.ReLU()
    relu.register_forward_hook(lambda m, args, out: seen.append(out.shape))
    nn.Sequential(relu, nn.MaxPool2d(2))(dl.tensor(x))
    assert seen == [(1, 2, 4, 4)]  # the hook saw the ReLU of the unpooled input
