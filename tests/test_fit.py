"""fit / evaluate / predict: accuracy on digits, iterations per epoch, weights, modes, errors."""

from __future__ import annotations

import io

import numpy as np
import pytest

import descentlab as dl
from descentlab import nn
from descentlab.train import EarlyStopping, LambdaCallback, TerminateOnNaN, evaluate, fit, predict


def mlp(seed: int = 0, sizes=(4, 8, 3)) -> nn.Module:
    dl.manual_seed(seed)
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers[:-1])


def toy(n: int = 60, d: int = 4, classes: int = 3, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d)).astype(np.float32)
    y = rng.integers(0, classes, n)
    return x, y


def sgd(model, lr=0.1):
    return dl.optim.get("sgd", model.parameters(), lr=lr)


def snapshot(model):
    return {k: v.copy() for k, v in model.state_dict().items()}


# ---------------------------------------------------------------- the headline behaviour
@pytest.mark.slow
def test_mlp_on_digits_reaches_97_percent_held_out():
    d = dl.data.load_digits()
    x_tr, x_te, y_tr, y_te = dl.data.train_test_split(d.x, d.y, test_size=0.2, stratify=d.y, seed=0)
    scaler = dl.data.StandardScaler().fit(x_tr)  # fitted on training data only
    x_tr, x_te = scaler.transform(x_tr), scaler.transform(x_te)
    model = mlp(0, (64, 256, 128, 10))
    adam = dl.optim.get("adam", model.parameters(), lr=1e-3)
    # Small GEMMs: with a busy CPU, OpenBLAS threads spin and this 1 s run can take 40 s.
    threadpoolctl = pytest.importorskip("threadpoolctl")
    with threadpoolctl.threadpool_limits(1):
        history = fit(model, x_tr, y_tr, loss="cross_entropy", optimizer=adam, batch_size=32,
                      epochs=20, metrics=["accuracy"], verbose=0, seed=0)  # fmt: skip
    acc = (predict(model, x_te).argmax(axis=1) == y_te).mean()
    assert acc >= 0.97, f"held-out accuracy {acc:.4f}"
    scores = evaluate(model, x_te, y_te, loss="cross_entropy", metrics=["accuracy"])
    assert scores["accuracy"] == pytest.approx(acc)
    assert history.history["accuracy"][-1] > 0.99
    assert history.history["loss"][-1] < history.history["loss"][0] / 10


# ---------------------------------------------------------------- iterations per epoch
@pytest.mark.parametrize(
    "batch_size,steps,regime",
    [
        (50, 1, "batch"),
        (1, 50, "stochastic"),
        (32, 2, "mini-batch"),
        (1000, 1, "batch"),
    ],  # fmt: skip
)
def test_batch_size_gives_documented_iterations_and_updates(batch_size, steps, regime):
    x, y = toy(50)
    model = mlp()
    opt = sgd(model, lr=0.01)
    step = opt.step
    counts = {"updates": 0, "sizes": []}

    def counting_step(*args, **kwargs):
        counts["updates"] += 1
        return step(*args, **kwargs)

    opt.step = counting_step
    record = LambdaCallback(
        on_train_batch_begin=lambda b, logs: counts["sizes"].append(logs["size"])
    )
    history = fit(model, x, y, loss="cross_entropy", optimizer=opt, batch_size=batch_size,
                  epochs=3, callbacks=[record], verbose=0)  # fmt: skip
    assert history.params["steps"] == steps and history.params["regime"] == regime
    assert counts["updates"] == 3 * steps
    per_epoch = counts["sizes"][:steps]
    assert sum(per_epoch) == 50 and max(per_epoch) == min(batch_size, 50)


def test_progress_line_states_regime_and_iterations(capsys):
    x, y = toy(50)
    model = mlp()
    fit(model, x, y, loss="cross_entropy", optimizer=sgd(model), batch_size=32, epochs=2,
        metrics=["accuracy"], validation_split=0.2, verbose=1)  # fmt: skip
    out = capsys.readouterr().out.splitlines()
    assert out[0] == ("Training on 40 samples, validating on 10: mini-batch gradient descent, "
                      "batch_size=32 -> 2 iterations per epoch, 2 epochs = 4 updates")  # fmt: skip
    assert out[1].startswith("Epoch 1/2 - 2/2 it - ") and "accuracy: " in out[1]
    assert "val_loss: " in out[2] and len(out) == 3
    fit(model, x, y, loss="cross_entropy", optimizer=sgd(model), epochs=1, verbose=0)
    assert capsys.readouterr().out == ""


# ---------------------------------------------------------------- weights
def _hand_weighted_loss_and_grad(model, x, y, w):
    """float64 cross-entropy of a single Linear layer, weighted as sum(w_i l_i) / n."""
    W = model[0].weight.data.astype(np.float64)
    b = model[0].bias.data.astype(np.float64)
    z = x.astype(np.float64) @ W.T + b
    z -= z.max(axis=1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    n = len(x)
    l = -np.log(p[np.arange(n), y])
    dz = p.copy()
    dz[np.arange(n), y] -= 1
    dz *= (w / n)[:, None]
    return (w * l).sum() / n, dz.T @ x, dz.sum(axis=0)


@pytest.mark.parametrize("batch_size", [8, 3])
def test_class_and_sample_weights_change_the_loss_exactly_as_by_hand(batch_size):
    x, y = toy(8, d=4, classes=3, seed=3)
    sw = np.array([1.0, 0.5, 2.0, 0.0, 1.0, 3.0, 1.0, 0.25])
    cw = {0: 2.0, 1: 0.5}  # class 2 keeps weight 1 (Keras)
    model = mlp(1, (4, 3))
    start = snapshot(model)
    seen = []
    capture = LambdaCallback(
        on_after_backward=lambda b, logs: seen.append(
            (model[0].weight.grad.copy(), model[0].bias.grad.copy())
        ),
        on_train_batch_end=lambda b, logs: seen.append(logs["batch_loss"]),
    )
    fit(model, x, y, loss="cross_entropy", optimizer=sgd(model, lr=0.5), batch_size=batch_size,
        epochs=1, shuffle=False, class_weight=cw, sample_weight=sw, callbacks=[capture],
        verbose=0)  # fmt: skip
    # replay by hand, batch by batch, applying the same SGD updates
    model.load_state_dict(start)
    w_all = np.array([cw.get(int(c), 1.0) for c in y]) * sw
    for k, i in enumerate(range(0, len(x), batch_size)):
        sl = slice(i, i + batch_size)
        loss, gW, gb = _hand_weighted_loss_and_grad(model, x[sl], y[sl], w_all[sl])
        got_grads, got_loss = seen[2 * k], seen[2 * k + 1]
        assert got_loss == pytest.approx(loss, rel=1e-5)
        np.testing.assert_allclose(got_grads[0], gW, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(got_grads[1], gb, rtol=1e-5, atol=1e-7)
        model[0].weight.data[...] -= (0.5 * gW).astype(np.float32)
        model[0].bias.data[...] -= (0.5 * gb).astype(np.float32)
    # the unweighted loss is the plain mean, and differs from the weighted one
    unweighted = _hand_weighted_loss_and_grad(mlp(1, (4, 3)), x, y, np.ones(8))[0]
    assert unweighted != pytest.approx(_hand_weighted_loss_and_grad(mlp(1, (4, 3)), x, y, w_all)[0])


def test_evaluate_weighted_loss_and_predict():
    x, y = toy(10, seed=5)
    model = mlp(2)
    with dl.no_grad():
        logits = model(dl.tensor(x)).numpy().astype(np.float64)
    z = logits - logits.max(axis=1, keepdims=True)
    per = np.log(np.exp(z).sum(axis=1)) - z[np.arange(10), y]
    out = evaluate(model, x, y, loss="cross_entropy", batch_size=3, metrics=["accuracy"])
    assert out["loss"] == pytest.approx(per.mean(), rel=1e-6)
    assert out["accuracy"] == pytest.approx((logits.argmax(1) == y).mean())
    w = np.linspace(0, 2, 10)
    weighted = evaluate(model, x, y, loss="cross_entropy", batch_size=4, sample_weight=w)
    assert weighted["loss"] == pytest.approx((per * w).sum() / 10, rel=1e-6)
    np.testing.assert_array_equal(predict(model, x, batch_size=4), logits.astype(np.float32))


# ---------------------------------------------------------------- modes and graphs
class Spy(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)
        self.calls: list[tuple[bool, bool]] = []

    def forward(self, x):
        self.calls.append((self.training, dl.is_grad_enabled()))
        return self.fc(x)


def test_train_mode_for_fitting_eval_and_no_graph_for_validation_and_predict():
    x, y = toy(20)
    model = Spy()
    model.eval()  # the caller's mode is restored afterwards
    fit(model, x, y, loss="cross_entropy", optimizer=sgd(model), batch_size=10, epochs=1,
        validation_data=(x[:5], y[:5]), verbose=0)  # fmt: skip
    assert model.training is False
    # one probe pass (eval, no grad; builds lazy layers, checks labels), 2 training batches,
    # 1 validation batch
    assert model.calls == [(False, False)] + [(True, True)] * 2 + [(False, False)]
    model.calls.clear()
    model.train()
    predict(model, x)
    evaluate(model, x, y, loss="cross_entropy")
    # predict; evaluate (label-check probe, then the evaluation pass)
    assert model.calls == [(False, False)] * 3 and model.training is True


def test_validation_split_takes_the_last_fraction():
    x, y = toy(10)
    x[:, 0] = np.arange(10)
    model = Spy()
    seen = []
    original = model.forward

    def forward(inp):
        if not model.training:
            seen.append(inp.data[:, 0].copy())
        return original(inp)

    model.__dict__["forward"] = forward
    fit(model, x, y, loss="cross_entropy", optimizer=sgd(model), epochs=1, validation_split=0.3,
        verbose=0)  # fmt: skip
    np.testing.assert_array_equal(seen[-1], [7, 8, 9])


# ---------------------------------------------------------------- reproducibility, callbacks
def test_same_seed_twice_gives_identical_history_and_weights():
    x, y = toy(80)

    def run():
        dl.manual_seed(0)
        model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 3))
        h = fit(model, x, y, loss="cross_entropy", optimizer="adam", batch_size=16, epochs=4,
                validation_split=0.25, metrics=["accuracy"], verbose=0, seed=42)  # fmt: skip
        return h, snapshot(model)

    (h1, w1), (h2, w2) = run(), run()
    assert h1.history == h2.history and h1.epoch == h2.epoch
    for k in w1:
        np.testing.assert_array_equal(w1[k], w2[k])
    dl.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 3))
    h3 = fit(model, x, y, loss="cross_entropy", optimizer="adam", batch_size=16, epochs=4,
             validation_split=0.25, metrics=["accuracy"], verbose=0, seed=43)  # fmt: skip
    assert h3.history["loss"] != h1.history["loss"]


def test_early_stopping_restores_best_epoch_weights_exactly():
    x, y = toy(40)
    model = mlp(3)
    scores = [3.0, 2.0, 1.0, 1.5, 2.5, 0.5, 0.1]  # best at epoch 2, patience 2 -> stop at epoch 4
    per_epoch = []

    def inject(epoch, logs):
        logs["score"] = scores[epoch]
        per_epoch.append(snapshot(model))

    stop = EarlyStopping(monitor="score", mode="min", patience=2, restore_best_weights=True)
    history = fit(model, x, y, loss="cross_entropy", optimizer=sgd(model, lr=0.5), epochs=7,
                  batch_size=8, callbacks=[LambdaCallback(on_epoch_end=inject), stop],
                  verbose=0)  # fmt: skip
    assert history.epoch == [0, 1, 2, 3, 4] and stop.stopped_epoch == 4 and stop.best_epoch == 2
    assert history.history["score"] == scores[:5]
    assert not np.array_equal(per_epoch[4]["0.weight"], per_epoch[2]["0.weight"])
    for k, v in per_epoch[2].items():
        np.testing.assert_array_equal(model.state_dict()[k], v)


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning", "ignore:invalid value:RuntimeWarning")
def test_terminate_on_nan_stops_training(capsys):
    x, y = toy(40)
    x *= 1e4
    model = mlp(0)
    history = fit(model, x, y, loss="cross_entropy", optimizer=sgd(model, lr=1e6), batch_size=4,
                  epochs=5, callbacks=[TerminateOnNaN()], verbose=0)  # fmt: skip
    assert len(history.epoch) == 1 and not np.isfinite(history.history["loss"][0])
    assert "TerminateOnNaN" in capsys.readouterr().out


def test_dataset_and_dataloader_inputs():
    x, y = toy(30)
    ds = dl.data.TensorDataset(x, y)
    model = mlp()
    h = fit(model, ds, loss="cross_entropy", optimizer=sgd(model), batch_size=10, epochs=2,
            validation_split=0.2, verbose=0)  # fmt: skip
    assert h.params["steps"] == 3 and h.params["val_samples"] == 6
    loader = dl.data.DataLoader(ds, batch_size=7, shuffle=True)
    h = fit(model, loader, loss="cross_entropy", optimizer=sgd(model), epochs=1,
            validation_data=dl.data.DataLoader(ds, batch_size=30), verbose=0)  # fmt: skip
    assert h.params["steps"] == 5 and "val_loss" in h.history


def test_lazy_layers_are_built_before_the_optimizer_collects_parameters():
    x, y = toy(30, d=5)
    dl.manual_seed(0)
    model = nn.Sequential(nn.Linear(None, 8), nn.ReLU(), nn.Linear(8, 3))
    loader = dl.data.DataLoader(dl.data.TensorDataset(x, y), batch_size=10)
    history = fit(model, loader, loss="cross_entropy", optimizer="sgd", epochs=2, verbose=0)
    assert model[0].weight.shape == (8, 5) and len(history.epoch) == 2
    dl.manual_seed(0)
    untrained = nn.Sequential(nn.Linear(None, 8), nn.ReLU(), nn.Linear(8, 3))
    untrained(dl.tensor(x[:2]))  # builds with the same random draws as inside fit
    assert untrained[0].weight.shape == (8, 5)
    assert not np.array_equal(model[0].weight.data, untrained[0].weight.data)  # it was trained


def test_plain_callable_loss_and_lr_in_history():
    x = np.random.default_rng(0).standard_normal((20, 4)).astype(np.float32)
    y = x @ np.ones((4, 1), np.float32)
    model = mlp(0, (4, 1))
    h = fit(model, x, y, loss=lambda p, t: ((p - t) ** 2).mean(), optimizer=sgd(model, 0.05),
            batch_size=5, epochs=3, verbose=0)  # fmt: skip
    assert h.history["lr"] == [0.05] * 3 and h.history["loss"][-1] < h.history["loss"][0]


# ---------------------------------------------------------------- clear errors
def _fit(model, x, y, **kw):
    kw.setdefault("loss", "cross_entropy")
    kw.setdefault("optimizer", "sgd")
    kw.setdefault("verbose", 0)
    return fit(model, x, y, **kw)


def test_error_x_and_y_lengths_differ():
    x, y = toy(10)
    with pytest.raises(ValueError, match="different numbers of samples: 10 and 9"):
        _fit(mlp(), x, y[:9])


def test_error_labels_outside_model_outputs():
    x, y = toy(10)
    y[3] = 5
    model = mlp()
    before = snapshot(model)
    with pytest.raises(
        ValueError, match="labels range from 0 to 5, but the model outputs 3 values"
    ):
        _fit(model, x, y)
    y[3] = -1
    with pytest.raises(ValueError, match="labels range from -1"):
        _fit(model, x, y)
    with pytest.raises(ValueError, match="validation y: labels"):
        _fit(model, x[:5], np.zeros(5, int), validation_data=(x, y))
    for k, v in before.items():
        np.testing.assert_array_equal(model.state_dict()[k], v)


def test_error_nan_in_inputs_before_training_starts():
    x, y = toy(10)
    x[4, 2] = np.nan
    called = []
    model = mlp()
    with pytest.raises(ValueError, match=r"x contains NaN in 1 sample\(s\) \(first rows: \[4\]\)"):
        _fit(model, x, y, callbacks=[LambdaCallback(on_train_begin=lambda logs: called.append(1))])
    assert called == []
    x, y = toy(10)
    with pytest.raises(ValueError, match="validation x contains"):
        _fit(model, x, y, validation_data=(np.full((2, 4), np.inf, np.float32), y[:2]))


@pytest.mark.parametrize("split", [1.0, 1.5, -0.1])
def test_error_validation_split_outside_unit_interval(split):
    x, y = toy(10)
    with pytest.raises(ValueError, match=r"validation_split must be in \(0, 1\)"):
        _fit(mlp(), x, y, validation_split=split)


def test_error_validation_split_leaving_no_samples():
    x, y = toy(3)
    with pytest.raises(ValueError, match="leaves 0 for training|both need at least one"):
        _fit(mlp(), x, y, validation_split=0.9)


def test_error_unknown_names_suggest_close_matches():
    x, y = toy(10)
    with pytest.raises(Exception, match="cross_entropy"):
        _fit(mlp(), x, y, loss="cross_entropi")
    with pytest.raises(Exception, match="'adam'"):
        _fit(mlp(), x, y, optimizer="adamm")
    with pytest.raises(Exception, match="'accuracy'"):
        _fit(mlp(), x, y, metrics=["acuracy"])


def test_error_bad_arguments():
    x, y = toy(10)
    with pytest.raises(TypeError, match="model must be"):
        fit(object(), x, y, loss="mse", optimizer="sgd")
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        _fit(mlp(), x, y, batch_size=0)
    with pytest.raises(ValueError, match="y is required"):
        _fit(mlp(), x, None)
    with pytest.raises(ValueError, match="one weight per sample"):
        _fit(mlp(), x, y, sample_weight=np.ones(3))
    with pytest.raises(ValueError, match="validation_split cannot split a DataLoader"):
        loader = dl.data.DataLoader(dl.data.TensorDataset(x, y), batch_size=4)
        fit(mlp(), loader, loss="cross_entropy", optimizer="sgd", validation_split=0.2)
    with pytest.raises(KeyError, match="val_loss"):
        _fit(mlp(), x, y, callbacks=[EarlyStopping()])
    with pytest.raises(ValueError, match="verbose"):
        _fit(mlp(), x, y, verbose=3)


def test_top_level_lazy_names():
    assert dl.fit is fit and dl.evaluate is evaluate and dl.predict is predict


def test_verbose_writes_to_captured_stream():
    x, y = toy(20)
    import contextlib

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        _fit(mlp(), x, y, verbose=2, epochs=1, batch_size=1)
    assert "stochastic gradient descent, batch_size=1 -> 20 iterations per epoch" in buf.getvalue()


def test_training_stack_imports_no_optional_heavyweights():
    """`descentlab.fit` and `descentlab.io` load rich, matplotlib, safetensors only when used."""
    import subprocess
    import sys

    code = (
        "import sys, descentlab as dl; dl.fit; dl.save; "
        "heavy = {'rich', 'matplotlib', 'safetensors', 'torch', 'sklearn', 'pandas', 'keras'}; "
        "print(sorted(heavy & {m.split('.')[0] for m in sys.modules}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# ---------------------------------------------------------------- metrics: arrays and functions
def test_array_metrics_stay_out_of_the_logs_and_are_kept_per_epoch(tmp_path, capsys):
    """A confusion matrix is not a number: fit keeps it in History.arrays, not in the logs."""
    x, y = toy(40)
    x_val, y_val = toy(15, seed=1)
    model = mlp()
    csv = tmp_path / "log.csv"
    h = fit(model, x, y, loss="cross_entropy", optimizer=sgd(model), batch_size=8, epochs=2,
            metrics=["accuracy", "confusion_matrix"], validation_data=(x_val, y_val),
            callbacks=[dl.train.CSVLogger(csv)], verbose=2)  # fmt: skip
    assert list(h.history) == ["loss", "accuracy", "val_loss", "val_accuracy", "lr"]
    assert list(h.arrays) == ["confusion_matrix", "val_confusion_matrix"]
    assert [a.shape for a in h.arrays["confusion_matrix"]] == [(3, 3), (3, 3)]
    assert all(a.sum() == 40 for a in h.arrays["confusion_matrix"])
    scores = evaluate(model, x_val, y_val, metrics=["confusion_matrix", "accuracy"])
    np.testing.assert_array_equal(h.arrays["val_confusion_matrix"][-1], scores["confusion_matrix"])
    cm = scores["confusion_matrix"]
    assert np.trace(cm) / cm.sum() == pytest.approx(scores["accuracy"])
    assert "confusion_matrix" not in csv.read_text() and "confusion" not in capsys.readouterr().out
    restored = dl.train.History()
    restored.load_state_dict(json_roundtrip(h.state_dict()))
    np.testing.assert_array_equal(restored.arrays["val_confusion_matrix"][1], cm)


def json_roundtrip(obj):
    import json

    return json.loads(json.dumps(obj))


def test_plain_function_metrics_are_batch_size_weighted_means():
    """Keras accepts metric functions: fn(y_pred, y_true) -> a batch value, averaged over
    batches weighted by their size; convention="keras" marks fn(y_true, y_pred)."""
    x, y = toy(10)
    x_val, y_val = toy(7, seed=1)

    def hits(y_pred, y_true):  # one float per batch
        return float((y_pred.argmax(axis=1) == y_true).mean())

    def true_mean(y_true, y_pred):  # Keras' signature; asymmetric: tells the order apart
        assert y_pred.ndim == 2 and y_true.ndim == 1
        return float(np.mean(y_true))

    def marked(t, p):  # Keras' order by declaration
        assert p.ndim == 2 and t.ndim == 1
        return float(np.mean(t))

    marked.convention = "keras"
    model = mlp()
    h = fit(model, x, y, loss="cross_entropy", optimizer=sgd(model), batch_size=4, epochs=1,
            metrics=[hits, true_mean, marked], validation_data=(x_val, y_val), verbose=0)  # fmt: skip
    assert {"hits", "true_mean", "val_hits", "val_true_mean", "val_marked"} <= set(h.history)
    assert h.history["val_marked"] == h.history["val_true_mean"]
    # validation batches of 4 and 3: the batch means weighted by batch size = the overall mean
    p = predict(model, x_val, batch_size=4)
    per_batch = [hits(p[:4], y_val[:4]), hits(p[4:], y_val[4:])]
    expected = (4 * per_batch[0] + 3 * per_batch[1]) / 7
    assert h.history["val_hits"][0] == pytest.approx(expected, rel=1e-12)
    assert h.history["val_true_mean"][0] == pytest.approx(y_val.mean(), rel=1e-12)
    assert h.history["true_mean"][0] == pytest.approx(y.mean(), rel=1e-12)
    scores = evaluate(model, x_val, y_val, metrics=[hits], batch_size=4)
    assert scores["hits"] == pytest.approx(expected, rel=1e-12)
    with pytest.raises(TypeError, match="metric name"):
        _fit(mlp(), x, y, metrics=[3])
    with pytest.raises(ValueError, match="appear more than once; give each metric its own name"):
        _fit(mlp(), x, y, metrics=[lambda p, t: 0.0, lambda p, t: 1.0])


# ---------------------------------------------------------------- optimizer by name
class _Grab(dl.train.Callback):
    def on_train_begin(self, logs=None):
        self.optimizer = self.trainer.optimizer


@pytest.mark.parametrize(
    ("name", "cls", "lr", "extra"),
    [
        ("adam", "Adam", 1e-3, {}),  # PyTorch's and Keras' Adam default, not the lab's 1e-2
        ("sgd", "SGD", 1e-3, {}),
        ("momentum", "SGD", 1e-3, {"momentum": 0.9}),  # the entry's other defaults are kept
        ("nesterov", "SGD", 1e-3, {"momentum": 0.9, "nesterov": True}),
        ("rmsprop", "RMSprop", 1e-2, {"alpha": 0.99}),
        ("adagrad", "Adagrad", 1e-2, {}),
        ("amsgrad", "Adam", 1e-3, {"amsgrad": True}),
        ("adamw", "AdamW", 1e-3, {"weight_decay": 1e-2}),
        ("keras.adam", "Adam", 1e-3, {"epsilon": 1e-7}),
        ("keras.sgd", "SGD", 1e-2, {}),
    ],
)
def test_optimizer_by_name_uses_the_class_default_lr(name, cls, lr, extra):
    x, y = toy(16)
    grab = _Grab()
    h = _fit(mlp(), x, y, optimizer=name, callbacks=[grab])
    opt = grab.optimizer
    assert type(opt).__name__ == cls
    assert opt.param_groups[0]["lr"] == lr and h.history["lr"] == [lr]
    for key, value in extra.items():
        assert opt.param_groups[0][key] == value, key
    assert dl.optim.registry.spec(name).constructor.__module__.startswith(
        "descentlab.keras" if name.startswith("keras.") else "descentlab.optim"
    )


def test_lbfgs_by_name_gets_a_closure_like_a_pytorch_loop(capsys):
    """fit hands L-BFGS a closure (zero_grad, forward, loss, backward), exactly as one writes it
    by hand; the logged loss is the batch loss before the step (what step(closure) returns)."""
    x, y = toy(30)
    model = mlp(0)
    h = fit(model, x, y, loss="cross_entropy", optimizer="lbfgs", batch_size=30, epochs=3,
            shuffle=False, verbose=1)  # fmt: skip
    assert "1 iteration per epoch, 3 epochs = 3 updates" in capsys.readouterr().out
    ref = mlp(0)
    opt = dl.optim.LBFGS(ref.parameters(), line_search_fn="strong_wolfe")
    loss_fn = dl.losses.get("cross_entropy")
    losses = []
    for _ in range(3):

        def closure():
            opt.zero_grad()
            value = loss_fn(ref(dl.tensor(x)), y)
            value.backward()
            return value

        losses.append(float(opt.step(closure).data))
    assert h.history["loss"] == losses and losses[-1] < losses[0] / 2
    for a, b in zip(model.parameters(), ref.parameters()):
        np.testing.assert_array_equal(a.data, b.data)


def test_keras_optimizer_object_is_built_with_the_model_parameters():
    """As Keras' compile(optimizer=SGD(0.1)): fit builds an unbuilt Keras-convention optimizer."""
    from descentlab.keras import optimizers as K

    x, y = toy(24)
    runs = []
    for make in (lambda m: K.SGD(0.1), lambda m: dl.optim.SGD(m.parameters(), lr=0.1)):
        model = mlp(0)
        h = fit(model, x, y, loss="cross_entropy", optimizer=make(model), batch_size=8, epochs=2,
                verbose=0, seed=0)  # fmt: skip
        runs.append((h.history, snapshot(model)))
    assert runs[0][0] == runs[1][0]
    for k, v in runs[0][1].items():
        np.testing.assert_array_equal(v, runs[1][1][k])


def test_error_optimizer_built_for_another_model():
    x, y = toy(10)
    stale = dl.optim.Adam(mlp(1).parameters())
    model = mlp(0)
    before = snapshot(model)
    with pytest.raises(ValueError, match="holds none of this model's parameters"):
        _fit(model, x, y, optimizer=stale)
    for k, v in before.items():
        np.testing.assert_array_equal(model.state_dict()[k], v)
