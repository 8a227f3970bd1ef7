"""Loss classes with PyTorch names, arguments, defaults and semantics (`torch.nn.*Loss`).

Each class is called `loss(input, target)` (prediction first) and reduces with
`reduction='mean' | 'sum' | 'none'`; the arithmetic lives in the functional forms of
`descentlab.ops.loss` (also `descentlab.nn.functional`), verified against PyTorch to 1e-10.

Example:
    >>> import numpy as np, descentlab as dl
    >>> loss_fn = CrossEntropyLoss(label_smoothing=0.1)
    >>> logits = dl.tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 3.0]], requires_grad=True)  # (N, C)
    >>> loss = loss_fn(logits, np.array([0, 2]))      # labels (N,) int
    >>> loss.backward()
    >>> logits.grad.shape
    (2, 3)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from descentlab.losses.base import Loss, to_per_sample
from descentlab.ops import loss as F
from descentlab.ops.loss import REDUCTIONS, legacy_reduction
from descentlab.tensor import Tensor

__all__ = [
    "TorchLoss", "MSELoss", "L1Loss", "HuberLoss", "SmoothL1Loss", "BCELoss", "BCEWithLogitsLoss",
    "CrossEntropyLoss", "NLLLoss", "KLDivLoss", "PoissonNLLLoss", "GaussianNLLLoss",
    "HingeEmbeddingLoss", "MultiMarginLoss", "SoftMarginLoss", "CosineEmbeddingLoss",
    "MarginRankingLoss", "TripletMarginLoss",
]  # fmt: skip


class TorchLoss(Loss):
    """Base of the PyTorch-named losses: `forward(*inputs)` = `_loss(*inputs, reduction)`.

    Like PyTorch's `_Loss`, it takes the legacy `size_average` and `reduce` arguments (every
    subclass keeps them at PyTorch's positions, so `CrossEntropyLoss(None, False)` works): when
    either is given it overrides `reduction`, with a warning (see `ops.loss.legacy_reduction`).
    """

    convention = "torch"
    _reductions: tuple[str, ...] = REDUCTIONS

    def __init__(
        self, size_average: bool | None = None, reduce: bool | None = None, reduction: str = "mean"
    ) -> None:
        super().__init__()
        # The warning points at the user's line: one frame deeper through a subclass's __init__.
        depth = 3 if type(self).__init__ is TorchLoss.__init__ else 4
        reduction = legacy_reduction(size_average, reduce, reduction, stacklevel=depth)
        if reduction not in self._reductions:
            raise ValueError(
                f"{type(self).__name__}: reduction must be one of "
                f"{', '.join(map(repr, self._reductions))}, got {reduction!r}"
            )
        self.reduction = reduction

    def _loss(self, *inputs: Any, reduction: str) -> Tensor:
        raise NotImplementedError

    def forward(self, input: Any, target: Any) -> Tensor:
        return self._loss(input, target, reduction=self.reduction)

    def per_sample(self, y_pred: Any, y_true: Any, *extra: Any) -> Tensor:
        """Loss per sample (N,): the mean over non-batch dimensions of the unreduced loss, so that
        `per_sample(...).mean()` equals the 'mean' reduction (except for class-weighted means,
        which divide by the sum of weights, and ignored targets, which count as 0)."""
        return to_per_sample(self._loss(y_pred, y_true, *extra, reduction="none"))

    def _buffer(self, name: str, value: Any) -> None:
        # Registered like PyTorch (`loss.weight` is a buffer, saved in state_dict).
        self.register_buffer(
            name, None if value is None else np.asarray(getattr(value, "data", value))
        )

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}" if self.reduction != "mean" else ""


class MSELoss(TorchLoss):
    """Mean squared error, `l = (x - y)^2` (PyTorch `nn.MSELoss`).

    When to use: regression; large errors cost quadratically. Convention: PyTorch, `loss(input,
    target)`, shapes must match.

    Example:
        >>> MSELoss()(dl.tensor([1.0, 2.0]), dl.tensor([0.0, 4.0])).item()   # (1 + 4) / 2
        2.5
    """

    def _loss(self, input, target, *, reduction):
        return F.mse_loss(input, target, reduction=reduction)


class L1Loss(TorchLoss):
    """Mean absolute error, `l = |x - y|` (PyTorch `nn.L1Loss`).

    When to use: regression robust to outliers (median-like). Convention: PyTorch.

    Example:
        >>> L1Loss()(dl.tensor([1.0, 2.0]), dl.tensor([0.0, 4.0])).item()   # (1 + 2) / 2
        1.5
    """

    def _loss(self, input, target, *, reduction):
        return F.l1_loss(input, target, reduction=reduction)


class HuberLoss(TorchLoss):
    """Huber loss (PyTorch `nn.HuberLoss`): `0.5 d^2` if `|d| < delta` else `delta (|d| - delta/2)`.

    When to use: regression with outliers; MSE near the target, L1 far from it. Convention: PyTorch.

    Example:
        >>> HuberLoss(delta=1.0)(dl.tensor([0.5, 3.0]), dl.tensor([0.0, 0.0])).item()
        1.3125
    """

    def __init__(self, reduction: str = "mean", delta: float = 1.0) -> None:
        super().__init__(reduction=reduction)
        self.delta = delta

    def _loss(self, input, target, *, reduction):
        return F.huber_loss(input, target, reduction=reduction, delta=self.delta)


class SmoothL1Loss(TorchLoss):
    """Smooth L1 (PyTorch `nn.SmoothL1Loss`): `0.5 d^2 / beta` if `|d| < beta` else `|d| - beta/2`.

    When to use: box regression (Fast R-CNN); equals Huber / beta. Convention: PyTorch.

    Example:
        >>> SmoothL1Loss(beta=1.0)(dl.tensor([0.5, 3.0]), dl.tensor([0.0, 0.0])).item()
        1.3125
    """

    def __init__(
        self, size_average: bool | None = None, reduce: bool | None = None,
        reduction: str = "mean", beta: float = 1.0,
    ) -> None:  # fmt: skip
        super().__init__(size_average, reduce, reduction)
        self.beta = beta

    def _loss(self, input, target, *, reduction):
        return F.smooth_l1_loss(input, target, reduction=reduction, beta=self.beta)


class BCELoss(TorchLoss):
    """Binary cross-entropy on probabilities (PyTorch `nn.BCELoss`).

    Formula: `l = -w [y log x + (1 - y) log(1 - x)]`, logs clamped at -100 (PyTorch).
    When to use: binary / multi-label targets after a sigmoid. Inputs outside [0, 1] raise an
    error; on raw scores use `BCEWithLogitsLoss` (stable). Convention: PyTorch.

    Example:
        >>> BCELoss()(dl.tensor([0.9, 0.2]), dl.tensor([1.0, 0.0])).item()  # -(log .9 + log .8)/2
        0.1642...
    """

    def __init__(
        self, weight: Any = None, size_average: bool | None = None, reduce: bool | None = None,
        reduction: str = "mean",
    ) -> None:  # fmt: skip
        super().__init__(size_average, reduce, reduction)
        self._buffer("weight", weight)

    def _loss(self, input, target, *, reduction):
        return F.binary_cross_entropy(input, target, weight=self.weight, reduction=reduction)


class BCEWithLogitsLoss(TorchLoss):
    """Sigmoid + binary cross-entropy fused and stable (PyTorch `nn.BCEWithLogitsLoss`).

    Formula: `l = -w [p y log σ(x) + (1 - y) log(1 - σ(x))]`; `pos_weight` p (one per class, on the
    last axis) > 1 raises recall. When to use: binary and multi-label classification on logits.
    Convention: PyTorch.

    Example:
        >>> BCEWithLogitsLoss()(dl.tensor([0.0]), dl.tensor([1.0])).item()   # log 2
        0.6931...
    """

    def __init__(
        self, weight: Any = None, size_average: bool | None = None, reduce: bool | None = None,
        reduction: str = "mean", pos_weight: Any = None,
    ) -> None:  # fmt: skip
        super().__init__(size_average, reduce, reduction)
        self._buffer("weight", weight)
        self._buffer("pos_weight", pos_weight)

    def _loss(self, input, target, *, reduction):
        return F.binary_cross_entropy_with_logits(
            input, target, weight=self.weight, reduction=reduction, pos_weight=self.pos_weight
        )


class CrossEntropyLoss(TorchLoss):
    """Softmax cross-entropy on logits = `LogSoftmax` + `NLLLoss` (PyTorch `nn.CrossEntropyLoss`).

    Formula: `l = -w[t] log softmax(x)[t]` for class indices t (rows equal to `ignore_index` count
    0 and are left out of the mean), or `-sum_c w_c p_c log softmax(x)_c` for probability targets
    p; label smoothing ε uses `(1 - ε) target + ε / C`. The weighted 'mean' divides by the sum of
    the weights of the counted targets. Fused: log-sum-exp forward, `softmax - target` backward.
    When to use: multi-class classification; feed raw scores, not softmax outputs.
    Convention: PyTorch, input (N, C), (N, C, d1, ...) or (C,).

    Example:
        >>> logits = dl.tensor([[0.7, 1.3, 5.1, 2.2, 1.1]])
        >>> round(CrossEntropyLoss()(logits, np.array([2])).item(), 4)   # -log(softmax[2])
        0.1025
    """

    def __init__(
        self, weight: Any = None, size_average: bool | None = None, ignore_index: int = -100,
        reduce: bool | None = None, reduction: str = "mean", label_smoothing: float = 0.0,
    ) -> None:  # fmt: skip
        super().__init__(size_average, reduce, reduction)
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1], got {label_smoothing}")
        self._buffer("weight", weight)
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def _loss(self, input, target, *, reduction):
        return F.cross_entropy(
            input, target, weight=self.weight, ignore_index=self.ignore_index,
            reduction=reduction, label_smoothing=self.label_smoothing,
        )  # fmt: skip


class NLLLoss(TorchLoss):
    """Negative log-likelihood of log-probabilities (PyTorch `nn.NLLLoss`): `l = -w[t] input[t]`.

    When to use: after `LogSoftmax` (then it equals `CrossEntropyLoss` on the logits).
    The weighted 'mean' divides by the sum of `w[t]` over non-ignored targets. Convention: PyTorch.

    Example:
        >>> logits = dl.tensor([[0.7, 1.3, 5.1, 2.2, 1.1]])
        >>> round(NLLLoss()(dl.log_softmax(logits, dim=1), np.array([2])).item(), 4)
        0.1025
    """

    def __init__(
        self, weight: Any = None, size_average: bool | None = None, ignore_index: int = -100,
        reduce: bool | None = None, reduction: str = "mean",
    ) -> None:  # fmt: skip
        super().__init__(size_average, reduce, reduction)
        self._buffer("weight", weight)
        self.ignore_index = ignore_index

    def _loss(self, input, target, *, reduction):
        return F.nll_loss(
            input, target, weight=self.weight, ignore_index=self.ignore_index, reduction=reduction
        )


class KLDivLoss(TorchLoss):
    """Kullback-Leibler divergence, input as log-probabilities (PyTorch `nn.KLDivLoss`).

    Formula: `l = y (log y - x)`, or `exp(y) (y - x)` with `log_target=True`. Use
    `reduction='batchmean'` for the mathematical KL per sample ('mean' averages over elements).
    When to use: distillation, matching distributions. Convention: PyTorch.

    Example:
        >>> log_q = dl.log_softmax(dl.tensor([[1.0, 2.0]]), 1)   # the model's log-probabilities
        >>> p = dl.softmax(dl.tensor([[2.0, 1.0]]), 1)           # the target distribution
        >>> round(KLDivLoss(reduction="batchmean")(log_q, p).item(), 4)
        0.4621
    """

    _reductions = (*REDUCTIONS, "batchmean")

    def __init__(
        self, size_average: bool | None = None, reduce: bool | None = None,
        reduction: str = "mean", log_target: bool = False,
    ) -> None:  # fmt: skip
        super().__init__(size_average, reduce, reduction)
        self.log_target = log_target

    def _loss(self, input, target, *, reduction):
        return F.kl_div(input, target, reduction=reduction, log_target=self.log_target)

    def per_sample(self, y_pred: Any, y_true: Any, *extra: Any) -> Tensor:
        """Per-sample KL: summed over non-batch dims for 'batchmean' and 'sum', else averaged."""
        how = "sum" if self.reduction in ("batchmean", "sum") else "mean"
        return to_per_sample(self._loss(y_pred, y_true, reduction="none"), how)


class PoissonNLLLoss(TorchLoss):
    """Poisson negative log-likelihood (PyTorch `nn.PoissonNLLLoss`): `exp(x) - y x` on log-rates.

    With `log_input=False`: `x - y log(x + eps)`; `full=True` adds Stirling's term. When to use:
    count regression. Convention: PyTorch.

    Example:
        >>> log_rate, counts = dl.tensor([0.0, 1.0]), dl.tensor([1.0, 2.0])
        >>> round(PoissonNLLLoss()(log_rate, counts).item(), 4)   # (1 + (e - 2)) / 2
        0.8591
    """

    def __init__(
        self, log_input: bool = True, full: bool = False, size_average: bool | None = None,
        eps: float = 1e-8, reduce: bool | None = None, reduction: str = "mean",
    ) -> None:  # fmt: skip
        super().__init__(size_average, reduce, reduction)
        self.log_input, self.full, self.eps = log_input, full, eps

    def _loss(self, input, target, *, reduction):
        return F.poisson_nll_loss(input, target, log_input=self.log_input, full=self.full,
                                  eps=self.eps, reduction=reduction)  # fmt: skip


class GaussianNLLLoss(TorchLoss):
    """Gaussian negative log-likelihood with a predicted variance (PyTorch `nn.GaussianNLLLoss`).

    Formula: `0.5 (log max(var, eps) + (x - y)^2 / max(var, eps))`. Called `loss(input, target,
    var)`. When to use: regression that also predicts its uncertainty. Convention: PyTorch.

    Example:
        >>> mu, y, var = dl.tensor([1.0, 2.0]), dl.tensor([1.0, 4.0]), dl.tensor([1.0, 1.0])
        >>> GaussianNLLLoss()(mu, y, var).item()   # (0 + 0.5 * 2^2) / 2
        1.0
    """

    def __init__(self, *, full: bool = False, eps: float = 1e-6, reduction: str = "mean") -> None:
        super().__init__(reduction=reduction)
        self.full, self.eps = full, eps

    def forward(self, input: Any, target: Any, var: Any) -> Tensor:  # type: ignore[override]
        return self._loss(input, target, var, reduction=self.reduction)

    def _loss(self, input, target, var, *, reduction):
        return F.gaussian_nll_loss(input, target, var, full=self.full, eps=self.eps,
                                   reduction=reduction)  # fmt: skip


class HingeEmbeddingLoss(TorchLoss):
    """Hinge embedding loss (PyTorch `nn.HingeEmbeddingLoss`): `x` if y = 1, `max(0, m - x)` if y = -1.

    When to use: learning embeddings or similarity from distances x and labels ±1. Convention: PyTorch.

    Example:
        >>> distances = dl.tensor([0.3, 0.4])
        >>> round(HingeEmbeddingLoss(margin=1.0)(distances, np.array([1, -1])).item(), 4)
        0.45
    """

    def __init__(
        self, margin: float = 1.0, size_average: bool | None = None, reduce: bool | None = None,
        reduction: str = "mean",
    ) -> None:  # fmt: skip
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def _loss(self, input, target, *, reduction):
        return F.hinge_embedding_loss(input, target, margin=self.margin, reduction=reduction)


class MultiMarginLoss(TorchLoss):
    """Multi-class hinge (SVM) loss (PyTorch `nn.MultiMarginLoss`).

    Formula: `l = sum_{j != y} w[y] max(0, margin - x[y] + x[j])^p / C`. When to use: multi-class
    classification with a margin instead of probabilities. Convention: PyTorch.

    Example:
        >>> scores = dl.tensor([[0.1, 0.2, 0.4, 0.8]])
        >>> round(MultiMarginLoss()(scores, np.array([3])).item(), 4)   # (0.3 + 0.4 + 0.6) / 4
        0.325
    """

    def __init__(
        self, p: int = 1, margin: float = 1.0, weight: Any = None,
        size_average: bool | None = None, reduce: bool | None = None, reduction: str = "mean",
    ) -> None:  # fmt: skip
        super().__init__(size_average, reduce, reduction)
        if p not in (1, 2):
            raise ValueError(f"MultiMarginLoss: p must be 1 or 2, got {p}")
        self.p, self.margin = p, margin
        self._buffer("weight", weight)

    def _loss(self, input, target, *, reduction):
        return F.multi_margin_loss(input, target, p=self.p, margin=self.margin,
                                   weight=self.weight, reduction=reduction)  # fmt: skip


class SoftMarginLoss(TorchLoss):
    """Two-class logistic loss `log(1 + exp(-y x))`, y in {1, -1} (PyTorch `nn.SoftMarginLoss`).

    When to use: binary classification with ±1 labels. Convention: PyTorch.

    Example:
        >>> SoftMarginLoss()(dl.tensor([0.0]), dl.tensor([1.0])).item()   # log 2
        0.6931...
    """

    def _loss(self, input, target, *, reduction):
        return F.soft_margin_loss(input, target, reduction=reduction)


class _PairLoss(TorchLoss):
    """Losses called `loss(input1, input2, target)`."""

    def forward(self, input1: Any, input2: Any, target: Any) -> Tensor:  # type: ignore[override]
        return self._loss(input1, input2, target, reduction=self.reduction)


class CosineEmbeddingLoss(_PairLoss):
    """Cosine embedding loss (PyTorch `nn.CosineEmbeddingLoss`), `loss(x1, x2, y)`.

    Formula: `1 - cos(x1, x2)` if y = 1, `max(0, cos(x1, x2) - margin)` if y = -1. When to use:
    learning embeddings where similar pairs point the same way. Convention: PyTorch.

    Example:
        >>> a = dl.tensor([[1.0, 0.0], [1.0, 0.0]])
        >>> b = dl.tensor([[1.0, 1.0], [0.0, 1.0]])
        >>> round(CosineEmbeddingLoss()(a, b, np.array([1, -1])).item(), 4)  # (1 - cos 45°) / 2
        0.1464
    """

    def __init__(
        self, margin: float = 0.0, size_average: bool | None = None, reduce: bool | None = None,
        reduction: str = "mean",
    ) -> None:  # fmt: skip
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def _loss(self, input1, input2, target, *, reduction):
        return F.cosine_embedding_loss(input1, input2, target, margin=self.margin,
                                       reduction=reduction)  # fmt: skip


class MarginRankingLoss(_PairLoss):
    """Margin ranking loss `max(0, -y (x1 - x2) + margin)` (PyTorch `nn.MarginRankingLoss`).

    When to use: learning to rank (y = 1: x1 should score higher). Convention: PyTorch.

    Example:
        >>> s1, s2 = dl.tensor([2.0, 1.0]), dl.tensor([1.0, 1.0])
        >>> MarginRankingLoss(margin=0.5)(s1, s2, np.array([1, 1])).item()   # (0 + 0.5) / 2
        0.25
    """

    def __init__(
        self, margin: float = 0.0, size_average: bool | None = None, reduce: bool | None = None,
        reduction: str = "mean",
    ) -> None:  # fmt: skip
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def _loss(self, input1, input2, target, *, reduction):
        return F.margin_ranking_loss(input1, input2, target, margin=self.margin,
                                     reduction=reduction)  # fmt: skip


class TripletMarginLoss(TorchLoss):
    """Triplet margin loss (PyTorch `nn.TripletMarginLoss`), `loss(anchor, positive, negative)`.

    Formula: `max(d(a, p) - d(a, n) + margin, 0)`, `d(u, v) = ||u - v + eps||_p`. When to use:
    metric learning (face recognition, retrieval). Convention: PyTorch.

    Example:
        >>> anchor, positive = dl.tensor([[0.0, 0.0]]), dl.tensor([[3.0, 4.0]])
        >>> negative = dl.tensor([[0.0, 1.0]])
        >>> round(TripletMarginLoss(margin=1.0)(anchor, positive, negative).item(), 4)  # 5 - 1 + 1
        5.0
    """

    def __init__(
        self, margin: float = 1.0, p: float = 2.0, eps: float = 1e-6, swap: bool = False,
        size_average: bool | None = None, reduce: bool | None = None, reduction: str = "mean",
    ) -> None:  # fmt: skip
        super().__init__(size_average, reduce, reduction)
        self.margin, self.p, self.eps, self.swap = margin, p, eps, swap

    def forward(self, anchor: Any, positive: Any, negative: Any) -> Tensor:  # type: ignore[override]
        return self._loss(anchor, positive, negative, reduction=self.reduction)

    def _loss(self, anchor, positive, negative, *, reduction):
        return F.triplet_margin_loss(anchor, positive, negative, margin=self.margin, p=self.p,
                                     eps=self.eps, swap=self.swap, reduction=reduction)  # fmt: skip
