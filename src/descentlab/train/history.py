"""History: the per-epoch record of a training run (Keras' `History`).

`fit` returns one. `history.history` maps each logged name ("loss", "accuracy", "val_loss",
"val_accuracy", "lr", ...) to a list with one value per epoch; `history.epoch` lists the epoch
indices (0-based, as Keras). Training and validation curves drifting apart is overfitting made
visible: `history.plot()` draws them side by side.

Example:
    >>> h = History()
    >>> h.on_epoch_end(0, {"loss": 0.9, "val_loss": 1.0})
    >>> h.on_epoch_end(1, {"loss": 0.5, "val_loss": 0.8})
    >>> h.history["val_loss"]
    [1.0, 0.8]
    >>> print(h.to_csv().strip())
    epoch,loss,val_loss
    1,0.9,1.0
    2,0.5,0.8
"""

from __future__ import annotations

import io as _stdio
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from descentlab.train.callbacks import Callback

__all__ = ["History"]


class History(Callback):
    """Records the logs of every epoch: `.history[name]` is a list with one value per epoch.

    Convention: Keras (`History.history`, `History.epoch`); a name first logged at a later epoch is
    padded with NaN for the earlier ones so every list has one entry per epoch.

    `.arrays[name]` holds the per-epoch values of array-valued metrics (a confusion matrix):
    `fit` keeps them out of `.history`, so plots, CSV and callbacks only ever see numbers.
    """

    def __init__(self) -> None:
        super().__init__()
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []
        self.arrays: dict[str, list[np.ndarray]] = {}

    def record_arrays(self, values: Mapping[str, Any]) -> None:
        """Append this epoch's array-valued metrics (call before `on_epoch_end`)."""
        for key, value in values.items():
            self.arrays.setdefault(key, []).append(np.array(value))

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        self.epoch.append(int(epoch))
        for key, value in (logs or {}).items():
            column = self.history.setdefault(key, [math.nan] * (len(self.epoch) - 1))
            column.append(_scalar(value))
        for column in self.history.values():  # a name missing this epoch gets NaN
            if len(column) < len(self.epoch):
                column.append(math.nan)

    def state_dict(self) -> dict[str, Any]:
        return {
            "history": {k: list(v) for k, v in self.history.items()},
            "epoch": list(self.epoch),
            "arrays": {k: [a.tolist() for a in v] for k, v in self.arrays.items()},
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.history = {k: [float(x) for x in v] for k, v in state["history"].items()}
        self.epoch = [int(e) for e in state["epoch"]]
        self.arrays = {k: [np.array(a) for a in v] for k, v in state.get("arrays", {}).items()}

    def __len__(self) -> int:
        return len(self.epoch)

    def __repr__(self) -> str:
        return f"History(epochs={len(self.epoch)}, keys={list(self.history)})"

    # ---------------------------------------------------------------- export
    def to_csv(self, path: str | os.PathLike[str] | None = None, sep: str = ",") -> str:
        """The history as CSV (one row per epoch, epochs numbered from 1); also written to `path`.

        The file is written atomically.
        """
        keys = list(self.history)
        buf = _stdio.StringIO()
        buf.write(sep.join(["epoch", *keys]) + "\n")
        for row, epoch in enumerate(self.epoch):
            values = [repr(self.history[k][row]) for k in keys]
            buf.write(sep.join([str(epoch + 1), *values]) + "\n")
        text = buf.getvalue()
        if path is not None:
            from descentlab.io import atomic_write_bytes

            atomic_write_bytes(Path(path), text.encode("utf-8"))
        return text

    def to_dataframe(self) -> Any:
        """The history as a pandas DataFrame indexed by epoch (1-based); needs pandas."""
        try:
            import pandas as pd
        except ImportError as err:
            raise ImportError(
                "History.to_dataframe needs pandas (pip install pandas); "
                "History.to_csv() or History.history work without it"
            ) from err
        frame = pd.DataFrame(self.history, index=[e + 1 for e in self.epoch])
        frame.index.name = "epoch"
        return frame

    def plot(
        self, path: str | os.PathLike[str] | None = None, keys: list[str] | None = None
    ) -> Any:
        """Plot loss and each metric per epoch, training and validation on the same axes.

        Returns the matplotlib `Figure` (drawn without pyplot, so no display is needed); saves it
        to `path` when given.
        """
        try:
            from matplotlib.figure import Figure
        except ImportError as err:
            raise ImportError(
                "History.plot needs matplotlib: pip install 'descentlab[plot]'"
            ) from err
        if not self.epoch:
            raise ValueError("History.plot: nothing to plot, the history has no epochs yet")
        names = keys or [k for k in self.history if not k.startswith("val_")]
        names = [k for k in names if k in self.history or f"val_{k}" in self.history]
        if not names:
            raise ValueError(
                f"History.plot: none of {keys} is in the history ({list(self.history)})"
            )
        fig = Figure(figsize=(4.2 * len(names), 3.4), layout="constrained")
        axes = fig.subplots(1, len(names), squeeze=False)[0]
        x = [e + 1 for e in self.epoch]
        for ax, name in zip(axes, names):
            paired = f"val_{name}" in self.history
            if name in self.history:
                label = f"training {name}" if paired else name
                ax.plot(x, self.history[name], marker=".", label=label)
            if paired:
                ax.plot(x, self.history[f"val_{name}"], marker=".", label=f"validation {name}")
                ax.legend()
            ax.set_xlabel("epoch")
            ax.set_ylabel("learning rate" if name == "lr" else name)
            ax.grid(alpha=0.3)
        if path is not None:
            fig.savefig(path)
        return fig


def _scalar(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError) as err:
        raise TypeError(f"History: logged values must be numbers, got {value!r}") from err
