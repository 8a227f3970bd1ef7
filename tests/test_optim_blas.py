"""Fused optimizer passes: BLAS axpy/axpby through ctypes (or their NumPy form), and
`apply_updates`, which folds the final `-lr` scaling into the add to the parameters."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import descentlab as dl
from descentlab import optim
from descentlab.keras import optimizers as K
from descentlab.optim import _blas
from descentlab.optim import transforms as T


def test_numpys_bundled_openblas_is_found_on_this_machine():
    # NumPy's Linux wheels ship OpenBLAS with cblas_?axpby: the fused path must really be used here
    if sys.platform.startswith("linux"):
        assert _blas.available()


@pytest.mark.parametrize("dtype, rtol", [(np.float32, 1e-6), (np.float64, 1e-15)])
@pytest.mark.parametrize("n", [1, 7, 33, 1000, 100_003])
def test_axpy_and_axpby_compute_the_formula(dtype, rtol, n):
    rng = np.random.default_rng(n)
    x = rng.standard_normal(n).astype(dtype)
    y0 = rng.standard_normal(n).astype(dtype)
    y = y0.copy()
    _blas.axpby(0.3, x, 0.9, y)
    np.testing.assert_allclose(y, 0.3 * x.astype(np.float64) + 0.9 * y0, rtol=rtol, atol=rtol)
    y = y0.copy()
    _blas.axpy(-1e-3, x, y)
    np.testing.assert_allclose(y, y0 - 1e-3 * x.astype(np.float64), rtol=rtol, atol=rtol)


def test_odd_layouts_and_dtypes_take_the_numpy_form():
    rng = np.random.default_rng(0)
    cases = [
        (rng.standard_normal((6, 8))[:, ::2], rng.standard_normal((6, 4))),  # strided x
        (rng.standard_normal(9), rng.standard_normal(18)[::2]),  # strided y
        (rng.standard_normal(5).astype(np.float16), rng.standard_normal(5).astype(np.float16)),
        (rng.standard_normal(5), rng.standard_normal(5).astype(np.float32)),  # mixed dtypes
        (np.float64(2.0) * np.ones((2, 3)), np.ones((2, 3)).T.copy().T),  # Fortran-ordered y
    ]
    for x, y in cases:
        want = 0.5 * x + 0.25 * y
        _blas.axpby(0.5, x, 0.25, y)
        np.testing.assert_allclose(y, want.astype(y.dtype), rtol=1e-3)


def test_a_read_only_target_is_refused():
    y = T.readonly(np.ones(4))
    with pytest.raises(ValueError, match="read-only"):
        _blas.axpy(1.0, np.ones(4), y)


def test_descentlab_no_blas_turns_the_fused_routines_off():
    code = "from descentlab.optim import _blas; print(_blas.available())"
    env = {"DESCENTLAB_NO_BLAS": "1", "PATH": ""}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.stdout.strip() == "False", out.stderr


@pytest.mark.parametrize(
    "tx",
    [
        T.chain(T.trace(0.9), T.scale_by_learning_rate(0.1)),
        T.chain(T.scale_by_adam(), T.scale_by_learning_rate(None)),
        T.chain(T.scale_by_rms(centered=True), T.scale_by_learning_rate(lambda s: 0.1 / (1 + s))),
        T.chain(T.scale_by_learning_rate(0.1), T.trace(0.9, convention="keras")),
        T.chain(
            T.scale_by_adam(eps_convention="keras"), T.scale(0.5), T.scale_by_learning_rate(0.1)
        ),
        T.chain(T.scale_by_adam(nesterov=True), T.scale_by_learning_rate(0.1)),
        T.scale_by_adam(amsgrad=True),
    ],
)
def test_apply_updates_adds_what_update_returns(tx):
    rng = np.random.default_rng(1)
    p_fused = [rng.standard_normal(50), rng.standard_normal((3, 4))]
    p_plain = [p.copy() for p in p_fused]
    s_fused, s_plain = tx.init(p_fused), tx.init(p_plain)
    for _ in range(5):
        grads = [rng.standard_normal(p.shape) for p in p_fused]
        s_fused = T.apply_updates(tx, [g.copy() for g in grads], s_fused, p_fused, {"lr": 0.1})
        updates, s_plain = tx.update([g.copy() for g in grads], s_plain, p_plain, {"lr": 0.1})
        for p, u in zip(p_plain, updates):
            p += u
    for a, b in zip(p_fused, p_plain):
        np.testing.assert_allclose(a, b, rtol=1e-14, atol=1e-15)


def test_only_a_fixed_or_live_rate_is_a_foldable_scalar():
    assert T.scale_by_learning_rate(0.1).scalar({}, None) == -0.1
    assert T.scale_by_learning_rate(None).scalar({}, {"lr": 0.5}) == -0.5
    assert T.scale_by_learning_rate(lambda s: 0.1).scalar is None  # it counts steps in its state
    assert T.scale(3.0).scalar({}, None) == 3.0
    assert T.trace(0.9).scalar is None


def test_trailing_scalings_fold_into_one_factor():
    p = [np.array([1.0, 2.0])]
    tx = T.chain(T.trace(0.5), T.scale(2.0), T.scale_by_learning_rate(0.25))
    T.apply_updates(tx, [np.array([1.0, -1.0])], tx.init(p), p)
    np.testing.assert_array_equal(p[0], [0.5, 2.5])  # p - 0.25 * 2 * g


@pytest.mark.parametrize(
    "make",
    [
        lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9, dampening=0.1),
        lambda ps: optim.Adam(ps, lr=0.01),
        lambda ps: optim.RMSprop(ps, lr=0.01, centered=True, momentum=0.5),
        lambda ps: K.RMSprop(learning_rate=0.01, params=ps),
    ],
)
def test_fused_and_numpy_forms_give_the_same_trajectory(make, monkeypatch):
    def run() -> list[np.ndarray]:
        rng = np.random.default_rng(2)
        shapes = [(20, 5), (5,)]
        params = [dl.nn.Parameter(rng.standard_normal(s).astype(np.float32)) for s in shapes]
        opt = make(params)
        for _ in range(100):
            for p in params:
                noise = 0.1 * rng.standard_normal(p.data.shape).astype(np.float32)
                p.grad = np.sin(3.0 * p.data) + noise
            opt.step()
        return [p.data.copy() for p in params]

    fused = run()  # float32: the BLAS path
    monkeypatch.setattr(_blas, "_routines", None)
    monkeypatch.setattr(_blas, "_loaded", True)
    plain = run()
    for a, b in zip(fused, plain):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("with_blas", [True, False])
def test_float32_steps_match_torch_either_way(with_blas, torch, monkeypatch):
    if not with_blas:
        monkeypatch.setattr(_blas, "_routines", None)
        monkeypatch.setattr(_blas, "_loaded", True)
    rng = np.random.default_rng(3)
    w0 = rng.standard_normal(300).astype(np.float32)
    p = dl.nn.Parameter(w0.copy())
    tp = torch.tensor(w0.copy(), requires_grad=True)
    ours = optim.AdamW([p], lr=0.01, weight_decay=0.1)
    theirs = torch.optim.AdamW([tp], lr=0.01, weight_decay=0.1, foreach=False)
    for _ in range(100):
        g = rng.standard_normal(300).astype(np.float32)
        p.grad, tp.grad = g.copy(), torch.tensor(g)
        ours.step()
        theirs.step()
    np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_only_float32_takes_the_blas_path():
    # float64 keeps NumPy's per-operation rounding: the same bits on every machine
    assert _blas._blas_for(np.zeros(3), np.zeros(3), 0.5, 0.5) is None
    if sys.platform.startswith("linux"):
        f32 = np.zeros(3, np.float32)
        assert _blas._blas_for(f32, f32, 0.5, 0.5) is not None
        assert _blas._blas_for(f32, f32, 0.0, 0.5) is None  # 0 * nan must stay nan
        assert _blas._blas_for(np.float32(1.0), f32[:1], 0.5, 0.5) is None  # a scalar: no pointer


def test_the_fast_data_address_agrees_with_numpys():
    base = np.arange(24.0, dtype=np.float32).reshape(4, 6)
    for a in [base, base[1:], base[:, 2:], base.T, T.readonly(base[2]), np.empty(0)]:
        assert _blas._array_data_address(a) == a.ctypes.data


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", optim.registry.available())
def test_a_0d_parameter_steps_like_a_one_element_one(name, dtype):
    # NumPy's ufuncs return scalars for 0-d inputs: the optimizer must hand transforms views
    def run(shape: tuple[int, ...]) -> tuple[float, dict]:
        p = dl.nn.Parameter(np.full(shape, 1.5, dtype))
        opt = optim.get(name, [p])
        for k in range(3):
            if name == "lbfgs":

                def closure():
                    p.grad = np.full(shape, 2.0 * float(p.data.sum()), dtype)
                    return dl.tensor(float(p.data.sum()) ** 2)

                opt.step(closure)
            else:
                p.grad = np.full(shape, 0.5 + k, dtype)
                opt.step()
        return float(p.data.reshape(-1)[0]), opt.state_dict()

    scalar, state = run(())
    assert scalar == run((1,))[0]
    if name == "lbfgs":
        return  # its state is flat vectors over all parameters, as in PyTorch
    entries = state["state"]
    for entry in entries.values() if isinstance(entries, dict) else entries:
        for value in entry.values():
            if isinstance(value, np.ndarray) and value.size == 1:
                assert value.shape == (), (name, value.shape)  # shaped like the parameter


def test_a_0d_parameter_matches_torch(torch):
    p = dl.nn.Parameter(np.array(1.5, np.float32))
    tp = torch.tensor(1.5, requires_grad=True)
    ours, theirs = optim.Adam([p], lr=0.1), torch.optim.Adam([tp], lr=0.1, foreach=False)
    for g in (0.5, -1.0, 2.0):
        p.grad, tp.grad = np.array(g, np.float32), torch.tensor(g)
        ours.step()
        theirs.step()
    np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=1e-6)
    assert ours.state_dict()["state"][0]["exp_avg"].shape == ()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nan_gradients_reach_the_parameters_even_with_lr_0(dtype):
    # BLAS skips an operand whose coefficient is 0; PyTorch gives 0 * nan = nan, and so do we
    p = dl.nn.Parameter(np.ones(4, dtype))
    opt = optim.SGD([p], lr=0.0, momentum=0.9)
    p.grad = np.array([np.nan, np.inf, 1.0, 1.0], dtype)
    with np.errstate(invalid="ignore"):  # 0 * inf
        opt.step()
    assert np.isnan(p.data[:2]).all() and (p.data[2:] == 1.0).all()


def test_axpby_accepts_its_target_as_input():
    for dtype in (np.float32, np.float64):
        y = np.full(5, 2.0, dtype)
        _blas.axpby(0.5, y, 0.5, y)
        np.testing.assert_array_equal(y, np.full(5, 2.0, dtype))
        y = np.full(5, 2.0, dtype)
        _blas.axpby(1.0, y, 3.0, y)
        np.testing.assert_array_equal(y, np.full(5, 8.0, dtype))
