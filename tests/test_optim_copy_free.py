"""Chains that accept read-only updates step on the gradients themselves (no copy): the trajectory
is bit-identical to stepping on copies, and the gradients are left as they were."""

from __future__ import annotations

import numpy as np
import pytest

import descentlab as dl
from descentlab import optim
from descentlab.keras import optimizers as K
from descentlab.optim import transforms as T

CASES = [
    (optim.SGD, dict(lr=0.1)),
    (optim.SGD, dict(lr=0.1, momentum=0.9)),
    (optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    (optim.SGD, dict(lr=0.1, momentum=0.9, dampening=0.3, maximize=True)),
    (optim.Adam, dict(lr=0.01)),
    (optim.Adam, dict(lr=0.01, amsgrad=True, weight_decay=0.01)),
    (optim.AdamW, dict(lr=0.01)),
    (optim.NAdam, dict(lr=0.01)),
    (optim.RMSprop, dict(lr=0.01)),
    (optim.RMSprop, dict(lr=0.01, centered=True, momentum=0.5)),
    (optim.Adagrad, dict(lr=0.1, lr_decay=0.01)),
    (K.SGD, dict(learning_rate=0.1)),
    (K.SGD, dict(learning_rate=0.1, momentum=0.9, nesterov=True)),
    (K.RMSprop, dict(learning_rate=0.01, momentum=0.5)),
    (K.Adagrad, dict(learning_rate=0.1)),
    (K.Adam, dict(learning_rate=0.01, amsgrad=True)),
    (K.AdamW, dict(learning_rate=0.01)),
    (K.Nadam, dict(learning_rate=0.01)),
    (K.Adadelta, dict(learning_rate=0.1)),  # a chain that copies
    (K.SGD, dict(learning_rate=0.1, clipnorm=0.5)),  # clipping writes into the gradients
]


def _run(ctor, kwargs, flat, steps=4):
    rng = np.random.default_rng(0)
    shapes = [(3, 50), (7,), (400,), (5, 2, 3)]  # with _CHUNK = 64: cut, shared and whole tensors
    params = [dl.nn.Parameter(rng.standard_normal(s).astype(np.float32)) for s in shapes]
    opt = ctor(params, **kwargs) if ctor.__module__.startswith("descentlab.optim") else None
    if opt is None:
        opt = ctor(params=params, **kwargs)
    if flat:
        opt.flatten()
    for _ in range(steps):
        grads = [rng.standard_normal(s).astype(np.float32) for s in shapes]
        for p, g in zip(params, grads):
            p.grad = g.copy()
        opt.step()
        for p, g in zip(params, grads):
            assert np.array_equal(p.grad, g)  # the gradient is only read
    return [p.data.copy() for p in params]


@pytest.mark.parametrize("chunk", [64, 1 << 18])
@pytest.mark.parametrize("flat", [False, True])
@pytest.mark.parametrize("case", range(len(CASES)))
def test_steps_on_read_only_gradients_match_steps_on_copies(case, flat, chunk, monkeypatch):
    ctor, kwargs = CASES[case]
    monkeypatch.setattr("descentlab.optim.optimizer._CHUNK", chunk)
    as_is = _run(ctor, kwargs, flat)
    monkeypatch.setattr("descentlab.optim.optimizer._as_is", lambda tx, g, p: False)
    copied = _run(ctor, kwargs, flat)
    for a, b in zip(as_is, copied):
        assert np.array_equal(a, b)


@pytest.mark.parametrize(
    "tx",
    [
        T.chain(T.trace(0.9), T.scale_by_learning_rate(0.1)),
        T.chain(T.add_l2(0.1), T.scale_by_adam(), T.add_decayed_weights(0.1), T.scale(2.0)),
        T.chain(T.scale_by_rms(centered=True), T.trace(0.5, nesterov=True), T.identity()),
        T.chain(T.scale_by_adagrad(lr_decay=0.1), T.scale_by_learning_rate(lambda t: 0.1)),
    ],
)
def test_read_only_transforms_never_write_into_their_input(tx):
    assert tx.readonly_updates
    rng = np.random.default_rng(1)
    p = [rng.standard_normal(6)]
    state_a, state_b = tx.init(p), tx.init(p)
    for _ in range(3):
        g = rng.standard_normal(6)
        frozen = T.readonly(g)
        u_ro, state_a = tx.update([frozen], state_a, p, {"lr": 0.1})
        u_rw, state_b = tx.update([g.copy()], state_b, p, {"lr": 0.1})
        assert u_rw[0].flags.writeable  # writable in, writable out
        assert np.array_equal(u_ro[0], u_rw[0])


def test_a_chain_with_a_copying_part_is_not_read_only():
    tx = T.chain(T.scale_by_adam(), T.scale_by_lion())
    assert not tx.readonly_updates
