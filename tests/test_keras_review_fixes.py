"""Keras-facade behaviours a review found missing, each checked against Keras 3 (torch backend):
EMA weights after fit, string regularizers, a metric both plain and weighted, per-layer trainable
flags after load_model, ModelCheckpoint('best.keras') read by load_model, and torch DataLoaders
with a torch.Generator in checkpoints."""

from __future__ import annotations

import numpy as np
import pytest

import descentlab as dl
from descentlab import keras as dk

TIGHT = {"rtol": 1e-5, "atol": 1e-6}


def _data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6)).astype(np.float32)
    return x, (np.arange(n) % 3).astype(np.int64), rng.uniform(0.5, 2.0, n).astype(np.float32)


def _twins(keras, regularizer=None):
    def layers(lib):
        return [lib.Input(shape=(6,)), lib.layers.Dense(5, activation="relu",
                                                        kernel_regularizer=regularizer),
                lib.layers.Dense(3, activation="softmax")]  # fmt: skip

    theirs, ours = keras.Sequential(layers(keras)), dk.Sequential(layers(dk))
    rng = np.random.default_rng(1)
    weights = [rng.uniform(-0.5, 0.5, w.shape).astype(np.float32) for w in theirs.get_weights()]
    theirs.set_weights(weights)
    ours.set_weights(weights)
    return ours, theirs


def _same_weights(ours, theirs):
    for a, b in zip(ours.get_weights(), theirs.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, **TIGHT)


def test_fit_ends_with_the_ema_weights_as_keras(keras):
    x, y, _ = _data()
    ours, theirs = _twins(keras)
    for model, lib in ((ours, dk), (theirs, keras)):
        model.compile(lib.optimizers.Adam(0.05, use_ema=True, ema_momentum=0.9),
                      "sparse_categorical_crossentropy")  # fmt: skip
        model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    _same_weights(ours, theirs)  # both hold the moving averages now


def test_a_regularizer_given_by_name_matches_keras(keras):
    x, y, _ = _data()
    ours, theirs = _twins(keras, regularizer="l2")
    assert ours.layers[0].get_config()["kernel_regularizer"] == {
        "class_name": "L2",
        "config": {"l2": 0.01},
    }
    for model in (ours, theirs):
        model.compile("sgd", "sparse_categorical_crossentropy")
    h_ours = ours.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    h_theirs = theirs.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    np.testing.assert_allclose(h_ours.history["loss"], h_theirs.history["loss"], **TIGHT)
    _same_weights(ours, theirs)
    with pytest.raises(ValueError, match="Could not interpret regularizer identifier: 'l3'"):
        dk.layers.Dense(3, kernel_regularizer="l3")


def test_a_metric_both_plain_and_weighted_is_logged_twice_as_keras(keras):
    x, y, w = _data()
    ours, theirs = _twins(keras)
    runs = {}
    for name, model in (("ours", ours), ("theirs", theirs)):
        model.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"],
                      weighted_metrics=["accuracy"])  # fmt: skip
        runs[name] = model.fit(x, y, sample_weight=w, batch_size=16, epochs=2, shuffle=False,
                               verbose=0).history  # fmt: skip
    assert sorted(runs["ours"]) == sorted(runs["theirs"])
    assert "weighted_accuracy" in runs["ours"]
    for key in runs["theirs"]:
        np.testing.assert_allclose(runs["ours"][key], runs["theirs"][key], **TIGHT)


def test_load_model_keeps_each_layers_trainable_flag(tmp_path):
    model = dk.Sequential([dk.Input(shape=(6,)), dk.layers.Dense(4), dk.layers.Dense(2)])
    model.trainable = False
    model.layers[1].trainable = True  # fine-tune the head only
    model.save(tmp_path / "m.keras")
    again = dk.models.load_model(tmp_path / "m.keras")
    assert again.trainable is False
    assert [layer.trainable for layer in again.layers] == [False, True]
    assert [v.trainable for v in again.weights] == [v.trainable for v in model.weights]


def test_model_checkpoint_files_load_with_load_model(tmp_path):
    x, y, _ = _data()
    model = dk.Sequential([dk.Input(shape=(6,)), dk.layers.Dense(3, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    path = tmp_path / "best.keras"
    model.fit(x, y, epochs=2, verbose=0, validation_split=0.25,
              callbacks=[dk.callbacks.ModelCheckpoint(str(path), save_best_only=True)])  # fmt: skip
    best = dk.models.load_model(path)  # Keras' usual idiom
    assert best.evaluate(x, y, verbose=0) is not None
    np.testing.assert_array_equal(best.predict(x, verbose=0).shape, (64, 3))
    # and the same file still resumes training
    dl.fit(model, x, y, loss="cross_entropy", optimizer=model.optimizer, epochs=3,
           resume_from=path, verbose=0)  # fmt: skip


def test_a_torch_data_loader_with_a_torch_generator_checkpoints_with_a_warning(tmp_path, torch):
    x, y, _ = _data(16)
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.tensor(x), torch.tensor(y)), batch_size=8,
        shuffle=True, generator=torch.Generator().manual_seed(0),
    )  # fmt: skip
    model = dl.nn.Sequential(dl.nn.Linear(6, 3))
    with pytest.warns(UserWarning, match="whose state is not saved"):
        dl.fit(model, loader, loss="cross_entropy", optimizer="sgd", epochs=2, verbose=0,
               callbacks=[dl.train.callbacks.ModelCheckpoint(str(tmp_path / "c.ckpt"))])  # fmt: skip
    assert (tmp_path / "c.ckpt").exists()


def test_training_call_argument_as_keras(keras):
    x = np.random.default_rng(0).normal(size=(4, 6)).astype(np.float32)

    def layers(lib):
        return [lib.Input(shape=(6,)), lib.layers.Dense(5), lib.layers.BatchNormalization(),
                lib.layers.Dropout(0.5), lib.layers.Dense(3)]  # fmt: skip

    theirs, ours = keras.Sequential(layers(keras)), dk.Sequential(layers(dk))
    ours.set_weights(theirs.get_weights())
    expected = (
        theirs(x, training=False).detach().numpy()
    )  # inference: moving statistics, no dropout
    np.testing.assert_allclose(ours(dl.tensor(x), training=False).numpy(), expected, **TIGHT)
    assert ours.training  # the model's own mode is back
    kept = ours.layers[0](dl.tensor(x), training=False, mask=None)  # mask=None, as Keras passes
    assert kept.shape == (4, 5)
    dl.manual_seed(0)
    dropped = dk.layers.Dropout(0.5)(dl.ones(1000), training=True).numpy()
    assert 0.4 < (dropped == 0).mean() < 0.6
    ours.eval()
    assert (ours(dl.tensor(x), training=True).numpy() != ours(dl.tensor(x)).numpy()).any()
    assert not ours.training and not any(m.training for m in ours.modules())


def test_a_fully_frozen_model_fits_without_updates_as_keras(keras):
    x, y, _ = _data(48)
    ours, theirs = _twins(keras)
    runs = {}
    for name, model in (("ours", ours), ("theirs", theirs)):
        model.trainable = False
        model.compile("adam", "sparse_categorical_crossentropy")
        with pytest.warns(UserWarning, match="does not have any trainable weights"):
            runs[name] = model.fit(x, y, batch_size=16, shuffle=False, verbose=0).history
    np.testing.assert_allclose(runs["ours"]["loss"], runs["theirs"]["loss"], **TIGHT)
    _same_weights(ours, theirs)  # nothing moved
