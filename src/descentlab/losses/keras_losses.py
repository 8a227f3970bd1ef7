"""Losses with Keras names, argument order and semantics (`keras.losses`, Keras 3).

Functions are called `fn(y_true, y_pred, ...)` (target first!) and return one value per sample:
the loss averaged (or summed, as Keras does) over the last axis. Classes are called
`loss(y_true, y_pred, sample_weight=None)` and reduce with Keras's `reduction`:
'sum_over_batch_size' (default: sum / number of values), 'sum', 'mean', 'mean_with_sample_weight'
(sum / sum of weights) or 'none' / None.

Keras conventions kept exactly (verified against Keras 3 with the torch backend):
probabilities are clipped to [1e-7, 1 - 1e-7] before logs, `from_logits=False` by default,
`label_smoothing` mixes targets with the uniform distribution, `axis` picks the class axis,
`sparse_categorical_crossentropy(ignore_class=...)` drops those targets from the mean.

Example:
    >>> import numpy as np, descentlab as dl
    >>> loss = CategoricalCrossentropy(from_logits=True)
    >>> one_hot_labels = np.array([[0.0, 0.0, 1.0, 0.0, 0.0]])
    >>> logits = dl.tensor([[0.7, 1.3, 5.1, 2.2, 1.1]])
    >>> round(loss(one_hot_labels, logits).item(), 4)           # y_true first, as in Keras
    0.1025
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from descentlab.losses.base import Loss, to_per_sample
from descentlab.ops import loss as F
from descentlab.ops.activation import log_softmax, sigmoid, softmax, softplus
from descentlab.ops.math import abs, clip, log, maximum, minimum, sqrt, where
from descentlab.ops.reduce import max, mean, sum
from descentlab.ops.shape import permute, squeeze, unsqueeze
from descentlab.tensor import Tensor, as_tensor

__all__ = [
    "EPSILON", "KerasLoss", "mean_squared_error", "mean_absolute_error",
    "mean_absolute_percentage_error", "mean_squared_logarithmic_error", "huber", "log_cosh",
    "binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy",
    "binary_focal_crossentropy", "categorical_focal_crossentropy", "kl_divergence", "poisson",
    "hinge", "squared_hinge", "categorical_hinge", "cosine_similarity", "dice",
    "MeanSquaredError", "MeanAbsoluteError", "MeanAbsolutePercentageError",
    "MeanSquaredLogarithmicError", "Huber", "LogCosh", "BinaryCrossentropy",
    "CategoricalCrossentropy", "SparseCategoricalCrossentropy", "BinaryFocalCrossentropy",
    "CategoricalFocalCrossentropy", "KLDivergence", "Poisson", "Hinge", "SquaredHinge",
    "CategoricalHinge", "CosineSimilarity", "Dice",
]  # fmt: skip

EPSILON = 1e-7  # keras.backend.epsilon()
# Keras computes its log(2) constant in float32 (`ops.log(2.0)`) whatever the loss dtype.
_KERAS_LOG2 = float(np.float32(math.log(2.0)))
KERAS_REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None)


# ----------------------------------------------------------------------------- helpers
def _pred(y_pred: Any) -> Tensor:
    x = as_tensor(y_pred)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float32)
    return x


def _true(y_true: Any, like: Tensor) -> Any:
    """y_true cast to y_pred's dtype (Keras casts); a float Tensor keeps its graph."""
    if isinstance(y_true, Tensor):
        return y_true if y_true.dtype == like.dtype else y_true.astype(like.dtype)
    return np.asarray(y_true, dtype=like.dtype)


def _shape(x: Any) -> tuple[int, ...]:
    return tuple(np.shape(x.data if isinstance(x, Tensor) else x))


def _squeeze_last(x: Any) -> Any:
    return squeeze(x, -1) if isinstance(x, Tensor) else np.squeeze(x, -1)


def _expand_last(x: Any) -> Any:
    return unsqueeze(x, -1) if isinstance(x, Tensor) else np.expand_dims(x, -1)


def squeeze_or_expand_to_same_rank(x1: Any, x2: Any, expand_rank_1: bool = True):
    """Keras's rank fix: when ranks differ by one and the extra last dim is 1, match them."""
    r1, r2 = len(_shape(x1)), len(_shape(x2))
    if r1 == r2 + 1 and _shape(x1)[-1] == 1:
        if r2 == 1 and expand_rank_1:
            x2 = _expand_last(x2)
        else:
            x1 = _squeeze_last(x1)
    if r2 == r1 + 1 and _shape(x2)[-1] == 1:
        if r1 == 1 and expand_rank_1:
            x1 = _expand_last(x1)
        else:
            x2 = _squeeze_last(x2)
    return x1, x2


def _check_same_shape(name: str, y_true: Any, y_pred: Any) -> None:
    if _shape(y_true) != _shape(y_pred):
        raise ValueError(
            f"{name}: y_true shape {_shape(y_true)} and y_pred shape {_shape(y_pred)} differ; "
            "they must match (e.g. one-hot labels (N, C) against predictions (N, C))"
        )


def _smooth(y_true: Any, label_smoothing: float, num_classes: float) -> Any:
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1], got {label_smoothing}")
    return y_true * (1.0 - label_smoothing) + label_smoothing / num_classes


# ----------------------------------------------------------------------------- regression
def mean_squared_error(y_true: Any, y_pred: Any) -> Tensor:
    """Keras MSE: `mean((y_true - y_pred)^2, axis=-1)`, one value per sample (regression).

    Example:
        >>> mean_squared_error(np.array([[0.0, 4.0]]), dl.tensor([[1.0, 2.0]])).tolist()
        [2.5]
    """
    y_pred = _pred(y_pred)
    y_true, y_pred = squeeze_or_expand_to_same_rank(_true(y_true, y_pred), y_pred)
    _check_same_shape("mean_squared_error", y_true, y_pred)
    d = y_true - y_pred
    return mean(d * d, axis=-1)


def mean_absolute_error(y_true: Any, y_pred: Any) -> Tensor:
    """Keras MAE: `mean(|y_true - y_pred|, axis=-1)` (regression robust to outliers).

    Example:
        >>> mean_absolute_error(np.array([[0.0, 4.0]]), dl.tensor([[1.0, 2.0]])).tolist()
        [1.5]
    """
    y_pred = _pred(y_pred)
    y_true, y_pred = squeeze_or_expand_to_same_rank(_true(y_true, y_pred), y_pred)
    _check_same_shape("mean_absolute_error", y_true, y_pred)
    return mean(abs(y_true - y_pred), axis=-1)


def mean_absolute_percentage_error(y_true: Any, y_pred: Any) -> Tensor:
    """Keras MAPE: `100 mean(|(y_true - y_pred) / max(|y_true|, 1e-7)|, axis=-1)`.

    When to use: regression judged by relative error, with targets away from 0.

    Example:
        >>> mean_absolute_percentage_error(np.array([[2.0]]), dl.tensor([[1.0]])).tolist()
        [50.0]
    """
    y_pred = _pred(y_pred)
    y_true, y_pred = squeeze_or_expand_to_same_rank(_true(y_true, y_pred), y_pred)
    _check_same_shape("mean_absolute_percentage_error", y_true, y_pred)
    diff = abs((y_true - y_pred) / maximum(abs(as_tensor(y_true)), EPSILON))
    return 100.0 * mean(diff, axis=-1)


def mean_squared_logarithmic_error(y_true: Any, y_pred: Any) -> Tensor:
    """Keras MSLE: `mean((log(max(y_pred, eps) + 1) - log(max(y_true, eps) + 1))^2, axis=-1)`.

    When to use: positive targets spanning orders of magnitude (relative errors).

    Example:
        >>> mean_squared_logarithmic_error(np.array([[1.0]]), dl.tensor([[1.0]])).tolist()
        [0.0]
    """
    y_pred = _pred(y_pred)
    y_true, y_pred = squeeze_or_expand_to_same_rank(_true(y_true, y_pred), y_pred)
    _check_same_shape("mean_squared_logarithmic_error", y_true, y_pred)
    d = log(maximum(y_pred, EPSILON) + 1.0) - log(maximum(as_tensor(y_true), EPSILON) + 1.0)
    return mean(d * d, axis=-1)


def huber(y_true: Any, y_pred: Any, delta: float = 1.0) -> Tensor:
    """Keras Huber: `mean(0.5 d^2 if |d| <= delta else delta |d| - 0.5 delta^2, axis=-1)`.

    When to use: regression with outliers; quadratic near the target, linear far from it.

    Example:
        >>> huber(np.array([[0.0, 0.0]]), dl.tensor([[0.5, 3.0]])).tolist()
        [1.3125]
    """
    y_pred = _pred(y_pred)
    y_true, y_pred = squeeze_or_expand_to_same_rank(_true(y_true, y_pred), y_pred)
    _check_same_shape("huber", y_true, y_pred)
    d = y_pred - y_true
    a = abs(d)
    return mean(where(a.data <= delta, 0.5 * d * d, delta * a - 0.5 * delta * delta), axis=-1)


def log_cosh(y_true: Any, y_pred: Any) -> Tensor:
    """Keras log-cosh: `mean(log(cosh(y_pred - y_true)), axis=-1)`, as `x + softplus(-2x) - log 2`.

    When to use: regression; like MSE for small errors and like MAE for large ones, smooth.

    Example:
        >>> log_cosh(np.array([[0.0]]), dl.tensor([[0.0]])).tolist()
        [0.0]
    """
    y_pred = _pred(y_pred)
    y_true, y_pred = squeeze_or_expand_to_same_rank(_true(y_true, y_pred), y_pred)
    _check_same_shape("log_cosh", y_true, y_pred)
    x = y_pred - y_true
    return mean(x + softplus(x * -2.0) - _KERAS_LOG2, axis=-1)


# ----------------------------------------------------------------------------- probabilistic
def binary_crossentropy(
    y_true: Any, y_pred: Any, from_logits: bool = False, label_smoothing: float = 0.0,
    axis: int = -1,
) -> Tensor:  # fmt: skip
    """Keras binary cross-entropy, averaged over `axis` (binary and multi-label classification).

    Formula: `mean(-[y log p + (1 - y) log(1 - p)], axis)` with p clipped to [1e-7, 1 - 1e-7], or
    the stable logits form with `from_logits=True`; smoothing uses `y (1 - ε) + 0.5 ε`.

    Example:
        >>> binary_crossentropy(np.array([[1.0, 0.0]]), dl.tensor([[0.9, 0.2]])).tolist()
        [0.1642...]
    """
    y_pred = _pred(y_pred)
    y_true = _true(y_true, y_pred)
    _check_same_shape("binary_crossentropy", y_true, y_pred)
    if label_smoothing:
        y_true = _smooth(y_true, label_smoothing, 2.0)
    if from_logits:
        elementwise = F.binary_cross_entropy_with_logits(y_pred, y_true, reduction="none")
    else:
        p = clip(y_pred, EPSILON, 1.0 - EPSILON)
        elementwise = F.binary_cross_entropy(p, y_true, reduction="none")
    return mean(elementwise, axis=axis)


def _classes_to_axis1(x: Any, axis: int) -> Any:
    """Move the class axis to position 1 (PyTorch layout) for the fused cross-entropy."""
    ndim = len(_shape(x))
    axis = axis % ndim
    if ndim == 1 or axis == 1:
        return x
    order = [0, axis] + [i for i in range(1, ndim) if i != axis]
    return permute(x, *order) if isinstance(x, Tensor) else np.transpose(x, order)


def categorical_crossentropy(
    y_true: Any, y_pred: Any, from_logits: bool = False, label_smoothing: float = 0.0,
    axis: int = -1,
) -> Tensor:  # fmt: skip
    """Keras categorical cross-entropy for one-hot (or soft) targets; one value per sample.

    Formula: `-sum(y_true * log p, axis)` where p = y_pred / sum(y_pred) clipped to
    [1e-7, 1 - 1e-7], or p = softmax(y_pred) computed as log-softmax with `from_logits=True`
    (fused, stable). Smoothing: `y (1 - ε) + ε / C`. Use it for multi-class classification.

    Example:
        >>> categorical_crossentropy(np.array([[0, 0, 1, 0, 0]]),
        ...                          dl.tensor([[0.7, 1.3, 5.1, 2.2, 1.1]]), from_logits=True)
        tensor([0.10254...])
    """
    y_pred = _pred(y_pred)
    y_true = _true(y_true, y_pred)
    _check_same_shape("categorical_crossentropy", y_true, y_pred)
    if label_smoothing:
        y_true = _smooth(y_true, label_smoothing, float(_shape(y_pred)[axis]))
    if from_logits:
        # log-softmax then -sum(y * logp): the fused kernel when classes are axis 1 of a matrix.
        if y_pred.ndim == 2 and axis % 2 == 1:
            return F.cross_entropy(y_pred, y_true, reduction="none")
        return -sum(y_true * log_softmax(y_pred, axis=axis), axis=axis)
    p = clip(y_pred / sum(y_pred, axis=axis, keepdims=True), EPSILON, 1.0 - EPSILON)
    return -sum(y_true * log(p), axis=axis)


def _sparse_cce(
    y_true: Any, y_pred: Any, from_logits: bool, ignore_class: int | None, axis: int
) -> tuple[Tensor, np.ndarray | None]:
    y_pred = _pred(y_pred)
    t = np.asarray(y_true.data if isinstance(y_true, Tensor) else y_true)
    if t.ndim == y_pred.ndim and t.shape[axis] == 1:
        t = np.squeeze(t, axis)
    expected = tuple(d for i, d in enumerate(y_pred.shape) if i != axis % y_pred.ndim)
    if t.shape != expected:
        raise ValueError(
            f"sparse_categorical_crossentropy: y_pred shape {y_pred.shape} expects integer labels "
            f"of shape {expected} (or {(*expected, 1)}), got y_true shape {t.shape}"
        )
    if np.issubdtype(t.dtype, np.floating) and np.any(t != np.round(t)):
        raise ValueError("sparse_categorical_crossentropy: y_true must hold integer labels")
    t = t.astype(np.int64)
    mask = None
    if ignore_class is not None:
        mask = t != ignore_class
        t = np.where(mask, t, 0)
    if y_pred.ndim > 2:  # classes to axis 1 for the PyTorch-layout kernels
        x = _classes_to_axis1(y_pred, axis)
    else:
        x = permute(y_pred, 1, 0) if y_pred.ndim == 2 and axis % 2 == 0 else y_pred
    if from_logits:
        res = F.cross_entropy(x, t, reduction="none")
    else:
        p = clip(x / sum(x, axis=1 if x.ndim > 1 else 0, keepdims=True), EPSILON, 1.0 - EPSILON)
        res = F.nll_loss(log(p), t, reduction="none")
    if mask is not None:
        res = where(mask, res, np.zeros((), dtype=res.dtype))
    return res, mask


def sparse_categorical_crossentropy(
    y_true: Any, y_pred: Any, from_logits: bool = False, ignore_class: int | None = None,
    axis: int = -1,
) -> Tensor:  # fmt: skip
    """Keras sparse categorical cross-entropy: integer labels, one value per sample.

    Formula: `-log p[y_true]`, p = y_pred / sum(y_pred) clipped to [1e-7, 1 - 1e-7], or
    log-softmax(y_pred) with `from_logits=True` (fused). Labels equal to `ignore_class` give 0 (and
    the class `SparseCategoricalCrossentropy` leaves them out of the mean). Use it for multi-class
    classification with integer labels.

    Example:
        >>> sparse_categorical_crossentropy(np.array([2]), dl.tensor([[0.7, 1.3, 5.1, 2.2, 1.1]]),
        ...                                 from_logits=True)
        tensor([0.10254...])
    """
    return _sparse_cce(y_true, y_pred, from_logits, ignore_class, axis)[0]


def binary_focal_crossentropy(
    y_true: Any, y_pred: Any, apply_class_balancing: bool = False, alpha: float = 0.25,
    gamma: float = 2.0, from_logits: bool = False, label_smoothing: float = 0.0, axis: int = -1,
) -> Tensor:  # fmt: skip
    """Keras binary focal cross-entropy (Lin et al. 2017): BCE scaled by `(1 - p_t)^gamma`.

    Formula: `mean((1 - p_t)^γ · bce, axis)`, `p_t = y p + (1 - y)(1 - p)`; with class balancing
    each term is also weighted by `α y + (1 - α)(1 - y)`. Use it for imbalanced binary problems.

    Example:
        >>> out = binary_focal_crossentropy(np.array([[1.0]]), dl.tensor([[0.9]]), gamma=2.0)
        >>> round(out.item(), 6)   # (1 - 0.9)^2 * -log(0.9)
        0.001054
    """
    y_pred = _pred(y_pred)
    y_true = _true(y_true, y_pred)
    _check_same_shape("binary_focal_crossentropy", y_true, y_pred)
    if label_smoothing:
        y_true = _smooth(y_true, label_smoothing, 2.0)
    if from_logits:
        y_pred = sigmoid(y_pred)
    bce = F.binary_cross_entropy(clip(y_pred, EPSILON, 1.0 - EPSILON), y_true, reduction="none")
    p_t = y_true * y_pred + (1 - y_true) * (1 - y_pred)
    focal = (1.0 - p_t) ** gamma * bce
    if apply_class_balancing:
        focal = (y_true * alpha + (1 - y_true) * (1 - alpha)) * focal
    return mean(focal, axis=axis)


def categorical_focal_crossentropy(
    y_true: Any, y_pred: Any, alpha: float = 0.25, gamma: float = 2.0, from_logits: bool = False,
    label_smoothing: float = 0.0, axis: int = -1,
) -> Tensor:  # fmt: skip
    """Keras categorical focal cross-entropy: `sum(α (1 - p)^γ · (-y log p), axis)`.

    p = y_pred / sum(y_pred) (softmax first with `from_logits=True`), clipped to [1e-7, 1 - 1e-7].
    Use it for imbalanced multi-class problems without class weights.

    Example:
        >>> out = categorical_focal_crossentropy(np.array([[0, 1.0]]), dl.tensor([[0.3, 0.7]]))
        >>> round(out.item(), 6)   # 0.25 * 0.3^2 * -log(0.7)
        0.008025
    """
    y_pred = _pred(y_pred)
    y_true = _true(y_true, y_pred)
    _check_same_shape("categorical_focal_crossentropy", y_true, y_pred)
    if label_smoothing:
        y_true = _smooth(y_true, label_smoothing, float(_shape(y_pred)[axis]))
    if from_logits:
        y_pred = softmax(y_pred, axis=axis)
    p = clip(y_pred / sum(y_pred, axis=axis, keepdims=True), EPSILON, 1.0 - EPSILON)
    cce = -y_true * log(p)
    return sum((1.0 - p) ** gamma * alpha * cce, axis=axis)


def kl_divergence(y_true: Any, y_pred: Any) -> Tensor:
    """Keras KL divergence `sum(y log(y / p), axis=-1)`, both clipped to [1e-7, 1].

    Note the argument order and that y_pred holds probabilities (PyTorch's `KLDivLoss` takes
    log-probabilities first). Use it to match a target distribution.

    Example:
        >>> kl_divergence(np.array([[0.5, 0.5]]), dl.tensor([[0.5, 0.5]])).tolist()
        [0.0]
    """
    y_pred = _pred(y_pred)
    y_true = _true(y_true, y_pred)
    _check_same_shape("kl_divergence", y_true, y_pred)
    yt = clip(as_tensor(y_true), EPSILON, 1.0)
    yp = clip(y_pred, EPSILON, 1.0)
    return sum(yt * log(yt / yp), axis=-1)


def poisson(y_true: Any, y_pred: Any) -> Tensor:
    """Keras Poisson loss `mean(y_pred - y_true log(y_pred + 1e-7), axis=-1)` (count regression).

    Example:
        >>> round(poisson(np.array([[1.0]]), dl.tensor([[1.0]])).item(), 4)   # 1 - log(1)
        1.0
    """
    y_pred = _pred(y_pred)
    y_true = _true(y_true, y_pred)
    _check_same_shape("poisson", y_true, y_pred)
    return mean(y_pred - y_true * log(y_pred + EPSILON), axis=-1)


# ----------------------------------------------------------------------------- hinge, similarity
def _hinge_labels(y_true: Any) -> Any:
    """Keras converts {0, 1} labels to {-1, 1}; other labels are used as given."""
    t = y_true.data if isinstance(y_true, Tensor) else y_true
    if np.all((t == 0) | (t == 1)):
        return 2.0 * y_true - 1.0
    return y_true


def hinge(y_true: Any, y_pred: Any) -> Tensor:
    """Keras hinge `mean(max(1 - y_true y_pred, 0), axis=-1)`; labels {0, 1} become {-1, 1}.

    Use it for maximum-margin binary classification on raw scores.

    Example:
        >>> hinge(np.array([[1.0, 0.0]]), dl.tensor([[0.5, -2.0]])).tolist()
        [0.25]
    """
    y_pred = _pred(y_pred)
    y_true = _hinge_labels(_true(y_true, y_pred))
    _check_same_shape("hinge", y_true, y_pred)
    return mean(maximum(1.0 - y_true * y_pred, 0.0), axis=-1)


def squared_hinge(y_true: Any, y_pred: Any) -> Tensor:
    """Keras squared hinge `mean(max(1 - y_true y_pred, 0)^2, axis=-1)`; {0, 1} labels -> {-1, 1}.

    When to use: maximum-margin binary classification that punishes large violations more.

    Example:
        >>> squared_hinge(np.array([[1.0]]), dl.tensor([[0.5]])).tolist()
        [0.25]
    """
    y_pred = _pred(y_pred)
    y_true = _hinge_labels(_true(y_true, y_pred))
    _check_same_shape("squared_hinge", y_true, y_pred)
    h = maximum(1.0 - y_true * y_pred, 0.0)
    return mean(h * h, axis=-1)


def categorical_hinge(y_true: Any, y_pred: Any) -> Tensor:
    """Keras categorical hinge `max(max((1 - y) p) - sum(y p) + 1, 0)` for one-hot targets.

    When to use: multi-class maximum-margin classification on raw scores.

    Example:
        >>> categorical_hinge(np.array([[0.0, 1.0]]), dl.tensor([[0.2, 0.9]])).tolist()
        [0.3...]
    """
    y_pred = _pred(y_pred)
    y_true = _true(y_true, y_pred)
    _check_same_shape("categorical_hinge", y_true, y_pred)
    pos = sum(y_true * y_pred, axis=-1)
    neg = max((1.0 - y_true) * y_pred, axis=-1)
    return maximum(neg - pos + 1.0, 0.0)


def _l2_normalize(x: Any, axis: int) -> Tensor:
    # Keras: x * min(rsqrt(sum(x^2)), 1 / eps), so a zero vector stays zero.
    x = as_tensor(x)
    inv = 1.0 / sqrt(sum(x * x, axis=axis, keepdims=True))
    return x * minimum(inv, 1.0 / EPSILON)


def cosine_similarity(y_true: Any, y_pred: Any, axis: int = -1) -> Tensor:
    """Keras cosine similarity loss `-sum(l2_normalize(y_true) * l2_normalize(y_pred), axis)`.

    Values lie in [-1, 1]; -1 means the vectors point the same way. Use it for embeddings.

    Example:
        >>> cosine_similarity(np.array([[1.0, 0.0]]), dl.tensor([[2.0, 0.0]])).tolist()
        [-1.0]
    """
    y_pred = _pred(y_pred)
    y_true, y_pred = squeeze_or_expand_to_same_rank(_true(y_true, y_pred), y_pred)
    _check_same_shape("cosine_similarity", y_true, y_pred)
    return -sum(_l2_normalize(y_true, axis) * _l2_normalize(y_pred, axis), axis=axis)


def dice(y_true: Any, y_pred: Any, axis: Any = None) -> Tensor:
    """Keras Dice loss `1 - 2 sum(y p) / (sum(y) + sum(p) + 1e-7)` over `axis` (None: everything).

    Use it for segmentation masks with rare foreground.

    Example:
        >>> round(dice(np.array([[1.0, 0.0]]), dl.tensor([[0.5, 0.5]])).item(), 4)  # 1 - 1 / 2
        0.5
    """
    y_pred = _pred(y_pred)
    y_true = _true(y_true, y_pred)
    _check_same_shape("dice", y_true, y_pred)
    inter = sum(y_true * y_pred, axis=axis)
    return 1 - 2.0 * inter / (sum(as_tensor(y_true), axis=axis) + sum(y_pred, axis=axis) + EPSILON)


# ----------------------------------------------------------------------------- classes
def _merge_mask(sample_weight: Any, mask: np.ndarray | None, reduction: Any, dtype: np.dtype):
    """Keras `apply_mask`: masked entries weigh 0, the rest total/valid under mean reductions."""
    if mask is None:
        return sample_weight
    if reduction in ("mean", "sum_over_batch_size"):
        valid = mask.sum()
        scale = mask.size / valid if valid else 0.0
        float_mask = np.where(mask, scale, 0.0).astype(dtype)
    else:
        float_mask = mask.astype(dtype)
    if sample_weight is None:
        return float_mask
    float_mask, sample_weight = squeeze_or_expand_to_same_rank(float_mask, sample_weight)
    return _per_sample_weights(sample_weight, float_mask.shape) * float_mask


def _per_sample_weights(sample_weight: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Weights (N,) for values (N, T, ...) get trailing axes, one weight per sample (Keras would
    raise a broadcasting error there; per-element weights of the values' shape work in both)."""
    sw_shape = np.shape(sample_weight)
    if len(sw_shape) < len(shape) and tuple(shape[: len(sw_shape)]) == sw_shape:
        return np.reshape(sample_weight, sw_shape + (1,) * (len(shape) - len(sw_shape)))
    return sample_weight


def reduce_weighted_values(
    values: Tensor, sample_weight: Any = None, mask: np.ndarray | None = None,
    reduction: Any = "sum_over_batch_size",
) -> Tensor:  # fmt: skip
    """Keras's loss reduction: weight (and mask) the values, then sum or average them."""
    if reduction not in KERAS_REDUCTIONS:
        raise ValueError(
            f"reduction must be one of {KERAS_REDUCTIONS} (Keras convention), got {reduction!r}"
        )
    if sample_weight is not None:
        sw = sample_weight.data if isinstance(sample_weight, Tensor) else sample_weight
        sample_weight = np.asarray(sw, dtype=values.dtype)
    sample_weight = _merge_mask(sample_weight, mask, reduction, values.dtype)
    if sample_weight is not None:
        values, sample_weight = squeeze_or_expand_to_same_rank(values, sample_weight)
        sample_weight = _per_sample_weights(sample_weight, values.shape)
        try:
            np.broadcast_shapes(values.shape, np.shape(sample_weight))
        except ValueError:
            raise ValueError(
                f"sample_weight shape {np.shape(sample_weight)} does not fit the per-sample loss "
                f"shape {values.shape}; pass one weight per sample"
            ) from None
        values = values * sample_weight
    if reduction in (None, "none") or values.ndim == 0 or values.shape == (0,):
        return values
    total = sum(values)
    if reduction == "sum":
        return total
    if reduction == "mean_with_sample_weight" and sample_weight is not None:
        divisor = float(np.sum(sample_weight))
    else:
        divisor = float(values.size)
    return total / divisor if divisor else total * 0.0  # Keras divide_no_nan


class KerasLoss(Loss):
    """Base of the Keras-named losses: `loss(y_true, y_pred, sample_weight=None)`.

    Subclasses set `fn` (the Keras function) and `_params` (its keyword arguments with defaults);
    `call(y_true, y_pred)` gives the unreduced values as Keras's `Loss.call`.
    """

    convention = "keras"
    fn: ClassVar[Any] = None
    _params: ClassVar[dict[str, Any]] = {}
    _default_name: ClassVar[str] = ""

    def __init__(self, *args: Any, reduction: Any = "sum_over_batch_size", name: str | None = None,
                 dtype: Any = None, **kwargs: Any) -> None:  # fmt: skip
        super().__init__()
        if reduction not in KERAS_REDUCTIONS:
            raise ValueError(
                f"{type(self).__name__}: reduction must be one of {KERAS_REDUCTIONS} "
                f"(Keras convention), got {reduction!r}"
            )
        names = list(self._params)
        if len(args) > len(names):
            raise TypeError(
                f"{type(self).__name__} takes at most {len(names)} positional arguments"
            )
        config = dict(self._params)
        config.update(zip(names, args))
        for key, value in kwargs.items():
            if key not in config:
                raise TypeError(
                    f"{type(self).__name__} got an unexpected argument {key!r}; it accepts "
                    f"{', '.join(names + ['reduction', 'name', 'dtype'])}"
                )
            config[key] = value
        self.fn_kwargs = config
        for key, value in config.items():
            setattr(self, key, value)
        self.reduction = reduction
        self.name = name or self._default_name
        self.dtype = dtype

    def call(self, y_true: Any, y_pred: Any) -> Tensor:
        """The unreduced loss values (Keras `Loss.call`)."""
        if self.dtype is not None:
            y_pred = as_tensor(y_pred).astype(self.dtype)
        y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
        return type(self).fn(y_true, y_pred, **self.fn_kwargs)

    def _mask(self, y_true: Any, y_pred: Any) -> np.ndarray | None:
        return None

    def forward(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> Tensor:
        values = self.call(y_true, y_pred)
        mask = self._mask(y_true, y_pred)
        return reduce_weighted_values(values, sample_weight, mask, self.reduction)

    def per_sample(self, y_pred: Any, y_true: Any, *extra: Any) -> Tensor:
        """Loss per sample (N,): `call(y_true, y_pred)` averaged over any non-batch axes left."""
        return to_per_sample(self.call(y_true, y_pred))

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "reduction": self.reduction, **self.fn_kwargs}

    def extra_repr(self) -> str:
        changed = {k: v for k, v in self.fn_kwargs.items() if self._params[k] != v}
        if self.reduction != "sum_over_batch_size":
            changed["reduction"] = self.reduction
        return ", ".join(f"{k}={v!r}" for k, v in changed.items())


def _keras_class(name: str, fn: Any, default_name: str, params: dict[str, Any], doc: str) -> type:
    cls = type(name, (KerasLoss,), {
        "fn": staticmethod(fn), "_params": params, "_default_name": default_name, "__doc__": doc,
        "__module__": __name__,
    })  # fmt: skip
    return cls


_FROM_LOGITS = {"from_logits": False, "label_smoothing": 0.0, "axis": -1}

MeanSquaredError = _keras_class(
    "MeanSquaredError",
    mean_squared_error,
    "mean_squared_error",
    {},
    """
    Mean squared error, Keras convention: `loss(y_true, y_pred, sample_weight=None)`.

    Formula: `mean((y_true - y_pred)^2)` over the last axis, then the reduction (default: mean over
    the batch). When to use: regression.

    Example:
        >>> MeanSquaredError()(np.array([[0.0, 4.0]]), dl.tensor([[1.0, 2.0]])).item()
        2.5
    """,
)
MeanAbsoluteError = _keras_class("MeanAbsoluteError", mean_absolute_error, "mean_absolute_error",
                                 {}, """
    Mean absolute error, Keras convention: `mean(|y_true - y_pred|)` over the last axis.

    When to use: regression robust to outliers.

    Example:
        >>> MeanAbsoluteError()(np.array([[0.0, 4.0]]), dl.tensor([[1.0, 2.0]])).item()
        1.5
    """)  # fmt: skip
MeanAbsolutePercentageError = _keras_class(
    "MeanAbsolutePercentageError", mean_absolute_percentage_error,
    "mean_absolute_percentage_error", {}, """
    Mean absolute percentage error, Keras: `100 mean(|y - p| / max(|y|, 1e-7))` over the last axis.

    When to use: regression judged by relative error (targets away from 0).

    Example:
        >>> MeanAbsolutePercentageError()(np.array([[2.0]]), dl.tensor([[1.0]])).item()
        50.0
    """)  # fmt: skip
MeanSquaredLogarithmicError = _keras_class(
    "MeanSquaredLogarithmicError", mean_squared_logarithmic_error,
    "mean_squared_logarithmic_error", {}, """
    Mean squared logarithmic error, Keras: `mean((log(p + 1) - log(y + 1))^2)` (values >= 1e-7).

    When to use: positive targets over several orders of magnitude.

    Example:
        >>> MeanSquaredLogarithmicError()(np.array([[1.0]]), dl.tensor([[1.0]])).item()
        0.0
    """)  # fmt: skip
Huber = _keras_class(
    "Huber",
    huber,
    "huber_loss",
    {"delta": 1.0},
    """
    Huber loss, Keras convention: `0.5 d^2` if `|d| <= delta` else `delta |d| - 0.5 delta^2`.

    When to use: regression with outliers. Example:
        >>> Huber(delta=1.0)(np.array([[0.0, 0.0]]), dl.tensor([[0.5, 3.0]])).item()
        1.3125
    """,
)
LogCosh = _keras_class(
    "LogCosh",
    log_cosh,
    "log_cosh",
    {},
    """
    Log-cosh loss, Keras convention: `mean(log(cosh(y_pred - y_true)))` over the last axis.

    When to use: smooth robust regression. Example:
        >>> LogCosh()(np.array([[0.0]]), dl.tensor([[0.0]])).item()
        0.0
    """,
)
BinaryCrossentropy = _keras_class("BinaryCrossentropy", binary_crossentropy,
                                  "binary_crossentropy", dict(_FROM_LOGITS), """
    Binary cross-entropy, Keras convention (`from_logits=False`: y_pred are probabilities, clipped
    to [1e-7, 1 - 1e-7]). Formula: `-[y log p + (1 - y) log(1 - p)]`, averaged over `axis`.

    When to use: binary or multi-label classification. Example:
        >>> BinaryCrossentropy()(np.array([[1.0], [0.0]]), dl.tensor([[0.9], [0.2]])).item()
        0.1642...
    """)  # fmt: skip
CategoricalCrossentropy = _keras_class("CategoricalCrossentropy", categorical_crossentropy,
                                       "categorical_crossentropy", dict(_FROM_LOGITS), """
    Categorical cross-entropy for one-hot targets, Keras convention (`from_logits=False`: y_pred
    are probabilities). Formula: `-sum(y_true log p)` over `axis`, smoothing `y (1 - ε) + ε / C`.

    When to use: multi-class classification with one-hot labels. Example:
        >>> CategoricalCrossentropy(from_logits=True)(np.array([[0, 0, 1, 0, 0]]),
        ...                                           dl.tensor([[0.7, 1.3, 5.1, 2.2, 1.1]])).item()
        0.10254...
    """)  # fmt: skip


class SparseCategoricalCrossentropy(KerasLoss):
    """Sparse categorical cross-entropy for integer labels, Keras convention.

    Formula: `-log p[y_true]` (p probabilities, clipped; or log-softmax with `from_logits=True`).
    Targets equal to `ignore_class` are masked: they count 0 and are left out of the mean.
    When to use: multi-class classification with integer labels (the usual MNIST setup).

    Example:
        >>> SparseCategoricalCrossentropy(from_logits=True)(np.array([2]),
        ...                                                 dl.tensor([[0.7, 1.3, 5.1, 2.2, 1.1]]))
        tensor(0.10254...)
    """

    fn = staticmethod(sparse_categorical_crossentropy)
    _params: ClassVar[dict[str, Any]] = {"from_logits": False, "ignore_class": None, "axis": -1}
    _default_name = "sparse_categorical_crossentropy"

    def call(self, y_true: Any, y_pred: Any) -> Tensor:
        return _sparse_cce(y_true, y_pred, **self.fn_kwargs)[0]

    def _mask(self, y_true: Any, y_pred: Any) -> np.ndarray | None:
        if self.fn_kwargs["ignore_class"] is None:
            return None
        return _sparse_cce(y_true, as_tensor(_pred(y_pred).data), **self.fn_kwargs)[1]


BinaryFocalCrossentropy = _keras_class(
    "BinaryFocalCrossentropy", binary_focal_crossentropy, "binary_focal_crossentropy",
    {"apply_class_balancing": False, "alpha": 0.25, "gamma": 2.0, **_FROM_LOGITS}, """
    Binary focal cross-entropy, Keras convention: BCE scaled by `(1 - p_t)^gamma` (optionally
    class-balanced by alpha), so easy examples count less.

    When to use: heavily imbalanced binary detection. Example:
        >>> loss = BinaryFocalCrossentropy(gamma=2.0)
        >>> round(loss(np.array([[1.0]]), dl.tensor([[0.9]])).item(), 6)   # 0.1^2 * -log(0.9)
        0.001054
    """)  # fmt: skip
CategoricalFocalCrossentropy = _keras_class(
    "CategoricalFocalCrossentropy", categorical_focal_crossentropy,
    "categorical_focal_crossentropy", {"alpha": 0.25, "gamma": 2.0, **_FROM_LOGITS}, """
    Categorical focal cross-entropy, Keras convention: `sum(alpha (1 - p)^gamma (-y log p))`.

    When to use: imbalanced multi-class problems. Example:
        >>> loss = CategoricalFocalCrossentropy()
        >>> round(loss(np.array([[0.0, 1.0]]), dl.tensor([[0.3, 0.7]])).item(), 6)
        0.008025
    """)  # fmt: skip
KLDivergence = _keras_class(
    "KLDivergence",
    kl_divergence,
    "kl_divergence",
    {},
    """
    Kullback-Leibler divergence, Keras convention: `sum(y log(y / p))`, y_pred are probabilities.

    When to use: matching a target distribution. Example:
        >>> KLDivergence()(np.array([[0.5, 0.5]]), dl.tensor([[0.5, 0.5]])).item()
        0.0
    """,
)
Poisson = _keras_class(
    "Poisson",
    poisson,
    "poisson",
    {},
    """
    Poisson loss, Keras convention: `mean(y_pred - y_true log(y_pred + 1e-7))`.

    When to use: count regression (y_pred a positive rate). Example:
        >>> round(Poisson()(np.array([[1.0]]), dl.tensor([[1.0]])).item(), 4)
        1.0
    """,
)
Hinge = _keras_class(
    "Hinge",
    hinge,
    "hinge",
    {},
    """
    Hinge loss, Keras convention: `mean(max(1 - y_true y_pred, 0))`, labels {0, 1} -> {-1, 1}.

    When to use: maximum-margin binary classification. Example:
        >>> Hinge()(np.array([[1.0, 0.0]]), dl.tensor([[0.5, -2.0]])).item()
        0.25
    """,
)
SquaredHinge = _keras_class(
    "SquaredHinge",
    squared_hinge,
    "squared_hinge",
    {},
    """
    Squared hinge loss, Keras convention: `mean(max(1 - y_true y_pred, 0)^2)`.

    When to use: maximum-margin binary classification punishing large violations more. Example:
        >>> SquaredHinge()(np.array([[1.0]]), dl.tensor([[0.5]])).item()
        0.25
    """,
)
CategoricalHinge = _keras_class(
    "CategoricalHinge",
    categorical_hinge,
    "categorical_hinge",
    {},
    """
    Categorical hinge, Keras convention: `max(max((1 - y) p) - sum(y p) + 1, 0)` (one-hot y).

    When to use: multi-class maximum-margin classification. Example:
        >>> CategoricalHinge()(np.array([[0.0, 1.0]]), dl.tensor([[0.2, 0.9]])).item()
        0.3...
    """,
)
CosineSimilarity = _keras_class("CosineSimilarity", cosine_similarity, "cosine_similarity",
                                {"axis": -1}, """
    Cosine similarity loss, Keras convention: `-sum(normalize(y_true) * normalize(y_pred))`.

    When to use: embeddings compared by direction. Example:
        >>> CosineSimilarity()(np.array([[1.0, 0.0]]), dl.tensor([[2.0, 0.0]])).item()
        -1.0
    """)  # fmt: skip
Dice = _keras_class(
    "Dice",
    dice,
    "dice",
    {"axis": None},
    """
    Dice loss, Keras convention: `1 - 2 sum(y p) / (sum(y) + sum(p) + 1e-7)` over `axis` (None:
    the whole batch at once, as Keras). `per_sample` computes one Dice value per sample.

    When to use: segmentation with rare foreground. Example:
        >>> round(Dice()(np.array([[1.0, 0.0]]), dl.tensor([[0.5, 0.5]])).item(), 4)
        0.5
    """,
)


def _dice_per_sample(self: KerasLoss, y_pred: Any, y_true: Any, *extra: Any) -> Tensor:
    """Dice per sample (N,): over all non-batch axes (Keras's axis=None pools the whole batch)."""
    y_pred = _pred(y_pred)
    axis = self.fn_kwargs["axis"]
    if axis is None:
        axis = tuple(range(1, y_pred.ndim))
    return to_per_sample(dice(y_true, y_pred, axis=axis))


Dice.per_sample = _dice_per_sample  # type: ignore[attr-defined]
