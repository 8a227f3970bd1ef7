"""The `Loss` base class shared by the PyTorch-named and the Keras-named loss catalogues."""

from __future__ import annotations

from typing import Any

from descentlab.nn.module import Module
from descentlab.ops.reduce import mean, sum
from descentlab.ops.shape import reshape
from descentlab.tensor import Tensor

__all__ = ["Loss", "to_per_sample"]


def to_per_sample(loss: Tensor, how: str = "mean") -> Tensor:
    """Turn an unreduced loss (N, ...) into one value per sample (N,): mean (or sum) over the rest.

    A scalar (an unbatched input) becomes shape (1,).
    """
    if loss.ndim == 0:
        return reshape(loss, 1)
    if loss.ndim == 1:
        return loss
    axes = tuple(range(1, loss.ndim))
    return mean(loss, axis=axes) if how == "mean" else sum(loss, axis=axes)


class Loss(Module):
    """Base class of every loss: a `Module` that maps predictions and targets to a number.

    Two calling conventions live side by side and each class says which it follows:

    * PyTorch-named classes (`CrossEntropyLoss`, `MSELoss`, ...) are called `loss(input, target)`
      and take `reduction='mean' | 'sum' | 'none'`.
    * Keras-named classes (`CategoricalCrossentropy`, `MeanSquaredError`, ...) are called
      `loss(y_true, y_pred, sample_weight=None)` and take `reduction='sum_over_batch_size'`, ...

    Whatever the family, `per_sample(y_pred, y_true)` returns the unreduced loss per sample, shape
    (N,), prediction first: the training loop applies sample and class weights to it itself.

    Example:
        >>> loss = descentlab.losses.get("cross_entropy")
        >>> logits, labels = descentlab.randn(32, 10), np.zeros(32, dtype=np.int64)
        >>> loss.per_sample(logits, labels).shape
        (32,)
    """

    #: "torch" or "keras": the argument order and reductions the class follows.
    convention: str = ""

    def per_sample(self, y_pred: Any, y_true: Any, *extra: Any) -> Tensor:
        """Unreduced loss per sample, shape (N,), prediction first."""
        raise NotImplementedError(f"{type(self).__name__} must implement per_sample()")
