"""Keras-style facade: names, arguments, defaults and update rules of Keras 3.

Submodules load on first use, so `import descentlab.keras` stays light (NumPy only).

Example:
    >>> from descentlab import keras
    >>> opt = keras.optimizers.Adam(lr=0.001, beta_1=0.9, beta_2=0.999, epsilon=None, decay=0.0)
"""

from __future__ import annotations

import importlib
from typing import Any

_SUBMODULES = {"optimizers"}


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"descentlab.keras.{name}")
    raise AttributeError(f"module 'descentlab.keras' has no attribute {name!r}")
