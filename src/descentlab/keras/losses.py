"""Keras' `keras.losses`: the Keras-named losses of `descentlab.losses` (Keras argument order
`loss(y_true, y_pred, sample_weight=None)`, reductions and clipping), `get`, and
`LossFunctionWrapper`, which turns a plain function fn(y_true, y_pred) into such a loss, and
`serialize` / `deserialize` for the loss classes (model saving).

Example:
    >>> from descentlab.keras import losses
    >>> def mse(y_true, y_pred):
    ...     return ((y_pred - y_true) ** 2).mean(axis=-1)
    >>> loss = losses.LossFunctionWrapper(mse)
    >>> round(loss(np.array([[1.0, 2.0]]), dl.tensor([[1.5, 2.0]])).item(), 4)
    0.125
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from descentlab.losses import get as _get
from descentlab.losses.base import Loss
from descentlab.losses.keras_losses import *  # noqa: F403
from descentlab.losses.keras_losses import KerasLoss, squeeze_or_expand_to_same_rank
from descentlab.losses.keras_losses import __all__ as _keras_names
from descentlab.tensor import Tensor

__all__ = [*_keras_names, "LossFunctionWrapper", "get", "serialize", "deserialize"]


class LossFunctionWrapper(KerasLoss):
    """A function fn(y_true, y_pred, **kwargs) -> per-sample values, as a Keras loss:
    reduced with `reduction` (mean over the batch by default), weighted by `sample_weight`.
    Keras wraps the functions given to `compile(loss=fn)` the same way."""

    def __init__(self, fn: Callable[..., Any], reduction: Any = "sum_over_batch_size",
                 name: str | None = None, **kwargs: Any) -> None:  # fmt: skip
        if not callable(fn):
            raise TypeError(f"LossFunctionWrapper: fn must be callable, got {fn!r}")
        super().__init__(reduction=reduction, name=name or getattr(fn, "__name__", "loss"))
        self._fn, self.fn_kwargs = fn, dict(kwargs)

    def call(self, y_true: Any, y_pred: Any) -> Tensor:
        y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
        return self._fn(y_true, y_pred, **self.fn_kwargs)

    def extra_repr(self) -> str:
        return f"fn={getattr(self._fn, '__name__', self._fn)!r}"


def get(identifier: Any) -> Loss:
    """A loss by Keras name ('mse', 'sparse_categorical_crossentropy', ...), a Loss object as
    it is, or a function fn(y_true, y_pred) wrapped in `LossFunctionWrapper` (Keras order)."""
    if isinstance(identifier, (str, Loss)):
        return _get(identifier)
    if callable(identifier):
        return LossFunctionWrapper(identifier)
    raise TypeError(f"keras.losses.get: expected a name, a Loss or a function, got {identifier!r}")


_CLASSES: dict[str, type[KerasLoss]] = {
    name: obj for name in _keras_names if isinstance(obj := globals()[name], type)
    and issubclass(obj, KerasLoss) and obj is not KerasLoss
}  # fmt: skip


def serialize(loss: Any) -> dict[str, Any]:
    """Keras' `losses.serialize`: {'class_name': ..., 'config': loss.get_config()} for a Keras
    loss class (`MeanSquaredError(...)`, ...); a function or a PyTorch-convention loss cannot be
    rebuilt from a file: ValueError.

    Example:
        >>> serialize(SparseCategoricalCrossentropy(from_logits=True))["config"]["from_logits"]
        True
    """
    if _CLASSES.get(type(loss).__name__) is not type(loss):
        raise ValueError(
            f"the loss {loss!r} cannot be saved: only the keras.losses classes and Keras loss "
            "names can; compile with loss='mse' (a name) or a keras.losses object, or save the "
            "weights alone with model.save_weights(path)"
        )
    return {"class_name": type(loss).__name__, "config": loss.get_config()}


def deserialize(config: Mapping[str, Any]) -> KerasLoss:
    """Inverse of `serialize`."""
    cls = _CLASSES.get(config.get("class_name", ""))
    if cls is None:
        raise ValueError(
            f"unknown loss class {config.get('class_name')!r}; known: {', '.join(_CLASSES)}"
        )
    return cls(**config.get("config", {}))
