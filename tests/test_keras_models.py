"""The Keras facade (`descentlab.keras`: Sequential, Model, layers, compile/fit/evaluate/predict)
against Keras 3 on the torch backend: same weights in, same training run, same numbers out."""

from __future__ import annotations

import doctest
import importlib

import numpy as np
import pytest

import descentlab as dl
from descentlab import keras as dk

FLOAT32 = {"rtol": 2e-4, "atol": 1e-5}  # float32 runs of 24 steps: rounding adds up


def _data(n=96, features=6, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features)).astype(np.float32)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(np.int64) + (x[:, 2] > 1).astype(np.int64)
    return x, y % classes


def _twins(keras, build):
    """The same architecture in Keras and here, our weights copied from Keras'."""
    theirs = keras.Sequential(build(keras))
    ours = dk.Sequential(build(dk))
    ours.set_weights(theirs.get_weights())
    return ours, theirs


def _mlp(lib, regularizer=None, batchnorm=False):
    layers = [lib.Input(shape=(6,)),
              lib.layers.Dense(16, activation="relu", kernel_regularizer=regularizer)]  # fmt: skip
    if batchnorm:
        layers.append(lib.layers.BatchNormalization())
    layers += [lib.layers.Dense(8, activation="tanh"), lib.layers.Dense(3, activation="softmax")]
    return layers


@pytest.mark.parametrize(
    ("regularized", "batchnorm", "optimizer"),
    [(False, False, "adam"), (True, True, "sgd"), (False, True, "rmsprop")],
)
def test_fit_matches_keras(keras, regularized, batchnorm, optimizer):
    x, y = _data()

    def build(lib):
        reg = lib.regularizers.l2(0.01) if regularized else None
        return _mlp(lib, reg, batchnorm)

    ours, theirs = _twins(keras, build)
    kwargs = {"learning_rate": 0.02, **({"momentum": 0.9} if optimizer == "sgd" else {})}
    opt_cls = {"adam": "Adam", "sgd": "SGD", "rmsprop": "RMSprop"}[optimizer]
    theirs.compile(optimizer=getattr(keras.optimizers, opt_cls)(**kwargs),
                   loss="sparse_categorical_crossentropy", metrics=["accuracy"])  # fmt: skip
    ours.compile(optimizer=getattr(dk.optimizers, opt_cls)(**kwargs),
                 loss="sparse_categorical_crossentropy", metrics=["accuracy"])  # fmt: skip
    fit = {"epochs": 4, "batch_size": 16, "shuffle": False, "validation_split": 0.25, "verbose": 0}
    h_theirs = theirs.fit(x, y, **fit).history
    h_ours = ours.fit(x, y, **fit).history
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        np.testing.assert_allclose(h_ours[key], h_theirs[key], **FLOAT32, err_msg=key)
    for a, b in zip(ours.get_weights(), theirs.get_weights(), strict=True):
        # RMSprop divides by sqrt(v): a weight whose gradients are ~0 amplifies float32 rounding
        np.testing.assert_allclose(a, np.asarray(b), rtol=2e-4, atol=5e-5)
    np.testing.assert_allclose(ours.evaluate(x, y, verbose=0), theirs.evaluate(x, y, verbose=0),
                               **FLOAT32)  # fmt: skip
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), **FLOAT32)


def test_custom_loss_function_gets_keras_argument_order(keras):
    x, _ = _data(n=40)
    target = np.stack([x[:, 0] - x[:, 1], x[:, 2]], axis=1)

    def build(lib):
        return [lib.Input(shape=(6,)), lib.layers.Dense(2)]

    def mean_abs_scaled(y_true, y_pred):  # not symmetric in its arguments: order matters
        return (abs(y_pred - y_true) * (1.0 + y_true**2)).mean(axis=-1)

    def keras_version(y_true, y_pred):
        ops = keras.ops
        return ops.mean(ops.abs(y_pred - y_true) * (1.0 + y_true**2), axis=-1)

    ours, theirs = _twins(keras, build)
    theirs.compile(optimizer=keras.optimizers.SGD(0.1), loss=keras_version)
    ours.compile(optimizer=dk.optimizers.SGD(0.1), loss=mean_abs_scaled)
    h_t = theirs.fit(x, target, epochs=3, batch_size=8, shuffle=False, verbose=0).history
    h_o = ours.fit(x, target, epochs=3, batch_size=8, shuffle=False, verbose=0).history
    np.testing.assert_allclose(h_o["loss"], h_t["loss"], **FLOAT32)


def test_batch_and_layer_normalization_match_keras(keras):
    rng = np.random.default_rng(3)
    x = rng.normal(2.0, 3.0, size=(10, 4, 5)).astype(np.float32)
    for name, kwargs in (("BatchNormalization", {"momentum": 0.9}),
                         ("LayerNormalization", {"epsilon": 1e-2})):  # fmt: skip
        theirs = getattr(keras.layers, name)(**kwargs)
        theirs.build(x.shape)
        ours = getattr(dk.layers, name)(**kwargs)
        ours.build(x.shape)
        weights = [w + rng.normal(size=w.shape).astype(np.float32) * 0.1
                   for w in theirs.get_weights()]  # fmt: skip
        weights = [np.abs(w) if i == 3 else w for i, w in enumerate(weights)]  # a variance
        theirs.set_weights(weights)
        ours.set_weights(weights)
        xt = dl.tensor(x, requires_grad=True)
        out = ours(xt)
        expected = np.asarray(theirs(x, training=True).detach())
        np.testing.assert_allclose(out.numpy(), expected, **FLOAT32, err_msg=name)
        for a, b in zip(ours.get_weights(), theirs.get_weights(), strict=True):
            np.testing.assert_allclose(a, np.asarray(b), **FLOAT32, err_msg=name)
        ours.eval()
        np.testing.assert_allclose(ours(dl.tensor(x)).numpy(),
                                   np.asarray(theirs(x, training=False).detach()), **FLOAT32)  # fmt: skip


def test_layer_input_gradients_pass_gradcheck():
    """float64 input gradients of each layer (weight gradients: the fit parity runs above)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 5))
    for layer in (dk.layers.Dense(3, activation="tanh", dtype=np.float64),
                  dk.layers.BatchNormalization(dtype=np.float64),
                  dk.layers.LayerNormalization(dtype=np.float64)):  # fmt: skip
        layer(dl.tensor(x))  # build
        for p in layer.parameters():
            p.data = rng.normal(size=p.shape)
        weights = dl.tensor(rng.normal(size=layer(dl.tensor(x)).shape))
        assert dl.gradcheck(lambda inp, layer=layer, w=weights: (layer(inp) * w).sum(), x)


def test_keras_activation_defaults():
    dense = dk.layers.Dense(4, activation="softmax")
    out = dense(dl.tensor(np.random.default_rng(0).normal(size=(3, 5)).astype(np.float32)))
    np.testing.assert_allclose(out.numpy().sum(axis=-1), 1.0, rtol=1e-6)  # over the last axis
    assert dk.layers.Activation("leaky_relu").activation.negative_slope == 0.2  # Keras' slope


def test_initializers_follow_keras_variance_scaling():
    dl.manual_seed(0)
    dense = dk.layers.Dense(300, input_dim=200)
    limit = np.sqrt(6 / (200 + 300))
    w = dense.kernel.numpy()
    assert np.abs(w).max() <= limit and np.abs(w).max() > 0.99 * limit
    assert np.all(dense.bias.numpy() == 0)
    he = dk.layers.Dense(400, input_dim=500, kernel_initializer="he_normal").kernel.numpy()
    assert he.std() == pytest.approx(np.sqrt(2 / 500), rel=0.02)  # truncated, rescaled: exact var
    assert np.abs(he).max() <= 2 * np.sqrt(2 / 500) / 0.87962566103423978 + 1e-6
    with pytest.raises(ValueError, match="did you mean 'he_normal'"):
        dk.layers.Dense(3, kernel_initializer="he_norml")


def test_regularizer_penalty_is_in_the_training_loss():
    x, y = _data(n=32)
    model = dk.Sequential([dk.Input(shape=(6,)),
                           dk.layers.Dense(3, kernel_regularizer=dk.regularizers.l2(0.1))])  # fmt: skip
    penalty = 0.1 * float((model.layers[0].kernel.numpy().astype(np.float64) ** 2).sum())
    assert model.regularization_loss().item() == pytest.approx(penalty, rel=1e-6)
    model.compile(
        optimizer=dk.optimizers.SGD(0.0), loss=dl.losses.get("sparse_categorical_crossentropy")
    )
    data_loss = dl.evaluate(model, x, y, loss=dl.nn.CrossEntropyLoss())["loss"]  # logits here
    h = model.fit(x, y, epochs=1, batch_size=32, verbose=0).history
    model2 = dk.Sequential([dk.Input(shape=(6,)), dk.layers.Dense(3)])
    assert model2.regularization_loss() is None
    assert h["loss"][0] > penalty  # the logged loss includes the penalty
    assert model.evaluate(x, y, verbose=0) == pytest.approx(h["loss"][0], rel=1e-5)
    assert data_loss > 0


def test_subclassed_model_and_summary(capsys):
    class TwoLayer(dk.Model):
        def __init__(self):
            super().__init__()
            self.hidden = dk.layers.Dense(8, activation="relu")
            self.out = dk.layers.Dense(2)

        def call(self, x):
            return self.out(self.hidden(x))

    x = np.random.default_rng(0).normal(size=(20, 3)).astype(np.float32)
    model = TwoLayer()
    model.compile(loss="mse")  # Keras' default optimizer: rmsprop
    assert type(model.optimizer).__name__ == "RMSprop"
    model.fit(x, np.zeros((20, 2), np.float32), epochs=1, verbose=0)
    table = model.summary(print_fn=None)
    assert model.name == "two_layer" and model.hidden.name.startswith("dense")
    assert f"{model.hidden.name} (Dense)" in table and "(None, 8)" in table
    assert "Total params: 50 (200.00 B)" in table  # Keras' rows and totals
    assert [w.shape for w in model.get_weights()] == [(3, 8), (8,), (8, 2), (2,)]


def test_clear_errors():
    model = dk.Sequential([dk.layers.Dense(2)])
    with pytest.raises(RuntimeError, match="compile"):
        model.fit(np.zeros((4, 3)), np.zeros((4, 2)))
    with pytest.raises(ValueError, match="input shape"):
        model.summary()
    model.compile(optimizer="adam")
    with pytest.raises(ValueError, match="without a loss"):
        model.fit(np.zeros((4, 3)), np.zeros((4, 2)))
    with pytest.raises(ValueError, match="unknown Keras optimizer 'adamm'; did you mean 'adam'"):
        model.compile(optimizer="adamm", loss="mse")
    built = dk.Sequential([dk.Input(shape=(3,)), dk.layers.Dense(2)])
    with pytest.raises(ValueError, match=r"there are 2 weights, got 1 array\(s\)"):
        built.set_weights([np.zeros((3, 2))])
    with pytest.raises(ValueError, match=r"Dense\(2\) expected input with 3 features"):
        built(dl.tensor(np.zeros((1, 4), np.float32)))
    with pytest.raises(ValueError, match="Input can only come first"):
        built.add(dk.Input(shape=(3,)))
    with pytest.raises(ValueError, match="units"):
        dk.layers.Dense(0)


@pytest.mark.parametrize(
    "name",
    ["descentlab.keras", "descentlab.keras.layers", "descentlab.keras.models",
     "descentlab.keras.losses", "descentlab.keras.regularizers", "descentlab.keras.saving"],
)  # fmt: skip
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, extraglobs={"np": np, "dl": dl},
                             optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)  # fmt: skip
    assert result.attempted > 0 and result.failed == 0


def _cnn(lib):
    return [lib.Input(shape=(8, 8, 1)),
            lib.layers.Conv2D(4, 3, padding="same", activation="relu"),
            lib.layers.MaxPooling2D(),
            lib.layers.Conv2D(6, 3, strides=2, padding="same", activation="tanh"),
            lib.layers.Flatten(),
            lib.layers.Dense(10, activation="softmax")]  # fmt: skip


def test_cnn_fit_matches_keras(keras):
    d = dl.data.load_digits()
    x, y = (d.x[:128] / 16.0).astype(np.float32).reshape(-1, 8, 8, 1), d.y[:128]
    ours, theirs = _twins(keras, _cnn)
    theirs.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    ours.compile(optimizer=dk.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    fit = {"epochs": 3, "batch_size": 32, "shuffle": False, "verbose": 0}
    np.testing.assert_allclose(ours.fit(x, y, **fit).history["loss"],
                               theirs.fit(x, y, **fit).history["loss"], **FLOAT32)  # fmt: skip
    for a, b in zip(ours.get_weights(), theirs.get_weights(), strict=True):
        np.testing.assert_allclose(a, np.asarray(b), **FLOAT32)


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [("Conv2D", {"filters": 3, "kernel_size": (3, 2), "strides": 2, "padding": "same"}),
     ("Conv2D", {"filters": 2, "kernel_size": 3, "dilation_rate": 2}),
     ("MaxPooling2D", {"pool_size": 3, "strides": 2, "padding": "same"}),
     ("AveragePooling2D", {"pool_size": 3, "strides": 2, "padding": "same"}),
     ("AveragePooling2D", {"pool_size": 2}),
     ("GlobalAveragePooling2D", {}), ("GlobalMaxPooling2D", {})],
)  # fmt: skip
def test_conv_and_pooling_layers_match_keras(keras, name, kwargs):
    import torch

    # 7x7 input: 'same' pooling pads evenly. (Where TF pads unevenly, Keras' torch backend pads
    # average pooling by replicating the edge, unlike TF and JAX, which leave the padding out of
    # the mean, as we do.)
    x = np.random.default_rng(5).normal(size=(2, 7, 7, 3)).astype(np.float32)
    theirs = getattr(keras.layers, name)(**kwargs)
    ours = getattr(dk.layers, name)(**kwargs)
    ours(dl.tensor(x))
    theirs.build(x.shape)
    if theirs.get_weights():
        ours.set_weights(theirs.get_weights())
    xt = torch.tensor(x, requires_grad=True)
    out_t = theirs(xt)
    g = np.random.default_rng(6).normal(size=tuple(out_t.shape)).astype(np.float32)
    (out_t * torch.tensor(g)).sum().backward()
    xo = dl.tensor(x, requires_grad=True)
    out_o = ours(xo)
    (out_o * dl.tensor(g)).sum().backward()
    np.testing.assert_allclose(out_o.numpy(), out_t.detach().numpy(), **FLOAT32)
    np.testing.assert_allclose(xo.grad, xt.grad.numpy(), **FLOAT32)


def test_conv_kernel_initializer_uses_keras_fans():
    dl.manual_seed(0)
    conv = dk.layers.Conv2D(64, 5, input_shape=(28, 28, 32))
    limit = np.sqrt(6 / (25 * 32 + 25 * 64))  # receptive field 5x5 times in / out channels
    w = conv.kernel.numpy()
    assert w.shape == (5, 5, 32, 64) and limit * 0.99 < np.abs(w).max() <= limit
    with pytest.raises(ValueError, match="channels-last input"):
        conv(dl.randn(2, 28, 28))
    with pytest.raises(ValueError, match=r"expected input with 32 input channels"):
        conv(dl.randn(1, 28, 28, 3))
    with pytest.raises(ValueError, match="padding"):
        dk.layers.MaxPooling2D(padding="full")


def test_sequential_build_takes_the_batch_axis_as_keras(keras):
    theirs = keras.Sequential([keras.layers.Dense(3), keras.layers.Dense(2)])
    theirs.build((None, 5))
    ours = dk.Sequential([dk.layers.Dense(3), dk.layers.Dense(2)])
    ours.build((None, 5))
    assert [w.shape for w in ours.get_weights()] == [tuple(w.shape) for w in theirs.get_weights()]
    also = dk.Sequential([dk.layers.Dense(3)])
    also.build((7, 5))  # a batch size is allowed and not used
    assert also.layers[0].kernel.shape == (5, 3)
    with pytest.raises(ValueError, match=r"\(batch, \*sample_shape\)"):
        dk.Sequential([dk.layers.Dense(3)]).build((5,))
    with pytest.raises(ValueError, match="e.g. \\(None, 784\\)"):
        dk.Sequential([dk.layers.Dense(3)]).build((None, None))


def test_state_dict_loads_into_an_unbuilt_model():
    built = dk.Sequential(_cnn(dk)[1:])
    built.build((None, 8, 8, 1))
    fresh = dk.Sequential(_cnn(dk)[1:])  # no Input: weights not created yet
    fresh.load_state_dict(built.state_dict())
    x = dl.tensor(np.random.default_rng(0).normal(size=(2, 8, 8, 1)).astype(np.float32))
    np.testing.assert_array_equal(fresh(x).numpy(), built(x).numpy())


def test_save_and_load_weights(tmp_path):
    model = dk.Sequential(_cnn(dk))
    path = model.save_weights(tmp_path / "cnn.weights")
    other = dk.Sequential(_cnn(dk))
    other.load_weights(path)
    for a, b in zip(model.get_weights(), other.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(Exception, match="kernel|shape|missing"):
        dk.Sequential([dk.Input(shape=(3,)), dk.layers.Dense(2)]).load_weights(path)
