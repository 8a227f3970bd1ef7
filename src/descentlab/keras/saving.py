"""Whole-model saving, Keras style: `model.save(path)` (or `save_model(model, path)`) writes one file
that `load_model(path)` turns back into the model, compiled and ready to continue training.

The file holds the architecture (`Sequential.get_config()`), the weights (the `state_dict`, with
BatchNormalization's moving statistics) and, for a compiled model, the compile config (optimizer
config, loss by Keras name or config, metric names) and the optimizer's state (slots, iterations),
so that `fit` after `load_model` continues exactly where the saved model stopped.

Convention: Keras 3's `save` / `load_model` / `get_compile_config`, but not its file format: Keras'
`.keras` is a zip holding HDF5 weights, which needs h5py. Ours is descentlab's checkpoint format
(one safetensors file, the rest as JSON in its header; see `descentlab.io`), written atomically,
under any name (`model.keras` is fine), and readable by `load_model` only (not by Keras). A
subclassed `Model` cannot be saved this way (its architecture is Python code): use `save_weights`.
`load_model` builds the layers without touching the global random stream, so training resumed in
the same process draws the same dropout masks and shuffles as if it had never stopped (except a
`Dropout(seed=...)`, whose own generator starts again from its seed, as in Keras).

Example:
    >>> from descentlab import keras
    >>> model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(2)])
    >>> model.compile(optimizer="adam", loss="mse")
    >>> model.save("model.keras")                                            # doctest: +SKIP
    >>> again = keras.models.load_model("model.keras")                       # doctest: +SKIP
    >>> get_compile_config(model)["loss"], get_compile_config(model)["optimizer"]["class_name"]
    ('mse', 'Adam')
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from descentlab.io import (
    MODEL_FORMAT,
    LoadError,
    load_state_into,
    read_checkpoint,
    read_metadata,
    save_checkpoint,
)
from descentlab.keras import losses, optimizers
from descentlab.keras.models import Model, Sequential
from descentlab.random import get_rng_state, set_rng_state

__all__ = [
    "save_model",
    "load_model",
    "get_compile_config",
    "compile_from_config",
    "checkpoint_extra",
]

FORMAT = "descentlab.keras"
VERSION = 1
_KEY = "keras_model"  # where the model's description sits in the checkpoint's `extra`


def get_compile_config(model: Model) -> dict[str, Any] | None:
    """What `compile` was given, as JSON-able Keras config (None when not compiled): the optimizer
    ({'class_name', 'config'}), the loss (a name, or a keras.losses class config), the metric names.

    Convention: Keras 3's `model.get_compile_config()`; metrics must be names ('accuracy').
    """
    compiled = model._compiled
    if compiled is None:
        return None
    args = compiled["args"]
    for key in ("metrics", "weighted_metrics"):
        odd = [m for m in args[key] or [] if not isinstance(m, str)]
        if odd:
            raise ValueError(
                f"save: the {key} {odd!r} cannot be saved; compile with metric names "
                "(metrics=['accuracy']), or save the weights alone with model.save_weights(path)"
            )
    loss = args["loss"]
    return {
        "optimizer": optimizers.serialize(compiled["optimizer"]),
        "loss": loss if loss is None or isinstance(loss, str) else losses.serialize(loss),
        "metrics": args["metrics"],
        "weighted_metrics": args["weighted_metrics"],
    }


def compile_from_config(model: Model, config: dict[str, Any]) -> None:
    """Compile `model` as `get_compile_config` describes, with a new (unbuilt) optimizer."""
    loss = config["loss"]
    model.compile(optimizer=optimizers.deserialize(config["optimizer"]),
                  loss=loss if loss is None or isinstance(loss, str) else losses.deserialize(loss),
                  metrics=config["metrics"], weighted_metrics=config["weighted_metrics"])  # fmt: skip


def save_model(model: Model, filepath: str | os.PathLike[str], overwrite: bool = True) -> Path:
    """Write `model` to `filepath` (one file, atomically): architecture, weights and, when compiled,
    compile config and optimizer state. `overwrite=False` refuses an existing file
    (FileExistsError). Returns the path.

    Example:
        >>> model.save("mnist_mlp.keras")                                   # doctest: +SKIP
    """
    path = Path(filepath)
    if not isinstance(model, Model):
        raise TypeError(
            f"save_model: expected a keras Model or Sequential, got {type(model).__name__}"
        )
    if not overwrite and path.exists():
        raise FileExistsError(
            f"save: {str(path)!r} already exists; pass overwrite=True to replace it"
        )
    optimizer = model.optimizer
    built = optimizer is not None and getattr(optimizer, "built", False)
    return save_checkpoint(path, model, optimizer if built else None,
                           extra=checkpoint_extra(model), rng_state={})  # fmt: skip


def checkpoint_extra(model: Model) -> dict[str, Any]:
    """The model's description as a checkpoint's `extra` entry: `model.save` writes it, and so
    does every training checkpoint of a savable model (`ModelCheckpoint("best.keras")`), which
    `load_model` then reads as Keras users expect."""
    record = {"format": FORMAT, "version": VERSION, "class_name": "Sequential",
              "config": model.get_config(), "compile_config": get_compile_config(model)}  # fmt: skip
    return {_KEY: record}


def load_model(filepath: str | os.PathLike[str], *, compile: bool = True) -> Sequential:  # noqa: A002
    """Rebuild a model written by `model.save`: layers, weights and, with `compile=True` (and a
    model saved compiled), its optimizer, loss, metrics and optimizer state.

    Example:
        >>> model = keras.models.load_model("mnist_mlp.keras")              # doctest: +SKIP
        >>> model.fit(x, y, epochs=2)                                       # doctest: +SKIP
    """
    saved = _read(filepath)
    record = saved["extra"][_KEY]
    rng = get_rng_state()  # building the layers draws initial weights, which the file replaces
    try:
        model = Sequential.from_config(record["config"])
    finally:
        set_rng_state(rng)
    load_state_into(model, saved["model"], filepath)
    if compile and record.get("compile_config") is not None:
        compile_from_config(model, record["compile_config"])
        if saved["optimizer"] is not None:
            model.optimizer.build(list(model.parameters()))  # the order fit builds it in
            model.optimizer.load_state_dict(saved["optimizer"])
    return model


def _read(filepath: str | os.PathLike[str]) -> dict[str, Any]:
    """The checkpoint behind a saved model, or a LoadError saying what the file is instead."""
    try:
        saved = read_checkpoint(filepath)
    except LoadError as err:
        if read_metadata(filepath).get("format") == MODEL_FORMAT:  # re-raises for a garbage file
            raise LoadError(
                f"{str(filepath)!r} holds weights only (written by save_weights or "
                "descentlab.save), not a whole model: build the model again and call "
                "model.load_weights(path)"
            ) from err
        raise LoadError(
            f"{str(filepath)!r} is not a model written by model.save (a safetensors file without "
            "descentlab's Keras model description)"
        ) from err
    record = saved["extra"].get(_KEY)
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise LoadError(
            f"{str(filepath)!r} is a training checkpoint (save_checkpoint), not a model written by "
            "model.save: restore it with descentlab.load_checkpoint(path, model, optimizer)"
        )
    if record.get("version", 0) > VERSION:
        raise LoadError(
            f"{str(filepath)!r} was written by a newer descentlab (Keras model format "
            f"{record['version']}); upgrade descentlab"
        )
    return saved
