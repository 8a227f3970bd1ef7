"""The catalogue of differentiable ops of issue 2, shared by the engine test files.

Each `Case` names one op applied to concrete inputs: how to build the inputs (shape and value
domain, chosen away from kinks so that finite differences and ties are not an issue), how to call
it in descentlab and, where PyTorch has the same op, how to call it in torch. The same catalogue
drives the float64 gradient checks, the PyTorch parity tests and the float32 dtype test, so an op
added here is checked three ways.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

import descentlab as dl
from descentlab.nn import functional as F


def values(rng: np.random.Generator, shape: tuple[int, ...], domain: str) -> np.ndarray:
    """float64 values of `shape` in `domain`.

    real: standard normal; pos: in [0.5, 2]; away: |x| in [0.2, 2] with random sign (away from the
    kinks of abs/relu at 0); distinct: a shuffled grid, all values at least 0.1 apart (no ties for
    max/min/maximum); unit: in [-0.9, 0.9].
    """
    n = int(np.prod(shape))
    if domain == "real":
        x = rng.standard_normal(n)
    elif domain == "pos":
        x = rng.uniform(0.5, 2.0, n)
    elif domain == "away":
        x = rng.uniform(0.2, 2.0, n) * rng.choice([-1.0, 1.0], n)
    elif domain == "distinct":
        x = (rng.permutation(n) - n / 2) * 0.1 + rng.uniform(-0.02, 0.02, n)
    elif domain == "unit":
        x = rng.uniform(-0.9, 0.9, n)
    else:
        raise ValueError(domain)
    return x.reshape(shape)


@dataclass
class Case:
    """One op on concrete inputs.

    ours(*tensors) -> Tensor or tuple of Tensors; theirs(torch, *tensors) likewise (None when torch
    has no such op). `inputs` lists (shape, domain) per differentiable input.
    """

    name: str
    inputs: list[tuple[tuple[int, ...], str]]
    ours: Callable[..., Any]
    theirs: Callable[..., Any] | None = None
    seed: int = 0

    def arrays(self, dtype: Any = np.float64) -> list[np.ndarray]:
        rng = np.random.default_rng(self.seed)
        return [values(rng, shape, domain).astype(dtype) for shape, domain in self.inputs]

    def __repr__(self) -> str:
        return self.name


def _mask(shape: tuple[int, ...], seed: int = 7) -> np.ndarray:
    m = np.random.default_rng(seed).random(shape) > 0.5
    m.flat[0], m.flat[-1] = True, False  # never all-true or all-false
    return m


MASK_34 = _mask((3, 4))
MASK_4 = _mask((4,), 3)
IDX_REPEAT = np.array([0, 2, 2, 1, 0])
LABELS = np.array([0, 3, 1, 3, 2])


def _tf(torch: Any) -> Any:
    return torch.nn.functional


def _t(torch: Any, a: np.ndarray) -> Any:
    return torch.from_numpy(a)


S34, S4, S3 = (3, 4), (4,), (3,)

CASES: list[Case] = [
    # ---- arithmetic, with broadcasting
    Case("add", [(S34, "real"), (S4, "real")], lambda a, b: a + b, lambda t, a, b: a + b),
    Case("add_bcast_both", [((2, 1, 3), "real"), ((4, 1), "real")], lambda a, b: a + b,
         lambda t, a, b: a + b),  # fmt: skip
    Case("radd_scalar", [(S34, "real")], lambda a: 2.5 + a, lambda t, a: 2.5 + a),
    Case("sub", [(S34, "real"), ((3, 1), "real")], lambda a, b: a - b, lambda t, a, b: a - b),
    Case("rsub_scalar", [(S34, "real")], lambda a: 1.5 - a, lambda t, a: 1.5 - a),
    Case("mul", [(S34, "real"), (S4, "real")], lambda a, b: a * b, lambda t, a, b: a * b),
    Case("mul_scalar_tensor", [((), "real"), (S34, "real")], lambda a, b: a * b,
         lambda t, a, b: a * b),  # fmt: skip
    Case("div", [(S34, "real"), (S4, "away")], lambda a, b: a / b, lambda t, a, b: a / b),
    Case("rdiv_scalar", [(S34, "away")], lambda a: 2.0 / a, lambda t, a: 2.0 / a),
    Case("pow_tensor", [(S34, "pos"), (S4, "real")], lambda a, b: a**b, lambda t, a, b: a**b),
    Case("pow_int", [(S34, "real")], lambda a: a**3, lambda t, a: a**3),
    Case("pow_square", [(S34, "real")], lambda a: a**2, lambda t, a: a**2),
    Case("pow_float", [(S34, "pos")], lambda a: a**2.5, lambda t, a: a**2.5),
    Case("pow_negative", [(S34, "pos")], lambda a: a**-1.5, lambda t, a: a**-1.5),
    Case("rpow_scalar", [(S34, "real")], lambda a: 2.0**a, lambda t, a: 2.0**a),
    Case("neg", [(S34, "real")], lambda a: -a, lambda t, a: -a),
    Case("abs", [(S34, "away")], lambda a: abs(a), lambda t, a: abs(a)),
    Case("exp", [(S34, "real")], dl.exp, lambda t, a: t.exp(a)),
    Case("log", [(S34, "pos")], dl.log, lambda t, a: t.log(a)),
    Case("log1p", [(S34, "unit")], dl.log1p, lambda t, a: t.log1p(a)),
    Case("sqrt", [(S34, "pos")], dl.sqrt, lambda t, a: t.sqrt(a)),
    Case("sin", [(S34, "real")], dl.sin, lambda t, a: t.sin(a)),
    Case("cos", [(S34, "real")], dl.cos, lambda t, a: t.cos(a)),
    Case("tanh", [(S34, "real")], dl.tanh, lambda t, a: t.tanh(a)),
    Case("sigmoid", [(S34, "real")], dl.sigmoid, lambda t, a: t.sigmoid(a)),
    Case("relu", [(S34, "away")], dl.relu, lambda t, a: t.relu(a)),
    Case("maximum", [(S34, "distinct"), (S4, "distinct")], dl.maximum,
         lambda t, a, b: t.maximum(a, b), seed=1),  # fmt: skip
    Case("minimum", [(S34, "distinct"), ((3, 1), "distinct")], dl.minimum,
         lambda t, a, b: t.minimum(a, b), seed=2),  # fmt: skip
    Case("clip", [(S34, "distinct")], lambda a: dl.clip(a, -0.33, 0.47),
         lambda t, a: t.clamp(a, -0.33, 0.47)),  # fmt: skip
    Case("clip_min_only", [(S34, "distinct")], lambda a: a.clamp(min=0.11),
         lambda t, a: a.clamp(min=0.11)),  # fmt: skip
    Case("where", [(S34, "real"), (S4, "real")], lambda a, b: dl.where(MASK_34, a, b),
         lambda t, a, b: t.where(_t(t, MASK_34), a, b)),  # fmt: skip
    Case("where_method", [(S34, "real"), (S4, "real")], lambda a, b: a.where(MASK_34, b),
         lambda t, a, b: a.where(_t(t, MASK_34), b)),  # fmt: skip
    # ---- matrix products and the fused linear layer
    Case("matmul_2d", [(S34, "real"), ((4, 5), "real")], lambda a, b: a @ b,
         lambda t, a, b: a @ b),  # fmt: skip
    Case("matmul_vec_mat", [(S4, "real"), ((4, 5), "real")], lambda a, b: a @ b,
         lambda t, a, b: a @ b),  # fmt: skip
    Case("matmul_mat_vec", [(S34, "real"), (S4, "real")], lambda a, b: a @ b,
         lambda t, a, b: a @ b),  # fmt: skip
    Case("matmul_dot", [(S4, "real"), (S4, "real")], dl.matmul, lambda t, a, b: t.matmul(a, b)),
    Case("matmul_batched", [((2, 3, 4), "real"), ((2, 4, 5), "real")], lambda a, b: a @ b,
         lambda t, a, b: a @ b),  # fmt: skip
    Case("matmul_batch_bcast", [((2, 1, 3, 4), "real"), ((3, 4, 2), "real")],
         lambda a, b: a @ b, lambda t, a, b: a @ b),  # fmt: skip
    Case("matmul_batch_vec", [((2, 3, 4), "real"), (S4, "real")], lambda a, b: a @ b,
         lambda t, a, b: a @ b),  # fmt: skip
    Case("matmul_vec_batch", [(S4, "real"), ((2, 4, 3), "real")], lambda a, b: a @ b,
         lambda t, a, b: a @ b),  # fmt: skip
    Case("linear", [(S34, "real"), ((5, 4), "real"), ((5,), "real")], F.linear,
         lambda t, x, w, b: _tf(t).linear(x, w, b)),  # fmt: skip
    Case("linear_no_bias", [(S34, "real"), ((5, 4), "real")], F.linear,
         lambda t, x, w: _tf(t).linear(x, w)),  # fmt: skip
    Case("linear_batched", [((2, 3, 4), "real"), ((5, 4), "real"), ((5,), "real")], F.linear,
         lambda t, x, w, b: _tf(t).linear(x, w, b)),  # fmt: skip
    Case("linear_vector_input", [(S4, "real"), ((5, 4), "real"), ((5,), "real")], F.linear,
         lambda t, x, w, b: _tf(t).linear(x, w, b)),  # fmt: skip
    # ---- reductions
    Case("sum_all", [(S34, "real")], lambda a: a.sum(), lambda t, a: a.sum()),
    Case("sum_axis", [((2, 3, 4), "real")], lambda a: a.sum(1), lambda t, a: a.sum(1)),
    Case("sum_axes_keepdims", [((2, 3, 4), "real")], lambda a: a.sum((0, 2), keepdims=True),
         lambda t, a: a.sum((0, 2), keepdim=True)),  # fmt: skip
    Case("sum_neg_dim", [((2, 3, 4), "real")], lambda a: dl.sum(a, dim=-1),
         lambda t, a: t.sum(a, dim=-1)),  # fmt: skip
    Case("mean_all", [(S34, "real")], lambda a: a.mean(), lambda t, a: a.mean()),
    Case("mean_axis_keepdim", [((2, 3, 4), "real")], lambda a: a.mean(dim=1, keepdim=True),
         lambda t, a: a.mean(dim=1, keepdim=True)),  # fmt: skip
    Case("var_unbiased", [((2, 3, 4), "real")], lambda a: a.var(1),
         lambda t, a: a.var(1)),  # fmt: skip
    Case("var_population_all", [(S34, "real")], lambda a: a.var(correction=0),
         lambda t, a: a.var(correction=0)),  # fmt: skip
    Case("var_axes_keepdims", [((2, 3, 4), "real")], lambda a: a.var((0, 2), keepdims=True),
         lambda t, a: a.var((0, 2), keepdim=True)),  # fmt: skip
    Case("std", [(S34, "real")], lambda a: a.std(0), lambda t, a: a.std(0)),
    Case("std_all", [(S34, "real")], lambda a: a.std(), lambda t, a: a.std()),
    Case("max_all", [(S34, "distinct")], lambda a: a.max(), lambda t, a: a.amax()),
    Case("max_axis", [((2, 3, 4), "distinct")], lambda a: a.max(1),
         lambda t, a: a.amax(1)),  # fmt: skip
    Case("min_axis_keepdims", [((2, 3, 4), "distinct")], lambda a: a.min(-1, keepdims=True),
         lambda t, a: a.amin(-1, keepdim=True)),  # fmt: skip
    Case("max_axes", [((2, 3, 4), "distinct")], lambda a: dl.amax(a, (0, 2)),
         lambda t, a: t.amax(a, (0, 2))),  # fmt: skip
    Case("prod_all", [(S34, "away")], lambda a: a.prod(), lambda t, a: a.prod()),
    Case("prod_axis", [((2, 3, 4), "away")], lambda a: a.prod(1), lambda t, a: a.prod(1)),
    Case("prod_axis_keepdims", [(S34, "away")], lambda a: a.prod(0, keepdims=True),
         lambda t, a: a.prod(0, keepdim=True)),  # fmt: skip
    Case("prod_axes", [((2, 3, 4), "away")], lambda a: a.prod((0, 2))),
    Case("logsumexp", [(S34, "real")], lambda a: a.logsumexp(1),
         lambda t, a: t.logsumexp(a, 1)),  # fmt: skip
    Case("logsumexp_axes_keepdims", [((2, 3, 4), "real")],
         lambda a: a.logsumexp((0, 2), keepdims=True),
         lambda t, a: t.logsumexp(a, (0, 2), keepdim=True)),  # fmt: skip
    # ---- softmax family and the fused loss
    Case("softmax", [(S34, "real")], lambda a: a.softmax(1), lambda t, a: a.softmax(1)),
    Case("softmax_dim0", [((2, 3, 4), "real")], lambda a: dl.softmax(a, dim=0),
         lambda t, a: t.softmax(a, dim=0)),  # fmt: skip
    Case("log_softmax", [(S34, "real")], lambda a: a.log_softmax(-1),
         lambda t, a: a.log_softmax(-1)),  # fmt: skip
    Case("log_softmax_dim1", [((2, 3, 4), "real")], lambda a: dl.log_softmax(a, 1),
         lambda t, a: t.log_softmax(a, 1)),  # fmt: skip
    Case("softmin", [(S34, "real")], lambda a: dl.softmin(a, 1),
         lambda t, a: _tf(t).softmin(a, 1)),  # fmt: skip
    Case("cross_entropy_mean", [((5, 4), "real")], lambda a: F.cross_entropy(a, LABELS),
         lambda t, a: _tf(t).cross_entropy(a, _t(t, LABELS))),  # fmt: skip
    Case("cross_entropy_sum", [((5, 4), "real")],
         lambda a: F.cross_entropy(a, LABELS, reduction="sum"),
         lambda t, a: _tf(t).cross_entropy(a, _t(t, LABELS), reduction="sum")),  # fmt: skip
    Case("cross_entropy_none", [((5, 4), "real")],
         lambda a: F.cross_entropy(a, LABELS, reduction="none"),
         lambda t, a: _tf(t).cross_entropy(a, _t(t, LABELS), reduction="none")),  # fmt: skip
    # ---- shape ops
    Case("reshape", [((2, 3, 4), "real")], lambda a: a.reshape(4, -1),
         lambda t, a: a.reshape(4, -1)),  # fmt: skip
    Case("view_tuple", [(S34, "real")], lambda a: a.view((2, 6)), lambda t, a: a.view((2, 6))),
    Case("transpose_T", [(S34, "real")], lambda a: a.T, lambda t, a: a.T),
    Case("transpose_dims", [((2, 3, 4), "real")], lambda a: a.transpose(0, 2),
         lambda t, a: a.transpose(0, 2)),  # fmt: skip
    Case("permute", [((2, 3, 4), "real")], lambda a: a.permute(1, 2, 0),
         lambda t, a: a.permute(1, 2, 0)),  # fmt: skip
    Case("flatten", [((2, 3, 4), "real")], lambda a: a.flatten(), lambda t, a: a.flatten()),
    Case("flatten_range", [((2, 3, 4, 2), "real")], lambda a: a.flatten(1, 2),
         lambda t, a: a.flatten(1, 2)),  # fmt: skip
    Case("squeeze_all", [((1, 3, 1, 4), "real")], lambda a: a.squeeze(),
         lambda t, a: a.squeeze()),  # fmt: skip
    Case("squeeze_dim", [((1, 3, 1, 4), "real")], lambda a: a.squeeze(2),
         lambda t, a: a.squeeze(2)),  # fmt: skip
    Case("unsqueeze", [(S34, "real")], lambda a: a.unsqueeze(1), lambda t, a: a.unsqueeze(1)),
    Case("unsqueeze_neg", [(S34, "real")], lambda a: a.unsqueeze(-1),
         lambda t, a: a.unsqueeze(-1)),  # fmt: skip
    Case("expand", [((3, 1), "real")], lambda a: a.expand(2, 3, 4),
         lambda t, a: a.expand(2, 3, 4)),  # fmt: skip
    Case("expand_keep", [((3, 1), "real")], lambda a: a.expand(-1, 5),
         lambda t, a: a.expand(-1, 5)),  # fmt: skip
    Case("broadcast_to", [(S4, "real")], lambda a: dl.broadcast_to(a, (2, 3, 4)),
         lambda t, a: t.broadcast_to(a, (2, 3, 4))),  # fmt: skip
    Case("getitem_int", [(S34, "real")], lambda a: a[1], lambda t, a: a[1]),
    Case("getitem_neg_int", [((2, 3, 4), "real")], lambda a: a[-1, 2],
         lambda t, a: a[-1, 2]),  # fmt: skip
    Case("getitem_slices", [((4, 5), "real")], lambda a: a[1:, ::2], lambda t, a: a[1:, ::2]),
    Case("getitem_none_ellipsis", [((2, 3, 4), "real")], lambda a: a[..., None, 1:3],
         lambda t, a: a[..., None, 1:3]),  # fmt: skip
    Case("getitem_bool_mask", [(S34, "real")], lambda a: a[MASK_34],
         lambda t, a: a[_t(t, MASK_34)]),  # fmt: skip
    Case("getitem_bool_rows", [((4, 3), "real")], lambda a: a[MASK_4],
         lambda t, a: a[_t(t, MASK_4)]),  # fmt: skip
    Case("getitem_int_array_repeats", [((3, 4), "real")], lambda a: a[IDX_REPEAT],
         lambda t, a: a[_t(t, IDX_REPEAT)]),  # fmt: skip
    Case("getitem_int_list", [((3, 4), "real")], lambda a: a[:, [3, 0, 3]],
         lambda t, a: a[:, [3, 0, 3]]),  # fmt: skip
    Case("getitem_two_arrays", [((3, 4), "real")], lambda a: a[[0, 2, 0], [1, 1, 1]],
         lambda t, a: a[[0, 2, 0], [1, 1, 1]]),  # fmt: skip
    Case("getitem_tensor_index", [((3, 4), "real")], lambda a: a[dl.tensor(IDX_REPEAT)],
         lambda t, a: a[_t(t, IDX_REPEAT)]),  # fmt: skip
    Case("concat", [(S34, "real"), ((2, 4), "real"), ((1, 4), "real")],
         lambda a, b, c: dl.concat([a, b, c]), lambda t, a, b, c: t.cat([a, b, c])),  # fmt: skip
    Case("concat_dim1", [(S34, "real"), ((3, 2), "real")], lambda a, b: dl.cat([a, b], dim=1),
         lambda t, a, b: t.cat([a, b], dim=1)),  # fmt: skip
    Case("stack", [(S34, "real"), (S34, "real")], lambda a, b: dl.stack([a, b]),
         lambda t, a, b: t.stack([a, b])),  # fmt: skip
    Case("stack_last", [(S34, "real"), (S34, "real"), (S34, "real")],
         lambda a, b, c: dl.stack([a, b, c], dim=-1),
         lambda t, a, b, c: t.stack([a, b, c], dim=-1)),  # fmt: skip
    Case("split_size", [((5, 4), "real")], lambda a: a.split(2),
         lambda t, a: a.split(2)),  # fmt: skip
    Case("split_sections_dim1", [((3, 5), "real")], lambda a: dl.split(a, [1, 3, 1], dim=1),
         lambda t, a: t.split(a, [1, 3, 1], dim=1)),  # fmt: skip
    Case("pad_last", [(S34, "real")], lambda a: dl.pad(a, (1, 2)),
         lambda t, a: _tf(t).pad(a, (1, 2))),  # fmt: skip
    Case("pad_two_dims_value", [((2, 3, 4), "real")], lambda a: dl.pad(a, (0, 1, 2, 0), value=0.5),
         lambda t, a: _tf(t).pad(a, (0, 1, 2, 0), value=0.5)),  # fmt: skip
    Case("clone", [(S34, "real")], lambda a: a.clone() * 1.0, lambda t, a: a.clone() * 1.0),
    # ---- composites: gradients flowing through several ops, reused inputs
    Case("composite_mlp", [((5, 4), "real"), ((3, 4), "real"), ((3,), "real")],
         lambda x, w, b: (F.linear(x, w, b).tanh() * x[:, :3]).sum(1).exp().mean(),
         lambda t, x, w, b: (_tf(t).linear(x, w, b).tanh() * x[:, :3]).sum(1).exp().mean()),
    Case("reuse_same_input", [(S34, "real")], lambda a: a * a + a.sin() * a,
         lambda t, a: a * a + a.sin() * a),  # fmt: skip
]  # fmt: skip

CASE_IDS = [c.name for c in CASES]
TORCH_CASES = [c for c in CASES if c.theirs is not None]
