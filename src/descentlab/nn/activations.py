"""Activations by name, for the Keras-style API: `get('relu')` returns a module.

Names follow Keras where it has one ('relu', 'sigmoid', 'tanh', 'softmax', 'elu', 'selu', 'gelu',
'swish', 'silu', 'softplus', 'softsign', 'hard_sigmoid', 'linear', ...) and also accept the PyTorch
spellings ('leaky_relu', 'hardsigmoid', 'logsigmoid', ...). Defaults are the PyTorch ones
(e.g. leaky_relu slope 0.01; Keras's is 0.2): pass keyword arguments to override them,
`get('leaky_relu', negative_slope=0.2)`. One exception: 'softmax', 'log_softmax' and 'softmin'
by name work over the last axis (dim=-1, as Keras' activations), not with PyTorch's implicit,
deprecated choice of dim.

Example:
    >>> get("relu")
    ReLU()
    >>> get("rleu")
    Traceback (most recent call last):
    ValueError: unknown activation 'rleu'; did you mean 'relu', 'relu6', 'prelu'? known names: ...
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any

from descentlab.nn import activation as A
from descentlab.nn.linear import Identity
from descentlab.nn.module import Module

__all__ = ["get", "names", "ACTIVATIONS"]

ACTIVATIONS: dict[str, Callable[..., Module]] = {
    "linear": Identity, "identity": Identity, "relu": A.ReLU, "relu6": A.ReLU6,
    "leaky_relu": A.LeakyReLU, "prelu": A.PReLU, "elu": A.ELU, "selu": A.SELU, "celu": A.CELU,
    "gelu": A.GELU, "silu": A.SiLU, "swish": A.SiLU, "mish": A.Mish, "sigmoid": A.Sigmoid,
    "tanh": A.Tanh, "softplus": A.Softplus, "softsign": A.Softsign, "hard_sigmoid": A.Hardsigmoid,
    "hardsigmoid": A.Hardsigmoid, "hardtanh": A.Hardtanh, "hard_tanh": A.Hardtanh,
    "hard_swish": A.Hardswish, "hardswish": A.Hardswish, "log_sigmoid": A.LogSigmoid,
    "logsigmoid": A.LogSigmoid, "softmax": A.Softmax, "log_softmax": A.LogSoftmax,
    "softmin": A.Softmin,
}  # fmt: skip


_LAST_AXIS = ("softmax", "log_softmax", "softmin")


def names() -> list[str]:
    """Every name `get` accepts, sorted."""
    return sorted(ACTIVATIONS)


def get(identifier: str | Module | Callable[..., Any] | None, **kwargs: Any) -> Any:
    """The activation called `identifier` as a fresh module; a Module or callable is returned as
    is and None gives Identity. Names are case-insensitive; '-' and ' ' count as '_'.

    Raises ValueError listing the closest names for an unknown one.
    """
    if identifier is None:
        return Identity()
    if isinstance(identifier, Module) or (callable(identifier) and not isinstance(identifier, str)):
        if kwargs:
            raise ValueError("activations.get: keyword arguments only apply to a name")
        return identifier
    if not isinstance(identifier, str):
        raise TypeError(
            f"activations.get: expected a name, a Module or a callable, got {type(identifier).__name__}"
        )
    key = identifier.strip().lower().replace("-", "_").replace(" ", "_")
    if key not in ACTIVATIONS:
        close = difflib.get_close_matches(key, ACTIVATIONS, n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(repr(c) for c in close)}? " if close else ""
        raise ValueError(
            f"unknown activation {identifier!r}; {hint}known names: {', '.join(names())}"
        )
    if key in _LAST_AXIS:
        kwargs.setdefault("dim", -1)
    return ACTIVATIONS[key](**kwargs)
