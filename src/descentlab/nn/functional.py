"""Functional interface (`descentlab.nn.functional`, imported as F like `torch.nn.functional`).

Convention: the functions that `torch.nn.functional` also has take PyTorch's argument names and
order, so keyword calls written for PyTorch work: the input is `input=` (the ops name it `x`),
`inplace=` is accepted where PyTorch has it (and, as in the nn layers, never computes in place),
and softmax / log_softmax / softmin take `dim` with PyTorch's deprecated implicit choice when it
is None. Randomness (dropout's `generator=`) is keyword-only, after PyTorch's arguments.

Example:
    >>> import descentlab.nn.functional as F
    >>> F.relu(input=descentlab.tensor([-1.0, 2.0]), inplace=False).data.tolist()
    [0.0, 2.0]
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

from descentlab.nn.embedding import embedding  # noqa: F401
from descentlab.ops import *  # noqa: F403
from descentlab.ops import __all__ as _ops_all
from descentlab.ops import activation as _act
from descentlab.ops.conv import conv1d, conv2d, conv_transpose1d, conv_transpose2d  # noqa: F401
from descentlab.ops.dropout import alpha_dropout, dropout, dropout1d, dropout2d  # noqa: F401
from descentlab.ops.loss import *  # noqa: F403  (every PyTorch-named loss: cross_entropy, mse_loss, ...)
from descentlab.ops.loss import __all__ as _loss_all
from descentlab.ops.normalization import batch_norm, group_norm, layer_norm, rms_norm  # noqa: F401
from descentlab.ops.pool import (  # noqa: F401
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    avg_pool1d,
    avg_pool2d,
    max_pool1d,
    max_pool2d,
    max_unpool1d,
    max_unpool2d,
)
from descentlab.tensor import Tensor

_layers = [
    "embedding", "conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d", "alpha_dropout",
    "dropout", "dropout1d", "dropout2d", "batch_norm", "group_norm", "layer_norm", "rms_norm",
    "adaptive_avg_pool1d", "adaptive_avg_pool2d", "avg_pool1d", "avg_pool2d", "max_pool1d",
    "max_pool2d", "max_unpool1d", "max_unpool2d",
]  # fmt: skip
__all__ = [*_ops_all, *[n for n in _loss_all if n not in _ops_all], *_layers, "one_hot"]

_P = inspect.Parameter


def _torch_arguments(fn: Callable[..., Tensor], inplace: bool = False) -> Callable[..., Tensor]:
    """`fn(x, ...)` under PyTorch's argument names: `input` first, then `fn`'s own arguments, then
    `inplace` (accepted, ignored) where PyTorch has it; `generator` becomes keyword-only."""
    sig = inspect.signature(fn)
    first, *rest = sig.parameters.values()
    own = [p for p in rest if p.name != "generator"]
    params = [first.replace(name="input"), *own]
    if inplace:
        params.append(_P("inplace", _P.POSITIONAL_OR_KEYWORD, default=False, annotation="bool"))
    params += [p.replace(kind=_P.KEYWORD_ONLY) for p in rest if p.name == "generator"]
    torch_sig = sig.replace(parameters=params)
    n_plain = 1 + len(own)  # positional calls this long, without keywords, pass straight through

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Tensor:
        if not kwargs and len(args) <= n_plain:
            return fn(*args)
        try:
            bound = torch_sig.bind(*args, **kwargs).arguments
        except TypeError as err:
            raise TypeError(f"{fn.__name__}{torch_sig}: {err}") from None
        if not isinstance(bound.pop("inplace", False), bool):
            raise TypeError(
                f"{fn.__name__}: inplace must be a bool (PyTorch's argument after "
                f"{params[len(own)].name}){'; pass generator= by keyword' if rest != own else ''}"
            )
        return fn(bound.pop("input"), **bound)

    call.__signature__ = torch_sig  # type: ignore[attr-defined]
    return call


_INPLACE = ["relu", "relu6", "elu", "selu", "celu", "silu", "mish", "hardsigmoid", "hardswish",
            "hardtanh", "leaky_relu", "dropout", "dropout1d", "dropout2d", "alpha_dropout"]  # fmt: skip
_INPUT = ["sigmoid", "tanh", "gelu", "softplus", "softsign", "logsigmoid", "prelu", "linear", "pad",
          "conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d", "batch_norm", "group_norm",
          "layer_norm", "rms_norm", "adaptive_avg_pool1d", "adaptive_avg_pool2d", "avg_pool1d",
          "avg_pool2d", "max_pool1d", "max_pool2d", "max_unpool1d", "max_unpool2d"]  # fmt: skip
for _name in _INPLACE + _INPUT:
    globals()[_name] = _torch_arguments(globals()[_name], inplace=_name in _INPLACE)
del _name


def _softmax_dim(name: str, input: Any, dim: int | None, stacklevel: int) -> int:
    return _act.implicit_softmax_dim(name, input.ndim, stacklevel + 1) if dim is None else dim


def softmax(input: Any, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None) -> Tensor:
    """exp(x_i) / sum_j exp(x_j) along `dim` (PyTorch's `F.softmax`); `dtype` casts the input
    first. dim=None: PyTorch's implicit dim (0 for 0-D, 1-D, 3-D input, else 1), with a warning.

    Example:
        >>> F.softmax(descentlab.zeros(1, 2), dim=1).data.tolist()
        [[0.5, 0.5]]
    """
    dim = _softmax_dim("softmax", input, dim, _stacklevel)
    return _act.softmax(input if dtype is None else input.astype(dtype), dim=dim)


def log_softmax(input: Any, dim: int | None = None, _stacklevel: int = 3,
                dtype: Any = None) -> Tensor:  # fmt: skip
    """x_i - logsumexp(x) along `dim` (PyTorch's `F.log_softmax`; dim=None and dtype as softmax).

    Example:
        >>> F.log_softmax(descentlab.zeros(1, 2), dim=1).exp().data.tolist()
        [[0.5, 0.5]]
    """
    dim = _softmax_dim("log_softmax", input, dim, _stacklevel)
    return _act.log_softmax(input if dtype is None else input.astype(dtype), dim=dim)


def softmin(input: Any, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None) -> Tensor:
    """softmax(-x) along `dim` (PyTorch's `F.softmin`; dim=None and dtype as softmax).

    Example:
        >>> F.softmin(descentlab.tensor([[0.0, 0.0]]), dim=1).data.tolist()
        [[0.5, 0.5]]
    """
    dim = _softmax_dim("softmin", input, dim, _stacklevel)
    return _act.softmin(input if dtype is None else input.astype(dtype), dim=dim)


def one_hot(tensor: Any, num_classes: int = -1) -> Tensor:
    """Class indices (any shape) -> int64 one-hot tensor with a new last axis of `num_classes`.

    out[..., k] = 1 where tensor == k. num_classes=-1 uses max(tensor) + 1. Not differentiable
    (the result is integer).

    Convention: torch.nn.functional.one_hot's name, arguments, int64 result and error words
    (ValueError for bad values, TypeError for a non-integer input, where torch raises
    RuntimeError). Any integer dtype is accepted, where torch wants int64; NumPy arrays too,
    such as DataLoader label batches. (`descentlab.data.one_hot` is the float, Keras-style one.)

    Example:
        >>> F.one_hot(descentlab.tensor([0, 2]), num_classes=3).tolist()
        [[1, 0, 0], [0, 0, 1]]
    """
    labels = tensor.data if isinstance(tensor, Tensor) else np.asarray(tensor)
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)):
        raise TypeError(f"one_hot(): num_classes must be an int, got {num_classes!r}")
    if labels.dtype.kind not in "iu":
        raise TypeError(
            "one_hot is only applicable to index tensor of type LongTensor (integer class "
            f"indices), got dtype {labels.dtype}; convert the labels with .long()"
        )
    if labels.size == 0:
        if num_classes <= 0:
            raise ValueError(
                "Can not infer total number of classes from empty tensor; pass num_classes"
            )
        return Tensor(np.zeros((*labels.shape, num_classes), dtype=np.int64))
    if labels.min() < 0:
        raise ValueError(f"Class values must be non-negative, got {labels.min()}")
    if num_classes == -1:
        num_classes = int(labels.max()) + 1
    elif labels.max() >= num_classes:
        raise ValueError(
            f"Class values must be smaller than num_classes, got class {labels.max()} for "
            f"num_classes={num_classes}"
        )
    return Tensor((labels[..., None] == np.arange(num_classes)).astype(np.int64))
