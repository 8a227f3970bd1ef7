"""Keras facade gaps closed against Keras 3 on the torch backend: `weights` /
`trainable_weights` / `non_trainable_weights` as Keras variables (names, paths, order, the
trainable split, freezing, `assign`), `train_on_batch` / `test_on_batch` over several batches,
and Keras' refusal of class_weight together with sample_weight."""

from __future__ import annotations

import numpy as np
import pytest

import descentlab as dl
from descentlab import keras as dk

TIGHT = {"rtol": 1e-5, "atol": 1e-6}  # float32, a handful of steps


def _layers(lib, regularizer=None):
    """Dense (kernel, bias), BatchNormalization (gamma, beta + moving stats), Dense without bias;
    explicit names, so that Keras' paths and ours do not depend on name counters."""
    return [lib.Input(shape=(6,)),
            lib.layers.Dense(8, activation="relu", kernel_regularizer=regularizer, name="hidden"),
            lib.layers.BatchNormalization(name="norm"),
            lib.layers.Dense(3, activation="softmax", use_bias=False, name="probs")]  # fmt: skip


def _twins(keras, regularized=False, seed=0):
    """The same model here and in Keras, with the same kernels drawn from a seeded generator
    (so each run is the same run); biases and BatchNormalization keep Keras' initial values."""
    theirs = keras.Sequential(
        _layers(keras, keras.regularizers.l2(0.01) if regularized else None), name="net"
    )
    ours = dk.Sequential(_layers(dk, dk.regularizers.l2(0.01) if regularized else None), name="net")
    rng = np.random.default_rng(seed)
    weights = [rng.uniform(-0.6, 0.6, w.shape).astype(np.float32) if w.ndim == 2 else w
               for w in theirs.get_weights()]  # fmt: skip
    theirs.set_weights(weights)
    ours.set_weights(weights)
    return ours, theirs


def _data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6)).astype(np.float32)
    y = ((x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 0.5)).astype(np.int64)
    return x, y, rng.uniform(0.0, 2.0, size=n).astype(np.float32)


def _described(variables):
    return [(v.name, v.path, tuple(v.shape), bool(v.trainable)) for v in variables]


def _same_lists(ours, theirs):
    for attr in ("weights", "trainable_weights", "non_trainable_weights"):
        assert _described(getattr(ours, attr)) == _described(getattr(theirs, attr)), attr


# ---------------------------------------------------------------------- weights
def test_weights_lists_match_keras(keras):
    ours, theirs = _twins(keras)
    _same_lists(ours, theirs)
    assert [v.path for v in ours.weights] == [
        "net/hidden/kernel", "net/hidden/bias", "net/norm/gamma", "net/norm/beta",
        "net/norm/moving_mean", "net/norm/moving_variance", "net/probs/kernel",
    ]  # fmt: skip
    assert [v.path for v in ours.non_trainable_weights] == [
        "net/norm/moving_mean",
        "net/norm/moving_variance",
    ]
    for mine, layer in zip(ours.layers, theirs.layers, strict=True):
        _same_lists(mine, layer)
    for a, b in zip(ours.weights, theirs.weights, strict=True):
        assert a.dtype == "float32"
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    # the same objects whichever way they are reached, as Keras' variables
    assert ours.weights[0] is ours.layers[0].weights[0] is ours.layers[0].trainable_weights[0]
    assert ours.weights[-1] in ours.trainable_weights


def test_freezing_moves_weights_to_non_trainable_as_keras(keras):
    ours, theirs = _twins(keras)
    for model in (ours, theirs):
        model.get_layer("norm").trainable = False
    _same_lists(ours, theirs)
    assert [v.name for v in ours.get_layer("norm").non_trainable_weights] == [
        "gamma",
        "beta",
        "moving_mean",
        "moving_variance",
    ]
    assert ours.get_layer("norm").trainable_weights == []
    for model in (ours, theirs):
        model.trainable = False
    _same_lists(ours, theirs)
    assert ours.trainable_weights == [] and len(ours.non_trainable_weights) == 7
    for model in (ours, theirs):
        model.trainable = True
    _same_lists(ours, theirs)
    assert len(ours.trainable_weights) == 5


def test_frozen_layer_stays_put_in_train_on_batch_as_keras(keras):
    x, y, _ = _data()
    ours, theirs = _twins(keras)
    for model, lib in ((ours, dk), (theirs, keras)):
        model.get_layer("hidden").trainable = False
        model.compile(optimizer=lib.optimizers.Adam(0.05), loss="sparse_categorical_crossentropy")
    before = ours.get_layer("hidden").get_weights()
    for i in range(0, 40, 10):
        got, expected = ours.train_on_batch(x[i:i + 10], y[i:i + 10]), theirs.train_on_batch(
            x[i:i + 10], y[i:i + 10])  # fmt: skip
        assert got == pytest.approx(expected, rel=1e-5)
    for a, b in zip(ours.get_layer("hidden").get_weights(), before, strict=True):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(ours.weights, theirs.weights, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), **TIGHT, err_msg=a.path)


def test_assign_writes_through_and_round_trips_with_keras(keras):
    x, _, _ = _data(n=5)
    ours, theirs = _twins(keras)
    rng = np.random.default_rng(7)
    for mine, their in zip(ours.weights, theirs.weights, strict=True):
        value = rng.uniform(0.5, 1.5, size=their.shape)  # float64: cast to the weight's float32
        their.assign(value.astype(np.float32))
        assert mine.assign(value) is mine
        assert mine.value.dtype == np.float32
        np.testing.assert_array_equal(mine.numpy(), their.numpy())
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), **TIGHT)
    # the real parameter changed, numpy() is a copy, get_weights agrees
    kernel = ours.get_layer("hidden").weights[0]
    kernel.assign(np.zeros((6, 8)))
    assert not ours.get_layer("hidden").kernel.data.any()
    copy = kernel.numpy()
    copy += 1.0
    assert not kernel.numpy().any() and not ours.get_weights()[0].any()
    kernel.assign_add(np.full((6, 8), 2.0))
    np.testing.assert_array_equal(ours.get_layer("hidden").kernel.data, 2.0)
    # a wrong shape: Keras refuses, so do we, naming the weight, and nothing is written
    with pytest.raises(ValueError):
        theirs.weights[0].assign(np.zeros((3, 3), np.float32))
    with pytest.raises(ValueError, match=r"net/hidden/kernel\) has shape \(6, 8\), got an array "
                                         r"of shape \(3, 3\)"):  # fmt: skip
        kernel.assign(np.zeros((3, 3)))
    np.testing.assert_array_equal(kernel.numpy(), 2.0)


def test_assign_moving_statistics_changes_inference():
    model = dk.Sequential([dk.Input(shape=(2,)), dk.layers.BatchNormalization(epsilon=1e-12)])
    mean, variance = model.non_trainable_weights
    assert (mean.name, variance.name) == ("moving_mean", "moving_variance")
    mean.assign([1.0, 2.0])
    variance.assign([4.0, 16.0])
    out = model.predict(np.array([[3.0, 6.0]], np.float32), verbose=0)
    np.testing.assert_allclose(out, [[1.0, 1.0]], rtol=1e-6)


def test_weights_paths_for_standalone_and_subclassed_like_keras(keras):
    def standalone(lib):
        dense = lib.layers.Dense(2, name="alone")
        dense(np.zeros((1, 3), np.float32))
        return [v.path for v in dense.weights]

    assert standalone(dk) == standalone(keras) == ["alone/kernel", "alone/bias"]

    def keras2_habit(lib):  # input_shape= on the first layer: Keras builds it inside the model
        layers = [lib.layers.Dense(3, input_shape=(4,), name="first"), lib.layers.Dense(1)]
        return [v.path for v in lib.Sequential(layers, name="old").weights][:2]

    with pytest.warns(UserWarning, match="input_shape"):
        expected = keras2_habit(keras)
    assert keras2_habit(dk) == expected == ["old/first/kernel", "old/first/bias"]

    def subclassed(lib):
        class Two(lib.Model):
            def __init__(self):
                super().__init__(name="two")
                self.a = lib.layers.Dense(3, name="a")
                self.b = lib.layers.Dense(1, name="b")

            def call(self, x):
                return self.b(self.a(x))

        model = Two()
        assert model.weights == []  # not built yet
        model(np.zeros((2, 4), np.float32))
        return _described(model.weights)

    assert subclassed(dk) == subclassed(keras)


# ---------------------------------------------------------------------- train / test on batch
@pytest.mark.parametrize(
    ("metrics", "weighting", "regularized", "return_dict"),
    [
        ([], None, False, False),
        (["accuracy"], None, True, False),
        (["accuracy"], "sample_weight", False, True),
        (["accuracy"], "class_weight", True, False),
    ],
)
def test_train_and_test_on_batch_match_keras(keras, metrics, weighting, regularized, return_dict):
    """(SGD with momentum rather than Adam: a bias right before BatchNormalization gets a zero
    gradient up to rounding, which Adam's normalisation would blow up to a full step of
    either sign.)"""
    x, y, w = _data()
    ours, theirs = _twins(keras, regularized)
    for model, lib in ((ours, dk), (theirs, keras)):
        model.compile(optimizer=lib.optimizers.SGD(0.1, momentum=0.9),
                      loss="sparse_categorical_crossentropy", metrics=list(metrics))  # fmt: skip
    for i in range(0, 40, 8):  # five batches, one update each
        sl = slice(i, i + 8)
        train = {"return_dict": return_dict}
        if weighting == "sample_weight":
            train["sample_weight"] = w[sl]
        elif weighting == "class_weight":
            train["class_weight"] = {0: 0.5, 2: 3.0}
        got, expected = ours.train_on_batch(x[sl], y[sl], **train), theirs.train_on_batch(
            x[sl], y[sl], **train)  # fmt: skip
        _same_result(got, expected)
        test = {"return_dict": return_dict}
        if weighting == "sample_weight":
            test["sample_weight"] = w[sl]
        nxt = slice((i + 8) % 40, (i + 8) % 40 + 8)
        _same_result(ours.test_on_batch(x[nxt], y[nxt], **test),
                     theirs.test_on_batch(x[nxt], y[nxt], **test))  # fmt: skip
    for a, b in zip(ours.weights, theirs.weights, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), **TIGHT, err_msg=a.path)
    assert int(ours.optimizer.iterations) == 5


def _same_result(got, expected):
    """Keras' return shapes: a float alone, a list [loss, *metrics], or a dict."""
    if isinstance(expected, dict):
        assert isinstance(got, dict) and set(got) == set(expected)
        for key in expected:
            assert got[key] == pytest.approx(expected[key], rel=1e-5, abs=1e-6), key
    elif isinstance(expected, list):
        assert isinstance(got, list) and len(got) == len(expected)
        np.testing.assert_allclose(got, expected, **TIGHT)
    else:
        assert isinstance(got, float) and isinstance(expected, float)
        assert got == pytest.approx(expected, rel=1e-5, abs=1e-6)


def test_train_on_batch_reuses_the_fit_step():
    """Two batches through train_on_batch leave the model where fit over the same two batches
    (batch_size = batch, no shuffling) leaves it; metrics describe each batch alone."""
    x, y, _ = _data(n=16)

    def model():
        dl.manual_seed(0)
        net = dk.Sequential(_layers(dk))
        net.compile(optimizer=dk.optimizers.SGD(0.1, momentum=0.9),
                    loss="sparse_categorical_crossentropy", metrics=["accuracy"])  # fmt: skip
        return net

    stepped, fitted = model(), model()
    logs = [stepped.train_on_batch(x[:8], y[:8], return_dict=True),
            stepped.train_on_batch(x[8:], y[8:], return_dict=True)]  # fmt: skip
    history = fitted.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(stepped.get_weights(), fitted.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert history.history["loss"][0] == pytest.approx((logs[0]["loss"] + logs[1]["loss"]) / 2)
    assert history.history["accuracy"][0] == pytest.approx(
        (logs[0]["accuracy"] + logs[1]["accuracy"]) / 2
    )


def test_train_on_batch_builds_a_lazy_model():
    class Net(dk.Model):
        def __init__(self):
            super().__init__()
            self.hidden, self.out = dk.layers.Dense(8, activation="tanh"), dk.layers.Dense(1)

        def call(self, x):
            return self.out(self.hidden(x))

    x, _, _ = _data(n=32)
    y = x[:, :1] * 2.0 - x[:, 1:2]
    net = Net()
    net.compile(optimizer=dk.optimizers.Adam(0.05), loss="mse")
    first = net.test_on_batch(x, y)
    for _ in range(30):
        net.train_on_batch(x, y)
    assert net.test_on_batch(x, y) < first / 3
    assert [v.path for v in net.trainable_weights][0] == f"{net.name}/{net.hidden.name}/kernel"


def test_on_batch_errors():
    x, y, w = _data(n=8)
    model = dk.Sequential(_layers(dk))
    with pytest.raises(RuntimeError, match=r"compile.*before train_on_batch"):
        model.train_on_batch(x, y)
    with pytest.raises(RuntimeError, match=r"compile.*before test_on_batch"):
        model.test_on_batch(x, y)
    model.compile(optimizer="adam")
    with pytest.raises(ValueError, match="train_on_batch: compile.. was called without a loss"):
        model.train_on_batch(x, y)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="one sample without the batch axis"):
        model.train_on_batch(x[0], y[:1])
    with pytest.raises(ValueError, match="different numbers of samples"):
        model.train_on_batch(x, y[:4])


# ---------------------------------------------------------------------- class_weight + sample_weight
KERAS_BOTH = "You cannot `class_weight` and `sample_weight` at the same time."


@pytest.mark.parametrize("split", [0.0, 0.25])
def test_fit_refuses_class_weight_with_sample_weight_as_keras(keras, split):
    x, y, w = _data()
    ours, theirs = _twins(keras)
    for model in (ours, theirs):
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    start = ours.get_weights()
    both = {"class_weight": {0: 1.0, 1: 2.0}, "sample_weight": w, "epochs": 1, "verbose": 0,
            "validation_split": split}  # fmt: skip
    with pytest.raises(ValueError, match=KERAS_BOTH.replace(".", r"\.")) as theirs_err:
        theirs.fit(x, y, **both)
    assert str(theirs_err.value) == KERAS_BOTH  # the message we copy, still Keras' own
    with pytest.raises(ValueError, match=KERAS_BOTH.replace(".", r"\.") + " Fold the class"):
        ours.fit(x, y, **both)
    for a, b in zip(ours.get_weights(), start, strict=True):
        np.testing.assert_array_equal(a, b)  # refused before any update
    # a dataset yielding (x, y, sample_weight) with class_weight: refused too
    data = dl.data.TensorDataset(x, y, w)
    with pytest.raises(ValueError, match="You cannot specify `class_weight` and `sample_weight`"):
        ours.fit(data, class_weight={0: 1.0}, verbose=0)
    # each alone still trains
    ours.fit(x, y, class_weight={0: 1.0, 1: 2.0}, epochs=1, verbose=0)
    ours.fit(data, verbose=0)  # the weights the dataset yields, alone
    ours.fit(x, y, sample_weight=w, epochs=1, verbose=0)


def test_fit_refuses_class_weight_with_a_generator_or_a_data_loader_as_keras(keras):
    import torch

    x, y, w = _data(n=8)
    ours, theirs = _twins(keras)
    for model in (ours, theirs):
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    start = ours.get_weights()

    def batches():
        for i in range(0, 8, 4):
            yield x[i : i + 4], y[i : i + 4], w[i : i + 4]

    cw = {"class_weight": {0: 1.0, 1: 2.0}, "epochs": 1, "verbose": 0}
    message = "Argument `class_weight` is not supported for Python generator inputs"
    with pytest.raises(ValueError, match=message):
        theirs.fit(batches(), **cw)
    with pytest.raises(ValueError, match=message):
        ours.fit(batches(), **cw)
    torch_loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.tensor(x), torch.tensor(y)), batch_size=4
    )
    with pytest.raises(ValueError, match="not supported for torch DataLoader inputs"):
        theirs.fit(torch_loader, **cw)
    loader = dl.data.DataLoader(dl.data.TensorDataset(x, y), batch_size=4)

    class MyLoader(dl.data.DataLoader):
        pass

    mine = MyLoader(dl.data.TensorDataset(x, y), batch_size=4)
    for data in (loader, torch_loader, mine):
        with pytest.raises(ValueError, match="not supported for DataLoader inputs"):
            ours.fit(data, **cw)
    for a, b in zip(ours.get_weights(), start, strict=True):
        np.testing.assert_array_equal(a, b)  # refused before any update
    ours.fit(loader, epochs=1, verbose=0)  # without class_weight it trains


def test_train_on_batch_refuses_class_weight_with_sample_weight_as_keras(keras):
    x, y, w = _data(n=8)
    ours, theirs = _twins(keras)
    for model in (ours, theirs):
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    both = {"class_weight": {0: 1.0}, "sample_weight": w}
    message = "Arguments `sample_weight` and `class_weight` cannot be specified at the same time"
    with pytest.raises(ValueError, match=message):
        theirs.train_on_batch(x, y, **both)
    with pytest.raises(ValueError, match=message):
        ours.train_on_batch(x, y, **both)
