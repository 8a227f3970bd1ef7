"""Keras' `keras.regularizers`: weight penalties for `kernel_regularizer=` / `bias_regularizer=`.

Keras convention: L2 is l2 * sum(w^2) (no 1/2), L1 is l1 * sum(|w|). `l1(0.01)`, `l2(0.01)` and
`l1_l2(l1=0.01, l2=0.01)` are Keras' shorthands for the classes. `serialize` / `deserialize`
turn one into Keras' {'class_name': 'L2', 'config': {'l2': 0.01}} and back (model saving).

Example:
    >>> from descentlab.keras import regularizers
    >>> regularizers.l2(0.5)(dl.tensor([1.0, -2.0])).item()
    2.5
    >>> regularizers.serialize(regularizers.l2(0.5))
    {'class_name': 'L2', 'config': {'l2': 0.5}}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from descentlab.nn.regularizers import L1, L1L2, L2, Regularizer

__all__ = [
    "Regularizer",
    "L1",
    "L2",
    "L1L2",
    "l1",
    "l2",
    "l1_l2",
    "serialize",
    "deserialize",
    "get",
]

_CLASSES: dict[str, type[Regularizer]] = {"L1": L1, "L2": L2, "L1L2": L1L2}


def l1(l1: float = 0.01) -> L1:
    """Keras' `regularizers.l1(0.01)`: penalty l1 * sum(|w|)."""
    return L1(l1)


def l2(l2: float = 0.01) -> L2:
    """Keras' `regularizers.l2(0.01)`: penalty l2 * sum(w^2)."""
    return L2(l2)


def l1_l2(l1: float = 0.01, l2: float = 0.01) -> L1L2:
    """Keras' `regularizers.l1_l2(l1=0.01, l2=0.01)`: both penalties, summed."""
    return L1L2(l1, l2)


def serialize(regularizer: Any, who: str = "regularizer") -> dict[str, Any] | None:
    """Keras' `regularizers.serialize`: {'class_name': 'L2', 'config': {'l2': 0.01}}; None stays
    None. Anything but L1 / L2 / L1L2 (a Python function) cannot be saved: ValueError."""
    if regularizer is None:
        return None
    if type(regularizer) not in _CLASSES.values():
        raise ValueError(
            f"{who}: {regularizer!r} is not keras.regularizers.L1/L2/L1L2, so it cannot be "
            "saved; use regularizers.l1(...)/l2(...)/l1_l2(...), or save the weights alone with "
            "model.save_weights(path)"
        )
    return {"class_name": type(regularizer).__name__, "config": regularizer.get_config()}


def deserialize(config: Mapping[str, Any] | None) -> Regularizer | None:
    """Inverse of `serialize`."""
    if config is None:
        return None
    cls = _CLASSES.get(config.get("class_name", ""))
    if cls is None:
        raise ValueError(
            f"unknown regularizer class {config.get('class_name')!r}; known: {sorted(_CLASSES)}"
        )
    return cls.from_config(dict(config.get("config", {})))


def get(identifier: Any) -> Any:
    """Keras' `regularizers.get`: a name ('l1', 'l2', 'L1', 'L2', 'L1L2') is that class with its
    defaults (l1/l2: 0.01; L1L2: both 0), a config dict (from `serialize`) is deserialized; a
    regularizer, a function or None is returned as it is.

    Example:
        >>> get("l2").l2
        0.01
    """
    if isinstance(identifier, str):
        cls = _CLASSES.get(identifier) or _CLASSES.get(identifier.upper())
        if cls is None or identifier.upper() == "L1L2" and identifier != "L1L2":
            raise ValueError(
                f"Could not interpret regularizer identifier: {identifier!r}; use one of "
                "'l1', 'l2', 'L1', 'L2', 'L1L2', or keras.regularizers.l1_l2(...)"
            )
        return cls()
    if identifier is not None and not isinstance(identifier, Mapping) and not callable(identifier):
        raise ValueError(f"Could not interpret regularizer identifier: {identifier!r}")
    return deserialize(identifier) if isinstance(identifier, Mapping) else identifier
