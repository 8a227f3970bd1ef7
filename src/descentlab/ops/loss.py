"""Loss functions with PyTorch conventions (`torch.nn.functional` names, arguments and reductions).

Two primitives are fused because every classifier runs them and their composite forms are both
slower and less stable:

* `cross_entropy` (softmax + negative log-likelihood): the forward uses log-sum-exp, so logits of
  any size give finite values, and the backward is one expression, `softmax * sum(a) - a`, where
  `a` holds the target coefficients (the famous `softmax - one_hot` without weights or smoothing).
* `binary_cross_entropy_with_logits`: `max(x, 0) - x*y + log1p(exp(-|x|))`, finite for any x.

`nll_loss` and `binary_cross_entropy` are primitives as well, because PyTorch's gradients are not
those of their composite forms (gather backward; BCE's `(x - y) / max(x(1 - x), 1e-12)`). Every other
loss is composed from differentiable ops, so its gradient is automatic.

Inputs with classes follow PyTorch's layout: `(N, C)`, `(N, C, d1, d2, ...)` or unbatched `(C,)`,
targets `(N,)`, `(N, d1, d2, ...)` or `()` as class indices, or probabilities shaped like the input.

Example:
    >>> logits = descentlab.tensor([[0.7, 1.3, 5.1, 2.2, 1.1]])
    >>> cross_entropy(logits, np.array([2])).item()   # -log(softmax(x)[2])
    0.10254...
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from descentlab.ops.math import abs as _abs
from descentlab.ops.math import clip, exp, log, log1p, minimum, pow, sqrt, where
from descentlab.ops.reduce import mean as _mean
from descentlab.ops.reduce import sum as _sum
from descentlab.ops.shape import getitem, reshape, unsqueeze
from descentlab.tensor import Function, Tensor, as_tensor, is_grad_enabled

__all__ = [
    "softmax_cross_entropy", "cross_entropy", "nll_loss", "binary_cross_entropy",
    "binary_cross_entropy_with_logits", "mse_loss", "l1_loss", "huber_loss", "smooth_l1_loss",
    "kl_div", "poisson_nll_loss", "gaussian_nll_loss", "hinge_embedding_loss",
    "multi_margin_loss", "soft_margin_loss", "cosine_embedding_loss", "margin_ranking_loss",
    "triplet_margin_loss",
]  # fmt: skip

REDUCTIONS = ("mean", "sum", "none")


# ----------------------------------------------------------------------------- helpers
def _array(x: Any) -> np.ndarray:
    return x.data if isinstance(x, Tensor) else np.asarray(x)


def _check_reduction(reduction: str, allowed: tuple[str, ...] = REDUCTIONS) -> None:
    if reduction not in allowed:
        raise ValueError(
            f"reduction must be one of {', '.join(map(repr, allowed))}, got {reduction!r}"
        )


LEGACY_WARNING = (
    "size_average and reduce args will be deprecated, please use reduction='{}' instead."
)


def legacy_reduction(
    size_average: bool | None, reduce: bool | None, reduction: str, stacklevel: int = 3
) -> str:
    """The reduction to use, given PyTorch's legacy `size_average` and `reduce` arguments.

    Every PyTorch-named loss (function and class) still takes them, at PyTorch's positions, for the
    old tutorials (`F.nll_loss(output, target, size_average=False)`). Mapping, as PyTorch's
    `legacy_get_string`: None counts as True; both true -> 'mean', `reduce` only -> 'sum',
    `reduce=False` -> 'none'. When either is given it overrides `reduction` and a UserWarning names
    the `reduction=` to write instead; when both are None, `reduction` is returned unchanged.

    Example:
        >>> import warnings
        >>> with warnings.catch_warnings():
        ...     warnings.simplefilter("ignore")
        ...     legacy_reduction(False, None, "mean")
        'sum'
    """
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    new = "mean" if size_average and reduce else "sum" if reduce else "none"
    warnings.warn(LEGACY_WARNING.format(new), UserWarning, stacklevel=stacklevel)
    return new


def reduce_loss(loss: Tensor, reduction: str) -> Tensor:
    """Apply a PyTorch reduction: 'mean' (over all elements), 'sum' or 'none'."""
    _check_reduction(reduction)
    if reduction == "none":
        return loss
    return _mean(loss) if reduction == "mean" else _sum(loss)


def check_same_shape(name: str, input: Any, target: Any) -> None:
    """Raise a clear error when `input` and `target` shapes differ (no silent broadcasting)."""
    a, b = np.shape(_array(input)), np.shape(_array(target))
    if a != b:
        raise ValueError(
            f"{name}: input shape {a} and target shape {b} differ; they must match exactly "
            "(silent broadcasting, e.g. (N, 1) against (N,), gives a wrong loss). Reshape one "
            "of them, e.g. target.reshape(input.shape)"
        )


def check_class_indices(target: np.ndarray, num_classes: int, ignore_index: int | None = None):
    """Raise a clear error when a class index lies outside [0, num_classes)."""
    if not np.issubdtype(target.dtype, np.integer):
        raise TypeError(
            f"class-index targets must be integers, got dtype {target.dtype}; for probability "
            "targets pass a float tensor shaped like the input"
        )
    valid = target if ignore_index is None else target[target != ignore_index]
    if valid.size and (valid.min() < 0 or valid.max() >= num_classes):
        bad = valid.min() if valid.min() < 0 else valid.max()
        raise IndexError(
            f"target class index {int(bad)} is out of range for {num_classes} classes "
            f"(valid: 0 to {num_classes - 1}"
            + (f", or ignore_index={ignore_index}" if ignore_index is not None else "")
            + ")"
        )


def _classes_last(x: np.ndarray, name: str) -> tuple[np.ndarray, tuple[int, ...]]:
    """(N, C, d1, ...) -> (M, C) rows with classes last, and the per-element loss shape (N, d1, ...)."""
    if x.ndim == 0:
        raise ValueError(f"{name}: input must have a class dimension, got a scalar")
    if x.ndim == 1:
        return x[None, :], ()
    if x.ndim == 2:  # the common (N, C) case is already rows: skip moveaxis (hot path)
        return x, (x.shape[0],)
    c = x.shape[1]
    out_shape = (x.shape[0], *x.shape[2:])
    return np.moveaxis(x, 1, -1).reshape(-1, c), out_shape


def _classes_back(g2: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Inverse of `_classes_last` for gradients: (M, C) -> the input's shape."""
    if g2.shape == shape:  # (N, C): the array itself, not a view, so a leaf adopts it uncopied
        return g2
    if len(shape) <= 2:
        return g2.reshape(shape)
    moved = g2.reshape((shape[0], *shape[2:], shape[1]))
    return np.moveaxis(moved, -1, 1)


def _index_target(
    name: str, x: np.ndarray, target: np.ndarray, out_shape: tuple[int, ...],
    weight: np.ndarray | None, ignore_index: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """Validate class-index targets; return (clamped indices, validity mask, per-row weight)."""
    if target.shape != out_shape:
        raise ValueError(
            f"{name}: input shape {x.shape} expects class-index targets of shape {out_shape}, got "
            f"target shape {target.shape}"
        )
    c = x.shape[0] if x.ndim == 1 else x.shape[1]
    check_class_indices(target, c, ignore_index)
    t = target.reshape(-1)
    valid = t != ignore_index
    tc = np.where(valid, t, 0)
    wt = weight[tc] * valid if weight is not None else valid.astype(x.dtype)
    return tc, valid, wt


def _weight_array(weight: Any, c: int, dtype: np.dtype, name: str) -> np.ndarray | None:
    if weight is None:
        return None
    w = np.asarray(_array(weight), dtype=dtype)
    if w.shape != (c,):
        raise ValueError(f"{name}: weight must have shape ({c},), one per class, got {w.shape}")
    return w


def _scale_rows(g: np.ndarray, grad2: np.ndarray, reduction: str, denom: Any) -> np.ndarray:
    """Multiply (M, C) per-row gradients by the upstream gradient of the reduced loss."""
    if reduction == "none":
        return grad2 * g.reshape(-1, 1)
    return grad2 * (g / denom if reduction == "mean" else g)


def _reduce_rows(loss: np.ndarray, out_shape: tuple[int, ...], reduction: str, denom: Any):
    if reduction == "none":
        return loss.reshape(out_shape)
    total = loss.sum()
    if reduction == "sum":
        return total
    # every target ignored (or weighted 0): 0 / 0 = nan, as PyTorch
    return np.asarray(total / denom if denom else np.nan, dtype=loss.dtype)


# ----------------------------------------------------------------------------- fused primitives
class CrossEntropy(Function):
    """Softmax cross-entropy with class weights, ignore_index, label smoothing, soft targets.

    Every variant is `loss_m = -sum_c a_mc * log_softmax(x_m)_c` for target coefficients `a`, so
    the gradient is `softmax(x_m) * sum_c a_mc - a_m` (PyTorch's `softmax - one_hot` in general).
    """

    def forward(self, x, target, weight=None, ignore_index=-100, label_smoothing=0.0,
                reduction="mean"):  # fmt: skip
        name = "cross_entropy"
        x2, out_shape = _classes_last(x, name)
        m, c = x2.shape
        w = _weight_array(weight, c, x.dtype, name)
        eps = float(label_smoothing)
        self.shape, self.reduction = x.shape, reduction
        need_grad = is_grad_enabled() and self.needs_input_grad[0]
        self.grad2 = None
        # One (M, C) work array: shifted logits, exponentiated in place, then turned into the
        # gradient in place. Large temporaries cost more than the arithmetic (page faults).
        work = x2 - x2.max(axis=1, keepdims=True)
        if np.issubdtype(target.dtype, np.floating):  # class probabilities
            if target.shape != x.shape:
                raise ValueError(
                    f"{name}: probability targets must have the input's shape {x.shape}, got "
                    f"{target.shape}; class-index targets must be integers of shape {out_shape}"
                )
            q, _ = _classes_last(target, name)
            if eps:
                q = q * (1 - eps) + eps / c
            a = q * w if w is not None else q
            e = np.exp(work)
            s = e.sum(axis=1, keepdims=True)
            logp = work - np.log(s)
            loss = -(a * logp).sum(axis=1)
            denom = m
            if need_grad:
                self.grad2 = e / s * a.sum(axis=1, keepdims=True) - a
            if is_grad_enabled() and self.needs_input_grad[1]:
                # d loss / d target = -(1 - eps) * w * log_softmax(x)
                self.tgrad2 = -(1 - eps) * (logp * w if w is not None else logp)
            else:
                self.tgrad2 = None
        else:
            tc, valid, wt = _index_target(name, x, target, out_shape, w, ignore_index)
            rows = np.arange(m)
            picked = work[rows, tc]
            if eps:
                wc = w if w is not None else np.ones(c, dtype=x.dtype)
                dot = work @ wc
            e = np.exp(work, out=work)
            s = e.sum(axis=1)
            log_s = np.log(s)
            loss = wt * (log_s - picked)  # -w[t] log softmax(x)[t]
            if eps:
                # -sum_c w_c log softmax(x)_c = sum(w) log s - sum_c w_c shifted_c
                smooth = (log_s * wc.sum() - dot) * valid
                loss = (1 - eps) * loss + (eps / c) * smooth
            if need_grad:
                e /= s[:, None]  # softmax
                if eps:
                    e *= ((1 - eps) * wt + (eps / c) * valid * wc.sum())[:, None]
                    e -= (eps / c) * wc
                    if not valid.all():
                        e[~valid] = 0
                    e[rows, tc] -= (1 - eps) * wt
                else:
                    if w is not None or not valid.all():
                        e *= wt[:, None]
                    e[rows, tc] -= wt
                self.grad2 = e
            denom = wt.sum()
            self.tgrad2 = None
        self.denom = denom
        return _reduce_rows(loss, out_shape, reduction, denom)

    def backward(self, g):
        gx = gt = None
        if self.grad2 is not None:
            gx = _classes_back(_scale_rows(g, self.grad2, self.reduction, self.denom), self.shape)
        if self.tgrad2 is not None and self.needs_input_grad[1]:
            gt = _classes_back(_scale_rows(g, self.tgrad2, self.reduction, self.denom), self.shape)
        return gx, gt


class NLL(Function):
    """Negative log-likelihood: -w[t] * input[t] per element; 'mean' divides by sum of w[t]."""

    def forward(self, x, target, weight=None, ignore_index=-100, reduction="mean"):
        name = "nll_loss"
        x2, out_shape = _classes_last(x, name)
        m, c = x2.shape
        w = _weight_array(weight, c, x.dtype, name)
        tc, _, wt = _index_target(name, x, target, out_shape, w, ignore_index)
        rows = np.arange(m)
        self.tc, self.wt, self.shape, self.reduction = tc, wt, x.shape, reduction
        self.denom = wt.sum()
        return _reduce_rows(-wt * x2[rows, tc], out_shape, reduction, self.denom)

    def backward(self, g):
        m = len(self.tc)
        grad2 = np.zeros((m, self.shape[-1] if len(self.shape) == 1 else self.shape[1]),
                         dtype=g.dtype)  # fmt: skip
        grad2[np.arange(m), self.tc] = -self.wt
        return _classes_back(_scale_rows(g, grad2, self.reduction, self.denom), self.shape), None


class BinaryCrossEntropy(Function):
    """Element-wise -w [y log x + (1-y) log(1-x)], logs clamped at -100 as PyTorch."""

    def forward(self, x, y, weight=None):
        if x.size and (np.nanmin(x) < 0 or np.nanmax(x) > 1):
            bad = np.nanmin(x) if np.nanmin(x) < 0 else np.nanmax(x)
            raise ValueError(
                f"binary_cross_entropy: input values must be probabilities in [0, 1], found "
                f"{float(bad):g}; if the model outputs raw scores (logits) use BCEWithLogitsLoss / "
                "binary_cross_entropy_with_logits, which is also more stable"
            )
        with np.errstate(divide="ignore"):
            self.log_x = np.maximum(np.log(x), -100)
            self.log_1mx = np.maximum(np.log1p(-x), -100)
        self.x, self.y = x, y
        self.w = None if weight is None else np.asarray(weight, dtype=x.dtype)
        loss = -(y * self.log_x + (1 - y) * self.log_1mx)
        return loss * self.w if self.w is not None else loss

    def backward(self, g):
        gw = g * self.w if self.w is not None else g
        x, y = self.x, self.y
        # PyTorch's gradient, bounded where x(1 - x) underflows (not the clamped logs' gradient);
        # its bound is the float32 constant 1e-12f, kept bit-for-bit.
        bound = float(np.float32(1e-12))
        gx = gw * (x - y) / np.maximum((1 - x) * x, bound) if self.needs_input_grad[0] else None
        gy = gw * (self.log_1mx - self.log_x) if self.needs_input_grad[1] else None
        return gx, gy


class BinaryCrossEntropyWithLogits(Function):
    """-w [p y log s(x) + (1-y) log(1 - s(x))] in PyTorch's stable form, reduction fused.

    softplus(-x) = -log s(x) = max(-x, 0) + log1p(exp(-|x|)) is finite for any x; exp(-|x|) is
    kept for the backward's sigmoid. Operations run in place: temporaries cost more than math.
    """

    def forward(self, x, y, weight=None, pos_weight=None, reduction="none"):
        self.w = None if weight is None else np.asarray(weight, dtype=x.dtype)
        self.pw = None if pos_weight is None else np.asarray(pos_weight, dtype=x.dtype)
        self.x, self.y, self.reduction, self.n = x, y, reduction, x.size
        e = np.abs(x)
        np.negative(e, out=e)
        np.exp(e, out=e)
        self.e = e
        sp_neg = np.log1p(e)
        sp_neg += np.maximum(x, 0)
        sp_neg -= x  # + max(-x, 0) = max(x, 0) - x
        if self.pw is not None:
            self.sp_neg = sp_neg
            loss = (1 - y) * x + (1 + (self.pw - 1) * y) * sp_neg
        else:
            loss = sp_neg  # (1 - y) x + softplus(-x), built in place
            loss += x
            loss -= x * y
        if self.w is not None:
            loss = loss * self.w
        if reduction == "none":
            return loss
        total = loss.sum()
        return np.asarray(total / self.n if reduction == "mean" else total, dtype=x.dtype)

    def backward(self, g):
        if self.reduction == "mean":
            g = g / self.n
        gw = g * self.w if self.w is not None else g
        x, y = self.x, self.y
        gx = gy = None
        if self.needs_input_grad[0]:
            # s(x) = exp(min(x, 0)) / (1 + exp(-|x|)): 1/(1+e) for x >= 0, e/(1+e) below, exact
            # and branch-free (np.where over a random sign pattern is 4x slower).
            sig = np.minimum(x, x.dtype.type(0))
            np.exp(sig, out=sig)
            sig /= self.e + 1
            if self.pw is None:
                sig -= y
                sig *= gw
                gx = sig
            else:
                gx = gw * ((1 - y) - (1 + (self.pw - 1) * y) * (1 - sig))
        if self.needs_input_grad[1]:
            gy = gw * (-x + (self.pw - 1) * self.sp_neg if self.pw is not None else -x)
        return gx, gy


# ----------------------------------------------------------------------------- classification
def cross_entropy(
    input: Any, target: Any, weight: Any = None, size_average: bool | None = None,
    ignore_index: int = -100, reduce: bool | None = None, reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:  # fmt: skip
    """Softmax cross-entropy on logits (PyTorch `F.cross_entropy`).

    Formula, class-index target t: `l = -w[t] * log softmax(x)[t]`; 'mean' divides the sum by
    `sum w[t]` over non-ignored targets. Probability targets p: `l = -sum_c w_c p_c log softmax(x)_c`
    and 'mean' divides by the number of rows. Label smoothing ε replaces the target by
    `(1 - ε) target + ε / C`. Use it for multi-class classification on raw scores.
    Convention: PyTorch (input (N, C, d1, ...) or (C,), classes on axis 1).

    Example:
        >>> logits = dl.tensor([[0.7, 1.3, 5.1, 2.2, 1.1]])   # softmax[2] = 0.9025
        >>> round(cross_entropy(logits, np.array([2])).item(), 4)   # the notes: -log(0.90) = 0.105
        0.1025
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1], got {label_smoothing}")
    x = as_tensor(input)
    t = _array(target)
    if isinstance(target, Tensor) and np.issubdtype(t.dtype, np.floating):
        target_arg: Any = target  # probability targets can carry gradients
    else:
        target_arg = t
    w = None if weight is None else _array(weight)
    return CrossEntropy.apply(x, target_arg, weight=w, ignore_index=ignore_index,
                              label_smoothing=label_smoothing, reduction=reduction)  # fmt: skip


def softmax_cross_entropy(
    logits: Any, target: Any, reduction: str = "mean", *, weight: Any = None,
    ignore_index: int = -100, label_smoothing: float = 0.0,
) -> Tensor:  # fmt: skip
    """Fused softmax cross-entropy, `-log softmax(logits)[target]` (alias of `cross_entropy`)."""
    return cross_entropy(logits, target, weight=weight, ignore_index=ignore_index,
                         reduction=reduction, label_smoothing=label_smoothing)  # fmt: skip


def nll_loss(
    input: Any, target: Any, weight: Any = None, size_average: bool | None = None,
    ignore_index: int = -100, reduce: bool | None = None, reduction: str = "mean",
) -> Tensor:  # fmt: skip
    """Negative log-likelihood of log-probabilities (PyTorch `F.nll_loss`).

    Formula: `l = -w[t] * input[t]`; 'mean' divides the sum by `sum w[t]` over non-ignored targets.
    Pair it with `log_softmax`: `nll_loss(log_softmax(x, 1), t) == cross_entropy(x, t)`.

    Example:
        >>> log_probs = dl.log_softmax(dl.tensor([[0.7, 1.3, 5.1, 2.2, 1.1]]), dim=1)
        >>> round(nll_loss(log_probs, np.array([2])).item(), 4)   # = cross_entropy on the logits
        0.1025
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    w = None if weight is None else _array(weight)
    return NLL.apply(as_tensor(input), _array(target), weight=w, ignore_index=ignore_index,
                     reduction=reduction)  # fmt: skip


def binary_cross_entropy(
    input: Any, target: Any, weight: Any = None, size_average: bool | None = None,
    reduce: bool | None = None, reduction: str = "mean",
) -> Tensor:  # fmt: skip
    """Binary cross-entropy of probabilities (PyTorch `F.binary_cross_entropy`).

    Formula: `l = -w [y log x + (1 - y) log(1 - x)]`, each log clamped at -100 (PyTorch), so
    x = 0 or 1 gives a finite loss. Use it after a sigmoid; on raw scores prefer
    `binary_cross_entropy_with_logits` (stable, one fused op).

    Example:
        >>> p = dl.sigmoid(dl.tensor([2.0, -1.0]))
        >>> round(binary_cross_entropy(p, dl.tensor([1.0, 0.0])).item(), 4)
        0.2201
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    check_same_shape("binary_cross_entropy", input, target)
    w = None if weight is None else _array(weight)
    return reduce_loss(BinaryCrossEntropy.apply(as_tensor(input), target, weight=w), reduction)


def binary_cross_entropy_with_logits(
    input: Any, target: Any, weight: Any = None, size_average: bool | None = None,
    reduce: bool | None = None, reduction: str = "mean", pos_weight: Any = None,
) -> Tensor:  # fmt: skip
    """Sigmoid + binary cross-entropy in one stable step (PyTorch `F.binary_cross_entropy_with_logits`).

    Formula: `l = -w [p y log σ(x) + (1 - y) log(1 - σ(x))]` computed as
    `w [(1 - y) x + (1 + (p - 1) y) softplus(-x)]`, finite for any x; `pos_weight` p (one per class,
    last axis) trades recall for precision. Use it for binary and multi-label classification.

    Example:
        >>> binary_cross_entropy_with_logits(dl.tensor([1e4, -1e4]), dl.tensor([0.0, 1.0])).item()
        10000.0
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    check_same_shape("binary_cross_entropy_with_logits", input, target)
    w = None if weight is None else _array(weight)
    pw = None if pos_weight is None else _array(pos_weight)
    x = as_tensor(input)
    if not isinstance(target, Tensor):
        target = np.asarray(target, dtype=x.dtype)
    return BinaryCrossEntropyWithLogits.apply(x, target, weight=w, pos_weight=pw,
                                              reduction=reduction)  # fmt: skip


# ----------------------------------------------------------------------------- regression
def _pair(name: str, input: Any, target: Any) -> tuple[Tensor, Any]:
    check_same_shape(name, input, target)
    x = as_tensor(input)
    if not isinstance(target, Tensor):
        target = np.asarray(target, dtype=x.dtype)
    return x, target


def _reduce_weighted(
    name: str, loss: Tensor, weight: Any, reduction: str, mean_over_weights: bool = True
) -> Tensor:
    """Reduce `loss * weight`, one weight per element (PyTorch 2.13's regression `weight`).

    'mean' divides by `sum(weight)` (mse, l1) or, with `mean_over_weights=False`, by the number of
    elements (huber), as PyTorch does. A weight tensor receives gradients.
    """
    _check_reduction(reduction)
    if weight is None:
        return reduce_loss(loss, reduction)
    w = weight if isinstance(weight, Tensor) else np.asarray(weight, dtype=loss.dtype)
    if tuple(w.shape) != loss.shape:
        raise ValueError(
            f"{name}: weight shape {tuple(w.shape)} and input shape {loss.shape} differ; weights "
            "and input must have the same size (one weight per element)"
        )
    weighted = loss * w
    if reduction == "mean" and mean_over_weights:
        total = _sum(w) if isinstance(w, Tensor) else np.asarray(w.sum(), dtype=w.dtype)
        return _sum(weighted) / total
    return reduce_loss(weighted, reduction)


def mse_loss(
    input: Any, target: Any, size_average: bool | None = None, reduce: bool | None = None,
    reduction: str = "mean", weight: Any = None,
) -> Tensor:  # fmt: skip
    """Mean squared error `(x - y)^2` (PyTorch `F.mse_loss`): regression, penalises large errors.

    `weight` (the input's shape) scales each element: `w (x - y)^2`, and 'mean' divides the sum
    by `sum(w)`.

    Example:
        >>> mse_loss(dl.tensor([1.0, 2.0]), dl.tensor([0.0, 4.0])).item()   # (1 + 4) / 2
        2.5
        >>> mse_loss(dl.tensor([1.0, 2.0]), dl.tensor([0.0, 4.0]), weight=[3.0, 1.0]).item()
        1.75
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    x, y = _pair("mse_loss", input, target)
    d = x - y
    return _reduce_weighted("mse_loss", d * d, weight, reduction)


def l1_loss(
    input: Any, target: Any, size_average: bool | None = None, reduce: bool | None = None,
    reduction: str = "mean", weight: Any = None,
) -> Tensor:  # fmt: skip
    """Mean absolute error `|x - y|` (PyTorch `F.l1_loss`): regression robust to outliers.

    `weight` (the input's shape) scales each element: `w |x - y|`, and 'mean' divides the sum by
    `sum(w)`.

    Example:
        >>> l1_loss(dl.tensor([1.0, 2.0]), dl.tensor([0.0, 4.0])).item()   # (1 + 2) / 2
        1.5
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    x, y = _pair("l1_loss", input, target)
    return _reduce_weighted("l1_loss", _abs(x - y), weight, reduction)


def huber_loss(
    input: Any, target: Any, reduction: str = "mean", delta: float = 1.0, weight: Any = None
) -> Tensor:
    """Huber loss (PyTorch `F.huber_loss`): quadratic near zero, linear beyond `delta`.

    Formula: `0.5 d^2` if `|d| < delta`, else `delta (|d| - 0.5 delta)`, d = x - y. `weight` (the
    input's shape) scales each element; unlike mse and l1, PyTorch's weighted 'mean' divides by
    the number of elements, not by `sum(w)`.

    Example:
        >>> huber_loss(dl.tensor([0.5, 3.0]), dl.tensor([0.0, 0.0])).item()  # (0.125 + 2.5) / 2
        1.3125
    """
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be positive, got {delta}")
    x, y = _pair("huber_loss", input, target)
    d = x - y
    a = _abs(d)
    quad = 0.5 * d * d
    lin = delta * (a - 0.5 * delta)
    loss = where(a.data < delta, quad, lin)
    return _reduce_weighted("huber_loss", loss, weight, reduction, mean_over_weights=False)


def smooth_l1_loss(
    input: Any, target: Any, size_average: bool | None = None, reduce: bool | None = None,
    reduction: str = "mean", beta: float = 1.0,
) -> Tensor:  # fmt: skip
    """Smooth L1 loss (PyTorch `F.smooth_l1_loss`): Huber divided by beta; beta = 0 is L1.

    Formula: `0.5 d^2 / beta` if `|d| < beta`, else `|d| - 0.5 beta`.

    Example:
        >>> smooth_l1_loss(dl.tensor([0.5, 3.0]), dl.tensor([0.0, 0.0])).item()
        1.3125
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be >= 0, got {beta}")
    x, y = _pair("smooth_l1_loss", input, target)
    d = x - y
    a = _abs(d)
    if beta == 0:
        return reduce_loss(a, reduction)
    return reduce_loss(where(a.data < beta, 0.5 * d * d / beta, a - 0.5 * beta), reduction)


def kl_div(
    input: Any, target: Any, size_average: bool | None = None, reduce: bool | None = None,
    reduction: str = "mean", log_target: bool = False,
) -> Tensor:  # fmt: skip
    """Kullback-Leibler divergence (PyTorch `F.kl_div`); `input` holds log-probabilities.

    Formula: `y (log y - x)` (0 where y = 0), or `exp(y) (y - x)` with `log_target=True`.
    Reductions: 'batchmean' (sum / N, the true KL per sample; recommended), 'sum', 'mean'
    (over elements, PyTorch's default), 'none'. Use it for distillation and distribution matching.

    Example:
        >>> student, teacher = dl.tensor([[1.0, 2.0]]), dl.tensor([[2.0, 1.0]])
        >>> out = kl_div(dl.log_softmax(student, 1), dl.softmax(teacher, 1), reduction="batchmean")
        >>> round(out.item(), 4)
        0.4621
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction, (*REDUCTIONS, "batchmean"))
    x, y = _pair("kl_div", input, target)
    if log_target:
        loss = exp(y) * (y - x)
    else:
        ya = _array(y)
        positive = ya > 0
        # xlogy(y, y): the log of 1 where y = 0 keeps value and gradient 0 there.
        loss = y * log(where(positive, y, np.ones((), dtype=ya.dtype))) - y * x
    if reduction == "batchmean":
        n = x.shape[0] if x.ndim else 1
        return _sum(loss) / n
    return reduce_loss(loss, reduction)


def poisson_nll_loss(
    input: Any, target: Any, log_input: bool = True, full: bool = False,
    size_average: bool | None = None, eps: float = 1e-8, reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:  # fmt: skip
    """Poisson negative log-likelihood (PyTorch `F.poisson_nll_loss`) for count regression.

    Formula: `exp(x) - y x` with `log_input=True` (x is a log-rate), else `x - y log(x + eps)`;
    `full=True` adds Stirling's term `y log y - y + 0.5 log(2 π y)` for y > 1.

    Example:
        >>> log_rate, counts = dl.tensor([0.0, 1.0]), dl.tensor([1.0, 2.0])
        >>> round(poisson_nll_loss(log_rate, counts).item(), 4)   # (1 + (e - 2)) / 2
        0.8591
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    x, y = _pair("poisson_nll_loss", input, target)
    loss = exp(x) - y * x if log_input else x - y * log(x + eps)
    if full:
        ya = np.asarray(_array(y))
        safe = np.where(ya > 1, ya, 1.0)
        stirling = safe * np.log(safe) - safe + 0.5 * np.log(2 * np.pi * safe)
        loss = loss + np.where(ya > 1, stirling, 0.0).astype(x.dtype)
    return reduce_loss(loss, reduction)


def gaussian_nll_loss(
    input: Any, target: Any, var: Any, full: bool = False, eps: float = 1e-6,
    reduction: str = "mean",
) -> Tensor:  # fmt: skip
    """Gaussian negative log-likelihood (PyTorch `F.gaussian_nll_loss`): regression with a
    predicted variance.

    Formula: `0.5 (log max(var, eps) + (x - y)^2 / max(var, eps))` (+ `0.5 log 2π` if full). As in
    PyTorch the clamp does not block the gradient of var. `var` has the input's shape, or one
    dimension fewer / a size-1 dimension (one variance shared across it).

    Example:
        >>> mu, y, var = dl.tensor([1.0, 2.0]), dl.tensor([1.0, 4.0]), dl.tensor([1.0, 1.0])
        >>> gaussian_nll_loss(mu, y, var).item()   # (0 + 0.5 * 2^2) / 2
        1.0
    """
    _check_reduction(reduction)
    x, y = _pair("gaussian_nll_loss", input, target)
    if isinstance(var, (int, float)):
        if var < 0:
            raise ValueError(f"gaussian_nll_loss: var must be non-negative, got {var}")
        var = np.full(x.shape, var, dtype=x.dtype)
    v = as_tensor(var) if isinstance(var, Tensor) else as_tensor(np.asarray(var, dtype=x.dtype))
    if np.any(v.data < 0):
        raise ValueError("gaussian_nll_loss: var has negative entries; variances must be >= 0")
    if v.shape != x.shape:
        if x.shape[:-1] == v.shape:
            v = unsqueeze(v, -1)
        elif not (v.ndim == x.ndim and sum(b for a, b in zip(x.shape, v.shape) if a != b) == 1):
            raise ValueError(
                f"gaussian_nll_loss: var shape {v.shape} does not fit input shape {x.shape}; use "
                f"{x.shape}, {x.shape[:-1]} or a size-1 dimension in place of one input dimension"
            )
    # Clamp the value but let the gradient through unchanged, as PyTorch's no_grad clamp_.
    v = v + (np.maximum(v.data, eps) - v.data)
    d = x - y
    loss = 0.5 * (log(v) + d * d / v)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return reduce_loss(loss, reduction)


# ----------------------------------------------------------------------------- margins
def _labels(name: str, target: Any, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    t = np.asarray(_array(target))
    if t.shape != shape:
        raise ValueError(f"{name}: expected target of shape {shape}, got {t.shape}")
    return t.astype(dtype)


def hinge_embedding_loss(
    input: Any, target: Any, margin: float = 1.0, size_average: bool | None = None,
    reduce: bool | None = None, reduction: str = "mean",
) -> Tensor:  # fmt: skip
    """Hinge embedding loss (PyTorch `F.hinge_embedding_loss`) for targets in {1, -1}.

    Formula: `x` where y = 1, `max(0, margin - x)` where y = -1 (x is usually a distance).

    Example:
        >>> distances = dl.tensor([0.3, 0.4, 2.0])
        >>> round(hinge_embedding_loss(distances, np.array([1, -1, -1])).item(), 4)  # (.3+.6+0)/3
        0.3
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    x = as_tensor(input)
    y = _labels("hinge_embedding_loss", target, x.shape, x.dtype)
    zero = np.zeros((), dtype=x.dtype)
    margin_part = where(y != 1, clip(margin - x, 0, None), zero)
    self_part = where(y != -1, x, zero)
    return reduce_loss(margin_part + self_part, reduction)


def multi_margin_loss(
    input: Any, target: Any, p: int = 1, margin: float = 1.0, weight: Any = None,
    size_average: bool | None = None, reduce: bool | None = None, reduction: str = "mean",
) -> Tensor:  # fmt: skip
    """Multi-class hinge loss (PyTorch `F.multi_margin_loss`), an SVM-style classifier loss.

    Formula: `l = sum_{j != y} w[y] max(0, margin - x[y] + x[j])^p / C`, p in {1, 2}.

    Example:
        >>> scores = dl.tensor([[0.1, 0.2, 0.4, 0.8]])
        >>> round(multi_margin_loss(scores, np.array([3])).item(), 4)   # (0.3 + 0.4 + 0.6) / 4
        0.325
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    if p not in (1, 2):
        raise ValueError(f"multi_margin_loss: p must be 1 or 2, got {p}")
    x = as_tensor(input)
    if x.ndim not in (1, 2):
        raise ValueError(f"multi_margin_loss: input must be (N, C) or (C,), got {x.shape}")
    x2 = x if x.ndim == 2 else reshape(x, 1, -1)
    n, c = x2.shape
    t = np.asarray(_array(target)).reshape(-1)
    if t.shape != (n,):
        raise ValueError(
            f"multi_margin_loss: input shape {x.shape} expects target of shape "
            f"{(n,) if x.ndim == 2 else ()}, got {np.shape(_array(target))}"
        )
    check_class_indices(t, c)
    rows = np.arange(n)
    picked = reshape(getitem(x2, (rows, t)), n, 1)
    z = clip(margin - picked + x2, 0, None)
    h = z if p == 1 else z * z
    others = np.ones((n, c), dtype=x.dtype)
    others[rows, t] = 0
    if weight is not None:
        others = others * np.asarray(_array(weight), dtype=x.dtype)[t][:, None]
    loss = _sum(h * others, axis=1) / c
    if x.ndim == 1:
        loss = reshape(loss, ())
    return reduce_loss(loss, reduction)


def soft_margin_loss(
    input: Any, target: Any, size_average: bool | None = None, reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:  # fmt: skip
    """Two-class logistic loss `log(1 + exp(-y x))` for y in {1, -1} (PyTorch `F.soft_margin_loss`).

    Example:
        >>> soft_margin_loss(dl.tensor([0.0]), np.array([1.0])).item()   # log 2
        0.6931...
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    x, y = _pair("soft_margin_loss", input, target)
    z = -y * x
    # log1p(exp(z)) written stably: max(z, 0) + log1p(exp(-|z|)).
    return reduce_loss(clip(z, 0, None) + log1p(exp(-_abs(z))), reduction)


def cosine_embedding_loss(
    input1: Any, input2: Any, target: Any, margin: float = 0.0, size_average: bool | None = None,
    reduce: bool | None = None, reduction: str = "mean",
) -> Tensor:  # fmt: skip
    """Cosine embedding loss (PyTorch `F.cosine_embedding_loss`) for similar/dissimilar pairs.

    Formula: `1 - cos(x1, x2)` where y = 1, `max(0, cos(x1, x2) - margin)` where y = -1;
    cos uses `sqrt((|x1|^2 + 1e-12)(|x2|^2 + 1e-12))` as PyTorch.

    Example:
        >>> a, b = dl.tensor([[1.0, 0.0], [1.0, 0.0]]), dl.tensor([[1.0, 1.0], [0.0, 1.0]])
        >>> round(cosine_embedding_loss(a, b, np.array([1, -1])).item(), 4)  # (1 - cos 45°) / 2
        0.1464
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    a, b = as_tensor(input1), as_tensor(input2)
    if a.shape != b.shape or a.ndim not in (1, 2):
        raise ValueError(
            f"cosine_embedding_loss: input1 {a.shape} and input2 {b.shape} must both be (N, D) or (D,)"
        )
    axis = a.ndim - 1
    y = _labels("cosine_embedding_loss", target, a.shape[:-1], a.dtype)
    dot = _sum(a * b, axis=axis)
    m1 = _sum(a * a, axis=axis) + 1e-12
    m2 = _sum(b * b, axis=axis) + 1e-12
    cos = dot / sqrt(m1 * m2)
    zero = np.zeros((), dtype=a.dtype)
    loss = where(y == 1, 1 - cos, zero) + where(y == -1, clip(cos - margin, 0, None), zero)
    return reduce_loss(loss, reduction)


def margin_ranking_loss(
    input1: Any, input2: Any, target: Any, margin: float = 0.0, size_average: bool | None = None,
    reduce: bool | None = None, reduction: str = "mean",
) -> Tensor:  # fmt: skip
    """Margin ranking loss `max(0, -y (x1 - x2) + margin)` (PyTorch `F.margin_ranking_loss`):
    learn to rank x1 above x2 when y = 1 and below when y = -1.

    Example:
        >>> s_pos, s_neg = dl.tensor([2.0, 1.0]), dl.tensor([1.0, 1.0])
        >>> margin_ranking_loss(s_pos, s_neg, np.ones(2), margin=0.5).item()   # (0 + 0.5) / 2
        0.25
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    a, b = as_tensor(input1), as_tensor(input2)
    if a.shape != b.shape:
        raise ValueError(f"margin_ranking_loss: input1 {a.shape} and input2 {b.shape} differ")
    y = _labels("margin_ranking_loss", target, a.shape, a.dtype)
    return reduce_loss(clip(-y * (a - b) + margin, 0, None), reduction)


def _pairwise_distance(a: Tensor, b: Tensor, p: float, eps: float) -> Tensor:
    d = a - b + eps  # PyTorch adds eps to the difference, keeping the norm differentiable at 0
    axis = a.ndim - 1
    if p == 2:
        return sqrt(_sum(d * d, axis=axis))
    if p == 1:
        return _sum(_abs(d), axis=axis)
    return pow(_sum(pow(_abs(d), p), axis=axis), 1.0 / p)


def triplet_margin_loss(
    anchor: Any, positive: Any, negative: Any, margin: float = 1.0, p: float = 2.0,
    eps: float = 1e-6, swap: bool = False, size_average: bool | None = None,
    reduce: bool | None = None, reduction: str = "mean",
) -> Tensor:  # fmt: skip
    """Triplet margin loss (PyTorch `F.triplet_margin_loss`) for metric learning.

    Formula: `max(d(a, p) - d(a, n) + margin, 0)` with `d(u, v) = ||u - v + eps||_p`; `swap` uses
    `min(d(a, n), d(p, n))` as the negative distance.

    Example:
        >>> anchor, pos, neg = dl.tensor([[0.0, 0.0]]), dl.tensor([[3.0, 4.0]]), dl.tensor([[0.0, 1.0]])
        >>> round(triplet_margin_loss(anchor, pos, neg, margin=1.0).item(), 4)   # 5 - 1 + 1
        5.0
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    a, pos, neg = as_tensor(anchor), as_tensor(positive), as_tensor(negative)
    if not (a.shape == pos.shape == neg.shape) or a.ndim not in (1, 2):
        raise ValueError(
            f"triplet_margin_loss: anchor {a.shape}, positive {pos.shape} and negative "
            f"{neg.shape} must share one shape, (N, D) or (D,)"
        )
    d_pos = _pairwise_distance(a, pos, p, eps)
    d_neg = _pairwise_distance(a, neg, p, eps)
    if swap:
        d_neg = minimum(d_neg, _pairwise_distance(pos, neg, p, eps))
    return reduce_loss(clip(margin + d_pos - d_neg, 0, None), reduction)
