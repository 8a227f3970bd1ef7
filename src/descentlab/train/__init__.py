"""descentlab.train: fit / evaluate / predict, callbacks, History, metrics, gradient diagnostics.

Example:
    >>> import descentlab as dl
    >>> from descentlab import nn
    >>> from descentlab.train import EarlyStopping, fit
    >>> d = dl.data.load_digits()                                              # doctest: +SKIP
    >>> model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    >>> history = fit(model, d.x / 16, d.y, loss="cross_entropy", optimizer="adam", epochs=20,
    ...               validation_split=0.2, metrics=["accuracy"],
    ...               callbacks=[EarlyStopping(patience=3)])                   # doctest: +SKIP
"""

from descentlab.train import metrics
from descentlab.train.callbacks import (
    Callback,
    CallbackList,
    CSVLogger,
    EarlyStopping,
    LambdaCallback,
    LearningRateScheduler,
    ModelCheckpoint,
    ReduceLROnPlateau,
    TerminateOnNaN,
    get_lr,
    set_lr,
)
from descentlab.train.diagnostics import GradientMonitor, GradientWarning
from descentlab.train.fit import Trainer, evaluate, fit, predict
from descentlab.train.history import History
from descentlab.train.progress import ProgressBar, describe_regime

__all__ = [
    "fit", "evaluate", "predict", "Trainer", "History", "metrics",
    "Callback", "CallbackList", "ProgressBar", "EarlyStopping", "ModelCheckpoint",
    "ReduceLROnPlateau", "LearningRateScheduler", "CSVLogger", "TerminateOnNaN",
    "LambdaCallback", "GradientMonitor", "GradientWarning", "get_lr", "set_lr", "describe_regime",
]  # fmt: skip
