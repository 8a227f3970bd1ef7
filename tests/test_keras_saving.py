"""Whole-model saving in the Keras facade: `model.save(path)` / `keras.models.load_model(path)`
give back the same predictions bit for bit and continue training exactly; layer configs use Keras
3's names and values; every way a save or a load can go wrong says what and how to fix it."""

from __future__ import annotations

import numpy as np
import pytest

import descentlab as dl
from descentlab import keras as dk
from descentlab.io import LoadError, save_checkpoint


def _data(n=64, shape=(6,), seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, *shape)).astype(np.float32)
    return x, np.arange(n) % 3


def _mlp():
    return dk.Sequential([
        dk.Input(shape=(6,)),
        dk.layers.Dense(16, activation="relu", kernel_regularizer=dk.regularizers.l2(1e-3),
                        kernel_initializer="he_normal"),
        dk.layers.BatchNormalization(momentum=0.9),
        dk.layers.Dropout(0.25),
        dk.layers.Dense(3, activation="softmax", bias_regularizer=dk.regularizers.l1_l2(1e-4, 1e-3)),
    ], name="mlp")  # fmt: skip


def _cnn():
    return dk.Sequential([
        dk.Input(shape=(8, 8, 1)),
        dk.layers.Conv2D(4, 3, padding="same", activation="relu"),
        dk.layers.MaxPooling2D(),
        dk.layers.Conv2D(6, (2, 2), strides=2, use_bias=False),
        dk.layers.LayerNormalization(),
        dk.layers.Activation("tanh"),
        dk.layers.GlobalAveragePooling2D(),
        dk.layers.Flatten(),
        dk.layers.Dense(3, activation="softmax"),
    ])  # fmt: skip


def _compiled(model):
    model.compile(optimizer=dk.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])  # fmt: skip
    return model


@pytest.mark.parametrize(("build", "shape"), [(_mlp, (6,)), (_cnn, (8, 8, 1))])
def test_round_trip_same_predictions_weights_and_optimizer(tmp_path, build, shape):
    x, y = _data(shape=shape)
    model = _compiled(build())
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)  # moves BN statistics, fills Adam's slots
    model.save(tmp_path / "model.keras")
    again = dk.models.load_model(tmp_path / "model.keras")

    assert type(again) is dk.Sequential and again.name == model.name
    np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))
    for (k, a), (k2, b) in zip(model.state_dict().items(), again.state_dict().items(), strict=True):
        assert k == k2
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert again.get_config() == model.get_config()
    assert dk.saving.get_compile_config(again) == dk.saving.get_compile_config(model)
    assert again.optimizer.iterations == model.optimizer.iterations == 4
    for mine, theirs in zip(model.optimizer.state.values(), again.optimizer.state.values(),
                            strict=True):  # fmt: skip
        for key in mine:
            np.testing.assert_array_equal(mine[key], theirs[key])
    assert again.evaluate(x, y, verbose=0) == model.evaluate(x, y, verbose=0)


def test_load_without_compile_and_keras_saving_entry(tmp_path):
    model = _compiled(_mlp())
    dk.saving.save_model(model, tmp_path / "m")  # any name: the format is always descentlab's
    plain = dk.saving.load_model(tmp_path / "m", compile=False)
    assert plain.optimizer is None
    x, _ = _data()
    np.testing.assert_array_equal(plain.predict(x, verbose=0), model.predict(x, verbose=0))


def test_resume_equals_uninterrupted_training(tmp_path):
    """Adam, BatchNormalization and global-RNG dropout, shuffled batches: 2 epochs, save, load,
    2 more epochs == 4 epochs in one go, bit for bit (load_model leaves the random stream alone)."""
    x, y = _data(n=80)
    fit = {"batch_size": 16, "verbose": 0, "shuffle": True}
    dl.manual_seed(7)
    whole = _compiled(_mlp())
    losses = whole.fit(x, y, epochs=4, **fit).history["loss"]

    dl.manual_seed(7)
    first = _compiled(_mlp())
    first.fit(x, y, epochs=2, **fit)
    first.save(tmp_path / "half.keras")
    resumed = dk.models.load_model(tmp_path / "half.keras")
    later = resumed.fit(x, y, epochs=2, **fit).history["loss"]

    assert later == losses[2:]
    for a, b in zip(whole.get_weights(), resumed.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert resumed.optimizer.iterations == whole.optimizer.iterations == 20


# ------------------------------------------------------------------ configs against Keras 3
LAYER_CASES = [
    ("Dense", {"units": 5, "activation": "relu", "use_bias": False,
               "kernel_regularizer": "l2", "bias_initializer": "ones"}),
    ("Dense", {"units": 3}),
    ("Conv2D", {"filters": 4, "kernel_size": 3, "strides": 2, "padding": "same",
                "activation": "softmax", "kernel_initializer": "he_uniform"}),
    ("MaxPooling2D", {"pool_size": 3, "padding": "same"}),
    ("AveragePooling2D", {"pool_size": (2, 3), "strides": 1}),
    ("GlobalAveragePooling2D", {}),
    ("GlobalMaxPooling2D", {}),
    ("Dropout", {"rate": 0.3, "seed": 5}),
    ("Flatten", {}),
    ("Activation", {"activation": "sigmoid"}),
    ("BatchNormalization", {"momentum": 0.9, "epsilon": 1e-5, "center": False}),
    ("LayerNormalization", {"epsilon": 1e-6, "scale": False}),
]  # fmt: skip
# Keys that must be there and equal; dtype, initializers and regularizers are compared below.
REQUIRED = {"name", "trainable", "units", "filters", "kernel_size", "strides", "padding",
            "activation", "use_bias", "rate", "pool_size", "momentum", "epsilon", "axis"}  # fmt: skip


@pytest.mark.parametrize(("cls", "kwargs"), LAYER_CASES)
def test_layer_config_matches_keras(keras, cls, kwargs):
    def make(lib):
        args = dict(kwargs)
        if args.get("kernel_regularizer") == "l2":
            args["kernel_regularizer"] = lib.regularizers.l2(0.02)
        return getattr(lib.layers, cls)(**args, name="probe", trainable=False)

    ours, theirs = make(dk).get_config(), make(keras).get_config()
    shared = set(ours) & set(theirs)
    assert {k for k in REQUIRED if k in theirs} <= shared
    special = {"dtype", "kernel_initializer", "bias_initializer",
               "kernel_regularizer", "bias_regularizer"}  # fmt: skip
    assert {k: ours[k] for k in shared - special} == {k: theirs[k] for k in shared - special}
    for key in shared & {"kernel_initializer", "bias_initializer"}:  # our names, Keras' classes
        assert type(keras.initializers.get(ours[key])).__name__ == theirs[key]["class_name"]
    for key in shared & {"kernel_regularizer", "bias_regularizer"}:
        if theirs[key] is None:
            assert ours[key] is None
        else:
            assert ours[key]["class_name"] == theirs[key]["class_name"]
            assert ours[key]["config"] == pytest.approx(theirs[key]["config"])
    if "dtype" in ours:
        assert ours["dtype"] == theirs["dtype"]["config"]["name"]
    rebuilt = dk.layers.deserialize(dk.layers.serialize(make(dk)))
    assert rebuilt.get_config() == ours and rebuilt.trainable is False


def test_frozen_layer_and_regularizer_survive(tmp_path):
    model = dk.Sequential([dk.Input(shape=(4,)),
                           dk.layers.Dense(3, trainable=False,
                                           kernel_regularizer=dk.regularizers.l1(0.5))])  # fmt: skip
    model.save(tmp_path / "f.keras")
    again = dk.models.load_model(tmp_path / "f.keras")
    layer = again.layers[0]
    assert not layer.trainable and not layer.kernel.requires_grad
    assert float(again.regularization_loss().data) == float(model.regularization_loss().data)


def test_loss_object_and_legacy_decay_are_saved(tmp_path):
    model = dk.Sequential([dk.Input(shape=(6,)), dk.layers.Dense(3)])
    model.compile(optimizer=dk.optimizers.SGD(lr=0.1, momentum=0.9, decay=1e-3),
                  loss=dk.losses.SparseCategoricalCrossentropy(from_logits=True))  # fmt: skip
    x, y = _data()
    model.fit(x, y, epochs=1, batch_size=32, verbose=0)
    model.save(tmp_path / "d.keras")
    again = dk.models.load_model(tmp_path / "d.keras")
    assert again.optimizer.get_config()["decay"] == 1e-3
    assert again.optimizer.learning_rate == model.optimizer.learning_rate
    assert again._compiled["loss"].from_logits is True
    assert again.evaluate(x, y, verbose=0) == model.evaluate(x, y, verbose=0)


# ------------------------------------------------------------------ errors
def test_subclassed_model_cannot_be_saved(tmp_path):
    class Net(dk.Model):
        def __init__(self):
            super().__init__()
            self.out = dk.layers.Dense(2)

        def call(self, x):
            return self.out(x)

    net = Net()
    net(dl.randn(2, 3))
    with pytest.raises(NotImplementedError, match=r"Net is a subclassed Model.*save_weights"):
        net.save(tmp_path / "net.keras")
    assert not (tmp_path / "net.keras").exists()


@pytest.mark.parametrize(
    ("layer", "match"),
    [(dk.layers.Dense(2, activation=lambda t: t * 2, name="twice"),
      r"Dense 'twice': the activation .* cannot be saved; pass it by its Keras name.*save_weights"),
     (dk.layers.Dense(2, kernel_initializer=dl.nn.init.kaiming_uniform_, name="k"),
      r"Dense 'k' kernel_initializer: .* Python function.*Keras name"),
     (dk.layers.Dense(2, kernel_regularizer=lambda w: (w * w).sum(), name="r"),
      r"Dense 'r': .* not keras.regularizers.L1/L2/L1L2"),
     (dl.nn.Linear(4, 2), r"Linear is not one of the keras.layers classes.*save_weights")],
)  # fmt: skip
def test_unsaveable_layers_fail_before_writing(tmp_path, layer, match):
    model = dk.Sequential([dk.Input(shape=(4,)), layer])
    with pytest.raises(ValueError, match=match):
        model.save(tmp_path / "x.keras")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("compile_kwargs", "match"),
    [({"loss": lambda y_true, y_pred: (y_pred - y_true) ** 2}, r"the loss .* cannot be saved"),
     ({"loss": "mse", "metrics": [lambda p, t: p]}, r"the metrics .* compile with metric names"),
     ({"optimizer": dk.optimizers.Adam(lambda step: 0.01), "loss": "mse"},
      r"Adam: the learning rate is a Python function"),
     ({"optimizer": dl.optim.SGD, "loss": "mse"}, r"optimizer SGD cannot be saved")],
)  # fmt: skip
def test_unsaveable_compile_settings(tmp_path, compile_kwargs, match):
    model = dk.Sequential([dk.Input(shape=(4,)), dk.layers.Dense(2)])
    kwargs = dict(compile_kwargs)
    if kwargs.get("optimizer") is dl.optim.SGD:
        kwargs["optimizer"] = dl.optim.SGD(model.parameters(), lr=0.1)
    model.compile(**kwargs)
    with pytest.raises(ValueError, match=match):
        model.save(tmp_path / "x.keras")
    assert list(tmp_path.iterdir()) == []


def test_overwrite_false_keeps_the_existing_file(tmp_path):
    path = tmp_path / "m.keras"
    path.write_bytes(b"old")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        _mlp().save(path, overwrite=False)
    assert path.read_bytes() == b"old"
    _mlp().save(path)  # overwrite=True is the default, as Keras
    assert dk.models.load_model(path).name == "mlp"


def test_load_errors_say_what_the_file_is(tmp_path):
    model = _compiled(_mlp())
    with pytest.raises(FileNotFoundError, match="no such file"):
        dk.models.load_model(tmp_path / "missing.keras")

    model.save_weights(tmp_path / "w.safetensors")
    with pytest.raises(LoadError, match=r"weights only .* model.load_weights\(path\)"):
        dk.models.load_model(tmp_path / "w.safetensors")

    save_checkpoint(tmp_path / "ckpt", model, epoch=1)
    with pytest.raises(LoadError, match="training checkpoint.*load_checkpoint"):
        dk.models.load_model(tmp_path / "ckpt")

    model.save(tmp_path / "m.keras")
    data = (tmp_path / "m.keras").read_bytes()
    (tmp_path / "cut.keras").write_bytes(data[: len(data) // 2])
    with pytest.raises(LoadError, match="truncated"):
        dk.models.load_model(tmp_path / "cut.keras")
    (tmp_path / "junk.keras").write_bytes(b"PK\x03\x04 this is a Keras zip, not ours" * 4)
    with pytest.raises(LoadError, match="not a readable safetensors file"):
        dk.models.load_model(tmp_path / "junk.keras")


def test_unknown_layer_class_in_file(tmp_path):
    model = _mlp()
    config = model.get_config()
    config["layers"][0]["class_name"] = "Conv3D"
    record = {"format": "descentlab.keras", "version": 1, "class_name": "Sequential",
              "config": config, "compile_config": None}  # fmt: skip
    save_checkpoint(tmp_path / "odd.keras", model, extra={"keras_model": record})
    with pytest.raises(ValueError, match=r"unknown layer class 'Conv3D'.*known: Dense"):
        dk.models.load_model(tmp_path / "odd.keras")
