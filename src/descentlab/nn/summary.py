"""`summary(model, input_shape)`: a Keras-like table of layers, output shapes and parameter counts.

The model runs once on a batch of zeros, in eval mode and without recording a graph, so nothing
it holds changes (training flags are restored afterwards); lazy layers are built by that call.

Example:
    >>> from descentlab.nn import Conv2d, Flatten, Linear, ReLU, Sequential
    >>> summary(Sequential(Conv2d(1, 8, 3), ReLU(), Flatten(), Linear(None, 10)), (1, 28, 28))
    Model: "Sequential"
    Layer (type)  Output Shape       Param #
    ========================================
    0 (Conv2d)    (None, 8, 26, 26)       80
    ...
    Total params: 54,170
    ...
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from descentlab.nn.module import Module
from descentlab.tensor import Tensor, no_grad

__all__ = ["summary"]


def _shape_of(out: Any) -> str:
    if isinstance(out, Tensor):
        return str((None, *out.shape[1:]))
    if isinstance(out, (tuple, list)):
        return ", ".join(_shape_of(o) for o in out)
    return type(out).__name__


def summary(model: Module, input_shape: Sequence[int], dtype: Any = np.float32,
            print_fn: Callable[[str], Any] | None = print) -> str:  # fmt: skip
    """Print (with `print_fn`, None to stay quiet) and return the table for `model` on inputs of
    `input_shape`, given without the batch dimension (Keras convention): one row per leaf layer
    in call order, with its output shape (batch shown as None) and its own parameter count, then
    total, trainable and non-trainable parameter counts."""
    if not isinstance(model, Module):
        raise TypeError(f"summary: expected a Module, got {type(model).__name__}")
    names = {id(m): name for name, m in model.named_modules()}
    rows: list[tuple[str, str, int]] = []

    def record(module: Module, inputs: tuple, out: Any) -> None:
        count = sum(p.size for p in module.parameters(recurse=False))
        label = names.get(id(module)) or type(module).__name__
        rows.append((f"{label} ({type(module).__name__})", _shape_of(out), count))

    leaves = [m for m in model.modules() if not m._modules] or [model]
    handles = [m.register_forward_hook(record) for m in leaves]
    modes = {id(m): m.training for m in model.modules()}
    try:
        model.eval()
        with no_grad():
            model(Tensor(np.zeros((2, *input_shape), dtype=dtype)))
    finally:
        for h in handles:
            h.remove()
        for m in model.modules():
            object.__setattr__(m, "training", modes.get(id(m), m.training))

    total = sum(p.size for p in model.parameters())
    trainable = sum(p.size for p in model.parameters() if p.requires_grad)
    header = ("Layer (type)", "Output Shape", "Param #")
    w0 = max(len(header[0]), *(len(r[0]) for r in rows)) + 2
    w1 = max(len(header[1]), *(len(r[1]) for r in rows)) + 2
    w2 = max(len(header[2]), *(len(f"{r[2]:,}") for r in rows))
    width = w0 + w1 + w2
    lines = [f'Model: "{type(model).__name__}"', f"{header[0]:<{w0}}{header[1]:<{w1}}{header[2]:>{w2}}",
             "=" * width]  # fmt: skip
    lines += [f"{a:<{w0}}{b:<{w1}}{c:>{w2},}" for a, b, c in rows]
    lines += ["=" * width, f"Total params: {total:,}", f"Trainable params: {trainable:,}",
              f"Non-trainable params: {total - trainable:,}"]  # fmt: skip
    text = "\n".join(lines)
    if print_fn is not None:
        print_fn(text)
    return text
