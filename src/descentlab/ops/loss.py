"""Fused loss primitives.

Softmax cross-entropy is fused because it is the loss of every classifier: the forward uses
log-sum-exp (finite for logits of any size) and the backward is the famous `softmax - one_hot`,
one subtraction instead of a chain of log/exp/gather gradients.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from descentlab.tensor import Function, Tensor

__all__ = ["softmax_cross_entropy"]


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
            f"(valid: 0 to {num_classes - 1})"
        )


class SoftmaxCrossEntropy(Function):
    """Mean/sum/per-sample -log softmax(logits)[target] for logits (N, C) and int targets (N,)."""

    def forward(self, logits, target, reduction="mean"):
        if logits.ndim != 2 or target.shape != logits.shape[:1]:
            raise ValueError(
                f"softmax_cross_entropy: expected logits (N, C) and targets (N,), got "
                f"{logits.shape} and {target.shape}"
            )
        check_class_indices(target, logits.shape[1])
        n = logits.shape[0]
        shifted = logits - logits.max(axis=1, keepdims=True)
        e = np.exp(shifted)
        s = e.sum(axis=1, keepdims=True)
        rows = np.arange(n)
        losses = np.log(s[:, 0]) - shifted[rows, target]
        self.probs, self.target, self.reduction = e / s, target, reduction
        if reduction == "none":
            return losses
        total = losses.sum()
        return total / n if reduction == "mean" else total

    def backward(self, g):
        grad = self.probs.copy()
        grad[np.arange(len(self.target)), self.target] -= 1
        if self.reduction == "none":
            return grad * g[:, None], None
        scale = g / len(self.target) if self.reduction == "mean" else g
        return grad * scale, None


def softmax_cross_entropy(logits: Any, target: Any, reduction: str = "mean") -> Tensor:
    """Cross-entropy of softmax(logits) against class indices: -log softmax(x)[y].

    Example:
        >>> softmax_cross_entropy(logits, labels)  # logits (N, C), labels (N,) int
    """
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    t = target.data if isinstance(target, Tensor) else np.asarray(target)
    return SoftmaxCrossEntropy.apply(logits, t, reduction=reduction)
