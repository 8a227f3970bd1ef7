"""The optimizer registry: name -> constructor, default hyperparameters, lr search range, description.

The lab, the CLI listings and the parametrised tests are driven by it; adding an optimizer is one
transformation plus one `register(OptimizerSpec(...))`. Keras-convention optimizers register
themselves as "keras.<name>" in `descentlab.keras.optimizers`; `available()`, `spec()` and `get()`
import that module on first use, so `get("keras.adam", params)` works without importing it first.

Example:
    >>> import numpy as np, descentlab as dl
    >>> w = dl.nn.Parameter(np.zeros(2))
    >>> opt = dl.optim.get("momentum", [w], lr=0.05)
    >>> type(opt).__name__, opt.param_groups[0]["momentum"]
    ('SGD', 0.9)
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from descentlab.optim.lbfgs import LBFGS
from descentlab.optim.optimizer import Optimizer
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

__all__ = ["OptimizerSpec", "REGISTRY", "register", "available", "get", "spec"]


@dataclass(frozen=True)
class OptimizerSpec:
    """One registry entry.

    Attributes:
        name: registry key ("adam", "keras.adam").
        constructor: called as constructor(params, **{**defaults, **overrides}).
        defaults: hyperparameters that define this entry (e.g. momentum=0.9 for "momentum").
        lr_range: a sensible (low, high) learning-rate search range, log-uniform.
        description: one line for listings.
        convention: "torch" or "keras".
    """

    name: str
    constructor: Callable[..., Any]
    defaults: dict[str, Any] = field(default_factory=dict)
    lr_range: tuple[float, float] = (1e-4, 1e-1)
    description: str = ""
    convention: str = "torch"

    def __post_init__(self) -> None:
        if self.convention not in ("torch", "keras"):
            raise ValueError(f"convention must be 'torch' or 'keras', got {self.convention!r}")
        lo, hi = self.lr_range
        if not 0 < lo <= hi:
            raise ValueError(f"lr_range must satisfy 0 < low <= high, got {self.lr_range!r}")


REGISTRY: dict[str, OptimizerSpec] = {}


def register(entry: OptimizerSpec, overwrite: bool = False) -> OptimizerSpec:
    """Add an optimizer to the registry (ValueError when the name is taken, unless overwrite)."""
    if not isinstance(entry, OptimizerSpec):
        raise TypeError(f"register() expects an OptimizerSpec, got {type(entry).__name__}")
    if entry.name in REGISTRY and not overwrite and REGISTRY[entry.name] != entry:
        raise ValueError(f"optimizer {entry.name!r} is already registered; pass overwrite=True")
    REGISTRY[entry.name] = entry
    return entry


_plugins_loaded = False


def _load_plugins() -> None:
    """Import `descentlab.keras.optimizers` once, which registers the "keras.<name>" entries.

    A lazy import from a higher layer, on purpose: optim stays free of keras at import time, and
    the registry is still complete wherever a name is looked up.
    """
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    try:
        import descentlab.keras.optimizers  # noqa: F401
    except ModuleNotFoundError as exc:  # a trimmed install without the Keras facade
        if exc.name not in ("descentlab.keras", "descentlab.keras.optimizers"):
            raise


def available() -> list[str]:
    """The registered names, sorted ("keras.*" entries included)."""
    _load_plugins()
    return sorted(REGISTRY)


def spec(name: str) -> OptimizerSpec:
    """The entry for `name`; a ValueError lists close matches when it is unknown."""
    _load_plugins()
    key = name.lower() if isinstance(name, str) else name
    if key not in REGISTRY:
        close = difflib.get_close_matches(str(name).lower(), list(REGISTRY), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else "."
        raise ValueError(f"unknown optimizer {name!r}{hint} Available: {', '.join(available())}")
    return REGISTRY[key]


def get(name: str, params: Iterable[Any], **hyper: Any) -> Optimizer:
    """Build a registered optimizer: its defaults, overridden by `hyper`.

    Example:
        >>> opt = get("adam", model.parameters(), lr=3e-4)  # doctest: +SKIP
    """
    entry = spec(name)
    return entry.constructor(params, **{**entry.defaults, **hyper})


# Default learning rates are chosen for small problems (the lab's 2-D functions, small MLPs): every
# entry converges on a quadratic and on Rosenbrock from (-1.2, 1) with them (tests/test_optim_behaviour.py).
# Plain SGD and ASGD keep PyTorch's 1e-3, the most Rosenbrock's curvature (~1000) allows.
# `fit(optimizer="adam")` takes an entry's other hyperparameters but the class's own default lr
# (PyTorch's, or Keras' for "keras.*"), which is what users of those libraries expect there.
def _builtin(name: str, ctor: Callable[..., Any], lr: float, lr_range: tuple[float, float],
             description: str, **defaults: Any) -> None:  # fmt: skip
    register(OptimizerSpec(name, ctor, {"lr": lr, **defaults}, lr_range, description, "torch"))


_builtin("sgd", SGD, 1e-3, (1e-4, 1.0), "plain gradient descent: p -= lr * g")
_builtin("momentum", SGD, 1e-3, (1e-4, 0.5),
         "SGD with heavy-ball momentum 0.9: past gradients as inertia", momentum=0.9)  # fmt: skip
_builtin("nesterov", SGD, 1e-3, (1e-4, 0.5),
         "SGD with Nesterov momentum 0.9: look ahead before stepping", momentum=0.9, nesterov=True)  # fmt: skip
_builtin("adagrad", Adagrad, 1e-1, (1e-3, 1.0),
         "AdaGrad: per-coordinate steps that shrink with the squared-gradient sum")  # fmt: skip
_builtin("rmsprop", RMSprop, 1e-3, (1e-4, 1e-1),
         "RMSProp: AdaGrad with a moving average, so the step stops shrinking")  # fmt: skip
_builtin("adadelta", Adadelta, 1.0, (1e-2, 10.0),
         "Adadelta: steps in the units of past steps, lr=1 by design")  # fmt: skip
_builtin("adam", Adam, 1e-2, (1e-5, 1e-1), "Adam: RMSProp + momentum with bias correction")
_builtin("amsgrad", Adam, 1e-2, (1e-5, 1e-1),
         "AMSGrad: Adam with a non-decreasing second moment", amsgrad=True)  # fmt: skip
_builtin("adamw", AdamW, 1e-2, (1e-5, 1e-1), "AdamW: Adam with decoupled weight decay (1e-2)")
_builtin("adamax", Adamax, 1e-2, (1e-5, 1e-1), "Adamax: Adam with the infinity norm")
_builtin("nadam", NAdam, 1e-2, (1e-5, 1e-1), "NAdam: Adam with Nesterov momentum")
_builtin("radam", RAdam, 1e-3, (1e-5, 1e-1),
         "RAdam: Adam with a rectified warm-up of the adaptive term")  # fmt: skip
_builtin("rprop", Rprop, 1e-2, (1e-4, 1e-1),
         "Rprop: sign-based per-coordinate step sizes (full batch)")  # fmt: skip
_builtin("asgd", ASGD, 1e-3, (1e-4, 1.0), "averaged SGD: decaying step, Polyak averaging")
_builtin("lbfgs", LBFGS, 1.0, (1e-2, 1.0),
         "L-BFGS quasi-Newton with strong-Wolfe line search; step(closure) required",
         line_search_fn="strong_wolfe")  # fmt: skip
_builtin("lion", Lion, 1e-3, (1e-6, 1e-2), "Lion: the sign of an interpolated momentum")
