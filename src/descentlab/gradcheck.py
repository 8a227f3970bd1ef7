"""Numerical gradient checking with central differences in float64."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from descentlab.tensor import Tensor, no_grad

__all__ = ["gradcheck", "GradcheckError"]


class GradcheckError(AssertionError):
    """Raised when an analytic gradient disagrees with its finite-difference estimate."""


def gradcheck(
    fn: Callable[..., Tensor],
    *inputs: Any,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-4,
    seed: int = 0,
) -> bool:
    """Compare backward() with central differences (f(x+eps) - f(x-eps)) / 2eps, in float64.

    Floating inputs are copied to float64 tensors that require gradients; other inputs (integer
    labels, Python values) pass through unchanged. A non-scalar output is reduced with a fixed random
    weighting `sum(out * v)`, which checks the vector-Jacobian product backward actually computes.
    Returns True, or raises `GradcheckError` naming the input and element with the worst mismatch.

    Example:
        >>> gradcheck(lambda x: (x * x).sum(), np.random.randn(3, 4))
        True
    """
    args: list[Any] = []
    checked: list[int] = []
    for i, x in enumerate(inputs):
        arr = x.data if isinstance(x, Tensor) else x
        if isinstance(arr, np.ndarray) and np.issubdtype(arr.dtype, np.floating):
            args.append(Tensor(arr.astype(np.float64), requires_grad=True))
            checked.append(i)
        else:
            args.append(x)
    if not checked:
        raise ValueError("gradcheck: no floating-point input to check")

    out = fn(*args)
    if not isinstance(out, Tensor):
        raise TypeError(f"gradcheck: fn must return a Tensor, got {type(out).__name__}")
    v = np.random.default_rng(seed).standard_normal(out.shape)

    def objective() -> float:
        with no_grad():  # only values are needed: recording a graph per evaluation is waste
            return float(np.sum(fn(*args).data.astype(np.float64) * v))

    if out.requires_grad:  # otherwise the analytic gradient is zero, and must be numerically
        out.backward(v)
    for i in checked:
        t = args[i]
        analytic = np.zeros_like(t.data) if t.grad is None else t.grad
        numeric = np.zeros_like(t.data)
        flat = t.data.reshape(-1)
        for k in range(flat.size):
            orig = flat[k]
            flat[k] = orig + eps
            plus = objective()
            flat[k] = orig - eps
            minus = objective()
            flat[k] = orig
            numeric.reshape(-1)[k] = (plus - minus) / (2 * eps)
        err = np.abs(analytic - numeric) - (atol + rtol * np.abs(numeric))
        if err.size and err.max() > 0:
            worst = np.unravel_index(int(np.argmax(err)), err.shape)
            raise GradcheckError(
                f"gradcheck failed for input {i} (shape {t.shape}) at element {tuple(map(int, worst))}: "
                f"analytic {analytic[worst]:.10g} vs numeric {numeric[worst]:.10g} "
                f"(atol={atol}, rtol={rtol}; {int((err > 0).sum())} of {err.size} elements off)"
            )
    return True
