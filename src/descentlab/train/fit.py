"""fit / evaluate / predict: the training loop, as the teaching material defines it.

An epoch is one pass over all training data; the batch size is how many samples one update sees;
the iterations (updates) per epoch are ceil(N / batch_size). batch_size >= N is batch gradient
descent, 1 is stochastic gradient descent, anything between is mini-batch. Each iteration:

    y_pred = model(x_batch)                       # forward, model in train mode
    L = loss(y_pred, y_batch)                     # or sum_i w_i * l_i / n with sample/class weights
    optimizer.zero_grad(); L.backward()           # backpropagation
    optimizer.step()                              # one gradient-descent update

Validation, `evaluate` and `predict` run the model in eval mode without building a graph.
Conventions: Keras for the arguments and the logs (`validation_split` takes the *last* fraction
of the data before shuffling; weighted loss = sum(w_i * l_i) / batch size; the logged training
loss is the batch-size-weighted mean of the batch losses), PyTorch for models and optimizers.

Example:
    >>> import descentlab as dl
    >>> from descentlab import nn
    >>> d = dl.data.load_digits(); x, y = d.x / 16, d.y                          # doctest: +SKIP
    >>> model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    >>> history = dl.fit(model, x, y, loss="cross_entropy", optimizer="adam", epochs=10,
    ...                  validation_split=0.2, metrics=["accuracy"], seed=0)   # doctest: +SKIP
    >>> history.history["val_accuracy"][-1]                                    # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import copy
import math
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from descentlab import io as dlio
from descentlab.data import DataLoader, Subset, TensorDataset
from descentlab.data.batches import BatchLoader, is_batch_source
from descentlab.random import get_rng_state, manual_seed
from descentlab.tensor import Tensor, no_grad
from descentlab.train.callbacks import Callback, CallbackList, get_lr
from descentlab.train.history import History
from descentlab.train.progress import ProgressBar, describe_regime

__all__ = ["fit", "evaluate", "predict", "Trainer"]

_CLASS_LOSS_HINTS = ("entropy", "nll", "hinge", "focal")


# ====================================================================== trainer state
class Trainer:
    """What callbacks see of a running `fit`: model, optimizer, params, history, stop flag."""

    def __init__(self, model: Any, optimizer: Any, params: dict[str, Any], history: History,
                 callbacks: CallbackList, user_callbacks: Sequence[Callback],
                 loader: Any) -> None:  # fmt: skip
        self.model = model
        self.optimizer = optimizer
        self.params = params
        self.history = history
        self.callbacks = callbacks
        self.user_callbacks = list(user_callbacks)
        self.loader = loader
        self.stop_training = False
        self.resumed = False
        self.sample_inputs: np.ndarray | None = None
        self._after: list[Callable[[], Any]] = []

    def after_epoch(self, fn: Callable[[], Any]) -> None:
        """Run `fn` once every callback has seen the current epoch's end (used for checkpoints)."""
        self._after.append(fn)

    def _run_after_epoch(self) -> None:
        pending, self._after = self._after, []
        for fn in pending:
            fn()

    def _callback_keys(self) -> list[tuple[str, Callback]]:
        return [(f"{i}:{type(cb).__name__}", cb) for i, cb in enumerate(self.user_callbacks)]

    def save_checkpoint(self, path: str | Path, epoch: int) -> Path:
        """Write a full checkpoint: model, optimizer, `epoch` epochs done, RNG, history, callbacks."""
        gen = _loader_generator(self.loader)
        extra = {
            **getattr(self.model, "checkpoint_extra", dict)(),  # a Keras model's description
            "callbacks": {key: cb.state_dict() for key, cb in self._callback_keys()},
            "loader_rng": None if gen is None else gen.bit_generator.state,
            "sampler_rng": [g.bit_generator.state for g in _sampler_generators(self.loader)],
            "fit": {k: self.params.get(k) for k in ("samples", "batch_size", "steps", "epochs")},
        }
        return dlio.save_checkpoint(
            path,
            self.model,
            self.optimizer,
            epoch=epoch,
            history=self.history.state_dict(),
            rng_state=get_rng_state(),
            extra=extra,
        )

    def _resume(self, path: str | Path) -> int:
        info = dlio.load_checkpoint(path, self.model, self.optimizer, restore_rng=True)
        extra = info.get("extra") or {}
        saved_fit = extra.get("fit") or {}
        for key in ("samples", "batch_size"):
            if saved_fit.get(key) is not None and saved_fit[key] != self.params.get(key):
                warnings.warn(
                    f"resume_from={str(path)!r}: the checkpoint was trained with {key}="
                    f"{saved_fit[key]}, this run has {self.params.get(key)}; training continues "
                    "but will not match an uninterrupted run",
                    stacklevel=3,
                )
        gen = _loader_generator(self.loader)
        if gen is not None and extra.get("loader_rng") is not None:
            gen.bit_generator.state = extra["loader_rng"]
        sampler_gens, saved = _sampler_generators(self.loader), extra.get("sampler_rng") or []
        if len(saved) == len(sampler_gens):
            for g, state in zip(sampler_gens, saved, strict=True):
                g.bit_generator.state = state
        else:
            warnings.warn(
                f"resume_from={str(path)!r}: the checkpoint holds {len(saved)} sampler "
                f"generator(s), this run's DataLoader has {len(sampler_gens)}; training continues "
                "but will not match an uninterrupted run",
                stacklevel=3,
            )
        if info.get("history"):
            self.history.load_state_dict(info["history"])
        self._pending_callback_states = extra.get("callbacks") or {}
        self.resumed = True
        return int(info["epoch"])

    def _load_callback_states(self) -> None:
        states = dict(getattr(self, "_pending_callback_states", {}))
        for key, cb in self._callback_keys():
            if key in states:
                cb.load_state_dict(states.pop(key))
        if states:
            warnings.warn(
                f"resume: the checkpoint holds state for callbacks {sorted(states)} that this run "
                "does not have (pass the same callbacks, in the same order, to resume exactly)",
                stacklevel=3,
            )


# ====================================================================== fit
def fit(
    model: Any,
    x: Any,
    y: Any = None,
    *,
    loss: Any,
    optimizer: Any,
    batch_size: int = 32,
    epochs: int = 1,
    validation_split: float = 0.0,
    validation_data: Any = None,
    shuffle: bool = True,
    class_weight: Mapping[int, float] | None = None,
    sample_weight: Any = None,
    metrics: Iterable[Any] = (),
    callbacks: Iterable[Callback] = (),
    initial_epoch: int = 0,
    verbose: int = 1,
    seed: int | None = None,
    resume_from: str | Path | None = None,
    steps_per_epoch: int | None = None,
    validation_steps: int | None = None,
) -> History:
    """Train `model` on (x, y) for `epochs` passes and return the per-epoch `History`.

    Args:
        model: an `nn.Module` (put in train mode while fitting, eval mode while validating; its
            previous mode is restored afterwards). A model with a `regularization_loss()` method
            (a `descentlab.keras` model with kernel_regularizer penalties) has that added to
            each batch's training loss, as Keras does.
        x, y: arrays (or Tensors) with samples on axis 0; or `x` a `DataLoader` / `Dataset`
            yielding (x, y) or (x, y, sample_weight) and `y=None`; or, as in Keras, `x` a
            Python generator of such batches or a `PyDataset` (`descentlab.data.batches`).
        loss: a `descentlab.losses.Loss` or its name ("cross_entropy", "mse", ...).
        optimizer: a `descentlab.optim` optimizer or a registry name ("sgd", "momentum", "adam",
            "keras.adam", ...; see `descentlab.optim.available()`). A name is built with its
            registry entry's hyperparameters (e.g. momentum=0.9 for "momentum") *except the
            learning rate*: the optimizer class's own default lr applies, PyTorch's for torch
            names (Adam 1e-3, SGD 1e-3, RMSprop 1e-2, ...) and Keras' for "keras.*" names, as
            `optimizer="adam"` gives in Keras. (The registry's lrs are tuned for the 2-D lab;
            pass an optimizer object to choose the lr.)
        batch_size: samples per update: N = batch GD, 1 = stochastic GD, between = mini-batch.
        validation_split: fraction in (0, 1) of the data held out for validation: the *last*
            samples, taken before shuffling (Keras).
        validation_data: (x_val, y_val[, w_val]), a Dataset, a DataLoader, a generator of
            batches or a PyDataset.
        class_weight: {class: weight}; sample i gets weight class_weight[y_i] (times its
            sample_weight); the batch loss becomes sum_i w_i * l_i / batch size (Keras).
        metrics: names ("accuracy", "mae", ...), metric objects, or functions
            fn(y_pred, y_true) returning per-sample values or a batch mean (predictions first,
            like descentlab losses; a function declared ``def f(y_true, y_pred)``, Keras'
            signature, or marked ``f.convention = "keras"`` gets Keras' order), averaged over
            batches weighted by batch size.
            Computed on training batches and on validation data. Scalar results go to the logs
            and `History.history`; array-valued results (e.g. "confusion_matrix") stay out of
            the logs and are kept per epoch in `History.arrays`.
        callbacks: `Callback`s (History and the progress bar are added automatically).
        initial_epoch: epoch to start counting from (0-based).
        verbose: 0 silent, 1 progress bar (plain lines when not a terminal), 2 one line per epoch.
        seed: when given, `descentlab.manual_seed(seed)` first, so shuffling, dropout and
            augmentation repeat exactly.
        resume_from: a checkpoint written by `ModelCheckpoint` (full) or `Trainer.save_checkpoint`;
            model, optimizer, RNG, history and callback states are restored and training
            continues with the next epoch, bit-identical to a run that was never interrupted.
        steps_per_epoch: batches per epoch from a generator (each epoch takes the next ones;
            None: the first epoch reads it to its end, and that is an epoch) or a PyDataset (at
            most its length). When a generator runs out, training stops with a warning (Keras).
        validation_steps: batches per validation from a generator or PyDataset validation_data.

    Returns:
        History with `.history` ("loss", scalar metrics, "val_*", "lr"), `.arrays` (array-valued
        metrics per epoch) and `.params`.

    Example:
        >>> h = fit(model, x, y, loss="cross_entropy", optimizer="sgd", batch_size=32,
        ...         epochs=5, metrics=["accuracy"], validation_split=0.2)    # doctest: +SKIP
    """
    _check_model(model)
    epochs = _check_int("epochs", epochs, minimum=0)
    initial_epoch = _check_int("initial_epoch", initial_epoch, minimum=0)
    if verbose not in (0, 1, 2):
        raise ValueError(f"fit: verbose must be 0, 1 or 2, got {verbose!r}")
    if seed is not None:
        manual_seed(seed)
    loss_fn = _resolve_loss(loss)
    dtype = _param_dtype(model)

    train_loader, val_loader, arrays = _prepare_training_data(
        x,
        y,
        batch_size,
        validation_split,
        validation_data,
        shuffle,
        sample_weight,
        dtype,
        steps_per_epoch,
        validation_steps,
    )
    if resume_from is not None and isinstance(train_loader, BatchLoader):
        raise ValueError("fit: resume_from cannot restore where a generator or PyDataset had got "
                         "to; resume with arrays, a Dataset or a DataLoader")  # fmt: skip
    cw = _class_weight_table(class_weight)
    sample_inputs = _sample_inputs(arrays, train_loader, dtype)
    # One forward pass on two samples, before the optimizer collects the parameters: it builds
    # lazy layers (Linear(None, n)) and tells the number of outputs for the label check.
    out_shape = _probe(model, sample_inputs)
    if arrays is not None and out_shape is not None and _is_class_loss(loss_fn):
        _check_labels(out_shape, arrays["y"], "y")
        if arrays.get("y_val") is not None:
            _check_labels(out_shape, arrays["y_val"], "validation y")
    opt = _resolve_optimizer(optimizer, model)
    if not any(p.requires_grad for p in model.parameters()):
        warnings.warn("The model does not have any trainable weights.", UserWarning, stacklevel=2)
    train_metrics = _resolve_metrics(metrics)
    val_metrics = _resolve_metrics(metrics) if val_loader is not None else []

    samples = _num_samples(train_loader)
    steps = _num_batches(train_loader)
    bs = getattr(train_loader, "batch_size", None)
    params = {
        "epochs": epochs,
        "initial_epoch": initial_epoch,
        "steps": steps,
        "batch_size": bs,
        "samples": samples,
        "val_samples": None if val_loader is None else _num_samples(val_loader),
        "regime": describe_regime(bs, samples),
        "verbose": verbose,
        "metrics": [name for name, _ in train_metrics],
    }
    history = History()
    user_callbacks = list(callbacks)
    progress = [ProgressBar(verbose)] if verbose else []
    # Keras order: History after the user's callbacks, so values they add to the logs are recorded.
    cbs = CallbackList([*user_callbacks, history, *progress])
    trainer = Trainer(model, opt, params, history, cbs, user_callbacks, train_loader)
    trainer.sample_inputs = sample_inputs
    if resume_from is not None:
        initial_epoch = trainer._resume(resume_from)
        params["initial_epoch"] = initial_epoch
    for cb in cbs.callbacks:
        cb.set_trainer(trainer)

    was_training = bool(getattr(model, "training", True))
    cbs.call("on_train_begin", {})
    if trainer.resumed:
        trainer._load_callback_states()
    try:
        for epoch in range(initial_epoch, epochs):
            cbs.call("on_epoch_begin", epoch, {})
            logs = _train_one_epoch(
                model, train_loader, loss_fn, opt, cw, train_metrics, cbs, trainer
            )
            if logs is None:  # a generator that had no batch left for this epoch
                _warn_ran_out()
                break
            if val_loader is not None:
                val = _run_eval(model, val_loader, loss_fn, val_metrics, dtype)
                logs.update({f"val_{k}": v for k, v in val.items()})
            logs["lr"] = get_lr(opt)
            # Array-valued metrics (confusion matrix) go to History.arrays, not to the logs that
            # the progress bar, CSVLogger and monitors read as numbers.
            arrays = {k: logs.pop(k) for k in [k for k, v in logs.items() if np.ndim(v) > 0]}
            if arrays:
                history.record_arrays(arrays)
            cbs.call("on_epoch_end", epoch, logs)
            trainer._run_after_epoch()
            if getattr(train_loader, "ran_out", False):
                _warn_ran_out()
                break
            if trainer.stop_training:
                break
    except BaseException:
        for bar in progress:  # leave the terminal usable if training fails or is interrupted
            bar.close()
        raise
    finally:
        model.train(was_training)
    cbs.call("on_train_end", {})
    return history


def _warn_ran_out() -> None:
    warnings.warn(
        "Your input ran out of data; interrupting training. Make sure that your dataset or "
        "generator can generate at least `steps_per_epoch * epochs` batches.",
        UserWarning,
        stacklevel=3,
    )


def _sample_inputs(arrays: dict[str, Any] | None, loader: Any, dtype: Any) -> np.ndarray | None:
    """Up to 256 training inputs for diagnostics (dead ReLU probe), without touching any RNG."""
    if arrays is not None:
        return arrays["x"][:256]
    if isinstance(loader, BatchLoader):  # the first batch (a generator's is kept for epoch 1)
        first = loader.first()
        if first is None:
            return None
        return _cast_inputs(np.asarray(first[0] if isinstance(first, (tuple, list)) else first),
                            dtype)[:256]  # fmt: skip
    dataset = getattr(loader, "dataset", None)
    data_arrays = getattr(dataset, "arrays", None)
    if isinstance(data_arrays, tuple) and data_arrays:
        return _cast_inputs(np.asarray(data_arrays[0][:256]), dtype)
    if dataset is None or len(dataset) == 0:
        return None
    first = next(iter(DataLoader(dataset, batch_size=min(256, len(dataset)), shuffle=False)))
    return _cast_inputs(np.asarray(first[0]), dtype)


def _probe(model: Any, x: np.ndarray | None) -> tuple[int, ...] | None:
    """Output shape of the model on two samples, in eval mode without a graph (None if no x)."""
    if x is None or len(x) == 0:
        return None
    was_training = bool(getattr(model, "training", True))
    try:
        model.eval()
        with no_grad():
            out = model(Tensor(x[:2]))
    finally:
        model.train(was_training)
    return tuple(np.shape(getattr(out, "data", out)))


def _train_one_epoch(model: Any, loader: Any, loss_fn: Any, opt: Any, cw: np.ndarray | None,
                     metrics: list[tuple[str, Any]], cbs: CallbackList,
                     trainer: Trainer) -> dict[str, float] | None:  # fmt: skip
    """One pass over the loader; None when a generator had no batch left (it ran out)."""
    model.train()
    for _, m in metrics:
        m.reset()
    dtype = _param_dtype(model)
    total, seen = 0.0, 0
    batch_begin, after_backward = cbs.has("on_train_batch_begin"), cbs.has("on_after_backward")
    batch_end = cbs.has("on_train_batch_end")
    needs_closure = _needs_closure(opt)
    for b, batch in enumerate(loader):
        xb, yb, wb = _unpack(batch, dtype)
        n = len(xb)
        if batch_begin:
            cbs.call("on_train_batch_begin", b, {"size": n})
        w = _combine_weights(yb, wb, cw)
        y_pred, value = _train_step(model, opt, loss_fn, xb, yb, w, needs_closure,
                                    cbs if after_backward else None, b)  # fmt: skip
        batch_loss = float(value.data)
        total += batch_loss * n
        seen += n
        for _, m in metrics:
            m.update(y_pred.data, yb, sample_weight=w)
        if batch_end:
            logs = {"loss": total / seen, **_results(metrics, scalars_only=True),
                    "batch_loss": batch_loss}  # fmt: skip
            cbs.call("on_train_batch_end", b, logs)
        if trainer.stop_training:
            break
    if seen == 0:
        if getattr(loader, "ran_out", False):
            return None
        raise ValueError("fit: the training data yielded no batches (empty data, or drop_last "
                         "with fewer samples than batch_size)")  # fmt: skip
    return {"loss": total / seen, **_results(metrics)}


def _train_step(model: Any, opt: Any, loss_fn: Any, xb: np.ndarray, yb: np.ndarray,
                w: np.ndarray | None, needs_closure: bool, cbs: CallbackList | None = None,
                b: int = 0) -> tuple[Tensor, Tensor]:  # fmt: skip
    """One update on one batch: forward, loss (+ the model's penalty), backward, optimizer step.
    Returns the predictions and the loss of the forward pass before the update; `cbs` (if given)
    hears `on_after_backward`. Shared by `fit` and Keras' `train_on_batch`."""
    if needs_closure:
        # L-BFGS re-evaluates the loss in its line search: hand it a closure, as in PyTorch.
        # The batch's loss and metrics are those of the first evaluation (before the step).
        return _closure_step(model, opt, xb, yb, w, loss_fn, cbs, b)
    y_pred = model(Tensor(xb))
    value = _with_penalty(model, _loss(loss_fn, y_pred, yb, w))
    if not value.requires_grad:  # nothing trainable (a frozen model): the loss only, as Keras
        return y_pred, value
    opt.zero_grad()
    value.backward()
    if cbs is not None:
        cbs.call("on_after_backward", b, {"size": len(xb)})
    opt.step()
    return y_pred, value


def _train_on_batch(model: Any, x: Any, y: Any, *, loss: Any, optimizer: Any,
                    metrics: Iterable[Any] = (), class_weight: Mapping[int, float] | None = None,
                    sample_weight: Any = None) -> dict[str, Any]:  # fmt: skip
    """One optimizer update on exactly the batch (x, y), the step `fit` takes, and its logs.

    Convention: Keras' `train_on_batch`: the model in train mode for the step; the loss (with the
    model's penalty) and the metrics are those of this batch alone, from the forward pass
    before the update; weights as in `fit` (sum_i w_i * l_i / batch size).

    Example:
        >>> logs = _train_on_batch(model, x[:32], y[:32], loss="cross_entropy",
        ...                        optimizer=opt, metrics=["accuracy"])    # doctest: +SKIP
        >>> sorted(logs)                                                     # doctest: +SKIP
        ['accuracy', 'loss']
    """
    _check_model(model)
    dtype = _param_dtype(model)
    loss_fn = _resolve_loss(loss)
    xb, yb = _as_input(x, "x", dtype), _as_target(y, "y", dtype)
    _check_lengths(xb, yb, "x", "y")
    if len(xb) == 0:
        raise ValueError("train_on_batch: x has no samples")
    _check_finite(xb, "x")
    _check_finite(yb, "y")
    wb = None if sample_weight is None else _as_weights(sample_weight, len(xb), "sample_weight")
    w = _combine_weights(yb, wb, _class_weight_table(class_weight))
    if getattr(optimizer, "built", True) is False or next(model.parameters(), None) is None:
        _probe(model, xb)  # build lazy layers before the optimizer collects the parameters
    opt = _resolve_optimizer(optimizer, model)
    mets = _resolve_metrics(metrics)
    was_training = bool(getattr(model, "training", True))
    try:
        model.train()
        y_pred, value = _train_step(model, opt, loss_fn, xb, yb, w, _needs_closure(opt))
    finally:
        model.train(was_training)
    for _, m in mets:
        m.reset()
        m.update(y_pred.data, yb, sample_weight=w)
    return {"loss": float(value.data), **_results(mets)}


def _needs_closure(opt: Any) -> bool:
    from descentlab.optim.lbfgs import LBFGS

    return isinstance(opt, LBFGS) or bool(getattr(opt, "requires_closure", False))


def _closure_step(model: Any, opt: Any, xb: np.ndarray, yb: np.ndarray, w: np.ndarray | None,
                  loss_fn: Any, cbs: CallbackList | None, b: int) -> tuple[Tensor, Tensor]:  # fmt: skip
    first: list[tuple[Tensor, Tensor]] = []

    def closure() -> Tensor:
        opt.zero_grad()
        y_pred = model(Tensor(xb))
        value = _with_penalty(model, _loss(loss_fn, y_pred, yb, w))
        value.backward()
        if not first:
            first.append((y_pred, value))
            if cbs is not None:
                cbs.call("on_after_backward", b, {"size": len(xb)})
        return value

    opt.step(closure)
    return first[0]


def _penalty(model: Any) -> Tensor | None:
    """The model's `regularization_loss()` (Keras layers' kernel_regularizer penalties), if any."""
    penalty = getattr(model, "regularization_loss", None)
    return penalty() if callable(penalty) else None


def _with_penalty(model: Any, value: Tensor) -> Tensor:
    """The batch loss plus the model's penalty, as Keras' fit trains on and logs it."""
    extra = _penalty(model)
    return value if extra is None else value + extra


def _loss(loss_fn: Any, y_pred: Tensor, y_true: np.ndarray, w: np.ndarray | None) -> Tensor:
    if w is None:
        return _call_loss(loss_fn, y_pred, y_true)
    per_sample = getattr(loss_fn, "per_sample", None)
    if per_sample is None:
        raise TypeError(
            f"sample_weight/class_weight need a loss with per_sample(), got {loss_fn!r}; use a "
            "descentlab.losses.Loss"
        )
    # Keras: weighted sum divided by the batch size, not by the sum of the weights.
    return (per_sample(y_pred, y_true) * w).sum() / len(w)


def _call_loss(loss_fn: Any, y_pred: Tensor, y_true: np.ndarray) -> Tensor:
    """The loss with its own reduction; Keras-convention losses take (y_true, y_pred)."""
    if getattr(loss_fn, "convention", "") == "keras":
        return loss_fn(y_true, y_pred)
    return loss_fn(y_pred, y_true)


def _results(metrics: list[tuple[str, Any]], scalars_only: bool = False) -> dict[str, Any]:
    """name -> result: a float for scalar metrics, an array for array-valued ones."""
    out: dict[str, Any] = {}
    for name, m in metrics:
        value = m.result()
        if np.ndim(value) == 0:
            out[name] = float(value)
        elif not scalars_only:
            out[name] = np.array(value)
    return out


# ====================================================================== evaluate / predict
def evaluate(
    model: Any,
    x: Any,
    y: Any = None,
    *,
    loss: Any = None,
    metrics: Iterable[Any] = (),
    batch_size: int = 32,
    sample_weight: Any = None,
    verbose: int = 0,
    steps: int | None = None,
) -> dict[str, Any]:
    """Loss and metrics of `model` on (x, y), in eval mode and without a graph.

    The loss is the mean of the per-sample losses over all samples (weighted sum / N with
    `sample_weight`), metrics are streamed over batches. Returns {"loss": ..., metric: ...}:
    floats, and arrays for array-valued metrics such as "confusion_matrix". `x` may also be a
    generator of (x, y[, w]) batches or a PyDataset, read for `steps` batches (None: to the end).

    Example:
        >>> evaluate(model, x_test, y_test, loss="cross_entropy", metrics=["accuracy"])  # doctest: +SKIP
        {'loss': 0.0871, 'accuracy': 0.975}
    """
    _check_model(model)
    dtype = _param_dtype(model)
    loader = _eval_loader(x, y, sample_weight, batch_size, dtype, "evaluate", steps=steps)
    loss_fn = None if loss is None else _resolve_loss(loss)
    if (
        loss_fn is not None
        and _is_class_loss(loss_fn)
        and isinstance(loader.dataset, TensorDataset)
    ):
        arrays = loader.dataset.arrays
        out_shape = _probe(model, arrays[0])
        if len(arrays) >= 2 and out_shape is not None:
            _check_labels(out_shape, arrays[1], "y")
    mets = _resolve_metrics(metrics)
    if loss_fn is None and not mets:
        raise ValueError("evaluate: give a loss and/or metrics to compute")
    out = _run_eval(model, loader, loss_fn, mets, dtype)
    if verbose:
        shown = {k: v for k, v in out.items() if np.ndim(v) == 0}
        print("evaluate:" + "".join(f" - {k}: {v:.4f}" for k, v in shown.items()), flush=True)
    return out


def predict(model: Any, x: Any, batch_size: int = 32, verbose: int = 0,
            steps: int | None = None) -> np.ndarray:  # fmt: skip
    """The model's outputs for x, batch by batch, in eval mode and without a graph. `x` may also be
    a generator of batches (x, or tuples whose first item is x) or a PyDataset, read for `steps`
    batches (None: to the end).

    Example:
        >>> probs = predict(model, x_test)            # (N, classes) logits    # doctest: +SKIP
        >>> labels = probs.argmax(axis=1)                                      # doctest: +SKIP
    """
    _check_model(model)
    dtype = _param_dtype(model)
    loader = _eval_loader(x, None, None, batch_size, dtype, "predict", need_y=False, steps=steps)
    was_training = bool(getattr(model, "training", True))
    outputs = []
    try:
        model.eval()
        with no_grad():
            for batch in loader:
                xb = batch[0] if isinstance(batch, (tuple, list)) else batch
                xb = _cast_inputs(np.asarray(xb), dtype)
                outputs.append(np.asarray(model(Tensor(xb)).data))
    finally:
        model.train(was_training)
    if not outputs:
        raise ValueError("predict: x has no samples")
    if verbose:
        print(f"predict: {sum(len(o) for o in outputs)} samples", flush=True)
    return np.concatenate(outputs, axis=0)


def _run_eval(model: Any, loader: Any, loss_fn: Any, metrics: list[tuple[str, Any]],
              dtype: Any) -> dict[str, Any]:  # fmt: skip
    was_training = bool(getattr(model, "training", True))
    for _, m in metrics:
        m.reset()
    total, seen = 0.0, 0
    try:
        model.eval()
        with no_grad():
            for batch in loader:
                xb, yb, wb = _unpack(batch, dtype)
                y_pred = model(Tensor(xb))
                n = len(xb)
                if loss_fn is not None:
                    per_sample = getattr(loss_fn, "per_sample", None)
                    if per_sample is not None:
                        per = np.asarray(per_sample(y_pred, yb).data, dtype=np.float64)
                        total += float((per if wb is None else per * wb).sum())
                    else:
                        total += float(_call_loss(loss_fn, y_pred, yb).data) * n
                seen += n
                for _, m in metrics:
                    m.update(y_pred.data, yb, sample_weight=wb)
    finally:
        model.train(was_training)
    if seen == 0:
        if isinstance(loader, BatchLoader):
            raise ValueError("the evaluation generator had no batch left; give it steps "
                             "(validation_steps in fit) it can supply every time, or pass a "
                             "PyDataset, a DataLoader or arrays, which can be read again")  # fmt: skip
        raise ValueError("evaluation data yielded no samples")
    out = {} if loss_fn is None else {"loss": total / seen}
    if loss_fn is not None:
        with no_grad():
            penalty = _penalty(model)
        if penalty is not None:  # Keras' evaluate and val_loss include the weight penalties
            out["loss"] += float(penalty.data)
    out.update(_results(metrics))
    return out


# ====================================================================== data preparation
def _is_loader(x: Any) -> bool:
    return isinstance(x, DataLoader) or (hasattr(x, "__iter__") and hasattr(x, "batch_size")
                                         and hasattr(x, "dataset"))  # fmt: skip


def _is_dataset(x: Any) -> bool:
    return (
        not isinstance(x, (np.ndarray, Tensor, list, tuple))
        and hasattr(x, "__len__")
        and hasattr(x, "__getitem__")
    )


def _prepare_training_data(x: Any, y: Any, batch_size: int, validation_split: float,
                           validation_data: Any, shuffle: bool, sample_weight: Any,
                           dtype: Any, steps_per_epoch: int | None = None,
                           validation_steps: int | None = None
                           ) -> tuple[Any, Any, dict[str, Any] | None]:  # fmt: skip
    """(train loader, validation loader or None, arrays dict for array inputs or None)."""
    if isinstance(validation_split, bool) or not isinstance(validation_split, (int, float)):
        raise TypeError(
            f"fit: validation_split must be a number in (0, 1), got {validation_split!r}"
        )
    if validation_split != 0 and not 0.0 < validation_split < 1.0:
        raise ValueError(
            f"fit: validation_split must be in (0, 1) (a fraction of the data), got "
            f"{validation_split}; use 0 for no validation"
        )
    if validation_split and validation_data is not None:
        raise ValueError("fit: give validation_split or validation_data, not both")
    arrays: dict[str, Any] | None = None
    if steps_per_epoch is not None and not is_batch_source(x):
        raise ValueError(
            "fit: steps_per_epoch applies to a generator or a PyDataset x; with arrays, a Dataset "
            "or a DataLoader an epoch is one pass over the data (choose batch_size instead)"
        )
    if validation_steps is not None and not is_batch_source(validation_data):
        raise ValueError("fit: validation_steps applies to validation_data given as a generator "
                         "or a PyDataset")  # fmt: skip
    if is_batch_source(x):
        what = "a generator" if not hasattr(x, "__getitem__") else "a PyDataset"
        if y is not None:
            raise ValueError(f"fit: x is {what}, which yields the targets itself; pass y=None")
        if sample_weight is not None:
            raise ValueError(f"fit: x is {what}; yield (x, y, sample_weight) from it instead of "
                             "passing sample_weight")  # fmt: skip
        if validation_split:
            raise ValueError(f"fit: validation_split is only supported for arrays (x is {what}); "
                             "pass validation_data instead")  # fmt: skip
        train_loader: Any = BatchLoader(x, steps_per_epoch, shuffle=shuffle)
    elif _is_loader(x) or _is_dataset(x):
        what = "a DataLoader" if _is_loader(x) else "a Dataset"
        if y is not None:
            raise ValueError(f"fit: x is {what}, which yields the targets itself; pass y=None")
        if sample_weight is not None:
            raise ValueError(f"fit: x is {what}; yield (x, y, sample_weight) from it instead of "
                             "passing sample_weight")  # fmt: skip
        dataset = x.dataset if _is_loader(x) else x
        _check_finite_dataset(dataset, "x")
        if _is_loader(x):
            if validation_split:
                raise ValueError(
                    "fit: validation_split cannot split a DataLoader; pass validation_data, or "
                    "pass the Dataset or the arrays instead"
                )
            train_loader = x
        else:
            batch_size = _check_int("batch_size", batch_size, minimum=1)
            if validation_split:
                n = len(dataset)
                split_at = _split_point(n, validation_split)
                val_ds = Subset(dataset, np.arange(split_at, n))
                dataset = Subset(dataset, np.arange(split_at))
                validation_data = val_ds
            if len(dataset) == 0:
                raise ValueError("fit: x has no samples")
            train_loader = DataLoader(dataset, batch_size=batch_size, shuffle=shuffle)
    else:
        batch_size = _check_int("batch_size", batch_size, minimum=1)
        if y is None:
            raise ValueError(
                "fit: y is required when x is an array (for an autoencoder pass y=x); or pass "
                "a Dataset/DataLoader as x"
            )
        xa, ya = _as_input(x, "x", dtype), _as_target(y, "y", dtype)
        _check_lengths(xa, ya, "x", "y")
        wa = None if sample_weight is None else _as_weights(sample_weight, len(xa), "sample_weight")
        _check_finite(xa, "x")
        _check_finite(ya, "y")
        arrays = {"x": xa, "y": ya, "x_val": None, "y_val": None}
        if validation_split:
            split_at = _split_point(len(xa), validation_split)
            validation_data = (xa[split_at:], ya[split_at:])
            if wa is not None:
                validation_data = (*validation_data, wa[split_at:])
            xa, ya = xa[:split_at], ya[:split_at]
            wa = None if wa is None else wa[:split_at]
            arrays.update(x=xa, y=ya)
        if len(xa) == 0:
            raise ValueError("fit: x has no samples")
        data = (xa, ya) if wa is None else (xa, ya, wa)
        train_loader = DataLoader(TensorDataset(*data), batch_size=batch_size, shuffle=shuffle)
    val_loader = None
    if is_batch_source(validation_data):
        val_loader = BatchLoader(validation_data, validation_steps, who="fit: validation_steps")
    elif validation_data is not None:
        val_loader = _validation_loader(
            validation_data, batch_size if isinstance(batch_size, int) else 32, dtype
        )
        if arrays is not None and isinstance(val_loader.dataset, TensorDataset):
            va = val_loader.dataset.arrays
            arrays.update(x_val=va[0], y_val=va[1] if len(va) > 1 else None)
    return train_loader, val_loader, arrays


def _split_point(n: int, fraction: float) -> int:
    split_at = int(math.floor(n * (1.0 - fraction)))
    if split_at <= 0 or split_at >= n:
        raise ValueError(
            f"fit: validation_split={fraction} of {n} samples leaves "
            f"{split_at} for training and {n - split_at} for validation; both need at least one"
        )
    return split_at


def _validation_loader(data: Any, batch_size: int, dtype: Any) -> Any:
    if _is_loader(data):
        return data
    if _is_dataset(data):
        _check_finite_dataset(data, "validation_data")
        return DataLoader(data, batch_size=batch_size, shuffle=False)
    if not isinstance(data, (tuple, list)) or len(data) not in (2, 3):
        raise TypeError(
            "fit: validation_data must be (x_val, y_val), (x_val, y_val, sample_weight_val), a "
            f"Dataset or a DataLoader, got {type(data).__name__}"
        )
    xv, yv = _as_input(data[0], "validation x", dtype), _as_target(data[1], "validation y", dtype)
    _check_lengths(xv, yv, "validation x", "validation y")
    _check_finite(xv, "validation x")
    _check_finite(yv, "validation y")
    parts = [xv, yv]
    if len(data) == 3 and data[2] is not None:
        parts.append(_as_weights(data[2], len(xv), "validation sample_weight"))
    if len(xv) == 0:
        raise ValueError("fit: validation_data has no samples")
    return DataLoader(TensorDataset(*parts), batch_size=batch_size, shuffle=False)


def _eval_loader(x: Any, y: Any, sample_weight: Any, batch_size: int, dtype: Any, who: str,
                 need_y: bool = True, steps: int | None = None) -> Any:  # fmt: skip
    if is_batch_source(x):
        if y is not None or sample_weight is not None:
            raise ValueError(f"{who}: x is a generator or PyDataset, which yields the targets (and "
                             "weights) itself; pass y=None and no sample_weight")  # fmt: skip
        return BatchLoader(x, steps, who=who)
    if steps is not None:
        raise ValueError(f"{who}: steps applies to a generator or a PyDataset x")
    if _is_loader(x):
        return x
    batch_size = _check_int("batch_size", batch_size, minimum=1)
    if _is_dataset(x):
        return DataLoader(x, batch_size=batch_size, shuffle=False)
    xa = _as_input(x, "x", dtype)
    _check_finite(xa, "x")
    if not need_y:
        return DataLoader(TensorDataset(xa), batch_size=batch_size, shuffle=False)
    if y is None:
        raise ValueError(f"{who}: y is required when x is an array")
    ya = _as_target(y, "y", dtype)
    _check_lengths(xa, ya, "x", "y")
    _check_finite(ya, "y")
    parts = [xa, ya]
    if sample_weight is not None:
        parts.append(_as_weights(sample_weight, len(xa), "sample_weight"))
    return DataLoader(TensorDataset(*parts), batch_size=batch_size, shuffle=False)


def _as_array(x: Any, name: str) -> np.ndarray:
    if isinstance(x, Tensor):
        return x.data
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name}: cannot convert {type(x).__name__} to an array ({err})") from err
    if arr.dtype == object:
        raise TypeError(f"{name}: got an object array (ragged lists?); pass a numeric array")
    if arr.ndim == 0:
        raise ValueError(f"{name}: got a scalar; samples must be along axis 0")
    return arr


def _as_input(x: Any, name: str, dtype: Any) -> np.ndarray:
    return _cast_inputs(_as_array(x, name), dtype)


def _cast_inputs(arr: np.ndarray, dtype: Any) -> np.ndarray:
    # Keras casts inputs to floatx: float64 data from NumPy/scikit-learn would otherwise turn a
    # float32 model's activations and gradients into float64.
    if np.issubdtype(arr.dtype, np.floating) and arr.dtype != dtype:
        return arr.astype(dtype)
    return arr


def _as_target(y: Any, name: str, dtype: Any) -> np.ndarray:
    arr = _as_array(y, name)
    if np.issubdtype(arr.dtype, np.floating) and arr.dtype != dtype:
        return arr.astype(dtype)
    if arr.dtype == np.bool_:
        return arr.astype(dtype)
    return arr


def _as_weights(w: Any, n: int, name: str) -> np.ndarray:
    arr = _as_array(w, name).astype(np.float64)
    if arr.shape != (n,):
        raise ValueError(f"{name}: expected one weight per sample, shape ({n},), got {arr.shape}")
    if not np.isfinite(arr).all() or (arr < 0).any():
        raise ValueError(f"{name}: weights must be finite and non-negative")
    return arr


def _check_lengths(xa: np.ndarray, ya: np.ndarray, xname: str, yname: str) -> None:
    if len(xa) != len(ya):
        raise ValueError(
            f"{xname} and {yname} have different numbers of samples: {len(xa)} and {len(ya)} "
            f"({xname}.shape={xa.shape}, {yname}.shape={ya.shape}); they must match along axis 0"
        )


def _check_finite(arr: np.ndarray | None, name: str) -> None:
    if arr is None or not np.issubdtype(arr.dtype, np.inexact):
        return
    bad = ~np.isfinite(arr)
    if bad.any():
        rows = np.unique(np.nonzero(bad.reshape(len(arr), -1) if arr.ndim else bad)[0])
        kind = "NaN" if np.isnan(arr).any() else "infinite values"
        raise ValueError(
            f"{name} contains {kind} in {len(rows)} sample(s) (first rows: {rows[:5].tolist()}); "
            "fix or drop them before training (e.g. x = np.nan_to_num(x) or impute)"
        )


def _check_finite_dataset(dataset: Any, name: str) -> None:
    arrays = getattr(dataset, "arrays", None)
    if isinstance(arrays, tuple):
        for k, a in enumerate(arrays):
            _check_finite(np.asarray(a), f"{name} (field {k})")


def _loader_generator(loader: Any) -> np.random.Generator | None:
    """The loader's own shuffling generator when checkpoints can save it: an np.random.Generator
    (a torch DataLoader's torch.Generator is left out, with a warning once)."""
    gen = getattr(loader, "generator", None)
    if gen is None or isinstance(gen, np.random.Generator):
        return gen
    if not getattr(loader, "_descentlab_warned_rng", False):
        warnings.warn(
            f"checkpoint: the DataLoader's generator is a {type(gen).__module__}."
            f"{type(gen).__name__}, whose state is not saved; a resumed run shuffles differently "
            "from an uninterrupted one (use descentlab.data.DataLoader for exact resumes)",
            UserWarning,
            stacklevel=4,
        )
        with contextlib.suppress(AttributeError, ValueError):  # else: warn every time
            loader._descentlab_warned_rng = True
    return None


def _sampler_generators(loader: Any) -> list[np.random.Generator]:
    """The np.random.Generators of a loader's samplers other than its own `generator`, each once.

    A checkpoint saves their states, so a resumed run draws the same sampler order.
    """
    own = getattr(loader, "generator", None)
    batch_sampler = getattr(loader, "batch_sampler", None)
    found: list[np.random.Generator] = []
    for s in (getattr(loader, "sampler", None), batch_sampler,
              getattr(batch_sampler, "sampler", None)):  # fmt: skip
        gen = getattr(s, "generator", None)
        fresh = gen is not own and all(gen is not g for g in found)
        if isinstance(gen, np.random.Generator) and fresh:
            found.append(gen)
    return found


def _num_batches(loader: Any) -> int | None:
    """Batches per epoch, or None while unknown (a generator not yet read to its end)."""
    try:
        return len(loader)
    except TypeError:
        return None


def _num_samples(loader: Any) -> int | None:
    """Samples per epoch: the sampler's length (a SubsetRandomSampler draws part of the data),
    else the dataset's."""
    batch_sampler = getattr(loader, "batch_sampler", None)
    sampler = getattr(batch_sampler, "sampler", None) or getattr(loader, "sampler", None)
    for source in (sampler, getattr(loader, "dataset", None)):
        try:
            return len(source)
        except TypeError:  # None, or a sampler / dataset without a length
            continue
    return None


def _unpack(batch: Any, dtype: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    if not isinstance(batch, (tuple, list)) or len(batch) not in (2, 3):
        raise ValueError(
            "each batch must be (x, y) or (x, y, sample_weight); got "
            f"{type(batch).__name__} of length {len(batch) if hasattr(batch, '__len__') else '?'}"
        )
    xb = _cast_inputs(np.asarray(batch[0]), dtype)
    yb = np.asarray(batch[1])
    if np.issubdtype(yb.dtype, np.floating) and yb.dtype != dtype:
        yb = yb.astype(dtype)
    wb = None if len(batch) == 2 or batch[2] is None else np.asarray(batch[2], dtype=np.float64)
    return xb, yb, wb


# ====================================================================== weights
def _class_weight_table(class_weight: Mapping[int, float] | None) -> np.ndarray | None:
    if class_weight is None:
        return None
    if not isinstance(class_weight, Mapping) or not class_weight:
        raise TypeError(
            f"fit: class_weight must be a non-empty dict {{class: weight}}, got {class_weight!r}"
        )
    keys = list(class_weight)
    if not all(isinstance(k, (int, np.integer)) and k >= 0 for k in keys):
        raise ValueError(f"fit: class_weight keys must be class indices >= 0, got {keys}")
    table = np.ones(max(int(k) for k in keys) + 1, dtype=np.float64)
    for k, v in class_weight.items():
        if not math.isfinite(float(v)) or float(v) < 0:
            raise ValueError(f"fit: class_weight[{k}] = {v} must be finite and non-negative")
        table[int(k)] = float(v)
    return table


def _combine_weights(
    yb: np.ndarray, wb: np.ndarray | None, table: np.ndarray | None
) -> np.ndarray | None:
    if table is None:
        return wb
    if yb.ndim == 2 and yb.shape[1] > 1:
        classes = yb.argmax(axis=1)  # one-hot / probability targets
    elif np.issubdtype(yb.dtype, np.integer):
        classes = yb.reshape(len(yb))
    else:
        classes = np.rint(yb.reshape(len(yb), -1)[:, 0]).astype(np.int64)  # binary 0/1 targets
    if classes.size and (classes.min() < 0 or classes.max() >= len(table)):
        # classes not named in class_weight keep weight 1 (Keras)
        table = np.concatenate([table, np.ones(int(classes.max()) + 1 - len(table))])
    w = table[classes]
    return w if wb is None else w * wb


# ====================================================================== resolution helpers
def _check_model(model: Any) -> None:
    if not callable(model) or not hasattr(model, "parameters") or not hasattr(model, "train"):
        raise TypeError(f"model must be a descentlab.nn.Module, got {type(model).__name__}")


def _check_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def _param_dtype(model: Any) -> Any:
    for p in model.parameters():
        if np.issubdtype(p.data.dtype, np.floating):
            return p.data.dtype
    return np.dtype(np.float32)


def _resolve_loss(loss: Any) -> Any:
    from descentlab import losses

    if isinstance(loss, (str, losses.Loss)):
        return losses.get(loss)
    if callable(loss):
        return loss
    raise TypeError(
        f"loss must be a descentlab.losses.Loss, a loss name or a function, got {loss!r}"
    )


def _is_class_loss(loss_fn: Any) -> bool:
    name = type(loss_fn).__name__.lower()
    name += getattr(loss_fn, "__name__", "").lower()
    return any(h in name for h in _CLASS_LOSS_HINTS)


def _resolve_optimizer(optimizer: Any, model: Any) -> Any:
    if isinstance(optimizer, str):
        from descentlab.optim import registry

        # The entry's hyperparameters without its lr (tuned for the 2-D lab): the class's own
        # default lr applies, as `optimizer="adam"` means Adam(lr=1e-3) in Keras and PyTorch.
        entry = registry.spec(optimizer)
        hyper = {k: v for k, v in entry.defaults.items() if k not in ("lr", "learning_rate")}
        return entry.constructor(list(model.parameters()), **hyper)
    for attr in ("step", "zero_grad", "param_groups"):
        if not hasattr(optimizer, attr):
            raise TypeError(
                f"optimizer must be a descentlab.optim optimizer or a name like 'adam', got "
                f"{type(optimizer).__name__} (it has no {attr!r})"
            )
    params = list(model.parameters())
    if getattr(optimizer, "built", True) is False and callable(getattr(optimizer, "build", None)):
        optimizer.build(params)  # a Keras-convention optimizer meets its variables here (compile)
    held = {id(p) for group in optimizer.param_groups for p in group.get("params", ())}
    if params and not any(id(p) in held for p in params):
        raise ValueError(
            f"optimizer: the {type(optimizer).__name__} holds none of this model's parameters "
            "(built for another model, or before the model was re-created?); build it from "
            "this model's parameters, e.g. optim.Adam(model.parameters()), or pass a name"
        )
    return optimizer


def _resolve_metrics(metrics: Iterable[Any]) -> list[tuple[str, Any]]:
    from descentlab.train import metrics as metrics_mod

    if isinstance(metrics, (str, bytes)) or not isinstance(metrics, Iterable):
        metrics = [metrics]
    out: list[tuple[str, Any]] = []
    for m in metrics:
        if isinstance(m, str):
            out.append((m, metrics_mod.get(m)))
        elif all(hasattr(m, a) for a in ("reset", "update", "result")):
            out.append((str(getattr(m, "name", type(m).__name__)), copy.deepcopy(m)))
        elif all(hasattr(m, a) for a in ("reset_state", "update_state", "result")):
            metric = metrics_mod.KerasMetric(m)  # a keras.metrics object: Keras names and order
            out.append((metric.name, metric))
        elif isinstance(m, type) and issubclass(m, metrics_mod.Metric):
            metric = m()
            out.append((metric.name, metric))
        elif callable(m):  # fn(y_pred, y_true) -> per-sample values or a batch mean
            metric = metrics_mod.MeanMetricWrapper(m)
            out.append((metric.name, metric))
        else:
            raise TypeError(
                f"metrics: {m!r} is not a metric name (e.g. 'accuracy'), a metric object "
                "(descentlab or Keras) or a function fn(y_pred, y_true)"
            )
    names = [n for n, _ in out]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise ValueError(
            f"metrics: names {sorted(dupes)} appear more than once; give each metric its own "
            "name (a def instead of a lambda, or metrics.MeanMetricWrapper(fn, name=...))"
        )
    return out


def _check_labels(shape: tuple[int, ...], y: np.ndarray | None, name: str) -> None:
    """Class-index labels must lie in [0, C) for a model whose output has shape (n, C)."""
    if y is None or len(y) == 0 or not np.issubdtype(y.dtype, np.integer) or y.ndim != 1:
        return
    if len(shape) != 2:
        return
    c = int(shape[1])
    lo, hi = int(y.min()), int(y.max())
    if c == 1:
        if lo < 0 or hi > 1:
            raise ValueError(
                f"{name}: labels range from {lo} to {hi}, but the model has a single output "
                "(binary classification needs labels 0 and 1); give the last layer one output per "
                "class and use cross-entropy"
            )
        return
    if lo < 0 or hi >= c:
        raise ValueError(
            f"{name}: labels range from {lo} to {hi}, but the model outputs {c} values per sample "
            f"(classes 0 to {c - 1}); give the last layer {max(hi + 1, c)} outputs or re-encode "
            f"the labels as 0..{c - 1}"
        )
