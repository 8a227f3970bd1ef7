"""Optimizers as chains of gradient transformations, with PyTorch names, arguments and defaults.

Example:
    >>> import descentlab as dl
    >>> w = dl.nn.Parameter([1.0, -2.0])
    >>> opt = dl.optim.get("adam", [w], lr=0.1)
"""

from __future__ import annotations

from typing import Any

from descentlab.optim import registry, transforms
from descentlab.optim.lbfgs import LBFGS
from descentlab.optim.optimizer import Optimizer, get_num_threads, set_num_threads
from descentlab.optim.optimizers import (
    ASGD,
    SGD,
    Adadelta,
    Adagrad,
    Adam,
    Adamax,
    AdamW,
    Lion,
    NAdam,
    RAdam,
    RMSprop,
    Rprop,
)
from descentlab.optim.registry import OptimizerSpec, available, get, register

__all__ = [
    "transforms", "registry", "Optimizer", "set_num_threads", "get_num_threads", "OptimizerSpec",
    "get", "available", "register",
    "SGD", "Adagrad", "RMSprop", "Adadelta", "Adam", "AdamW", "Adamax", "NAdam", "RAdam",
    "Rprop", "ASGD", "LBFGS", "Lion",
]  # fmt: skip


def __getattr__(name: str) -> Any:
    # Schedules and scheduler objects load on first use (they are separate modules).
    import importlib

    if name in {"schedules", "lr_scheduler"}:
        return importlib.import_module(f"descentlab.optim.{name}")
    raise AttributeError(f"module 'descentlab.optim' has no attribute {name!r}")
