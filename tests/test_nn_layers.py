"""Layers beyond conv/pool/norm: state_dict exchange with a PyTorch nn.Sequential of every layer
kind (both ways), Embedding, Bilinear, Flatten/Unflatten, lazy layers, forward hooks, dtype
casting, nn.summary and the L1/L2 penalties."""

from __future__ import annotations

import numpy as np
import pytest

import descentlab as dl
from descentlab import nn
from nn_parity import module_gradcheck, torch_parity


def _stack(m):
    """The same architecture in descentlab (m = nn) or PyTorch (m = torch.nn)."""
    return m.Sequential(
        m.Conv2d(3, 8, 3, padding=1), m.BatchNorm2d(8), m.ReLU(), m.MaxPool2d(2), m.Dropout2d(0.2),
        m.Conv2d(8, 8, 3, padding="same", groups=2, bias=False), m.GroupNorm(2, 8), m.GELU(),
        m.AvgPool2d(2), m.Flatten(), m.Linear(32, 16), m.LayerNorm(16), m.PReLU(),
        m.Dropout(0.3), m.Linear(16, 5), m.LogSoftmax(dim=1),
    )  # fmt: skip


def _trained_torch_stack(torch, rng):
    torch.manual_seed(0)
    theirs = _stack(torch.nn).double()
    for _ in range(2):  # make BatchNorm's running statistics non-trivial
        theirs(torch.tensor(rng.standard_normal((6, 3, 8, 8))))
    return theirs.eval()


def test_torch_state_dict_loads_into_descentlab_and_gives_the_same_outputs(torch, rng):
    theirs = _trained_torch_stack(torch, rng)
    ours = _stack(nn).double().eval()
    result = ours.load_state_dict(theirs.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert list(ours.state_dict()) == list(theirs.state_dict())
    torch_parity(ours, theirs, torch, rng.standard_normal((4, 3, 8, 8)), load=False)


def test_descentlab_state_dict_loads_into_torch_and_gives_the_same_outputs(torch, rng):
    ours = _stack(nn).double()
    for _ in range(2):
        ours(dl.tensor(rng.standard_normal((6, 3, 8, 8))))
    ours.eval()
    theirs = _stack(torch.nn).double().eval()
    theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    torch_parity(ours, theirs, torch, rng.standard_normal((4, 3, 8, 8)), load=False)


def test_load_state_dict_reports_missing_unexpected_and_shape_mismatch_by_name(torch):
    ours = _stack(nn)
    sd = {k: v for k, v in _stack(torch.nn).state_dict().items() if k != "1.running_var"}
    sd["extra.weight"] = torch.zeros(2)
    sd["10.weight"] = torch.zeros(16, 31)
    with pytest.raises(RuntimeError) as err:
        ours.load_state_dict(sd)
    msg = str(err.value)
    assert "missing keys: ['1.running_var']" in msg and "unexpected keys: ['extra.weight']" in msg
    assert "size mismatch for 10.weight: copying a value of shape (16, 31)" in msg


def test_embedding_matches_torch_with_padding_idx(torch, rng):
    ids = np.array([[1, 2, 0, 2], [4, 0, 0, 3]])
    ours, theirs = nn.Embedding(6, 3, padding_idx=0), torch.nn.Embedding(6, 3, padding_idx=0)
    torch_parity(ours, theirs, torch, ids)
    assert not ours.weight.grad[0].any()  # the padding row gets no gradient
    np.testing.assert_array_equal(ours.weight.grad[5], 0)  # unused row


def test_embedding_gradcheck_and_errors(rng):
    assert nn.Embedding(5, 2, padding_idx=-1).padding_idx == 4
    # (no padding_idx here: the padding row's gradient is zero by design, unlike the numeric one)
    emb = nn.Embedding(5, 2)
    assert module_gradcheck(emb, np.array([[0, 1, 1], [3, 4, 0]]))
    with pytest.raises(IndexError, match="ids must be in \\[0, 5\\)"):
        emb(np.array([5]))
    with pytest.raises(TypeError, match="ids must be integers"):
        emb(np.array([0.5]))


def test_bilinear_matches_torch_and_gradchecks(torch, rng):
    x1, x2 = rng.standard_normal((4, 3)), rng.standard_normal((4, 5))
    torch_parity(nn.Bilinear(3, 5, 2), torch.nn.Bilinear(3, 5, 2), torch, x1, x2)
    assert module_gradcheck(
        nn.Bilinear(2, 3, 2), rng.standard_normal((2, 2)), rng.standard_normal((2, 3))
    )


def test_flatten_unflatten(torch, rng):
    x = rng.standard_normal((2, 3, 4, 5))
    torch_parity(nn.Flatten(), torch.nn.Flatten(), torch, x)
    torch_parity(nn.Flatten(0, 2), torch.nn.Flatten(0, 2), torch, x)
    torch_parity(
        nn.Unflatten(1, (2, -1)), torch.nn.Unflatten(1, (2, -1)), torch, rng.standard_normal((3, 8))
    )
    with pytest.raises(ValueError, match="cannot split dimension 1 of size 8"):
        nn.Unflatten(1, (3, 3))(dl.randn(2, 8))


def test_lazy_linear_builds_on_call_and_from_state_dict():
    lazy = nn.Sequential(nn.Linear(None, 4), nn.ReLU(), nn.Linear(None, 2))
    assert list(lazy.parameters()) == []
    assert lazy(dl.randn(3, 7)).shape == (3, 2)
    assert lazy[0].weight.shape == (4, 7) and lazy[2].in_features == 4
    fresh = nn.Sequential(nn.Linear(None, 4), nn.ReLU(), nn.Linear(None, 2))
    fresh.load_state_dict(lazy.state_dict())
    x = dl.randn(2, 7)
    np.testing.assert_array_equal(fresh(x).data, lazy(x).data)


def test_forward_hooks_and_removal():
    model = nn.Sequential(nn.Linear(3, 2), nn.ReLU())
    seen = []
    handle = model[0].register_forward_hook(lambda m, inp, out: seen.append(out.shape))
    model(dl.randn(5, 3))
    handle.remove()
    model(dl.randn(5, 3))
    assert seen == [(5, 2)]
    model[1].register_forward_hook(lambda m, inp, out: out * 0)  # a returned value replaces it
    assert not model(dl.randn(5, 3)).data.any()


def test_to_double_casts_parameters_and_float_buffers_only():
    model = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2)).double()
    assert all(p.dtype == np.float64 for p in model.parameters())
    assert model[1].running_mean.dtype == np.float64
    assert model[1].num_batches_tracked.dtype == np.int64
    assert model(dl.tensor(np.ones((3, 2)))).dtype == np.float64


def test_summary_table_counts_and_leaves_the_model_unchanged():
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(None, 10),
    )  # fmt: skip
    before = model[1].running_mean.copy()
    lines = []
    text = nn.summary(model, (1, 8, 8), print_fn=lines.append)
    assert lines == [text]
    assert "0 (Conv2d)" in text and "(None, 4, 8, 8)" in text and "(None, 64)" in text
    assert "5 (Linear)" in text and "650" in text  # 64 * 10 + 10, built by the summary call
    total = 4 * 9 + 4 + 8 + 650
    assert f"Total params: {total:,}" in text and f"Trainable params: {total:,}" in text
    assert model.training and model[1].training
    np.testing.assert_array_equal(model[1].running_mean, before)
    model[0].requires_grad_(False)
    assert "Non-trainable params: 40" in nn.summary(model, (1, 8, 8), print_fn=None)


def test_l1_l2_penalties_values_and_gradients():
    w = nn.Parameter(np.array([[1.0, -2.0], [0.0, 3.0]]))
    b = nn.Parameter(np.array([0.5, -0.5]))
    loss = nn.regularizers.l2([w, b], 0.1)
    assert loss.item() == pytest.approx(0.1 * (1 + 4 + 9 + 0.25 + 0.25))  # no 1/2 (Keras)
    loss.backward()
    np.testing.assert_allclose(w.grad, 2 * 0.1 * w.data)
    w.grad = None
    nn.regularizers.l1(w, 0.5).backward()
    np.testing.assert_allclose(w.grad, 0.5 * np.sign(w.data))
    both = nn.regularizers.l1_l2(w, 0.5, 0.1).item()
    assert both == pytest.approx(0.5 * 6 + 0.1 * 14)
    model = nn.Linear(3, 2)
    expected = sum(float((p.data.astype(np.float64) ** 2).sum()) for p in model.parameters())
    assert nn.regularizers.L2(1.0)(model).item() == pytest.approx(expected, rel=1e-6)
    with pytest.raises(ValueError, match="non-negative"):
        nn.regularizers.l2(w, -1.0)


def test_l2_matches_keras(keras, rng):
    w = rng.standard_normal((4, 3)).astype(np.float32)
    ours = nn.regularizers.L2(0.01)(nn.Parameter(w)).item()
    theirs = float(
        keras.ops.convert_to_numpy(keras.regularizers.L2(0.01)(keras.ops.convert_to_tensor(w)))
    )
    assert ours == pytest.approx(theirs, rel=1e-5)
    ours1 = nn.regularizers.L1L2(0.02, 0.03)(nn.Parameter(w)).item()
    theirs1 = keras.regularizers.L1L2(0.02, 0.03)(keras.ops.convert_to_tensor(w))
    assert ours1 == pytest.approx(float(keras.ops.convert_to_numpy(theirs1)), rel=1e-5)


@pytest.mark.parametrize(
    ("make", "shape"),
    [
        (lambda: nn.Linear(3, 2), (4, 3)),
        (lambda: nn.ConvTranspose1d(2, 3, 3, stride=2, padding=1, output_padding=1), (1, 2, 4)),
        (lambda: nn.AdaptiveAvgPool1d(3), (2, 2, 7)),
        (lambda: nn.Flatten(), (2, 3, 2)),
        (lambda: nn.Unflatten(1, (2, 3)), (2, 6)),
        (lambda: nn.Identity(), (2, 3)),
        (lambda: nn.Dropout(0.5).eval(), (2, 3)),
        (
            lambda: nn.Sequential(
                nn.Conv2d(1, 2, 3, padding=1),
                nn.BatchNorm2d(2),
                nn.Tanh(),
                nn.MaxPool2d(2),
                nn.Flatten(),
                nn.Linear(8, 3),
            ),
            (2, 1, 4, 4),
        ),
    ],  # fmt: skip
    ids=[
        "linear",
        "conv_transpose1d",
        "adaptive1d",
        "flatten",
        "unflatten",
        "identity",
        "dropout_eval",
        "small_cnn",
    ],  # fmt: skip
)
def test_gradcheck_remaining_layers(make, shape, rng):
    x = rng.permutation(int(np.prod(shape))).reshape(shape) / 7.0  # distinct values: no pool ties
    assert module_gradcheck(make(), x)
