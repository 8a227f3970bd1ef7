"""Normalization layers: BatchNorm1d, BatchNorm2d, LayerNorm, GroupNorm, RMSNorm (PyTorch names,
parameters, buffers and defaults).

BatchNorm keeps `running_mean`, `running_var` (unbiased, as PyTorch) and `num_batches_tracked`
as buffers, so its state_dict matches PyTorch's key for key. In training mode it normalises with
the batch statistics and updates the running ones (momentum=None: cumulative average); after
`model.eval()` it uses the running statistics.

Example:
    >>> bn = BatchNorm2d(16)
    >>> bn(descentlab.randn(8, 16, 5, 5)).shape
    (8, 16, 5, 5)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from descentlab.nn.module import Module, Parameter
from descentlab.ops import normalization as N
from descentlab.tensor import Tensor

__all__ = ["BatchNorm1d", "BatchNorm2d", "LayerNorm", "GroupNorm", "RMSNorm"]


class _BatchNorm(Module):
    expected_ndims: tuple[int, ...] = (2, 3, 4)

    def __init__(self, num_features: int | None, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True,
                 dtype: Any = np.float32, *, bias: bool = True) -> None:  # fmt: skip
        super().__init__()
        if num_features is not None and num_features <= 0:
            raise ValueError(
                f"{type(self).__name__}: num_features must be positive, got {num_features}"
            )
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats, self._dtype = (
            affine,
            track_running_stats,
            np.dtype(dtype),
        )
        self._bias = bias  # affine=True, bias=False: a learned scale only (PyTorch >= 2.x)
        self.register_parameter("weight", None)
        self.register_parameter("bias", None)
        for name in ("running_mean", "running_var", "num_batches_tracked"):
            self.register_buffer(name, None)
        if num_features is not None:
            self._build(num_features)

    def _build(self, num_features: int) -> None:
        self.num_features = num_features
        if self.affine:
            self.weight = Parameter(np.ones(num_features, dtype=self._dtype))
            if self._bias:
                self.bias = Parameter(np.zeros(num_features, dtype=self._dtype))
        if self.track_running_stats:
            self.running_mean = np.zeros(num_features, dtype=self._dtype)
            self.running_var = np.ones(num_features, dtype=self._dtype)
            self.num_batches_tracked = np.array(0, dtype=np.int64)

    def _materialize_from_state(self, state: Any, prefix: str) -> None:
        if self.num_features is None:
            for key in ("weight", "running_mean"):
                if prefix + key in state:
                    self._build(int(state[prefix + key].shape[0]))
                    return

    def reset_running_stats(self) -> None:
        """Running mean 0, running variance 1, no batches tracked."""
        if self.track_running_stats:
            self.running_mean[...] = 0
            self.running_var[...] = 1
            self.num_batches_tracked[...] = 0

    def reset_parameters(self) -> None:
        """weight 1, bias 0 (PyTorch's default) and fresh running statistics."""
        self.reset_running_stats()
        if self.affine:
            self.weight.data[...] = 1
            if self.bias is not None:
                self.bias.data[...] = 0

    def forward(self, input: Tensor) -> Tensor:
        name = type(self).__name__
        if input.ndim not in self.expected_ndims:
            raise ValueError(
                f"{name}({self.num_features}) expected a {' or '.join(map(str, self.expected_ndims))}"
                f"-D input, got input of shape {tuple(input.shape)}"
            )
        if self.num_features is None:
            self._build(input.shape[1])
        if input.shape[1] != self.num_features:
            raise ValueError(
                f"{name}({self.num_features}) expected {self.num_features} channels in dimension 1, "
                f"got input of shape {tuple(input.shape)}"
            )
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and input.size // input.shape[1] <= 1:  # PyTorch checks in training mode
            raise ValueError(
                f"{name}({self.num_features}): expected more than 1 value per channel when "
                f"training, got input of shape {tuple(input.shape)}; use a batch of at least 2 "
                "or call model.eval()"
            )
        if self.training and self.track_running_stats:
            self.num_batches_tracked += 1
            if self.momentum is None:  # cumulative moving average
                factor = 1.0 / float(self.num_batches_tracked)
        use_batch = self.training or self.running_mean is None
        stats = (None, None) if (self.training and not self.track_running_stats) else (
            self.running_mean, self.running_var)  # fmt: skip
        try:
            return N.batch_norm(input, *stats, self.weight, self.bias, use_batch, factor, self.eps)
        except ValueError as err:
            raise ValueError(f"{name}({self.num_features}): {err}") from None

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
            f"bias={self.affine and self._bias}, track_running_stats={self.track_running_stats}"
        )


class BatchNorm1d(_BatchNorm):
    """Batch normalization of (N, C) or (N, C, L) input over all but dimension 1 (Ioffe & Szegedy
    2015; PyTorch's `nn.BatchNorm1d`)."""

    expected_ndims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalization of (N, C, H, W) input per channel (PyTorch's `nn.BatchNorm2d`)."""

    expected_ndims = (4,)


class LayerNorm(Module):
    """Normalise each sample over its last dimensions `normalized_shape`, then an elementwise affine
    (Ba et al. 2016; PyTorch's `nn.LayerNorm`): y = (x - E[x]) / sqrt(Var[x] + eps) * weight + bias."""

    def __init__(self, normalized_shape: int | Sequence[int], eps: float = 1e-5,
                 elementwise_affine: bool = True, bias: bool = True,
                 dtype: Any = np.float32) -> None:  # fmt: skip
        super().__init__()
        shape = (
            (normalized_shape,)
            if isinstance(normalized_shape, (int, np.integer))
            else normalized_shape
        )
        self.normalized_shape, self.eps = tuple(int(s) for s in shape), eps
        self.elementwise_affine = elementwise_affine
        self.weight = (
            Parameter(np.ones(self.normalized_shape, dtype=dtype)) if elementwise_affine else None
        )
        self.bias = (
            Parameter(np.zeros(self.normalized_shape, dtype=dtype))
            if elementwise_affine and bias
            else None
        )
        for name in ("weight", "bias"):
            if getattr(self, name) is None:
                self.register_parameter(name, None)

    def forward(self, input: Tensor) -> Tensor:
        try:
            return N.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)
        except ValueError as err:  # name the layer, as the other layers do
            raise ValueError(f"LayerNorm({self.normalized_shape}): {err}") from None

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
            f"bias={self.bias is not None}"
        )


class GroupNorm(Module):
    """Normalise each sample over groups of channels, then a per-channel affine (Wu & He 2018;
    PyTorch's `nn.GroupNorm`); independent of the batch size."""

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True,
                 dtype: Any = np.float32, *, bias: bool = True) -> None:  # fmt: skip
        super().__init__()
        if num_groups <= 0 or num_channels % num_groups:
            raise ValueError(
                f"GroupNorm: num_groups ({num_groups}) must divide num_channels ({num_channels})"
            )
        self.num_groups, self.num_channels, self.eps, self.affine = (
            num_groups,
            num_channels,
            eps,
            affine,
        )
        self.weight = Parameter(np.ones(num_channels, dtype=dtype)) if affine else None
        self.bias = Parameter(np.zeros(num_channels, dtype=dtype)) if affine and bias else None
        for name in ("weight", "bias"):
            if getattr(self, name) is None:
                self.register_parameter(name, None)

    def forward(self, input: Tensor) -> Tensor:
        if input.ndim < 2 or input.shape[1] != self.num_channels:
            raise ValueError(
                f"GroupNorm({self.num_groups}, {self.num_channels}) expected {self.num_channels} "
                f"channels in dimension 1, got input of shape {tuple(input.shape)}"
            )
        return N.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
            f"bias={self.bias is not None}"
        )


class RMSNorm(Module):
    """Root-mean-square normalisation over the last dimensions with a learned scale (Zhang &
    Sennrich 2019; PyTorch's `nn.RMSNorm`): y = x / sqrt(mean(x^2) + eps) * weight; eps=None uses
    the dtype's machine epsilon."""

    def __init__(self, normalized_shape: int | Sequence[int], eps: float | None = None,
                 elementwise_affine: bool = True, dtype: Any = np.float32) -> None:  # fmt: skip
        super().__init__()
        shape = (
            (normalized_shape,)
            if isinstance(normalized_shape, (int, np.integer))
            else normalized_shape
        )
        self.normalized_shape, self.eps = tuple(int(s) for s in shape), eps
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(np.ones(self.normalized_shape, dtype=dtype))
        else:
            self.register_parameter("weight", None)

    def forward(self, x: Tensor) -> Tensor:  # torch names this one x
        try:
            return N.rms_norm(x, self.normalized_shape, self.weight, self.eps)
        except ValueError as err:
            raise ValueError(f"RMSNorm({self.normalized_shape}): {err}") from None

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
        )
