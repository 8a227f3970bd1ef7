"""Preprocessing: train/test splits, one-hot labels, feature scaling fitted on training data only.

Example:
    >>> import numpy as np
    >>> x = np.arange(20.0).reshape(10, 2); y = np.array([0, 1] * 5)
    >>> x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.2, stratify=y, seed=0)
    >>> x_tr.shape, np.bincount(y_te).tolist()
    ((8, 2), [1, 1])
    >>> scaler = StandardScaler().fit(x_tr)   # statistics of the training data only
    >>> x_te_scaled = scaler.transform(x_te)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from descentlab.data.dataset import as_array, as_generator

__all__ = ["train_test_split", "one_hot", "StandardScaler", "MinMaxScaler"]


def _n_part(size: float | int, n: int, name: str) -> int:
    """Samples in one part: a fraction of n (test rounded up, train down, as scikit-learn) or a count."""
    if isinstance(size, bool) or not isinstance(size, (int, float, np.integer, np.floating)):
        raise TypeError(f"train_test_split: {name} must be a float or an int, got {size!r}")
    if isinstance(size, (int, np.integer)):
        if not 0 < size < n:
            raise ValueError(
                f"train_test_split: {name}={size} samples must lie in [1, {n - 1}] for {n} samples"
            )
        return int(size)
    frac = float(size)
    if not 0.0 < frac < 1.0:
        raise ValueError(
            f"train_test_split: {name}={size} must be a fraction in (0, 1) or a number of samples"
        )
    k = int(np.ceil(frac * n)) if name == "test_size" else int(np.floor(frac * n))
    if not 0 < k < n:
        raise ValueError(f"train_test_split: {name}={size} of {n} samples leaves an empty split")
    return k


def _split_sizes(
    test_size: float | int | None, train_size: float | int | None, n: int
) -> tuple[int, int]:
    if test_size is None and train_size is None:
        test_size = 0.25  # scikit-learn's default
    n_test = None if test_size is None else _n_part(test_size, n, "test_size")
    n_train = None if train_size is None else _n_part(train_size, n, "train_size")
    n_test = n - n_train if n_test is None else n_test
    n_train = n - n_test if n_train is None else n_train
    if n_train + n_test > n:
        raise ValueError(
            f"train_test_split: train_size={train_size} and test_size={test_size} ask for "
            f"{n_train} + {n_test} samples but there are only {n}"
        )
    return n_train, n_test


def _stratified_test_indices(
    labels: np.ndarray, n_test: int, rng: np.random.Generator
) -> np.ndarray:
    classes, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    if (counts < 2).any():
        bad = classes[counts < 2].tolist()
        raise ValueError(
            f"train_test_split: classes {bad} have fewer than 2 samples, so they cannot appear in "
            "both splits; remove them or split without stratify"
        )
    n = len(labels)
    if n_test < len(classes) or n - n_test < len(classes):
        raise ValueError(
            f"train_test_split: with stratify, both splits need at least one sample of each of "
            f"the {len(classes)} classes, but the test split has {n_test} of {n} samples"
        )
    # Largest-remainder rounding keeps every class's share proportional and the total exact.
    exact = counts * (n_test / n)
    per_class = np.floor(exact).astype(np.int64)
    per_class = np.clip(per_class, 1, counts - 1)
    remaining = int(n_test - per_class.sum())
    while remaining != 0:
        # Add to the classes with the largest remainders first, take from the smallest first.
        gap = exact - per_class
        order = np.argsort(-gap if remaining > 0 else gap, kind="stable")
        progressed = False
        for k in order:
            if remaining == 0:
                break
            step = 1 if remaining > 0 else -1
            if 1 <= per_class[k] + step <= counts[k] - 1:
                per_class[k] += step
                remaining -= step
                progressed = True
        if not progressed:  # unreachable given the size checks above; never loop forever
            raise ValueError(f"train_test_split: cannot stratify {n_test} test samples")
    chosen = []
    for c in range(len(classes)):
        members = np.flatnonzero(inverse == c)
        chosen.append(rng.permutation(members)[: per_class[c]])
    return rng.permutation(np.concatenate(chosen))


def train_test_split(
    *arrays: Any,
    test_size: float | int | None = None,
    train_size: float | int | None = None,
    stratify: Any = None,
    seed: int | np.random.Generator | None = None,
    shuffle: bool = True,
    random_state: int | np.random.Generator | None = None,
) -> list[np.ndarray]:
    """Split arrays into random train and test parts: returns [a_train, a_test, b_train, b_test, ...].

    `test_size` and `train_size` are fractions in (0, 1) (test rounded up, train down) or sample
    counts; with neither, the test part is 0.25 and with one, the other part is the rest; with
    both, samples beyond the two parts are left out (all as scikit-learn). `random_state` is
    scikit-learn's name for `seed`.
    `stratify=labels` keeps every class's proportion in both parts (largest-remainder rounding).
    `seed` is an int, a Generator, or None for the global descentlab generator.
    Output order follows scikit-learn's `train_test_split`.

    Example:
        >>> x_tr, x_te = train_test_split(np.arange(10), test_size=0.3, seed=1)
        >>> len(x_tr), len(x_te)
        (7, 3)
    """
    if not arrays:
        raise ValueError("train_test_split: pass at least one array")
    data = [as_array(a, f"train_test_split array {k}") for k, a in enumerate(arrays)]
    lengths = [len(a) if a.ndim else 0 for a in data]
    if len(set(lengths)) != 1:
        raise ValueError(
            f"train_test_split: arrays have different numbers of samples {lengths}; "
            "x and y must have the same length"
        )
    n = lengths[0]
    n_train, n_test = _split_sizes(test_size, train_size, n)
    if random_state is not None:
        if seed is not None:
            raise ValueError("train_test_split: pass seed or its alias random_state, not both")
        seed = random_state
    rng = as_generator(seed)
    if stratify is not None:
        labels = as_array(stratify, "stratify")
        if labels.ndim == 2 and labels.shape[1] > 1:
            labels = labels.argmax(axis=1)  # one-hot labels
        labels = labels.reshape(len(labels), -1)[:, 0] if labels.ndim > 1 else labels
        if len(labels) != n:
            raise ValueError(
                f"train_test_split: stratify has {len(labels)} labels but the arrays have {n} samples"
            )
        if not shuffle:
            raise ValueError("train_test_split: stratify requires shuffle=True")
        test_idx = _stratified_test_indices(labels, n_test, rng)
        mask = np.ones(n, dtype=bool)
        mask[test_idx] = False
        rest = np.flatnonzero(mask)
        if n_train < len(rest):  # both sizes given: the train part is a stratified draw too
            train_idx = rest[_stratified_test_indices(labels[rest], n_train, rng)]
        else:
            train_idx = rng.permutation(rest)
    else:
        order = rng.permutation(n) if shuffle else np.arange(n)
        test_idx, train_idx = order[n - n_test :], order[:n_train]
    out: list[np.ndarray] = []
    for a in data:
        out.extend([a[train_idx], a[test_idx]])
    return out


def one_hot(labels: Any, num_classes: int | None = None, dtype: Any = np.float32) -> np.ndarray:
    """Integer labels (any shape) -> one-hot array with a new last axis of length `num_classes`.

    out[..., k] = 1 where labels == k. `num_classes` defaults to max(label) + 1.

    Example:
        >>> one_hot([0, 2], 3)
        array([[1., 0., 0.],
               [0., 0., 1.]], dtype=float32)
    """
    arr = as_array(labels, "one_hot labels")
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            raise ValueError("one_hot: labels must be whole numbers, got non-integer values")
        arr = arr.astype(np.int64)
    elif arr.dtype.kind not in "iub":
        raise TypeError(f"one_hot: labels must be integers, got dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    if arr.size and arr.min() < 0:
        raise ValueError(f"one_hot: labels must be >= 0, found {int(arr.min())}")
    top = int(arr.max()) + 1 if arr.size else 0
    if num_classes is None:
        num_classes = top
    elif top > num_classes:
        raise ValueError(
            f"one_hot: label {top - 1} is outside range [0, {num_classes}) for "
            f"num_classes={num_classes}; raise num_classes or fix the labels"
        )
    return np.eye(num_classes, dtype=dtype)[arr]


def _features(x: Any, owner: str) -> np.ndarray:
    arr = as_array(x, owner)
    if arr.ndim == 0:
        raise ValueError(f"{owner}: expected an array with a sample axis, got a scalar")
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"{owner}: expected numeric features, got dtype {arr.dtype}")
    return arr


class StandardScaler:
    """Standardize features: z = (x - mean_) / scale_, statistics from `fit` on training data.

    scale_ is the population standard deviation (ddof=0); constant features get scale 1 so
    they map to 0 instead of NaN (scikit-learn convention). Statistics are taken over axis 0;
    `partial_fit` updates them batch by batch (Chan et al. parallel variance).

    Example:
        >>> s = StandardScaler().fit(np.array([[0.0], [2.0]]))
        >>> s.mean_, s.scale_, s.transform(np.array([[4.0]]))
        (array([1.]), array([1.]), array([[3.]]))
    """

    def __init__(self, with_mean: bool = True, with_std: bool = True) -> None:
        self.with_mean = with_mean
        self.with_std = with_std
        self.mean_: np.ndarray | None = None
        self.var_: np.ndarray | None = None
        self.scale_: np.ndarray | None = None
        self.n_samples_seen_: int = 0

    def fit(self, x: Any) -> StandardScaler:
        """Compute mean_ and scale_ from `x` (replacing earlier statistics)."""
        self.mean_ = self.var_ = self.scale_ = None
        self.n_samples_seen_ = 0
        return self.partial_fit(x)

    def partial_fit(self, x: Any) -> StandardScaler:
        """Update the statistics with one more batch."""
        arr = _features(x, "StandardScaler.fit").astype(np.float64)
        if len(arr) == 0:
            raise ValueError("StandardScaler.fit: got 0 samples")
        if not np.all(np.isfinite(arr)):
            raise ValueError("StandardScaler.fit: x contains NaN or infinity; clean the data first")
        m = len(arr)
        batch_mean = arr.mean(axis=0)
        batch_m2 = ((arr - batch_mean) ** 2).sum(axis=0)
        if self.mean_ is None:
            mean, m2, n = batch_mean, batch_m2, m
        else:
            if self.mean_.shape != batch_mean.shape:
                raise ValueError(
                    f"StandardScaler.partial_fit: feature shape {batch_mean.shape} differs from the "
                    f"fitted shape {self.mean_.shape}"
                )
            n0 = self.n_samples_seen_
            n = n0 + m
            delta = batch_mean - self.mean_
            mean = self.mean_ + delta * (m / n)
            m2 = self.var_ * n0 + batch_m2 + delta**2 * (n0 * m / n)
        self.n_samples_seen_ = n
        self.mean_ = mean
        self.var_ = m2 / n
        std = np.sqrt(self.var_)
        self.scale_ = np.where(
            std < 10 * np.finfo(np.float64).eps * np.maximum(np.abs(mean), 1), 1.0, std
        )
        return self

    def _check(self, x: Any, what: str) -> np.ndarray:
        if self.mean_ is None:
            raise RuntimeError(f"StandardScaler.{what}: call fit(x_train) first")
        arr = _features(x, f"StandardScaler.{what}")
        if arr.shape[1:] != self.mean_.shape:
            raise ValueError(
                f"StandardScaler.{what}: x has feature shape {arr.shape[1:]}, but the scaler was "
                f"fitted on {self.mean_.shape}"
            )
        return arr

    def transform(self, x: Any) -> np.ndarray:
        """(x - mean_) / scale_, keeping float32/float64 input dtype (ints become float32)."""
        arr = self._check(x, "transform")
        dtype = arr.dtype if arr.dtype.kind == "f" else np.float32
        out = arr.astype(np.float64)
        if self.with_mean:
            out = out - self.mean_
        if self.with_std:
            out = out / self.scale_
        return out.astype(dtype)

    def inverse_transform(self, z: Any) -> np.ndarray:
        """z * scale_ + mean_ (undoes `transform`)."""
        arr = self._check(z, "inverse_transform")
        dtype = arr.dtype if arr.dtype.kind == "f" else np.float32
        out = arr.astype(np.float64)
        if self.with_std:
            out = out * self.scale_
        if self.with_mean:
            out = out + self.mean_
        return out.astype(dtype)

    def fit_transform(self, x: Any) -> np.ndarray:
        """fit(x) then transform(x)."""
        return self.fit(x).transform(x)

    def state_dict(self) -> dict[str, Any]:
        """The fitted state as a JSON-serialisable dict (lists of floats)."""
        if self.mean_ is None:
            raise RuntimeError("StandardScaler.state_dict: the scaler is not fitted")
        return {
            "type": "StandardScaler",
            "with_mean": self.with_mean,
            "with_std": self.with_std,
            "shape": list(self.mean_.shape),
            "mean": self.mean_.ravel().tolist(),
            "var": self.var_.ravel().tolist(),
            "scale": self.scale_.ravel().tolist(),
            "n_samples_seen": int(self.n_samples_seen_),
        }

    def load_state_dict(self, state: dict[str, Any]) -> StandardScaler:
        """Restore a state from `state_dict` / `to_dict`."""
        if state.get("type") != "StandardScaler":
            raise ValueError(
                f"StandardScaler.load_state_dict: expected a StandardScaler state, got type "
                f"{state.get('type')!r}"
            )
        shape = tuple(state["shape"])
        self.with_mean = bool(state["with_mean"])
        self.with_std = bool(state["with_std"])
        self.mean_ = np.asarray(state["mean"], dtype=np.float64).reshape(shape)
        self.var_ = np.asarray(state["var"], dtype=np.float64).reshape(shape)
        self.scale_ = np.asarray(state["scale"], dtype=np.float64).reshape(shape)
        self.n_samples_seen_ = int(state["n_samples_seen"])
        return self

    to_dict = state_dict

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> StandardScaler:
        """A new scaler from a `to_dict()` state."""
        return cls().load_state_dict(state)


class MinMaxScaler:
    """Scale features to `feature_range`: z = lo + (x - data_min_) * (hi - lo) / (data_max_ - data_min_).

    Constant features get range 1 (scikit-learn convention). Statistics over axis 0.

    Example:
        >>> MinMaxScaler().fit_transform(np.array([[1.0], [3.0], [2.0]])).ravel()
        array([0. , 1. , 0.5])
    """

    def __init__(self, feature_range: tuple[float, float] = (0.0, 1.0)) -> None:
        lo, hi = feature_range
        if not lo < hi:
            raise ValueError(f"MinMaxScaler: feature_range {feature_range} needs min < max")
        self.feature_range = (float(lo), float(hi))
        self.data_min_: np.ndarray | None = None
        self.data_max_: np.ndarray | None = None

    def fit(self, x: Any) -> MinMaxScaler:
        arr = _features(x, "MinMaxScaler.fit").astype(np.float64)
        if len(arr) == 0:
            raise ValueError("MinMaxScaler.fit: got 0 samples")
        if not np.all(np.isfinite(arr)):
            raise ValueError("MinMaxScaler.fit: x contains NaN or infinity; clean the data first")
        self.data_min_, self.data_max_ = arr.min(axis=0), arr.max(axis=0)
        return self

    def _scale(self) -> tuple[np.ndarray, np.ndarray]:
        if self.data_min_ is None:
            raise RuntimeError("MinMaxScaler: call fit(x_train) first")
        lo, hi = self.feature_range
        span = self.data_max_ - self.data_min_
        span = np.where(span == 0, 1.0, span)
        scale = (hi - lo) / span
        return scale, lo - self.data_min_ * scale

    def transform(self, x: Any) -> np.ndarray:
        arr = _features(x, "MinMaxScaler.transform")
        scale, offset = self._scale()
        dtype = arr.dtype if arr.dtype.kind == "f" else np.float32
        return (arr.astype(np.float64) * scale + offset).astype(dtype)

    def inverse_transform(self, z: Any) -> np.ndarray:
        arr = _features(z, "MinMaxScaler.inverse_transform")
        scale, offset = self._scale()
        dtype = arr.dtype if arr.dtype.kind == "f" else np.float32
        return ((arr.astype(np.float64) - offset) / scale).astype(dtype)

    def fit_transform(self, x: Any) -> np.ndarray:
        return self.fit(x).transform(x)

    def state_dict(self) -> dict[str, Any]:
        if self.data_min_ is None:
            raise RuntimeError("MinMaxScaler.state_dict: the scaler is not fitted")
        return {
            "type": "MinMaxScaler",
            "feature_range": list(self.feature_range),
            "shape": list(self.data_min_.shape),
            "data_min": self.data_min_.ravel().tolist(),
            "data_max": self.data_max_.ravel().tolist(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> MinMaxScaler:
        if state.get("type") != "MinMaxScaler":
            raise ValueError(
                f"MinMaxScaler.load_state_dict: expected a MinMaxScaler state, got type "
                f"{state.get('type')!r}"
            )
        shape = tuple(state["shape"])
        self.feature_range = tuple(float(v) for v in state["feature_range"])
        self.data_min_ = np.asarray(state["data_min"], dtype=np.float64).reshape(shape)
        self.data_max_ = np.asarray(state["data_max"], dtype=np.float64).reshape(shape)
        return self

    to_dict = state_dict

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> MinMaxScaler:
        return cls().load_state_dict(state)
