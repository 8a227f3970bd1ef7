"""Callbacks, History and the progress display, driven by hand-fed logs (no training needed)."""

from __future__ import annotations

import io
import math
import types

import numpy as np
import pytest

import descentlab as dl
from descentlab import nn
from descentlab.train import (
    CSVLogger,
    EarlyStopping,
    History,
    LambdaCallback,
    LearningRateScheduler,
    ModelCheckpoint,
    ProgressBar,
    ReduceLROnPlateau,
    TerminateOnNaN,
    describe_regime,
)
from descentlab.train.callbacks import CallbackList


class _Groups:
    """Just `param_groups`, which is all the learning-rate callbacks touch."""

    def __init__(self, lr: float, groups: int = 1):
        self.param_groups = [{"lr": lr, "params": []} for _ in range(groups)]


def attach(cb, model=None, optimizer=None, params=None, history=None):
    trainer = types.SimpleNamespace(
        model=model, optimizer=optimizer, params=params or {}, stop_training=False,
        history=history or History(), resumed=False,
    )  # fmt: skip
    cb.set_trainer(trainer)
    return trainer


def make_model(seed=0):
    dl.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))


# ---------------------------------------------------------------- History
def test_history_records_pads_and_exports(tmp_path):
    h = History()
    h.on_epoch_end(0, {"loss": 1.0})
    h.on_epoch_end(1, {"loss": 0.5, "val_loss": 0.7})
    h.on_epoch_end(2, {"val_loss": 0.6})
    assert h.epoch == [0, 1, 2]
    assert h.history["loss"][:2] == [1.0, 0.5] and math.isnan(h.history["loss"][2])
    assert math.isnan(h.history["val_loss"][0]) and h.history["val_loss"][1:] == [0.7, 0.6]
    text = h.to_csv(tmp_path / "h.csv")
    assert (tmp_path / "h.csv").read_text() == text
    assert text.splitlines()[0] == "epoch,loss,val_loss"
    assert text.splitlines()[2] == "2,0.5,0.7"
    clone = History()
    clone.load_state_dict(h.state_dict())
    assert clone.epoch == h.epoch and clone.to_csv() == text


def test_history_plot_draws_train_and_validation(tmp_path):
    h = History()
    for e, (a, b, c) in enumerate([(1.0, 1.1, 0.5), (0.5, 0.8, 0.8)]):
        h.on_epoch_end(e, {"loss": a, "val_loss": b, "accuracy": c, "val_accuracy": c - 0.1})
    fig = h.plot(tmp_path / "h.png")
    assert (tmp_path / "h.png").stat().st_size > 1000
    axes = fig.get_axes()
    assert [ax.get_ylabel() for ax in axes] == ["loss", "accuracy"]
    assert [line.get_label() for line in axes[0].get_lines()] == [
        "training loss",
        "validation loss",
    ]
    np.testing.assert_array_equal(axes[0].get_lines()[1].get_ydata(), [1.1, 0.8])
    with pytest.raises(ValueError, match="no epochs"):
        History().plot()


def test_history_to_dataframe_needs_pandas():
    h = History()
    h.on_epoch_end(0, {"loss": 1.0})
    try:
        import pandas  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="pandas"):
            h.to_dataframe()
    else:
        frame = h.to_dataframe()
        assert list(frame.columns) == ["loss"] and list(frame.index) == [1]


def test_history_to_dataframe_with_pandas():
    pd = pytest.importorskip("pandas")
    h = History()
    h.on_epoch_end(0, {"loss": 1.0, "accuracy": 0.5})
    h.on_epoch_end(1, {"loss": 0.5, "accuracy": 0.75, "val_loss": 0.7})
    frame = h.to_dataframe()
    assert isinstance(frame, pd.DataFrame) and frame.index.name == "epoch"
    assert list(frame.index) == [1, 2] and list(frame.columns) == ["loss", "accuracy", "val_loss"]
    assert frame["loss"].tolist() == [1.0, 0.5] and frame["accuracy"].tolist() == [0.5, 0.75]
    assert np.isnan(frame["val_loss"].iloc[0]) and frame["val_loss"].iloc[1] == 0.7
    csv = pd.read_csv(io.StringIO(h.to_csv()), index_col="epoch")
    pd.testing.assert_frame_equal(csv, frame, check_names=False)


# ---------------------------------------------------------------- EarlyStopping
def test_early_stopping_patience_and_restore_best_weights():
    model = make_model()
    cb = EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    trainer = attach(cb, model=model)
    cb.on_train_begin()
    snapshots = []
    for epoch, val in enumerate([1.0, 0.5, 0.6, 0.7, 0.4]):
        model[0].weight.data[...] = epoch  # "training" changes the weights every epoch
        snapshots.append(model.state_dict())
        cb.on_epoch_end(epoch, {"val_loss": val})
        if trainer.stop_training:
            break
    assert epoch == 3 and cb.stopped_epoch == 3 and cb.best_epoch == 1 and cb.best == 0.5
    for k, v in snapshots[1].items():
        np.testing.assert_array_equal(model.state_dict()[k], v)


def test_early_stopping_min_delta_mode_and_missing_monitor():
    cb = EarlyStopping(monitor="val_accuracy", min_delta=0.05, patience=1)
    assert cb.mode == "max"
    trainer = attach(cb, model=make_model())
    cb.on_train_begin()
    cb.on_epoch_end(0, {"val_accuracy": 0.80})
    cb.on_epoch_end(1, {"val_accuracy": 0.83})  # +0.03 < min_delta: not an improvement
    assert trainer.stop_training
    with pytest.raises(KeyError, match="val_loss.*validation_data or validation_split"):
        e = EarlyStopping()
        attach(e, model=make_model())
        e.on_epoch_end(0, {"loss": 1.0})
    with pytest.raises(ValueError, match="mode"):
        EarlyStopping(mode="lowest")


def test_early_stopping_state_round_trip():
    model = make_model()
    cb = EarlyStopping(patience=3, restore_best_weights=True)
    attach(cb, model=model)
    cb.on_train_begin()
    cb.on_epoch_end(0, {"val_loss": 0.3})
    cb.on_epoch_end(1, {"val_loss": 0.4})
    other = EarlyStopping(patience=3, restore_best_weights=True)
    other.load_state_dict(cb.state_dict())
    assert (other.wait, other.best, other.best_epoch) == (1, 0.3, 0)
    np.testing.assert_array_equal(other.best_weights["0.weight"], cb.best_weights["0.weight"])


# ---------------------------------------------------------------- learning rate
def test_reduce_lr_on_plateau_follows_keras_rules():
    opt = _Groups(0.1, groups=2)
    cb = ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=2, cooldown=1, min_lr=0.02)
    attach(cb, optimizer=opt)
    cb.on_train_begin()
    lrs = []
    for epoch in range(12):
        cb.on_epoch_end(epoch, {"val_loss": 1.0})
        lrs.append(opt.param_groups[0]["lr"])
    # plateau from epoch 1: reduce at epoch 2, cooldown at 3, wait at 4, reduce at 5, ...,
    # floored at min_lr=0.02 from epoch 8 on
    assert lrs == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025] + [0.02] * 4)
    assert opt.param_groups[1]["lr"] == opt.param_groups[0]["lr"]
    with pytest.raises(ValueError, match="factor"):
        ReduceLROnPlateau(factor=1.5)


def test_reduce_lr_on_plateau_exact_sequence_without_cooldown():
    opt = _Groups(1.0)
    cb = ReduceLROnPlateau(factor=0.1, patience=1, min_delta=0.0, min_lr=1e-3)
    attach(cb, optimizer=opt)
    cb.on_train_begin()
    seen = []
    for epoch, val in enumerate([5.0, 4.0, 4.0, 3.0, 3.5, 3.5, 3.5, 3.5]):
        cb.on_epoch_end(epoch, {"val_loss": val})
        seen.append(opt.param_groups[0]["lr"])
    assert seen == pytest.approx([1.0, 1.0, 0.1, 0.1, 0.01, 1e-3, 1e-3, 1e-3])


def test_learning_rate_scheduler_functions_and_objects():
    opt = _Groups(0.2)
    cb = LearningRateScheduler(lambda epoch, lr: lr * 0.5 if epoch >= 1 else lr)
    attach(cb, optimizer=opt)
    for epoch in range(3):
        cb.on_epoch_begin(epoch)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.05)
    one = LearningRateScheduler(lambda epoch: 0.1 / (1 + epoch))
    attach(one, optimizer=opt)
    one.on_epoch_begin(3)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.025)
    bad = LearningRateScheduler(lambda epoch: float("nan"))
    attach(bad, optimizer=opt)
    with pytest.raises(ValueError, match="lr=nan"):
        bad.on_epoch_begin(0)

    class Stepper:
        def __init__(self):
            self.n = 0

        def step(self):
            self.n += 1

        def state_dict(self):
            return {"n": self.n}

        def load_state_dict(self, s):
            self.n = s["n"]

    s = Stepper()
    obj = LearningRateScheduler(s)
    attach(obj, optimizer=opt)
    obj.on_epoch_begin(0)
    obj.on_epoch_end(0)
    obj.on_epoch_end(1)
    assert s.n == 2 and obj.state_dict() == {"scheduler": {"n": 2}}
    with pytest.raises(TypeError, match="schedule"):
        LearningRateScheduler(3.0)


# ---------------------------------------------------------------- logging, NaN, lambda
def test_csv_logger_writes_and_resumes_from_history(tmp_path):
    path = tmp_path / "sub" / "log.csv"
    cb = CSVLogger(path)
    attach(cb)
    cb.on_train_begin()
    cb.on_epoch_end(0, {"loss": 1.0, "val_loss": 2.0})
    cb.on_epoch_end(1, {"loss": 0.5, "val_loss": 1.5})
    assert path.read_text().splitlines() == ["epoch,loss,val_loss", "1,1.0,2.0", "2,0.5,1.5"]
    # a resumed run rewrites the finished epochs from its history (dropping a stray extra row)
    hist = History()
    hist.on_epoch_end(0, {"loss": 1.0, "val_loss": 2.0})
    resumed = CSVLogger(path)
    trainer = attach(resumed, history=hist)
    trainer.resumed = True
    resumed.on_train_begin()
    resumed.on_epoch_end(1, {"loss": 0.25, "val_loss": 1.25})
    assert path.read_text().splitlines() == ["epoch,loss,val_loss", "1,1.0,2.0", "2,0.25,1.25"]


def test_terminate_on_nan_stops_at_first_bad_batch(capsys):
    cb = TerminateOnNaN()
    trainer = attach(cb)
    cb.on_epoch_begin(2)
    cb.on_train_batch_end(0, {"loss": 1.0, "batch_loss": 1.0})
    assert not trainer.stop_training
    cb.on_train_batch_end(1, {"loss": float("inf"), "batch_loss": float("inf")})
    assert trainer.stop_training and cb.terminated_at == (2, 1)
    assert "epoch 3, batch 2" in capsys.readouterr().out


def test_lambda_callback_and_callback_list():
    calls = []
    cb = LambdaCallback(
        on_train_begin=lambda logs: calls.append("begin"),
        on_epoch_end=lambda epoch, logs: calls.append(("epoch", epoch, logs["loss"])),
        on_batch_end=lambda batch, logs: calls.append(("batch", batch)),
    )
    cbs = CallbackList([cb])
    assert cbs.has("on_train_batch_end") and not cbs.has("on_after_backward")
    cbs.call("on_train_begin", {})
    cbs.call("on_train_batch_end", 0, {})
    cbs.call("on_epoch_end", 0, {"loss": 0.5})
    assert calls == ["begin", ("batch", 0), ("epoch", 0, 0.5)]
    with pytest.raises(TypeError, match="callbacks\\[0\\]"):
        CallbackList([lambda: None])
    with pytest.raises(TypeError, match="on_epoch_end"):
        LambdaCallback(on_epoch_end=3)


def test_model_checkpoint_weights_only_best(tmp_path):
    model = make_model()
    cb = ModelCheckpoint(tmp_path / "best-{epoch:02d}.safetensors", save_best_only=True,
                         save_weights_only=True)  # fmt: skip
    attach(cb, model=model)
    cb.on_epoch_end(0, {"val_loss": 1.0})
    model[0].weight.data[...] = 5.0
    cb.on_epoch_end(1, {"val_loss": 2.0})  # worse: not saved
    cb.on_epoch_end(2, {"val_loss": 0.5})
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "best-01.safetensors",
        "best-03.safetensors",
    ]
    check = make_model(1)
    dl.load(tmp_path / "best-03.safetensors", check)
    assert (check[0].weight.data == 5.0).all()
    with pytest.raises(ValueError, match="save_freq"):
        ModelCheckpoint("x", save_freq=100)
    every2 = ModelCheckpoint(tmp_path / "p-{epoch}.safetensors", save_weights_only=True, period=2)
    attach(every2, model=model)
    for epoch in range(5):
        every2.on_epoch_end(epoch, {})
    assert sorted(p.name for p in tmp_path.glob("p-*")) == ["p-2.safetensors", "p-4.safetensors"]


# ---------------------------------------------------------------- progress
@pytest.mark.parametrize(
    "bs,n,regime",
    [
        (100, 100, "batch"),
        (500, 100, "batch"),
        (1, 100, "stochastic"),
        (32, 100, "mini-batch"),
    ],  # fmt: skip
)
def test_describe_regime(bs, n, regime):
    assert describe_regime(bs, n) == regime


def test_progress_plain_lines_when_not_a_tty_and_silent_at_zero():
    params = {"epochs": 2, "steps": 4, "batch_size": 32, "samples": 100, "val_samples": 20}
    out = io.StringIO()
    bar = ProgressBar(1, stream=out)
    attach(bar, params=params)
    bar.on_train_begin()
    for epoch in range(2):
        bar.on_epoch_begin(epoch)
        for b in range(4):
            bar.on_train_batch_end(b, {"loss": 0.5, "batch_loss": 0.5})
        bar.on_epoch_end(epoch, {"loss": 0.5, "accuracy": 0.75, "val_loss": 0.625, "lr": 0.01})
    bar.on_train_end()
    lines = out.getvalue().splitlines()
    assert lines[0] == ("Training on 100 samples, validating on 20: mini-batch gradient descent, "
                        "batch_size=32 -> 4 iterations per epoch, 2 epochs = 8 updates")  # fmt: skip
    assert lines[1].startswith("Epoch 1/2 - 4/4 it - ")
    assert lines[1].endswith("loss: 0.5000 - accuracy: 0.7500 - val_loss: 0.6250 - lr: 0.01")
    assert len(lines) == 3
    silent = io.StringIO()
    quiet = ProgressBar(0, stream=silent)
    attach(quiet, params=params)
    quiet.on_train_begin()
    quiet.on_epoch_begin(0)
    quiet.on_epoch_end(0, {"loss": 1.0})
    assert silent.getvalue() == ""


def test_progress_uses_rich_on_a_terminal():
    class TTY(io.StringIO):
        def isatty(self):
            return True

    out = TTY()
    bar = ProgressBar(1, stream=out)
    attach(bar, params={"epochs": 1, "steps": 2, "batch_size": 2, "samples": 4})
    bar.on_train_begin()
    assert bar._progress is not None
    bar.on_epoch_begin(0)
    bar.on_train_batch_end(0, {"loss": 0.5})
    bar.on_train_batch_end(1, {"loss": 0.25})
    bar.on_epoch_end(0, {"loss": 0.25})
    bar.on_train_end()
    text = out.getvalue()
    assert "Epoch 1/1" in text and "2/2" in text and "loss: 0.2500" in text
