"""Optimizers as chains of gradient transformations, with PyTorch names, arguments and defaults.

Example:
    >>> import descentlab as dl
    >>> w = dl.nn.Parameter([1.0, -2.0])
    >>> opt = dl.optim.get("adam", [w], lr=0.1)
"""

from __future__ import annotations

from typing import Any

from descentlab.optim import transforms

__all__ = ["transforms"]


def __getattr__(name: str) -> Any:
    # Schedules and scheduler objects load on first use (they are separate modules).
    import importlib

    if name in {"schedules", "lr_scheduler", "registry"}:
        return importlib.import_module(f"descentlab.optim.{name}")
    raise AttributeError(f"module 'descentlab.optim' has no attribute {name!r}")
