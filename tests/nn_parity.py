"""Helpers shared by the nn tests: gradient checks of modules (inputs and parameters) and
forward/backward parity with a PyTorch module whose weights are loaded through load_state_dict."""

from __future__ import annotations

from typing import Any

import numpy as np

import descentlab as dl
from descentlab.gradcheck import gradcheck

RTOL = {np.float64: 1e-10, np.float32: 1e-5}


def close(ours: Any, ref: Any, rtol: float, what: str = "") -> None:
    """Elementwise rtol, with an absolute floor of rtol * max|ref| for entries that cancel to ~0."""
    ours = np.asarray(ours.data if isinstance(ours, dl.Tensor) else ours, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    assert ours.shape == ref.shape, f"{what}: shape {ours.shape} vs {ref.shape}"
    scale = max(1.0, float(np.abs(ref).max())) if ref.size else 1.0
    np.testing.assert_allclose(ours, ref, rtol=rtol, atol=rtol * scale, err_msg=what)


def module_gradcheck(module: dl.nn.Module, *inputs: Any, **kwargs: Any) -> bool:
    """gradcheck a module in float64 with respect to its floating inputs and all its parameters."""
    module.double()
    named = list(module.named_parameters())
    owners = []
    for name, _ in named:
        *path, attr = name.split(".")
        m = module
        for part in path:
            m = m._modules[part]
        owners.append((m, attr))
    n_in = len(inputs)

    def fn(*args: Any) -> dl.Tensor:
        saved = [m._parameters[a] for m, a in owners]
        try:
            for (m, a), t in zip(owners, args[n_in:], strict=True):
                m._parameters[a] = t
            return module(*args[:n_in])
        finally:
            for (m, a), p in zip(owners, saved, strict=True):
                m._parameters[a] = p

    return gradcheck(fn, *inputs, *[p.data for _, p in named], **kwargs)


def torch_parity(ours: dl.nn.Module, theirs: Any, torch: Any, *inputs: np.ndarray,
                 dtype: Any = np.float64, seed: int = 0, load: bool = True) -> tuple[dl.Tensor, Any]:  # fmt: skip
    """Load `theirs`' state_dict into `ours` (unless `load=False`), run both on `inputs` (floating
    ones cast to `dtype`) and compare outputs, input gradients and parameter gradients (by name)
    at RTOL[dtype]."""
    rtol = RTOL[dtype]
    if load:
        theirs = theirs.to(getattr(torch, np.dtype(dtype).name))
        ours.to(dtype)
        ours.load_state_dict(theirs.state_dict())
    xs, txs = [], []
    for x in inputs:
        if np.issubdtype(np.asarray(x).dtype, np.floating):
            xs.append(dl.tensor(np.asarray(x, dtype=dtype), requires_grad=True))
            txs.append(torch.tensor(np.asarray(x, dtype=dtype), requires_grad=True))
        else:
            xs.append(np.asarray(x))
            txs.append(torch.tensor(np.asarray(x)))
    y, ty = ours(*xs), theirs(*txs)
    close(y, ty.detach().numpy(), rtol, "output")
    g = np.random.default_rng(seed).standard_normal(y.shape).astype(dtype)
    y.backward(g)
    ty.backward(torch.tensor(g))
    for i, (x, tx) in enumerate(zip(xs, txs, strict=True)):
        if isinstance(x, dl.Tensor):
            close(x.grad, tx.grad.numpy(), rtol, f"grad of input {i}")
    tparams = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        close(p.grad, tparams[name].grad.numpy(), rtol, f"grad of {name}")
    return y, ty
