"""Every loss, in PyTorch's and in Keras's vocabulary, and lookup by name.

* PyTorch names (`CrossEntropyLoss`, `MSELoss`, `BCEWithLogitsLoss`, ...; also `descentlab.nn.X`):
  called `loss(input, target)`, `reduction='mean' | 'sum' | 'none'`, functional forms in
  `descentlab.nn.functional` (`F.cross_entropy`, ...).
* Keras names (`CategoricalCrossentropy`, `MeanSquaredError`, ... and the functions
  `categorical_crossentropy`, ...): called `(y_true, y_pred, sample_weight=None)`, probabilities by
  default (`from_logits=False`), reduction 'sum_over_batch_size'.
* `get(name)` accepts Keras strings ('mse', 'categorical_crossentropy', ...), PyTorch-style snake_case
  names ('cross_entropy', 'nll', 'bce_with_logits', ...), class names, loss classes, Keras-style
  functions and Loss objects, and returns a `Loss` object.

Every Loss has `per_sample(y_pred, y_true) -> (N,)`, prediction first, for the training loop.

Example:
    >>> import numpy as np, descentlab as dl, descentlab.losses as L
    >>> logits, labels = dl.tensor([[0.7, 1.3, 5.1, 2.2, 1.1]]), np.array([2])
    >>> round(L.get("cross_entropy")(logits, labels).item(), 4)           # PyTorch order
    0.1025
    >>> probs = dl.softmax(logits, dim=1)
    >>> round(L.get("sparse_categorical_crossentropy")(labels, probs).item(), 4)   # Keras order
    0.1025
"""

from __future__ import annotations

import difflib
from typing import Any

from descentlab.losses import keras_losses, torch_losses
from descentlab.losses.base import Loss, to_per_sample
from descentlab.losses.keras_losses import *  # noqa: F403
from descentlab.losses.keras_losses import KerasLoss
from descentlab.losses.torch_losses import *  # noqa: F403
from descentlab.losses.torch_losses import TorchLoss
from descentlab.ops.loss import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cosine_embedding_loss,
    cross_entropy,
    gaussian_nll_loss,
    hinge_embedding_loss,
    huber_loss,
    kl_div,
    l1_loss,
    margin_ranking_loss,
    mse_loss,
    multi_margin_loss,
    nll_loss,
    poisson_nll_loss,
    smooth_l1_loss,
    soft_margin_loss,
    triplet_margin_loss,
)  # fmt: skip

__all__ = [
    "Loss", "TorchLoss", "KerasLoss", "get", "names", "to_per_sample",
    "TORCH_LOSSES", "KERAS_LOSSES",
    *[n for n in torch_losses.__all__ if n != "TorchLoss"],
    *[n for n in keras_losses.__all__ if n not in ("KerasLoss", "EPSILON")],
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "cosine_embedding_loss",
    "cross_entropy", "gaussian_nll_loss", "hinge_embedding_loss", "huber_loss", "kl_div",
    "l1_loss", "margin_ranking_loss", "mse_loss", "multi_margin_loss", "nll_loss",
    "poisson_nll_loss", "smooth_l1_loss", "soft_margin_loss", "triplet_margin_loss",
]  # fmt: skip

#: PyTorch-named loss classes (also reachable as `descentlab.nn.<Name>`).
TORCH_LOSSES: dict[str, type[Loss]] = {
    n: getattr(torch_losses, n) for n in torch_losses.__all__ if n != "TorchLoss"
}
#: Keras-named loss classes.
KERAS_LOSSES: dict[str, type[Loss]] = {
    n: getattr(keras_losses, n)
    for n in keras_losses.__all__
    if n[0].isupper() and n not in ("KerasLoss", "EPSILON")
}

_T, _K = TORCH_LOSSES, KERAS_LOSSES

# Keras strings (keras.losses.get) -> Keras classes, with Keras's own aliases.
_KERAS_NAMES: dict[str, type[Loss]] = {
    "mean_squared_error": _K["MeanSquaredError"], "mse": _K["MeanSquaredError"],
    "mean_absolute_error": _K["MeanAbsoluteError"], "mae": _K["MeanAbsoluteError"],
    "mean_absolute_percentage_error": _K["MeanAbsolutePercentageError"],
    "mape": _K["MeanAbsolutePercentageError"],
    "mean_squared_logarithmic_error": _K["MeanSquaredLogarithmicError"],
    "msle": _K["MeanSquaredLogarithmicError"],
    "huber": _K["Huber"], "log_cosh": _K["LogCosh"], "logcosh": _K["LogCosh"],
    "binary_crossentropy": _K["BinaryCrossentropy"],
    "categorical_crossentropy": _K["CategoricalCrossentropy"],
    "sparse_categorical_crossentropy": _K["SparseCategoricalCrossentropy"],
    "binary_focal_crossentropy": _K["BinaryFocalCrossentropy"],
    "categorical_focal_crossentropy": _K["CategoricalFocalCrossentropy"],
    "kl_divergence": _K["KLDivergence"], "kld": _K["KLDivergence"],
    "kullback_leibler_divergence": _K["KLDivergence"],
    "poisson": _K["Poisson"], "hinge": _K["Hinge"], "squared_hinge": _K["SquaredHinge"],
    "categorical_hinge": _K["CategoricalHinge"], "cosine_similarity": _K["CosineSimilarity"],
    "dice": _K["Dice"],
}  # fmt: skip

# snake_case PyTorch-style names (F.<name> and short forms) -> PyTorch classes.
_TORCH_NAMES: dict[str, type[Loss]] = {
    "mse_loss": _T["MSELoss"], "l1": _T["L1Loss"], "l1_loss": _T["L1Loss"],
    "huber_loss": _T["HuberLoss"], "smooth_l1": _T["SmoothL1Loss"],
    "smooth_l1_loss": _T["SmoothL1Loss"],
    "bce": _T["BCELoss"], "bce_loss": _T["BCELoss"], "binary_cross_entropy": _T["BCELoss"],
    "bce_with_logits": _T["BCEWithLogitsLoss"],
    "binary_cross_entropy_with_logits": _T["BCEWithLogitsLoss"],
    "cross_entropy": _T["CrossEntropyLoss"], "ce": _T["CrossEntropyLoss"],
    "cross_entropy_loss": _T["CrossEntropyLoss"],
    "nll": _T["NLLLoss"], "nll_loss": _T["NLLLoss"],
    "kl_div": _T["KLDivLoss"], "kl_div_loss": _T["KLDivLoss"],
    "poisson_nll": _T["PoissonNLLLoss"], "poisson_nll_loss": _T["PoissonNLLLoss"],
    "gaussian_nll": _T["GaussianNLLLoss"], "gaussian_nll_loss": _T["GaussianNLLLoss"],
    "hinge_embedding": _T["HingeEmbeddingLoss"], "hinge_embedding_loss": _T["HingeEmbeddingLoss"],
    "multi_margin": _T["MultiMarginLoss"], "multi_margin_loss": _T["MultiMarginLoss"],
    "soft_margin": _T["SoftMarginLoss"], "soft_margin_loss": _T["SoftMarginLoss"],
    "cosine_embedding": _T["CosineEmbeddingLoss"],
    "cosine_embedding_loss": _T["CosineEmbeddingLoss"],
    "margin_ranking": _T["MarginRankingLoss"], "margin_ranking_loss": _T["MarginRankingLoss"],
    "triplet_margin": _T["TripletMarginLoss"], "triplet_margin_loss": _T["TripletMarginLoss"],
}  # fmt: skip

_BY_NAME: dict[str, type[Loss]] = {**_TORCH_NAMES, **_KERAS_NAMES, **_T, **_K}
_BY_FUNCTION: dict[Any, type[Loss]] = {cls.fn: cls for cls in _K.values()}


def names() -> list[str]:
    """Every name `get` accepts, sorted."""
    return sorted(_BY_NAME)


def get(identifier: Any) -> Loss:
    """Return a Loss object for a name, a class, a Keras-style function or a Loss object.

    Keras strings ('mse', 'mae', 'categorical_crossentropy', 'sparse_categorical_crossentropy',
    'binary_crossentropy', 'huber', ...) give Keras-convention classes with Keras defaults;
    snake_case PyTorch-style names ('cross_entropy', 'nll', 'bce', 'bce_with_logits',
    'mse_loss', ...) give PyTorch-convention classes. Note: Keras's own alias 'bce' is taken by
    PyTorch's `BCELoss` here (same math on probabilities; use 'binary_crossentropy' for Keras's).
    Class names ('CrossEntropyLoss', 'MeanSquaredError') also work; matching ignores case.

    Example:
        >>> get("mse")
        MeanSquaredError()
        >>> get("cross_entropy")
        CrossEntropyLoss()
    """
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    if callable(identifier) and identifier in _BY_FUNCTION:
        return _BY_FUNCTION[identifier]()
    if not isinstance(identifier, str):
        raise TypeError(
            f"losses.get: expected a loss name, a Loss class or object, got "
            f"{type(identifier).__name__} {identifier!r}"
        )
    cls = _BY_NAME.get(identifier)
    if cls is None:
        lowered = {k.lower(): v for k, v in _BY_NAME.items()}
        cls = lowered.get(identifier.lower())
    if cls is None:
        close = difflib.get_close_matches(identifier, names(), n=5, cutoff=0.5)
        if not close:
            close = difflib.get_close_matches(identifier.lower(), [n.lower() for n in names()],
                                              n=5, cutoff=0.4)  # fmt: skip
        hint = f"did you mean {', '.join(map(repr, close))}? " if close else ""
        raise ValueError(
            f"unknown loss {identifier!r}; {hint}descentlab.losses.names() lists all "
            f"{len(_BY_NAME)} names"
        )
    return cls()
