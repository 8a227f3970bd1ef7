"""Differentiable functions, and the Tensor operators and methods built on them."""

from __future__ import annotations

from typing import Any

import numpy as np

from descentlab.ops.activation import (  # fmt: skip
    celu,
    elu,
    gelu,
    hardsigmoid,
    hardswish,
    hardtanh,
    leaky_relu,
    log_softmax,
    logsigmoid,
    mish,
    prelu,
    relu,
    relu6,
    selu,
    sigmoid,
    silu,
    softmax,
    softmin,
    softplus,
    softsign,
    swish,
    tanh,
)
from descentlab.ops.loss import softmax_cross_entropy
from descentlab.ops.math import (
    abs,
    add,
    clamp,
    clip,
    cos,
    div,
    exp,
    linear,
    log,
    log1p,
    matmul,
    maximum,
    minimum,
    mul,
    neg,
    pow,
    sin,
    sqrt,
    sub,
    where,
)
from descentlab.ops.reduce import (
    amax,
    amin,
    argmax,
    argmin,
    logsumexp,
    max,
    mean,
    min,
    prod,
    std,
    sum,
    var,
)
from descentlab.ops.shape import (
    broadcast_to,
    cat,
    concat,
    expand,
    flatten,
    getitem,
    pad,
    permute,
    reshape,
    split,
    squeeze,
    stack,
    transpose,
    unsqueeze,
)
from descentlab.tensor import Tensor

__all__ = [
    "abs", "add", "amax", "amin", "argmax", "argmin", "broadcast_to", "cat", "clamp", "clip",
    "concat", "cos", "div", "exp", "expand", "flatten", "getitem", "linear", "log", "log1p",
    "log_softmax", "logsumexp", "matmul", "max", "maximum", "mean", "min", "minimum", "mul", "neg",
    "pad", "permute", "pow", "prod", "relu", "reshape", "sigmoid", "sin", "softmax", "softmin",
    "softmax_cross_entropy", "split", "sqrt", "squeeze", "stack", "std", "sub", "sum", "tanh",
    "transpose", "unsqueeze", "var", "where",
    "celu", "elu", "gelu", "hardsigmoid", "hardswish", "hardtanh", "leaky_relu", "logsigmoid",
    "mish", "prelu", "relu6", "selu", "silu", "softplus", "softsign", "swish",
]  # fmt: skip


def _compare(op: Any) -> Any:
    def method(self: Tensor, other: Any) -> Tensor:
        other = other.data if isinstance(other, Tensor) else other
        return Tensor(op(self.data, other))

    return method


def _install_tensor_methods() -> None:
    """Attach operators and methods to Tensor (ops import tensor.py, so this goes this way round)."""
    T = Tensor
    T.__add__ = lambda a, b: add(a, b)
    T.__radd__ = lambda a, b: add(b, a)
    T.__sub__ = lambda a, b: sub(a, b)
    T.__rsub__ = lambda a, b: sub(b, a)
    T.__mul__ = lambda a, b: mul(a, b)
    T.__rmul__ = lambda a, b: mul(b, a)
    T.__truediv__ = lambda a, b: div(a, b)
    T.__rtruediv__ = lambda a, b: div(b, a)
    T.__pow__ = lambda a, b: pow(a, b)
    T.__rpow__ = lambda a, b: pow(Tensor._wrap(np.asarray(b, dtype=a.dtype), False), a)
    T.__matmul__ = lambda a, b: matmul(a, b)
    T.__rmatmul__ = lambda a, b: matmul(b, a)
    T.__neg__ = lambda a: neg(a)
    T.__abs__ = lambda a: abs(a)
    T.__getitem__ = lambda a, index: getitem(a, index)
    T.__lt__ = _compare(np.less)
    T.__le__ = _compare(np.less_equal)
    T.__gt__ = _compare(np.greater)
    T.__ge__ = _compare(np.greater_equal)
    T.__eq__ = _compare(np.equal)
    T.__ne__ = _compare(np.not_equal)
    T.T = property(lambda a: transpose(a))
    T.mT = property(lambda a: transpose(a, -2, -1))
    for name in (
        "abs", "exp", "log", "log1p", "sqrt", "sin", "cos", "tanh", "sigmoid", "relu", "sum",
        "mean", "var", "std", "max", "min", "amax", "amin", "prod", "logsumexp", "softmax",
        "log_softmax", "argmax", "argmin", "reshape", "permute", "transpose", "flatten", "squeeze",
        "unsqueeze", "expand", "broadcast_to", "split", "matmul", "maximum", "minimum", "clip",
        "clamp", "pow",
    ):  # fmt: skip
        setattr(T, name, globals()[name])
    T.view = reshape
    T.neg = neg
    T.where = lambda a, condition, other: where(condition, a, other)  # torch: a if cond else other


_install_tensor_methods()
