"""Keras' `keras.regularizers`: weight penalties for `kernel_regularizer=` / `bias_regularizer=`.

Keras convention: L2 is l2 * sum(w^2) (no 1/2), L1 is l1 * sum(|w|). `l1(0.01)`, `l2(0.01)` and
`l1_l2(l1=0.01, l2=0.01)` are Keras' shorthands for the classes.

Example:
    >>> from descentlab.keras import regularizers
    >>> regularizers.l2(0.5)(dl.tensor([1.0, -2.0])).item()
    2.5
"""

from __future__ import annotations

from descentlab.nn.regularizers import L1, L1L2, L2

__all__ = ["L1", "L2", "L1L2", "l1", "l2", "l1_l2"]


def l1(l1: float = 0.01) -> L1:
    """Keras' `regularizers.l1(0.01)`: penalty l1 * sum(|w|)."""
    return L1(l1)


def l2(l2: float = 0.01) -> L2:
    """Keras' `regularizers.l2(0.01)`: penalty l2 * sum(w^2)."""
    return L2(l2)


def l1_l2(l1: float = 0.01, l2: float = 0.01) -> L1L2:
    """Keras' `regularizers.l1_l2(l1=0.01, l2=0.01)`: both penalties, summed."""
    return L1L2(l1, l2)
