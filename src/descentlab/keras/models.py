"""Keras' model API on descentlab modules: `Sequential([...])` and subclassed `Model`s with
`compile`, `fit`, `evaluate`, `predict`, `summary`, `get_weights`/`set_weights`,
`save_weights`/`load_weights`.

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
    ['accuracy', 'loss', 'lr']
    >>> model.predict(x[:2]).shape
    (2, 3)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from descentlab.keras.layers import InputSpec, Layer
from descentlab.nn.module import Module
from descentlab.nn.module import Sequential as _TorchSequential
from descentlab.tensor import Tensor, no_grad

__all__ = ["Model", "Sequential"]


def _verbose(verbose: Any) -> int:
    """Keras' verbose: 'auto' is 1 (a progress bar), else 0, 1 or 2."""
    if verbose == "auto":
        return 1
    if verbose not in (0, 1, 2):
        raise ValueError(f"verbose must be 'auto', 0, 1 or 2, got {verbose!r}")
    return int(verbose)


class Model(Module):
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
        self.name = name
        self._compiled: dict[str, Any] | None = None
        self._input_shape: tuple[int, ...] | None = None

    def call(self, inputs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define call(inputs)")

    def forward(self, inputs: Any) -> Any:
        if self._input_shape is None and hasattr(inputs, "shape"):
            self._input_shape = tuple(inputs.shape[1:])
        return self.call(inputs)

    # ------------------------------------------------------------------ weights
    @property
    def layers(self) -> list[Module]:
        """The direct sub-layers, in order."""
        return list(self.children())

    @property
    def losses(self) -> list[Tensor]:
        """Every layer's regularization penalty (kernel_regularizer, ...) on the current weights."""
        return [t for m in self.modules() if isinstance(m, Layer) for t in m.losses]

    def regularization_loss(self) -> Tensor | None:
        """The sum of `losses` (added to the training loss by `fit`), or None when there are none."""
        terms = self.losses
        if not terms:
            return None
        total = terms[0]
        for t in terms[1:]:
            total = total + t
        return total

    def get_weights(self) -> list[np.ndarray]:
        """Copies of every weight, layer by layer in Keras order (e.g. kernel, bias; gamma, beta,
        moving_mean, moving_variance), so `ours.set_weights(keras_model.get_weights())` works."""
        return [np.array(w) for w in self._weight_arrays()]

    def set_weights(self, weights: Sequence[Any]) -> None:
        """Load arrays given in `get_weights()` order; counts and shapes must match."""
        mine = self._weight_arrays()
        if len(weights) != len(mine):
            raise ValueError(f"set_weights: the model has {len(mine)} weights, got {len(weights)}")
        for i, (dst, src) in enumerate(zip(mine, weights)):
            src = np.asarray(src)
            if src.shape != dst.shape:
                raise ValueError(
                    f"set_weights: weight {i} has shape {dst.shape}, got an array of shape "
                    f"{src.shape}"
                )
            dst[...] = src

    def _weight_arrays(self) -> list[np.ndarray]:
        arrays: list[np.ndarray] = []
        for m in self.modules():
            if m._modules and m is not self and not hasattr(m, "_keras_weights"):
                continue  # a container: its leaves are visited on their own
            if hasattr(m, "_keras_weights"):
                arrays.extend(w.data for w in m._keras_weights())
            elif m is not self or not m._modules:
                arrays.extend(p.data for p in m.parameters(recurse=False))
                arrays.extend(b for _, b in m.named_buffers(recurse=False))
        return arrays

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
        if loss is not None:
            loss = losses.get(loss)  # a plain function is Keras' fn(y_true, y_pred)
        self._compiled = {"optimizer": optimizer, "loss": loss, "metrics": list(metrics or [])}

    @property
    def optimizer(self) -> Any:
        return None if self._compiled is None else self._compiled["optimizer"]

    def _require_compiled(self, what: str) -> dict[str, Any]:
        if self._compiled is None:
            raise RuntimeError(f"call model.compile(optimizer=..., loss=...) before {what}()")
        if self._compiled["loss"] is None and what == "fit":
            raise ValueError("fit: compile() was called without a loss; pass loss=...")
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
        self._note_input(x)
        return fit(self, x, y, loss=c["loss"], optimizer=c["optimizer"],
                   batch_size=32 if batch_size is None else batch_size, epochs=epochs,
                   validation_split=validation_split, validation_data=validation_data,
                   shuffle=shuffle, class_weight=class_weight, sample_weight=sample_weight,
                   metrics=c["metrics"], callbacks=list(callbacks or []),
                   initial_epoch=initial_epoch, verbose=_verbose(verbose), **kwargs)  # fmt: skip

    def evaluate(self, x: Any = None, y: Any = None, batch_size: int | None = None,
                 verbose: Any = "auto", sample_weight: Any = None,
                 return_dict: bool = False) -> Any:  # fmt: skip
        """The loss (with the regularization penalties, as Keras) and metrics on (x, y): a float
        when there are no metrics, else [loss, metric, ...], or a dict with return_dict=True."""
        from descentlab.train.fit import evaluate

        c = self._require_compiled("evaluate")
        scores = evaluate(self, x, y, loss=c["loss"], metrics=c["metrics"],
                          batch_size=32 if batch_size is None else batch_size,
                          sample_weight=sample_weight, verbose=0)  # fmt: skip
        if _verbose(verbose):
            shown = {k: v for k, v in scores.items() if np.ndim(v) == 0}
            print(" - ".join(f"{k}: {v:.4f}" for k, v in shown.items()), flush=True)
        if return_dict:
            return scores
        values = list(scores.values())
        return values[0] if len(values) == 1 else values

    def predict(self, x: Any, batch_size: int | None = None, verbose: Any = "auto") -> np.ndarray:
        """The model's outputs for x as a NumPy array, batch by batch, in evaluation mode."""
        from descentlab.train.fit import predict

        return predict(self, x, batch_size=32 if batch_size is None else batch_size)

    def summary(self, print_fn: Any = print) -> str:
        """Keras-like table of layers, output shapes and parameter counts (needs a built model:
        an `Input`, `input_shape=` on the first layer, or one call / fit first)."""
        from descentlab.nn.summary import summary

        if self._input_shape is None:
            raise ValueError(
                "summary: the model does not know its input shape yet; start the Sequential with "
                "keras.Input(shape=...), or call the model (or fit it) once"
            )
        return summary(self, self._input_shape, print_fn=print_fn)

    def _note_input(self, x: Any) -> None:
        if self._input_shape is None and hasattr(x, "shape") and len(x.shape) > 1:
            self._input_shape = tuple(x.shape[1:])


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
        self.add_module(str(len(self._modules)), layer)
        if self._input_shape is not None:
            self.build()

    def build(self, input_shape: Sequence[int] | None = None) -> None:
        """Create every layer's weights with one forward pass on zeros of `input_shape`."""
        if input_shape is not None:
            self._input_shape = tuple(input_shape)
        if self._input_shape is None or not self._modules:
            return
        was_training = self.training
        self.eval()
        try:
            with no_grad():
                _TorchSequential.forward(
                    self, Tensor(np.zeros((1, *self._input_shape), np.float32))
                )
        finally:
            self.train(was_training)

    def call(self, inputs: Any) -> Any:
        return _TorchSequential.forward(self, inputs)
