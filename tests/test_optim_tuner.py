"""The step tuner: it times the ways a step can run and keeps the fastest; every way gives the
same trajectory bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

import descentlab as dl
from descentlab import optim
from descentlab.keras import optimizers as K
from descentlab.optim.optimizer import _Tuner


def test_tuner_times_each_way_round_robin_then_keeps_the_fastest():
    tuner = _Tuner()
    ways = ("threads", "pieces", "whole")
    seen = []
    fake = {"threads": 3.0, "pieces": 1.0, "whole": 2.0}
    for _ in range(3 * _Tuner.TRIALS):
        way = tuner.choose(ways)
        seen.append(way)
        tuner.record(way, fake[way])
    assert sorted(seen) == sorted(ways * _Tuner.TRIALS)  # each timed TRIALS times
    assert seen[:3] == list(ways)  # round robin, the usual way first
    assert tuner.choose(ways) == "pieces"
    tuner.steps = _Tuner.RETUNE - 1
    assert tuner.choose(ways) == "threads"  # timed again after RETUNE steps


@pytest.mark.parametrize(
    "make",
    [
        lambda ps: optim.Adam(ps, lr=0.01, amsgrad=True),
        lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9),
        lambda ps: optim.RMSprop(ps, lr=0.01, centered=True).flatten(),
        lambda ps: optim.AdamW(ps, lr=0.01, weight_decay=0.1),
        lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.01).flatten(),
        lambda ps: K.AdamW(learning_rate=0.01, weight_decay=0.1, use_ema=True, params=ps),
        lambda ps: K.SGD(learning_rate=0.1, momentum=0.9, params=ps),
        lambda ps: K.Adam(learning_rate=0.01, amsgrad=True, params=ps),
        lambda ps: K.Nadam(learning_rate=0.01, params=ps),
        lambda ps: K.Ftrl(learning_rate=0.1, l1_regularization_strength=0.01, params=ps),
    ],
)
def test_every_way_gives_the_same_trajectory(make, monkeypatch):
    monkeypatch.setattr("descentlab.optim.optimizer._CHUNK", 40)  # cuts inside SIMD blocks
    monkeypatch.setattr("descentlab.optim.optimizer._WHOLE_MAX", 1 << 20)
    results = {}
    for way in ("whole", "pieces", "threads"):
        monkeypatch.setattr(_Tuner, "choose", lambda self, ways, way=way: way)
        rng = np.random.default_rng(0)
        shapes = [(3, 50), (7,), (400,)]
        params = [dl.nn.Parameter(rng.standard_normal(s).astype(np.float32)) for s in shapes]
        opt = make(params)
        for _ in range(4):
            for p in params:
                p.grad = rng.standard_normal(p.data.shape).astype(np.float32)
            opt.step()
        results[way] = [p.data.copy() for p in params]
    for way in ("pieces", "threads"):
        for a, b in zip(results["whole"], results[way]):
            assert np.array_equal(a, b), way
