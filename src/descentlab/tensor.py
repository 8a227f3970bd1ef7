"""Tensor, Function and reverse-mode automatic differentiation.

A `Tensor` wraps one `np.ndarray` (`.data`). Operations on tensors that require gradients record a
`Function` node; `Tensor.backward()` walks that graph once, in reverse topological order, and
accumulates gradients into the leaves' `.grad` (PyTorch semantics: define-by-run, leaf accumulation,
graph freed after backward unless `retain_graph=True`).

Example:
    >>> import descentlab as dl
    >>> x = dl.tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> y = (x * x).sum()
    >>> y.backward()
    >>> x.grad
    array([2., 4., 6.], dtype=float32)
"""

from __future__ import annotations

import contextlib
import itertools
import threading
from collections.abc import Iterator, Sequence
from operator import attrgetter
from typing import Any

import numpy as np

from descentlab.device import CPU, check_device, cpu_only_error, parse_to
from descentlab.device import device as Device

__all__ = [
    "Function",
    "Tensor",
    "tensor",
    "as_tensor",
    "no_grad",
    "enable_grad",
    "set_grad_enabled",
    "is_grad_enabled",
    "sum_to",
]

DEFAULT_FLOAT = np.float32


class _GradMode(threading.local):
    grad_enabled = True  # class default: every thread starts with recording on


_state = _GradMode()


def is_grad_enabled() -> bool:
    """Whether operations currently record a graph for backward."""
    return _state.grad_enabled


@contextlib.contextmanager
def set_grad_enabled(mode: bool) -> Iterator[None]:
    """Context manager that turns graph recording on or off (like `torch.set_grad_enabled`)."""
    previous = is_grad_enabled()
    _state.grad_enabled = bool(mode)
    try:
        yield
    finally:
        _state.grad_enabled = previous


def no_grad() -> contextlib.AbstractContextManager[None]:
    """Context in which no graph is recorded: evaluation, optimizer updates."""
    return set_grad_enabled(False)


def enable_grad() -> contextlib.AbstractContextManager[None]:
    """Context that turns graph recording back on inside a `no_grad` block."""
    return set_grad_enabled(True)


def sum_to(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Undo broadcasting: sum `grad` down to `shape` (the one helper every backward uses)."""
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    axes = tuple(range(extra)) + tuple(
        i + extra for i, n in enumerate(shape) if n == 1 and grad.shape[i + extra] != 1
    )
    out = grad.sum(axis=axes, keepdims=True) if axes else grad
    if extra:
        out = out.reshape(out.shape[extra:])
    return out.reshape(shape)


_sequence = itertools.count()


class _FreedGraph:
    """Marker left in `Tensor._ctx` once backward has released the node's saved arrays."""

    __slots__ = ()


_FREED = _FreedGraph()


class Function:
    """One differentiable primitive: `forward(*arrays) -> array`, `backward(grad) -> grads`.

    Subclasses store what backward needs on `self` during forward. `backward` returns one gradient
    per tensor input (or None where no gradient flows); `self.needs_input_grad` says which are wanted.
    Call a function with `MyFunction.apply(*tensors, **constants)`.

    Contract for `backward`: never modify `grad` in place, and return new arrays or views of
    `grad`, never an array the Function keeps (saved values, constants): a leaf adopts a freshly
    allocated gradient array as its `.grad` without copying it.
    """

    inputs: tuple[Tensor, ...]
    needs_input_grad: tuple[bool, ...]

    def forward(self, *arrays: np.ndarray, **kwargs: Any) -> np.ndarray:
        raise NotImplementedError

    def backward(self, grad: np.ndarray) -> tuple[np.ndarray | None, ...] | np.ndarray | None:
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs: Any, **kwargs: Any) -> Tensor:
        # Inside models every input is already a Tensor: skip the coercion pass in that case.
        for x in inputs:
            if not isinstance(x, Tensor):
                inputs = _coerce_inputs(inputs)
                break
        fn = cls()
        fn.needs_input_grad = needs = tuple([t.requires_grad for t in inputs])
        out = fn.forward(*[t.data for t in inputs], **kwargs)
        result = Tensor._wrap(out, False)
        if True in needs and _state.grad_enabled:
            result.requires_grad = True
            fn.inputs = inputs
            fn._seq = next(_sequence)  # creation number: backward's topological order
            result._ctx = fn
        return result

    def __repr__(self) -> str:
        return f"<{type(self).__name__}Backward>"


def _is_scalar(x: Any) -> bool:
    return isinstance(x, (int, float, bool, np.number, np.bool_)) and not isinstance(x, np.ndarray)


def _coerce_inputs(inputs: Sequence[Any]) -> tuple[Tensor, ...]:
    """Turn array-likes into tensors; Python scalars take the dtype of the tensors beside them."""
    ref = next((x for x in inputs if isinstance(x, Tensor)), None)
    out = []
    for x in inputs:
        if isinstance(x, Tensor):
            out.append(x)
        elif _is_scalar(x) and ref is not None:
            out.append(Tensor._wrap(_scalar_like(x, ref.data), False))
        else:
            out.append(as_tensor(x))
    return tuple(out)


def _scalar_like(x: Any, ref: np.ndarray) -> np.ndarray:
    """A 0-d array holding `x` in the dtype an operation with `ref` should keep (weak scalars)."""
    if np.issubdtype(ref.dtype, np.floating) or np.issubdtype(ref.dtype, np.complexfloating):
        return np.asarray(x, dtype=ref.dtype)
    if isinstance(x, (float, np.floating)):
        return np.asarray(x, dtype=DEFAULT_FLOAT)
    if isinstance(x, (bool, np.bool_)) and ref.dtype == np.bool_:
        return np.asarray(x, dtype=np.bool_)
    return np.asarray(x, dtype=ref.dtype if ref.dtype != np.bool_ else np.int64)


def _to_array(data: Any, dtype: Any = None) -> np.ndarray:
    if isinstance(data, Tensor):
        data = data.data
    if dtype is not None:
        return np.asarray(data, dtype=dtype)
    if isinstance(data, np.ndarray):
        return data
    arr = np.asarray(data)
    # Python floats and lists of them become float32, as in PyTorch; NumPy arrays keep their dtype.
    if arr.dtype == np.float64:
        arr = arr.astype(DEFAULT_FLOAT)
    return arr


def _torch_to_numpy(value: Any) -> Any:
    """A torch tensor (or one of ours) as a NumPy array, anything else as it is: load_state_dict
    accepts PyTorch's tensors without importing torch."""
    if hasattr(value, "detach") and hasattr(value, "cpu"):
        return value.detach().cpu().numpy()
    return value


def _unwrap(obj: Any) -> Any:
    """Tensors (also inside lists, tuples and dicts) as their arrays."""
    if isinstance(obj, Tensor):
        return obj.data
    if isinstance(obj, (list, tuple)):
        return type(obj)(_unwrap(v) for v in obj)
    if isinstance(obj, dict):
        return {k: _unwrap(v) for k, v in obj.items()}
    return obj


class _Size(int):
    """An element count that is also PyTorch's `Tensor.size(dim=None)` (see `Tensor.size`)."""

    _shape: tuple[int, ...]

    def __new__(cls, count: int, shape: tuple[int, ...]) -> _Size:
        obj = super().__new__(cls, count)
        obj._shape = tuple(shape)
        return obj

    def __reduce__(self) -> tuple[Any, ...]:  # pickle / copy: both arguments, not int's one
        return (_Size, (int(self), self._shape))

    def __call__(self, dim: int | None = None) -> Any:
        if dim is None:
            return self._shape
        try:
            return self._shape[dim]
        except IndexError:
            raise IndexError(
                f"Dimension out of range (expected to be in range of [{-len(self._shape)}, "
                f"{len(self._shape) - 1}], but got {dim})"
            ) from None


class Tensor:
    """An n-dimensional array that can record the operations applied to it for backpropagation.

    Attributes:
        data: the values, an `np.ndarray`.
        grad: the accumulated gradient (`np.ndarray` of the same shape and dtype) or None.
        requires_grad: whether operations on this tensor are recorded.
    """

    __slots__ = ("data", "grad", "requires_grad", "_ctx", "__weakref__")
    __array_priority__ = 1000  # NumPy defers `ndarray + Tensor` to Tensor.__radd__.

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None) -> None:
        arr = _to_array(data, dtype)
        if requires_grad and not np.issubdtype(arr.dtype, np.inexact):
            raise TypeError(
                f"only floating-point tensors can require gradients, got dtype {arr.dtype}; "
                "pass dtype=np.float32 or float data"
            )
        self.data: np.ndarray = arr
        self.grad: np.ndarray | None = None
        self.requires_grad: bool = bool(requires_grad)
        self._ctx: Function | _FreedGraph | None = None

    @classmethod
    def _wrap(cls, data: np.ndarray, requires_grad: bool) -> Tensor:
        t = Tensor.__new__(Tensor)
        t.data = data if isinstance(data, np.ndarray) else np.asarray(data)
        t.grad = None
        t.requires_grad = requires_grad
        t._ctx = None
        return t

    # ----------------------------------------------------------------- properties
    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> _Size:
        """The number of elements (NumPy's `size`); called, PyTorch's `size()`: `t.size()` is
        the shape, `t.size(0)` its first dimension (`inputs.size(0)` in a training loop)."""
        return _Size(self.data.size, self.data.shape)

    def numel(self) -> int:
        """Number of elements."""
        return self.data.size

    def dim(self) -> int:
        """Number of dimensions (PyTorch name)."""
        return self.data.ndim

    @property
    def is_leaf(self) -> bool:
        """True for tensors not produced by a recorded operation (parameters, inputs)."""
        return self._ctx is None

    @property
    def grad_fn(self) -> Function | None:
        return self._ctx if isinstance(self._ctx, Function) else None

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="tensor(")
        extra = f", dtype={self.dtype}" if self.dtype not in (DEFAULT_FLOAT, np.int64) else ""
        if self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        """NumPy functions see a Tensor as its array: `np.mean(t)`, `np.sum(pred == yb)`,
        `np.concatenate([t, ...])` follow NumPy's semantics and return arrays, outside the
        graph, as on `np.asarray(t)` (NumPy would otherwise call the Tensor's own PyTorch-style
        `mean`/`std`, with NumPy's keywords)."""
        return func(*_unwrap(args), **_unwrap(kwargs))

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        # NumPy 2 protocol: copy=True for np.array(t) (honour it, or the result would alias .data),
        # None for np.asarray(t) (copy only when the dtype changes), False: never copy.
        if dtype is None or np.dtype(dtype) == self.data.dtype:
            return self.data.copy() if copy else self.data
        if copy is False:
            raise ValueError(
                f"cannot convert a {self.data.dtype} tensor to {np.dtype(dtype)} without a copy "
                "(copy=False)"
            )
        return self.data.astype(dtype)

    def __hash__(self) -> int:
        return id(self)

    def __bool__(self) -> bool:
        return bool(self.data)

    def __float__(self) -> float:
        return float(self.data)

    def __int__(self) -> int:
        return int(self.data)

    # ----------------------------------------------------------------- conversions
    def numpy(self) -> np.ndarray:
        """The underlying array (shared, not copied), as `torch.Tensor.numpy()` after detach."""
        return self.data

    def item(self) -> float | int | bool:
        """The single value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise ValueError(
                f"item() needs a tensor with exactly one element, got shape {self.shape}"
            )
        return self.data.item()

    def tolist(self) -> Any:
        return self.data.tolist()

    def detach(self) -> Tensor:
        """A tensor sharing the data but cut from the graph."""
        return Tensor._wrap(self.data, False)

    def clone(self) -> Tensor:
        """A copy of the data that stays in the graph."""
        from descentlab.ops.math import Identity

        return Identity.apply(self, copy=True)

    def astype(self, dtype: Any) -> Tensor:
        """Convert to another dtype (always a copy); a floating result stays in the graph, the
        gradient flowing back converted to the source dtype; an integer or bool result does not
        require grad (as torch's casts)."""
        from descentlab.ops.math import Cast

        dtype = np.dtype(dtype)
        if not np.issubdtype(dtype, np.inexact):
            return Tensor._wrap(self.data.astype(dtype), False)
        return Cast.apply(self, dtype=dtype)

    def to(self, *args: Any, **kwargs: Any) -> Tensor:
        """This tensor on `device` and/or in `dtype`: itself when nothing changes, else a cast.

        Convention: torch.Tensor.to's overloads `to(device=None, dtype=None, non_blocking=False,
        copy=False)`, `to(dtype, ...)` and `to(other_tensor, ...)`. The only device is the CPU:
        "cpu" is a no-op, "cuda"/"mps" raise a RuntimeError. `copy=True` always returns a new
        tensor (a `clone` when the dtype is kept). A cast to a floating dtype stays differentiable.

        Example:
            >>> x = descentlab.tensor([1.0, 2.0])
            >>> x.to("cpu") is x, x.to("cpu", descentlab.float64).dtype
            (True, dtype('float64'))
        """
        _, dtype, copy = parse_to(args, kwargs, "Tensor.to()")
        if dtype is None or dtype == self.data.dtype:
            return self.clone() if copy else self
        return self.astype(dtype)

    def cpu(self) -> Tensor:
        """This tensor (descentlab tensors are always on the CPU), as torch returns self there."""
        return self

    def cuda(self, device: Any = None, non_blocking: bool = False) -> Tensor:
        """Always a RuntimeError: descentlab computes on the CPU only (use `.to("cpu")`)."""
        raise cpu_only_error("cuda")

    @property
    def device(self) -> Device:
        """`descentlab.device("cpu")`: where every descentlab tensor lives."""
        return CPU

    @property
    def is_cuda(self) -> bool:
        """False: descentlab tensors are never on a CUDA device."""
        return False

    def float(self) -> Tensor:
        """float32 (the tensor itself when it already is, as torch)."""
        return self.to(np.float32)

    def double(self) -> Tensor:
        """float64 (the tensor itself when it already is)."""
        return self.to(np.float64)

    def long(self) -> Tensor:
        """int64 (the tensor itself when it already is)."""
        return self.to(np.int64)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set `requires_grad` in place (leaves only) and return self."""
        if not requires_grad and not self.is_leaf:
            raise RuntimeError(
                "requires_grad_(False) is only allowed on leaf tensors; use .detach()"
            )
        if requires_grad and not np.issubdtype(self.dtype, np.inexact):
            raise TypeError(f"only floating-point tensors can require gradients, got {self.dtype}")
        self.requires_grad = requires_grad
        return self

    def zero_(self) -> Tensor:
        self.data[...] = 0
        return self

    # ----------------------------------------------------------------- autograd
    def backward(self, grad: Any = None, retain_graph: bool = False) -> None:
        """Backpropagate from this tensor, accumulating d(self)/d(leaf) into every leaf's `.grad`.

        `grad` is the upstream gradient (required unless the tensor has one element). The graph is
        freed afterwards unless `retain_graph=True`; a second backward through it raises.
        """
        if not self.requires_grad:
            raise RuntimeError(
                "backward() called on a tensor that does not require grad: none of its inputs has "
                "requires_grad=True (or it was computed under no_grad())"
            )
        if grad is None:
            if self.data.size != 1:
                raise RuntimeError(
                    f"grad can be implicitly created only for scalar outputs; this tensor has shape "
                    f"{self.shape}: call .backward(grad) with a gradient of that shape, or reduce "
                    "it first (e.g. .sum() or .mean())"
                )
            grad = np.ones_like(self.data)
            shared: set[int] = set()
        else:
            grad = np.asarray(grad.data if isinstance(grad, Tensor) else grad, dtype=self.dtype)
            if grad.shape != self.shape:
                raise ValueError(
                    f"backward(grad): grad has shape {grad.shape} but the tensor has shape "
                    f"{self.shape}"
                )
            shared = {id(grad)}  # the caller's array: a leaf must never adopt it
        nodes, leaves = _graph(self)
        grads: dict[int, np.ndarray] = {id(self): grad}
        for node in nodes:  # every consumer of a tensor comes before it
            g = grads.pop(id(node), None)
            if g is None:
                continue
            ctx = node._ctx
            in_grads = ctx.backward(g)
            if not isinstance(in_grads, tuple):
                in_grads = (in_grads,)
            if len(in_grads) != len(ctx.inputs):
                raise RuntimeError(
                    f"{type(ctx).__name__}.backward returned {len(in_grads)} gradients for "
                    f"{len(ctx.inputs)} inputs; return one per input (None where there is none)"
                )
            for inp, ig in zip(ctx.inputs, in_grads):
                if ig is None or not inp.requires_grad:
                    continue
                key = id(inp)
                prev = grads.get(key)
                grads[key] = ig if prev is None else prev + ig
            if not retain_graph:
                node._ctx = _FREED
        for leaf in leaves:  # all contributions are summed by now: accumulate once per leaf
            g = grads.pop(id(leaf), None)
            if g is not None:
                _accumulate_leaf(leaf, g, shared)

    # operators and methods are attached by descentlab.ops (they import this module).


_creation_order = attrgetter("_ctx._seq")


def _graph(root: Tensor) -> tuple[list[Tensor], list[Tensor]]:
    """The non-leaf tensors reachable from `root` that need gradients, newest first, and the leaves.

    A Function's output is always created after its inputs, so sorting by creation number (newest
    first) is a topological order; one flat traversal plus one C-level sort is cheaper than a
    post-order DFS in Python. Raises if a node's graph was freed by an earlier backward.
    """
    nodes: list[Tensor] = []
    leaves: list[Tensor] = []
    seen = {id(root)}
    stack = [root]
    while stack:
        node = stack.pop()
        ctx = node._ctx
        if ctx is None:
            leaves.append(node)
            continue
        if ctx is _FREED:
            raise RuntimeError(
                "Trying to backward through the graph a second time: its saved values were "
                "freed by the first backward. Pass retain_graph=True to the first "
                ".backward() call if you need to backpropagate twice."
            )
        nodes.append(node)
        for inp in ctx.inputs:
            if inp.requires_grad and id(inp) not in seen:
                seen.add(id(inp))
                stack.append(inp)
    nodes.sort(key=_creation_order, reverse=True)
    return nodes, leaves


def _accumulate_leaf(leaf: Tensor, g: np.ndarray, shared: set[int]) -> None:
    """Add `g` into `leaf.grad`; `shared` holds ids of arrays a leaf must not adopt."""
    if g.dtype != leaf.data.dtype:
        g = g.astype(leaf.data.dtype)
    if g.shape != leaf.data.shape:
        g = np.broadcast_to(g, leaf.data.shape)
    if leaf.grad is None:
        # Optimizers edit .grad in place, so it must be the leaf's own array. A fresh array from a
        # backward (the usual case: every weight gradient) is adopted, saving a full copy per
        # parameter per step; views, read-only arrays and arrays handed out already are copied.
        if g.base is not None or not g.flags.writeable or id(g) in shared:
            g = g.copy()
        shared.add(id(g))
        leaf.grad = g
    else:
        leaf.grad += g


def tensor(data: Any, requires_grad: bool = False, dtype: Any = None, device: Any = None) -> Tensor:
    """Create a tensor from array-like data (copied).

    Python floats become float32 (PyTorch's default); NumPy arrays keep their dtype, so float64
    arrays stay float64 (used by the gradient checks). `device` as torch's: "cpu" (or None);
    any other device is a RuntimeError (see `descentlab.device`).

    Example:
        >>> descentlab.tensor([[1.0, 2.0]], requires_grad=True).shape
        (1, 2)
    """
    check_device(device)
    arr = _to_array(data, dtype)
    return Tensor(np.array(arr, copy=True), requires_grad=requires_grad)


def as_tensor(data: Any, dtype: Any = None, device: Any = None) -> Tensor:
    """Wrap array-like data in a tensor without copying when possible (`device` as `tensor`)."""
    check_device(device)
    if isinstance(data, Tensor):
        return data if dtype is None or data.dtype == np.dtype(dtype) else data.astype(dtype)
    return Tensor(_to_array(data, dtype))
