"""Elementwise arithmetic, matrix products and the fused linear layer.

Every binary op broadcasts like NumPy/PyTorch; its backward undoes the broadcast with `sum_to`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from descentlab.tensor import Function, Tensor, sum_to

__all__ = [
    "add", "sub", "mul", "div", "pow", "neg", "abs", "exp", "log", "log1p", "sqrt", "sin", "cos",
    "maximum", "minimum", "clip", "clamp", "where", "matmul", "linear",
]  # fmt: skip


def _broadcast_error(op: str, *arrays: np.ndarray) -> ValueError:
    shapes = " and ".join(str(a.shape) for a in arrays)
    return ValueError(
        f"{op}: shapes {shapes} cannot be broadcast together; make the trailing "
        "dimensions equal or 1 (e.g. with reshape or unsqueeze)"
    )


class _Binary(Function):
    """Shared forward shape check for broadcasting binary ops."""

    op_name = "binary op"

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        self.a_shape, self.b_shape = a.shape, b.shape
        try:
            return self.compute(a, b)
        except ValueError as err:
            if "broadcast" in str(err):
                raise _broadcast_error(self.op_name, a, b) from None
            raise

    def compute(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class Add(_Binary):
    op_name = "add"

    def compute(self, a, b):
        return a + b

    def backward(self, g):
        return sum_to(g, self.a_shape), sum_to(g, self.b_shape)


class Sub(_Binary):
    op_name = "sub"

    def compute(self, a, b):
        return a - b

    def backward(self, g):
        gb = -sum_to(g, self.b_shape) if self.needs_input_grad[1] else None
        return sum_to(g, self.a_shape), gb


class Mul(_Binary):
    op_name = "mul"

    def compute(self, a, b):
        self.a, self.b = a, b
        return a * b

    def backward(self, g):
        ga = sum_to(g * self.b, self.a_shape) if self.needs_input_grad[0] else None
        gb = sum_to(g * self.a, self.b_shape) if self.needs_input_grad[1] else None
        return ga, gb


class Div(_Binary):
    op_name = "div"

    def compute(self, a, b):
        self.a, self.b = a, b
        return a / b

    def backward(self, g):
        ga = sum_to(g / self.b, self.a_shape) if self.needs_input_grad[0] else None
        gb = (
            sum_to(-g * self.a / (self.b * self.b), self.b_shape)
            if self.needs_input_grad[1]
            else None
        )
        return ga, gb


class Pow(_Binary):
    """a ** b with both sides tensors: d/da = b a^(b-1) (0 where b = 0), d/db = a^b log a (0 where
    a = 0, b >= 0)."""

    op_name = "pow"

    def compute(self, a, b):
        self.a, self.b = a, b
        self.out = np.power(a, b)
        return self.out

    def backward(self, g):
        a, b = self.a, self.b
        ga = gb = None
        if self.needs_input_grad[0]:
            with np.errstate(divide="ignore", invalid="ignore"):
                # b = 0: a^0 is constant, so 0 (as PyTorch), not 0 * 0^-1 = nan at a = 0.
                da = np.where(b == 0, 0, b * np.power(a, b - 1))
            ga = sum_to(g * da.astype(g.dtype, copy=False), self.a_shape)
        if self.needs_input_grad[1]:
            with np.errstate(divide="ignore", invalid="ignore"):
                dlog = np.where((a == 0) & (b >= 0), 0, self.out * np.log(a))
            gb = sum_to(g * dlog.astype(g.dtype, copy=False), self.b_shape)
        return ga, gb


class PowScalar(Function):
    """x ** p for a constant exponent p: d/dx = p x^(p-1)."""

    def forward(self, x, p):
        self.x, self.p = x, p
        return np.power(x, p).astype(x.dtype, copy=False)

    def backward(self, g):
        if self.p == 0:
            return np.zeros_like(g)  # x^0 = 1 is constant, also at x = 0 (0 * 0^-1 would be nan)
        if self.p == 2:
            return g * (2 * self.x)
        return g * (self.p * np.power(self.x, self.p - 1)).astype(g.dtype, copy=False)


class Maximum(_Binary):
    """Elementwise max; on ties the gradient is split evenly (PyTorch convention)."""

    op_name = "maximum"

    def compute(self, a, b):
        self.a, self.b = a, b
        return np.maximum(a, b)

    def backward(self, g):
        return _split_by_mask(g, self.a > self.b, self.a == self.b, self.a_shape, self.b_shape)


class Minimum(_Binary):
    op_name = "minimum"

    def compute(self, a, b):
        self.a, self.b = a, b
        return np.minimum(a, b)

    def backward(self, g):
        return _split_by_mask(g, self.a < self.b, self.a == self.b, self.a_shape, self.b_shape)


def _split_by_mask(g, a_wins, tie, a_shape, b_shape):
    wa = a_wins + 0.5 * tie
    ga = sum_to(g * wa.astype(g.dtype), a_shape)
    gb = sum_to(g * (1 - wa).astype(g.dtype), b_shape)
    return ga, gb


class Neg(Function):
    def forward(self, x):
        return -x

    def backward(self, g):
        return -g


class Identity(Function):
    def forward(self, x, copy=False):
        return x.copy() if copy else x

    def backward(self, g):
        return g


class Cast(Function):
    def forward(self, x, dtype):
        self.src = x.dtype
        return x.astype(dtype)

    def backward(self, g):
        return g.astype(self.src) if np.issubdtype(self.src, np.inexact) else None


class Abs(Function):
    def forward(self, x):
        self.x = x
        return np.abs(x)

    def backward(self, g):
        return g * np.sign(self.x)


class Exp(Function):
    def forward(self, x):
        self.out = np.exp(x)
        return self.out

    def backward(self, g):
        return g * self.out


class Log(Function):
    def forward(self, x):
        self.x = x
        return np.log(x)

    def backward(self, g):
        return g / self.x


class Log1p(Function):
    def forward(self, x):
        self.x = x
        return np.log1p(x)

    def backward(self, g):
        return g / (1 + self.x)


class Sqrt(Function):
    def forward(self, x):
        self.out = np.sqrt(x)
        return self.out

    def backward(self, g):
        return g / (2 * self.out)


class Sin(Function):
    def forward(self, x):
        self.x = x
        return np.sin(x)

    def backward(self, g):
        return g * np.cos(self.x)


class Cos(Function):
    def forward(self, x):
        self.x = x
        return np.cos(x)

    def backward(self, g):
        return -g * np.sin(self.x)


class Clip(Function):
    """clamp(x, lo, hi); the gradient passes where lo <= x <= hi (PyTorch `clamp`)."""

    def forward(self, x, lo=None, hi=None):
        self.mask = np.ones(x.shape, dtype=bool)
        if lo is not None:
            self.mask &= x >= lo
        if hi is not None:
            self.mask &= x <= hi
        return np.clip(x, lo, hi).astype(x.dtype, copy=False)

    def backward(self, g):
        return g * self.mask


class Where(Function):
    """where(cond, a, b): `cond` is a constant boolean array."""

    def forward(self, a, b, cond):
        self.cond, self.a_shape, self.b_shape = cond, a.shape, b.shape
        try:
            return np.where(cond, a, b)
        except ValueError:
            raise _broadcast_error("where (condition, a, b)", cond, a, b) from None

    def backward(self, g):
        zero = np.zeros((), dtype=g.dtype)
        ga = (
            sum_to(np.where(self.cond, g, zero), self.a_shape) if self.needs_input_grad[0] else None
        )
        gb = (
            sum_to(np.where(self.cond, zero, g), self.b_shape) if self.needs_input_grad[1] else None
        )
        return ga, gb


class MatMul(Function):
    """a @ b with NumPy/PyTorch semantics (1-D operands promoted, batch dims broadcast)."""

    def forward(self, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError("matmul: both operands need at least one dimension; use * for scalars")
        ka = a.shape[-1]
        kb = b.shape[0] if b.ndim == 1 else b.shape[-2]
        if ka != kb:
            raise ValueError(
                f"matmul: shapes {a.shape} and {b.shape} are not aligned: the last dimension of the "
                f"first ({ka}) must equal the {'first' if b.ndim == 1 else 'second-to-last'} "
                f"dimension of the second ({kb})"
            )
        self.a, self.b = a, b
        try:
            return a @ b
        except ValueError:
            raise ValueError(
                f"matmul: shapes {a.shape} and {b.shape} have batch dimensions {a.shape[:-2]} and "
                f"{b.shape[:-2]} that cannot be broadcast together"
            ) from None

    def backward(self, g):
        a, b = self.a, self.b
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        # Restore the dropped axes: n (last) first, so that a 0-d g (vector @ vector) works too.
        g2 = g[..., None] if b.ndim == 1 else g
        if a.ndim == 1:
            g2 = np.expand_dims(g2, -2)
        ga = gb = None
        if self.needs_input_grad[0]:
            ga = sum_to(g2 @ np.swapaxes(b2, -1, -2), a2.shape).reshape(a.shape)
        if self.needs_input_grad[1]:
            gb = sum_to(np.swapaxes(a2, -1, -2) @ g2, b2.shape).reshape(b.shape)
        return ga, gb


class Linear(Function):
    """y = x W^T + b with W shaped (out, in) as in PyTorch.

    Fused because it is the hot path of every MLP: one GEMM forward, two GEMMs and a column sum
    backward, no intermediate transposed copies or broadcast bookkeeping.
    """

    def forward(self, x, weight, bias=None):
        if x.shape[-1] != weight.shape[1]:
            raise ValueError(
                f"linear: input of shape {x.shape} has {x.shape[-1]} features but weight of shape "
                f"{weight.shape} expects {weight.shape[1]} (weight is (out_features, in_features))"
            )
        if bias is not None and bias.shape != weight.shape[:1]:
            raise ValueError(
                f"linear: bias of shape {bias.shape} does not match weight of shape "
                f"{weight.shape}; expected bias of shape ({weight.shape[0]},)"
            )
        self.x, self.weight = x, weight
        out = x @ weight.T
        if bias is not None:
            out += bias
        return out

    def backward(self, g):
        x, w = self.x, self.weight
        g2 = g.reshape(-1, g.shape[-1])
        gx = (g @ w) if self.needs_input_grad[0] else None
        gw = g2.T @ x.reshape(-1, x.shape[-1]) if self.needs_input_grad[1] else None
        if len(self.needs_input_grad) == 3:
            return gx, gw, (g2.sum(axis=0) if self.needs_input_grad[2] else None)
        return gx, gw


# ------------------------------------------------------------------ functional aliases
def add(a: Any, b: Any) -> Tensor:
    """a + b, broadcasting."""
    return Add.apply(a, b)


def sub(a: Any, b: Any) -> Tensor:
    """a - b, broadcasting."""
    return Sub.apply(a, b)


def mul(a: Any, b: Any) -> Tensor:
    """a * b, broadcasting."""
    return Mul.apply(a, b)


def div(a: Any, b: Any) -> Tensor:
    """a / b, broadcasting."""
    return Div.apply(a, b)


def pow(a: Any, b: Any) -> Tensor:  # noqa: A001 - PyTorch name
    """a ** b; a constant Python exponent uses the cheaper one-input rule."""
    if isinstance(b, (int, float)) and not isinstance(b, bool) and isinstance(a, Tensor):
        return PowScalar.apply(a, p=b)
    return Pow.apply(a, b)


def neg(x: Any) -> Tensor:
    return Neg.apply(x)


def abs(x: Any) -> Tensor:  # noqa: A001 - PyTorch name
    """|x|; gradient sign(x) (0 at 0, as PyTorch)."""
    return Abs.apply(x)


def exp(x: Any) -> Tensor:
    return Exp.apply(x)


def log(x: Any) -> Tensor:
    """Natural logarithm."""
    return Log.apply(x)


def log1p(x: Any) -> Tensor:
    """log(1 + x), accurate for small x."""
    return Log1p.apply(x)


def sqrt(x: Any) -> Tensor:
    return Sqrt.apply(x)


def sin(x: Any) -> Tensor:
    return Sin.apply(x)


def cos(x: Any) -> Tensor:
    return Cos.apply(x)


def maximum(a: Any, b: Any) -> Tensor:
    """Elementwise maximum; ties split the gradient evenly."""
    return Maximum.apply(a, b)


def minimum(a: Any, b: Any) -> Tensor:
    """Elementwise minimum; ties split the gradient evenly."""
    return Minimum.apply(a, b)


def clip(x: Any, min: float | None = None, max: float | None = None) -> Tensor:  # noqa: A002
    """Clamp values to [min, max]; gradient 1 inside (bounds included), 0 outside."""
    if min is None and max is None:
        raise ValueError("clip: give at least one of min and max")
    return Clip.apply(x, lo=min, hi=max)


clamp = clip


def where(condition: Any, a: Any, b: Any) -> Tensor:
    """Pick `a` where `condition` is true, else `b` (condition is not differentiated)."""
    cond = condition.data if isinstance(condition, Tensor) else np.asarray(condition)
    return Where.apply(a, b, cond=cond.astype(bool, copy=False))


def matmul(a: Any, b: Any) -> Tensor:
    """Matrix product a @ b (NumPy/PyTorch semantics)."""
    return MatMul.apply(a, b)


def linear(x: Any, weight: Any, bias: Any = None) -> Tensor:
    """Fused x @ weight.T + bias, weight shaped (out_features, in_features) as in PyTorch.

    Example:
        >>> x, w, b = descentlab.randn(8, 4), descentlab.randn(3, 4), descentlab.zeros(3)
        >>> linear(x, w, b).shape  # x (N, in), w (out, in), b (out,) -> (N, out)
        (8, 3)
    """
    if bias is None:
        return Linear.apply(x, weight)
    return Linear.apply(x, weight, bias)
