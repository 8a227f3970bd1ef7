"""descentlab: a deep-learning framework written from the loss function up, on NumPy.

`import descentlab` imports only NumPy; plotting, datasets and progress bars load lazily.

Example:
    >>> import descentlab as dl
    >>> x = dl.tensor([1.0, 2.0], requires_grad=True)
    >>> (x ** 2).sum().backward()
    >>> x.grad
    array([2., 4.], dtype=float32)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from descentlab import backends, cuda, ops
from descentlab.device import check_device
from descentlab.device import device as device  # the class `dl.device`, replacing the module name
from descentlab.gradcheck import GradcheckError, gradcheck
from descentlab.ops import *  # noqa: F403
from descentlab.random import get_rng_state, manual_seed, set_rng_state
from descentlab.tensor import (
    Function,
    Tensor,
    as_tensor,
    enable_grad,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
    tensor,
)

__version__ = "0.1.0"

float16, float32, float64 = np.float16, np.float32, np.float64
int32, int64, bool_ = np.int32, np.int64, np.bool_


def _shape(shape: tuple[Any, ...]) -> tuple[int, ...]:
    # zeros(2, 3) and zeros((2, 3)) alike, as torch.
    return tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape


def _factory(fill: Any, what: str) -> Any:
    def make(*shape: Any, dtype: Any = np.float32, device: Any = None,
             requires_grad: bool = False) -> Tensor:  # fmt: skip
        check_device(device)
        return Tensor(fill(_shape(shape), dtype), requires_grad=requires_grad)

    make.__doc__ = (
        f"""A tensor of {what} of the given shape (`device`: "cpu" or None, see `device`)."""
    )
    return make


zeros = _factory(lambda s, d: np.zeros(s, dtype=d), "zeros")
ones = _factory(lambda s, d: np.ones(s, dtype=d), "ones")
empty = _factory(lambda s, d: np.empty(s, dtype=d), "uninitialised values")


def full(size: Any, fill_value: Any, *, dtype: Any = None, device: Any = None,
         requires_grad: bool = False) -> Tensor:  # fmt: skip
    """A tensor of `size` filled with `fill_value` (torch.full: a float fills float32, an int
    int64, a bool bool, unless `dtype` is given).

    Example:
        >>> full((2,), 7).tolist(), full((1,), 0.5).dtype
        ([7, 7], dtype('float32'))
    """
    check_device(device)
    size = (size,) if isinstance(size, (int, np.integer)) else tuple(size)
    if dtype is None and isinstance(fill_value, float):
        dtype = np.float32  # PyTorch's default float, as for dl.tensor(0.5)
    return Tensor(np.full(size, fill_value, dtype=dtype), requires_grad=requires_grad)


def randn(*shape: Any, dtype: Any = np.float32, requires_grad: bool = False,
          generator: np.random.Generator | None = None, device: Any = None) -> Tensor:  # fmt: skip
    """Standard normal samples from the seeded generator."""
    from descentlab.random import resolve

    check_device(device)
    data = resolve(generator).standard_normal(_shape(shape)).astype(dtype)
    return Tensor(data, requires_grad=requires_grad)


def rand(*shape: Any, dtype: Any = np.float32, requires_grad: bool = False,
         generator: np.random.Generator | None = None, device: Any = None) -> Tensor:  # fmt: skip
    """Uniform [0, 1) samples from the seeded generator."""
    from descentlab.random import resolve

    check_device(device)
    data = resolve(generator).random(_shape(shape)).astype(dtype)
    return Tensor(data, requires_grad=requires_grad)


def _like(t: Any, values: Any, dtype: Any, device: Any, requires_grad: bool) -> Tensor:
    """A new tensor with t's shape, holding `values(shape, dtype)`, in t's dtype unless given."""
    check_device(device)
    source = t.data if isinstance(t, Tensor) else np.asarray(t)
    dtype = source.dtype if dtype is None else np.dtype(dtype)
    return Tensor(np.asarray(values(source.shape, dtype), dtype=dtype), requires_grad=requires_grad)


def _floating(dtype: np.dtype, who: str) -> bool:
    if not np.issubdtype(dtype, np.floating):
        raise TypeError(f"{who}: random samples need a floating dtype, got {dtype}; pass dtype=")
    return True


def zeros_like(t: Tensor, requires_grad: bool = False, *, dtype: Any = None,
               device: Any = None) -> Tensor:  # fmt: skip
    """Zeros with the shape (and dtype, unless given) of `t` (torch.zeros_like)."""
    return _like(t, np.zeros, dtype, device, requires_grad)


def ones_like(t: Tensor, requires_grad: bool = False, *, dtype: Any = None,
              device: Any = None) -> Tensor:  # fmt: skip
    """Ones with the shape (and dtype, unless given) of `t` (torch.ones_like)."""
    return _like(t, np.ones, dtype, device, requires_grad)


def empty_like(t: Tensor, requires_grad: bool = False, *, dtype: Any = None,
               device: Any = None) -> Tensor:  # fmt: skip
    """An uninitialised tensor with the shape (and dtype, unless given) of `t`."""
    return _like(t, np.empty, dtype, device, requires_grad)


def full_like(t: Tensor, fill_value: Any, requires_grad: bool = False, *, dtype: Any = None,
              device: Any = None) -> Tensor:  # fmt: skip
    """`fill_value` everywhere, with the shape (and dtype, unless given) of `t`.

    Example:
        >>> full_like(zeros(2, 2), 3.0).tolist()
        [[3.0, 3.0], [3.0, 3.0]]
    """
    return _like(t, lambda shape, dt: np.full(shape, fill_value, dt), dtype, device, requires_grad)


def rand_like(t: Tensor, requires_grad: bool = False, *, dtype: Any = None, device: Any = None,
              generator: np.random.Generator | None = None) -> Tensor:  # fmt: skip
    """Uniform [0, 1) samples with the shape (and floating dtype) of `t`, from the seeded
    generator (torch.rand_like)."""
    from descentlab.random import resolve

    return _like(t, lambda shape, dt: _floating(dt, "rand_like") and resolve(generator).random(shape),
                 dtype, device, requires_grad)  # fmt: skip


def randn_like(t: Tensor, requires_grad: bool = False, *, dtype: Any = None, device: Any = None,
               generator: np.random.Generator | None = None) -> Tensor:  # fmt: skip
    """Standard normal samples with the shape (and floating dtype) of `t` (torch.randn_like)."""
    from descentlab.random import resolve

    return _like(t, lambda shape, dt: _floating(dt, "randn_like") and resolve(generator).standard_normal(shape),
                 dtype, device, requires_grad)  # fmt: skip


def arange(*args: Any, dtype: Any = None, device: Any = None) -> Tensor:
    """Evenly spaced values in [start, end) (np.arange's dtype rules)."""
    check_device(device)
    return Tensor(np.arange(*args, dtype=dtype))


def __getattr__(name: str) -> Any:
    # Sub-packages load on first use so that `import descentlab` stays NumPy-only.
    import importlib

    if name in {"nn", "optim", "losses", "data", "train", "keras", "lab", "io", "cli"}:
        return importlib.import_module(f"descentlab.{name}")
    if name in {"fit", "evaluate", "predict"}:
        return getattr(importlib.import_module("descentlab.train"), name)
    if name in {"save", "load", "save_checkpoint", "load_checkpoint"}:
        return getattr(importlib.import_module("descentlab.io"), name)
    raise AttributeError(f"module 'descentlab' has no attribute {name!r}")
