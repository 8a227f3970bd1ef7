"""Normalization layers: BatchNorm trained for several steps then evaluated against PyTorch
(outputs, gradients and running statistics), LayerNorm / GroupNorm / RMSNorm parity, float64
gradient checks including parameters, and the batch-of-one error."""

from __future__ import annotations

import numpy as np
import pytest

import descentlab as dl
from descentlab import nn
from nn_parity import RTOL, close, module_gradcheck, torch_parity


def _train_then_eval(ours, theirs, torch, shape, dtype, rng, steps=4):
    theirs = theirs.to(getattr(torch, np.dtype(dtype).name))
    ours.to(dtype)
    ours.load_state_dict(theirs.state_dict())
    for step in range(steps):
        # Each step: forward + backward in train mode on fresh data (shifted so stats move).
        x = rng.standard_normal(shape) * (1 + step) + step
        # Loaded once above; from here on both keep their own running statistics.
        torch_parity(ours, theirs, torch, x, dtype=dtype, seed=step, load=False)
        # Mimic an optimizer step on both so the next batch sees changed parameters.
        with torch.no_grad():
            for (name, p), tp in zip(ours.named_parameters(), theirs.parameters(), strict=True):
                p.data -= 0.1 * p.grad
                tp -= 0.1 * tp.grad
                p.grad, tp.grad = None, None
    for name, buf in ours.state_dict().items():
        close(buf, theirs.state_dict()[name].numpy(), RTOL[dtype], f"buffer {name}")
    ours.eval()
    theirs.eval()
    torch_parity(ours, theirs, torch, rng.standard_normal(shape), dtype=dtype, load=False)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(
    "kw",
    [{}, {"momentum": None}, {"affine": False}, {"momentum": 0.3, "eps": 1e-3}, {"bias": False}],
    ids=["default", "cumulative", "no_affine", "momentum_eps", "no_bias"],
)
def test_batchnorm2d_train_steps_then_eval_matches_torch(kw, dtype, torch, rng):
    _train_then_eval(
        nn.BatchNorm2d(3, **kw), torch.nn.BatchNorm2d(3, **kw), torch, (4, 3, 5, 5), dtype, rng
    )


@pytest.mark.parametrize("shape", [(6, 4), (3, 4, 7)], ids=["2d", "3d"])
def test_batchnorm1d_train_steps_then_eval_matches_torch(shape, torch, rng):
    _train_then_eval(nn.BatchNorm1d(4), torch.nn.BatchNorm1d(4), torch, shape, np.float64, rng)


def test_batchnorm_without_running_stats_uses_batch_stats_in_eval(torch, rng):
    ours, theirs = (
        nn.BatchNorm2d(2, track_running_stats=False),
        torch.nn.BatchNorm2d(2, track_running_stats=False),
    )
    assert "running_mean" not in ours.state_dict()
    ours.eval()
    theirs.eval()
    torch_parity(ours, theirs, torch, rng.standard_normal((3, 2, 4, 4)))


def test_batchnorm_state_dict_keys_and_running_var_is_unbiased(torch, rng):
    bn = nn.BatchNorm1d(3, momentum=1.0)
    assert list(bn.state_dict()) == list(torch.nn.BatchNorm1d(3).state_dict())
    x = rng.standard_normal((5, 3))
    bn(dl.tensor(x))
    np.testing.assert_allclose(bn.running_var, x.var(axis=0, ddof=1), rtol=1e-6)
    np.testing.assert_allclose(bn.running_mean, x.mean(axis=0), rtol=1e-6)
    assert int(bn.num_batches_tracked) == 1


def test_batchnorm_batch_of_one_in_training_is_an_error():
    bn = nn.BatchNorm1d(4)
    with pytest.raises(
        ValueError,
        match="expected more than 1 value per channel when training, got input of shape \\(1, 4\\)",
    ):
        bn(dl.randn(1, 4))
    bn.eval()
    assert bn(dl.randn(1, 4)).shape == (1, 4)  # fine in eval mode
    with pytest.raises(ValueError, match="more than 1 value per channel"):  # as torch: any training
        nn.BatchNorm1d(4, track_running_stats=False)(dl.randn(1, 4))
    with pytest.raises(ValueError, match="BatchNorm2d\\(3\\) expected 3 channels"):
        nn.BatchNorm2d(3)(dl.randn(2, 4, 2, 2))
    with pytest.raises(ValueError, match="expected a 4-D input"):
        nn.BatchNorm2d(3)(dl.randn(2, 3))


def test_lazy_batchnorm():
    bn = nn.BatchNorm2d(None)
    assert bn(dl.randn(2, 5, 3, 3)).shape == (2, 5, 3, 3)
    assert bn.weight.shape == (5,) and bn.running_mean.shape == (5,)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(
    ("make", "shape"),
    [
        (lambda m: m.LayerNorm(6), (3, 4, 6)),
        (lambda m: m.LayerNorm((4, 6), eps=1e-3), (3, 4, 6)),
        (lambda m: m.LayerNorm(6, elementwise_affine=False), (3, 6)),
        (lambda m: m.LayerNorm(6, bias=False), (3, 6)),
        (lambda m: m.GroupNorm(3, 6), (2, 6, 4, 3)),
        (lambda m: m.GroupNorm(1, 6, affine=False), (2, 6, 5)),
        (lambda m: m.GroupNorm(6, 6), (2, 6, 3, 3)),
        (lambda m: m.GroupNorm(2, 6, bias=False), (2, 6, 3)),
        (lambda m: m.RMSNorm(6), (3, 4, 6)),
        (lambda m: m.RMSNorm((4, 6), eps=1e-4), (3, 4, 6)),
        (lambda m: m.RMSNorm(6, elementwise_affine=False), (3, 6)),
    ],
    ids=[
        "ln",
        "ln2d",
        "ln_noaffine",
        "ln_nobias",
        "gn3",
        "gn1",
        "gn_instance",
        "gn_nobias",
        "rms",
        "rms2d",
        "rms_noaffine",
    ],
)
def test_layer_group_rms_norm_match_torch(make, shape, dtype, torch, rng):
    ours, theirs = make(nn), make(torch.nn)
    with torch.no_grad():  # random affine parameters, so that their gradients are meaningful
        for p in theirs.parameters():
            p.copy_(torch.tensor(rng.standard_normal(tuple(p.shape))))
    torch_parity(ours, theirs, torch, rng.standard_normal(shape) * 2 + 1, dtype=dtype)


@pytest.mark.parametrize(
    ("module", "shape"),
    [
        (nn.BatchNorm2d(2), (3, 2, 2, 2)),
        (nn.BatchNorm1d(3), (4, 3)),
        (nn.LayerNorm(4), (2, 4)),
        (nn.GroupNorm(2, 4), (2, 4, 3)),
        (nn.RMSNorm(4), (2, 4)),
    ],
    ids=["bn2d", "bn1d", "ln", "gn", "rms"],
)
def test_gradcheck_input_and_parameters(module, shape, rng):
    for p in module.parameters():
        p.data[...] = rng.standard_normal(p.shape)
    assert module_gradcheck(module, rng.standard_normal(shape))


def test_batchnorm_eval_gradcheck(rng):
    bn = nn.BatchNorm2d(2)
    bn.running_mean[...] = [0.5, -1.0]
    bn.running_var[...] = [2.0, 0.5]
    bn.eval()
    assert module_gradcheck(bn, rng.standard_normal((2, 2, 3, 3)))


def test_norm_errors():
    with pytest.raises(
        ValueError, match="normalized_shape \\(5,\\) must equal the last dimensions"
    ):
        nn.LayerNorm(5)(dl.randn(2, 4))
    with pytest.raises(ValueError, match=r"^LayerNorm\(\(5,\)\): .*shape \(2, 4\)"):
        nn.LayerNorm(5)(dl.randn(2, 4))
    with pytest.raises(ValueError, match=r"^RMSNorm\(\(3,\)\): .*shape \(2, 4\)"):
        nn.RMSNorm(3)(dl.randn(2, 4))
    with pytest.raises(ValueError, match="num_groups \\(4\\) must divide num_channels \\(6\\)"):
        nn.GroupNorm(4, 6)
    with pytest.raises(ValueError, match="expected 6 channels"):
        nn.GroupNorm(3, 6)(dl.randn(2, 4, 3))


def test_bias_false_keeps_only_the_scale_as_torch(torch):
    """PyTorch 2.13's BatchNorm and GroupNorm take `bias=False`: a learned weight, no bias."""
    for ours, theirs in [
        (nn.BatchNorm2d(3, bias=False), torch.nn.BatchNorm2d(3, bias=False)),
        (nn.GroupNorm(1, 3, bias=False), torch.nn.GroupNorm(1, 3, bias=False)),
    ]:
        assert list(ours.state_dict()) == list(theirs.state_dict())
        assert [n for n, _ in ours.named_parameters()] == ["weight"]
        assert repr(ours) == repr(theirs)


def test_repr_matches_torch(torch):
    for make in [
        lambda m: m.BatchNorm1d(3),
        lambda m: m.BatchNorm2d(3, affine=False),
        lambda m: m.BatchNorm2d(3, momentum=None, track_running_stats=False),
        lambda m: m.LayerNorm(3),
        lambda m: m.LayerNorm((2, 3), eps=1e-3, bias=False),
        lambda m: m.LayerNorm(3, elementwise_affine=False),
        lambda m: m.GroupNorm(1, 3),
        lambda m: m.GroupNorm(1, 3, affine=False),
        lambda m: m.RMSNorm(3),
        lambda m: m.RMSNorm(3, eps=1e-6, elementwise_affine=False),
    ]:
        assert repr(make(nn)) == repr(make(torch.nn))
