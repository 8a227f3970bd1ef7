"""PyTorch's exact loss signatures: the legacy `size_average` / `reduce` arguments (values, overrides
and warnings as torch's, by keyword and by position) and torch 2.13's per-element `weight` of
`mse_loss`, `l1_loss` and `huber_loss` (values and gradients, float64, rtol 1e-10)."""

from __future__ import annotations

import inspect
import itertools
import warnings
import zlib

import numpy as np
import pytest

import descentlab as dl
import descentlab.nn.functional as F
from descentlab import losses as L
from descentlab.ops.loss import LEGACY_WARNING, legacy_reduction
from test_losses import ALL_CASES, ATOL, RTOL, W5

FUNCTIONAL = {
    "MSELoss": "mse_loss", "L1Loss": "l1_loss", "HuberLoss": "huber_loss",
    "SmoothL1Loss": "smooth_l1_loss", "BCELoss": "binary_cross_entropy",
    "BCEWithLogitsLoss": "binary_cross_entropy_with_logits", "CrossEntropyLoss": "cross_entropy",
    "NLLLoss": "nll_loss", "KLDivLoss": "kl_div", "PoissonNLLLoss": "poisson_nll_loss",
    "GaussianNLLLoss": "gaussian_nll_loss", "HingeEmbeddingLoss": "hinge_embedding_loss",
    "MultiMarginLoss": "multi_margin_loss", "SoftMarginLoss": "soft_margin_loss",
    "CosineEmbeddingLoss": "cosine_embedding_loss", "MarginRankingLoss": "margin_ranking_loss",
    "TripletMarginLoss": "triplet_margin_loss",
}  # fmt: skip
NO_LEGACY = {"HuberLoss", "GaussianNLLLoss"}  # PyTorch never gave them size_average / reduce
COMBOS = list(itertools.product((None, True, False), repeat=2))  # (size_average, reduce)


def _params(fn):
    """(name, kind, default) of each parameter but `self`: annotations left out."""
    sig = inspect.signature(fn)
    return [(p.name, p.kind, p.default) for p in sig.parameters.values() if p.name != "self"]


def _legacy_warnings(call):
    """Run `call()`; return its result and the (category, message) of its legacy warnings."""
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        out = call()
    return out, [(w.category, str(w.message)) for w in rec if "size_average" in str(w.message)]


def _torch_value(torch, v):
    return torch.tensor(v) if isinstance(v, np.ndarray) else v


# ----------------------------------------------------------------------------- (1) signatures
def test_every_torch_loss_has_a_class_and_a_functional():
    assert set(FUNCTIONAL) == set(L.TORCH_LOSSES)


@pytest.mark.parametrize("name", sorted(FUNCTIONAL))
def test_class_signature_equals_torch(torch, name):
    assert _params(getattr(L, name).__init__) == _params(getattr(torch.nn, name).__init__)


@pytest.mark.parametrize("fname", sorted(FUNCTIONAL.values()))
def test_functional_signature_equals_torch(torch, fname):
    assert _params(getattr(F, fname)) == _params(getattr(torch.nn.functional, fname))


# ----------------------------------------------------------------------------- (2) the mapping
def test_legacy_reduction_mapping_matches_torch(torch):
    from torch.nn import _reduction

    for size_average, reduce in COMBOS:
        ours, ours_w = _legacy_warnings(lambda: legacy_reduction(size_average, reduce, "none"))
        if size_average is None and reduce is None:
            assert (ours, ours_w) == ("none", [])  # nothing given: `reduction` unchanged, silent
            continue
        ref, ref_w = _legacy_warnings(lambda: _reduction.legacy_get_string(size_average, reduce))
        assert ours == ref and ours_w == ref_w, (size_average, reduce)
        assert ours_w == [(UserWarning, LEGACY_WARNING.format(ref))]


LEGACY_CASES = [c for c, (name, _, _) in ALL_CASES.items() if name not in NO_LEGACY]
FORMS = ("class", "functional")


def _call(lib, form, name, kwargs, inputs, **reduction_args):
    if form == "class":
        return getattr(lib.nn if lib is not dl else L, name)(**kwargs, **reduction_args)(*inputs)
    fns = lib.nn.functional if lib is not dl else F
    return getattr(fns, FUNCTIONAL[name])(*inputs, **kwargs, **reduction_args)


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("case", LEGACY_CASES)
def test_every_size_average_reduce_combination_matches_torch(torch, case, form):
    """Values, input gradients and warnings of all nine (size_average, reduce) pairs, each given
    with a `reduction` they override ('mean' and 'none')."""
    name, kwargs, build = ALL_CASES[case]
    arrays, diff = build(np.random.default_rng(zlib.crc32(case.encode())))
    tkw = {k: _torch_value(torch, v) for k, v in kwargs.items()}
    for (size_average, reduce), reduction in itertools.product(COMBOS, ("mean", "none")):
        where = f"size_average={size_average}, reduce={reduce}, reduction={reduction!r}"
        legacy = {"size_average": size_average, "reduce": reduce, "reduction": reduction}
        ours_in = [dl.tensor(a, requires_grad=i in diff) for i, a in enumerate(arrays)]
        ref_in = [torch.tensor(a, requires_grad=i in diff) for i, a in enumerate(arrays)]
        out, out_w = _legacy_warnings(lambda: _call(dl, form, name, kwargs, ours_in, **legacy))
        ref, ref_w = _legacy_warnings(lambda: _call(torch, form, name, tkw, ref_in, **legacy))
        assert out_w == ref_w, where
        assert out.shape == tuple(ref.shape), where
        np.testing.assert_allclose(
            out.data, ref.detach().numpy(), rtol=RTOL, atol=ATOL, err_msg=where
        )
        v = np.random.default_rng(7).normal(size=out.shape)
        out.backward(v)
        ref.backward(torch.tensor(v))
        i = diff[0]
        np.testing.assert_allclose(
            ours_in[i].grad, ref_in[i].grad.numpy(), rtol=RTOL, atol=ATOL, err_msg=where
        )


@pytest.mark.parametrize("case", LEGACY_CASES)
def test_legacy_arguments_override_reduction_in_every_loss(case):
    """`size_average=False` is 'sum' and `reduce=False` is 'none', whatever `reduction` says."""
    name, kwargs, build = ALL_CASES[case]
    arrays, _ = build(np.random.default_rng(5))
    for form in FORMS:
        for legacy, meant in (({"size_average": False}, "sum"), ({"reduce": False}, "none")):
            with pytest.warns(UserWarning, match=f"reduction='{meant}' instead"):
                out = _call(dl, form, name, kwargs, arrays, **legacy, reduction="mean")
            want = _call(dl, form, name, kwargs, arrays, reduction=meant)
            np.testing.assert_array_equal(out.data, want.data, err_msg=f"{form} {legacy}")


def test_no_warning_without_legacy_arguments():
    x, y = np.ones((2, 3)), np.zeros((2, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert F.mse_loss(x, y, reduction="sum").item() == 6.0
        assert L.MSELoss(reduction="sum")(x, y).item() == 6.0
        assert L.CrossEntropyLoss().reduction == "mean"


def test_legacy_warning_points_at_the_callers_line():
    for make in (lambda: L.MSELoss(size_average=False), lambda: L.NLLLoss(reduce=False),
                 lambda: F.l1_loss(np.ones(2), np.ones(2), reduce=False)):  # fmt: skip
        with pytest.warns(UserWarning) as rec:
            make()
        assert rec[0].filename == __file__


def test_legacy_arguments_override_an_invalid_reduction(torch):
    with pytest.warns(UserWarning):
        assert L.MSELoss(size_average=False, reduction="bogus").reduction == "sum"
    with pytest.warns(UserWarning):
        assert torch.nn.MSELoss(size_average=False, reduction="bogus").reduction == "sum"
    with pytest.raises(ValueError, match="reduction must be one of"):
        L.MSELoss(reduction="bogus")


# ----------------------------------------------------------------------------- (3) regression weight
WEIGHTED = [("mse_loss", {}), ("l1_loss", {}), ("huber_loss", {}), ("huber_loss", {"delta": 0.5})]


def _weighted_arrays(seed=11):
    r = np.random.default_rng(seed)
    x, y = r.normal(size=(4, 3)) * 1.5, r.normal(size=(4, 3))
    y[0, 0] = x[0, 0]  # a zero residual: |d|'s gradient there is 0 in both
    w = r.uniform(0.0, 2.0, (4, 3))
    w[1, 2] = 0.0
    return x, y, w


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("fname,kw", WEIGHTED, ids=[f"{f}{k}" for f, k in WEIGHTED])
def test_weighted_regression_matches_torch(torch, fname, kw, reduction):
    x, y, w = _weighted_arrays()
    for weight_grad in (False, True):  # an array weight, then a weight tensor that learns
        xs = [dl.tensor(a, requires_grad=True) for a in (x, y)]
        ts = [torch.tensor(a, requires_grad=True) for a in (x, y)]
        ws = dl.tensor(w, requires_grad=True) if weight_grad else w
        wt = torch.tensor(w, requires_grad=weight_grad)
        out = getattr(F, fname)(*xs, reduction=reduction, weight=ws, **kw)
        ref = getattr(torch.nn.functional, fname)(*ts, reduction=reduction, weight=wt, **kw)
        assert out.shape == tuple(ref.shape) and out.dtype == np.float64
        np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=RTOL, atol=ATOL)
        v = np.random.default_rng(7).normal(size=out.shape)
        out.backward(v)
        ref.backward(torch.tensor(v))
        pairs = [(xs[0], ts[0]), (xs[1], ts[1])] + ([(ws, wt)] if weight_grad else [])
        for i, (a, b) in enumerate(pairs):
            np.testing.assert_allclose(a.grad, b.grad.numpy(), rtol=RTOL, atol=ATOL, err_msg=i)


def test_weighted_mean_divides_by_the_weights_except_huber():
    x, y = dl.tensor([1.0, 2.0]), dl.tensor([0.0, 4.0])
    w = np.array([3.0, 1.0])
    assert F.mse_loss(x, y, weight=w).item() == pytest.approx((3 * 1 + 1 * 4) / 4)
    assert F.l1_loss(x, y, weight=w).item() == pytest.approx((3 * 1 + 1 * 2) / 4)
    assert F.huber_loss(x, y, weight=w).item() == pytest.approx((3 * 0.5 + 1 * 1.5) / 2)


@pytest.mark.parametrize("size_average,reduce", COMBOS)
@pytest.mark.parametrize("fname", ["mse_loss", "l1_loss"])
def test_weight_with_legacy_arguments_matches_torch(torch, fname, size_average, reduce):
    x, y, w = _weighted_arrays(3)
    legacy = {"size_average": size_average, "reduce": reduce}
    out, out_w = _legacy_warnings(lambda: getattr(F, fname)(x, y, **legacy, weight=w))
    ref, ref_w = _legacy_warnings(
        lambda: getattr(torch.nn.functional, fname)(
            torch.tensor(x), torch.tensor(y), **legacy, weight=torch.tensor(w)
        )
    )
    assert out_w == ref_w
    np.testing.assert_allclose(out.data, ref.numpy(), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("fname", ["mse_loss", "l1_loss", "huber_loss"])
@pytest.mark.parametrize("wshape", [(4,), (1, 3), (4, 3, 1), (3, 4)])
def test_weight_of_another_size_is_an_error_as_in_torch(torch, fname, wshape):
    x, y, _ = _weighted_arrays()
    w = np.ones(wshape)
    with pytest.raises(ValueError, match="same size"):
        getattr(torch.nn.functional, fname)(torch.tensor(x), torch.tensor(y),
                                            weight=torch.tensor(w))  # fmt: skip
    with pytest.raises(ValueError, match=rf"weight shape \({wshape[0]},.*same size"):
        getattr(F, fname)(dl.tensor(x), y, weight=w)


def test_unit_weights_give_the_unweighted_loss():
    x, y, _ = _weighted_arrays()
    for fname in ("mse_loss", "l1_loss", "huber_loss"):
        for reduction in ("mean", "sum", "none"):
            fn = getattr(F, fname)
            np.testing.assert_allclose(
                fn(x, y, reduction=reduction, weight=np.ones_like(x)).data,
                fn(x, y, reduction=reduction).data,
                rtol=1e-15,
                err_msg=f"{fname} {reduction}",
            )


# ----------------------------------------------------------------------------- (4) positional calls
def _first_case(name):
    return next(c for c, (n, _, _) in ALL_CASES.items() if n == name)


POSITIONAL_CLASSES = [
    ("CrossEntropyLoss", (None, False)),
    ("CrossEntropyLoss", (W5, None, 1, False)),
    ("CrossEntropyLoss", (W5, True, -100, None, "none", 0.1)),
    ("NLLLoss", (None, None, -100, False)),
    ("NLLLoss", (W5, False)),
    ("MSELoss", (False,)),
    ("MSELoss", (None, False)),
    ("L1Loss", (True, True, "none")),
    ("SmoothL1Loss", (None, None, "sum", 0.5)),
    ("BCELoss", (None, False)),
    ("BCEWithLogitsLoss", (None, None, False, "mean", np.array([3.0, 0.5, 1.0]))),
    ("KLDivLoss", (False, None, "none", False)),
    ("PoissonNLLLoss", (False, True, False, 1e-6)),
    ("HingeEmbeddingLoss", (0.5, False)),
    ("MultiMarginLoss", (2, 0.5, None, None, False)),
    ("SoftMarginLoss", (False,)),
    ("CosineEmbeddingLoss", (0.2, False)),
    ("MarginRankingLoss", (0.1, None, False)),
    ("TripletMarginLoss", (0.5, 1.0, 1e-6, True, None, False)),
    ("HuberLoss", ("sum", 0.5)),
]


@pytest.mark.parametrize(
    "name,args", POSITIONAL_CLASSES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(POSITIONAL_CLASSES)]
)
def test_positional_class_arguments_behave_as_torch(torch, name, args):
    arrays, _ = ALL_CASES[_first_case(name)][2](np.random.default_rng(2))
    ours, ours_w = _legacy_warnings(lambda: getattr(L, name)(*args))
    ref, ref_w = _legacy_warnings(
        lambda: getattr(torch.nn, name)(*[_torch_value(torch, a) for a in args])
    )
    assert ours.reduction == ref.reduction and ours_w == ref_w
    for attr in ("ignore_index", "label_smoothing", "margin", "p", "swap", "log_input", "full",
                 "eps", "beta", "delta", "log_target"):  # fmt: skip
        assert getattr(ours, attr, None) == getattr(ref, attr, None), attr
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # kl_div's 'mean' notice
        out = ours(*arrays)
        want = ref(*[torch.tensor(a) for a in arrays])
    np.testing.assert_allclose(out.data, want.numpy(), rtol=RTOL, atol=ATOL)


def _positional_functionals(r):
    x, y, w = _weighted_arrays()
    logits, labels = r.normal(size=(6, 5)), r.integers(0, 5, 6)
    log_p = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    a, p, n = (r.normal(size=(5, 4)) for _ in range(3))
    return [
        ("nll_loss", (log_p, labels, None, False)),  # the classic MNIST example's sum
        ("nll_loss", (log_p, labels, W5, None, 2, False)),
        ("cross_entropy", (logits, labels, W5, False, -100, None, "mean", 0.1)),
        ("mse_loss", (x, y, False)),
        ("mse_loss", (x, y, None, None, "sum", w)),
        ("l1_loss", (x, y, None, False, "mean", w)),
        ("huber_loss", (x, y, "sum", 0.5, w)),
        ("smooth_l1_loss", (x, y, None, None, "none", 0.5)),
        ("kl_div", (log_p, np.exp(log_p[::-1]), None, False)),
        ("poisson_nll_loss", (x, np.abs(y), True, False, False, 1e-8)),
        ("triplet_margin_loss", (a, p, n, 1.0, 2, 1e-6, False, False)),
        ("margin_ranking_loss", (a[:, 0], p[:, 0], np.sign(n[:, 0]), 0.1, None, False)),
    ]


@pytest.mark.parametrize("index", range(12))
def test_positional_functional_arguments_behave_as_torch(torch, index):
    fname, args = _positional_functionals(np.random.default_rng(4))[index]
    out, out_w = _legacy_warnings(lambda: getattr(F, fname)(*args))
    ref, ref_w = _legacy_warnings(
        lambda: getattr(torch.nn.functional, fname)(*[_torch_value(torch, a) for a in args])
    )
    assert out_w == ref_w
    assert out.shape == tuple(ref.shape)
    np.testing.assert_allclose(out.data, ref.numpy(), rtol=RTOL, atol=ATOL)


def test_classic_mnist_sum_of_losses():
    """`F.nll_loss(output, target, size_average=False).item()`: the test loop's summed loss."""
    r = np.random.default_rng(0)
    output = dl.log_softmax(dl.tensor(r.normal(size=(8, 10))), dim=1)
    target = r.integers(0, 10, 8)
    with pytest.warns(UserWarning, match="reduction='sum'"):
        total = F.nll_loss(output, target, size_average=False).item()
    assert total == pytest.approx(F.nll_loss(output, target, reduction="sum").item(), rel=1e-15)
