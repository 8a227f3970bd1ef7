"""Convolution layers: Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d (PyTorch names, shapes,
arguments and default initialisation).

Weights are (out_channels, in_channels / groups, *kernel) for convolutions and (in_channels,
out_channels / groups, *kernel) for transposed ones; both are initialised like PyTorch:
kaiming_uniform_(a=sqrt(5)), i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and the bias from the same
bound. `in_channels=None` makes the layer lazy: the weight is created on the first call. Like
PyTorch, the layers take batched (N, C, *spatial) or unbatched (C, *spatial) input.

Example:
    >>> conv = Conv2d(1, 32, 3, padding=1)
    >>> conv(descentlab.randn(64, 1, 28, 28)).shape
    (64, 32, 28, 28)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from descentlab.nn import init
from descentlab.nn.module import Module, Parameter
from descentlab.ops.conv import conv1d, conv2d, conv_transpose1d, conv_transpose2d, ntuple
from descentlab.tensor import Tensor

__all__ = ["Conv1d", "Conv2d", "ConvTranspose1d", "ConvTranspose2d"]


class _ConvNd(Module):
    """Shared construction, lazy building, initialisation and checks of the convolution layers."""

    nd = 2
    transposed = False

    def __init__(self, in_channels: int | None, out_channels: int, kernel_size: Any,
                 stride: Any = 1, padding: Any = 0, dilation: Any = 1, groups: int = 1,
                 bias: bool = True, padding_mode: str = "zeros", output_padding: Any = 0,
                 dtype: Any = np.float32, generator: np.random.Generator | None = None) -> None:  # fmt: skip
        super().__init__()
        name = type(self).__name__
        if padding_mode != "zeros":
            raise ValueError(
                f"{name}: only padding_mode='zeros' is supported, got {padding_mode!r}"
            )
        if out_channels <= 0 or (in_channels is not None and in_channels <= 0):
            raise ValueError(
                f"{name}: in_channels and out_channels must be positive, got ({in_channels}, "
                f"{out_channels})"
            )
        if (
            groups <= 0
            or out_channels % groups
            or (in_channels is not None and in_channels % groups)
        ):
            raise ValueError(
                f"{name}({in_channels}, {out_channels}): groups={groups} must divide both "
                "in_channels and out_channels"
            )
        nd = self.nd
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = ntuple(kernel_size, nd, f"{name} kernel_size")
        self.stride = ntuple(stride, nd, f"{name} stride")
        self.dilation = ntuple(dilation, nd, f"{name} dilation")
        if isinstance(padding, str):
            if padding not in ("same", "valid") or self.transposed:
                raise ValueError(
                    f"{name}: padding must be an int, a tuple{'' if self.transposed else ', same or valid'}"
                    f", got {padding!r}"
                )
            if padding == "same" and self.stride != (1,) * nd:
                raise ValueError(f"{name}: padding='same' needs stride 1, got stride {self.stride}")
            self.padding: Any = padding
        else:
            self.padding = ntuple(padding, nd, f"{name} padding")
        self.output_padding = ntuple(output_padding, nd, f"{name} output_padding")
        self.padding_mode = padding_mode
        self._dtype, self._generator, self._use_bias = np.dtype(dtype), generator, bias
        self.register_parameter("weight", None)
        self.register_parameter("bias", None)
        if in_channels is not None:
            self._build(in_channels)

    def _weight_shape(self, in_channels: int) -> tuple[int, ...]:
        if self.transposed:
            return (in_channels, self.out_channels // self.groups, *self.kernel_size)
        return (self.out_channels, in_channels // self.groups, *self.kernel_size)

    def _build(self, in_channels: int) -> None:
        if in_channels % self.groups:
            raise ValueError(
                f"{type(self).__name__}: groups={self.groups} must divide in_channels ({in_channels})"
            )
        self.in_channels = in_channels
        self.weight = Parameter(np.empty(self._weight_shape(in_channels), dtype=self._dtype))
        if self._use_bias:
            self.bias = Parameter(np.empty(self.out_channels, dtype=self._dtype))
        self.reset_parameters()

    def _materialize_from_state(self, state: Any, prefix: str) -> None:
        key = prefix + "weight"
        if self.weight is None and key in state:
            shape = tuple(state[key].shape)
            self._build(shape[0] if self.transposed else shape[1] * self.groups)

    def reset_parameters(self) -> None:
        """PyTorch's default: kaiming_uniform_(a=sqrt(5)) for the weight, U(-1/sqrt(fan_in), ..)
        for the bias."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5), generator=self._generator)
        if self.bias is not None:
            fan_in, _ = init.calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
            init.uniform_(self.bias, -bound, bound, generator=self._generator)

    def _check(self, x: Tensor) -> None:
        name = f"{type(self).__name__}({self.in_channels}, {self.out_channels})"
        dims = "L" if self.nd == 1 else "H, W"
        if x.ndim not in (self.nd + 1, self.nd + 2):
            raise ValueError(
                f"{name} expected a {self.nd + 1}-D (C, {dims}) or {self.nd + 2}-D (N, C, {dims}) "
                f"input, got input of shape {tuple(x.shape)}"
            )
        if x.shape[-self.nd - 1] != self.in_channels:
            raise ValueError(
                f"{name} expected {self.in_channels} input channels, got input of shape "
                f"{tuple(x.shape)}"
            )

    def forward(self, input: Tensor) -> Tensor:
        if self.weight is None:
            if input.ndim not in (self.nd + 1, self.nd + 2):
                self._check(input)
            self._build(input.shape[-self.nd - 1])
        self._check(input)
        try:
            return self._conv(input)
        except ValueError as err:
            raise ValueError(
                f"{type(self).__name__}({self.in_channels}, {self.out_channels}): {err}"
            ) from None

    def _conv(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def extra_repr(self) -> str:
        parts = [f"{self.in_channels}, {self.out_channels}", f"kernel_size={self.kernel_size}",
                 f"stride={self.stride}"]  # fmt: skip
        if self.padding not in ((0,) * self.nd, "valid"):
            parts.append(
                f"padding={self.padding!r}"
                if isinstance(self.padding, str)
                else f"padding={self.padding}"
            )
        if self.dilation != (1,) * self.nd:
            parts.append(f"dilation={self.dilation}")
        if self.transposed and self.output_padding != (0,) * self.nd:
            parts.append(f"output_padding={self.output_padding}")
        if self.groups != 1:
            parts.append(f"groups={self.groups}")
        if not self._use_bias:
            parts.append("bias=False")
        return ", ".join(parts)


class Conv2d(_ConvNd):
    """2-D convolution over (N, C, H, W) or (C, H, W) (PyTorch's `nn.Conv2d`): stride, padding (int, pair,
    'same', 'valid'), dilation, groups, bias. See `descentlab.ops.conv.conv2d` for the formula."""

    nd = 2

    def __init__(self, in_channels: int | None, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, dilation: Any = 1, groups: int = 1, bias: bool = True,
                 padding_mode: str = "zeros", dtype: Any = np.float32,
                 generator: np.random.Generator | None = None) -> None:  # fmt: skip
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups,
                         bias, padding_mode, 0, dtype, generator)  # fmt: skip

    def _conv(self, x: Tensor) -> Tensor:
        return conv2d(
            x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups
        )


class Conv1d(_ConvNd):
    """1-D convolution over (N, C, L) or (C, L) (PyTorch's `nn.Conv1d`); runs as a height-1 Conv2d."""

    nd = 1

    def __init__(self, in_channels: int | None, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, dilation: Any = 1, groups: int = 1, bias: bool = True,
                 padding_mode: str = "zeros", dtype: Any = np.float32,
                 generator: np.random.Generator | None = None) -> None:  # fmt: skip
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups,
                         bias, padding_mode, 0, dtype, generator)  # fmt: skip

    def _conv(self, x: Tensor) -> Tensor:
        return conv1d(
            x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups
        )


class ConvTranspose2d(_ConvNd):
    """Transposed 2-D convolution (PyTorch's `nn.ConvTranspose2d`), e.g. for learned upsampling:
    output size (H - 1) s - 2p + d(k - 1) + output_padding + 1."""

    nd = 2
    transposed = True

    def __init__(self, in_channels: int | None, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, output_padding: Any = 0, groups: int = 1, bias: bool = True,
                 dilation: Any = 1, padding_mode: str = "zeros", dtype: Any = np.float32,
                 generator: np.random.Generator | None = None) -> None:  # fmt: skip
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups,
                         bias, padding_mode, output_padding, dtype, generator)  # fmt: skip

    def _conv(self, x: Tensor) -> Tensor:
        return conv_transpose2d(x, self.weight, self.bias, self.stride, self.padding,
                                self.output_padding, self.groups, self.dilation)  # fmt: skip


class ConvTranspose1d(_ConvNd):
    """Transposed 1-D convolution (PyTorch's `nn.ConvTranspose1d`)."""

    nd = 1
    transposed = True

    def __init__(self, in_channels: int | None, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, output_padding: Any = 0, groups: int = 1, bias: bool = True,
                 dilation: Any = 1, padding_mode: str = "zeros", dtype: Any = np.float32,
                 generator: np.random.Generator | None = None) -> None:  # fmt: skip
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups,
                         bias, padding_mode, output_padding, dtype, generator)  # fmt: skip

    def _conv(self, x: Tensor) -> Tensor:
        return conv_transpose1d(x, self.weight, self.bias, self.stride[0], self.padding[0],
                                self.output_padding[0], self.groups, self.dilation[0])  # fmt: skip
