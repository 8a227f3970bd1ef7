"""Progress display for `fit`: a rich progress bar in a terminal, plain lines otherwise.

verbose=0: silent. verbose=1: a live bar per epoch (step k/steps, running loss and metrics) when
the output is a terminal and `rich` is installed, else one line per epoch. verbose=2: one line per
epoch. The first line states the regime the batch size implies: batch gradient descent
(batch_size >= N), stochastic (batch_size = 1) or mini-batch, with the iterations per epoch.

Example output (not a terminal):
    Training on 1437 samples, validating on 360: mini-batch gradient descent, batch_size=32 ->
    45 iterations per epoch, 20 epochs = 900 updates
    Epoch 1/20 - 45/45 it - 0.1s - loss: 1.2831 - accuracy: 0.6813 - val_loss: 0.5112 - ...
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from typing import IO, Any

from descentlab.train.callbacks import Callback

__all__ = ["ProgressBar", "describe_regime", "format_logs"]


def describe_regime(batch_size: int | None, samples: int | None) -> str:
    """'batch', 'stochastic' or 'mini-batch' gradient descent for this batch size and data size."""
    if batch_size is None or samples is None:
        return "mini-batch"
    if batch_size >= samples:
        return "batch"
    if batch_size == 1:
        return "stochastic"
    return "mini-batch"


def format_logs(logs: Mapping[str, Any], skip: tuple[str, ...] = ("batch_loss",)) -> str:
    """' - loss: 0.1234 - accuracy: 0.9700' (Keras style); learning rates in %g."""
    parts = []
    for key, value in logs.items():
        if key in skip:
            continue
        v = float(value)
        parts.append(f"{key}: {v:.4g}" if key in ("lr", "learning_rate") else f"{key}: {v:.4f}")
    return "".join(f" - {p}" for p in parts)


class ProgressBar(Callback):
    """Shows epoch k/N, iterations, loss and metrics; states the gradient-descent regime."""

    def __init__(self, verbose: int = 1, stream: IO[str] | None = None) -> None:
        super().__init__()
        if verbose not in (0, 1, 2):
            raise ValueError(
                f"verbose must be 0 (silent), 1 (progress bar) or 2 (one line per epoch), got {verbose!r}"
            )
        self.verbose = verbose
        self._stream = stream
        self._progress: Any = None
        self._task: Any = None
        self._start = 0.0
        self._epoch = 0

    @property
    def stream(self) -> IO[str]:
        # Looked up at use time so that redirected or captured stdout is honoured.
        return self._stream if self._stream is not None else sys.stdout

    def _print(self, text: str) -> None:
        if self._progress is not None:
            self._progress.console.print(text, markup=False, highlight=False)
        else:
            print(text, file=self.stream, flush=True)

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        if not self.verbose:
            return
        p = self.params
        use_rich = self.verbose == 1 and _is_tty(self.stream)
        if use_rich:
            self._progress = _make_rich_progress(self.stream)
            if self._progress is not None:
                self._progress.start()
        samples, bs, steps = p.get("samples"), p.get("batch_size"), p.get("steps")
        epochs, initial = p.get("epochs", 1), p.get("initial_epoch", 0)
        head = f"Training on {samples} samples" if samples is not None else "Training"
        if p.get("val_samples"):
            head += f", validating on {p['val_samples']}"
        regime = p.get("regime") or describe_regime(bs, samples)
        updates = "" if steps is None else f" = {_count(steps * (epochs - initial), 'update')}"
        size = "" if bs is None else f", batch_size={bs}"
        it = "" if steps is None else f" -> {_count(steps, 'iteration')} per epoch"
        resumed = f" (resuming at epoch {initial + 1})" if initial else ""
        self._print(f"{head}: {regime} gradient descent{size}{it}, "
                    f"{_count(epochs - initial, 'epoch')}{updates}{resumed}")  # fmt: skip

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._start = time.perf_counter()
        self._epoch = epoch
        if self._progress is not None:
            total = self.params.get("steps")
            self._task = self._progress.add_task(
                f"Epoch {epoch + 1}/{self.params.get('epochs', '?')}", total=total, info=""
            )

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, advance=1, info=format_logs(logs or {}))

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if not self.verbose:
            return
        took = time.perf_counter() - self._start
        steps = self.params.get("steps")
        head = f"Epoch {epoch + 1}/{self.params.get('epochs', '?')}"
        it = "" if steps is None else f" - {steps}/{steps} it"
        line = f"{head}{it} - {took:.1f}s{format_logs(logs or {})}"
        if self._progress is not None and self._task is not None:
            # The finished epoch becomes a plain line above the live bar, so the live area stays
            # one line high however many epochs run.
            self._progress.remove_task(self._task)
            self._task = None
        self._print(line)

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        self.close()

    def close(self) -> None:
        """Stop the live display (also called by `fit` when training raises)."""
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


def _is_tty(stream: IO[str]) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _make_rich_progress(stream: IO[str]) -> Any:
    try:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )
    except ImportError:  # rich is optional: fall back to plain lines
        return None
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("it"),
        TimeElapsedColumn(),
        TextColumn("{task.fields[info]}"),
        console=Console(file=stream),
        transient=False,
    )


def _count(n: int, noun: str) -> str:
    """'1 epoch', '20 epochs'."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
