"""Pooling layers: MaxPool1d/2d, MaxUnpool1d/2d, AvgPool1d/2d, AdaptiveAvgPool1d/2d (PyTorch names
and arguments; `stride` defaults to `kernel_size`). They have no parameters. Like PyTorch they take
batched (N, C, *spatial) or unbatched (C, *spatial) input; any other rank is an error that names
the layer and both accepted shapes.

Example:
    >>> MaxPool2d(2)(descentlab.randn(8, 32, 28, 28)).shape
    (8, 32, 14, 14)
    >>> MaxPool2d(2)(descentlab.randn(32, 28, 28)).shape
    (32, 14, 14)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from descentlab.nn.module import Module
from descentlab.ops import pool as P
from descentlab.tensor import Tensor

__all__ = ["MaxPool1d", "MaxPool2d", "MaxUnpool1d", "MaxUnpool2d", "AvgPool1d", "AvgPool2d",
           "AdaptiveAvgPool1d", "AdaptiveAvgPool2d"]  # fmt: skip


def _named(layer: Module, fn: Callable[..., Any], *args: Any) -> Any:
    """fn(*args), with a ValueError re-raised under the layer's name and arguments."""
    try:
        return fn(*args)
    except ValueError as err:
        msg = str(err).removeprefix(f"{fn.__name__}: ")
        raise ValueError(f"{type(layer).__name__}({layer.extra_repr()}): {msg}") from None


class _Pool(Module):
    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
                 return_indices: bool = False, ceil_mode: bool = False) -> None:  # fmt: skip
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding, self.dilation, self.ceil_mode = padding, dilation, ceil_mode
        self.return_indices = return_indices

    def extra_repr(self) -> str:
        return (
            f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
            f"dilation={self.dilation}, ceil_mode={self.ceil_mode}"
        )


class MaxPool2d(_Pool):
    """Max over kh x kw windows of (N, C, H, W) or (C, H, W) input (PyTorch's `nn.MaxPool2d`).

    `return_indices=True` makes it return (output, indices), the flat index h * W + w of each
    maximum in its input plane (int64), for `MaxUnpool2d`. A NaN wins its window, as in PyTorch.

    Example:
        >>> y, idx = MaxPool2d(2, return_indices=True)(descentlab.randn(1, 3, 4, 4))
        >>> idx.shape, idx.dtype
        ((1, 3, 2, 2), dtype('int64'))
    """

    def forward(self, input: Tensor) -> Any:
        return _named(self, P.max_pool2d, input, self.kernel_size, self.stride, self.padding,
                      self.dilation, self.ceil_mode, self.return_indices)  # fmt: skip


class MaxPool1d(_Pool):
    """Max over windows of (N, C, L) or (C, L) input (PyTorch's `nn.MaxPool1d`);
    `return_indices=True` also returns each maximum's position along L."""

    def forward(self, input: Tensor) -> Any:
        return _named(self, P.max_pool1d, input, self.kernel_size, self.stride, self.padding,
                      self.dilation, self.ceil_mode, self.return_indices)  # fmt: skip


class MaxUnpool2d(Module):
    """Partial inverse of MaxPool2d (PyTorch's `nn.MaxUnpool2d`): `unpool(y, indices)` puts each
    value back at its index in a zero plane of size (H - 1) s - 2p + k (or `output_size`).

    Example:
        >>> pool, unpool = MaxPool2d(2, return_indices=True), MaxUnpool2d(2)
        >>> unpool(*pool(descentlab.randn(1, 3, 4, 4))).shape
        (1, 3, 4, 4)
    """

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding = padding

    def forward(self, input: Tensor, indices: Any, output_size: Any = None) -> Tensor:
        return _named(self, P.max_unpool2d, input, indices, self.kernel_size, self.stride,
                      self.padding, output_size)  # fmt: skip

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxUnpool1d(MaxUnpool2d):
    """Partial inverse of MaxPool1d (PyTorch's `nn.MaxUnpool1d`) on (N, C, L) or (C, L) input."""

    def forward(self, input: Tensor, indices: Any, output_size: Any = None) -> Tensor:
        return _named(self, P.max_unpool1d, input, indices, self.kernel_size, self.stride,
                      self.padding, output_size)  # fmt: skip


class AvgPool2d(Module):
    """Mean over kh x kw windows of (N, C, H, W) or (C, H, W) input (PyTorch's `nn.AvgPool2d`);
    zero padding counts in the divisor unless `count_include_pad=False`."""

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 ceil_mode: bool = False, count_include_pad: bool = True,
                 divisor_override: int | None = None) -> None:  # fmt: skip
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding, self.ceil_mode = padding, ceil_mode
        self.count_include_pad, self.divisor_override = count_include_pad, divisor_override

    def forward(self, input: Tensor) -> Tensor:
        return _named(self, P.avg_pool2d, input, self.kernel_size, self.stride, self.padding,
                      self.ceil_mode, self.count_include_pad, self.divisor_override)  # fmt: skip

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool1d(Module):
    """Mean over windows of (N, C, L) or (C, L) input (PyTorch's `nn.AvgPool1d`)."""

    def __init__(self, kernel_size: int, stride: int | None = None, padding: int = 0,
                 ceil_mode: bool = False, count_include_pad: bool = True) -> None:  # fmt: skip
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding, self.ceil_mode, self.count_include_pad = padding, ceil_mode, count_include_pad

    def forward(self, input: Tensor) -> Tensor:
        return _named(self, P.avg_pool1d, input, self.kernel_size, self.stride, self.padding,
                      self.ceil_mode, self.count_include_pad)  # fmt: skip

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool2d(Module):
    """Average into a fixed output grid whatever the input size (PyTorch's `nn.AdaptiveAvgPool2d`);
    `AdaptiveAvgPool2d(1)` is global average pooling. Input (N, C, H, W) or (C, H, W)."""

    def __init__(self, output_size: Any) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, input: Tensor) -> Tensor:
        return _named(self, P.adaptive_avg_pool2d, input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(AdaptiveAvgPool2d):
    """Average (N, C, L) input into `output_size` bins (PyTorch's `nn.AdaptiveAvgPool1d`)."""

    def forward(self, input: Tensor) -> Tensor:
        return _named(self, P.adaptive_avg_pool1d, input, self.output_size)
