"""Pooling: max_pool1d/2d, max_unpool1d/2d, avg_pool1d/2d, adaptive_avg_pool1d/2d (PyTorch
semantics, batched (N, C, *spatial) or unbatched (C, *spatial) input).

Windows are gathered once with `sliding_window_view` into an array of shape (kh*kw, N*C*Ho*Wo),
so the reduction over a window is a reduction over the first axis (a handful of long vector
operations). Max-pool backward sends each output's gradient to the first maximum of its window
(PyTorch's tie rule; a window holding NaN outputs NaN and sends it to its last NaN, as PyTorch),
found for all windows at once by `first_max` (no Python loop over windows);
the gradients go back to the image through the same `col2im` as convolution. Windows that tile
the image (the usual 2x2 stride 2) skip the gather: forward copies the kh*kw strided views of the
input into one dense buffer, takes their running maximum and keeps one first-maximum mask per
kernel offset; backward is one multiply per offset, straight into the strided views of the input
gradient.

Output size per dimension: floor((H + 2p - d(k-1) - 1) / s) + 1, or ceil with `ceil_mode=True`
(a last window must start inside the input or its left padding).

Example:
    >>> max_pool2d(descentlab.randn(8, 16, 28, 28), 2).shape
    (8, 16, 14, 14)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from descentlab.ops.conv import col2im, ntuple, scratch
from descentlab.tensor import Function, Tensor

__all__ = ["max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d", "adaptive_avg_pool1d",
           "adaptive_avg_pool2d", "max_unpool1d", "max_unpool2d", "pool_output_size"]  # fmt: skip


def pool_output_size(size: int, kernel: int, stride: int, pad: int, dilation: int,
                     ceil_mode: bool) -> int:  # fmt: skip
    """PyTorch's pooling output size, including the ceil_mode rule."""
    span = size + 2 * pad - dilation * (kernel - 1) - 1
    out = (-(-span // stride) if ceil_mode else span // stride) + 1
    if ceil_mode and (out - 1) * stride >= size + pad:
        out -= 1
    return out


class _Windows:
    """Pooling geometry for NCHW input: padding, output size and the window gather/scatter."""

    def __init__(self, shape, kernel, stride, padding, dilation, ceil_mode):
        self.shape, self.kernel, self.stride, self.dilation = shape, kernel, stride, dilation
        self.padding = padding
        n, c, h, w = shape
        self.out = tuple(
            pool_output_size(size, k, s, p, d, ceil_mode)
            for size, k, s, p, d in zip((h, w), kernel, stride, padding, dilation, strict=True)
        )
        # Pad the far side further when ceil_mode lets the last window hang over the edge.
        self.extra = tuple(
            max(0, (o - 1) * s + d * (k - 1) + 1 - (size + 2 * p))
            for o, size, k, s, p, d in zip(
                self.out, (h, w), kernel, stride, padding, dilation, strict=True
            )  # fmt: skip
        )
        self.padded = (
            n * c,
            1,
            h + 2 * padding[0] + self.extra[0],
            w + 2 * padding[1] + self.extra[1],
        )

    def gather(self, x: np.ndarray, fill: float) -> np.ndarray:
        """(N, C, H, W) -> windows (kh*kw, N*C*Ho*Wo)."""
        n, c, h, w = x.shape
        (ph, pw), (kh, kw), (sh, sw), (dh, dw) = (
            self.padding,
            self.kernel,
            self.stride,
            self.dilation,
        )
        ho, wo = self.out
        xp = x.reshape(n * c, h, w)
        if any(self.padding) or any(self.extra):
            xp = np.full(self.padded[:1] + self.padded[2:], fill, dtype=x.dtype)
            xp[:, ph : ph + h, pw : pw + w] = x.reshape(n * c, h, w)
        ext = (dh * (kh - 1) + 1, dw * (kw - 1) + 1)
        win = sliding_window_view(xp, ext, axis=(1, 2))[:, ::sh, ::sw, ::dh, ::dw][:, :ho, :wo]
        return np.ascontiguousarray(win.transpose(3, 4, 0, 1, 2)).reshape(kh * kw, -1)

    def scatter(self, cols: np.ndarray) -> np.ndarray:
        """Adjoint of `gather`: window gradients (kh*kw, N*C*Ho*Wo) -> input gradient (N, C, H, W)."""
        n, c, h, w = self.shape
        (ph, pw), (kh, kw) = self.padding, self.kernel
        cols = cols.reshape(1, kh, kw, n * c, *self.out)
        gxp = col2im(cols, self.padded, self.kernel, self.stride, self.dilation)
        return gxp[:, 0, ph : ph + h, pw : pw + w].reshape(n, c, h, w)


class MaxPool2d(Function):
    """Max over each window; the gradient goes to the first maximum of the window, or to its last
    NaN when it holds one (the output is then NaN): PyTorch's rule. When `indices` is a list, the
    flat index (h * W + w) of each chosen element in its input plane is appended to it (int64)."""

    def forward(self, x, kernel, stride, padding, dilation, ceil_mode, indices=None):
        self.win = win = _Windows(x.shape, kernel, stride, padding, dilation, ceil_mode)
        self.tiled = _is_tiling(x.shape, win)
        if self.tiled:
            # Non-overlapping windows that tile the image (the usual 2x2/2): a running maximum over
            # the kh*kw strided views, in whatever memory layout x has. Then one boolean mask per
            # offset marks where it holds the first maximum of its window (PyTorch's tie rule):
            # backward is one multiply per offset. The views are first copied into one dense
            # scratch buffer (one strided pass each), so that the 2*kh*kw passes after that are
            # contiguous, SIMD ones.
            views = _dense_copies(_tile_views(x, kernel))
            out = np.maximum(views[0], views[1]) if len(views) > 1 else views[0].copy()
            for v in views[2:]:
                np.maximum(out, v, out=out)
            self.x_shape = x.shape
            hit = views[0] == out
            self.masks, seen = [hit], hit
            for v in views[1:-1]:
                hit = v == out
                self.masks.append(hit > seen)  # a maximum here, and none earlier in the window
                seen = seen | hit
            if len(views) > 1:
                self.masks.append(~seen)  # no earlier maximum: the last offset holds it
            if _has_nan(out):  # NaN wins its window (np.maximum propagates it): its last NaN
                nan, later = np.isnan(out), np.zeros(out.shape, bool)
                for t in range(len(views) - 1, -1, -1):
                    isnan = np.isnan(views[t]) & nan
                    self.masks[t] = np.where(nan, isnan & ~later, self.masks[t])
                    later |= isnan
            self.out = out
            if indices is not None:
                offset = np.zeros(out.shape, np.int64)
                for t, mask in enumerate(self.masks[1:], 1):
                    offset[mask] = t
                indices.append(_flat_indices(offset, win, x.shape))
            return out
        cols = win.gather(x, -np.inf)
        out = cols.max(axis=0)
        self.cols, self.out, self.arg = cols, out, None
        if indices is not None:
            self.arg = window_argmax(cols, out)
            offset = self.arg.reshape(x.shape[:2] + win.out)
            indices.append(_flat_indices(offset, win, x.shape))
        return out.reshape(x.shape[:2] + win.out)

    def backward(self, g):
        if self.tiled:
            if np.argsort(g.strides).tolist() != np.argsort(self.out.strides).tolist():
                # One copy into the layout of x (e.g. (C, N, H, W) memory after a conv) makes
                # every later pass walk the arrays in the same order.
                aligned = np.empty_like(self.out)
                aligned[...] = g
                g = aligned
            # The input gradient in the layout of x (that of out too): outermost axis first.
            order = np.argsort(self.out.strides, kind="stable")[::-1]
            gx = np.empty([self.x_shape[i] for i in order], g.dtype).transpose(np.argsort(order))
            for mask, gv in zip(self.masks, _tile_views(gx, self.win.kernel), strict=True):
                np.multiply(g, mask, out=gv)  # windows do not overlap: every element written once
            return gx
        k = self.cols.shape[0]
        arg = window_argmax(self.cols, self.out) if self.arg is None else self.arg
        first = np.arange(k)[:, None] == arg
        return self.win.scatter(first * g.reshape(1, -1))


def _has_nan(a: np.ndarray) -> bool:
    """Whether `a` holds a NaN; a sum first (no temporary array) rules out the usual case."""
    return a.dtype.kind in "fc" and bool(np.isnan(a.sum())) and bool(np.isnan(a).any())


def window_argmax(cols: np.ndarray, best: np.ndarray) -> np.ndarray:
    """Row of the element each window (column of `cols`, (K, M)) outputs, by PyTorch's rule: the
    first maximum, or the last NaN of a window that holds one (`best` = cols.max(0) is NaN there)."""
    arg = np.asarray(first_max(cols, best), dtype=np.int64)
    if _has_nan(best):
        nan = np.isnan(best)
        arg[nan] = cols.shape[0] - 1 - np.argmax(np.isnan(cols[::-1, nan]), axis=0)
    return arg


def _flat_indices(offset: np.ndarray, win: _Windows, shape: tuple[int, ...]) -> np.ndarray:
    """Window offsets (N, C, Ho, Wo), row-major over the kernel, -> flat indices h * W + w into
    each (H, W) input plane (PyTorch's `return_indices` convention), int64."""
    kw, (sh, sw), (ph, pw), (dh, dw) = win.kernel[1], win.stride, win.padding, win.dilation
    i, j = np.divmod(offset, kw)
    h = np.arange(win.out[0])[:, None] * sh - ph + i * dh
    w = np.arange(win.out[1]) * sw - pw + j * dw
    return (h * shape[3] + w).astype(np.int64)


def _is_tiling(shape: tuple[int, ...], win: _Windows) -> bool:
    """Windows that exactly tile the image: stride == kernel, no padding, dilation or overhang."""
    return (
        win.stride == win.kernel
        and not any(win.padding)
        and win.dilation == (1, 1)
        and shape[2] == win.out[0] * win.kernel[0]
        and shape[3] == win.out[1] * win.kernel[1]
    )


def _tile_views(x: np.ndarray, kernel: tuple[int, int]) -> list[np.ndarray]:
    """The kh*kw strided views x[:, :, i::kh, j::kw], one per kernel offset, in window order."""
    kh, kw = kernel
    return [x[:, :, i::kh, j::kw] for i in range(kh) for j in range(kw)]


def _dense_copies(views: list[np.ndarray]) -> list[np.ndarray]:
    """Copies of same-shaped views, each dense in the views' own axis order (so that copying and
    later passes walk memory in the same order), in one scratch buffer."""
    order = np.argsort(views[0].strides, kind="stable")[::-1]  # outermost axis first
    shape = [views[0].shape[i] for i in order]
    buf = scratch("pool_views", (len(views), *shape), views[0].dtype)
    copies = list(buf.transpose(0, *(1 + np.argsort(order))))
    for copy, view in zip(copies, views, strict=True):
        copy[...] = view
    return copies


def first_max(cols: np.ndarray, best: np.ndarray) -> np.ndarray:
    """Row index of the first maximum in every column of `cols` (K, M), loop-free and fast.

    Ties are resolved like PyTorch (first in window order). Trick: read the hit pattern of a column
    as a binary number, first row = most significant bit, whose position `frexp` gives exactly.
    (np.argmax along axis 0 would transpose-copy the array first and is about 6x slower.)
    """
    k = cols.shape[0]
    if k > 53:  # the binary code must fit in a float64 mantissa
        return np.argmax(cols, axis=0)
    hit = (cols == best).astype(np.float64 if k > 24 else np.float32)
    code = (2.0 ** np.arange(k - 1, -1, -1)).astype(hit.dtype) @ hit
    return k - np.frexp(code)[1]


class AvgPool2d(Function):
    """Mean over each window, with PyTorch's divisor rules (count_include_pad, divisor_override)."""

    def forward(self, x, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override):
        self.win = win = _Windows(x.shape, kernel, stride, padding, (1, 1), ceil_mode)
        if divisor_override:
            div = np.asarray(divisor_override, dtype=x.dtype)
        else:
            sizes = [
                _window_counts(size, o, k, s, p, count_include_pad)
                for size, o, k, s, p in zip(
                    x.shape[2:], win.out, kernel, stride, padding, strict=True
                )  # fmt: skip
            ]
            div = np.outer(sizes[0], sizes[1]).astype(x.dtype)
        self.div = div
        out = win.gather(x, 0.0).sum(axis=0).reshape(x.shape[:2] + win.out)
        return out / div

    def backward(self, g):
        per = (g / self.div).reshape(1, -1)
        k = self.win.kernel[0] * self.win.kernel[1]
        return self.win.scatter(np.broadcast_to(per, (k, per.shape[1])))


def _window_counts(size: int, out: int, k: int, s: int, p: int, include_pad: bool) -> np.ndarray:
    """How many elements each window averages over along one dimension (PyTorch's rule: padding
    counts when `include_pad`, the ceil-mode overhang beyond the padding never does)."""
    start = np.arange(out) * s - p
    end = np.minimum(start + k, size + p)
    if include_pad:
        return end - start
    return np.minimum(end, size) - np.maximum(start, 0)


# ------------------------------------------------------------------ functional API
def _pool_args(name: str, x: Any, kernel_size: Any, stride: Any, padding: Any, dilation: Any,
               nd: int) -> tuple[tuple[int, ...], ...]:  # fmt: skip
    if x.ndim != nd + 2:
        raise ValueError(
            f"{name}: expected a {nd + 2}-D input (batch, channels, "
            f"{'length' if nd == 1 else 'height, width'}), got shape {tuple(x.shape)}"
        )
    k = ntuple(kernel_size, nd, f"{name} kernel_size")
    s = k if stride is None or stride == () else ntuple(stride, nd, f"{name} stride")
    p = ntuple(padding, nd, f"{name} padding")
    d = ntuple(dilation, nd, f"{name} dilation")
    if min(k) < 1 or min(s) < 1 or min(d) < 1:
        raise ValueError(f"{name}: kernel_size {k}, stride {s} and dilation {d} must be >= 1")
    if any(pi < 0 or pi > ki // 2 for pi, ki in zip(p, k, strict=True)):
        raise ValueError(
            f"{name}: padding {p} must be between 0 and half the kernel size {k} (PyTorch's rule)"
        )
    for size, ki, pi, di in zip(x.shape[2:], k, p, d, strict=True):
        if size + 2 * pi < di * (ki - 1) + 1:
            raise ValueError(
                f"{name}: kernel size {k} (dilation {d}) is larger than the padded input of shape "
                f"{tuple(x.shape)} with padding {p}"
            )
    return k, s, p, d


def batched(name: str, x: Any, nd: int) -> tuple[Any, bool]:
    """PyTorch's unbatched input: (C, *spatial) becomes (1, C, *spatial), and the caller removes the
    batch dimension again (the flag says whether to). Any rank but nd + 1 or nd + 2 is an error."""
    from descentlab.ops.shape import unsqueeze

    if x.ndim == nd + 2:
        return x, False
    if x.ndim == nd + 1:
        return unsqueeze(x, 0), True
    dims = "L" if nd == 1 else "H, W"
    raise ValueError(
        f"{name}: expected a {nd + 1}-D (C, {dims}) or {nd + 2}-D (N, C, {dims}) input, got input "
        f"of shape {tuple(x.shape)}"
    )


def _unbatch(y: Any, unbatched: bool) -> Any:
    from descentlab.ops.shape import squeeze

    if not unbatched:
        return y
    if isinstance(y, tuple):
        return tuple(_unbatch(t, True) for t in y)
    return squeeze(y, 0)


def max_pool2d(x: Any, kernel_size: int | Sequence[int], stride: Any = None, padding: Any = 0,
               dilation: Any = 1, ceil_mode: bool = False,
               return_indices: bool = False) -> Tensor | tuple[Tensor, Tensor]:  # fmt: skip
    """Max over kh x kw windows of (N, C, H, W) or unbatched (C, H, W) input (PyTorch's
    `F.max_pool2d`; stride defaults to the kernel size, padding counts as -inf).

    out[n, c, i, j] = max over the window at (i s_h - p_h, j s_w - p_w) of x[n, c]. A NaN in a
    window wins it (the output is NaN and the gradient goes to the window's last NaN); otherwise
    the gradient goes to the first maximum. With `return_indices=True` it returns (out, indices):
    the flat index h * W + w of each chosen element in its (H, W) input plane, int64, as PyTorch
    (what `max_unpool2d` takes).

    Example:
        >>> max_pool2d(descentlab.randn(1, 1, 4, 4), 2).shape
        (1, 1, 2, 2)
        >>> max_pool2d(descentlab.tensor([[[1.0, 5.0], [7.0, 2.0]]]), 2, return_indices=True)[1].data
        array([[[2]]])
    """
    x, unbatched = batched("max_pool2d", x, 2)
    k, s, p, d = _pool_args("max_pool2d", x, kernel_size, stride, padding, dilation, 2)
    found: list[np.ndarray] | None = [] if return_indices else None
    out = MaxPool2d.apply(x, kernel=k, stride=s, padding=p, dilation=d, ceil_mode=ceil_mode,
                          indices=found)  # fmt: skip
    if found is not None:
        return _unbatch((out, Tensor(found[0])), unbatched)
    return _unbatch(out, unbatched)


def avg_pool2d(x: Any, kernel_size: int | Sequence[int], stride: Any = None, padding: Any = 0,
               ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: int | None = None) -> Tensor:  # fmt: skip
    """Mean over kh x kw windows of (N, C, H, W) or unbatched (C, H, W) input (PyTorch's
    `F.avg_pool2d`). Zero padding is counted in the divisor when `count_include_pad` (the default),
    else only real elements are.

    Example:
        >>> avg_pool2d(descentlab.ones(1, 1, 4, 4), 2).data.ravel().tolist()
        [1.0, 1.0, 1.0, 1.0]
    """
    x, unbatched = batched("avg_pool2d", x, 2)
    k, s, p, _ = _pool_args("avg_pool2d", x, kernel_size, stride, padding, 1, 2)
    if divisor_override is not None and divisor_override <= 0:
        raise ValueError(f"avg_pool2d: divisor_override must be positive, got {divisor_override}")
    out = AvgPool2d.apply(x, kernel=k, stride=s, padding=p, ceil_mode=ceil_mode,
                          count_include_pad=count_include_pad,
                          divisor_override=divisor_override)  # fmt: skip
    return _unbatch(out, unbatched)


def _as_2d(name: str, x: Any) -> tuple[Tensor, bool]:
    """(N, C, L) or unbatched (C, L) -> (N, C, 1, L), and whether to drop the batch again."""
    from descentlab.ops.shape import unsqueeze

    x, unbatched = batched(name, x, 1)
    return unsqueeze(x, 2), unbatched


def _from_2d(y: Any, unbatched: bool) -> Any:
    from descentlab.ops.shape import squeeze

    if isinstance(y, tuple):
        return tuple(_from_2d(t, unbatched) for t in y)
    return squeeze(y, 2 if not unbatched else (0, 2))


def max_pool1d(x: Any, kernel_size: int, stride: int | None = None, padding: int = 0,
               dilation: int = 1, ceil_mode: bool = False,
               return_indices: bool = False) -> Tensor | tuple[Tensor, Tensor]:  # fmt: skip
    """Max over windows of (N, C, L) or unbatched (C, L) input (PyTorch's `F.max_pool1d`); see
    `max_pool2d` for the NaN rule. `return_indices=True` also returns each chosen position in L.

    Example:
        >>> max_pool1d(descentlab.tensor([[3.0, 1.0, 2.0, 4.0]]), 2).data.tolist()
        [[3.0, 4.0]]
    """
    (k,) = ntuple(kernel_size, 1, "max_pool1d kernel_size")
    (s,) = ntuple(k if stride is None else stride, 1, "max_pool1d stride")
    (p,), (d,) = (
        ntuple(padding, 1, "max_pool1d padding"),
        ntuple(dilation, 1, "max_pool1d dilation"),
    )
    x2, unbatched = _as_2d("max_pool1d", x)
    try:
        y = max_pool2d(x2, (1, k), (1, s), (0, p), (1, d), ceil_mode, return_indices)
    except ValueError as err:
        raise ValueError(str(err).replace("max_pool2d", "max_pool1d")) from None
    return _from_2d(y, unbatched)


def avg_pool1d(x: Any, kernel_size: int, stride: int | None = None, padding: int = 0,
               ceil_mode: bool = False, count_include_pad: bool = True) -> Tensor:  # fmt: skip
    """Mean over windows of (N, C, L) or unbatched (C, L) input (PyTorch's `F.avg_pool1d`).

    Example:
        >>> avg_pool1d(descentlab.tensor([[3.0, 1.0, 2.0, 4.0]]), 2).data.tolist()
        [[2.0, 3.0]]
    """
    (k,) = ntuple(kernel_size, 1, "avg_pool1d kernel_size")
    (s,) = ntuple(k if stride is None else stride, 1, "avg_pool1d stride")
    (p,) = ntuple(padding, 1, "avg_pool1d padding")
    x2, unbatched = _as_2d("avg_pool1d", x)
    try:
        y = avg_pool2d(x2, (1, k), (1, s), (0, p), ceil_mode, count_include_pad)
    except ValueError as err:
        raise ValueError(str(err).replace("avg_pool2d", "avg_pool1d")) from None
    return _from_2d(y, unbatched)


class MaxUnpool2d(Function):
    """Scatter each value to its flat index in a zero (Ho, Wo) plane; backward gathers back."""

    def forward(self, x, indices, size):
        n, c = x.shape[:2]
        self.idx, self.shape = indices.reshape(n * c, -1), x.shape
        out = np.zeros((n * c, size[0] * size[1]), dtype=x.dtype)
        np.put_along_axis(out, self.idx, x.reshape(n * c, -1), axis=1)
        return out.reshape(n, c, *size)

    def backward(self, g):
        n, c = self.shape[:2]
        return np.take_along_axis(g.reshape(n * c, -1), self.idx, axis=1).reshape(self.shape)


def max_unpool2d(x: Any, indices: Any, kernel_size: int | Sequence[int], stride: Any = None,
                 padding: Any = 0, output_size: Sequence[int] | None = None) -> Tensor:  # fmt: skip
    """Partial inverse of `max_pool2d` (PyTorch's `F.max_unpool2d`): each value goes to its flat
    index (from `max_pool2d(..., return_indices=True)`) in a zero plane, all else stays 0.

    Output size per dimension: (H - 1) s - 2p + k, or the last two entries of `output_size`
    (which must lie within one stride of that). (N, C, H, W) or unbatched (C, H, W) input.

    Example:
        >>> y, i = max_pool2d(descentlab.tensor([[[1.0, 5.0], [7.0, 2.0]]]), 2, return_indices=True)
        >>> max_unpool2d(y, i, 2).data.tolist()
        [[[0.0, 0.0], [7.0, 0.0]]]
    """
    x, unbatched = batched("max_unpool2d", x, 2)
    idx = np.asarray(indices.data if isinstance(indices, Tensor) else indices)
    if unbatched:
        idx = idx[None]
    if idx.shape != tuple(x.shape) or not np.issubdtype(idx.dtype, np.integer):
        raise ValueError(
            f"max_unpool2d: indices must be integers of the input's shape {tuple(x.shape)}, got "
            f"shape {idx.shape} ({idx.dtype})"
        )
    k = ntuple(kernel_size, 2, "max_unpool2d kernel_size")
    s = k if stride is None else ntuple(stride, 2, "max_unpool2d stride")
    p = ntuple(padding, 2, "max_unpool2d padding")
    default = tuple((x.shape[2 + i] - 1) * s[i] - 2 * p[i] + k[i] for i in range(2))
    if output_size is None:
        size = default
    else:
        size = tuple(int(v) for v in tuple(output_size)[-2:])
        if len(size) != 2 or any(
            not d - si < o < d + si for o, d, si in zip(size, default, s, strict=True)
        ):
            raise ValueError(
                f"max_unpool2d: output_size {tuple(output_size)} must be within one stride {s} of "
                f"the default size {default}"
            )
    if idx.size and (idx.min() < 0 or idx.max() >= size[0] * size[1]):
        raise ValueError(
            f"max_unpool2d: indices must be in [0, {size[0] * size[1]}) for an output plane of "
            f"size {size}, got values from {idx.min()} to {idx.max()}"
        )
    return _unbatch(MaxUnpool2d.apply(x, indices=idx, size=size), unbatched)


def max_unpool1d(x: Any, indices: Any, kernel_size: int, stride: int | None = None,
                 padding: int = 0, output_size: Sequence[int] | None = None) -> Tensor:  # fmt: skip
    """Partial inverse of `max_pool1d` (PyTorch's `F.max_unpool1d`) on (N, C, L) or (C, L) input:
    output length (L - 1) s - 2p + k unless `output_size` says otherwise.

    Example:
        >>> y, i = max_pool1d(descentlab.tensor([[3.0, 1.0, 2.0, 4.0]]), 2, return_indices=True)
        >>> max_unpool1d(y, i, 2).data.tolist()
        [[3.0, 0.0, 0.0, 4.0]]
    """
    (k,) = ntuple(kernel_size, 1, "max_unpool1d kernel_size")
    (s,) = ntuple(k if stride is None else stride, 1, "max_unpool1d stride")
    (p,) = ntuple(padding, 1, "max_unpool1d padding")
    x2, unbatched = _as_2d("max_unpool1d", x)
    idx = np.asarray(indices.data if isinstance(indices, Tensor) else indices)
    idx = np.expand_dims(idx[None] if unbatched else idx, 2)
    size = None if output_size is None else (1, tuple(output_size)[-1])
    try:
        y = max_unpool2d(x2, idx, (1, k), (1, s), (0, p), size)
    except ValueError as err:
        raise ValueError(str(err).replace("max_unpool2d", "max_unpool1d")) from None
    return _from_2d(y, unbatched)


def adaptive_pool_matrix(size: int, out: int, dtype: Any) -> np.ndarray:
    """(out, size) averaging matrix with PyTorch's adaptive bins: bin i covers
    [floor(i*size/out), ceil((i+1)*size/out))."""
    i = np.arange(out)
    start = (i * size) // out
    end = -((-(i + 1) * size) // out)
    cols = np.arange(size)
    inside = (cols >= start[:, None]) & (cols < end[:, None])
    return (inside / (end - start)[:, None]).astype(dtype)


def adaptive_avg_pool2d(x: Any, output_size: int | Sequence[int | None]) -> Tensor:
    """Average into a fixed (oh, ow) grid whatever the input size (PyTorch's
    `F.adaptive_avg_pool2d`); None keeps that dimension. Bins may overlap by one element.

    Computed as A_h @ x @ A_w^T with constant averaging matrices (a bin mean is separable), so the
    gradient comes from matmul's.

    Example:
        >>> adaptive_avg_pool2d(descentlab.randn(2, 8, 7, 5), 1).shape
        (2, 8, 1, 1)
    """
    from descentlab.ops.math import matmul

    if x.ndim not in (3, 4):
        raise ValueError(
            f"adaptive_avg_pool2d: expected a 3-D (C, H, W) or 4-D (N, C, H, W) input, got input "
            f"of shape {tuple(x.shape)}"
        )
    sizes = (
        (output_size, output_size) if isinstance(output_size, (int, np.integer)) else output_size
    )
    if len(sizes) != 2:
        raise ValueError(
            f"adaptive_avg_pool2d: output_size must be an int or a pair, got {output_size!r}"
        )
    h, w = x.shape[-2:]
    oh, ow = (h if sizes[0] is None else sizes[0]), (w if sizes[1] is None else sizes[1])
    if oh <= 0 or ow <= 0:
        raise ValueError(f"adaptive_avg_pool2d: output_size must be positive, got {output_size!r}")
    a_h = adaptive_pool_matrix(h, oh, x.dtype)
    a_w = adaptive_pool_matrix(w, ow, x.dtype)
    return matmul(matmul(a_h, x), a_w.T)


def adaptive_avg_pool1d(x: Any, output_size: int) -> Tensor:
    """Average (N, C, L) input into `output_size` bins (PyTorch's `F.adaptive_avg_pool1d`)."""
    from descentlab.ops.math import matmul

    if x.ndim not in (2, 3):
        raise ValueError(
            f"adaptive_avg_pool1d: expected a 2-D (C, L) or 3-D (N, C, L) input, got input of "
            f"shape {tuple(x.shape)}"
        )
    if output_size <= 0:
        raise ValueError(f"adaptive_avg_pool1d: output_size must be positive, got {output_size!r}")
    return matmul(x, adaptive_pool_matrix(x.shape[-1], output_size, x.dtype).T)
