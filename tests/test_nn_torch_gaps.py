"""PyTorch behaviours that the conv/pool/activation layers now share: unbatched input, max-pool
indices and unpooling, NaN in max-pool windows (float64 parity of outputs and gradients, gradient
checks of the new differentiable code, and clear errors)."""

from __future__ import annotations

import numpy as np
import pytest

import descentlab as dl
from descentlab import nn
from descentlab.gradcheck import gradcheck
from descentlab.nn import functional as F
from nn_parity import close, torch_parity

# ------------------------------------------------------------------ unbatched input
UNBATCHED = [
    ("Conv1d", (3, 4, 3), dict(padding=1), (3, 10)),
    ("Conv2d", (3, 4, 3), dict(stride=2, padding=1), (3, 7, 6)),
    ("ConvTranspose1d", (3, 2, 3), dict(stride=2), (3, 5)),
    ("ConvTranspose2d", (3, 2, 3), dict(stride=2, output_padding=1), (3, 5, 4)),
    ("MaxPool1d", (3,), dict(stride=2, padding=1), (3, 10)),
    ("MaxPool2d", (2,), {}, (3, 6, 8)),
    ("MaxPool2d", (3,), dict(stride=2, padding=1, ceil_mode=True), (3, 7, 6)),
    ("AvgPool1d", (3,), dict(stride=2, padding=1), (3, 10)),
    ("AvgPool2d", (3,), dict(stride=2, padding=1, count_include_pad=False), (3, 7, 6)),
    ("AdaptiveAvgPool1d", (4,), {}, (3, 10)),
    ("AdaptiveAvgPool2d", ((3, 2),), {}, (3, 7, 6)),
]


@pytest.mark.parametrize(("name", "args", "kw", "shape"), UNBATCHED)
def test_unbatched_input_matches_torch(name, args, kw, shape, torch, rng):
    ours, theirs = getattr(nn, name)(*args, **kw), getattr(torch.nn, name)(*args, **kw)
    y, _ = torch_parity(ours, theirs, torch, rng.standard_normal(shape))
    batched = ours(dl.tensor(rng.standard_normal((1, *shape))))
    assert y.shape == batched.shape[1:]


@pytest.mark.parametrize(
    ("layer", "x", "expected"),
    [
        (nn.Conv2d(3, 4, 3), (8, 8), r"Conv2d\(3, 4\) expected a 3-D \(C, H, W\) or 4-D \(N, C"),
        (nn.Conv1d(3, 4, 3), (1, 1, 3, 8), r"Conv1d\(3, 4\) expected a 2-D \(C, L\) or 3-D"),
        (nn.ConvTranspose2d(3, 4, 3), (3,), r"ConvTranspose2d\(3, 4\) expected a 3-D"),
        (nn.Conv2d(3, 4, 3), (2, 8, 8), r"expected 3 input channels, got input of shape \(2, 8"),
        (nn.MaxPool2d(2), (8, 8), r"MaxPool2d\(kernel_size=2.*\): expected a 3-D \(C, H, W\)"),
        (nn.MaxPool1d(2), (1, 1, 8, 8), r"MaxPool1d\(.*\): expected a 2-D \(C, L\) or 3-D"),
        (nn.AvgPool2d(2), (1, 1, 1, 8, 8), r"AvgPool2d\(.*\): expected a 3-D .* got input of"),
        (nn.AvgPool1d(2), (8,), r"AvgPool1d\(.*\): expected a 2-D \(C, L\) or 3-D \(N, C, L\)"),
        (nn.AdaptiveAvgPool2d(2), (8, 8), r"AdaptiveAvgPool2d\(output_size=2\): expected a 3-D"),
    ],
)
def test_wrong_rank_names_the_layer_and_both_shapes(layer, x, expected):
    with pytest.raises(ValueError, match=expected):
        layer(dl.randn(*x))


def test_functional_conv_and_pool_take_unbatched_input(torch, rng):
    x, w = rng.standard_normal((2, 6, 5)), rng.standard_normal((3, 2, 3, 3))
    close(F.conv2d(x, w, padding=1), torch.nn.functional.conv2d(*map(torch.tensor, (x, w)),
          padding=1).numpy(), 1e-10)  # fmt: skip
    close(F.max_pool2d(x, 2), torch.nn.functional.max_pool2d(torch.tensor(x), 2).numpy(), 0)


# ------------------------------------------------------------------ indices and unpooling
POOL_CASES = [
    (2, None, 0, 1, False, (2, 3, 6, 8)),  # tiling fast path
    ((2, 3), (1, 2), (1, 1), (2, 1), True, (2, 3, 7, 9)),  # general path, padding, dilation
    (3, 2, 1, 1, True, (3, 7, 6)),  # unbatched
]


@pytest.mark.parametrize(("k", "s", "p", "d", "c", "shape"), POOL_CASES)
def test_max_pool2d_return_indices_matches_torch(k, s, p, d, c, shape, torch, rng):
    kw = dict(stride=s, padding=p, dilation=d, ceil_mode=c, return_indices=True)
    x = rng.integers(0, 4, shape).astype(np.float64)  # many ties: the first maximum wins
    (y, i), (ty, ti) = (
        nn.MaxPool2d(k, **kw)(dl.tensor(x)),
        torch.nn.MaxPool2d(k, **kw)(torch.tensor(x)),
    )
    close(y, ty.numpy(), 0)
    assert i.dtype == np.int64 and not i.requires_grad
    np.testing.assert_array_equal(i.data, ti.numpy())
    fy, fi = F.max_pool2d(dl.tensor(x), k, s, p, d, c, return_indices=True)
    np.testing.assert_array_equal(fi.data, ti.numpy())


@pytest.mark.parametrize("shape", [(2, 3, 11), (3, 11)])
def test_max_pool1d_return_indices_and_unpool_match_torch(shape, torch, rng):
    x = rng.standard_normal(shape)
    pool, tpool = (m(3, 2, 1, return_indices=True) for m in (nn.MaxPool1d, torch.nn.MaxPool1d))
    (y, i), (ty, ti) = pool(dl.tensor(x)), tpool(torch.tensor(x))
    np.testing.assert_array_equal(i.data, ti.numpy())
    close(y, ty.numpy(), 0)
    yy = dl.tensor(y.data, requires_grad=True)
    tyy = torch.tensor(y.data, requires_grad=True)
    u = nn.MaxUnpool1d(3, 2, 1)(yy, i, output_size=shape[-1:])
    tu = torch.nn.MaxUnpool1d(3, 2, 1)(tyy, ti, output_size=shape[-1:])
    close(u, tu.detach().numpy(), 0)
    g = rng.standard_normal(u.shape)
    u.backward(g)
    tu.backward(torch.tensor(g))
    close(yy.grad, tyy.grad.numpy(), 0)


@pytest.mark.parametrize(
    ("k", "s", "p", "shape", "size"),
    [
        (2, None, 0, (2, 3, 6, 8), None),
        (3, 2, 1, (2, 3, 7, 6), (7, 6)),
        (2, 2, 0, (3, 5, 5), (5, 5)),
    ],
)
def test_max_unpool2d_matches_torch(k, s, p, shape, size, torch, rng):
    x = rng.standard_normal(shape)
    y, i = F.max_pool2d(x, k, s, p, return_indices=True)
    ty, ti = torch.nn.functional.max_pool2d(torch.tensor(x), k, s, p, return_indices=True)
    yy, tyy = dl.tensor(y.data, requires_grad=True), ty.clone().requires_grad_()
    u = nn.MaxUnpool2d(k, s, p)(yy, i, size)
    tu = torch.nn.MaxUnpool2d(k, s, p)(tyy, ti, size)
    close(u, tu.detach().numpy(), 0)
    g = rng.standard_normal(u.shape)
    u.backward(g)
    tu.backward(torch.tensor(g))
    close(yy.grad, tyy.grad.numpy(), 0)
    if s in (None, k):  # overlapping windows may repeat an index: then not a smooth function
        assert gradcheck(lambda t: F.max_unpool2d(t, i, k, s, p, size), y.data)


def test_max_unpool_errors():
    y, i = F.max_pool2d(dl.randn(1, 2, 4, 4), 2, return_indices=True)
    with pytest.raises(ValueError, match=r"MaxUnpool2d\(kernel_size=2.*\): indices must be in"):
        nn.MaxUnpool2d(2)(y, i * 100)
    with pytest.raises(ValueError, match="indices must be integers of the input's shape"):
        F.max_unpool2d(y, i.data[..., :1], 2)
    with pytest.raises(ValueError, match=r"output_size \(9, 9\) must be within one stride"):
        F.max_unpool2d(y, i, 2, output_size=(9, 9))


# ------------------------------------------------------------------ NaN in a max-pool window
NAN_WINDOWS = [[1, np.nan, 3, 2], [np.nan, 5, np.nan, 1], [5, 5, 1, np.nan], [np.nan] * 4]


@pytest.mark.parametrize("tiled", [True, False])
def test_max_pool_nan_wins_its_window_like_torch(tiled, torch, rng):
    x = rng.standard_normal((2, 2, 4, 6))
    x[0, 0, :2, :2] = np.reshape(NAN_WINDOWS[0], (2, 2))
    x[0, 1, :2, 2:4] = np.reshape(NAN_WINDOWS[1], (2, 2))
    x[1, 0, 2:, 4:] = np.reshape(NAN_WINDOWS[2], (2, 2))
    x[1, 1, 2:, :2] = np.reshape(NAN_WINDOWS[3], (2, 2))
    kw = dict(kernel_size=2) if tiled else dict(kernel_size=(2, 3), stride=1, padding=(1, 1))
    pool, tpool = nn.MaxPool2d(**kw), torch.nn.MaxPool2d(**kw)
    xt = dl.tensor(x, requires_grad=True)
    txt = torch.tensor(x, requires_grad=True)
    y, ty = pool(xt), tpool(txt)
    np.testing.assert_array_equal(y.data, ty.detach().numpy())  # NaN where torch has NaN
    g = rng.standard_normal(y.shape)
    y.backward(g)
    ty.backward(torch.tensor(g))
    close(xt.grad, txt.grad.numpy(), 1e-12, "gradient goes to the window's last NaN")
    ri, ti = (
        pool.__class__(**kw, return_indices=True)(dl.tensor(x))[1],
        tpool.__class__(**kw, return_indices=True)(torch.tensor(x))[1],
    )
    np.testing.assert_array_equal(ri.data, ti.numpy())


def test_max_pool1d_nan_gradient_like_torch(torch):
    x = np.array([[[1.0, np.nan, 3.0, np.nan, 0.5, 2.0, 7.0]]])
    xt, txt = dl.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    F.max_pool1d(xt, 3, 2).sum().backward()
    torch.nn.functional.max_pool1d(txt, 3, 2).sum().backward()
    np.testing.assert_array_equal(xt.grad, txt.grad.numpy())


# ------------------------------------------------------------------ softmax family, dim=None
@pytest.mark.parametrize("name", ["Softmax", "LogSoftmax", "Softmin"])
@pytest.mark.parametrize("shape", [(), (5,), (3, 4), (2, 3, 4), (2, 3, 2, 2)])
def test_softmax_layers_implicit_dim_matches_torch(name, shape, torch, rng):
    x = rng.standard_normal(shape)
    fname = {"Softmax": "softmax", "LogSoftmax": "log_softmax", "Softmin": "softmin"}[name]
    message = f"Implicit dimension choice for {fname} has been deprecated"
    with pytest.warns(UserWarning, match=message):
        y, _ = torch_parity(getattr(nn, name)(), getattr(torch.nn, name)(), torch, x)
    with pytest.warns(UserWarning, match=message) as record:
        getattr(nn, name)()(dl.tensor(x))
    assert record[0].filename == __file__  # the warning points at the caller, as torch's does
    with pytest.warns(UserWarning, match=message):
        close(getattr(F, fname)(dl.tensor(x)), y.data, 0)
    assert getattr(nn, name)().dim is None and repr(getattr(nn, name)()) == f"{name}(dim=None)"


def test_softmax_explicit_dim_does_not_warn(rng):
    import warnings

    x = dl.tensor(rng.standard_normal((2, 3, 4)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        close(nn.Softmax(dim=-1)(x), dl.softmax(x).data, 0)  # dl.softmax keeps NumPy's last axis
        close(F.log_softmax(x, 1, dtype=np.float32), dl.log_softmax(x, 1).data, 1e-6)


# ------------------------------------------------------------------ torch's functional names
def test_functional_takes_torchs_keyword_names(torch, rng):
    x, w = rng.standard_normal((2, 3, 6, 6)), rng.standard_normal((4, 3, 3, 3))
    T = torch.nn.functional
    tx, tw = torch.tensor(x), torch.tensor(w)
    cases = [
        ("relu", dict(inplace=False), {}),
        ("leaky_relu", dict(negative_slope=0.2, inplace=False), {}),
        ("hardtanh", dict(min_val=-0.5, max_val=0.5), {}),
        ("elu", dict(alpha=0.5, inplace=False), {}),
        ("gelu", dict(approximate="tanh"), {}),
        ("softplus", dict(beta=2.0, threshold=10.0), {}),
        ("sigmoid", {}, {}),
        ("dropout", dict(p=0.5, training=False, inplace=False), {}),
        ("conv2d", dict(stride=1, padding=1, groups=1), dict(weight=(w, tw))),
        ("max_pool2d", dict(kernel_size=2, stride=2, ceil_mode=False), {}),
        ("avg_pool2d", dict(kernel_size=3, stride=2, padding=1, count_include_pad=False), {}),
        ("adaptive_avg_pool2d", dict(output_size=(2, 3)), {}),
        ("layer_norm", dict(normalized_shape=(6,), eps=1e-5), {}),
        ("pad", dict(pad=(1, 2), mode="constant", value=0.5), {}),
        ("pad", dict(pad=(1, 2, 0, 1), value=None), {}),
        ("softmax", dict(dim=1), {}),
    ]
    for name, kw, arrays in cases:
        ours = getattr(F, name)(input=dl.tensor(x), **kw, **{k: v[0] for k, v in arrays.items()})
        theirs = getattr(T, name)(input=tx, **kw, **{k: v[1] for k, v in arrays.items()})
        close(ours, theirs.numpy(), 1e-10, name)
    assert list(__import__("inspect").signature(F.dropout).parameters)[:4] == list(
        __import__("inspect").signature(T.dropout).parameters
    )
    with pytest.raises(TypeError, match=r"relu\(input.*missing a required argument: 'input'"):
        F.relu(x=dl.tensor(x))
    with pytest.raises(TypeError, match="inplace must be a bool.*pass generator= by keyword"):
        F.dropout(dl.tensor(x), 0.5, True, np.random.default_rng(0))


def test_functional_docstring_examples():
    import doctest

    result = doctest.testmod(F, extraglobs={"np": np, "descentlab": dl, "F": F})
    assert result.failed == 0 and result.attempted > 0


# ------------------------------------------------------------------ Flatten / Unflatten
@pytest.mark.parametrize(
    ("shape", "args"), [((), (0, -1)), ((5,), (0, 0)), ((2, 3), (1, -1)), ((2, 3, 4), (0, 1))]
)
def test_flatten_matches_torch(shape, args, torch, rng):
    torch_parity(nn.Flatten(*args), torch.nn.Flatten(*args), torch, rng.standard_normal(shape))


@pytest.mark.parametrize(
    ("layer", "shape", "error", "match"),
    [
        (nn.Flatten(), (), IndexError, r"Flatten\(start_dim=1, end_dim=-1\): dimension 1 is out"),
        (nn.Flatten(), (5,), IndexError, r"input of shape \(5,\) \(expected to be in \[-1, 0\]\)"),
        (nn.Flatten(2, 1), (2, 3, 4), ValueError, "start_dim 2 comes after end_dim 1"),
        (nn.Unflatten(3, (2, 4)), (3, 8), IndexError, r"Unflatten\(dim=3.*out of range"),
        (nn.Unflatten(1, (0, -1)), (3, 8), ValueError, "their product must equal 8"),
        (nn.Unflatten(1, (3, 3)), (3, 8), ValueError, r"cannot split dimension 1 of size 8"),
        (nn.Unflatten(0, (1,)), (), IndexError, "out of range|0-D"),
    ],
)
def test_flatten_and_unflatten_errors(layer, shape, error, match):
    with pytest.raises(error, match=match):
        layer(dl.zeros(*shape))


def test_unflatten_construction_errors_and_zero_sizes(torch):
    with pytest.raises(TypeError, match="found element of type float at pos 0"):
        nn.Unflatten(1, [2.0, 4])
    with pytest.raises(ValueError, match="non-empty"):
        nn.Unflatten(1, ())
    with pytest.raises(ValueError, match="one -1"):
        nn.Unflatten(1, (-1, -1))
    assert nn.Unflatten(1, (0, 4))(dl.zeros(3, 0)).shape == (3, 0, 4)


# ------------------------------------------------------------------ Embedding(max_norm=...)
@pytest.mark.parametrize(
    "kw",
    [dict(max_norm=1.0), dict(max_norm=0.5, norm_type=1.0), dict(scale_grad_by_freq=True),
     dict(max_norm=1.5, norm_type=3.0, padding_idx=0, scale_grad_by_freq=True)],
)  # fmt: skip
def test_embedding_max_norm_and_grad_scaling_match_torch(kw, torch):
    ours, theirs = nn.Embedding(7, 4, **kw), torch.nn.Embedding(7, 4, **kw)
    ids = np.array([[1, 2, 2], [6, 0, 1]])
    torch_parity(ours, theirs, torch, ids)
    close(ours.weight.data, theirs.weight.detach().numpy(), 1e-12, "weight renormalised in place")
    if "max_norm" in kw:
        assert not np.allclose(ours.weight.data[3], ours.weight.data[3] * 0)  # unread rows kept
        close(ours.weight.data[[3, 4, 5]], theirs.weight.detach().numpy()[[3, 4, 5]], 0)


def test_embedding_functional_keywords_and_gradcheck(torch, rng):
    w = rng.standard_normal((5, 3)) * 3
    ids = np.array([0, 3, 3, 4])
    ours = F.embedding(input=ids, weight=dl.tensor(w.copy()), max_norm=2.0)
    theirs = torch.nn.functional.embedding(
        input=torch.tensor(ids), weight=torch.tensor(w), max_norm=2.0
    )
    close(ours, theirs.numpy(), 1e-12)
    # scale_grad_by_freq is by design not the true gradient: the true one divided by the counts
    plain, scaled = dl.tensor(w, requires_grad=True), dl.tensor(w, requires_grad=True)
    F.embedding(ids, plain).sum().backward()
    F.embedding(ids, scaled, scale_grad_by_freq=True).sum().backward()
    close(scaled.grad, plain.grad / np.maximum(np.bincount(ids, minlength=5), 1)[:, None], 0)
    with pytest.raises(ValueError, match="sparse=True"):
        nn.Embedding(3, 2, sparse=True)
