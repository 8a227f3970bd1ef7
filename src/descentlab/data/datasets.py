"""Datasets that need no network: real data bundled with scikit-learn / mnist1d, and synthetic data.

Real: `load_digits`, `load_iris`, `load_wine`, `load_breast_cancer`, `load_diabetes` (the files
scikit-learn ships, read through `sklearn.datasets`, imported lazily) and `load_mnist1d` (the
`mnist1d` package's procedural generator with its default arguments; nothing is downloaded).
Each returns a `DatasetBunch` with float32 `x`, labels/targets `y`, names, and a test split where
the dataset has a standard one.

Synthetic (seeded, returns `(x float32, y)`): `make_spirals`, `make_moons`, `make_circles`,
`make_blobs`, `make_xor`, `make_regression_1d`. `load_dataset(name)` finds any of them by name.

Example:
    >>> ds = load_iris()
    >>> ds.x.shape, ds.x.dtype, ds.num_classes
    ((150, 4), dtype('float32'), 3)
    >>> x, y = make_moons(100, noise=0.1, seed=0)
    >>> x.shape, y[:5].tolist() != []
    ((100, 2), True)
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from descentlab.data.dataset import TensorDataset, as_generator
from descentlab.data.preprocessing import train_test_split

__all__ = [
    "DatasetBunch",
    "load_digits",
    "load_iris",
    "load_wine",
    "load_breast_cancer",
    "load_diabetes",
    "load_mnist1d",
    "make_spirals",
    "make_moons",
    "make_circles",
    "make_blobs",
    "make_xor",
    "make_regression_1d",
    "load_dataset",
    "available_datasets",
]


@dataclass
class DatasetBunch:
    """A loaded dataset: arrays plus the names needed to read them.

    `x` is float32 with samples on axis 0; `y` is int64 class labels (classification) or float32
    targets (regression). `x_test`/`y_test` hold the dataset's standard test split, else None.

    Example:
        >>> b = load_wine()
        >>> x_tr, x_te, y_tr, y_te = b.split(test_size=0.25, seed=0)
        >>> len(x_tr) + len(x_te) == len(b.x)
        True
    """

    name: str
    x: np.ndarray
    y: np.ndarray
    x_test: np.ndarray | None = None
    y_test: np.ndarray | None = None
    feature_names: list[str] = field(default_factory=list)
    target_names: list[str] = field(default_factory=list)
    task: str = "classification"
    description: str = ""
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def num_classes(self) -> int | None:
        """Number of classes (None for regression)."""
        if self.task != "classification":
            return None
        if self.target_names:
            return len(self.target_names)
        ys = self.y if self.y_test is None else np.concatenate([self.y, self.y_test])
        return int(ys.max()) + 1

    @property
    def num_features(self) -> int:
        """Size of one sample (product of x.shape[1:])."""
        return int(np.prod(self.x.shape[1:]))

    def split(
        self, test_size: float | int = 0.2, seed: int | np.random.Generator | None = 0
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(x_train, x_test, y_train, y_test): the standard split if there is one, else a random
        split (stratified for classification) with `test_size` and `seed`."""
        if self.x_test is not None and self.y_test is not None:
            return self.x, self.x_test, self.y, self.y_test
        strat = self.y if self.task == "classification" else None
        x_tr, x_te, y_tr, y_te = train_test_split(
            self.x, self.y, test_size=test_size, stratify=strat, seed=seed
        )
        return x_tr, x_te, y_tr, y_te

    def to_dataset(self, test: bool = False) -> TensorDataset:
        """The training (or test) arrays as a `TensorDataset`."""
        if test:
            if self.x_test is None:
                raise ValueError(f"{self.name}: has no standard test split; use .split()")
            return TensorDataset(self.x_test, self.y_test)
        return TensorDataset(self.x, self.y)

    def __repr__(self) -> str:
        test = "" if self.x_test is None else f", x_test={self.x_test.shape}"
        return f"DatasetBunch(name={self.name!r}, task={self.task!r}, x={self.x.shape}{test})"


def _sklearn_datasets() -> Any:
    try:
        import sklearn.datasets as skd
    except ImportError as err:
        raise ImportError(
            "the bundled real datasets are read from scikit-learn's data files; install it with "
            "`pip install descentlab[data]` (or `pip install scikit-learn`)"
        ) from err
    return skd


def _from_sklearn(name: str, loader_name: str, task: str = "classification") -> DatasetBunch:
    raw = getattr(_sklearn_datasets(), loader_name)()
    y = raw.target.astype(np.int64 if task == "classification" else np.float32)
    target_names = [str(t) for t in raw.get("target_names", [])] if task == "classification" else []
    return DatasetBunch(
        name=name,
        x=np.ascontiguousarray(raw.data, dtype=np.float32),
        y=y,
        feature_names=[str(f) for f in raw.feature_names],
        target_names=target_names,
        task=task,
        description=str(raw.get("DESCR", "")),
    )


def load_digits(images: bool = False) -> DatasetBunch:
    """8x8 handwritten digits, 1797 samples, 10 classes, pixel values 0..16 (UCI, via scikit-learn).

    x has shape (1797, 64), or (1797, 1, 8, 8) NCHW with `images=True`. Values are not scaled;
    divide by 16 or fit a `StandardScaler` on the training split.

    Example:
        >>> load_digits(images=True).x.shape
        (1797, 1, 8, 8)
    """
    b = _from_sklearn("digits", "load_digits")
    if images:
        b.x = b.x.reshape(-1, 1, 8, 8)
    return b


def load_iris() -> DatasetBunch:
    """Iris flowers: 150 samples, 4 features, 3 classes (via scikit-learn's bundled file)."""
    return _from_sklearn("iris", "load_iris")


def load_wine() -> DatasetBunch:
    """Wine recognition: 178 samples, 13 features, 3 classes (via scikit-learn's bundled file)."""
    return _from_sklearn("wine", "load_wine")


def load_breast_cancer() -> DatasetBunch:
    """Wisconsin breast cancer: 569 samples, 30 features, 2 classes (0 malignant, 1 benign)."""
    return _from_sklearn("breast_cancer", "load_breast_cancer")


def load_diabetes() -> DatasetBunch:
    """Diabetes progression regression: 442 samples, 10 (already scaled) features, float32 target."""
    return _from_sklearn("diabetes", "load_diabetes", task="regression")


@functools.lru_cache(maxsize=4)
def _mnist1d_arrays(overrides: tuple[tuple[str, Any], ...]) -> dict[str, Any]:
    import random

    try:
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError as err:
        raise ImportError(
            "load_mnist1d needs the `mnist1d` package (`pip install descentlab[data]`)"
        ) from err
    args = get_dataset_args()
    for key, value in overrides:
        if not hasattr(args, key):
            valid = sorted(get_dataset_args(as_dict=True))
            raise ValueError(f"load_mnist1d: unknown argument {key!r}; valid arguments: {valid}")
        setattr(args, key, value)
    # mnist1d seeds NumPy's and Python's global generators; put them back afterwards so that
    # loading data does not change anyone else's random stream.
    np_state, py_state = np.random.get_state(), random.getstate()
    try:
        data = make_dataset(args)
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
    return data


def load_mnist1d(**overrides: Any) -> DatasetBunch:
    """MNIST-1D (Greydanus 2020): 1-D signals of length 40, 10 classes, 4000 train / 1000 test.

    Generated locally by the `mnist1d` package's procedural generator (`make_dataset`) with its
    default arguments (seed 42), so it is identical everywhere and needs no network. Keyword
    arguments override the generator's arguments (e.g. `num_samples=10000`).

    Example:
        >>> d = load_mnist1d()
        >>> d.x.shape, d.x_test.shape
        ((4000, 40), (1000, 40))
    """
    data = _mnist1d_arrays(tuple(sorted(overrides.items())))
    return DatasetBunch(
        name="mnist1d",
        x=np.asarray(data["x"], dtype=np.float32),
        y=np.asarray(data["y"], dtype=np.int64),
        x_test=np.asarray(data["x_test"], dtype=np.float32),
        y_test=np.asarray(data["y_test"], dtype=np.int64),
        feature_names=[f"t{i}" for i in range(np.shape(data["x"])[1])],
        target_names=[str(i) for i in range(10)],
        description="MNIST-1D: procedurally generated 1-D digit signals (mnist1d package).",
        extras={"t": np.asarray(data["t"], dtype=np.float32)},
    )


# --- synthetic data -------------------------------------------------------------------------


def _check_n(n_samples: int, minimum: int, owner: str) -> int:
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)):
        raise TypeError(f"{owner}: n_samples must be an integer, got {n_samples!r}")
    if n_samples < minimum:
        raise ValueError(f"{owner}: n_samples must be >= {minimum}, got {n_samples}")
    return int(n_samples)


def _check_noise(noise: float, owner: str) -> float:
    if noise < 0:
        raise ValueError(f"{owner}: noise must be >= 0, got {noise}")
    return float(noise)


def _per_class(n: int, k: int) -> list[int]:
    return [n // k + (1 if c < n % k else 0) for c in range(k)]


def _shuffled(
    x: np.ndarray, y: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    p = rng.permutation(len(y))
    return x[p].astype(np.float32), y[p].astype(np.int64)


def make_spirals(
    n_samples: int = 300,
    n_classes: int = 3,
    noise: float = 0.2,
    seed: int | np.random.Generator | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Interleaved 2-D spirals, one arm per class (CS231n construction).

    Arm k: radius r = linspace(0, 1), angle t = 4k + 4r + noise * N(0, 1); x = r (sin t, cos t).

    Example:
        >>> x, y = make_spirals(90, n_classes=3, seed=0)
        >>> x.shape, np.bincount(y).tolist()
        ((90, 2), [30, 30, 30])
    """
    n = _check_n(n_samples, 1, "make_spirals")
    if n_classes < 1:
        raise ValueError(f"make_spirals: n_classes must be >= 1, got {n_classes}")
    noise = _check_noise(noise, "make_spirals")
    rng = as_generator(seed)
    xs, ys = [], []
    for k, m in enumerate(_per_class(n, n_classes)):
        r = np.linspace(0.0, 1.0, m)
        t = 4.0 * k + 4.0 * r + noise * rng.standard_normal(m)
        xs.append(np.stack([r * np.sin(t), r * np.cos(t)], axis=1))
        ys.append(np.full(m, k))
    return _shuffled(np.concatenate(xs), np.concatenate(ys), rng)


def make_moons(
    n_samples: int = 200, noise: float = 0.1, seed: int | np.random.Generator | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles (scikit-learn's construction), Gaussian `noise` added.

    Class 0: (cos t, sin t); class 1: (1 - cos t, 0.5 - sin t), t in [0, pi].

    Example:
        >>> x, y = make_moons(10, noise=0.0, seed=0)
        >>> x.shape, int(y.sum())
        ((10, 2), 5)
    """
    n = _check_n(n_samples, 2, "make_moons")
    noise = _check_noise(noise, "make_moons")
    rng = as_generator(seed)
    n_out = n // 2
    n_in = n - n_out
    t_out, t_in = np.linspace(0, np.pi, n_out), np.linspace(0, np.pi, n_in)
    x = np.concatenate(
        [
            np.stack([np.cos(t_out), np.sin(t_out)], axis=1),
            np.stack([1 - np.cos(t_in), 0.5 - np.sin(t_in)], axis=1),
        ]
    )
    y = np.concatenate([np.zeros(n_out), np.ones(n_in)])
    x = x + noise * rng.standard_normal(x.shape)
    return _shuffled(x, y, rng)


def make_circles(
    n_samples: int = 200,
    noise: float = 0.05,
    factor: float = 0.5,
    seed: int | np.random.Generator | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """A small circle (class 1, radius `factor`) inside a unit circle (class 0), plus noise.

    Example:
        >>> x, y = make_circles(8, noise=0.0, factor=0.5, seed=0)
        >>> sorted(np.round(np.hypot(*x.T), 6).tolist())[::4]
        [0.5, 1.0]
    """
    n = _check_n(n_samples, 2, "make_circles")
    noise = _check_noise(noise, "make_circles")
    if not 0 < factor < 1:
        raise ValueError(f"make_circles: factor must lie in (0, 1), got {factor}")
    rng = as_generator(seed)
    n_out = n // 2
    n_in = n - n_out
    t_out = np.linspace(0, 2 * np.pi, n_out, endpoint=False)
    t_in = np.linspace(0, 2 * np.pi, n_in, endpoint=False)
    x = np.concatenate(
        [
            np.stack([np.cos(t_out), np.sin(t_out)], axis=1),
            factor * np.stack([np.cos(t_in), np.sin(t_in)], axis=1),
        ]
    )
    y = np.concatenate([np.zeros(n_out), np.ones(n_in)])
    x = x + noise * rng.standard_normal(x.shape)
    return _shuffled(x, y, rng)


def make_blobs(
    n_samples: int = 300,
    centers: int | Any = 3,
    n_features: int = 2,
    cluster_std: float = 1.0,
    center_box: tuple[float, float] = (-10.0, 10.0),
    seed: int | np.random.Generator | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Isotropic Gaussian clusters; `centers` is a count (drawn uniformly in `center_box`) or an
    array (k, n_features) of centres. Class k ~ N(center_k, cluster_std^2 I).

    Example:
        >>> x, y = make_blobs(60, centers=[[0, 0], [5, 5]], cluster_std=0.1, seed=0)
        >>> np.round(x[y == 1].mean(0)).tolist()
        [5.0, 5.0]
    """
    n = _check_n(n_samples, 1, "make_blobs")
    if cluster_std < 0:
        raise ValueError(f"make_blobs: cluster_std must be >= 0, got {cluster_std}")
    rng = as_generator(seed)
    if isinstance(centers, (int, np.integer)):
        if centers < 1:
            raise ValueError(f"make_blobs: centers must be >= 1, got {centers}")
        c = rng.uniform(center_box[0], center_box[1], size=(int(centers), n_features))
    else:
        c = np.asarray(centers, dtype=np.float64)
        if c.ndim != 2:
            raise ValueError(
                f"make_blobs: centers must be an int or a (k, n_features) array, got shape {c.shape}"
            )
    xs, ys = [], []
    for k, m in enumerate(_per_class(n, len(c))):
        xs.append(c[k] + cluster_std * rng.standard_normal((m, c.shape[1])))
        ys.append(np.full(m, k))
    return _shuffled(np.concatenate(xs), np.concatenate(ys), rng)


def make_xor(
    n_samples: int = 200, noise: float = 0.0, seed: int | np.random.Generator | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """XOR: points uniform in [-1, 1]^2, label 1 where the two coordinates have different signs.

    `noise` is the standard deviation of Gaussian jitter added after labelling, so points near the
    axes can cross to the other side. Not linearly separable: a single linear layer fails on it.

    Example:
        >>> x, y = make_xor(100, seed=0)
        >>> bool(((x[:, 0] * x[:, 1] < 0) == (y == 1)).all())
        True
    """
    n = _check_n(n_samples, 1, "make_xor")
    noise = _check_noise(noise, "make_xor")
    rng = as_generator(seed)
    x = rng.uniform(-1.0, 1.0, size=(n, 2))
    y = (np.sign(x[:, 0]) != np.sign(x[:, 1])).astype(np.int64)
    x = x + noise * rng.standard_normal(x.shape)
    return x.astype(np.float32), y


_REGRESSION_FUNCS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "sin": lambda x: np.sin(2 * np.pi * x),
    "cubic": lambda x: x**3 - x,
    "linear": lambda x: 2 * x + 1,
}


def make_regression_1d(
    n_samples: int = 100,
    noise: float = 0.1,
    func: str | Callable[[np.ndarray], np.ndarray] = "sin",
    x_range: tuple[float, float] = (0.0, 1.0),
    seed: int | np.random.Generator | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Noisy 1-D regression: x ~ U(x_range), y = f(x) + noise * N(0, 1); shapes (N, 1) float32.

    `func` is 'sin' (sin(2 pi x), Bishop's curve-fitting example), 'cubic' (x^3 - x), 'linear'
    (2x + 1) or any vectorised callable.

    Example:
        >>> x, y = make_regression_1d(50, noise=0.0, seed=0)
        >>> bool(np.allclose(y, np.sin(2 * np.pi * x), atol=1e-6))
        True
    """
    n = _check_n(n_samples, 1, "make_regression_1d")
    noise = _check_noise(noise, "make_regression_1d")
    if isinstance(func, str):
        if func not in _REGRESSION_FUNCS:
            raise ValueError(
                f"make_regression_1d: unknown func {func!r}; use one of "
                f"{sorted(_REGRESSION_FUNCS)} or a callable"
            )
        f = _REGRESSION_FUNCS[func]
    elif callable(func):
        f = func
    else:
        raise TypeError(f"make_regression_1d: func must be a name or a callable, got {func!r}")
    lo, hi = x_range
    if not lo < hi:
        raise ValueError(f"make_regression_1d: x_range {x_range} needs low < high")
    rng = as_generator(seed)
    x = rng.uniform(lo, hi, size=(n, 1))
    y = f(x) + noise * rng.standard_normal((n, 1))
    return x.astype(np.float32), np.asarray(y, dtype=np.float32)


# --- lookup by name -------------------------------------------------------------------------


def _synthetic(name: str, maker: Callable[..., tuple[np.ndarray, np.ndarray]], task: str) -> Any:
    def load(**kwargs: Any) -> DatasetBunch:
        kwargs.setdefault("seed", 0)
        x, y = maker(**kwargs)
        return DatasetBunch(
            name=name,
            x=x,
            y=y,
            feature_names=[f"x{i}" for i in range(x.shape[1])],
            task=task,
            description=(maker.__doc__ or "").strip().splitlines()[0],
        )

    return load


_REGISTRY: dict[str, Callable[..., DatasetBunch]] = {
    "digits": load_digits,
    "iris": load_iris,
    "wine": load_wine,
    "breast_cancer": load_breast_cancer,
    "diabetes": load_diabetes,
    "mnist1d": load_mnist1d,
    "spirals": _synthetic("spirals", make_spirals, "classification"),
    "moons": _synthetic("moons", make_moons, "classification"),
    "circles": _synthetic("circles", make_circles, "classification"),
    "blobs": _synthetic("blobs", make_blobs, "classification"),
    "xor": _synthetic("xor", make_xor, "classification"),
    "regression_1d": _synthetic("regression_1d", make_regression_1d, "regression"),
}


def available_datasets() -> list[str]:
    """Names accepted by `load_dataset`."""
    return sorted(_REGISTRY)


def load_dataset(name: str, **kwargs: Any) -> DatasetBunch:
    """Load a bundled or synthetic dataset by name ('digits', 'mnist1d', 'moons', ...).

    Synthetic datasets default to seed=0; keyword arguments go to the loader or generator.

    Example:
        >>> load_dataset("moons", n_samples=50).x.shape
        (50, 2)
    """
    if not isinstance(name, str):
        raise TypeError(f"load_dataset: name must be a string, got {type(name).__name__}")
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    key = {"mnist_1d": "mnist1d", "cancer": "breast_cancer"}.get(key, key)
    if key not in _REGISTRY:
        close = difflib.get_close_matches(key, _REGISTRY, n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise ValueError(
            f"load_dataset: unknown dataset {name!r}.{hint} Available: {', '.join(available_datasets())}"
        )
    return _REGISTRY[key](**kwargs)
