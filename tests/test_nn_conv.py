"""Convolution layers: PyTorch parity over every option combination (weights copied in through
load_state_dict, outputs and all gradients compared), float64 gradient checks, lazy building and
clear errors."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import descentlab as dl
from descentlab import nn
from nn_parity import module_gradcheck, torch_parity


def _conv2d_cases():
    for k, s, p, d, g, b in itertools.product(
        (3, (2, 3)), (1, 2), (0, 1, (1, 2), "same", "valid"), (1, (2, 1)), (1, 2), (True, False)
    ):
        if p == "same" and s != 1:
            continue
        yield k, s, p, d, g, b


CONV2D = list(_conv2d_cases())


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize(("k", "s", "p", "d", "g", "b"), CONV2D)
def test_conv2d_matches_torch_every_option(k, s, p, d, g, b, torch, rng):
    kw = dict(stride=s, padding=p, dilation=d, groups=g, bias=b)
    x = rng.standard_normal((2, 4, 7, 6))
    torch_parity(nn.Conv2d(4, 6, k, **kw), torch.nn.Conv2d(4, 6, k, **kw), torch, x)


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize(
    ("cin", "cout", "k", "p", "d"),
    [
        (1, 10, 3, 1, 1),  # C*kh*kw < out_channels: the strided im2col route, bias in the GEMM
        (2, 4, 3, 1, 1),  # wide route, rows share their padding: pitch W + 1, not W + 2
        (3, 4, (3, 2), "same", 1),  # wide route, left/right padding 0/1
        (3, 4, (2, 4), "same", (1, 2)),  # wide route, dilated even kernel, padding 0/1 and 3/3
        (2, 4, 3, (0, 3), 1),  # wide route, pitch set by the output width (W + 4), not padding
    ],
)
def test_conv2d_stride1_routes_match_torch(cin, cout, k, p, d, torch, rng):
    kw = dict(padding=p, dilation=d)
    x = rng.standard_normal((2, cin, 5, 8))
    torch_parity(nn.Conv2d(cin, cout, k, **kw), torch.nn.Conv2d(cin, cout, k, **kw), torch, x)


@pytest.mark.parametrize(("s", "p"), [(1, 1), (2, 0), (1, "same")])
def test_conv2d_matches_torch_float32(s, p, torch, rng):
    x = rng.standard_normal((3, 5, 9, 8)).astype(np.float32)
    kw = dict(stride=s, padding=p)
    torch_parity(
        nn.Conv2d(5, 8, 3, **kw), torch.nn.Conv2d(5, 8, 3, **kw), torch, x, dtype=np.float32
    )


@pytest.mark.parametrize(
    ("k", "s", "p", "d", "g", "b"),
    [
        c
        for c in itertools.product((3, 4), (1, 2), (0, 2, "same"), (1, 2), (1, 2), (True, False))
        if not (c[2] == "same" and c[1] != 1)
    ],  # fmt: skip
)
def test_conv1d_matches_torch_every_option(k, s, p, d, g, b, torch, rng):
    kw = dict(stride=s, padding=p, dilation=d, groups=g, bias=b)
    x = rng.standard_normal((2, 4, 11))
    torch_parity(nn.Conv1d(4, 6, k, **kw), torch.nn.Conv1d(4, 6, k, **kw), torch, x)


def _transpose_cases():
    for k, s, p, op, d, g, b in itertools.product(
        (3, (2, 3)), (1, 2), (0, 1), (0, 1), (1, 2), (1, 2), (True, False)
    ):
        if op < s:
            yield k, s, p, op, d, g, b


@pytest.mark.parametrize(("k", "s", "p", "op", "d", "g", "b"), list(_transpose_cases()))
def test_conv_transpose2d_matches_torch_every_option(k, s, p, op, d, g, b, torch, rng):
    kw = dict(stride=s, padding=p, output_padding=op, dilation=d, groups=g, bias=b)
    x = rng.standard_normal((2, 4, 5, 4))
    torch_parity(
        nn.ConvTranspose2d(4, 6, k, **kw), torch.nn.ConvTranspose2d(4, 6, k, **kw), torch, x
    )


@pytest.mark.parametrize(("s", "p", "op"), [(1, 0, 0), (2, 1, 1), (3, 2, 0)])
def test_conv_transpose1d_matches_torch(s, p, op, torch, rng):
    kw = dict(stride=s, padding=p, output_padding=op)
    x = rng.standard_normal((2, 3, 6))
    torch_parity(
        nn.ConvTranspose1d(3, 4, 3, **kw), torch.nn.ConvTranspose1d(3, 4, 3, **kw), torch, x
    )


@pytest.mark.parametrize(
    "make",
    [
        lambda: nn.Conv2d(2, 2, 3, padding=1),  # stride 1: the wide im2col route
        lambda: nn.Conv2d(2, 4, (2, 3), stride=2, padding=(1, 1), dilation=(1, 2), groups=2),
        lambda: nn.Conv1d(2, 3, 3, stride=2, padding=1),
        lambda: nn.ConvTranspose2d(2, 2, 3, stride=2, padding=1, output_padding=1),
    ],
    ids=["conv2d_same", "conv2d_strided_grouped", "conv1d", "conv_transpose2d"],
)
def test_gradcheck_input_weight_and_bias(make, rng):
    module = make()
    x = rng.standard_normal((1, 2, 4, 4) if not isinstance(module, nn.Conv1d) else (1, 2, 6))
    assert module_gradcheck(module, x)


def test_default_parameter_names_shapes_and_bounds_match_torch(torch):
    ours, theirs = nn.Conv2d(6, 8, (3, 2), groups=2), torch.nn.Conv2d(6, 8, (3, 2), groups=2)
    assert {k: v.shape for k, v in ours.state_dict().items()} == {
        k: tuple(v.shape) for k, v in theirs.state_dict().items()
    }
    bound = 1 / np.sqrt(3 * 3 * 2)  # fan_in = in_channels / groups * kh * kw
    assert np.abs(ours.weight.data).max() <= bound and np.abs(ours.bias.data).max() <= bound
    t = nn.ConvTranspose2d(4, 6, 3, groups=2)
    assert t.weight.shape == tuple(torch.nn.ConvTranspose2d(4, 6, 3, groups=2).weight.shape)
    assert np.abs(t.bias.data).max() <= 1 / np.sqrt(3 * 3 * 3)  # fan_in from weight dim 1


def test_lazy_conv_builds_on_first_call_and_from_a_state_dict():
    conv = nn.Conv2d(None, 8, 3, padding=1)
    assert list(conv.parameters()) == []
    assert conv(dl.randn(2, 5, 6, 6)).shape == (2, 8, 6, 6)
    assert conv.weight.shape == (8, 5, 3, 3) and conv.in_channels == 5
    lazy = nn.Sequential(nn.Conv2d(None, 8, 3, padding=1))
    lazy.load_state_dict({"0." + k: v for k, v in conv.state_dict().items()})
    x = dl.randn(1, 5, 4, 4)
    np.testing.assert_array_equal(lazy(x).data, conv(x).data)


def test_channel_mismatch_names_the_layer_and_both_shapes():
    with pytest.raises(
        ValueError,
        match=r"Conv2d\(3, 16\) expected 3 input channels, got input of shape \(8, 1, 28, 28\)",
    ):
        nn.Conv2d(3, 16, 3)(dl.randn(8, 1, 28, 28))
    with pytest.raises(ValueError, match=r"Conv1d\(2, 4\) expected a 2-D \(C, L\) or 3-D"):
        nn.Conv1d(2, 4, 3)(dl.randn(8, 2, 5, 5))


def test_kernel_larger_than_padded_input_is_a_clear_error():
    with pytest.raises(ValueError, match="kernel size \\(5, 5\\).* larger than the padded input"):
        nn.Conv2d(1, 2, 5, padding=1)(dl.randn(1, 1, 2, 8))
    with pytest.raises(ValueError, match="larger than the padded input"):
        nn.Conv1d(1, 2, 4, dilation=3)(dl.randn(1, 1, 9))


def test_bad_construction_arguments():
    with pytest.raises(ValueError, match="groups=3 must divide both in_channels and out_channels"):
        nn.Conv2d(4, 6, 3, groups=3)
    with pytest.raises(ValueError, match="padding='same' needs stride 1"):
        nn.Conv2d(4, 6, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="only padding_mode='zeros'"):
        nn.Conv2d(4, 6, 3, padding_mode="reflect")
    with pytest.raises(ValueError, match="output_padding .* must be smaller than stride"):
        nn.ConvTranspose2d(2, 2, 3, stride=2, output_padding=2)(dl.randn(1, 2, 3, 3))


def test_repr_matches_torch_style():
    assert repr(nn.Conv2d(1, 32, 3, padding=1)) == (
        "Conv2d(1, 32, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))"
    )


def test_reused_buffers_never_mix_steps(torch, rng):
    """Two forwards before one backward, then the same again: the leased im2col columns and the
    scratch buffers must not leak from one call into another."""
    ours, theirs = (
        nn.Conv2d(3, 4, 3, padding=1).double(),
        torch.nn.Conv2d(3, 4, 3, padding=1).double(),
    )
    ours.load_state_dict(theirs.state_dict())
    for _ in range(2):
        xs = [rng.standard_normal((2, 3, 5, 5)) for _ in range(2)]
        loss = sum(((ours(dl.tensor(x)) * (i + 1)) ** 2).sum() for i, x in enumerate(xs))
        tloss = sum(((theirs(torch.tensor(x)) * (i + 1)) ** 2).sum() for i, x in enumerate(xs))
        ours.zero_grad()
        theirs.zero_grad()
        loss.backward()
        tloss.backward()
        np.testing.assert_allclose(ours.weight.grad, theirs.weight.grad.numpy(), rtol=1e-10)
