"""Weight initializers with PyTorch's names and formulas; each fills a tensor in place and returns it.

Every random initializer takes an optional `generator` (np.random.Generator); without one the
global generator (`descentlab.manual_seed`) is used. Fans follow PyTorch: for a weight of shape
(out, in, *kernel), fan_in = in * prod(kernel) and fan_out = out * prod(kernel).

    xavier (Glorot):  std = gain * sqrt(2 / (fan_in + fan_out))   -> keeps variance through tanh nets
    kaiming (He):     std = gain / sqrt(fan)                      -> gain sqrt(2) for ReLU
    lecun:            std = 1 / sqrt(fan_in)                      -> for SELU (Keras convention)
    uniform variants: bound = sqrt(3) * std

Example:
    >>> w = descentlab.nn.Parameter(np.empty((256, 128), np.float32))
    >>> std = kaiming_normal_(w, nonlinearity="relu").data.std()   # sqrt(2 / 128) = 0.125
    >>> bool(abs(std - 0.125) < 0.005)
    True
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from descentlab.random import resolve
from descentlab.tensor import Tensor

__all__ = [
    "calculate_gain", "calculate_fan_in_and_fan_out", "uniform_", "normal_", "constant_", "zeros_",
    "ones_", "eye_", "dirac_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_",
    "kaiming_normal_", "trunc_normal_", "orthogonal_", "lecun_uniform_", "lecun_normal_",
]  # fmt: skip

Generator = np.random.Generator | None


def _fill(tensor: Any, values: np.ndarray) -> Any:
    data = tensor.data if isinstance(tensor, Tensor) else tensor
    data[...] = values
    return tensor


def _shape(tensor: Any) -> tuple[int, ...]:
    return tuple(tensor.shape)


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The gain that keeps activations' variance for `nonlinearity` (PyTorch's table).

    linear / conv* / sigmoid: 1; tanh: 5/3; relu: sqrt(2); leaky_relu: sqrt(2 / (1 + slope^2))
    (slope `param`, default 0.01); selu: 3/4.
    """
    linear_fns = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                  "conv_transpose3d", "sigmoid")  # fmt: skip
    if nonlinearity in linear_fns:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        if isinstance(slope, bool) or not isinstance(slope, (int, float)):
            raise ValueError(f"calculate_gain: negative_slope {param!r} is not a number")
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(
        f"calculate_gain: unsupported nonlinearity {nonlinearity!r}; use one of "
        f"{', '.join((*linear_fns, 'tanh', 'relu', 'leaky_relu', 'selu'))}"
    )


def calculate_fan_in_and_fan_out(tensor: Any) -> tuple[int, int]:
    """fan_in = shape[1] * receptive field, fan_out = shape[0] * receptive field (PyTorch)."""
    shape = _shape(tensor)
    if len(shape) < 2:
        raise ValueError(
            f"fan in and fan out need a tensor with at least 2 dimensions, got shape {shape}"
        )
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


def _fan(tensor: Any, mode: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def uniform_(tensor: Any, a: float = 0.0, b: float = 1.0, generator: Generator = None) -> Any:
    """Fill with U(a, b)."""
    return _fill(tensor, resolve(generator).uniform(a, b, size=_shape(tensor)))


def normal_(tensor: Any, mean: float = 0.0, std: float = 1.0, generator: Generator = None) -> Any:
    """Fill with N(mean, std^2)."""
    return _fill(tensor, resolve(generator).normal(mean, std, size=_shape(tensor)))


def trunc_normal_(tensor: Any, mean: float = 0.0, std: float = 1.0, a: float = -2.0,
                  b: float = 2.0, generator: Generator = None) -> Any:  # fmt: skip
    """Fill with N(mean, std^2) truncated to [a, b] (absolute bounds, as PyTorch), by resampling
    the values that fall outside."""
    if not a < b:
        raise ValueError(f"trunc_normal_: need a < b, got a={a}, b={b}")
    rng = resolve(generator)
    values = rng.normal(mean, std, size=_shape(tensor))
    bad = (values < a) | (values > b)
    for _ in range(1000):
        if not bad.any():
            break
        values[bad] = rng.normal(mean, std, size=int(bad.sum()))
        bad = (values < a) | (values > b)
    else:
        raise ValueError(
            f"trunc_normal_: [a, b] = [{a}, {b}] holds almost no mass of N({mean}, {std}^2)"
        )
    return _fill(tensor, values)


def constant_(tensor: Any, val: float) -> Any:
    """Fill with `val`."""
    return _fill(tensor, val)


def zeros_(tensor: Any) -> Any:
    """Fill with 0."""
    return constant_(tensor, 0.0)


def ones_(tensor: Any) -> Any:
    """Fill with 1."""
    return constant_(tensor, 1.0)


def eye_(tensor: Any) -> Any:
    """Fill a 2-D tensor with the identity (ones on the diagonal, also for non-square)."""
    shape = _shape(tensor)
    if len(shape) != 2:
        raise ValueError(f"eye_: only 2-D tensors are supported, got shape {shape}")
    return _fill(tensor, np.eye(*shape))


def dirac_(tensor: Any, groups: int = 1) -> Any:
    """Fill a conv weight (out, in, *k) so the convolution is the identity on the first
    min(out/groups, in) channels of each group (PyTorch's `dirac_`)."""
    shape = _shape(tensor)
    if len(shape) not in (3, 4, 5) or shape[0] % groups:
        raise ValueError(f"dirac_: need a 3-5-D weight with out channels divisible by {groups}")
    values = np.zeros(shape)
    per = shape[0] // groups
    centre = tuple(k // 2 for k in shape[2:])
    for g in range(groups):
        for d in range(min(per, shape[1])):
            values[(g * per + d, d) + centre] = 1
    return _fill(tensor, values)


def xavier_uniform_(tensor: Any, gain: float = 1.0, generator: Generator = None) -> Any:
    """Glorot uniform: U(-b, b), b = gain * sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor: Any, gain: float = 1.0, generator: Generator = None) -> Any:
    """Glorot normal: N(0, std^2), std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), generator)


def kaiming_uniform_(tensor: Any, a: float = 0.0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu", generator: Generator = None) -> Any:  # fmt: skip
    """He uniform: U(-b, b), b = gain * sqrt(3 / fan), gain = calculate_gain(nonlinearity, a).

    PyTorch's default for Linear and Conv weights is this with a = sqrt(5): b = 1 / sqrt(fan_in).
    """
    gain = calculate_gain(nonlinearity, a)
    bound = gain * math.sqrt(3.0 / _fan(tensor, mode))
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor: Any, a: float = 0.0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu", generator: Generator = None) -> Any:  # fmt: skip
    """He normal: N(0, std^2), std = gain / sqrt(fan), gain = calculate_gain(nonlinearity, a)."""
    gain = calculate_gain(nonlinearity, a)
    return normal_(tensor, 0.0, gain / math.sqrt(_fan(tensor, mode)), generator)


def lecun_uniform_(tensor: Any, generator: Generator = None) -> Any:
    """LeCun uniform (Keras convention; PyTorch has none): U(-b, b), b = sqrt(3 / fan_in)."""
    bound = math.sqrt(3.0 / _fan(tensor, "fan_in"))
    return uniform_(tensor, -bound, bound, generator)


def lecun_normal_(tensor: Any, generator: Generator = None) -> Any:
    """LeCun normal (Keras convention): a normal truncated at two standard deviations whose std
    is sqrt(1 / fan_in) after truncation (Keras divides by 0.87962566103423978 to undo it)."""
    std = math.sqrt(1.0 / _fan(tensor, "fan_in")) / 0.87962566103423978
    return trunc_normal_(tensor, 0.0, std, -2 * std, 2 * std, generator)


def orthogonal_(tensor: Any, gain: float = 1.0, generator: Generator = None) -> Any:
    """A (semi-)orthogonal matrix from the QR decomposition of a Gaussian one (Saxe et al. 2013);
    dimensions after the first are flattened, as PyTorch."""
    shape = _shape(tensor)
    if len(shape) < 2:
        raise ValueError(f"orthogonal_: need at least 2 dimensions, got shape {shape}")
    rows, cols = shape[0], int(np.prod(shape[1:]))
    flat = resolve(generator).standard_normal((rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q = q * np.sign(np.diag(r))  # make the decomposition unique (uniform over orthogonal matrices)
    if rows < cols:
        q = q.T
    return _fill(tensor, gain * q.reshape(shape))
