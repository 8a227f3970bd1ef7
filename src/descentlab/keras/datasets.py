"""Keras' `keras.datasets.mnist.load_data()` and `fashion_mnist.load_data()`: the files come from
`descentlab.data.fetch_mnist` (downloaded once, SHA-256 checked, cached) and are returned as Keras
returns them: ((x_train, y_train), (x_test, y_test)), uint8 images (N, 28, 28) in 0..255 and
uint8 labels.

Example:
    >>> from descentlab.keras.datasets import mnist
    >>> (x_train, y_train), (x_test, y_test) = mnist.load_data()   # doctest: +SKIP
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np

__all__ = ["mnist", "fashion_mnist"]


def _as_keras(bunch: Any) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    def images(x: np.ndarray) -> np.ndarray:  # back from float32 [0, 1] to the stored bytes
        return np.rint(x[:, 0] * 255.0).astype(np.uint8)

    return (
        (images(bunch.x), bunch.y.astype(np.uint8)),
        (images(bunch.x_test), bunch.y_test.astype(np.uint8)),
    )


def _mnist_load_data(**kwargs: Any) -> Any:
    """((x_train, y_train), (x_test, y_test)) of MNIST, as Keras; kwargs go to fetch_mnist."""
    from descentlab.data.fetch import fetch_mnist

    return _as_keras(fetch_mnist(**kwargs))


def _fashion_load_data(**kwargs: Any) -> Any:
    """((x_train, y_train), (x_test, y_test)) of Fashion-MNIST, as Keras."""
    from descentlab.data.fetch import fetch_fashion_mnist

    return _as_keras(fetch_fashion_mnist(**kwargs))


mnist = SimpleNamespace(load_data=_mnist_load_data)
fashion_mnist = SimpleNamespace(load_data=_fashion_load_data)
