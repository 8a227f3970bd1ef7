"""GradientMonitor: see vanishing and exploding gradients while training.

Per parameter (layer) and per epoch it records
  * the gradient norm ||dL/dW||_2 (mean and max over the epoch's iterations),
  * the update/weight ratio ||W_after - W_before|| / ||W_before|| (about 1e-3 is healthy; much
    smaller means the layer barely learns, much larger means it is being overwritten),
  * for every `nn.ReLU` module, the fraction of dead units: units that output 0 for every sample
    of a probe batch (a unit stuck at 0 gets no gradient and never recovers),
and warns (`GradientWarning`) when a weight's gradient norm falls below `vanishing` or rises above
`exploding`, or becomes NaN/inf. Sigmoid/tanh stacks show the first layers' norms shrinking by
orders of magnitude: the vanishing gradient problem, measured.

Example:
    >>> monitor = GradientMonitor()
    >>> # fit(model, x, y, ..., callbacks=[monitor])
    >>> # monitor.records[-1]["grad_norm"]      -> {"0.weight": 0.031, "2.weight": 0.12, ...}
    >>> # print(monitor.summary())
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from descentlab.tensor import Tensor, no_grad
from descentlab.train.callbacks import Callback

__all__ = ["GradientMonitor", "GradientWarning"]


class GradientWarning(UserWarning):
    """Gradients vanished or exploded during training."""


class GradientMonitor(Callback):
    """Record per-layer gradient norms, update/weight ratios and dead ReLU fractions each epoch.

    Args:
        vanishing: warn when a weight's mean gradient norm over an epoch is below this.
        exploding: warn when a weight's gradient norm exceeds this (or is not finite).
        every: look at every `every`-th iteration (1 = all; larger is cheaper).
        probe_size: samples used to count dead ReLU units at the end of each epoch.
        log: also put summary values into the epoch logs (hence History): "grad_norm_min",
            "grad_norm_max", and "dead_relu" (largest dead fraction over ReLU layers).
        weights_only: skip bias vectors (names ending in "bias") in the warnings.

    After training, `records` holds one dict per epoch: {"epoch", "grad_norm", "grad_norm_max",
    "update_ratio", "dead_relu"}, each a {name: value} mapping.
    """

    def __init__(self, vanishing: float = 1e-7, exploding: float = 1e3, every: int = 1,
                 probe_size: int = 256, log: bool = False, weights_only: bool = True,
                 verbose: int = 0) -> None:  # fmt: skip
        super().__init__()
        if every < 1:
            raise ValueError(f"GradientMonitor: every must be >= 1, got {every}")
        self.vanishing = float(vanishing)
        self.exploding = float(exploding)
        self.every = int(every)
        self.probe_size = int(probe_size)
        self.log = log
        self.weights_only = weights_only
        self.verbose = verbose
        self.records: list[dict[str, Any]] = []
        self.warnings: list[str] = []
        self._reset_epoch()
        self._before: dict[str, np.ndarray] | None = None

    def _reset_epoch(self) -> None:
        self._sum: dict[str, float] = {}
        self._max: dict[str, float] = {}
        self._ratio: dict[str, float] = {}
        self._count = 0
        self._ratio_count = 0

    def _named(self) -> list[tuple[str, Any]]:
        return [(n, p) for n, p in self.model.named_parameters() if p.requires_grad]

    # ------------------------------------------------------------------ per iteration
    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._reset_epoch()

    def on_after_backward(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        if batch % self.every:
            self._before = None
            return
        self._count += 1
        for name, p in self._named():
            g = p.grad
            norm = 0.0 if g is None else float(np.sqrt(np.sum(np.square(g, dtype=np.float64))))
            self._sum[name] = self._sum.get(name, 0.0) + norm
            self._max[name] = max(self._max.get(name, 0.0), norm) if math.isfinite(norm) else norm
        self._before = {name: p.data.copy() for name, p in self._named()}

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        if self._before is None:
            return
        self._ratio_count += 1
        for name, p in self._named():
            before = self._before.get(name)
            if before is None:
                continue
            w = float(np.linalg.norm(before.astype(np.float64)))
            d = float(np.linalg.norm(p.data.astype(np.float64) - before))
            ratio = d / w if w > 0 else (0.0 if d == 0 else math.inf)
            self._ratio[name] = self._ratio.get(name, 0.0) + ratio
        self._before = None

    # ------------------------------------------------------------------ per epoch
    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        n = max(self._count, 1)
        record = {
            "epoch": epoch,
            "grad_norm": {k: v / n for k, v in self._sum.items()},
            "grad_norm_max": dict(self._max),
            "update_ratio": {k: v / max(self._ratio_count, 1) for k, v in self._ratio.items()},
            "dead_relu": self._dead_relu(),
        }
        self.records.append(record)
        self._warn(epoch, record)
        if self.log and logs is not None:
            norms = [v for k, v in record["grad_norm"].items() if self._checked(k)]
            if norms:
                logs["grad_norm_min"] = float(min(norms))
                logs["grad_norm_max"] = float(max(norms))
            if record["dead_relu"]:
                logs["dead_relu"] = float(max(record["dead_relu"].values()))

    def _checked(self, name: str) -> bool:
        return not (self.weights_only and name.endswith("bias"))

    def _warn(self, epoch: int, record: Mapping[str, Any]) -> None:
        # One warning per kind and epoch, naming every affected layer with its norm.
        big = [(n, v) for n, v in record["grad_norm_max"].items()
               if self._checked(n) and (not math.isfinite(v) or v > self.exploding)]  # fmt: skip
        if big:
            layers = ", ".join(f"{n!r} ({v:.3g})" for n, v in big)
            self._emit(f"epoch {epoch + 1}: exploding gradient in {layers}: norm above "
                       f"{self.exploding:g} (lower the learning rate, clip gradients, or use "
                       "normalization)")  # fmt: skip
        small = [(n, v) for n, v in record["grad_norm"].items()
                 if self._checked(n) and math.isfinite(v) and v < self.vanishing]  # fmt: skip
        if small:
            layers = ", ".join(f"{n!r} ({v:.3g})" for n, v in small)
            self._emit(f"epoch {epoch + 1}: vanishing gradient in {layers}: mean norm below "
                       f"{self.vanishing:g} (try ReLU instead of sigmoid/tanh, He/Xavier init, "
                       "or normalization)")  # fmt: skip
        for name, frac in record["dead_relu"].items():
            if frac >= 0.5:
                self._emit(f"epoch {epoch + 1}: {frac:.0%} of the units after ReLU {name!r} are "
                           "dead (zero for every probe sample); lower the learning rate or try "
                           "LeakyReLU")  # fmt: skip

    def _emit(self, message: str) -> None:
        self.warnings.append(message)
        warnings.warn(message, GradientWarning, stacklevel=2)

    def _dead_relu(self) -> dict[str, float]:
        """Fraction of units after each nn.ReLU that are zero for every sample of a probe batch."""
        x = getattr(self.trainer, "sample_inputs", None)
        if x is None or self.model is None:
            return {}
        from descentlab.nn.activation import ReLU

        relus = [(name, m) for name, m in self.model.named_modules() if isinstance(m, ReLU)]
        if not relus:
            return {}
        seen: dict[str, np.ndarray] = {}

        def capture(name: str, module: Any) -> Any:
            original = type(module).forward

            def forward(inp: Any) -> Any:
                out = original(module, inp)
                alive = np.asarray(out.data).reshape(len(out.data), -1) > 0
                seen[name] = alive.any(axis=0)
                return out

            return forward

        was_training = bool(self.model.training)
        try:
            for name, m in relus:  # shadow forward on the instance for one probe pass
                m.__dict__["forward"] = capture(name, m)
            self.model.eval()
            with no_grad():
                self.model(Tensor(np.asarray(x[: self.probe_size])))
        finally:
            for _, m in relus:
                m.__dict__.pop("forward", None)
            self.model.train(was_training)
        return {name: float(1.0 - alive.mean()) for name, alive in seen.items() if alive.size}

    def summary(self) -> str:
        """A table of the last epoch: gradient norm, max norm and update/weight ratio per layer."""
        if not self.records:
            return "GradientMonitor: no epochs recorded yet"
        r = self.records[-1]
        lines = [f"GradientMonitor, epoch {r['epoch'] + 1}",
                 f"{'parameter':<24} {'grad norm':>11} {'max norm':>11} {'update/weight':>14}"]  # fmt: skip
        for name, norm in r["grad_norm"].items():
            lines.append(f"{name:<24} {norm:>11.3e} {r['grad_norm_max'][name]:>11.3e} "
                         f"{r['update_ratio'].get(name, math.nan):>14.3e}")  # fmt: skip
        for name, frac in r["dead_relu"].items():
            lines.append(f"dead ReLU units after {name!r}: {frac:.1%}")
        return "\n".join(lines)

    def state_dict(self) -> dict[str, Any]:
        return {"records": self.records, "warnings": self.warnings}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.records = list(state["records"])
        self.warnings = list(state["warnings"])
