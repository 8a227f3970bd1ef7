"""Pooling: max_pool1d/2d, avg_pool1d/2d, adaptive_avg_pool1d/2d (PyTorch semantics).

Windows are gathered once with `sliding_window_view` into an array of shape (kh*kw, N*C*Ho*Wo),
so the reduction over a window is a reduction over the first axis (a handful of long vector
operations). Max-pool backward sends each output's gradient to the first maximum of its window
(PyTorch's tie rule), found for all windows at once by `first_max` (no Python loop over windows);
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
           "adaptive_avg_pool2d", "pool_output_size"]  # fmt: skip


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
    """Max over each window; the gradient goes to the first maximum of the window (PyTorch)."""

    def forward(self, x, kernel, stride, padding, dilation, ceil_mode):
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
            self.out = out
            return out
        cols = win.gather(x, -np.inf)
        out = cols.max(axis=0)
        self.cols, self.out = cols, out
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
        first = np.arange(k)[:, None] == first_max(self.cols, self.out)
        return self.win.scatter(first * g.reshape(1, -1))


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


def max_pool2d(x: Any, kernel_size: int | Sequence[int], stride: Any = None, padding: Any = 0,
               dilation: Any = 1, ceil_mode: bool = False) -> Tensor:  # fmt: skip
    """Max over kh x kw windows of NCHW input (PyTorch's `F.max_pool2d`; stride defaults to the
    kernel size, padding counts as -inf).

    Example:
        >>> max_pool2d(descentlab.randn(1, 1, 4, 4), 2).shape
        (1, 1, 2, 2)
    """
    k, s, p, d = _pool_args("max_pool2d", x, kernel_size, stride, padding, dilation, 2)
    return MaxPool2d.apply(x, kernel=k, stride=s, padding=p, dilation=d, ceil_mode=ceil_mode)


def avg_pool2d(x: Any, kernel_size: int | Sequence[int], stride: Any = None, padding: Any = 0,
               ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: int | None = None) -> Tensor:  # fmt: skip
    """Mean over kh x kw windows of NCHW input (PyTorch's `F.avg_pool2d`). Zero padding is counted
    in the divisor when `count_include_pad` (the default), else only real elements are.

    Example:
        >>> avg_pool2d(descentlab.ones(1, 1, 4, 4), 2).data.ravel().tolist()
        [1.0, 1.0, 1.0, 1.0]
    """
    k, s, p, _ = _pool_args("avg_pool2d", x, kernel_size, stride, padding, 1, 2)
    if divisor_override is not None and divisor_override <= 0:
        raise ValueError(f"avg_pool2d: divisor_override must be positive, got {divisor_override}")
    return AvgPool2d.apply(x, kernel=k, stride=s, padding=p, ceil_mode=ceil_mode,
                           count_include_pad=count_include_pad,
                           divisor_override=divisor_override)  # fmt: skip


def _as_2d(name: str, x: Any) -> Tensor:
    from descentlab.ops.shape import unsqueeze

    if x.ndim != 3:
        raise ValueError(
            f"{name}: expected a 3-D input (batch, channels, length), got shape {tuple(x.shape)}"
        )
    return unsqueeze(x, 2)


def max_pool1d(x: Any, kernel_size: int, stride: int | None = None, padding: int = 0,
               dilation: int = 1, ceil_mode: bool = False) -> Tensor:  # fmt: skip
    """Max over windows of (N, C, L) input (PyTorch's `F.max_pool1d`)."""
    from descentlab.ops.shape import squeeze

    (k,) = ntuple(kernel_size, 1, "max_pool1d kernel_size")
    (s,) = ntuple(k if stride is None else stride, 1, "max_pool1d stride")
    (p,), (d,) = (
        ntuple(padding, 1, "max_pool1d padding"),
        ntuple(dilation, 1, "max_pool1d dilation"),
    )
    y = max_pool2d(_as_2d("max_pool1d", x), (1, k), (1, s), (0, p), (1, d), ceil_mode)
    return squeeze(y, 2)


def avg_pool1d(x: Any, kernel_size: int, stride: int | None = None, padding: int = 0,
               ceil_mode: bool = False, count_include_pad: bool = True) -> Tensor:  # fmt: skip
    """Mean over windows of (N, C, L) input (PyTorch's `F.avg_pool1d`)."""
    from descentlab.ops.shape import squeeze

    (k,) = ntuple(kernel_size, 1, "avg_pool1d kernel_size")
    (s,) = ntuple(k if stride is None else stride, 1, "avg_pool1d stride")
    (p,) = ntuple(padding, 1, "avg_pool1d padding")
    y = avg_pool2d(_as_2d("avg_pool1d", x), (1, k), (1, s), (0, p), ceil_mode, count_include_pad)
    return squeeze(y, 2)


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
            f"adaptive_avg_pool2d: expected a 3-D or 4-D input, got shape {tuple(x.shape)}"
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
            f"adaptive_avg_pool1d: expected a 2-D or 3-D input, got shape {tuple(x.shape)}"
        )
    if output_size <= 0:
        raise ValueError(f"adaptive_avg_pool1d: output_size must be positive, got {output_size!r}")
    return matmul(x, adaptive_pool_matrix(x.shape[-1], output_size, x.dtype).T)
