"""Callbacks: code that runs at fixed points of `fit` (Keras' callback API, PyTorch-style models).

Hooks, called by `fit` in this order for every epoch:
`on_epoch_begin(epoch)` -> per batch `on_train_batch_begin(batch)`, `on_after_backward(batch)`
(gradients are ready, the optimizer has not stepped yet), `on_train_batch_end(batch, logs)` ->
validation -> `on_epoch_end(epoch, logs)`. Around the run: `on_train_begin`, `on_train_end`.
Epochs are 0-based in hooks (Keras); file names formatted with `{epoch}` use 1-based numbers.

A callback sees `self.model`, `self.optimizer`, `self.params` (epochs, steps, batch_size, ...)
and `self.trainer`; setting `self.trainer.stop_training = True` ends training after the
current batch. Callbacks with state (`state_dict`/`load_state_dict`) are saved in checkpoints,
so a resumed run continues exactly where it stopped.

Example:
    >>> stop = EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True)
    >>> # fit(model, x, y, loss="cross_entropy", optimizer="adam", validation_split=0.2,
    >>> #     callbacks=[stop])
"""

from __future__ import annotations

import csv
import inspect
import math
import os
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "Callback",
    "CallbackList",
    "EarlyStopping",
    "ModelCheckpoint",
    "ReduceLROnPlateau",
    "LearningRateScheduler",
    "CSVLogger",
    "TerminateOnNaN",
    "LambdaCallback",
    "get_lr",
    "set_lr",
]

_MAX_KEYWORDS = ("acc", "auc", "precision", "recall", "f1", "r2", "top")


class Callback:
    """Base class: override any hook; all default to doing nothing."""

    def __init__(self) -> None:
        self.trainer: Any = None
        self.model: Any = None
        self.optimizer: Any = None
        self.params: dict[str, Any] = {}

    def set_trainer(self, trainer: Any) -> None:
        """Called by `fit` before training: gives access to model, optimizer and run parameters."""
        self.trainer = trainer
        self.model = trainer.model
        self.optimizer = trainer.optimizer
        self.params = trainer.params

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None: ...
    def on_train_end(self, logs: dict[str, Any] | None = None) -> None: ...
    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None: ...
    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None: ...
    def on_train_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None: ...
    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None: ...
    def on_after_backward(self, batch: int, logs: dict[str, Any] | None = None) -> None: ...

    def state_dict(self) -> dict[str, Any]:
        """State to save in a checkpoint (JSON-able values and NumPy arrays)."""
        return {}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore what `state_dict` returned (called after `on_train_begin` when resuming)."""


class CallbackList:
    """Calls a hook on every callback in order."""

    HOOKS = (
        "on_train_begin",
        "on_train_end",
        "on_epoch_begin",
        "on_epoch_end",
        "on_train_batch_begin",
        "on_train_batch_end",
        "on_after_backward",
    )

    def __init__(self, callbacks: Iterable[Callback]) -> None:
        self.callbacks = list(callbacks)
        for i, cb in enumerate(self.callbacks):
            if not isinstance(cb, Callback):
                raise TypeError(
                    f"callbacks[{i}] is a {type(cb).__name__}, not a Callback; subclass "
                    "descentlab.train.Callback or wrap functions in LambdaCallback"
                )
        # Only hooks some callback overrides are called per batch: keeps the loop lean.
        self._active = {
            hook: [getattr(cb, hook) for cb in self.callbacks
                   if getattr(type(cb), hook) is not getattr(Callback, hook) or hook in cb.__dict__]
            for hook in self.HOOKS
        }  # fmt: skip

    def has(self, hook: str) -> bool:
        return bool(self._active[hook])

    def call(self, hook: str, *args: Any) -> None:
        for fn in self._active[hook]:
            fn(*args)

    def keyed(self) -> list[tuple[str, Callback]]:
        """Stable names for checkpointing: '<index>:<ClassName>'."""
        return [(f"{i}:{type(cb).__name__}", cb) for i, cb in enumerate(self.callbacks)]


# ---------------------------------------------------------------------- helpers
def get_lr(optimizer: Any) -> float:
    """The learning rate of the optimizer's first parameter group."""
    return float(optimizer.param_groups[0]["lr"])


def set_lr(optimizer: Any, lr: float) -> None:
    """Set the learning rate of every parameter group."""
    for group in optimizer.param_groups:
        group["lr"] = float(lr)


def _resolve_mode(mode: str, monitor: str, owner: str) -> str:
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"{owner}: mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode != "auto":
        return mode
    name = monitor.removeprefix("val_").lower()
    return "max" if any(k in name for k in _MAX_KEYWORDS) else "min"


def _monitored(logs: Mapping[str, Any] | None, monitor: str, owner: str) -> float:
    logs = logs or {}
    if monitor not in logs:
        hint = " (validation metrics need validation_data or validation_split)" if (
            monitor.startswith("val_")) else ""  # fmt: skip
        raise KeyError(
            f"{owner}: monitored value {monitor!r} is not in the logs; available: "
            f"{sorted(logs)}{hint}"
        )
    return float(logs[monitor])


def _say(verbose: int, text: str) -> None:
    if verbose:
        print(text, file=sys.stdout, flush=True)


# ---------------------------------------------------------------------- EarlyStopping
class EarlyStopping(Callback):
    """Stop training when `monitor` has not improved by more than `min_delta` for `patience` epochs.

    With `restore_best_weights=True` the model gets back the weights of the best epoch when
    training stops early (Keras convention: if training runs to the last epoch, the final weights
    stay). An improvement for mode 'min' is `current < best - min_delta`.

    Example:
        >>> EarlyStopping(monitor="val_loss", patience=5, restore_best_weights=True)
        EarlyStopping(monitor='val_loss', mode='min', patience=5)
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        min_delta: float = 0.0,
        patience: int = 0,
        verbose: int = 0,
        mode: str = "auto",
        baseline: float | None = None,
        restore_best_weights: bool = False,
        start_from_epoch: int = 0,
    ) -> None:
        super().__init__()
        if patience < 0:
            raise ValueError(f"EarlyStopping: patience must be >= 0, got {patience}")
        self.monitor = monitor
        self.min_delta = abs(float(min_delta))
        self.patience = int(patience)
        self.verbose = verbose
        self.mode = _resolve_mode(mode, monitor, "EarlyStopping")
        self.baseline = baseline
        self.restore_best_weights = restore_best_weights
        self.start_from_epoch = start_from_epoch
        self._reset()

    def __repr__(self) -> str:
        return (
            f"EarlyStopping(monitor={self.monitor!r}, mode={self.mode!r}, patience={self.patience})"
        )

    def _reset(self) -> None:
        self.wait = 0
        self.stopped_epoch = 0
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch = 0
        self.best_weights: dict[str, np.ndarray] | None = None

    def _improved(self, current: float, reference: float) -> bool:
        if self.mode == "min":
            return current < reference - self.min_delta
        return current > reference + self.min_delta

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._reset()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if epoch < self.start_from_epoch:
            return
        current = _monitored(logs, self.monitor, "EarlyStopping")
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.state_dict()
        self.wait += 1
        if self._improved(current, self.best):
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_weights = self.model.state_dict()
            if self.baseline is None or self._improved(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.trainer.stop_training = True
            if self.restore_best_weights and self.best_weights is not None:
                self.model.load_state_dict(self.best_weights)
                _say(
                    self.verbose,
                    f"EarlyStopping: restored the weights of epoch {self.best_epoch + 1}",
                )

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        if self.stopped_epoch > 0:
            _say(self.verbose, f"EarlyStopping: stopped after epoch {self.stopped_epoch + 1}")

    def state_dict(self) -> dict[str, Any]:
        return {
            "wait": self.wait,
            "stopped_epoch": self.stopped_epoch,
            "best": self.best,
            "best_epoch": self.best_epoch,
            "best_weights": self.best_weights,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.wait = int(state["wait"])
        self.stopped_epoch = int(state["stopped_epoch"])
        self.best = float(state["best"])
        self.best_epoch = int(state["best_epoch"])
        self.best_weights = None if state["best_weights"] is None else dict(state["best_weights"])


# ---------------------------------------------------------------------- ModelCheckpoint
class ModelCheckpoint(Callback):
    """Save the model at the end of epochs, atomically (temp file + `os.replace`).

    `filepath` may contain `{epoch}` (1-based) and any logged name, e.g.
    "ckpt-{epoch:02d}-{val_loss:.3f}.safetensors". With `save_weights_only=True` the file holds only
    the weights (`descentlab.load` reads it); otherwise it is a full training checkpoint — model,
    optimizer, epoch, RNG state, history and callback states — that `fit(..., resume_from=path)`
    continues exactly. The file is written after every callback has seen the epoch, so the states
    it holds are all from the same moment. With `save_best_only` only improvements of `monitor`
    are saved; `period=N` saves every N-th epoch only.

    Example:
        >>> ModelCheckpoint("run/last.safetensors")                       # doctest: +SKIP
        >>> ModelCheckpoint("run/best.safetensors", save_best_only=True)  # doctest: +SKIP
    """

    def __init__(
        self,
        filepath: str | os.PathLike[str],
        monitor: str = "val_loss",
        verbose: int = 0,
        save_best_only: bool = False,
        save_weights_only: bool = False,
        mode: str = "auto",
        save_freq: str = "epoch",
        initial_value_threshold: float | None = None,
        period: int = 1,
    ) -> None:
        super().__init__()
        if save_freq != "epoch":
            raise ValueError(
                f"ModelCheckpoint: save_freq={save_freq!r} is not supported: checkpoints are "
                "written at epoch ends (save_freq='epoch'); use period=N for every N-th epoch"
            )
        if isinstance(period, bool) or not isinstance(period, int) or period < 1:
            raise ValueError(f"ModelCheckpoint: period must be a positive integer, got {period!r}")
        self.filepath = os.fspath(filepath)
        self.monitor = monitor
        self.verbose = verbose
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        self.mode = _resolve_mode(mode, monitor, "ModelCheckpoint")
        self.every = period
        if initial_value_threshold is not None:
            self.best = float(initial_value_threshold)
        else:
            self.best = math.inf if self.mode == "min" else -math.inf
        self.last_saved: str | None = None

    def _better(self, current: float) -> bool:
        return current < self.best if self.mode == "min" else current > self.best

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        logs = logs or {}
        if (epoch + 1) % self.every:
            return
        if self.save_best_only:
            current = _monitored(logs, self.monitor, "ModelCheckpoint")
            if not self._better(current):
                return
            _say(self.verbose, f"ModelCheckpoint: {self.monitor} improved from {self.best:.5g} "
                               f"to {current:.5g}")  # fmt: skip
            self.best = current
        try:
            path = self.filepath.format(epoch=epoch + 1, **logs)
        except (KeyError, IndexError, ValueError) as err:
            raise ValueError(
                f"ModelCheckpoint: cannot format filepath {self.filepath!r} with epoch and "
                f"{sorted(logs)}: {err}"
            ) from err
        self.last_saved = path
        if self.save_weights_only:
            from descentlab.io import save

            save(self.model, path)
        elif self.trainer is not None and hasattr(self.trainer, "after_epoch"):
            self.trainer.after_epoch(lambda: self.trainer.save_checkpoint(path, epoch + 1))
        else:
            from descentlab.io import save_checkpoint

            save_checkpoint(path, self.model, self.optimizer, epoch=epoch + 1)
        _say(self.verbose, f"ModelCheckpoint: saved {path}")

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "last_saved": self.last_saved}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.best = float(state["best"])
        self.last_saved = state["last_saved"]


# ---------------------------------------------------------------------- learning rate
class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by `factor` when `monitor` stops improving for `patience` epochs.

    Convention: Keras (`factor=0.1`, `patience=10`, `min_delta=1e-4` absolute, `cooldown`, `min_lr`).
    Improvement for mode 'min' is `current < best - min_delta`. Every parameter group is scaled.

    Example:
        >>> ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=2, min_lr=1e-5)
        ReduceLROnPlateau(monitor='val_loss', factor=0.5, patience=2)
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        factor: float = 0.1,
        patience: int = 10,
        verbose: int = 0,
        mode: str = "auto",
        min_delta: float = 1e-4,
        cooldown: int = 0,
        min_lr: float = 0.0,
    ) -> None:
        super().__init__()
        if not 0.0 < factor < 1.0:
            raise ValueError(
                f"ReduceLROnPlateau: factor must be in (0, 1) to reduce the rate, got {factor}"
            )
        self.monitor = monitor
        self.factor = float(factor)
        self.patience = int(patience)
        self.verbose = verbose
        self.mode = _resolve_mode(mode, monitor, "ReduceLROnPlateau")
        self.min_delta = abs(float(min_delta))
        self.cooldown = int(cooldown)
        self.min_lr = float(min_lr)
        self._reset()

    def __repr__(self) -> str:
        return (
            f"ReduceLROnPlateau(monitor={self.monitor!r}, factor={self.factor}, "
            f"patience={self.patience})"
        )

    def _reset(self) -> None:
        self.best = math.inf if self.mode == "min" else -math.inf
        self.wait = 0
        self.cooldown_counter = 0

    def _improved(self, current: float) -> bool:
        if self.mode == "min":
            return current < self.best - self.min_delta
        return current > self.best + self.min_delta

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._reset()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        current = _monitored(logs, self.monitor, "ReduceLROnPlateau")
        in_cooldown = self.cooldown_counter > 0
        if in_cooldown:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._improved(current):
            self.best, self.wait = current, 0
        elif not in_cooldown:
            self.wait += 1
            if self.wait >= self.patience:
                changed = False
                for group in self.optimizer.param_groups:
                    old = float(group["lr"])
                    if old > self.min_lr:
                        group["lr"] = max(old * self.factor, self.min_lr)
                        changed = True
                if changed:
                    _say(self.verbose, f"ReduceLROnPlateau: epoch {epoch + 1}, learning rate "
                                       f"reduced to {get_lr(self.optimizer):.4g}")  # fmt: skip
                    self.cooldown_counter = self.cooldown
                    self.wait = 0

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "wait": self.wait, "cooldown_counter": self.cooldown_counter}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.best = float(state["best"])
        self.wait = int(state["wait"])
        self.cooldown_counter = int(state["cooldown_counter"])


class LearningRateScheduler(Callback):
    """Set the learning rate every epoch from a schedule.

    `schedule` is either a function — `schedule(epoch)` or `schedule(epoch, lr)` (Keras), called at
    the start of each epoch (0-based) and returning the new rate — or a PyTorch-style scheduler
    object (`descentlab.optim.lr_scheduler.StepLR(opt, ...)`), whose `step()` is called at the end
    of each epoch and whose state is saved in checkpoints.

    Example:
        >>> LearningRateScheduler(lambda epoch, lr: lr * 0.9 if epoch >= 5 else lr)  # doctest: +ELLIPSIS
        <...LearningRateScheduler object at ...>
    """

    def __init__(self, schedule: Callable[..., float] | Any, verbose: int = 0) -> None:
        super().__init__()
        self.schedule = schedule
        self.verbose = verbose
        self.is_object = hasattr(schedule, "step") and hasattr(schedule, "state_dict")
        if not self.is_object and not callable(schedule):
            raise TypeError(
                f"LearningRateScheduler: schedule must be a function of (epoch[, lr]) or a "
                f"scheduler object with step(), got {type(schedule).__name__}"
            )
        self._two_args = False
        if not self.is_object:
            try:
                params = inspect.signature(schedule).parameters.values()
                positional = [
                    p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
                ]
                self._two_args = len(positional) >= 2 or any(
                    p.kind == p.VAR_POSITIONAL for p in params
                )
            except (TypeError, ValueError):  # builtins without a signature: assume (epoch)
                self._two_args = False

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if self.is_object:
            return
        lr = get_lr(self.optimizer)
        new = self.schedule(epoch, lr) if self._two_args else self.schedule(epoch)
        try:
            new = float(new)
        except (TypeError, ValueError) as err:
            raise TypeError(
                f"LearningRateScheduler: the schedule returned {new!r}, not a number"
            ) from err
        if not math.isfinite(new) or new < 0:
            raise ValueError(
                f"LearningRateScheduler: the schedule returned lr={new} at epoch {epoch}"
            )
        set_lr(self.optimizer, new)
        _say(self.verbose, f"LearningRateScheduler: epoch {epoch + 1}, learning rate {new:.4g}")

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if self.is_object:
            self.schedule.step()

    def state_dict(self) -> dict[str, Any]:
        return {"scheduler": self.schedule.state_dict()} if self.is_object else {}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if self.is_object and "scheduler" in state:
            self.schedule.load_state_dict(state["scheduler"])


# ---------------------------------------------------------------------- logging and safety
class CSVLogger(Callback):
    """Append one row per epoch (epoch, then every logged value) to a CSV file, flushed each epoch.

    With `append=False` the file starts fresh; a run resumed from a checkpoint rewrites the rows of
    the epochs it has already done from the history, so the file matches the run exactly.

    Example:
        >>> CSVLogger("run/log.csv")  # doctest: +ELLIPSIS
        <...CSVLogger object at ...>
    """

    def __init__(
        self, filename: str | os.PathLike[str], separator: str = ",", append: bool = False
    ):
        super().__init__()
        self.filename = Path(filename)
        self.sep = separator
        self.append = append
        self.keys: list[str] | None = None

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self.filename.parent.mkdir(parents=True, exist_ok=True)
        self.keys = None
        resumed = getattr(self.trainer, "resumed", False)
        if resumed and self.trainer.history.epoch:
            hist = self.trainer.history
            self.keys = list(hist.history)
            with self.filename.open("w", newline="") as fh:
                writer = csv.writer(fh, delimiter=self.sep)
                writer.writerow(["epoch", *self.keys])
                for row, epoch in enumerate(hist.epoch):
                    writer.writerow([epoch + 1, *(repr(hist.history[k][row]) for k in self.keys)])
        elif not self.append or not self.filename.exists():
            self.filename.write_text("")

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        logs = logs or {}
        with self.filename.open("a", newline="") as fh:
            writer = csv.writer(fh, delimiter=self.sep)
            if self.keys is None:
                self.keys = list(logs)
                if self.filename.stat().st_size == 0:
                    writer.writerow(["epoch", *self.keys])
            writer.writerow([epoch + 1, *(repr(float(logs.get(k, math.nan))) for k in self.keys)])
            fh.flush()


class TerminateOnNaN(Callback):
    """Stop training at the first batch whose loss is NaN or infinite."""

    def __init__(self) -> None:
        super().__init__()
        self.terminated_at: tuple[int, int] | None = None
        self._epoch = 0

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._epoch = epoch

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        loss = (logs or {}).get("batch_loss", (logs or {}).get("loss"))
        if loss is not None and not math.isfinite(float(loss)):
            self.terminated_at = (self._epoch, batch)
            print(
                f"TerminateOnNaN: loss became {float(loss)} at epoch {self._epoch + 1}, batch "
                f"{batch + 1}; stopping (try a smaller learning rate or gradient clipping)",
                file=sys.stdout,
                flush=True,
            )
            self.trainer.stop_training = True


class LambdaCallback(Callback):
    """A callback made of plain functions, one per hook (Keras' LambdaCallback).

    `on_batch_begin`/`on_batch_end` are accepted as Keras aliases of the train-batch hooks.

    Example:
        >>> cb = LambdaCallback(on_epoch_end=lambda epoch, logs: print(epoch, logs["loss"]))
    """

    def __init__(
        self,
        on_epoch_begin: Callable[..., Any] | None = None,
        on_epoch_end: Callable[..., Any] | None = None,
        on_train_begin: Callable[..., Any] | None = None,
        on_train_end: Callable[..., Any] | None = None,
        on_train_batch_begin: Callable[..., Any] | None = None,
        on_train_batch_end: Callable[..., Any] | None = None,
        on_after_backward: Callable[..., Any] | None = None,
        on_batch_begin: Callable[..., Any] | None = None,
        on_batch_end: Callable[..., Any] | None = None,
    ) -> None:
        super().__init__()
        given = {
            "on_epoch_begin": on_epoch_begin,
            "on_epoch_end": on_epoch_end,
            "on_train_begin": on_train_begin,
            "on_train_end": on_train_end,
            "on_train_batch_begin": on_train_batch_begin or on_batch_begin,
            "on_train_batch_end": on_train_batch_end or on_batch_end,
            "on_after_backward": on_after_backward,
        }
        for hook, fn in given.items():
            if fn is None:
                continue
            if not callable(fn):
                raise TypeError(f"LambdaCallback: {hook} must be callable, got {fn!r}")
            if hook in ("on_train_begin", "on_train_end"):
                self.__dict__[hook] = lambda logs=None, _f=fn: _f(logs)
            else:
                self.__dict__[hook] = lambda i, logs=None, _f=fn: _f(i, logs)
