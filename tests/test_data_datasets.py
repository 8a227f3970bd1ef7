"""Bundled real datasets (no network) and synthetic generators."""

from __future__ import annotations

import random
import subprocess
import sys

import numpy as np
import pytest

from descentlab.data import (
    available_datasets,
    load_breast_cancer,
    load_dataset,
    load_diabetes,
    load_digits,
    load_iris,
    load_mnist1d,
    load_wine,
    make_blobs,
    make_circles,
    make_moons,
    make_regression_1d,
    make_spirals,
    make_xor,
)


@pytest.mark.parametrize(
    "loader,shape,classes,task",
    [
        (load_digits, (1797, 64), 10, "classification"),
        (load_iris, (150, 4), 3, "classification"),
        (load_wine, (178, 13), 3, "classification"),
        (load_breast_cancer, (569, 30), 2, "classification"),
        (load_diabetes, (442, 10), None, "regression"),
    ],
)
def test_sklearn_bundled_datasets_match_sklearn(loader, shape, classes, task):
    import sklearn.datasets as skd

    b = loader()
    ref = getattr(skd, loader.__name__)()
    assert b.x.shape == shape and b.x.dtype == np.float32
    np.testing.assert_array_equal(b.x, ref.data.astype(np.float32))
    np.testing.assert_array_equal(b.y, ref.target)
    assert b.task == task and b.num_classes == classes
    assert len(b.feature_names) == shape[1]
    assert b.y.dtype == (np.int64 if task == "classification" else np.float32)
    assert b.x_test is None
    x_tr, x_te, y_tr, y_te = b.split(test_size=0.25, seed=0)
    assert len(x_tr) + len(x_te) == shape[0] and len(y_te) == len(x_te)


def test_digits_as_images_and_split_is_stratified():
    b = load_digits(images=True)
    assert b.x.shape == (1797, 1, 8, 8)
    _, _, y_tr, y_te = b.split(test_size=0.2, seed=0)
    ratio = np.bincount(y_te, minlength=10) / np.bincount(b.y, minlength=10)
    assert np.all(np.abs(ratio - 0.2) < 0.02)


def test_mnist1d_matches_package_generator_and_leaves_global_rng_alone():
    from mnist1d.data import get_dataset_args, make_dataset

    np.random.seed(123)
    random.seed(123)
    before_np, before_py = np.random.random(), random.random()
    np.random.seed(123)
    random.seed(123)
    d = load_mnist1d()
    assert np.random.random() == before_np and random.random() == before_py
    assert d.x.shape == (4000, 40) and d.x_test.shape == (1000, 40)
    assert d.x.dtype == np.float32 and d.y.dtype == np.int64
    assert d.num_classes == 10
    ref = make_dataset(get_dataset_args())
    np.testing.assert_array_equal(d.x, ref["x"].astype(np.float32))
    np.testing.assert_array_equal(d.y_test, ref["y_test"])
    assert d.split()[1] is d.x_test  # the standard split is used


def test_mnist1d_does_not_touch_the_network_or_the_working_directory(tmp_path):
    code = (
        "import socket\n"
        "def refuse(*a, **k): raise RuntimeError('network used')\n"
        "socket.socket.connect = refuse\n"
        "socket.create_connection = refuse\n"
        "from descentlab.data import load_mnist1d\n"
        "print(load_mnist1d().x.shape)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert "(4000, 40)" in out.stdout
    assert list(tmp_path.iterdir()) == []  # no pickle cache written


def test_load_mnist1d_unknown_argument():
    with pytest.raises(ValueError, match="unknown argument 'num_sample'"):
        load_mnist1d(num_sample=10)


def test_load_dataset_lookup_and_close_matches():
    assert load_dataset("Iris").x.shape == (150, 4)
    assert load_dataset("breast-cancer").num_classes == 2
    moons = load_dataset("moons", n_samples=40)
    assert moons.x.shape == (40, 2)
    np.testing.assert_array_equal(moons.x, load_dataset("moons", n_samples=40).x)  # seed 0
    with pytest.raises(ValueError, match="Did you mean 'digits'"):
        load_dataset("digit")
    with pytest.raises(ValueError, match="Available"):
        load_dataset("imagenet")
    assert "mnist1d" in available_datasets() and "xor" in available_datasets()


GENERATORS = [
    (make_spirals, dict(n_samples=301, n_classes=3), 3),
    (make_moons, dict(n_samples=201), 2),
    (make_circles, dict(n_samples=201), 2),
    (make_blobs, dict(n_samples=301, centers=4), 4),
    (make_xor, dict(n_samples=200), 2),
]


@pytest.mark.parametrize("maker,kwargs,classes", GENERATORS)
def test_synthetic_shapes_balance_and_seeding(maker, kwargs, classes):
    x, y = maker(**kwargs, seed=0)
    assert x.dtype == np.float32 and y.dtype == np.int64
    assert x.shape == (kwargs["n_samples"], 2) and y.shape == (kwargs["n_samples"],)
    counts = np.bincount(y, minlength=classes)
    assert len(counts) == classes
    if maker is not make_xor:
        assert counts.max() - counts.min() <= 1
    x2, y2 = maker(**kwargs, seed=0)
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)
    x3, _ = maker(**kwargs, seed=1)
    assert not np.array_equal(x, x3)
    assert np.all(np.isfinite(x))


def test_synthetic_geometry():
    x, y = make_circles(400, noise=0.0, factor=0.3, seed=0)
    r = np.hypot(x[:, 0], x[:, 1])
    np.testing.assert_allclose(r[y == 0], 1.0, rtol=1e-6)
    np.testing.assert_allclose(r[y == 1], 0.3, rtol=1e-6)
    x, y = make_moons(100, noise=0.0, seed=0)
    np.testing.assert_allclose(np.hypot(x[y == 0, 0], x[y == 0, 1]), 1.0, rtol=1e-6)
    np.testing.assert_allclose(np.hypot(x[y == 1, 0] - 1, x[y == 1, 1] - 0.5), 1.0, rtol=1e-6)
    x, y = make_xor(500, seed=0)
    assert np.array_equal(y == 1, x[:, 0] * x[:, 1] < 0)
    x, y = make_spirals(300, n_classes=3, noise=0.0, seed=0)
    assert np.all(np.hypot(x[:, 0], x[:, 1]) <= 1.0 + 1e-6)
    x, y = make_blobs(300, centers=[[0, 0], [10, 0]], cluster_std=0.5, seed=0)
    np.testing.assert_allclose(x[y == 1].mean(0), [10, 0], atol=0.15)


def test_regression_1d():
    x, y = make_regression_1d(200, noise=0.0, seed=0)
    assert x.shape == (200, 1) and y.shape == (200, 1) and y.dtype == np.float32
    np.testing.assert_allclose(y, np.sin(2 * np.pi * x), atol=1e-6)
    x, y = make_regression_1d(5000, noise=0.3, func="linear", x_range=(-1, 1), seed=0)
    resid = y - (2 * x + 1)
    assert abs(float(resid.std()) - 0.3) < 0.02
    assert x.min() >= -1 and x.max() <= 1
    x, y = make_regression_1d(10, noise=0.0, func=lambda v: v * 0 + 7, seed=0)
    assert np.all(y == 7)


def test_synthetic_seed_none_uses_global_generator():
    import descentlab as dl

    dl.manual_seed(5)
    a = make_moons(30)[0]
    dl.manual_seed(5)
    np.testing.assert_array_equal(a, make_moons(30)[0])


def test_synthetic_errors():
    with pytest.raises(ValueError, match="noise must be >= 0"):
        make_moons(10, noise=-1)
    with pytest.raises(ValueError, match="n_samples must be >= 2"):
        make_circles(1)
    with pytest.raises(TypeError, match="n_samples must be an integer"):
        make_xor(10.5)
    with pytest.raises(ValueError, match="factor"):
        make_circles(10, factor=1.5)
    with pytest.raises(ValueError, match="unknown func 'sine'"):
        make_regression_1d(10, func="sine")
