"""Convolutions: conv1d, conv2d (stride, padding incl. 'same'/'valid', dilation, groups) and
conv_transpose2d, as im2col + one GEMM.

Layout and names follow PyTorch: inputs are NCHW, `weight` is (out_channels, in_channels / groups,
kh, kw) for conv2d and (in_channels, out_channels / groups, kh, kw) for conv_transpose2d, and like
PyTorch these compute a cross-correlation (the kernel is not flipped):

    out[n, o, y, x] = bias[o] + sum_{c, i, j} weight[o, c, i, j] * xpad[n, c, y*s + i*d, x*s + j*d]

How: `im2col` gathers every receptive field into a matrix of shape (C*kh*kw, N*Ho*Wo) with
`sliding_window_view` (one copy), and the convolution is then one matrix product with the weight
viewed as (O, C*kh*kw). Backward is two more products; the input gradient goes back through
`col2im`, which adds the columns into the image with one vectorised add per kernel offset (kh*kw
adds, never a loop over pixels). Stride-1 convolutions take a faster route through the same idea
(see `_Wide`): the image is flattened so that every kernel offset is a contiguous slice.

Example:
    >>> x = descentlab.randn(8, 3, 32, 32)
    >>> w = descentlab.randn(16, 3, 3, 3)
    >>> conv2d(x, w, padding=1).shape
    (8, 16, 32, 32)
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided, sliding_window_view

from descentlab.tensor import Function, Tensor

__all__ = ["conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d", "im2col", "col2im",
           "conv_output_size"]  # fmt: skip

IntOrPair = int | Sequence[int]


_workspace = threading.local()
_WORKSPACE_SLOTS = 16


def scratch(tag: str, shape: tuple[int, ...], dtype: Any, zero: bool = False) -> np.ndarray:
    """A reusable per-thread buffer for temporaries that never leave one forward or backward call.

    Fresh large arrays cost a page fault per 4 KiB on first touch (NumPy's big allocations come
    straight from mmap); reusing the same buffers step after step avoids that. `zero=True` buffers
    are zero-filled once when created: callers only ever write the same interior region, so
    borders stay zero. At most `_WORKSPACE_SLOTS` buffers are kept (least recently used go).
    """
    cache = getattr(_workspace, "buffers", None)
    if cache is None:
        cache = _workspace.buffers = OrderedDict()
    key = (tag, shape, np.dtype(dtype).str, zero)
    buf = cache.pop(key, None)
    if buf is None:
        buf = np.zeros(shape, dtype) if zero else np.empty(shape, dtype)
        if len(cache) >= _WORKSPACE_SLOTS:
            cache.popitem(last=False)
    cache[key] = buf
    return buf


_leased: dict[tuple, list[np.ndarray]] = {}
_lease_lock = threading.Lock()


def lease(owner: object, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    """An uninitialised array that goes back to a free list when `owner` is garbage collected.

    For arrays only `owner` (a Function saving them for backward, e.g. im2col columns) ever holds:
    the graph is freed after each backward, so the next step's forward gets the same memory back
    instead of fresh pages. At most two free arrays are kept per shape.
    """
    key = (shape, np.dtype(dtype).str)
    with _lease_lock:
        free = _leased.get(key)
        buf = free.pop() if free else None
    if buf is None:
        buf = np.empty(shape, dtype)
    weakref.finalize(owner, _give_back, key, buf)
    return buf


def _give_back(key: tuple, buf: np.ndarray) -> None:
    with _lease_lock:
        free = _leased.setdefault(key, [])
        if len(free) < 2:
            free.append(buf)


def ntuple(value: Any, n: int, name: str) -> tuple[int, ...]:
    """`value` as a tuple of `n` non-negative ints (an int is repeated), with a clear error."""
    out = (value,) * n if isinstance(value, (int, np.integer)) else tuple(value)
    if len(out) != n or not all(isinstance(v, (int, np.integer)) for v in out):
        raise ValueError(f"{name} must be an int or a tuple of {n} ints, got {value!r}")
    return tuple(int(v) for v in out)


def conv_output_size(size: int, kernel: int, stride: int, pad_total: int, dilation: int) -> int:
    """floor((size + pad_total - dilation * (kernel - 1) - 1) / stride) + 1 (PyTorch's formula)."""
    return (size + pad_total - dilation * (kernel - 1) - 1) // stride + 1


# ------------------------------------------------------------------ im2col / col2im
def im2col(xp: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int],
           dilation: tuple[int, int], groups: int = 1,
           out: np.ndarray | None = None) -> np.ndarray:  # fmt: skip
    """Receptive fields of an already padded NCHW array as columns: (G, C/G * kh*kw, N*Ho*Wo).

    Row order is (channel, i, j), matching `weight.reshape(O, -1)`; column order is (n, y, x).
    `out`: a C-contiguous array of that shape to write into (one copy either way).
    """
    n, c, _, _ = xp.shape
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    ext = (dh * (kh - 1) + 1, dw * (kw - 1) + 1)
    win = sliding_window_view(xp, ext, axis=(2, 3))[:, :, ::sh, ::sw, ::dh, ::dw]
    ho, wo = win.shape[2], win.shape[3]
    win = win.reshape(n, groups, c // groups, ho, wo, kh, kw).transpose(1, 2, 5, 6, 0, 3, 4)
    if out is None:
        return np.ascontiguousarray(win).reshape(groups, (c // groups) * kh * kw, n * ho * wo)
    out.reshape(win.shape)[...] = win
    return out


def col2im(cols: np.ndarray, xp_shape: tuple[int, ...], kernel: tuple[int, int],
           stride: tuple[int, int], dilation: tuple[int, int]) -> np.ndarray:  # fmt: skip
    """The adjoint of `im2col`: add every column entry back onto the padded image it came from.

    `cols` is (C, kh, kw, N, Ho, Wo) (any leading grouping merged into C). One vectorised add per
    kernel offset; overlapping windows accumulate. Returns an array shaped `xp_shape` (NCHW) that
    is a transposed view of a (C, N, H, W) buffer.
    """
    n, c, hp, wp = xp_shape
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    ho, wo = cols.shape[-2], cols.shape[-1]
    out = np.zeros((c, n, hp, wp), dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):
            y0, x0 = i * dh, j * dw
            out[:, :, y0 : y0 + sh * (ho - 1) + 1 : sh, x0 : x0 + sw * (wo - 1) + 1 : sw] += cols[
                :, i, j
            ]
    return out.transpose(1, 0, 2, 3)


class _Wide:
    """Stride-1 im2col/col2im on the image flattened per channel, where each kernel offset (i, j)
    is one contiguous slice starting at i*dh*Wp + j*dw.

    Output positions are computed on a "wide" grid of Ho x Wp (Wp: the row pitch of the padded
    image); the Wp - Wo extra columns per row are junk that forward drops and backward feeds zeros.
    One extra zero row below the padded image keeps the last row's junk reads inside the same
    image. This costs Wp/Wo more GEMM work but turns every copy and add into long contiguous runs,
    about twice as fast as strided windows for small images. To keep Wp small, a row's right
    padding is also the next row's left padding (see `_Geometry`).
    """

    def __init__(self, n: int, c: int, hp: int, wp: int, kernel: tuple[int, int],
                 dilation: tuple[int, int], ho: int, wo: int) -> None:  # fmt: skip
        self.n, self.c, self.hp, self.wp = n, c, hp + 1, wp  # + the extra zero row
        self.kernel, self.ho, self.wo = kernel, ho, wo
        self.length = ho * wp
        kh, kw = kernel
        self.steps = (dilation[0] * wp, dilation[1])  # flat distance between kernel rows / cols
        self.offsets = [
            (i, j, i * self.steps[0] + j * self.steps[1]) for i in range(kh) for j in range(kw)
        ]

    def im2col(self, xp: np.ndarray, out: np.ndarray) -> None:
        """(N, C, Hp + 1, Wp) -> columns (C*kh*kw, N*Ho*Wp), written into `out`."""
        kh, kw = self.kernel
        flat = xp.reshape(self.n, self.c, self.hp * self.wp).transpose(1, 0, 2)  # (C, N, Hp*Wp)
        cols = out.reshape(self.c, kh, kw, self.n, self.length)
        # Windows of length L at every start, then the kh x kw grid of starts i*dh*Wp + j*dw as
        # one strided view (in bounds thanks to the extra zero row): a single copy gathers it all.
        win = sliding_window_view(flat, self.length, axis=2)  # (C, N, starts, L)
        sc, sn, ss, sl = win.strides
        grid = as_strided(
            win, (self.c, self.n, kh, kw, self.length),
            (sc, sn, self.steps[0] * ss, self.steps[1] * ss, sl), writeable=False,
        )  # fmt: skip
        cols[...] = grid.transpose(0, 2, 3, 1, 4)

    def col2im(self, cols: np.ndarray) -> np.ndarray:
        """(C*kh*kw, N*Ho*Wp) (any grouping merged) -> NCHW view of the padded-image gradient."""
        kh, kw = self.kernel
        cols = cols.reshape(self.c, kh, kw, self.n, self.length)
        out = np.empty((self.c, self.n, self.hp * self.wp), dtype=cols.dtype)
        # The first offset (0, 0) starts at 0: it initialises its stretch, zeros the rest.
        out[:, :, : self.length] = cols[:, 0, 0]
        out[:, :, self.length :] = 0
        for i, j, s in self.offsets[1:]:
            out[:, :, s : s + self.length] += cols[:, i, j]
        return out.reshape(self.c, self.n, self.hp, self.wp).transpose(1, 0, 2, 3)

    def to_grid(self, y: np.ndarray) -> np.ndarray:
        """(O, N*Ho*Wp) wide results -> (O, N, Ho, Wo) view dropping the junk columns."""
        return y.reshape(y.shape[0], self.n, self.ho, self.wp)[:, :, :, : self.wo]

    def from_grid(self, g: np.ndarray, temporary: bool = False) -> np.ndarray:
        """(O, N, Ho, Wo) gradient -> (O, N*Ho*Wp) on the wide grid, zeros in the junk columns.
        `temporary`: the result is used up within the caller, so a scratch buffer may hold it."""
        o = g.shape[0]
        shape = (o, self.n, self.ho, self.wp)
        tag = f"grid{self.wo}"  # the zero junk columns depend on Wo, not only on the shape
        full = scratch(tag, shape, g.dtype, zero=True) if temporary else np.zeros(shape, g.dtype)
        full[:, :, :, : self.wo] = g
        return full.reshape(o, -1)


class _Geometry:
    """Shapes of one convolution, and the im2col/col2im pair (wide for stride 1), shared by the
    forward and backward of conv2d and conv_transpose2d. `padding` is (top, bottom, left, right);
    `out_channels`, when given, is the channel count of the GEMM's result (see below)."""

    def __init__(self, x_shape: tuple[int, ...], padding: tuple[int, int, int, int],
                 kernel: tuple[int, int], stride: tuple[int, int], dilation: tuple[int, int],
                 out_channels: int = 0) -> None:  # fmt: skip
        self.x_shape, self.padding = x_shape, padding
        self.kernel, self.stride, self.dilation = kernel, stride, dilation
        n, c, h, w = x_shape
        top, bottom, left, right = padding
        hp, wp = h + top + bottom, w + left + right
        self.ho = conv_output_size(hp, kernel[0], stride[0], 0, dilation[0])
        self.wo = conv_output_size(wp, kernel[1], stride[1], 0, dilation[1])
        self.wide = None
        # The wide route's rows need only max(left, right) zeros between them, not left + right:
        # reads past a row's right end land in the next row's left padding. (The pitch must also
        # hold an output row and a kernel row's span.) For 3x3 'same', W + 1 instead of W + 2.
        pitch = max(w + max(left, right), self.wo, dilation[1] * (kernel[1] - 1))
        # The wide grid computes pitch/Wo times the needed columns: worth it only when that is
        # small. It makes im2col/col2im (C*kh*kw rows) about 3x cheaper, but costs a pass over the
        # result (O rows) to drop its junk columns and one back: worth it for C*kh*kw >= O (e.g.
        # not for a first layer on 1-channel images).
        rows = c * kernel[0] * kernel[1]
        if stride == (1, 1) and pitch <= 1.5 * self.wo and rows >= out_channels:
            self.wide = _Wide(n, c, hp, pitch, kernel, dilation, self.ho, self.wo)
            self.xp_shape = (n, c, hp + 1, pitch)
        else:
            self.xp_shape = (n, c, hp, wp)

    def pad(self, x: np.ndarray) -> np.ndarray:
        """Zero-pad x (N, C, H, W) to the padded shape (plus the wide route's extra row), in a
        scratch buffer: the padded copy only lives until im2col has read it."""
        if self.xp_shape == x.shape:
            return x
        top, _, left, _ = self.padding
        # The zero border depends on where the interior sits, not only on the padded shape.
        out = scratch(f"pad{self.padding}{x.shape}", self.xp_shape, x.dtype, zero=True)
        out[:, :, top : top + x.shape[2], left : left + x.shape[3]] = x
        return out

    def im2col(self, x: np.ndarray, groups: int, owner: object = None,
               ones_row: bool = False) -> np.ndarray:  # fmt: skip
        """Unpadded NCHW input -> (G, C/G*kh*kw (+1), N*positions), leased to `owner` when given.
        `ones_row` (groups == 1) appends a row of ones, so a bias can ride along in the GEMM."""
        xp = self.pad(x)
        n, c = self.x_shape[:2]
        rows = c * self.kernel[0] * self.kernel[1]
        positions = self.ho * (self.wide.wp if self.wide is not None else self.wo)
        shape = (rows + ones_row, n * positions)
        full = lease(owner, shape, x.dtype) if owner is not None else np.empty(shape, x.dtype)
        if ones_row:
            full[rows] = 1
        if self.wide is not None:
            self.wide.im2col(xp, full[:rows])
        else:
            body = full[:rows].reshape(groups, rows // groups, -1)
            im2col(xp, self.kernel, self.stride, self.dilation, groups, out=body)
        return full.reshape(groups, -1, shape[1])

    def col2im(self, cols: np.ndarray) -> np.ndarray:
        """Columns -> gradient of the unpadded NCHW input."""
        if self.wide is not None:
            gxp = self.wide.col2im(cols)
        else:
            n, c = self.x_shape[:2]
            cols = cols.reshape(c, *self.kernel, n, self.ho, self.wo)
            gxp = col2im(cols, self.xp_shape, self.kernel, self.stride, self.dilation)
        top, _, left, _ = self.padding
        return gxp[:, :, top : top + self.x_shape[2], left : left + self.x_shape[3]]

    def to_grid(self, y: np.ndarray) -> np.ndarray:
        """(O, N*positions) -> (O, N, Ho, Wo)."""
        if self.wide is not None:
            return self.wide.to_grid(y)
        return y.reshape(y.shape[0], self.x_shape[0], self.ho, self.wo)

    def from_grid(self, g: np.ndarray, temporary: bool = False) -> np.ndarray:
        """(O, N, Ho, Wo) -> (O, N*positions)."""
        if self.wide is not None:
            return self.wide.from_grid(g, temporary)
        return np.ascontiguousarray(g).reshape(g.shape[0], -1)


def _grouped(a: np.ndarray, groups: int) -> np.ndarray:
    """(O, ...) -> (G, O/G, prod(...)) for a batched matmul over groups."""
    return a.reshape(groups, a.shape[0] // groups, -1)


def _times_transposed(g: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """g @ cols^T, batched over any leading axes: (.., O, M) x (.., R, M) -> (.., O, R), the
    weight gradient. Computed as (cols @ g^T)^T when R > O: OpenBLAS runs this long-sum product
    faster with the larger side as the result's rows (conv 32->64 3x3 on 64 x 14 x 14: 4.5 -> 3.8
    ms); a transposed view is fine for a gradient."""
    if cols.shape[-2] > g.shape[-2]:
        return np.swapaxes(np.matmul(cols, np.swapaxes(g, -1, -2)), -1, -2)
    return np.matmul(g, np.swapaxes(cols, -1, -2))


class Conv2d(Function):
    """Cross-correlation over NCHW images via im2col + one GEMM (fused: a composite of pad,
    window views and matmul would keep many large intermediates alive and be several times slower)."""

    def forward(self, x, weight, bias=None, stride=(1, 1), padding=(0, 0, 0, 0), dilation=(1, 1),
                groups=1):  # fmt: skip
        self.groups, self.weight = groups, weight
        self.geo = geo = _Geometry(x.shape, padding, weight.shape[2:], stride, dilation,
                                   weight.shape[0])  # fmt: skip
        # With one group the bias is one more GEMM column against a row of ones: no separate pass
        # over the output, and its gradient comes out of the weight-gradient GEMM for free.
        self.fold = fold = bias is not None and groups == 1
        has_bias = bias is not None
        # The columns are kept for the weight (and folded bias) gradient; lease them to this node
        # so the next step reuses the memory once the graph is freed.
        keep = self.needs_input_grad[1] or (fold and self.needs_input_grad[2])
        cols = geo.im2col(x, groups, self if keep else None, fold)  # (G, C/G*kh*kw (+1), N*P)
        w = _grouped(weight, groups)
        if fold:
            w = np.concatenate([w[0], bias[:, None].astype(w.dtype, copy=False)], axis=1)[None]
        # The wide grid's products only live until their junk columns are dropped: scratch.
        shape = (groups, w.shape[1], cols.shape[2])
        out = None if geo.wide is None else scratch("y", shape, w.dtype)
        y = np.matmul(w, cols, out=out).reshape(weight.shape[0], -1)  # (O, N*P)
        if has_bias and not fold:
            y += bias[:, None]
        self.cols = cols if keep else None
        # (O, N, Ho, Wo) memory seen as NCHW: no transpose copy; the next conv's im2col reads
        # channels-first anyway. Dense, so that the elementwise ops after it run at full speed.
        return np.ascontiguousarray(geo.to_grid(y)).transpose(1, 0, 2, 3)

    def backward(self, g):
        groups, geo = self.groups, self.geo
        gg = geo.from_grid(g.transpose(1, 0, 2, 3), temporary=True)  # (O, N*P)
        gg = gg.reshape(groups, -1, gg.shape[1])  # (G, O/G, N*P)
        gx = gw = gb = None
        if self.needs_input_grad[0]:
            w = _grouped(self.weight, groups).transpose(0, 2, 1)
            gcols = scratch("gcols", (groups, w.shape[1], gg.shape[2]), gg.dtype)
            gx = geo.col2im(np.matmul(w, gg, out=gcols))
        need_b = len(self.needs_input_grad) == 3 and self.needs_input_grad[2]
        if self.fold and (self.needs_input_grad[1] or need_b):
            gwb = _times_transposed(gg[0], self.cols[0])  # (O, C*kh*kw + 1): weight | bias grad
            gw = gwb[:, :-1].reshape(self.weight.shape) if self.needs_input_grad[1] else None
            gb = gwb[:, -1].copy() if need_b else None
        else:
            if self.needs_input_grad[1]:
                gw = _times_transposed(gg, self.cols).reshape(self.weight.shape)
            if need_b:
                gb = gg.sum(axis=2).reshape(-1)  # contiguous rows (junk columns hold zeros)
        return (gx, gw, gb) if len(self.needs_input_grad) == 3 else (gx, gw)


class ConvTranspose2d(Function):
    """The adjoint of Conv2d (a "fractionally strided" convolution): forward is conv2d's input
    gradient and backward is conv2d's forward. Weight is (C_in, C_out/G, kh, kw) as in PyTorch."""

    def forward(self, x, weight, bias=None, stride=(1, 1), padding=(0, 0), output_padding=(0, 0),
                dilation=(1, 1), groups=1):  # fmt: skip
        n, cin, h, w = x.shape
        kh, kw = weight.shape[2:]
        cout = weight.shape[1] * groups
        hout = (h - 1) * stride[0] - 2 * padding[0] + dilation[0] * (kh - 1) + output_padding[0] + 1
        wout = (w - 1) * stride[1] - 2 * padding[1] + dilation[1] * (kw - 1) + output_padding[1] + 1
        # The output is the input of the equivalent conv2d, whose output grid is x's.
        pad4 = (padding[0], padding[0], padding[1], padding[1])
        self.geo = _Geometry((n, cout, hout, wout), pad4, (kh, kw), stride, dilation)
        self.groups, self.weight = groups, weight
        xg = self.geo.from_grid(x.transpose(1, 0, 2, 3)).reshape(groups, cin // groups, -1)
        self.xg = xg if self.needs_input_grad[1] else None
        wg = _grouped(weight, groups)  # (G, Cin/G, Cout/G*kh*kw)
        out = self.geo.col2im(np.matmul(wg.transpose(0, 2, 1), xg))
        if bias is not None:
            out = out + bias[:, None, None]
        return out

    def backward(self, g):
        groups = self.groups
        cols = self.geo.im2col(g, groups)  # (G, Cout/G*kh*kw, N*P)
        gx = gw = gb = None
        if self.needs_input_grad[0]:
            y = np.matmul(_grouped(self.weight, groups), cols).reshape(self.weight.shape[0], -1)
            gx = self.geo.to_grid(y).transpose(1, 0, 2, 3)
        if self.needs_input_grad[1]:
            gw = np.matmul(self.xg, cols.transpose(0, 2, 1)).reshape(self.weight.shape)
        if len(self.needs_input_grad) == 3 and self.needs_input_grad[2]:
            gb = g.sum(axis=(0, 2, 3))
        return (gx, gw, gb) if len(self.needs_input_grad) == 3 else (gx, gw)


# ------------------------------------------------------------------ functional API
def _same_padding(kernel: tuple[int, ...], dilation: tuple[int, ...]) -> list[tuple[int, int]]:
    """'same' padding per dimension: total d*(k-1), the odd one extra at the end (PyTorch)."""
    out = []
    for k, d in zip(kernel, dilation, strict=True):
        total = d * (k - 1)
        out.append((total // 2, total - total // 2))
    return out


def _check_conv_input(name: str, x: Any, weight: Any, groups: int, nd: int) -> None:
    if x.ndim != nd + 2:
        dims = "L" if nd == 1 else "H, W"
        raise ValueError(
            f"{name}: expected a {nd + 1}-D (C, {dims}) or {nd + 2}-D (N, C, {dims}) input, got "
            f"input of shape {tuple(x.shape)}"
        )
    if weight.ndim != nd + 2:
        raise ValueError(f"{name}: expected a {nd + 2}-D weight, got shape {tuple(weight.shape)}")
    if groups < 1 or x.shape[1] % groups:
        raise ValueError(
            f"{name}: groups={groups} must be a positive divisor of the input channels "
            f"({x.shape[1]})"
        )


def conv2d(x: Any, weight: Any, bias: Any = None, stride: IntOrPair = 1,
           padding: IntOrPair | str = 0, dilation: IntOrPair = 1, groups: int = 1) -> Tensor:  # fmt: skip
    """2-D cross-correlation over (N, C, H, W) or unbatched (C, H, W) input (PyTorch's `F.conv2d`).

    out[n, o] = bias[o] + sum_c weight[o, c] (*) x[n, g(o)*C/G + c], `(*)` a strided, dilated
    cross-correlation. `padding` is an int, (ph, pw), 'valid' (0) or 'same' (output size = input
    size; stride must be 1). Output size per dimension: floor((H + 2p - d(k-1) - 1) / s) + 1.

    Example:
        >>> conv2d(descentlab.randn(2, 3, 8, 8), descentlab.randn(4, 3, 3, 3), padding="same").shape
        (2, 4, 8, 8)
    """
    if x.ndim == 3:  # unbatched (C, *spatial), as PyTorch: add the batch dimension, then drop it
        from descentlab.ops.shape import squeeze, unsqueeze

        return squeeze(conv2d(unsqueeze(x, 0), weight, bias, stride, padding, dilation, groups), 0)
    weight_shape = tuple(weight.shape)
    _check_conv_input("conv2d", x, weight, groups, 2)
    stride2 = ntuple(stride, 2, "conv2d stride")
    dilation2 = ntuple(dilation, 2, "conv2d dilation")
    if min(stride2) < 1 or min(dilation2) < 1:
        raise ValueError(f"conv2d: stride {stride2} and dilation {dilation2} must be >= 1")
    kernel = weight_shape[2:]
    if isinstance(padding, str):
        if padding == "valid":
            pads = [(0, 0), (0, 0)]
        elif padding == "same":
            if stride2 != (1, 1):
                raise ValueError("conv2d: padding='same' needs stride 1 (as in PyTorch)")
            pads = _same_padding(kernel, dilation2)
        else:
            raise ValueError(
                f"conv2d: padding must be an int, a pair, 'same' or 'valid', got {padding!r}"
            )
    else:
        ph, pw = ntuple(padding, 2, "conv2d padding")
        if ph < 0 or pw < 0:
            raise ValueError(f"conv2d: padding must be non-negative, got {padding!r}")
        pads = [(ph, ph), (pw, pw)]
    cin = x.shape[1]
    if weight_shape[1] * groups != cin:
        raise ValueError(
            f"conv2d: weight of shape {weight_shape} with groups={groups} expects "
            f"{weight_shape[1] * groups} input channels, got input of shape {tuple(x.shape)}"
        )
    if weight_shape[0] % groups:
        raise ValueError(
            f"conv2d: out_channels ({weight_shape[0]}) must be divisible by groups ({groups})"
        )
    for dim, (size, k, d, (lo, hi)) in enumerate(
        zip(x.shape[2:], kernel, dilation2, pads, strict=True)
    ):
        if size + lo + hi < d * (k - 1) + 1:
            axis = "height" if dim == 0 else "width"
            raise ValueError(
                f"conv2d: kernel size {tuple(kernel)} (dilation {dilation2}) is larger than the "
                f"padded input: {axis} {size} + padding {lo + hi} < {d * (k - 1) + 1}; input shape "
                f"{tuple(x.shape)}. Use a smaller kernel, more padding or a larger input"
            )
    pad4 = (pads[0][0], pads[0][1], pads[1][0], pads[1][1])
    args = (x, weight) if bias is None else (x, weight, bias)
    return Conv2d.apply(*args, stride=stride2, padding=pad4, dilation=dilation2, groups=groups)


def conv1d(x: Any, weight: Any, bias: Any = None, stride: int | Sequence[int] = 1,
           padding: int | Sequence[int] | str = 0, dilation: int | Sequence[int] = 1,
           groups: int = 1) -> Tensor:  # fmt: skip
    """1-D cross-correlation over (N, C, L) or unbatched (C, L) input (PyTorch's `F.conv1d`): conv2d
    on a height-1 image.

    Example:
        >>> conv1d(descentlab.randn(2, 3, 10), descentlab.randn(4, 3, 5)).shape
        (2, 4, 6)
    """
    if x.ndim == 2:  # unbatched (C, *spatial), as PyTorch: add the batch dimension, then drop it
        from descentlab.ops.shape import squeeze, unsqueeze

        return squeeze(conv1d(unsqueeze(x, 0), weight, bias, stride, padding, dilation, groups), 0)
    from descentlab.ops.shape import reshape

    _check_conv_input("conv1d", x, weight, groups, 1)
    (s,), (d,) = ntuple(stride, 1, "conv1d stride"), ntuple(dilation, 1, "conv1d dilation")
    pad: Any = padding if isinstance(padding, str) else (0, ntuple(padding, 1, "conv1d padding")[0])
    n, c, length = x.shape
    x4 = reshape(x, n, c, 1, length)
    w4 = reshape(weight, weight.shape[0], weight.shape[1], 1, weight.shape[2])
    try:
        y = conv2d(x4, w4, bias, (1, s), pad, (1, d), groups)
    except ValueError as err:
        raise ValueError(str(err).replace("conv2d", "conv1d")) from None
    return reshape(y, n, y.shape[1], y.shape[3])


def conv_transpose2d(x: Any, weight: Any, bias: Any = None, stride: IntOrPair = 1,
                     padding: IntOrPair = 0, output_padding: IntOrPair = 0, groups: int = 1,
                     dilation: IntOrPair = 1) -> Tensor:  # fmt: skip
    """Transposed 2-D convolution (PyTorch's `F.conv_transpose2d`), the gradient of conv2d w.r.t.
    its input; weight (C_in, C_out/G, kh, kw). Output size: (H-1)s - 2p + d(k-1) + output_padding + 1.
    Input (N, C, H, W) or unbatched (C, H, W).

    Example:
        >>> conv_transpose2d(descentlab.randn(1, 4, 7, 7), descentlab.randn(4, 2, 3, 3), stride=2).shape
        (1, 2, 15, 15)
    """
    if x.ndim == 3:  # unbatched (C, *spatial), as PyTorch: add the batch dimension, then drop it
        from descentlab.ops.shape import squeeze, unsqueeze

        return squeeze(
            conv_transpose2d(
                unsqueeze(x, 0), weight, bias, stride, padding, output_padding, groups, dilation
            ),
            0,
        )
    _check_conv_input("conv_transpose2d", x, weight, groups, 2)
    if weight.shape[0] != x.shape[1]:
        raise ValueError(
            f"conv_transpose2d: weight of shape {tuple(weight.shape)} expects {weight.shape[0]} "
            f"input channels, got input of shape {tuple(x.shape)}"
        )
    s = ntuple(stride, 2, "conv_transpose2d stride")
    p = ntuple(padding, 2, "conv_transpose2d padding")
    op = ntuple(output_padding, 2, "conv_transpose2d output_padding")
    d = ntuple(dilation, 2, "conv_transpose2d dilation")
    for k in range(2):
        if op[k] >= s[k]:
            raise ValueError(
                f"conv_transpose2d: output_padding {op} must be smaller than stride {s}"
            )
        size = (x.shape[2 + k] - 1) * s[k] - 2 * p[k] + d[k] * (weight.shape[2 + k] - 1) + op[k] + 1
        if size <= 0:
            raise ValueError(
                f"conv_transpose2d: padding {p} is too large for input of shape "
                f"{tuple(x.shape)}: the output would have size {size}"
            )
    args = (x, weight) if bias is None else (x, weight, bias)
    return ConvTranspose2d.apply(*args, stride=s, padding=p, output_padding=op, dilation=d,
                                 groups=groups)  # fmt: skip


def conv_transpose1d(x: Any, weight: Any, bias: Any = None, stride: int = 1, padding: int = 0,
                     output_padding: int = 0, groups: int = 1, dilation: int = 1) -> Tensor:  # fmt: skip
    """Transposed 1-D convolution over (N, C, L) or (C, L) (PyTorch's `F.conv_transpose1d`): conv_transpose2d
    on a height-1 image.

    Example:
        >>> conv_transpose1d(descentlab.randn(1, 4, 5), descentlab.randn(4, 2, 3), stride=2).shape
        (1, 2, 11)
    """
    if x.ndim == 2:  # unbatched (C, *spatial), as PyTorch: add the batch dimension, then drop it
        from descentlab.ops.shape import squeeze, unsqueeze

        return squeeze(
            conv_transpose1d(
                unsqueeze(x, 0), weight, bias, stride, padding, output_padding, groups, dilation
            ),
            0,
        )
    from descentlab.ops.shape import reshape

    _check_conv_input("conv_transpose1d", x, weight, groups, 1)
    n, c, length = x.shape
    x4 = reshape(x, n, c, 1, length)
    w4 = reshape(weight, weight.shape[0], weight.shape[1], 1, weight.shape[2])
    y = conv_transpose2d(x4, w4, bias, (1, stride), (0, padding), (0, output_padding), groups,
                         (1, dilation))  # fmt: skip
    return reshape(y, n, y.shape[1], y.shape[3])
