"""The Keras facade used the way Keras 3 tutorials use it, against Keras 3 on the torch backend:
weighted fits, validation data, initial_epoch, EarlyStopping, evaluate's return shapes, predict,
Sequential editing, summary, frozen layers, BatchNormalization after a convolution, loss objects,
and the errors for wrong use."""

from __future__ import annotations

import numpy as np
import pytest

import descentlab as dl
from descentlab import keras as dk

FLOAT32 = {"rtol": 2e-4, "atol": 1e-5}


def _twins(keras, build):
    theirs = keras.Sequential(build(keras))
    ours = dk.Sequential(build(dk))
    ours.set_weights(theirs.get_weights())
    return ours, theirs


def _same_history(ours, theirs):
    assert set(ours.history) == set(theirs.history)  # no extra keys ('lr') and none missing
    for key, values in theirs.history.items():
        np.testing.assert_allclose(ours.history[key], values, **FLOAT32, err_msg=key)
    assert list(ours.epoch) == list(theirs.epoch)


def _same_weights(ours, theirs, **tol):
    for a, b in zip(ours.get_weights(), theirs.get_weights(), strict=True):
        np.testing.assert_allclose(a, np.asarray(b), **(tol or FLOAT32))


def _binary_data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6)).astype(np.float32)
    return x, (x[:, 0] + 0.3 * x[:, 1] > 0).astype(np.int64), rng


def _binary(lib):
    return [lib.Input(shape=(6,)), lib.layers.Dense(4, activation="relu"),
            lib.layers.Dense(1, activation="sigmoid")]  # fmt: skip


@pytest.mark.parametrize("weighting", ["class_weight", "sample_weight"])
def test_weighted_fit_matches_keras(keras, weighting):
    """Keras weights the loss and `weighted_metrics`, never `metrics` (accuracy counts every
    sample once); validation_data may carry its own weights."""
    x, y, rng = _binary_data()
    w = rng.uniform(0.0, 2.0, size=len(x)).astype(np.float32)
    ours, theirs = _twins(keras, _binary)
    for model, lib in ((ours, dk), (theirs, keras)):
        model.compile(optimizer=lib.optimizers.SGD(0.1), loss="binary_crossentropy",
                      metrics=["accuracy"], weighted_metrics=["binary_accuracy"])  # fmt: skip
    weights = {"class_weight": {0: 1.0, 1: 3.0}} if weighting == "class_weight" else {
        "sample_weight": w}  # fmt: skip
    fit = {"epochs": 3, "batch_size": 8, "shuffle": False, "verbose": 0,
           "validation_data": (x[:12], y[:12], w[:12]), **weights}  # fmt: skip
    _same_history(ours.fit(x, y, **fit), theirs.fit(x, y, **fit))
    _same_weights(ours, theirs)
    got = ours.evaluate(x, y, sample_weight=w, verbose=0, return_dict=True)
    expected = theirs.evaluate(x, y, sample_weight=w, verbose=0, return_dict=True)
    assert set(got) == set(expected)
    for key in expected:
        assert got[key] == pytest.approx(expected[key], rel=2e-5), key


def test_evaluate_return_shapes_and_predict_match_keras(keras):
    x, y, _ = _binary_data()
    ours, theirs = _twins(keras, _binary)
    for model in (ours, theirs):
        model.compile(optimizer="sgd", loss="binary_crossentropy", metrics=["accuracy"])
    got, expected = ours.evaluate(x, y, verbose=0), theirs.evaluate(x, y, verbose=0)
    assert isinstance(got, list) and len(got) == len(expected) == 2
    np.testing.assert_allclose(got, expected, **FLOAT32)
    assert ours.evaluate(x, y, verbose=0, return_dict=True).keys() == {"loss", "accuracy"}
    ours, theirs = _twins(keras, _binary)  # (a recompiled Keras model keeps its old metrics)
    for model in (ours, theirs):
        model.compile(optimizer="sgd", loss="binary_crossentropy")
    scalar = ours.evaluate(x, y, verbose=0)
    assert isinstance(scalar, float) and isinstance(theirs.evaluate(x, y, verbose=0), float)
    assert scalar == pytest.approx(theirs.evaluate(x, y, verbose=0), rel=2e-5)
    for xs, kwargs in ((x[:1], {}), (x, {"batch_size": 7}), (x.astype(np.float64), {})):
        out = ours.predict(xs, verbose=0, **kwargs)
        assert out.shape == (len(xs), 1) and out.dtype == np.float32
        np.testing.assert_allclose(out, theirs.predict(xs, verbose=0, **kwargs), **FLOAT32)
    np.testing.assert_allclose(ours.predict_on_batch(x[:3]), theirs.predict_on_batch(x[:3]),
                               **FLOAT32)  # fmt: skip


def test_regression_mae_on_3d_input_matches_keras(keras):
    """Dense acts on the last axis of (batch, steps, features) input, as Keras."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(12, 5, 4)).astype(np.float32)
    y = np.stack([x.sum(-1), x[..., 0] * x[..., 1]], axis=-1).astype(np.float32)

    def build(lib):
        return [
            lib.Input(shape=(5, 4)),
            lib.layers.Dense(3, activation="relu"),
            lib.layers.Dense(2),
        ]

    ours, theirs = _twins(keras, build)
    for model, lib in ((ours, dk), (theirs, keras)):
        model.compile(optimizer=lib.optimizers.Adam(0.01), loss="mse", metrics=["mae"])
    fit = {"epochs": 2, "batch_size": 4, "shuffle": False, "verbose": 0, "initial_epoch": 0}
    _same_history(ours.fit(x, y, **fit), theirs.fit(x, y, **fit))
    fit["epochs"], fit["initial_epoch"] = 4, 2  # continue: epochs 2 and 3
    _same_history(ours.fit(x, y, **fit), theirs.fit(x, y, **fit))
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), **FLOAT32)
    assert [layer.get_weights()[0].shape for layer in ours.layers] == [(4, 3), (3, 2)]


def test_early_stopping_restores_the_best_weights_as_keras(keras):
    x, y, _ = _binary_data(n=32)

    def build(lib):
        return [lib.Input(shape=(6,)), lib.layers.Dense(1)]

    ours, theirs = _twins(keras, build)
    stops = {}
    for model, lib in ((ours, dk), (theirs, keras)):
        model.compile(optimizer=lib.optimizers.SGD(0.9), loss="mse")  # too large: diverges
        stops[lib] = lib.callbacks.EarlyStopping(monitor="loss", patience=2,
                                                 restore_best_weights=True)  # fmt: skip
    fit = {"epochs": 20, "batch_size": 8, "shuffle": False, "verbose": 0}
    h_ours = ours.fit(x, y.astype(np.float32), callbacks=[stops[dk]], **fit)
    h_theirs = theirs.fit(x, y.astype(np.float32), callbacks=[stops[keras]], **fit)
    assert len(h_theirs.epoch) < 20  # it did stop early
    _same_history(h_ours, h_theirs)
    assert stops[dk].stopped_epoch == stops[keras].stopped_epoch
    _same_weights(ours, theirs)


def _cnn(lib, rate=0.0):
    return [lib.Input(shape=(6, 6, 2)), lib.layers.Conv2D(3, 3),
            lib.layers.BatchNormalization(momentum=0.9), lib.layers.Activation("relu"),
            lib.layers.Dropout(rate), lib.layers.Flatten(), lib.layers.Dense(3)]  # fmt: skip


def test_batchnorm_after_conv_and_logits_loss_object_match_keras(keras):
    """BatchNormalization on NHWC conv outputs: batch statistics while training, moving ones
    in evaluate/predict; Dropout(0) is the identity; a Keras loss object with from_logits."""
    rng = np.random.default_rng(2)
    x = rng.normal(1.0, 2.0, size=(16, 6, 6, 2)).astype(np.float32)
    y = rng.integers(0, 3, size=16)
    ours, theirs = _twins(keras, _cnn)
    for model, lib in ((ours, dk), (theirs, keras)):
        loss = lib.losses.SparseCategoricalCrossentropy(from_logits=True)
        model.compile(optimizer=lib.optimizers.SGD(0.05), loss=loss, metrics=["accuracy"])
    fit = {"epochs": 3, "batch_size": 5, "shuffle": False, "verbose": 0,
           "validation_data": (x[:6], y[:6])}  # fmt: skip
    _same_history(ours.fit(x, y, **fit), theirs.fit(x, y, **fit))
    _same_weights(ours, theirs)  # moving_mean / moving_variance included
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0),
                               rtol=2e-4, atol=1e-5)  # fmt: skip
    np.testing.assert_allclose(ours.evaluate(x, y, verbose=0), theirs.evaluate(x, y, verbose=0),
                               **FLOAT32)  # fmt: skip


def test_dropout_is_off_in_predict_and_evaluate(keras):
    x = np.random.default_rng(3).normal(size=(8, 6, 6, 2)).astype(np.float32)
    ours, theirs = _twins(keras, lambda lib: _cnn(lib, rate=0.5))
    first = ours.predict(x, verbose=0)
    np.testing.assert_array_equal(first, ours.predict(x, verbose=0))
    np.testing.assert_allclose(first, theirs.predict(x, verbose=0), **FLOAT32)


def test_frozen_layers_match_keras(keras):
    """`layer.trainable = False` (transfer learning): no updates, a frozen BatchNormalization
    keeps and uses its moving statistics, the summary counts the weights as non-trainable."""
    rng = np.random.default_rng(4)
    x = rng.normal(size=(24, 6)).astype(np.float32)
    y = (x[:, :1] - x[:, 1:2]).astype(np.float32)

    def build(lib):
        return [lib.Input(shape=(6,)), lib.layers.Dense(5, activation="tanh"),
                lib.layers.BatchNormalization(), lib.layers.Dense(1)]  # fmt: skip

    ours, theirs = _twins(keras, build)
    frozen = [w.copy() for w in ours.get_weights()[:6]]
    for model, lib in ((ours, dk), (theirs, keras)):
        model.layers[0].trainable = False
        model.layers[1].trainable = False
        model.compile(optimizer=lib.optimizers.Adam(0.05), loss="mse")
    assert ours.count_params() == theirs.count_params() == 35 + 20 + 6
    table = ours.summary(print_fn=None)
    assert (
        "Trainable params: 6 (24.00 B)" in table and "Non-trainable params: 55 (220.00 B)" in table
    )
    fit = {"epochs": 2, "batch_size": 8, "shuffle": False, "verbose": 0}
    _same_history(ours.fit(x, y, **fit), theirs.fit(x, y, **fit))
    _same_weights(ours, theirs)
    for a, b in zip(ours.get_weights()[:6], frozen, strict=True):
        np.testing.assert_array_equal(a, b)
    ours.trainable = True
    assert "Non-trainable params: 10 (40.00 B)" in ours.summary(print_fn=None)


def test_sequential_editing_and_summary_match_keras(keras):
    def build(lib):
        return [lib.Input(shape=(8, 8, 1)),
                lib.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv"),
                lib.layers.BatchNormalization(name="bn"), lib.layers.MaxPooling2D(name="pool"),
                lib.layers.Flatten(name="flat"), lib.layers.Dropout(0.2, name="drop"),
                lib.layers.Dense(10, activation="softmax", name="probs")]  # fmt: skip

    ours, theirs = _twins(keras, build)
    table = ours.summary(print_fn=None)
    assert table.splitlines()[0] == f'Model: "{ours.name}"' and ours.name.startswith("sequential")
    for layer in theirs.layers:
        mine = ours.get_layer(layer.name)
        assert type(mine).__name__ == type(layer).__name__
        assert mine.count_params() == layer.count_params(), layer.name
        assert f"{layer.name} ({type(layer).__name__})" in table
        assert str(tuple(layer.output.shape)) in table
    total = theirs.count_params()
    assert ours.count_params() == total == 40 + 16 + 64 * 10 + 10
    assert f"Total params: {total:,} ({total * 4 / 1024:.2f} KB)" in table
    assert "Non-trainable params: 8 (32.00 B)" in table  # BatchNormalization's moving stats
    assert ours.get_layer(index=-1).name == "probs"
    for model, lib in ((ours, dk), (theirs, keras)):
        model.pop()
        model.add(lib.layers.Dense(2, name="head"))
    assert [m.name for m in ours.layers] == [m.name for m in theirs.layers]
    ours.layers[-1].set_weights(theirs.layers[-1].get_weights())
    x = np.random.default_rng(5).normal(size=(3, 8, 8, 1)).astype(np.float32)
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), **FLOAT32)
    with pytest.raises(ValueError, match="no layer named 'nope'"):
        ours.get_layer("nope")


def test_history_logs_the_learning_rate_only_with_a_schedule_callback():
    x, y, _ = _binary_data(n=16)
    model = dk.Sequential(_binary(dk))
    model.compile(optimizer=dk.optimizers.SGD(0.1), loss="binary_crossentropy")
    assert set(model.fit(x, y, epochs=2, verbose=0).history) == {"loss"}
    cb = dk.callbacks.LearningRateScheduler(lambda epoch, lr: lr * 0.5)
    h = model.fit(x, y, epochs=2, verbose=0, callbacks=[cb]).history
    assert set(h) == {"loss", "learning_rate"}  # Keras' key, as its scheduler logs it
    np.testing.assert_allclose(h["learning_rate"], [0.05, 0.025])


def test_wrong_use_gets_a_clear_error(keras):
    x, y, _ = _binary_data(n=16)
    model = dk.Sequential(_binary(dk))
    with pytest.raises(RuntimeError, match=r"compile\(.*before fit"):
        model.fit(x, y)
    assert model.predict(x, verbose=0).shape == (16, 1)  # predict needs no compile (Keras)
    model.compile(optimizer="sgd", loss="binary_crossentropy")
    with pytest.raises(ValueError, match=r"6 features in the last dimension, got input of shape"):
        model.fit(x[:, :5], y, verbose=0)
    with pytest.raises(ValueError, match=r"one sample without the batch axis.*x\[None\]"):
        model.predict(x[0])
    opt = dk.optimizers.SGD(0.1)
    first = dk.Sequential(_binary(dk))
    first.compile(optimizer=opt, loss="binary_crossentropy")
    first.fit(x, y, epochs=1, verbose=0)
    second = dk.Sequential(_binary(dk))
    with pytest.raises(ValueError, match="already used with another model.*new optimizer"):
        second.compile(optimizer=opt, loss="binary_crossentropy")
    first.compile(optimizer=opt, loss="mse")  # recompiling the same model is fine
    first.fit(x, y.astype(np.float32), epochs=1, verbose=0)
    with pytest.raises(ValueError, match="noise_shape"):
        dk.layers.Dropout(0.5, noise_shape=(None, 1))
    assert dl.keras.layers.Dropout(0.5, seed=1).name.startswith("dropout")
