"""Streaming metrics: accumulate over batches with `update`, read with `result`, clear with `reset`.

Every metric takes `update(y_pred, y_true, sample_weight=None)` — predictions first, like a
PyTorch loss `(input, target)`; note that Keras' `update_state(y_true, y_pred)` is the other way
round. Accumulating batch by batch gives exactly the one-shot value over all samples (AUC and
R2 included), and results match `sklearn.metrics`. Metrics are also available by their Keras
names through `get('acc')`, `get('mae')`, ...

Example:
    >>> import numpy as np
    >>> acc = get("accuracy")
    >>> acc.update(np.array([[0.9, 0.1], [0.2, 0.8]]), np.array([0, 0]))
    >>> acc.update(np.array([[0.3, 0.7]]), np.array([1]))
    >>> round(acc.result(), 4), acc.name
    (0.6667, 'accuracy')
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = [
    "Metric",
    "Mean",
    "MeanMetricWrapper",
    "KerasMetric",
    "Accuracy",
    "BinaryAccuracy",
    "CategoricalAccuracy",
    "SparseCategoricalAccuracy",
    "TopKCategoricalAccuracy",
    "SparseTopKCategoricalAccuracy",
    "ConfusionMatrix",
    "Precision",
    "Recall",
    "F1Score",
    "AUC",
    "MeanAbsoluteError",
    "MeanSquaredError",
    "RootMeanSquaredError",
    "R2Score",
    "get",
    "available_metrics",
]


# --- input handling -------------------------------------------------------------------------


def _np(x: Any, what: str) -> np.ndarray:
    """Arrays, Tensors (their .data) and lists as np.ndarray."""
    if isinstance(x, np.ndarray):
        return x
    data = getattr(x, "data", None)
    if isinstance(data, np.ndarray):
        return data
    try:
        return np.asarray(x)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{what}: cannot convert {type(x).__name__} to an array ({err})") from err


def _weights(sample_weight: Any, n: int, owner: str) -> np.ndarray | None:
    if sample_weight is None:
        return None
    w = _np(sample_weight, f"{owner} sample_weight").astype(np.float64)
    if w.ndim == 0:
        return np.full(n, float(w))
    w = w.reshape(len(w), -1)
    if w.shape != (n, 1):
        raise ValueError(
            f"{owner}: sample_weight has shape {np.shape(sample_weight)}, expected ({n},) — one "
            "weight per sample"
        )
    w = w[:, 0]
    if not np.all(np.isfinite(w)) or (w < 0).any():
        raise ValueError(f"{owner}: sample_weight must be finite and >= 0")
    return w


def _batch(y_pred: Any, y_true: Any, owner: str) -> tuple[np.ndarray, np.ndarray]:
    p, t = _np(y_pred, f"{owner} y_pred"), _np(y_true, f"{owner} y_true")
    if p.ndim == 0 or t.ndim == 0:
        raise ValueError(f"{owner}: y_pred and y_true need a sample axis, got scalars")
    if len(p) != len(t):
        raise ValueError(
            f"{owner}: y_pred has {len(p)} samples but y_true has {len(t)}; they must match"
        )
    return p, t


def _aligned(p: np.ndarray, t: np.ndarray, owner: str) -> np.ndarray:
    """y_true reshaped to y_pred's shape when they differ only by size-1 axes (N vs N x 1).

    Silent broadcasting of (N,) against (N, 1) would compare every pair of samples; we refuse it.
    """
    if t.shape == p.shape:
        return t
    if t.size == p.size:
        return t.reshape(p.shape)
    raise ValueError(
        f"{owner}: y_pred shape {p.shape} and y_true shape {t.shape} do not match; regression "
        "metrics compare element by element"
    )


def _int_labels(t: np.ndarray, owner: str) -> np.ndarray:
    """Class indices from y_true: one-hot rows -> argmax, else integer-valued labels."""
    if t.ndim >= 2 and t.shape[-1] > 1:
        return t.argmax(axis=-1).reshape(-1)
    flat = t.reshape(len(t), -1)[:, 0] if t.ndim > 1 else t
    if flat.dtype.kind == "f":
        if not np.all(flat == np.round(flat)):
            raise ValueError(
                f"{owner}: y_true must hold integer class labels (or one-hot rows), got "
                "non-integer values"
            )
    elif flat.dtype.kind not in "iub":
        raise TypeError(f"{owner}: y_true labels must be numeric, got dtype {flat.dtype}")
    labels = flat.astype(np.int64)
    if labels.size and labels.min() < 0:
        raise ValueError(f"{owner}: class labels must be >= 0, found {int(labels.min())}")
    return labels


# --- base classes ---------------------------------------------------------------------------


class Metric:
    """Base class: `reset()`, `update(y_pred, y_true, sample_weight=None)`, `result()`.

    Calling a metric updates it and returns the running result (Keras convention).
    """

    default_name = "metric"

    def __init__(self, name: str | None = None) -> None:
        self.name = name or self.default_name
        self.reset()

    def reset(self) -> None:
        raise NotImplementedError

    def update(self, y_pred: Any, y_true: Any, sample_weight: Any = None) -> None:
        raise NotImplementedError

    def result(self) -> Any:
        raise NotImplementedError

    def __call__(self, y_pred: Any, y_true: Any, sample_weight: Any = None) -> Any:
        self.update(y_pred, y_true, sample_weight)
        return self.result()

    # Keras' method names, in Keras' argument order (y_true first), for code written for Keras.
    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Keras spelling of `update`: note the Keras order, targets first."""
        self.update(y_pred, y_true, sample_weight)

    def reset_state(self) -> None:
        """Keras spelling of `reset`."""
        self.reset()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class KerasMetric(Metric):
    """Adapter: a Keras-style metric object (`update_state(y_true, y_pred, sample_weight)`,
    `reset_state()`, `result()`), such as a `keras.metrics` instance, used as a descentlab Metric.

    `fit(..., metrics=[keras.metrics.SparseCategoricalAccuracy()])` wraps it in this adapter; the
    result is converted to a Python float (or an array for a vector result).
    """

    def __init__(self, metric: Any, name: str | None = None) -> None:
        self.metric = metric
        super().__init__(name or str(getattr(metric, "name", type(metric).__name__)))

    def reset(self) -> None:
        self.metric.reset_state()

    def update(self, y_pred: Any, y_true: Any, sample_weight: Any = None) -> None:
        self.metric.update_state(y_true, y_pred, sample_weight=sample_weight)

    def result(self) -> Any:
        value = self.metric.result()
        if hasattr(value, "detach"):  # a torch tensor (Keras on the torch backend)
            value = value.detach().cpu().numpy()
        arr = np.asarray(value, dtype=np.float64)
        return float(arr) if arr.ndim == 0 else arr


class Mean(Metric):
    """Weighted running mean of values: result = sum(w * v) / sum(w) (NaN before any update).

    Example:
        >>> m = Mean(); m.update(np.array([1.0, 3.0])); m.update(np.array([5.0])); m.result()
        3.0
    """

    default_name = "mean"

    def reset(self) -> None:
        self.total = 0.0
        self.count = 0.0

    def update(self, values: Any, y_true: Any = None, sample_weight: Any = None) -> None:  # type: ignore[override]
        v = _np(values, f"{self.name} values").astype(np.float64).reshape(-1)
        w = _weights(sample_weight, len(v), self.name)
        if w is None:
            self.total += float(v.sum())
            self.count += float(v.size)
        else:
            self.total += float((v * w).sum())
            self.count += float(w.sum())

    def result(self) -> float:
        return self.total / self.count if self.count > 0 else float("nan")

    def update_state(self, values: Any, sample_weight: Any = None) -> None:  # type: ignore[override]
        """Keras spelling: `Mean().update_state(values, sample_weight)`."""
        self.update(values, None, sample_weight)


class MeanMetricWrapper(Metric):
    """Mean over samples of a per-sample function fn(y_pred, y_true) -> (N,) values.

    A function returning one number per batch counts as that value for every sample of the
    batch (a mean over batches weighted by batch size). Predictions come first, as in
    descentlab's losses; a function whose first two parameters are named ``y_true, y_pred``
    (Keras' signature), or that carries ``convention = "keras"``, is called fn(y_true, y_pred).

    Example:
        >>> m = MeanMetricWrapper(lambda p, t: (p == t).astype(float), name="exact")
        >>> m(np.array([1, 2, 3]), np.array([1, 0, 3]))
        0.6666666666666666
    """

    def __init__(
        self, fn: Callable[[np.ndarray, np.ndarray], Any] | None = None, name: str | None = None
    ) -> None:
        if fn is not None:
            self.fn = fn
        self.keras_order = fn is not None and _keras_order(fn)
        super().__init__(name or getattr(fn, "__name__", None))

    def values(self, y_pred: np.ndarray, y_true: np.ndarray) -> np.ndarray:
        if self.keras_order:
            return _np(self.fn(y_true, y_pred), self.name)
        return _np(self.fn(y_pred, y_true), self.name)

    def reset(self) -> None:
        self.total = 0.0
        self.count = 0.0

    def update(self, y_pred: Any, y_true: Any, sample_weight: Any = None) -> None:
        p, t = _batch(y_pred, y_true, self.name)
        v = self.values(p, t).astype(np.float64)
        if v.ndim == 0:  # a function that already averages its batch
            v = np.full(len(p), float(v))
        v = v.reshape(len(p), -1).mean(axis=1)
        w = _weights(sample_weight, len(p), self.name)
        if w is None:
            self.total += float(v.sum())
            self.count += float(len(v))
        else:
            self.total += float((v * w).sum())
            self.count += float(w.sum())

    def result(self) -> float:
        return self.total / self.count if self.count > 0 else float("nan")


def _keras_order(fn: Callable[..., Any]) -> bool:
    """True for fn(y_true, y_pred): marked convention="keras", or so named in its signature."""
    if getattr(fn, "convention", "") == "keras":
        return True
    try:
        names = [p.name for p in inspect.signature(fn).parameters.values()][:2]
    except (TypeError, ValueError):  # builtins without a signature
        return False
    return names == ["y_true", "y_pred"]


# --- accuracy -------------------------------------------------------------------------------


class BinaryAccuracy(MeanMetricWrapper):
    """Fraction of (y_pred > threshold) == y_true; averaged over the last axis for multi-label.

    Use threshold=0.0 when the model outputs logits instead of probabilities (Keras convention).

    Example:
        >>> BinaryAccuracy()(np.array([0.2, 0.7, 0.6]), np.array([0, 1, 0]))
        0.6666666666666666
    """

    default_name = "binary_accuracy"

    def __init__(self, threshold: float = 0.5, name: str | None = None) -> None:
        self.threshold = float(threshold)
        super().__init__(None, name)

    def values(self, y_pred: np.ndarray, y_true: np.ndarray) -> np.ndarray:
        t = _aligned(y_pred, y_true, self.name)
        pred = y_pred > self.threshold
        truth = t > 0.5 if t.dtype.kind == "f" else t.astype(bool)
        return pred == truth


class CategoricalAccuracy(MeanMetricWrapper):
    """Fraction of argmax(y_pred) == argmax(y_true) with one-hot y_true.

    Example:
        >>> CategoricalAccuracy()(np.array([[0.1, 0.9], [0.8, 0.2]]), np.array([[0, 1], [0, 1]]))
        0.5
    """

    default_name = "categorical_accuracy"

    def values(self, y_pred: np.ndarray, y_true: np.ndarray) -> np.ndarray:
        if y_true.shape != y_pred.shape:
            raise ValueError(
                f"{self.name}: y_true must be one-hot with y_pred's shape {y_pred.shape}, got "
                f"{y_true.shape}; for integer labels use SparseCategoricalAccuracy"
            )
        return y_pred.argmax(axis=-1) == y_true.argmax(axis=-1)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    """Fraction of argmax(y_pred) == y_true with integer labels y_true.

    Example:
        >>> SparseCategoricalAccuracy()(np.array([[0.1, 0.9], [0.8, 0.2]]), np.array([1, 1]))
        0.5
    """

    default_name = "sparse_categorical_accuracy"

    def values(self, y_pred: np.ndarray, y_true: np.ndarray) -> np.ndarray:
        if y_pred.ndim < 2:
            raise ValueError(
                f"{self.name}: y_pred must hold one score per class (N, C), got shape {y_pred.shape}"
            )
        labels = _int_labels(y_true, self.name) if y_true.ndim <= 2 else y_true
        return y_pred.argmax(axis=-1).reshape(labels.shape) == labels


class Accuracy(Metric):
    """Keras 'accuracy': picks binary, categorical or sparse categorical from the shapes it sees.

    Rule (Keras `compile`): y_pred with last axis 1 (or 1-D) -> BinaryAccuracy(threshold);
    y_true of lower rank than y_pred, or with last axis 1 -> SparseCategoricalAccuracy;
    else CategoricalAccuracy. Integer-typed 1-D y_pred (predicted labels) is compared exactly.
    The choice is made on the first update and kept.

    Example:
        >>> Accuracy()(np.array([[0.2, 0.8], [0.6, 0.4]]), np.array([1, 1]))
        0.5
    """

    default_name = "accuracy"

    def __init__(self, threshold: float = 0.5, name: str | None = None) -> None:
        self.threshold = threshold
        super().__init__(name)

    def reset(self) -> None:
        self.mode: str | None = None
        self._impl: MeanMetricWrapper | None = None

    def _choose(self, p: np.ndarray, t: np.ndarray) -> MeanMetricWrapper:
        if p.ndim == 1 and p.dtype.kind in "iub":
            self.mode = "exact"
            return MeanMetricWrapper(
                lambda a, b: a == _aligned(a, b, self.name).astype(a.dtype), self.name
            )
        if p.ndim == 1 or p.shape[-1] == 1:
            self.mode = "binary"
            return BinaryAccuracy(self.threshold, self.name)
        if t.ndim < p.ndim or t.shape[-1] == 1:
            self.mode = "sparse_categorical"
            return SparseCategoricalAccuracy(self.name)
        self.mode = "categorical"
        return CategoricalAccuracy(self.name)

    def update(self, y_pred: Any, y_true: Any, sample_weight: Any = None) -> None:
        p, t = _batch(y_pred, y_true, self.name)
        if self._impl is None:
            self._impl = self._choose(p, t)
        self._impl.update(p, t, sample_weight)

    def result(self) -> float:
        return float("nan") if self._impl is None else self._impl.result()


class TopKCategoricalAccuracy(MeanMetricWrapper):
    """Fraction of samples whose true class is among the k highest scores.

    A class is in the top k when fewer than k classes score strictly higher (ties count as hits,
    like `tf.math.in_top_k`). y_true may be one-hot or integer labels.

    Example:
        >>> TopKCategoricalAccuracy(k=2)(np.array([[0.5, 0.3, 0.2]]), np.array([[0, 1, 0]]))
        1.0
    """

    default_name = "top_k_categorical_accuracy"
    sparse: bool | None = None  # None: decide from the shapes

    def __init__(self, k: int = 5, name: str | None = None) -> None:
        if int(k) < 1:
            raise ValueError(f"{type(self).__name__}: k must be >= 1, got {k}")
        self.k = int(k)
        super().__init__(None, name)

    def values(self, y_pred: np.ndarray, y_true: np.ndarray) -> np.ndarray:
        if y_pred.ndim != 2:
            raise ValueError(f"{self.name}: y_pred must have shape (N, C), got {y_pred.shape}")
        sparse = self.sparse
        if sparse is None:
            sparse = y_true.shape != y_pred.shape
        labels = _int_labels(y_true, self.name) if sparse else y_true.argmax(axis=-1)
        if labels.size and labels.max() >= y_pred.shape[1]:
            raise ValueError(
                f"{self.name}: label {int(labels.max())} is outside [0, {y_pred.shape[1]}) for "
                f"{y_pred.shape[1]} classes"
            )
        target = y_pred[np.arange(len(labels)), labels]
        return (y_pred > target[:, None]).sum(axis=1) < self.k


class SparseTopKCategoricalAccuracy(TopKCategoricalAccuracy):
    """Top-k accuracy with integer labels y_true.

    Example:
        >>> SparseTopKCategoricalAccuracy(k=1)(np.array([[0.5, 0.3, 0.2]]), np.array([1]))
        0.0
    """

    default_name = "sparse_top_k_categorical_accuracy"
    sparse = True


# --- confusion-matrix based metrics ---------------------------------------------------------


class ConfusionMatrix(Metric):
    """Streaming confusion matrix C[i, j] = (weighted) count of samples of true class i predicted j.

    Rows are true classes, columns predictions (scikit-learn convention). y_pred may be scores
    (N, C) -> argmax, probabilities (N,) / (N, 1) -> (p > threshold), or integer labels; y_true
    integer labels or one-hot rows. The matrix grows to the largest class seen unless
    `num_classes` fixes its size.

    Example:
        >>> ConfusionMatrix()(np.array([1, 0, 1]), np.array([1, 1, 0])).tolist()
        [[0.0, 1.0], [1.0, 1.0]]
    """

    default_name = "confusion_matrix"

    def __init__(
        self, num_classes: int | None = None, threshold: float = 0.5, name: str | None = None
    ) -> None:
        if num_classes is not None and int(num_classes) < 1:
            raise ValueError(f"ConfusionMatrix: num_classes must be >= 1, got {num_classes}")
        self.num_classes = None if num_classes is None else int(num_classes)
        self.threshold = float(threshold)
        super().__init__(name)

    def reset(self) -> None:
        self.matrix = np.zeros((self.num_classes or 0,) * 2, dtype=np.float64)

    def _pred_labels(self, p: np.ndarray) -> tuple[np.ndarray, int]:
        if p.ndim >= 2 and p.shape[-1] > 1:
            return p.argmax(axis=-1).reshape(-1), p.shape[-1]
        flat = p.reshape(len(p), -1)[:, 0] if p.ndim > 1 else p
        if flat.dtype.kind in "iub":
            labels = flat.astype(np.int64)
            if labels.size and labels.min() < 0:
                raise ValueError(f"{self.name}: predicted labels must be >= 0")
            return labels, 0
        return (flat > self.threshold).astype(np.int64), 2

    def update(self, y_pred: Any, y_true: Any, sample_weight: Any = None) -> None:
        p, t = _batch(y_pred, y_true, self.name)
        pred, width = self._pred_labels(p)
        true = _int_labels(t, self.name)
        if len(pred) != len(true):
            raise ValueError(
                f"{self.name}: got {len(pred)} predictions for {len(true)} labels (shapes "
                f"{p.shape} and {t.shape})"
            )
        top = max(
            width, int(pred.max()) + 1 if pred.size else 0, int(true.max()) + 1 if true.size else 0
        )
        size = len(self.matrix)
        if self.num_classes is not None:
            if top > self.num_classes:
                raise ValueError(
                    f"{self.name}: class {top - 1} is outside [0, {self.num_classes}) for "
                    f"num_classes={self.num_classes}"
                )
        elif top > size:
            grown = np.zeros((top, top))
            grown[:size, :size] = self.matrix
            self.matrix = grown
        k = len(self.matrix)
        w = _weights(sample_weight, len(true), self.name)
        counts = np.bincount(true * k + pred, weights=w, minlength=k * k)
        self.matrix += counts.reshape(k, k)

    def result(self) -> np.ndarray:
        return self.matrix.copy()


def _prf(matrix: np.ndarray, kind: str, average: str, pos_label: int) -> float:
    """Precision / recall / F1 from a confusion matrix (scikit-learn definitions, 0 for 0/0)."""
    tp = np.diag(matrix)
    pred_count = matrix.sum(axis=0)
    true_count = matrix.sum(axis=1)
    fp, fn = pred_count - tp, true_count - tp

    def score(tp: Any, fp: Any, fn: Any) -> Any:
        if kind == "precision":
            num, den = tp, tp + fp
        elif kind == "recall":
            num, den = tp, tp + fn
        else:
            num, den = 2 * tp, 2 * tp + fp + fn
        num, den = np.asarray(num, dtype=np.float64), np.asarray(den, dtype=np.float64)
        return np.divide(num, den, out=np.zeros_like(num), where=den > 0)

    if average == "binary":
        if len(matrix) > 2:
            raise ValueError(
                f"average='binary' needs 2 classes but {len(matrix)} were seen; use "
                "average='macro', 'micro' or 'weighted'"
            )
        if pos_label >= len(matrix):
            return 0.0
        return float(score(tp[pos_label], fp[pos_label], fn[pos_label]))
    if average == "micro":
        return float(score(tp.sum(), fp.sum(), fn.sum()))
    per_class = score(tp, fp, fn)
    present = (pred_count + true_count) > 0  # classes in y_true or y_pred, as sklearn averages
    if not present.any():
        return 0.0
    if average == "macro":
        return float(per_class[present].mean())
    support = true_count
    if support.sum() == 0:
        return 0.0
    return float((per_class * support).sum() / support.sum())


class _PRF(Metric):
    kind = "precision"
    averages = ("auto", "binary", "macro", "micro", "weighted")

    def __init__(
        self,
        average: str = "auto",
        num_classes: int | None = None,
        threshold: float = 0.5,
        pos_label: int = 1,
        name: str | None = None,
    ) -> None:
        if average not in self.averages:
            raise ValueError(
                f"{type(self).__name__}: average must be one of {self.averages}, got {average!r}"
            )
        self.average = average
        self.pos_label = int(pos_label)
        self._cm = ConfusionMatrix(num_classes, threshold)
        super().__init__(name)

    def reset(self) -> None:
        self._cm.reset()

    def update(self, y_pred: Any, y_true: Any, sample_weight: Any = None) -> None:
        self._cm.update(y_pred, y_true, sample_weight)

    def result(self) -> float:
        m = self._cm.matrix
        average = self.average
        if average == "auto":
            average = "binary" if len(m) <= 2 else "macro"
        return _prf(m, self.kind, average, self.pos_label)


class Precision(_PRF):
    """Precision tp / (tp + fp): of the samples predicted positive, the fraction that are.

    `average`: 'binary' (class `pos_label`), 'macro' (unweighted mean over classes present in
    y_true or y_pred), 'micro' (global counts), 'weighted' (mean weighted by support), or
    'auto' (binary for two classes, else macro). 0/0 counts as 0 (scikit-learn's zero_division=0).
    Probabilities (N,) / (N, 1) are thresholded at `threshold`; scores (N, C) are argmax'ed.

    Example:
        >>> Precision()(np.array([0.9, 0.8, 0.1]), np.array([1, 0, 0]))
        0.5
    """

    default_name = "precision"
    kind = "precision"


class Recall(_PRF):
    """Recall tp / (tp + fn): of the truly positive samples, the fraction found.

    Same arguments as `Precision`.

    Example:
        >>> Recall()(np.array([0.9, 0.1, 0.1]), np.array([1, 1, 0]))
        0.5
    """

    default_name = "recall"
    kind = "recall"


class F1Score(_PRF):
    """F1 = 2 tp / (2 tp + fp + fn), the harmonic mean of precision and recall (per class, then
    averaged; same arguments as `Precision`).

    Example:
        >>> F1Score(average="macro")(np.array([0, 1, 2, 2]), np.array([0, 1, 2, 1]))
        0.7777777777777777
    """

    default_name = "f1_score"
    kind = "f1"


# --- ranking --------------------------------------------------------------------------------


def _binary_auc(scores: np.ndarray, positive: np.ndarray, w: np.ndarray) -> float:
    """Exact weighted ROC AUC = P(score_pos > score_neg) + 0.5 P(tie) (Mann-Whitney U)."""
    order = np.argsort(scores, kind="mergesort")
    s, pos, w = scores[order], positive[order], w[order]
    wp, wn = w * pos, w * (~pos)
    total_p, total_n = wp.sum(), wn.sum()
    if total_p == 0 or total_n == 0:
        return float("nan")
    # Group tied scores: each positive beats all negatives with lower scores and half-ties its group.
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    gp = np.add.reduceat(wp, starts)
    gn = np.add.reduceat(wn, starts)
    neg_below = np.cumsum(gn) - gn
    return float((gp * (neg_below + 0.5 * gn)).sum() / (total_p * total_n))


class _PairCounter:
    """Running Mann-Whitney U of one score column: sorted positive and negative scores with
    their weights, so a batch costs O(batch log N + N) instead of a full re-sort."""

    def __init__(self) -> None:
        self.pos_s = np.empty(0)
        self.pos_w = np.empty(0)
        self.neg_s = np.empty(0)
        self.neg_w = np.empty(0)
        self.u = 0.0  # sum over (pos, neg) pairs of w_p w_n ([s_p > s_n] + 0.5 [s_p == s_n])

    @staticmethod
    def _below_and_tied(sorted_s: np.ndarray, sorted_w: np.ndarray, x: np.ndarray) -> Any:
        cum = np.concatenate([[0.0], np.cumsum(sorted_w)])
        lo = cum[np.searchsorted(sorted_s, x, side="left")]
        hi = cum[np.searchsorted(sorted_s, x, side="right")]
        return lo, hi - lo, cum[-1]

    @staticmethod
    def _insert(sorted_s: np.ndarray, sorted_w: np.ndarray, s: np.ndarray, w: np.ndarray) -> Any:
        order = np.argsort(s, kind="mergesort")
        s, w = s[order], w[order]
        at = np.searchsorted(sorted_s, s, side="right")
        return np.insert(sorted_s, at, s), np.insert(sorted_w, at, w)

    def add(self, s: np.ndarray, positive: np.ndarray, w: np.ndarray) -> None:
        ps, pw, ns, nw = s[positive], w[positive], s[~positive], w[~positive]
        if ps.size and self.neg_s.size:  # new positives against earlier negatives
            below, tied, _ = self._below_and_tied(self.neg_s, self.neg_w, ps)
            self.u += float((pw * (below + 0.5 * tied)).sum())
        if ns.size and self.pos_s.size:  # new negatives against earlier positives
            below, tied, total = self._below_and_tied(self.pos_s, self.pos_w, ns)
            self.u += float((nw * (total - below - tied + 0.5 * tied)).sum())
        if ps.size and ns.size:  # pairs inside the batch
            self.u += _binary_auc(s, positive, w) * float(pw.sum()) * float(nw.sum())
        if ps.size:
            self.pos_s, self.pos_w = self._insert(self.pos_s, self.pos_w, ps, pw)
        if ns.size:
            self.neg_s, self.neg_w = self._insert(self.neg_s, self.neg_w, ns, nw)

    def auc(self) -> float:
        wp, wn = float(self.pos_w.sum()), float(self.neg_w.sum())
        return self.u / (wp * wn) if wp > 0 and wn > 0 else float("nan")


class AUC(Metric):
    """Exact area under the ROC curve, from the ranks of all scores seen (no threshold binning).

    AUC = P(score of a positive > score of a negative) + 0.5 P(tie) (Mann-Whitney U), weighted
    by sample_weight. Binary: y_pred (N,) or (N, 1) scores, y_true in {0, 1}. Multi-class: y_pred
    (N, C) scores, y_true labels or one-hot; the result is the unweighted mean of one-vs-rest
    AUCs over the classes that have both positive and negative samples (scikit-learn's
    multi_class='ovr', average='macro'). NaN when no class has both. Keeps all scores (memory
    O(N)); an update costs O(batch log N + N), so reading it after every batch stays cheap.

    Example:
        >>> AUC()(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1]))
        0.75
    """

    default_name = "auc"

    def reset(self) -> None:
        self._columns: list[_PairCounter] = []

    def update(self, y_pred: Any, y_true: Any, sample_weight: Any = None) -> None:
        p, t = _batch(y_pred, y_true, self.name)
        scores = p.astype(np.float64).reshape(len(p), -1)
        labels = _int_labels(t, self.name)
        if len(labels) != len(scores):
            raise ValueError(f"{self.name}: {len(scores)} score rows for {len(labels)} labels")
        width = scores.shape[1]
        if width == 1 and labels.size and labels.max() > 1:
            raise ValueError(
                f"{self.name}: binary scores need labels in {{0, 1}}, found {int(labels.max())}"
            )
        if self._columns and len(self._columns) != width:
            raise ValueError(
                f"{self.name}: y_pred has {width} columns but earlier batches had "
                f"{len(self._columns)}"
            )
        if width > 1 and labels.size and labels.max() >= width:
            raise ValueError(f"{self.name}: label {int(labels.max())} is outside [0, {width})")
        if np.isnan(scores).any():
            raise ValueError(f"{self.name}: y_pred contains NaN scores")
        w = _weights(sample_weight, len(labels), self.name)
        w = np.ones(len(labels)) if w is None else w
        if not self._columns:
            self._columns = [_PairCounter() for _ in range(width)]
        if width == 1:
            self._columns[0].add(scores[:, 0], labels == 1, w)
        else:
            for c, col in enumerate(self._columns):
                col.add(scores[:, c], labels == c, w)

    def result(self) -> float:
        if not self._columns:
            return float("nan")
        aucs = [col.auc() for col in self._columns]
        valid = [a for a in aucs if not np.isnan(a)]
        return float(np.mean(valid)) if valid else float("nan")


# --- regression -----------------------------------------------------------------------------


class MeanAbsoluteError(MeanMetricWrapper):
    """mean |y_pred - y_true| (per sample over the last axis, then over samples; Keras convention).

    Example:
        >>> MeanAbsoluteError()(np.array([1.0, 2.0]), np.array([1.5, 2.0]))
        0.25
    """

    default_name = "mean_absolute_error"

    def values(self, y_pred: np.ndarray, y_true: np.ndarray) -> np.ndarray:
        t = _aligned(y_pred, y_true, self.name)
        return np.abs(y_pred.astype(np.float64) - t)


class MeanSquaredError(MeanMetricWrapper):
    """mean (y_pred - y_true)^2 (per sample over the last axis, then over samples).

    Example:
        >>> MeanSquaredError()(np.array([1.0, 2.0]), np.array([2.0, 2.0]))
        0.5
    """

    default_name = "mean_squared_error"

    def values(self, y_pred: np.ndarray, y_true: np.ndarray) -> np.ndarray:
        t = _aligned(y_pred, y_true, self.name)
        return (y_pred.astype(np.float64) - t) ** 2


class RootMeanSquaredError(MeanSquaredError):
    """sqrt(mean (y_pred - y_true)^2) over everything seen (root of the streaming MSE).

    Example:
        >>> RootMeanSquaredError()(np.array([0.0, 0.0]), np.array([3.0, 4.0]))
        3.5355339059327378
    """

    default_name = "root_mean_squared_error"

    def result(self) -> float:
        return float(np.sqrt(super().result()))


class R2Score(Metric):
    """Coefficient of determination R2 = 1 - SS_res / SS_tot per output, averaged over outputs.

    SS_res = sum w (y - p)^2, SS_tot = sum w (y - mean_w(y))^2, accumulated exactly across batches
    with the parallel (Chan et al.) update of mean and squared deviations. A constant y_true gives
    1.0 if predicted perfectly, else 0.0 (scikit-learn's force_finite). Matches sklearn's r2_score
    (multioutput='uniform_average').

    Example:
        >>> R2Score()(np.array([2.5, 0.0, 2.0, 8.0]), np.array([3.0, -0.5, 2.0, 7.0]))
        0.9486081370449679
    """

    default_name = "r2_score"

    def reset(self) -> None:
        self.weight = 0.0
        self.mean: np.ndarray | None = None
        self.m2: np.ndarray | None = None
        self.ss_res: np.ndarray | None = None

    def update(self, y_pred: Any, y_true: Any, sample_weight: Any = None) -> None:
        p, t = _batch(y_pred, y_true, self.name)
        t = _aligned(p, t, self.name).astype(np.float64).reshape(len(p), -1)
        p = p.astype(np.float64).reshape(len(p), -1)
        w = _weights(sample_weight, len(p), self.name)
        w = np.ones(len(p)) if w is None else w
        wb = float(w.sum())
        if wb == 0:
            return
        mean_b = (w[:, None] * t).sum(axis=0) / wb
        m2_b = (w[:, None] * (t - mean_b) ** 2).sum(axis=0)
        res_b = (w[:, None] * (t - p) ** 2).sum(axis=0)
        if self.mean is None:
            self.weight, self.mean, self.m2, self.ss_res = wb, mean_b, m2_b, res_b
            return
        if self.mean.shape != mean_b.shape:
            raise ValueError(
                f"{self.name}: batch has {mean_b.size} outputs but earlier batches had {self.mean.size}"
            )
        wa = self.weight
        total = wa + wb
        delta = mean_b - self.mean
        self.mean = self.mean + delta * (wb / total)
        self.m2 = self.m2 + m2_b + delta**2 * (wa * wb / total)
        self.ss_res = self.ss_res + res_b
        self.weight = total

    def result(self) -> float:
        if self.mean is None:
            return float("nan")
        r2 = np.empty_like(self.m2)
        const = self.m2 == 0
        r2[~const] = 1.0 - self.ss_res[~const] / self.m2[~const]
        r2[const] = np.where(self.ss_res[const] == 0, 1.0, 0.0)
        return float(r2.mean())


# --- lookup by name -------------------------------------------------------------------------

_FACTORIES: dict[str, Callable[[str], Metric]] = {
    "accuracy": lambda n: Accuracy(name=n),
    "acc": lambda n: Accuracy(name=n),
    "binary_accuracy": lambda n: BinaryAccuracy(name=n),
    "categorical_accuracy": lambda n: CategoricalAccuracy(name=n),
    "sparse_categorical_accuracy": lambda n: SparseCategoricalAccuracy(name=n),
    "top_k_categorical_accuracy": lambda n: TopKCategoricalAccuracy(name=n),
    "top_k": lambda n: TopKCategoricalAccuracy(name=n),
    "top_5": lambda n: TopKCategoricalAccuracy(5, name=n),
    "sparse_top_k_categorical_accuracy": lambda n: SparseTopKCategoricalAccuracy(name=n),
    "sparse_top_k": lambda n: SparseTopKCategoricalAccuracy(name=n),
    "precision": lambda n: Precision(name=n),
    "recall": lambda n: Recall(name=n),
    "f1": lambda n: F1Score(name=n),
    "f1_score": lambda n: F1Score(name=n),
    "f1_macro": lambda n: F1Score("macro", name=n),
    "macro_f1": lambda n: F1Score("macro", name=n),
    "f1_micro": lambda n: F1Score("micro", name=n),
    "micro_f1": lambda n: F1Score("micro", name=n),
    "f1_weighted": lambda n: F1Score("weighted", name=n),
    "weighted_f1": lambda n: F1Score("weighted", name=n),
    "confusion_matrix": lambda n: ConfusionMatrix(name=n),
    "auc": lambda n: AUC(name=n),
    "roc_auc": lambda n: AUC(name=n),
    "mae": lambda n: MeanAbsoluteError(name=n),
    "mean_absolute_error": lambda n: MeanAbsoluteError(name=n),
    "mse": lambda n: MeanSquaredError(name=n),
    "mean_squared_error": lambda n: MeanSquaredError(name=n),
    "rmse": lambda n: RootMeanSquaredError(name=n),
    "root_mean_squared_error": lambda n: RootMeanSquaredError(name=n),
    "r2": lambda n: R2Score(name=n),
    "r2_score": lambda n: R2Score(name=n),
}


def available_metrics() -> list[str]:
    """Names accepted by `get`."""
    return sorted(_FACTORIES)


def get(identifier: Any) -> Metric:
    """A metric from a name (Keras names: 'acc', 'accuracy', 'mae', 'mse', 'auc', ...), a Metric
    instance (returned as is), a Metric subclass (instantiated) or a function
    fn(y_pred, y_true) -> per-sample values (wrapped in `MeanMetricWrapper`).

    The metric's `name` is the string given, so History keys read like Keras ('acc', 'val_acc').

    Example:
        >>> get("mae").name, type(get("mae")).__name__
        ('mae', 'MeanAbsoluteError')
    """
    if isinstance(identifier, Metric) or (
        not isinstance(identifier, type)
        and all(callable(getattr(identifier, a, None)) for a in ("reset", "update", "result"))
    ):
        return identifier  # a Metric, or any object with the same three methods
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if isinstance(identifier, str):
        key = identifier.strip().lower().replace("-", "_").replace(" ", "_")
        if key in _FACTORIES:
            return _FACTORIES[key](identifier)
        close = difflib.get_close_matches(key, _FACTORIES, n=3, cutoff=0.6)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise ValueError(
            f"unknown metric {identifier!r}.{hint} Known metrics: {', '.join(available_metrics())}"
        )
    if callable(identifier):
        return MeanMetricWrapper(identifier)
    raise TypeError(
        f"metric must be a name, a Metric or a function fn(y_pred, y_true), got "
        f"{type(identifier).__name__}"
    )
