"""The step tuner: it times the ways a step can run and keeps the fastest; every way gives the
same trajectory bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

import descentlab as dl
from descentlab import optim
from descentlab.keras import optimizers as K
from descentlab.optim.optimizer import _Tuner


def _run(tuner: _Tuner, ways: tuple[str, ...], fake: dict[str, float], steps: int) -> list[str]:
    """The ways the tuner runs over `steps` steps when way w takes fake[w] seconds."""
    runs = []
    for _ in range(steps):
        way = tuner.choose(ways)
        runs.append(way)
        tuner.record(way, fake[way])
    return runs


def test_tuner_times_each_way_in_a_run_then_keeps_the_fastest():
    tuner = _Tuner()
    ways = ("threads", "pieces", "whole")
    fake = {"threads": 3.0, "pieces": 1.0, "whole": 2.0}
    run = _Tuner.TRIALS + 1  # the first step of a run is not timed
    seen = _run(tuner, ways, fake, 3 * run)
    assert seen == [w for w in ways for _ in range(run)]  # the usual way first
    assert {w: len(tuner.samples[w]) for w in ways} == dict.fromkeys(ways, _Tuner.TRIALS)
    early = _run(tuner, ways, fake, _Tuner.SETTLE - tuner.steps)
    explored = _Tuner.BURST * (len(early) // _Tuner.EXPLORE[0] + 1)
    assert early.count("pieces") >= len(early) - explored
    assert {"threads", "whole"} <= set(early)  # the others are still timed, in turn
    late = _run(tuner, ways, fake, 2 * _Tuner.EXPLORE[1])
    assert late.count("pieces") == len(late) - 2 * _Tuner.BURST  # later, much more rarely


def test_an_explored_way_runs_a_few_steps_in_a_row_and_its_first_is_not_timed():
    tuner = _Tuner()
    ways = ("whole", "threads")
    times = iter(range(1, 10_000))
    runs = []
    for _ in range(_Tuner.EXPLORE[0] * 3 - 3):  # ends between two explorations
        way = tuner.choose(ways)
        runs.append(way)
        # "threads" is slow only on the first step after a switch (a helper waking up)
        cold = way == "threads" and runs[-2:-1] != ["threads"]
        tuner.record(way, 100.0 if cold else 1.0 + next(times) * (way == "whole"))
    assert max(tuner.samples["threads"]) == 1.0  # the cold steps were not counted
    assert runs[-1] == "threads"  # and the warm way won


def test_tuner_follows_a_change_of_load():
    tuner = _Tuner()
    ways = ("threads", "whole")
    fake = {"threads": 1.0, "whole": 2.0}
    assert _run(tuner, ways, fake, 2 * (_Tuner.TRIALS + 1) + 1)[-1] == "threads"
    fake["threads"] = 5.0  # e.g. another process now keeps the second core busy
    runs = _run(tuner, ways, fake, 2 * _Tuner.EXPLORE[0])
    # it runs on until its fast samples are replaced (one step of a run is not timed), then is
    # only explored
    assert runs.count("threads") <= _Tuner.TRIALS + 1 + 2 * _Tuner.BURST
    tail = runs[-_Tuner.EXPLORE[0] :]
    assert tail.count("whole") == _Tuner.EXPLORE[0] - _Tuner.BURST
    fake["threads"] = 1.0  # the other process ended
    runs = _run(tuner, ways, fake, 2 * _Tuner.EXPLORE[0])
    tail = runs[-_Tuner.EXPLORE[0] :]
    assert tail.count("threads") == _Tuner.EXPLORE[0] - _Tuner.BURST  # found again


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
