"""Keras' model API on descentlab modules: `Sequential([...])` and subclassed `Model`s with
`compile`, `fit`, `evaluate`, `predict`, `train_on_batch`/`test_on_batch`/`predict_on_batch`,
`summary`, `weights`/`trainable_weights`/`non_trainable_weights`, `get_weights`/`set_weights`,
`save_weights`/`load_weights`, `save` / `load_model` (whole model, see `descentlab.keras.saving`),
`get_config`/`from_config` (Sequential).

`fit`, `evaluate` and `predict` are `descentlab.fit/evaluate/predict` with Keras' defaults: the
optimizer by Keras name comes from `descentlab.keras.optimizers` (Keras' update rules and
defaults; `compile()` with no optimizer means 'rmsprop', as Keras), loss names follow Keras
(`'sparse_categorical_crossentropy'` takes probabilities unless `from_logits=True`), and the
training loss includes the layers' regularization penalties (`model.losses`), as in Keras.

Example:
    >>> from descentlab import keras
    >>> model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(8, activation="relu"),
    ...                           keras.layers.Dense(3, activation="softmax")])
    >>> model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
    ...               metrics=["accuracy"])
    >>> x, y = np.random.default_rng(0).normal(size=(64, 4)), np.arange(64) % 3
    >>> history = model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    >>> sorted(history.history)
    ['accuracy', 'loss']
    >>> model.predict(x[:2]).shape
    (2, 3)
"""

from __future__ import annotations

import collections.abc
import functools
import operator
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from descentlab.data.batches import is_batch_source
from descentlab.keras import layers as _layers
from descentlab.keras.layers import (
    InputSpec,
    KerasWeights,
    Layer,
    adopt_weights,
    auto_name,
    call_in_mode,
    count_weights,
    name_scope,
)
from descentlab.nn.dropout import Dropout as _Dropout
from descentlab.nn.module import Module
from descentlab.nn.module import Sequential as _TorchSequential
from descentlab.tensor import Tensor, no_grad

__all__ = ["Model", "Sequential"]


def __getattr__(name: str) -> Any:
    """`models.load_model` / `models.save_model` are `keras.saving`'s (which imports this module)."""
    if name in ("load_model", "save_model"):
        from descentlab.keras import saving

        return getattr(saving, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _verbose(verbose: Any) -> int:
    """Keras' verbose: 'auto' is 1 (a progress bar), else 0, 1 or 2."""
    if verbose == "auto":
        return 1
    if verbose not in (0, 1, 2):
        raise ValueError(f"verbose must be 'auto', 0, 1 or 2, got {verbose!r}")
    return int(verbose)


class _Named:
    """A metric under a name of its own (a weighted metric whose name `metrics` already took:
    Keras logs it as 'weighted_<name>')."""

    def __init__(self, name: str, metric: Any) -> None:
        self.name, self.metric = name, metric

    def reset(self) -> None:
        self.metric.reset()

    def update(self, y_pred: Any, y_true: Any, sample_weight: Any = None) -> None:
        self.metric.update(y_pred, y_true, sample_weight=sample_weight)

    def result(self) -> Any:
        return self.metric.result()


class _Unweighted(_Named):
    """A metric that ignores sample weights: Keras weights only `weighted_metrics` by
    sample_weight / class_weight; `metrics` always count every sample once."""

    def update(self, y_pred: Any, y_true: Any, sample_weight: Any = None) -> None:
        self.metric.update(y_pred, y_true)


def _compile_metrics(metrics: Any, weighted_metrics: Any) -> list[Any]:
    from descentlab.train.fit import _resolve_metrics

    for what, value in (("metrics", metrics), ("weighted_metrics", weighted_metrics)):
        if isinstance(value, dict):
            raise ValueError(f"compile: {what} as a dict needs a model with named outputs, which "
                             "descentlab.keras models do not have; pass a list")  # fmt: skip
    plain = [_Unweighted(name, m) for name, m in _resolve_metrics(metrics or [])]
    taken = {m.name for m in plain}
    weighted = []
    for name, m in _resolve_metrics(weighted_metrics or []):
        if name in taken:  # Keras logs both: 'accuracy' and 'weighted_accuracy'
            m = _Named(f"weighted_{name}", m)
        weighted.append(m)
    return plain + weighted


def _has_batch_axis(model: Model, x: Any, who: str) -> None:
    """Keras rejects one sample given without its batch axis; say so instead of guessing."""
    shape = getattr(x, "shape", None)
    if model._input_shape is not None and shape is not None and tuple(shape) == model._input_shape:
        raise ValueError(
            f"{who}: x has shape {tuple(shape)}, one sample without the batch axis; the model "
            f"expects (batch, {', '.join(map(str, model._input_shape))}): pass x[None] (or "
            "np.expand_dims(x, 0))"
        )


def _keras_result(scores: dict[str, Any], return_dict: bool) -> Any:
    """What Keras' evaluate / train_on_batch / test_on_batch return: the dict with
    return_dict=True, else the loss alone when there are no metrics, else [loss, *metrics]."""
    if return_dict:
        return scores
    values = list(scores.values())
    return values[0] if len(values) == 1 else values


def _refuse_both_weightings(x: Any, sample_weight: Any, class_weight: Any) -> None:
    """Keras 3 refuses class_weight together with sample weights (given, or yielded by a
    dataset) rather than multiplying them; so do we, with Keras' message and the fix."""
    if class_weight is None:
        return
    fix = (" Fold the class weights into the sample weights instead (multiply each sample's "
           "weight by its class's weight) and pass sample_weight alone.")  # fmt: skip
    if sample_weight is not None:
        raise ValueError("You cannot `class_weight` and `sample_weight` at the same time." + fix)
    # Keras 3 takes class_weight only with arrays (and datasets it can map over): not with a
    # Python generator or a DataLoader, whose batches may already carry weights
    if isinstance(x, collections.abc.Iterator):
        raise ValueError(
            "Argument `class_weight` is not supported for Python generator inputs. Received: "
            f"class_weight={class_weight!r}. Yield (x, y, sample_weight) batches with each "
            "sample's class weight folded in instead, or pass arrays."
        )
    if any(c.__name__ == "DataLoader" for c in type(x).__mro__):  # ours or torch's, or a subclass
        raise ValueError(
            "Argument `class_weight` is not supported for DataLoader inputs. Received: "
            f"class_weight={class_weight!r}. Make the dataset return (x, y, sample_weight) with "
            "each sample's class weight folded in instead, or pass arrays."
        )
    dataset = getattr(x, "dataset", x)
    arrays = getattr(dataset, "arrays", None)
    weighted = isinstance(arrays, tuple) and len(arrays) == 3  # a TensorDataset of (x, y, w)
    if is_batch_source(x) and len(x):  # a PyDataset: its batches say whether they carry weights
        first = x[0]
        weighted = isinstance(first, (tuple, list)) and len(first) == 3 and first[2] is not None
    if weighted:
        raise ValueError(
            "You cannot specify `class_weight` and `sample_weight` at the same time (x yields "
            "(x, y, sample_weight) batches)." + fix
        )


class Model(KerasWeights, Module):
    """A Module with Keras' training methods. Subclass it and define `call(inputs)` (Keras'
    subclassing API), or use `Sequential`.

    Example:
        >>> from descentlab.keras import layers
        >>> class TwoLayer(Model):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.hidden, self.out = layers.Dense(16, activation="relu"), layers.Dense(1)
        ...     def call(self, x):
        ...         return self.out(self.hidden(x))
        >>> TwoLayer()(dl.randn(5, 3)).shape
        (5, 1)
    """

    def __init__(self, name: str | None = None) -> None:
        super().__init__()
        self.name = name or auto_name(type(self).__name__)
        self._compiled: dict[str, Any] | None = None
        self._input_shape: tuple[int, ...] | None = None

    def call(self, inputs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define call(inputs)")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with name_scope(self):  # weights built now get Keras paths 'model_name/layer/kernel'
            return call_in_mode(self, super().__call__, args, kwargs)

    def forward(self, inputs: Any) -> Any:
        if self._input_shape is None and hasattr(inputs, "shape"):
            self._input_shape = tuple(inputs.shape[1:])
        return self.call(inputs)

    # ------------------------------------------------------------------ weights
    @property
    def layers(self) -> list[Module]:
        """The direct sub-layers, in order."""
        return list(self.children())

    def get_layer(self, name: str | None = None, index: int | None = None) -> Module:
        """A direct sub-layer by its `name` (Keras' 'dense', 'dense_1', ... or the one given) or
        by its `index` in `layers`."""
        if (name is None) == (index is None):
            raise ValueError("get_layer: give either name or index")
        layers = self.layers
        if index is not None:
            if not -len(layers) <= index < len(layers):
                raise ValueError(f"get_layer: index {index} out of range for {len(layers)} layers")
            return layers[index]
        for layer in layers:
            if getattr(layer, "name", None) == name:
                return layer
        known = [getattr(layer, "name", None) for layer in layers]
        raise ValueError(f"get_layer: no layer named {name!r}; the layers are {known}")

    def count_params(self) -> int:
        """The number of weights, trainable and not (BatchNormalization's moving statistics
        count, as in Keras)."""
        return sum(count_weights(self))

    @property
    def trainable(self) -> bool:
        """False freezes every layer (`model.trainable = False`, Keras' transfer-learning idiom)."""
        return self.__dict__.get("_trainable", True)

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self.__dict__["_trainable"] = bool(value)
        for m in self.modules():
            if isinstance(m, Layer):
                m.trainable = value
            else:
                for p in m.parameters(recurse=False):
                    p.requires_grad = bool(value)

    @property
    def losses(self) -> list[Tensor]:
        """Every layer's regularization penalty (kernel_regularizer, ...) on the current weights."""
        return [t for m in self.modules() if isinstance(m, Layer) for t in m.losses]

    def regularization_loss(self) -> Tensor | None:
        """The sum of `losses` (added to the training loss by `fit`), or None when there are none."""
        terms = self.losses
        return functools.reduce(operator.add, terms) if terms else None

    def save_weights(self, filepath: str | Path) -> Path:
        """Write the weights to `filepath` (safetensors, atomically; Keras' `.weights.h5` is an
        HDF5 file instead: here any name works and the format is always safetensors)."""
        from descentlab.io import save

        return save(self, filepath)

    def load_weights(self, filepath: str | Path) -> None:
        """Read weights written by `save_weights` (or `descentlab.save`); the model is unchanged
        when the file does not fit it."""
        from descentlab.io import load

        load(filepath, self)

    def save(self, filepath: str | Path, overwrite: bool = True) -> Path:
        """Save the whole model to one file: architecture, weights and, when compiled, the
        optimizer, loss, metrics and optimizer state; `keras.models.load_model(filepath)` rebuilds
        it. See `descentlab.keras.saving` (descentlab's own format, not Keras' zip)."""
        from descentlab.keras.saving import save_model

        return save_model(self, filepath, overwrite=overwrite)

    def get_config(self) -> dict[str, Any]:
        """Keras' `get_config`: only a `Sequential` can describe itself; a subclassed Model's
        architecture is the Python code of its `call`."""
        cls = type(self).__name__
        raise NotImplementedError(
            f"{cls} is a subclassed Model (Keras' subclassing API): its architecture is the "
            f"Python code of call(), which cannot be rebuilt from a file. Save the weights with "
            f"model.save_weights(path); to restore, create {cls}(...) again and call "
            "model.load_weights(path)"
        )

    def checkpoint_extra(self) -> dict[str, Any]:
        """What a training checkpoint adds for this model (see `saving.checkpoint_extra`): its
        description, so `load_model` reads the checkpoint; {} when it cannot be described (a
        subclassed Model, a Python-function activation), as `resume_from` does not need it."""
        from descentlab.keras.saving import checkpoint_extra

        try:
            return checkpoint_extra(self)
        except (ValueError, TypeError, NotImplementedError):
            return {}

    # ------------------------------------------------------------------ training
    def compile(self, optimizer: Any = "rmsprop", loss: Any = None, metrics: Any = None,
                loss_weights: Any = None, **kwargs: Any) -> None:  # fmt: skip
        """Choose the optimizer (a Keras name or an optimizer object), the loss (a Keras name,
        a loss object or a function fn(y_true, y_pred)) and the metrics used by `fit`."""
        if loss_weights is not None:
            raise ValueError("compile: loss_weights needs a model with several outputs, which "
                             "descentlab.keras models do not have")  # fmt: skip
        unknown = set(kwargs) - {"run_eagerly", "jit_compile", "steps_per_execution",
                                 "weighted_metrics", "auto_scale_loss"}  # fmt: skip
        if unknown:
            raise TypeError(f"compile got unexpected keyword arguments {sorted(unknown)}")
        from descentlab.keras import losses, optimizers

        if isinstance(optimizer, str):
            optimizer = optimizers.get(optimizer)
        else:
            self._check_own_optimizer(optimizer)
        if isinstance(metrics, str):
            metrics = [metrics]
        weighted = kwargs.get("weighted_metrics")
        # what was asked for, as given (saved by model.save, as Keras' compile config)
        args = {"loss": loss, "metrics": metrics, "weighted_metrics": weighted}
        if loss is not None:
            loss = losses.get(loss)  # a plain function is Keras' fn(y_true, y_pred)
        metric_list = _compile_metrics(metrics, weighted)
        self._compiled = {"optimizer": optimizer, "loss": loss, "metrics": metric_list,
                          "args": args}  # fmt: skip

    def _check_own_optimizer(self, optimizer: Any) -> None:
        """Keras refuses an optimizer already built for another model's variables; say so here,
        at compile time, in Keras' terms."""
        groups = getattr(optimizer, "param_groups", None)
        if not groups or getattr(optimizer, "built", True) is False:
            return
        held = {id(p) for group in groups for p in group.get("params", ())}
        mine = list(self.parameters())
        if held and mine and not any(id(p) in held for p in mine):
            raise ValueError(
                f"compile: this {type(optimizer).__name__} was already used with another model "
                "(Keras: 'This optimizer can only be called for the variables it was originally "
                "built with'); create a new optimizer for each model, e.g. "
                "keras.optimizers.SGD(learning_rate=0.01)"
            )

    @property
    def optimizer(self) -> Any:
        return None if self._compiled is None else self._compiled["optimizer"]

    def _require_compiled(self, what: str) -> dict[str, Any]:
        if self._compiled is None:
            raise RuntimeError(f"call model.compile(optimizer=..., loss=...) before {what}()")
        if self._compiled["loss"] is None and what in ("fit", "train_on_batch"):
            raise ValueError(f"{what}: compile() was called without a loss; pass loss=...")
        return self._compiled

    def fit(self, x: Any = None, y: Any = None, batch_size: int | None = None, epochs: int = 1,
            verbose: Any = "auto", callbacks: Iterable[Any] | None = None,
            validation_split: float = 0.0, validation_data: Any = None, shuffle: bool = True,
            class_weight: Any = None, sample_weight: Any = None, initial_epoch: int = 0,
            **kwargs: Any) -> Any:  # fmt: skip
        """Train for `epochs` passes over (x, y), Keras' arguments and defaults (batch 32);
        returns the History (`history.history["loss"]`, ...)."""
        from descentlab.train.fit import fit

        c = self._require_compiled("fit")
        _refuse_both_weightings(x, sample_weight, class_weight)
        _has_batch_axis(self, x, "fit")
        self._note_input(x)
        self._check_own_optimizer(c["optimizer"])
        history = fit(self, x, y, loss=c["loss"], optimizer=c["optimizer"],
                      batch_size=32 if batch_size is None else batch_size, epochs=epochs,
                      validation_split=validation_split, validation_data=validation_data,
                      shuffle=shuffle, class_weight=class_weight, sample_weight=sample_weight,
                      metrics=c["metrics"], callbacks=list(callbacks or []),
                      initial_epoch=initial_epoch, verbose=_verbose(verbose), **kwargs)  # fmt: skip
        # Keras ends fit with the optimizer's finalize_variable_values(): with use_ema=True the
        # model keeps the averaged weights
        finalize = getattr(c["optimizer"], "finalize_variable_values", None)
        if finalize is not None and getattr(c["optimizer"], "built", False):
            finalize()
        # Keras' History holds the loss and metrics only (a learning-rate callback adds
        # 'learning_rate'); descentlab.fit also logs 'lr' every epoch.
        lr = history.history.pop("lr", None)
        if lr is not None and any(type(cb).__name__ in ("LearningRateScheduler", "ReduceLROnPlateau")
                                  for cb in callbacks or []):  # fmt: skip
            history.history["learning_rate"] = lr
        return history

    def evaluate(self, x: Any = None, y: Any = None, batch_size: int | None = None,
                 verbose: Any = "auto", sample_weight: Any = None, steps: int | None = None,
                 return_dict: bool = False) -> Any:  # fmt: skip
        """The loss (with the regularization penalties, as Keras) and metrics on (x, y): a float
        when there are no metrics, else [loss, metric, ...], or a dict with return_dict=True.
        `x` may be a generator of batches or a PyDataset, read for `steps` batches."""
        scores = self._scores(x, y, 32 if batch_size is None else batch_size, sample_weight,
                              "evaluate", steps)  # fmt: skip
        if _verbose(verbose):
            shown = {k: v for k, v in scores.items() if np.ndim(v) == 0}
            print(" - ".join(f"{k}: {v:.4f}" for k, v in shown.items()), flush=True)
        return _keras_result(scores, return_dict)

    def train_on_batch(self, x: Any, y: Any = None, sample_weight: Any = None,
                       class_weight: Any = None, return_dict: bool = False) -> Any:  # fmt: skip
        """One optimizer update on exactly the batch (x, y), the step `fit` takes; returns this
        batch's loss (with the regularization penalties), a list [loss, *metrics] when compiled
        with metrics, or a dict with return_dict=True.

        Convention: Keras 3's `train_on_batch`: metrics are reset at each call, so they describe
        this batch alone (from the forward pass before the update); class_weight and
        sample_weight cannot both be given.

        Example:
            >>> model.compile(optimizer="sgd", loss="mse")                  # doctest: +SKIP
            >>> loss = model.train_on_batch(x[:32], y[:32])                 # doctest: +SKIP
        """
        from descentlab.train.fit import _train_on_batch

        c = self._require_compiled("train_on_batch")
        if class_weight is not None and sample_weight is not None:
            raise ValueError(
                "train_on_batch: Arguments `sample_weight` and `class_weight` cannot be specified "
                "at the same time (Keras); fold the class weights into sample_weight (multiply "
                "each sample's weight by its class's weight) and pass sample_weight alone"
            )
        _has_batch_axis(self, x, "train_on_batch")
        self._note_input(x)
        self._check_own_optimizer(c["optimizer"])
        scores = _train_on_batch(self, x, y, loss=c["loss"], optimizer=c["optimizer"],
                                 metrics=c["metrics"], class_weight=class_weight,
                                 sample_weight=sample_weight)  # fmt: skip
        return _keras_result(scores, return_dict)

    def test_on_batch(self, x: Any, y: Any = None, sample_weight: Any = None,
                      return_dict: bool = False) -> Any:  # fmt: skip
        """The loss (with the regularization penalties) and metrics on exactly the batch (x, y),
        in evaluation mode: a float, [loss, *metrics], or a dict with return_dict=True.

        Convention: Keras 3's `test_on_batch`: `evaluate` on one batch, metrics reset first.

        Example:
            >>> loss = model.test_on_batch(x[:32], y[:32])                  # doctest: +SKIP
        """
        scores = self._scores(x, y, max(len(x), 1), sample_weight, "test_on_batch")
        return _keras_result(scores, return_dict)

    def _scores(self, x: Any, y: Any, batch_size: int, sample_weight: Any,
                who: str, steps: int | None = None) -> dict[str, Any]:  # fmt: skip
        """descentlab.evaluate with the compiled loss and metrics (evaluate, test_on_batch)."""
        from descentlab.train.fit import evaluate

        c = self._require_compiled(who)
        _has_batch_axis(self, x, who)
        return evaluate(self, x, y, loss=c["loss"], metrics=c["metrics"], batch_size=batch_size,
                        sample_weight=sample_weight, verbose=0, steps=steps)  # fmt: skip

    def predict(self, x: Any, batch_size: int | None = None, verbose: Any = "auto",
                steps: int | None = None) -> np.ndarray:  # fmt: skip
        """The model's outputs for x as a NumPy array, batch by batch, in evaluation mode. `x`
        may be a generator of batches or a PyDataset, read for `steps` batches."""
        from descentlab.train.fit import predict

        _has_batch_axis(self, x, "predict")
        return predict(self, x, batch_size=32 if batch_size is None else batch_size, steps=steps)

    def predict_on_batch(self, x: Any) -> np.ndarray:
        """The outputs for one batch x, in evaluation mode (Keras' `predict_on_batch`)."""
        return self.predict(x, batch_size=max(len(x), 1), verbose=0)

    def summary(self, print_fn: Any = print) -> str:
        """Keras-like table of layers, output shapes and parameter counts (needs a built model:
        an `Input`, `input_shape=` on the first layer, or one call / fit first)."""
        if self._input_shape is None:
            raise ValueError(
                "summary: the model does not know its input shape yet; start the Sequential with "
                "keras.Input(shape=...), or call the model (or fit it) once"
            )
        rows = self._summary_rows()
        header = ("Layer (type)", "Output Shape", "Param #")
        w0 = max(len(header[0]), *(len(r[0]) for r in rows)) + 2
        w1 = max(len(header[1]), *(len(r[1]) for r in rows)) + 2
        w2 = max(len(header[2]), *(len(f"{r[2]:,}") for r in rows))
        trainable, frozen = count_weights(self)
        itemsize = next((p.data.itemsize for p in self.parameters()), 4)
        lines = [f'Model: "{self.name}"', f"{header[0]:<{w0}}{header[1]:<{w1}}{header[2]:>{w2}}",
                 "=" * (w0 + w1 + w2)]  # fmt: skip
        lines += [f"{a:<{w0}}{b:<{w1}}{c:>{w2},}" for a, b, c in rows]
        lines.append("=" * (w0 + w1 + w2))
        for label, n in (("Total", trainable + frozen), ("Trainable", trainable),
                         ("Non-trainable", frozen)):  # fmt: skip
            lines.append(f" {label} params: {n:,} ({_readable_size(n * itemsize)})")
        text = "\n".join(lines)
        if print_fn is not None:
            print_fn(text)
        return text

    def _summary_rows(self) -> list[tuple[str, str, int]]:
        """One row per Keras layer in call order: 'name (Type)', output shape, weight count."""
        layers: list[Module] = []

        def collect(module: Module) -> None:
            for child in module.children():
                keras_like = isinstance(child, (Layer, Model, _Dropout))
                if keras_like or not child._modules:
                    layers.append(child)
                else:
                    collect(child)

        collect(self)
        outputs: dict[int, str] = {}

        def record(module: Module, inputs: tuple, out: Any) -> None:
            if id(module) not in outputs:
                shape = getattr(out, "shape", None)
                outputs[id(module)] = "?" if shape is None else str((None, *shape[1:]))

        handles = [m.register_forward_hook(record) for m in layers]
        modes = {id(m): m.training for m in self.modules()}
        try:
            self.eval()
            with no_grad():
                self(Tensor(np.zeros((2, *self._input_shape), np.float32)))
        finally:
            for h in handles:
                h.remove()
            for m in self.modules():
                object.__setattr__(m, "training", modes.get(id(m), m.training))
        names = {id(m): n for n, m in self.named_modules()}
        return [(f"{getattr(m, 'name', None) or names[id(m)]} ({type(m).__name__})",
                 outputs.get(id(m), "(unused)"), sum(count_weights(m)))
                for m in layers]  # fmt: skip

    def _note_input(self, x: Any) -> None:
        if self._input_shape is None and hasattr(x, "shape") and len(x.shape) > 1:
            self._input_shape = tuple(x.shape[1:])


def _readable_size(nbytes: float) -> str:
    """Keras' size in a summary: '172.00 B', '1.54 KB', ... (powers of 1024)."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if nbytes < 1024:
            return f"{nbytes:.2f} {unit}"
        nbytes /= 1024
    return f"{nbytes:.2f} PB"


class Sequential(Model, _TorchSequential):
    """Keras' `Sequential([layer, ...])`: layers applied in order. An `Input(shape=...)` first
    (or `input_shape=` on the first layer) builds every layer at once; otherwise the first call
    or `fit` does.

    Example:
        >>> from descentlab.keras import layers, Input
        >>> model = Sequential([Input(shape=(64,)), layers.Dense(32, activation="relu"),
        ...                     layers.Dense(10, activation="softmax")])
        >>> [w.shape for w in model.get_weights()]
        [(64, 32), (32,), (32, 10), (10,)]
    """

    def __init__(self, layers: Iterable[Any] | None = None, name: str | None = None) -> None:
        Model.__init__(self, name)
        for item in list(layers or []):
            self.add(item)

    def add(self, layer: Any) -> None:
        """Append a layer (or set the input shape with an `Input`)."""
        if isinstance(layer, InputSpec):
            if self._modules:
                raise ValueError("Sequential: an Input can only come first")
            self._input_shape = layer.shape
            return
        if not isinstance(layer, Module):
            raise TypeError(
                f"Sequential.add: expected a layer (a Module), got {type(layer).__name__}"
            )
        if not self._modules and self._input_shape is None:
            shape = getattr(layer, "input_shape", None)
            if shape is not None:
                self._input_shape = tuple(shape)
                adopt_weights(layer, self)  # Keras builds it inside the model: 'model/dense/...'
        self.add_module(str(len(self._modules)), layer)
        if self._input_shape is not None:
            self.build()

    def build(self, input_shape: Sequence[int | None] | None = None) -> None:
        """Create every layer's weights with one forward pass on zeros of `input_shape`.

        As in Keras, `input_shape` includes the batch axis, whose size is not used (None or any
        int): `model.build((None, 784))` for samples of 784 features.

        Example:
            >>> from descentlab.keras import layers
            >>> model = Sequential([layers.Dense(3)])
            >>> model.build((None, 4))
            >>> model.layers[0].kernel.shape
            (4, 3)
        """
        if input_shape is not None:
            shape = tuple(input_shape)
            if len(shape) < 2 or any(d is None for d in shape[1:]):
                raise ValueError(
                    f"Sequential.build: input_shape must be (batch, *sample_shape) with known "
                    f"sample dimensions, e.g. (None, 784), got {shape!r}"
                )
            self._input_shape = shape[1:]
        if self._input_shape is None or not self._modules:
            return
        was_training = self.training
        self.eval()
        try:
            with no_grad(), name_scope(self):
                _TorchSequential.forward(
                    self, Tensor(np.zeros((1, *self._input_shape), np.float32))
                )
        finally:
            self.train(was_training)

    def get_config(self) -> dict[str, Any]:
        """Keras' config of a Sequential: its name, `trainable`, each layer's class name and
        config in order (`keras.layers.serialize`), and `build_input_shape` (None, *sample shape)
        when known.

        Example:
            >>> from descentlab.keras import layers, Input
            >>> config = Sequential([Input(shape=(4,)), layers.Dense(2)], name="tiny").get_config()
            >>> config["build_input_shape"], [layer["class_name"] for layer in config["layers"]]
            ((None, 4), ['Dense'])
            >>> Sequential.from_config(config).layers[0].kernel.shape
            (4, 2)
        """
        shape = None if self._input_shape is None else (None, *self._input_shape)
        return {"name": self.name, "trainable": self.trainable,
                "layers": [_layers.serialize(layer) for layer in self.layers],
                "build_input_shape": shape}  # fmt: skip

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Sequential:
        """Inverse of `get_config`: new layers (fresh weights), built when the input shape is known."""
        shape = config.get("build_input_shape")
        items = [] if shape is None else [InputSpec(shape[1:])]
        model = cls([*items, *map(_layers.deserialize, config["layers"])], name=config.get("name"))
        if not config.get("trainable", True):  # the model's own flag; each layer's came with it
            model.__dict__["_trainable"] = False
        return model

    def call(self, inputs: Any) -> Any:
        return _TorchSequential.forward(self, inputs)
