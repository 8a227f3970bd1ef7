"""Keras-style facade: names, arguments, defaults and update rules of Keras 3.

`Sequential`, `Model` and `Input` with `compile`/`fit`/`evaluate`/`predict`; `layers`, `optimizers`,
`losses`, `metrics`, `callbacks`, `regularizers`, `datasets`, `utils` and `saving`
(`model.save(path)`, `keras.models.load_model(path)`) under Keras' names.
Submodules load on first use, so `import descentlab.keras` stays light (NumPy only).

Example:
    >>> from descentlab import keras
    >>> opt = keras.optimizers.Adam(lr=0.001, beta_1=0.9, beta_2=0.999, epsilon=None, decay=0.0)
    >>> model = keras.Sequential([keras.Input(shape=(8,)), keras.layers.Dense(2)])
    >>> model.compile(optimizer=opt, loss="mse")
"""

from __future__ import annotations

import importlib
from typing import Any

_SUBMODULES = {
    "optimizers": "descentlab.keras.optimizers",
    "layers": "descentlab.keras.layers",
    "models": "descentlab.keras.models",
    "losses": "descentlab.keras.losses",
    "regularizers": "descentlab.keras.regularizers",
    "metrics": "descentlab.train.metrics",
    "callbacks": "descentlab.train.callbacks",
    "datasets": "descentlab.keras.datasets",
    "utils": "descentlab.keras.utils",
    "saving": "descentlab.keras.saving",
}
_NAMES = {"Sequential": "descentlab.keras.models", "Model": "descentlab.keras.models",
          "Input": "descentlab.keras.layers"}  # fmt: skip


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(_SUBMODULES[name])
    if name in _NAMES:
        return getattr(importlib.import_module(_NAMES[name]), name)
    raise AttributeError(f"module 'descentlab.keras' has no attribute {name!r}")
