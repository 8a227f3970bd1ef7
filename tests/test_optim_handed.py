"""The "handed" step: a deferrable chain's passes recorded (`_blas.recording`) and a share of them
run on a helper thread. Same values as the whole-array step, bit for bit, however it is cut."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import descentlab as dl
from descentlab import optim
from descentlab.keras import optimizers as K
from descentlab.optim import _blas
from descentlab.optim import transforms as T
from descentlab.optim._workers import Workers
from descentlab.optim.optimizer import _Tuner


@pytest.mark.parametrize("dtype", [np.float32, np.float64])  # BLAS routine / NumPy form
def test_a_record_runs_later_with_the_bits_of_running_at_once(dtype):
    rng = np.random.default_rng(0)
    x, y0 = (rng.standard_normal(1001).astype(dtype) for _ in range(2))
    now, later = y0.copy(), y0.copy()
    for y in (now,):
        _blas.axpby(0.3, x, 0.9, y)
        _blas.axpy(-0.7, y, y)
        _blas.axpby(0.0, x, 0.5, y)  # a zero coefficient: the NumPy form either way
        np.sqrt(np.abs(y), out=y)
    with _blas.recording() as calls:
        _blas.axpby(0.3, x, 0.9, later)
        _blas.axpy(-0.7, later, later)
        _blas.axpby(0.0, x, 0.5, later)
        assert _blas.ufunc_pass(np.absolute, later, later) is later  # the output, not yet written
        _blas.ufunc_pass(np.sqrt, later, later)
    assert len(calls) == 5 and np.array_equal(later, y0)  # nothing ran yet
    _blas.run(calls)
    assert np.array_equal(later, now)


def test_a_record_keeps_its_arrays_alive():
    y = np.zeros(1000, np.float32)
    with _blas.recording() as calls:
        _blas.axpy(2.0, np.ones(1000, np.float32), y)  # x has no other reference
    np.ones(1000, np.float32) * 5  # reuses freed memory if the record let x go
    _blas.run(calls)
    assert (y == 2.0).all()


def test_recording_is_per_thread_and_nests():
    y = np.zeros(3, np.float32)
    seen = []
    with _blas.recording() as outer:
        other = threading.Thread(target=lambda: _blas.axpy(1.0, np.ones(3, np.float32), y))
        other.start()
        other.join()  # another thread's pass runs at once
        seen.append(y.copy())
        with _blas.recording() as inner:
            _blas.axpy(1.0, np.ones(3, np.float32), y)
        _blas.axpy(1.0, np.ones(3, np.float32), y)
    assert (seen[0] == 1.0).all() and len(inner) == 1 and len(outer) == 1
    _blas.axpy(1.0, np.ones(3, np.float32), y)  # after the block: at once again
    assert (y == 2.0).all()


def _chain(opt: optim.Optimizer) -> T.GradientTransformation:
    return opt._chain(0, opt.param_groups[0])


def test_which_chains_are_deferrable():
    p = [dl.nn.Parameter(np.ones(3, np.float32))]
    assert _chain(optim.SGD(p, lr=0.1, momentum=0.9)).deferrable
    assert _chain(optim.SGD(p, lr=0.1, momentum=0.9, dampening=0.5)).deferrable
    assert _chain(optim.SGD(p, lr=0.1)).deferrable  # one pass: p <- p - lr g
    for opt in (
        optim.RMSprop(p),  # its passes are BLAS calls and ufuncs into a workspace temporary
        optim.RMSprop(p, centered=True),
        optim.RMSprop(p, momentum=0.9),
        K.RMSprop(learning_rate=0.01, params=p),
        K.RMSprop(learning_rate=0.01, centered=True, params=p),
    ):
        assert _chain(opt).deferrable, opt
    for opt in (
        optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True),  # np.add into a temporary
        optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=0.01),  # np.copyto, then g + wd p
        optim.SGD(p, lr=0.1, momentum=0.9, maximize=True),  # -g with np.multiply
        optim.RMSprop(p, weight_decay=0.01),
        K.RMSprop(learning_rate=0.01, momentum=0.9, params=p),  # lr scales before the momentum
        optim.Adam(p),
    ):
        assert not _chain(opt).deferrable, opt
    assert T.chain(T.trace(0.9), T.scale(2.0), T.scale_by_learning_rate(0.1)).deferrable
    assert not T.chain(T.scale(2.0), T.trace(0.9)).deferrable  # a scaling before: np.multiply
    assert not T.chain(T.scale_by_learning_rate(lambda step: 0.1)).deferrable  # a schedule
    assert not T.chain().deferrable


def _run(make, way: str, monkeypatch, sizes=(300_001, 7, 1000, 250_000), share=None) -> list:
    chosen = []
    monkeypatch.setattr(
        _Tuner,
        "choose",
        lambda self, ways: chosen.append(way in ways) or (way if way in ways else ways[0]),
    )
    if share is not None:
        monkeypatch.setattr(_Tuner, "SHARE", (share, share, share))
    rng = np.random.default_rng(0)
    params = [dl.nn.Parameter(rng.standard_normal(n).astype(np.float32)) for n in sizes]
    opt = make(params)
    for _ in range(5):
        for p in params:
            p.grad = rng.standard_normal(p.data.shape).astype(np.float32)
        opt.step()
    assert any(chosen), f"the {way!r} way never ran"
    return [p.data.copy() for p in params] + [opt.state_dict()]


@pytest.mark.parametrize(
    "make",
    [
        lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9),
        lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, dampening=0.3),
        lambda ps: optim.SGD(ps, lr=0.1),
        lambda ps: optim.SGD([{"params": ps[:2]}, {"params": ps[2:], "lr": 0.0}], momentum=0.5),
        lambda ps: K.SGD(learning_rate=0.1, params=ps),  # its step count is in hyper
        lambda ps: optim.RMSprop(ps, lr=0.01),
        lambda ps: optim.RMSprop(ps, lr=0.01, centered=True, momentum=0.9),
        lambda ps: K.RMSprop(learning_rate=0.01, centered=True, params=ps),  # eps in the root
        lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9).flatten(),  # tensors: views of a buffer
        lambda ps: optim.RMSprop(ps, lr=0.01).flatten(),
    ],
    ids=str.split(
        "momentum dampening plain groups-lr0 keras-plain rmsprop rmsprop-mom keras-rmsprop"
        " flat-sgd flat-rmsprop"
    ),
)
@pytest.mark.parametrize("share", [0.001, 0.3, 0.5, 0.999])  # cuts inside tensors and between
def test_a_handed_step_matches_the_whole_array_step_bit_for_bit(make, share, monkeypatch):
    whole = _run(make, "whole", monkeypatch)
    handed = _run(make, "handed", monkeypatch, share=share)
    for a, b in zip(whole[:-1], handed[:-1]):
        assert np.array_equal(a, b)
    for i, entry in whole[-1]["state"].items():
        for k, v in entry.items():
            assert np.array_equal(v, handed[-1]["state"][i][k]), (i, k)


def test_the_handed_way_is_offered_only_where_it_can_run(monkeypatch):
    offered = []
    real = _Tuner.choose
    monkeypatch.setattr(
        _Tuner, "choose", lambda self, ways: offered.append(ways) or real(self, ways)
    )
    rng = np.random.default_rng(0)
    params = [dl.nn.Parameter(rng.standard_normal(400_000).astype(np.float32)) for _ in range(2)]
    for make, expect in [
        (lambda: optim.SGD(params, lr=0.1, momentum=0.9), True),
        (lambda: optim.SGD(params, lr=0.1, momentum=0.9, nesterov=True), False),
        (lambda: optim.RMSprop(params), True),
        (lambda: optim.Adam(params), False),
        (lambda: optim.SGD(params, lr=0.1, momentum=0.9).flatten(), True),  # views of buffers
    ]:
        offered.clear()
        opt = make()
        for _ in range(3):
            for p in params:
                p.grad = np.ones(p.data.shape, np.float32)
            opt.step()
        assert offered and all(("handed" in ways) == expect for ways in offered), offered
    threads = optim.get_num_threads()
    optim.set_num_threads(1)
    try:
        offered.clear()
        opt = optim.SGD(params, lr=0.1, momentum=0.9)
        for _ in range(3):
            opt.step()
        assert all("handed" not in ways for ways in offered)
    finally:
        optim.set_num_threads(threads)


def test_a_float64_or_cast_gradient_still_steps_right(monkeypatch):
    # float64 records the NumPy forms; a float64 gradient on float32 data cannot be read as it is
    for dtypes in [(np.float64, np.float64), (np.float32, np.float64)]:
        results = {}
        for way in ("whole", "handed"):
            monkeypatch.setattr(
                _Tuner, "choose", lambda self, ways, w=way: w if w in ways else ways[0]
            )
            p = dl.nn.Parameter(np.linspace(-1, 1, 600_000).astype(dtypes[0]))
            opt = optim.SGD([p], lr=0.1, momentum=0.9)
            for k in range(3):
                p.grad = np.full(p.data.shape, 0.5 + k, dtypes[1])
                opt.step()
            results[way] = p.data.copy()
        assert np.array_equal(results["whole"], results["handed"]), dtypes


def test_a_closed_pool_runs_the_helpers_share_here():
    workers = Workers(1)
    workers.close()
    ran = []
    assert workers.run(lambda: ran.append("here") or "here", 1, helper_fn=lambda: 1 / 0) == ["here"]
    assert ran == ["here"]


def test_helpers_run_helper_fn_and_its_error_is_raised_after_the_callers_work():
    workers = Workers(1)
    try:
        names = workers.run(lambda: "caller", 1, helper_fn=lambda: "helper")
        assert names == ["caller", "helper"]
        with pytest.raises(ZeroDivisionError):
            workers.run(lambda: None, 1, helper_fn=lambda: 1 / 0)
    finally:
        workers.close()


def test_the_helpers_share_moves_toward_balance():
    # this thread's own passes take 300 us at share 0.25: 400 us of work per unit of share
    tuner = _Tuner()
    tuner.balance(40e-6 - tuner.MARGIN, 300e-6)  # 40 us later than the aim: 40 / (2 * 400) / 2
    assert tuner.share == pytest.approx(0.25 - 0.025)
    tuner.balance(-tuner.MARGIN, 300e-6)  # ended MARGIN early: the aim, stays
    assert tuner.share == pytest.approx(0.225)
    tuner.balance(-1.0, 300e-6)  # far too early: at most MOVE at once
    assert tuner.share == pytest.approx(0.225 + _Tuner.MOVE)
    least, most = _Tuner.SHARE[1:]
    for _ in range(100):
        tuner.balance(-1.0, 300e-6)
    assert tuner.share == most
    for _ in range(100):
        tuner.balance(1.0, 300e-6)
    assert tuner.share == least
    tuner.balance(1.0, 0.0)  # no time measured: no move
    assert tuner.share == least


def test_a_handed_step_reports_how_the_two_threads_ended(monkeypatch):
    from descentlab.optim.optimizer import _apply_handed

    rng = np.random.default_rng(0)
    params = [rng.standard_normal(200_000).astype(np.float32) for _ in range(2)]
    grads = [rng.standard_normal(200_000).astype(np.float32) for _ in range(2)]
    tx = T.chain(T.trace(0.9), T.scale_by_learning_rate(0.1))
    state = tx.init(params)
    state = T.apply_updates(tx, grads, state, params)  # the first step creates the buffers
    workers = Workers(1)
    workers.close()  # no helper: this thread runs the helper's passes after its own
    monkeypatch.setattr("descentlab.optim.optimizer._workers", lambda: workers)
    late, own = _apply_handed(tx, grads, state, params, {}, 0.5)
    assert late > 0 and own > 0  # the helper's passes ended after this thread's own


def test_keras_sgd_is_not_handed():
    # Keras puts lr inside the buffer (a scaling before trace, np.multiply): not deferrable
    p = [dl.nn.Parameter(np.ones(3, np.float32))]
    assert not _chain(K.SGD(learning_rate=0.1, momentum=0.9, params=p)).deferrable


def test_a_gradient_that_needs_a_cast_is_not_handed():
    from descentlab.optim.optimizer import _ways

    p = [np.zeros(600_000, np.float32)]
    state = {"momentum_buffer": [np.zeros(600_000, np.float32)]}
    tx = _chain(optim.SGD([dl.nn.Parameter(p[0])], lr=0.1, momentum=0.9))
    assert "handed" in _ways(tx, state, p, None, [np.zeros(600_000, np.float32)])
    assert "handed" not in _ways(tx, state, p, None, [np.zeros(600_000, np.float64)])


def test_the_two_parts_of_a_handed_step_touch_no_common_memory(monkeypatch):
    # each part's temporaries are its own, though one thread's workspace gave both out
    lists = []
    real_run = _blas.run
    monkeypatch.setattr(_blas, "run", lambda calls: lists.append(calls) or real_run(calls))
    monkeypatch.setattr(_Tuner, "choose", lambda self, ways: "handed")
    monkeypatch.setattr(_Tuner, "SHARE", (0.4, 0.4, 0.4))
    rng = np.random.default_rng(0)
    params = [dl.nn.Parameter(rng.standard_normal(n).astype(np.float32)) for n in (300_000, 9)]
    opt = optim.RMSprop(params, lr=0.01, centered=True)
    for p in params:
        p.grad = rng.standard_normal(p.data.shape).astype(np.float32)
    opt.step()
    assert len(lists) == 2

    def arrays(calls):
        return [a for _, args, _ in calls for a in args if isinstance(a, np.ndarray)]

    temporaries = 0
    for a in arrays(lists[0]):
        for b in arrays(lists[1]):
            assert not np.shares_memory(a, b)
        temporaries += not any(np.shares_memory(a, x) for x in _owned(opt, params))
    assert temporaries  # the check above covered some temporaries


def _owned(opt: optim.Optimizer, params: list) -> list:
    """The arrays a step may touch besides its temporaries: parameters, gradients, state."""
    state = [v for p in params for v in opt.state[p].values() if isinstance(v, np.ndarray)]
    return [p.data for p in params] + [p.grad for p in params] + state


def test_a_large_group_is_not_handed():
    from descentlab.optim.optimizer import _WHOLE_MAX, _ways

    tx = _chain(optim.SGD([dl.nn.Parameter(np.zeros(1, np.float32))], lr=0.1, momentum=0.9))
    for n, expect in [(_WHOLE_MAX, True), (_WHOLE_MAX + 1, False)]:
        p = [np.zeros(n, np.float32)]
        state = {"momentum_buffer": [np.zeros(n, np.float32)]}
        assert ("handed" in _ways(tx, state, p, None, [np.zeros(n, np.float32)])) == expect, n
