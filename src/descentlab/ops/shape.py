"""Shape ops: reshape, transpose/permute, flatten, squeeze/unsqueeze, expand, indexing, concat,
stack, split, pad. None of them computes anything; their backward routes the gradient back."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from descentlab.tensor import Function, Tensor, sum_to

__all__ = ["reshape", "transpose", "permute", "flatten", "squeeze", "unsqueeze", "expand",
           "broadcast_to", "getitem", "concat", "cat", "stack", "split", "pad"]  # fmt: skip


class Reshape(Function):
    def forward(self, x, shape):
        self.in_shape = x.shape
        try:
            return x.reshape(shape)
        except ValueError:
            raise ValueError(
                f"reshape: cannot reshape a tensor of shape {x.shape} ({x.size} elements) into "
                f"shape {tuple(shape)}"
            ) from None

    def backward(self, g):
        return g.reshape(self.in_shape)


class Permute(Function):
    def forward(self, x, axes):
        self.axes = axes
        return np.transpose(x, axes)

    def backward(self, g):
        return np.transpose(g, np.argsort(self.axes))


class Expand(Function):
    def forward(self, x, shape):
        self.in_shape = x.shape
        try:
            return np.broadcast_to(x, shape)
        except ValueError:
            raise ValueError(
                f"expand: a tensor of shape {x.shape} cannot be broadcast to {tuple(shape)}"
            ) from None

    def backward(self, g):
        return sum_to(g, self.in_shape)


def _has_advanced(index: Any) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return any(isinstance(i, (np.ndarray, list)) for i in items)


def _plain_index(index: Any) -> Any:
    """Tensors inside an index become arrays (boolean masks stay boolean)."""
    if isinstance(index, tuple):
        return tuple(_plain_index(i) for i in index)
    if isinstance(index, Tensor):
        index = index.data
    if isinstance(index, list):
        index = np.asarray(index)
    return index


def _expand_masks(index: Any) -> Any:
    """Boolean masks become their `nonzero()` integer arrays (same selection; `np.add.at` needs it)."""
    items = index if isinstance(index, tuple) else (index,)
    if not any(isinstance(i, np.ndarray) and i.dtype == np.bool_ for i in items):
        return index
    out: list[Any] = []
    for i in items:
        if isinstance(i, np.ndarray) and i.dtype == np.bool_:
            out.extend(np.nonzero(i))
        else:
            out.append(i)
    return tuple(out)


class GetItem(Function):
    """x[index]; backward scatters the gradient back, adding where integer indices repeat."""

    def forward(self, x, index):
        self.in_shape, self.dtype, self.index = x.shape, x.dtype, index
        self.advanced = _has_advanced(index)
        return x[index]

    def backward(self, g):
        out = np.zeros(self.in_shape, dtype=g.dtype)
        if self.advanced:
            np.add.at(out, self.index, g)
        else:
            out[self.index] = g
        return out


class Concat(Function):
    def forward(self, *xs, axis=0):
        self.axis = axis
        self.sizes = [x.shape[axis] for x in xs]
        try:
            return np.concatenate(xs, axis=axis)
        except ValueError:
            shapes = ", ".join(str(x.shape) for x in xs)
            raise ValueError(
                f"concat: tensors of shapes {shapes} must match in every dimension but {axis}"
            ) from None

    def backward(self, g):
        return tuple(np.split(g, np.cumsum(self.sizes)[:-1], axis=self.axis))


class Stack(Function):
    def forward(self, *xs, axis=0):
        self.axis = axis
        if len({x.shape for x in xs}) > 1:
            shapes = ", ".join(str(x.shape) for x in xs)
            raise ValueError(f"stack: all tensors must have the same shape, got {shapes}")
        return np.stack(xs, axis=axis)

    def backward(self, g):
        return tuple(np.moveaxis(g, self.axis, 0))


class Pad(Function):
    def forward(self, x, widths, value=0.0):
        self.slices = tuple(slice(lo, lo + n) for (lo, _), n in zip(widths, x.shape))
        return np.pad(x, widths, mode="constant", constant_values=value)

    def backward(self, g):
        return g[self.slices]


# ------------------------------------------------------------------ functional aliases
def _shape_arg(shape: Sequence[Any]) -> tuple[int, ...]:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


def reshape(x: Any, *shape: Any) -> Tensor:
    """Same data, new shape (one dimension may be -1). `reshape(x, (2, 3))` or `reshape(x, 2, 3)`."""
    return Reshape.apply(x, shape=_shape_arg(shape))


def permute(x: Any, *axes: Any) -> Tensor:
    """Reorder the dimensions: `permute(x, 0, 2, 1)`."""
    axes = _shape_arg(axes)
    ndim = x.ndim if isinstance(x, Tensor) else np.ndim(x)
    if sorted(a % max(ndim, 1) for a in axes) != list(range(ndim)):
        raise ValueError(f"permute: {axes} is not a permutation of the {ndim} dimensions")
    return Permute.apply(x, axes=tuple(a % ndim for a in axes))


def transpose(x: Any, dim0: int | None = None, dim1: int | None = None) -> Tensor:
    """Swap two dimensions (PyTorch); with no dims, reverse all of them (NumPy `.T`)."""
    ndim = x.ndim if isinstance(x, Tensor) else np.ndim(x)
    axes = list(range(ndim))
    if dim0 is None and dim1 is None:
        axes.reverse()
    else:
        axes[dim0], axes[dim1] = axes[dim1], axes[dim0]
    return Permute.apply(x, axes=tuple(axes))


def wrap_dim(dim: int, ndim: int, name: str, shape: tuple[int, ...]) -> int:
    """PyTorch's dimension wrapping: `dim` in [-ndim, ndim) (a 0-D tensor counts as 1-D), as a
    non-negative index; IndexError otherwise, naming the caller and the input shape."""
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(
            f"{name}: dimension {dim} is out of range for input of shape {tuple(shape)} (expected "
            f"to be in [{-n}, {n - 1}])"
        )
    return dim % n


def flatten(x: Any, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dimensions start_dim..end_dim into one (PyTorch `torch.flatten`): a 0-D input becomes
    1-D; a dimension out of range is an IndexError and start_dim after end_dim a ValueError.

    Example:
        >>> flatten(descentlab.zeros(2, 3, 4), 1).shape
        (2, 12)
    """
    shape = tuple(x.shape)
    s = wrap_dim(start_dim, len(shape), "flatten", shape)
    e = wrap_dim(end_dim, len(shape), "flatten", shape)
    if s > e:
        raise ValueError(
            f"flatten: start_dim {start_dim} comes after end_dim {end_dim} for input of shape "
            f"{shape}"
        )
    if not shape:
        return reshape(x, 1)
    merged = int(np.prod(shape[s : e + 1]))
    return reshape(x, shape[:s] + (merged,) + shape[e + 1 :])


def squeeze(x: Any, axis: int | tuple[int, ...] | None = None, *, dim: Any = None) -> Tensor:
    """Drop size-1 dimensions (all, or only `axis`, which is left alone when not of size 1)."""
    axis = dim if dim is not None else axis
    shape = x.shape
    if axis is None:
        new = tuple(n for n in shape if n != 1)
    else:
        axes = {a % len(shape) for a in ((axis,) if isinstance(axis, int) else axis)}
        new = tuple(n for i, n in enumerate(shape) if not (i in axes and n == 1))
    return reshape(x, new)


def unsqueeze(x: Any, axis: int | None = None, *, dim: int | None = None) -> Tensor:
    """Insert a dimension of size 1 at `axis`."""
    axis = dim if dim is not None else axis
    shape = list(x.shape)
    axis = axis if axis >= 0 else axis + len(shape) + 1
    shape.insert(axis, 1)
    return reshape(x, tuple(shape))


def broadcast_to(x: Any, *shape: Any) -> Tensor:
    """View `x` broadcast to `shape`; backward sums over the broadcast dimensions."""
    return Expand.apply(x, shape=_shape_arg(shape))


def expand(x: Any, *shape: Any) -> Tensor:
    """PyTorch `expand`: -1 keeps a dimension's size."""
    shape = _shape_arg(shape)
    lead = len(shape) - x.ndim
    full = tuple(x.shape[i - lead] if n == -1 else n for i, n in enumerate(shape))
    return Expand.apply(x, shape=full)


def getitem(x: Any, index: Any) -> Tensor:
    """x[index] with ints, slices, None, Ellipsis, boolean masks and integer arrays."""
    return GetItem.apply(x, index=_expand_masks(_plain_index(index)))


def concat(tensors: Sequence[Any], axis: int = 0, *, dim: int | None = None) -> Tensor:
    """Join tensors along an existing dimension."""
    return Concat.apply(*tensors, axis=dim if dim is not None else axis)


cat = concat


def stack(tensors: Sequence[Any], axis: int = 0, *, dim: int | None = None) -> Tensor:
    """Join same-shaped tensors along a new dimension."""
    return Stack.apply(*tensors, axis=dim if dim is not None else axis)


def split(x: Any, split_size_or_sections: int | Sequence[int], axis: int = 0, *,
          dim: int | None = None) -> tuple[Tensor, ...]:  # fmt: skip
    """Split into chunks of `split_size` (int) or of the given sizes (list), as `torch.split`."""
    axis = dim if dim is not None else axis
    n = x.shape[axis]
    if isinstance(split_size_or_sections, int):
        step = split_size_or_sections
        if step <= 0:
            raise ValueError(f"split: split_size must be positive, got {step}")
        sizes = [min(step, n - i) for i in range(0, n, step)]
    else:
        sizes = list(split_size_or_sections)
        if sum(sizes) != n:
            raise ValueError(
                f"split: sizes {sizes} sum to {sum(sizes)}, but dimension {axis} is {n}"
            )
    out, start = [], 0
    lead = (slice(None),) * (axis % x.ndim)
    for size in sizes:
        out.append(getitem(x, lead + (slice(start, start + size),)))
        start += size
    return tuple(out)


def pad(x: Any, pad: Sequence[Any], mode: str = "constant", value: float | None = None) -> Tensor:
    """Constant padding with `value` (None means 0, as PyTorch's `F.pad`). `pad` is PyTorch's flat
    tuple (last dimension first: (left, right, top, bottom, ...)) or NumPy's list of (before, after)
    pairs, one per dimension.

    Example:
        >>> pad(descentlab.ones(1, 2), (1, 0)).data.tolist()
        [[0.0, 1.0, 1.0]]
    """
    value = 0.0 if value is None else value
    if mode != "constant":
        raise ValueError(f"pad: only mode='constant' is supported, got {mode!r}")
    ndim = x.ndim
    if all(isinstance(p, (int, np.integer)) for p in pad):
        if len(pad) % 2 or len(pad) // 2 > ndim:
            raise ValueError(
                f"pad: a flat pad must have an even length of at most 2 x {ndim}, got {tuple(pad)}"
            )
        widths = [(0, 0)] * ndim
        for i in range(len(pad) // 2):
            widths[ndim - 1 - i] = (int(pad[2 * i]), int(pad[2 * i + 1]))
    else:
        widths = [tuple(int(v) for v in p) for p in pad]
        if len(widths) != ndim:
            raise ValueError(f"pad: give one (before, after) pair per dimension ({ndim})")
    if any(lo < 0 or hi < 0 for lo, hi in widths):
        raise ValueError(f"pad: negative padding {widths} is not supported")
    return Pad.apply(x, widths=tuple(widths), value=value)
