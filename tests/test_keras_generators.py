"""Generators and PyDatasets in fit / evaluate / predict, and keras.utils (to_categorical,
normalize, set_random_seed), against Keras 3 on the torch backend."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import descentlab as dl
from descentlab import keras as dk
from descentlab.data.batches import BatchLoader
from test_keras_facade_gaps import _data  # 6 features, 3 classes, weights

TIGHT = {"rtol": 1e-5, "atol": 1e-6}  # float32, a few dozen steps


def _twins(keras):
    """The same MLP here and in Keras, with the same weights."""

    def layers(lib):
        return [lib.Input(shape=(6,)), lib.layers.Dense(8, activation="relu"),
                lib.layers.Dense(3, activation="softmax")]  # fmt: skip

    theirs, ours = keras.Sequential(layers(keras)), dk.Sequential(layers(dk))
    rng = np.random.default_rng(0)
    weights = [rng.uniform(-0.6, 0.6, w.shape).astype(np.float32) for w in theirs.get_weights()]
    for model in (theirs, ours):
        model.set_weights(weights)
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return ours, theirs


def _batches(x, y, w=None, size=8):
    """A generator of (x, y[, w]) batches, read once."""
    for i in range(0, len(x), size):
        part = slice(i, i + size)
        yield (x[part], y[part]) if w is None else (x[part], y[part], w[part])


def _same(ours, theirs, h_ours=None, h_theirs=None):
    for a, b in zip(ours.get_weights(), theirs.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, **TIGHT)
    if h_ours is not None:
        assert len(h_ours.history["loss"]) == len(h_theirs.history["loss"])
        for key in h_theirs.history:
            np.testing.assert_allclose(h_ours.history[key], h_theirs.history[key], **TIGHT)


@pytest.mark.parametrize("weighted", [False, True])
def test_fit_on_a_generator_with_steps_per_epoch_matches_keras(keras, weighted):
    x, y, w = _data(48)
    ours, theirs = _twins(keras)
    xv, yv, _ = _data(16, seed=1)
    runs = {}
    for name, model in (("ours", ours), ("theirs", theirs)):
        runs[name] = model.fit(
            _batches(x, y, w if weighted else None), steps_per_epoch=2, epochs=3, verbose=0,
            validation_data=_batches(np.tile(xv, (3, 1)), np.tile(yv, 3)), validation_steps=2,
        )  # fmt: skip
    _same(ours, theirs, runs["ours"], runs["theirs"])
    assert sorted(runs["ours"].history) == sorted(runs["theirs"].history)


def test_a_generator_that_runs_out_stops_training_with_keras_warning(keras):
    x, y, _ = _data(40)  # 5 batches of 8
    ours, theirs = _twins(keras)
    epochs = []
    for model in (ours, theirs):  # Keras' own warning, word for word
        with pytest.warns(UserWarning, match="Your input ran out of data; interrupting training"):
            history = model.fit(_batches(x, y), steps_per_epoch=2, epochs=4, verbose=0)
        epochs.append(len(history.history["loss"]))
    # 2 + 2 + 1 batches, then we stop (Keras 3 on torch records a fourth epoch as well, trained
    # on batches it had peeked at)
    assert epochs == [3, 4]
    # every batch was used once: one epoch over the same arrays gives the same weights
    again, _ = _twins(keras)
    again.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(ours.get_weights(), again.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_generator_without_steps_is_one_epoch():
    x, y, _ = _data(40)
    ours = dk.Sequential([dk.Input(shape=(6,)), dk.layers.Dense(3, activation="softmax")])
    ours.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning: the end of the data is the end of the epoch
        history = ours.fit(_batches(x, y), epochs=1, verbose=0)
    assert len(history.history["loss"]) == 1
    # Keras 3 (torch backend) trains later epochs on the few batches it peeked at; we stop
    with pytest.warns(UserWarning, match="ran out of data"):
        history = ours.fit(_batches(x, y), epochs=3, verbose=0)
    assert len(history.history["loss"]) == 1


def test_fit_on_a_pydataset_matches_keras_and_ends_each_epoch(keras):
    x, y, w = _data(48)

    def dataset(base):
        class Batches(base):
            ends = 0

            def __len__(self):
                return 6

            def __getitem__(self, i):
                part = slice(8 * i, 8 * i + 8)
                return x[part], y[part], w[part]

            def on_epoch_end(self):
                type(self).ends += 1

            def on_epoch_begin(self):  # Keras 3 calls it before each epoch
                type(self).begins += 1

        Batches.begins = 0
        return Batches()

    ours, theirs = _twins(keras)
    mine, keras_data = dataset(dk.utils.PyDataset), dataset(keras.utils.PyDataset)
    h_ours = ours.fit(mine, epochs=3, shuffle=False, verbose=0)
    h_theirs = theirs.fit(keras_data, epochs=3, shuffle=False, verbose=0)
    _same(ours, theirs, h_ours, h_theirs)
    assert type(mine).ends == 3 and type(mine).begins == 3  # Keras 3 calls both each epoch
    np.testing.assert_allclose(ours.evaluate(mine, verbose=0), theirs.evaluate(keras_data,
                               verbose=0), **TIGHT)  # fmt: skip
    # shuffled batch order: drawn from descentlab's generator, so a seed repeats it
    order = []

    class Logged(dk.utils.Sequence):  # Keras 2's name
        def __len__(self):
            return 6

        def __getitem__(self, i):
            order.append(i)
            return x[8 * i : 8 * i + 8], y[8 * i : 8 * i + 8]

    for _ in range(2):
        dk.utils.set_random_seed(3)
        ours.fit(Logged(), epochs=1, steps_per_epoch=4, verbose=0)
    # each fit reads batch 0 once first (to build and check the model), then its 4 batches
    assert order[1:5] == order[6:] and len(set(order[1:5])) == 4 and order[1:5] != [0, 1, 2, 3]


def test_class_weight_with_a_pydataset_of_weighted_batches_is_refused_as_keras(keras):
    x, y, w = _data(16)

    def dataset(base, weighted):
        class Batches(base):
            def __len__(self):
                return 2

            def __getitem__(self, i):
                part = slice(8 * i, 8 * i + 8)
                return (x[part], y[part], w[part]) if weighted else (x[part], y[part])

        return Batches()

    ours, theirs = _twins(keras)
    cw = {"class_weight": {0: 1.0, 1: 2.0}, "epochs": 1, "verbose": 0}
    message = "You cannot specify `class_weight` and `sample_weight` at the same time"
    with pytest.raises(ValueError, match=message):
        theirs.fit(dataset(keras.utils.PyDataset, True), **cw)
    with pytest.raises(ValueError, match=message):
        ours.fit(dataset(dk.utils.PyDataset, True), **cw)
    h_ours = ours.fit(dataset(dk.utils.PyDataset, False), shuffle=False, **cw)  # unweighted: fine
    h_theirs = theirs.fit(dataset(keras.utils.PyDataset, False), shuffle=False, **cw)
    _same(ours, theirs, h_ours, h_theirs)


def test_evaluate_and_predict_read_generators_for_steps_batches(keras):
    x, y, _ = _data(48)
    ours, theirs = _twins(keras)
    for steps in (2, None):
        np.testing.assert_allclose(
            ours.evaluate(_batches(x, y), steps=steps, verbose=0),
            theirs.evaluate(_batches(x, y), steps=steps, verbose=0), **TIGHT,
        )  # fmt: skip
        inputs = ((x[i : i + 8],) for i in range(0, 48, 8))  # Keras wants tuples: (x,)
        expected = theirs.predict(inputs, steps=steps, verbose=0)
        inputs = ((x[i : i + 8],) for i in range(0, 48, 8))
        np.testing.assert_allclose(ours.predict(inputs, steps=steps, verbose=0), expected, **TIGHT)
    bare = (x[i : i + 8] for i in range(0, 16, 8))  # ours also takes bare arrays
    assert ours.predict(bare, verbose=0).shape == (16, 3)


def test_generator_inputs_refuse_what_they_cannot_do():
    x, y, w = _data(48)
    model = dl.nn.Sequential(dl.nn.Linear(6, 3))

    def run(data, **kwargs):
        return dl.fit(model, data, loss="cross_entropy", optimizer="sgd", verbose=0, **kwargs)

    with pytest.raises(ValueError, match="yields the targets itself"):
        run(_batches(x, y), y=y)
    with pytest.raises(ValueError, match="yield \\(x, y, sample_weight\\)"):
        run(_batches(x, y), sample_weight=w)
    with pytest.raises(ValueError, match="validation_split is only supported for arrays"):
        run(_batches(x, y), validation_split=0.2)
    with pytest.raises(ValueError, match="steps_per_epoch applies to a generator"):
        run(x, y=y, steps_per_epoch=2)
    with pytest.raises(ValueError, match="validation_steps applies"):
        run(x, y=y, validation_data=(x, y), validation_steps=2)
    with pytest.raises(ValueError, match="int >= 1"):
        run(_batches(x, y), steps_per_epoch=0)
    with pytest.raises(ValueError, match="resume_from cannot restore"):
        run(_batches(x, y), resume_from="never-written.ckpt")
    with pytest.raises(ValueError, match="had no batch left"):  # validation read dry
        run(_batches(np.tile(x, (3, 1)), np.tile(y, 3)), steps_per_epoch=2, epochs=2,
            validation_data=_batches(x[:8], y[:8]))  # fmt: skip
    with pytest.raises(TypeError, match="number of batches of a generator is not known"):
        len(BatchLoader(_batches(x, y)))
    with pytest.raises(ValueError, match="steps applies to a generator"):
        dl.evaluate(model, x, y, loss="cross_entropy", steps=2)


def test_a_lazy_model_is_built_from_the_first_batch_of_a_generator():
    x, y, _ = _data(48)
    model = dl.nn.Sequential(dl.nn.Linear(None, 3))  # in_features from the first batch
    history = dl.fit(model, _batches(x, y), loss="cross_entropy", optimizer="sgd", verbose=0)
    assert len(history.history["loss"]) == 1 and model[0].weight.shape == (3, 6)


# ---------------------------------------------------------------------- keras.utils
def test_to_categorical_and_normalize_match_keras(keras):
    from keras import utils as ku

    for labels, classes in (([0, 2, 1], None), (np.array([[1], [0]]), 3),
                            (np.array([[1, 2], [0, 1]]), 3), (np.array([1.0, 0.0]), 4)):  # fmt: skip
        expected = ku.to_categorical(labels, classes)
        got = dk.utils.to_categorical(labels, classes)
        assert got.dtype == expected.dtype and got.shape == expected.shape
        np.testing.assert_array_equal(got, expected)
    with pytest.raises(ValueError, match="label 5 is out of range for num_classes=3"):
        dk.utils.to_categorical([1, 5], num_classes=3)
    with pytest.raises(ValueError, match="label -1 is out of range"):
        dk.utils.to_categorical([-1, 1])  # Keras wraps -1 around to the last class
    with pytest.raises(ValueError, match="whole numbers"):
        dk.utils.to_categorical([0.5])
    x = np.array([[3.0, 4.0], [1.0, 0.0], [0.0, 0.0]])
    for kwargs in ({}, {"order": 1}, {"axis": 1}):
        np.testing.assert_allclose(dk.utils.normalize(x, **kwargs), ku.normalize(x, **kwargs))
    # axis=0: Keras 3 divides by the column norms broadcast along the last axis; we normalize
    # each column, as documented
    np.testing.assert_allclose(np.linalg.norm(dk.utils.normalize(x, axis=0), axis=0), [1.0, 1.0])


def test_set_random_seed_repeats_initialization_and_numpy_draws():
    import random

    draws = []
    for _ in range(2):
        dk.utils.set_random_seed(7)
        layer = dk.layers.Dense(4, input_shape=(3,))
        draws.append((layer.kernel.numpy().copy(), np.random.rand(), random.random()))
    np.testing.assert_array_equal(draws[0][0], draws[1][0])
    assert draws[0][1:] == draws[1][1:]
    with pytest.raises(ValueError, match="int seed"):
        dk.utils.set_random_seed("7")


def test_a_collections_sequence_of_samples_is_a_dataset_not_a_pydataset():
    import collections.abc

    x, y, _ = _data(10)

    class Samples(collections.abc.Sequence):  # a dataset of single samples
        def __len__(self):
            return len(x)

        def __getitem__(self, i):
            return x[i], y[i]

    model = dl.nn.Sequential(dl.nn.Linear(6, 3))
    history = dl.fit(model, Samples(), loss="cross_entropy", optimizer="sgd", batch_size=4,
                     epochs=2, verbose=0)  # fmt: skip
    assert history.params["steps"] == 3  # 10 samples in batches of 4, not 10 "batches"
    assert dl.predict(model, Samples()).shape == (10, 3)
