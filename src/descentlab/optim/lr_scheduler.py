"""PyTorch-style learning-rate scheduler objects that rewrite `optimizer.param_groups[i]['lr']`.

Convention: PyTorch (`torch.optim.lr_scheduler`), value for value. Schedulers are created after
the optimizer, store `initial_lr` in each param group, take one step at construction (epoch 0)
and are stepped once per epoch (or batch) *after* `optimizer.step()`. Most compute the next lr
from the current one (the "chainable" recursive form, so two schedulers can act on one
optimizer); `SequentialLR` jumps a scheduler back to epoch 0 with its closed form, exactly as
torch does, so the sequences agree to the last bit. For pure functions of the step see
`descentlab.optim.schedules`; `ScheduleLR(optimizer, schedule)` makes one drive any optimizer.

Every scheduler has `step()`, `get_last_lr()`, `last_epoch`, and a JSON-able `state_dict()` /
`load_state_dict()` (LambdaLR stores no functions: re-create it with the same lambdas, then load).

Example:
    >>> import descentlab as dl
    >>> from descentlab.optim import SGD
    >>> from descentlab.optim.lr_scheduler import StepLR
    >>> opt = SGD([dl.nn.Parameter([1.0])], lr=0.1)
    >>> sched = StepLR(opt, step_size=2, gamma=0.5)
    >>> for epoch in range(4):
    ...     opt.step()          # train one epoch
    ...     sched.step()
    >>> sched.get_last_lr()
    [0.025]
"""

from __future__ import annotations

import bisect
import math
import types
from collections.abc import Callable, Iterable, Sequence
from typing import Any

__all__ = [
    "LRScheduler",
    "LambdaLR",
    "MultiplicativeLR",
    "StepLR",
    "MultiStepLR",
    "ConstantLR",
    "LinearLR",
    "ExponentialLR",
    "PolynomialLR",
    "CosineAnnealingLR",
    "CosineAnnealingWarmRestarts",
    "CyclicLR",
    "OneCycleLR",
    "SequentialLR",
    "ChainedScheduler",
    "ReduceLROnPlateau",
    "ScheduleLR",
]


def _check_optimizer(optimizer: Any) -> None:
    groups = getattr(optimizer, "param_groups", None)
    if not isinstance(groups, list) or not all(isinstance(g, dict) and "lr" in g for g in groups):
        raise TypeError(
            f"{type(optimizer).__name__} is not an optimizer: a scheduler needs an object whose "
            "`param_groups` is a list of dicts with an 'lr' key (e.g. descentlab.optim.SGD)"
        )


def _per_group(name: str, optimizer: Any, value: Any) -> list[Any]:
    """One value per param group: a scalar is repeated, a list must match the group count."""
    n = len(optimizer.param_groups)
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ValueError(
                f"`{name}` must have one value per param group ({n}), got {len(value)} values"
            )
        return list(value)
    return [value] * n


def _momentum_key(optimizer: Any) -> str | None:
    """Which group entry carries the momentum that OneCycleLR / CyclicLR cycle.

    'betas' (Adam-like: first beta), 'momentum' (SGD, RMSprop) as in torch, or 'beta_1' for the
    Keras-convention optimizers (`descentlab.keras.optimizers.Adam`)."""
    defaults = getattr(optimizer, "defaults", None) or optimizer.param_groups[0]
    for key in ("betas", "momentum", "beta_1"):
        if key in defaults:
            return key
    return None


def _set_momentum(group: dict[str, Any], key: str, value: float) -> None:
    if key == "betas":
        group["betas"] = (value, *group["betas"][1:])
    else:
        group[key] = value


class LRScheduler:
    """Base class: subclasses write `get_lr()` (the next lrs from the current ones at
    `self.last_epoch`) and optionally `_get_closed_form_lr()` (the lrs as a function of
    `last_epoch` and `base_lrs`, used when SequentialLR restarts a scheduler)."""

    _not_state: tuple[str, ...] = ("optimizer", "_is_initial")

    def __init__(self, optimizer: Any, last_epoch: int = -1) -> None:
        _check_optimizer(optimizer)
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(
                        f"param_groups[{i}] has no 'initial_lr' but last_epoch={last_epoch}: to "
                        "resume, load the optimizer's state_dict first or use last_epoch=-1"
                    )
        self.base_lrs: list[float] = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._is_initial = False
        self._initial_step()

    def _initial_step(self) -> None:
        """The step taken at construction: epoch -1 -> 0, most schedulers keep the lr as is."""
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self) -> list[float]:  # pragma: no cover - every subclass overrides it
        raise NotImplementedError(f"{type(self).__name__} must implement get_lr()")

    def _current_lrs(self) -> list[float]:
        return [group["lr"] for group in self.optimizer.param_groups]

    def step(self) -> None:
        """Advance one epoch and write the new lr into every param group."""
        self._step_count += 1
        self._update_lr()

    def _update_lr(self, epoch: int | None = None) -> None:
        if epoch is None:
            self.last_epoch += 1
            values = self.get_lr()
        else:
            # Jump to `epoch` (SequentialLR's restart): closed form where the scheduler has one.
            self.last_epoch = epoch
            closed = getattr(self, "_get_closed_form_lr", None)
            values = closed() if closed is not None else self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, values, strict=True):
            group["lr"] = lr
        self._last_lr = self._current_lrs()

    def get_last_lr(self) -> list[float]:
        """The lrs written by the last `step()` (one per param group)."""
        return list(self._last_lr)

    def state_dict(self) -> dict[str, Any]:
        """Every attribute but the optimizer: plain numbers, lists and dicts (JSON-able)."""
        return {k: v for k, v in vars(self).items() if k not in self._not_state}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the attributes saved by `state_dict()`."""
        self.__dict__.update(state_dict)

    def __repr__(self) -> str:
        epoch = getattr(self, "last_epoch", None)
        return f"{type(self).__name__}(last_epoch={epoch}, last_lr={self._last_lr})"


def _lambdas(optimizer: Any, lr_lambda: Any) -> list[Callable[[int], float]]:
    fns = _per_group("lr_lambda", optimizer, lr_lambda)
    for fn in fns:
        if not callable(fn):
            raise TypeError(f"`lr_lambda` must be a function of the epoch, got {fn!r}")
    return fns


class _LambdaState:
    """LambdaLR / MultiplicativeLR keep no functions in their state: a plain function saves as None,
    a callable object as its `__dict__` (as torch does)."""

    lr_lambdas: list[Callable[[int], float]]

    def state_dict(self) -> dict[str, Any]:
        state = {k: v for k, v in vars(self).items() if k not in (*self._not_state, "lr_lambdas")}
        state["lr_lambdas"] = [
            None if isinstance(fn, types.FunctionType) else dict(vars(fn)) for fn in self.lr_lambdas
        ]
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state = dict(state_dict)
        saved = state.pop("lr_lambdas")
        self.__dict__.update(state)
        for fn, attrs in zip(self.lr_lambdas, saved):
            if attrs is not None:
                fn.__dict__.update(attrs)


class LambdaLR(_LambdaState, LRScheduler):
    """lr = initial_lr * lr_lambda(epoch).

    Example: `LambdaLR(opt, lambda epoch: 0.95 ** epoch)`.
    """

    _not_state = ("optimizer", "_is_initial", "lr_lambdas")

    def __init__(self, optimizer: Any, lr_lambda: Any, last_epoch: int = -1) -> None:
        _check_optimizer(optimizer)
        self.lr_lambdas = _lambdas(optimizer, lr_lambda)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [base * fn(self.last_epoch) for fn, base in zip(self.lr_lambdas, self.base_lrs)]


class MultiplicativeLR(_LambdaState, LRScheduler):
    """lr = lr * lr_lambda(epoch) at every step after the first.

    Example: `MultiplicativeLR(opt, lambda epoch: 0.95)`.
    """

    _not_state = ("optimizer", "_is_initial", "lr_lambdas")

    def __init__(self, optimizer: Any, lr_lambda: Any, last_epoch: int = -1) -> None:
        _check_optimizer(optimizer)
        self.lr_lambdas = _lambdas(optimizer, lr_lambda)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self._is_initial:
            return self._current_lrs()
        return [
            group["lr"] * fn(self.last_epoch)
            for fn, group in zip(self.lr_lambdas, self.optimizer.param_groups)
        ]


def _check_positive_int(name: str, value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"`{name}` must be a positive integer, got {name}={value!r}")


class StepLR(LRScheduler):
    """lr = initial_lr * gamma ** (epoch // step_size).

    Example: `StepLR(opt, step_size=30, gamma=0.1)`.
    """

    def __init__(self, optimizer: Any, step_size: int, gamma: float = 0.1,
                 last_epoch: int = -1) -> None:  # fmt: skip
        _check_positive_int("step_size", step_size)
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._current_lrs()
        return [group["lr"] * self.gamma for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list[float]:
        return [base * self.gamma ** (self.last_epoch // self.step_size) for base in self.base_lrs]


class MultiStepLR(LRScheduler):
    """lr = initial_lr * gamma ** (number of milestones <= epoch).

    Example: `MultiStepLR(opt, milestones=[30, 80], gamma=0.1)`.
    """

    def __init__(self, optimizer: Any, milestones: Iterable[int], gamma: float = 0.1,
                 last_epoch: int = -1) -> None:  # fmt: skip
        # A sorted list (repeats allowed: a repeated milestone decays twice) keeps the state JSON-able.
        self.milestones = sorted(int(m) for m in milestones)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        hits = self.milestones.count(self.last_epoch)
        if hits == 0:
            return self._current_lrs()
        return [group["lr"] * self.gamma**hits for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list[float]:
        n = bisect.bisect_right(self.milestones, self.last_epoch)
        return [base * self.gamma**n for base in self.base_lrs]


class ConstantLR(LRScheduler):
    """lr = initial_lr * factor for the first total_iters epochs, then initial_lr.

    Example: `ConstantLR(opt, factor=0.5, total_iters=4)`.
    """

    def __init__(self, optimizer: Any, factor: float = 1.0 / 3, total_iters: int = 5,
                 last_epoch: int = -1) -> None:  # fmt: skip
        if not 0 <= factor <= 1:
            raise ValueError(f"`factor` must be in [0, 1], got factor={factor!r}")
        self.factor = factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0:
            return [group["lr"] * self.factor for group in self.optimizer.param_groups]
        if self.last_epoch != self.total_iters:
            return self._current_lrs()
        return [group["lr"] * (1.0 / self.factor) for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list[float]:
        on = self.last_epoch >= self.total_iters
        return [base * (self.factor + on * (1 - self.factor)) for base in self.base_lrs]


class LinearLR(LRScheduler):
    """lr = initial_lr * (start_factor + (end_factor - start_factor) * min(epoch, total_iters) / total_iters).

    Example (linear warmup over 5 epochs): `LinearLR(opt, start_factor=0.1, total_iters=5)`.
    """

    def __init__(self, optimizer: Any, start_factor: float = 1.0 / 3, end_factor: float = 1.0,
                 total_iters: int = 5, last_epoch: int = -1) -> None:  # fmt: skip
        if not 0 < start_factor <= 1:
            raise ValueError(f"`start_factor` must be in (0, 1], got start_factor={start_factor!r}")
        if not 0 <= end_factor <= 1:
            raise ValueError(f"`end_factor` must be in [0, 1], got end_factor={end_factor!r}")
        _check_positive_int("total_iters", total_iters)
        self.start_factor = start_factor
        self.end_factor = end_factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0:
            return [group["lr"] * self.start_factor for group in self.optimizer.param_groups]
        if self._is_initial or self.last_epoch > self.total_iters:
            return self._current_lrs()
        # Ratio of consecutive factors, in torch's operation order.
        delta = self.end_factor - self.start_factor
        ratio = 1.0 + delta / (self.total_iters * self.start_factor + (self.last_epoch - 1) * delta)
        return [group["lr"] * ratio for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list[float]:
        delta = self.end_factor - self.start_factor
        frac = min(self.total_iters, self.last_epoch) / self.total_iters
        return [base * (self.start_factor + delta * frac) for base in self.base_lrs]


class ExponentialLR(LRScheduler):
    """lr = initial_lr * gamma ** epoch.

    Example: `ExponentialLR(opt, gamma=0.9)`.
    """

    def __init__(self, optimizer: Any, gamma: float, last_epoch: int = -1) -> None:
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self._is_initial:
            return self._current_lrs()
        return [group["lr"] * self.gamma for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list[float]:
        return [base * self.gamma**self.last_epoch for base in self.base_lrs]


class PolynomialLR(LRScheduler):
    """lr = initial_lr * (1 - min(epoch, total_iters) / total_iters) ** power.

    Example: `PolynomialLR(opt, total_iters=100, power=2.0)`.
    """

    def __init__(self, optimizer: Any, total_iters: int = 5, power: float = 1.0,
                 last_epoch: int = -1) -> None:  # fmt: skip
        _check_positive_int("total_iters", total_iters)
        self.total_iters = total_iters
        self.power = power
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self._is_initial or self.last_epoch > self.total_iters:
            return self._current_lrs()
        t, n = self.last_epoch, self.total_iters
        factor = ((1.0 - t / n) / (1.0 - (t - 1) / n)) ** self.power
        return [group["lr"] * factor for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list[float]:
        frac = min(self.total_iters, self.last_epoch) / self.total_iters
        return [base * (1.0 - frac) ** self.power for base in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """lr = eta_min + (initial_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2, computed
    recursively as torch does (so past T_max it keeps following the cosine back up).

    Example: `CosineAnnealingLR(opt, T_max=100, eta_min=1e-5)`.
    """

    def __init__(self, optimizer: Any, T_max: int, eta_min: float = 0.0,
                 last_epoch: int = -1) -> None:  # fmt: skip
        _check_positive_int("T_max", T_max)
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        groups = self.optimizer.param_groups
        if self._is_initial:
            return self._current_lrs()
        if self._step_count == 1 and self.last_epoch > 0:
            # Resumed with last_epoch > 0: no previous lr to recurse from, use the closed form.
            return [
                self.eta_min
                + (base - self.eta_min) * (1 + math.cos(self.last_epoch * math.pi / self.T_max)) / 2
                for base in self.base_lrs
            ]
        if (self.last_epoch - 1 - self.T_max) % (2 * self.T_max) == 0:
            # At the bottom of the cosine the ratio below would divide by ~0: add the step instead.
            return [
                group["lr"] + (base - self.eta_min) * (1 - math.cos(math.pi / self.T_max)) / 2
                for base, group in zip(self.base_lrs, groups)
            ]
        ratio = (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / (
            1 + math.cos(math.pi * (self.last_epoch - 1) / self.T_max)
        )
        return [ratio * (group["lr"] - self.eta_min) + self.eta_min for group in groups]

    def _get_closed_form_lr(self) -> list[float]:
        c = (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
        return [self.eta_min + (base - self.eta_min) * c for base in self.base_lrs]


class CosineAnnealingWarmRestarts(LRScheduler):
    """SGDR: lr = eta_min + (initial_lr - eta_min) * (1 + cos(pi * T_cur / T_i)) / 2, where T_cur
    counts epochs since the last restart and the period T_i starts at T_0 and is multiplied by
    T_mult at each restart. `step(epoch)` accepts fractional epochs (step per batch).

    Example: `CosineAnnealingWarmRestarts(opt, T_0=10, T_mult=2)`.
    """

    def __init__(self, optimizer: Any, T_0: int, T_mult: int = 1, eta_min: float = 0.0,
                 last_epoch: int = -1) -> None:  # fmt: skip
        _check_positive_int("T_0", T_0)
        if not isinstance(T_mult, int) or T_mult < 1:
            raise ValueError(f"`T_mult` must be an integer >= 1, got T_mult={T_mult!r}")
        self.T_0 = T_0
        self.T_i = T_0
        self.T_mult = T_mult
        self.eta_min = eta_min
        self.T_cur = last_epoch
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        c = (1 + math.cos(math.pi * self.T_cur / self.T_i)) / 2
        return [self.eta_min + (base - self.eta_min) * c for base in self.base_lrs]

    def step(self, epoch: float | None = None) -> None:
        """Next epoch, or jump to `epoch` (may be fractional: `step(epoch + i / iters)`)."""
        if epoch is None and self.last_epoch < 0:
            epoch = 0
        if epoch is None:
            epoch = self.last_epoch + 1
            self.T_cur = self.T_cur + 1
            if self.T_cur >= self.T_i:
                self.T_cur = self.T_cur % self.T_i
                self.T_i = self.T_i * self.T_mult
        else:
            if epoch < 0:
                raise ValueError(f"`epoch` must be >= 0, got epoch={epoch!r}")
            if epoch >= self.T_0:
                if self.T_mult == 1:
                    self.T_cur = epoch % self.T_0
                else:
                    n = int(math.log(epoch / self.T_0 * (self.T_mult - 1) + 1, self.T_mult))
                    self.T_cur = epoch - self.T_0 * (self.T_mult**n - 1) / (self.T_mult - 1)
                    self.T_i = self.T_0 * self.T_mult**n
            else:
                self.T_i = self.T_0
                self.T_cur = epoch
        self.last_epoch = math.floor(epoch)
        for group, lr in zip(self.optimizer.param_groups, self.get_lr(), strict=True):
            group["lr"] = lr
        self._last_lr = self._current_lrs()


class CyclicLR(LRScheduler):
    """Cyclical lr (Smith 2017) between base_lr and max_lr, stepped per batch; with
    `cycle_momentum` the momentum (or beta_1) cycles the opposite way between max_momentum and
    base_momentum. Modes: 'triangular', 'triangular2' (amplitude halves each cycle), 'exp_range'
    (amplitude * gamma**iteration), or a custom `scale_fn`.

    Example: `CyclicLR(opt, base_lr=0.01, max_lr=0.1, step_size_up=20)`.
    """

    _not_state = ("optimizer", "_is_initial", "_scale_fn_custom")

    def __init__(
        self,
        optimizer: Any,
        base_lr: float | list[float],
        max_lr: float | list[float],
        step_size_up: int = 2000,
        step_size_down: int | None = None,
        mode: str = "triangular",
        gamma: float = 1.0,
        scale_fn: Callable[[float], float] | None = None,
        scale_mode: str = "cycle",
        cycle_momentum: bool = True,
        base_momentum: float | list[float] = 0.8,
        max_momentum: float | list[float] = 0.9,
        last_epoch: int = -1,
    ) -> None:
        _check_optimizer(optimizer)
        self.optimizer = optimizer
        base_lrs = _per_group("base_lr", optimizer, base_lr)
        if last_epoch == -1:
            for lr, group in zip(base_lrs, optimizer.param_groups):
                group["lr"] = lr
        self.max_lrs = _per_group("max_lr", optimizer, max_lr)
        if not step_size_up > 0 or (step_size_down is not None and not step_size_down > 0):
            raise ValueError(
                f"`step_size_up` and `step_size_down` must be > 0, got {step_size_up!r}, "
                f"{step_size_down!r}"
            )
        up = float(step_size_up)
        down = float(step_size_down) if step_size_down is not None else up
        self.total_size = up + down
        self.step_ratio = up / self.total_size
        if mode not in ("triangular", "triangular2", "exp_range") and scale_fn is None:
            raise ValueError(
                f"`mode` must be 'triangular', 'triangular2' or 'exp_range' (or pass scale_fn), "
                f"got mode={mode!r}"
            )
        if scale_mode not in ("cycle", "iterations"):
            raise ValueError(f"`scale_mode` must be 'cycle' or 'iterations', got {scale_mode!r}")
        self.mode = mode
        self.gamma = gamma
        self._scale_fn_custom = scale_fn
        self.scale_mode = scale_mode if scale_fn is not None else self._builtin_scale_mode()
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            key = _momentum_key(optimizer)
            if key is None:
                raise ValueError(
                    "cycle_momentum=True needs an optimizer with 'momentum' or 'betas' "
                    "hyperparameters; pass cycle_momentum=False"
                )
            self.momentum_key = key
            self.base_momentums = _per_group("base_momentum", optimizer, base_momentum)
            self.max_momentums = _per_group("max_momentum", optimizer, max_momentum)
            if last_epoch == -1:
                for m_max, m_base, group in zip(
                    self.max_momentums, self.base_momentums, optimizer.param_groups
                ):
                    _set_momentum(group, key, m_max)
                    group["max_momentum"] = m_max
                    group["base_momentum"] = m_base
        super().__init__(optimizer, last_epoch)
        # As in torch, base_lrs is replaced only after the initial step.
        self.base_lrs = base_lrs

    def _builtin_scale_mode(self) -> str:
        return "iterations" if self.mode == "exp_range" else "cycle"

    def scale_fn(self, x: float) -> float:
        """Amplitude multiplier at cycle number (or iteration) x."""
        if self._scale_fn_custom is not None:
            return self._scale_fn_custom(x)
        if self.mode == "triangular":
            return 1.0
        if self.mode == "triangular2":
            return 1 / (2.0 ** (x - 1))
        return self.gamma**x

    def get_lr(self) -> list[float]:
        cycle = math.floor(1 + self.last_epoch / self.total_size)
        x = 1.0 + self.last_epoch / self.total_size - cycle
        if x <= self.step_ratio:
            scale_factor = x / self.step_ratio
        else:
            scale_factor = (x - 1) / (self.step_ratio - 1)
        where = cycle if self.scale_mode == "cycle" else self.last_epoch
        lrs = [
            base + (top - base) * scale_factor * self.scale_fn(where)
            for base, top in zip(self.base_lrs, self.max_lrs)
        ]
        if self.cycle_momentum:
            for m_base, m_max, group in zip(
                self.base_momentums, self.max_momentums, self.optimizer.param_groups
            ):
                m = m_max - (m_max - m_base) * scale_factor * self.scale_fn(where)
                _set_momentum(group, self.momentum_key, m)
        return lrs

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        fn = self._scale_fn_custom
        # Like LambdaLR: functions are not saved, a callable object's attributes are.
        state["_scale_fn_custom"] = (
            None if fn is None or isinstance(fn, types.FunctionType) else dict(vars(fn))
        )
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state = dict(state_dict)
        attrs = state.pop("_scale_fn_custom", None)
        super().load_state_dict(state)
        if attrs is not None and self._scale_fn_custom is not None:
            self._scale_fn_custom.__dict__.update(attrs)


class OneCycleLR(LRScheduler):
    """One-cycle policy (Smith & Topin 2018), stepped per batch for total_steps steps: lr rises
    from max_lr / div_factor to max_lr over pct_start of the run, then anneals (cos or linear) to
    max_lr / (div_factor * final_div_factor); momentum cycles the opposite way.

    Example: `OneCycleLR(opt, max_lr=0.1, total_steps=1000)`.
    """

    def __init__(
        self,
        optimizer: Any,
        max_lr: float | list[float],
        total_steps: int | None = None,
        epochs: int | None = None,
        steps_per_epoch: int | None = None,
        pct_start: float = 0.3,
        anneal_strategy: str = "cos",
        cycle_momentum: bool = True,
        base_momentum: float | list[float] = 0.85,
        max_momentum: float | list[float] = 0.95,
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        three_phase: bool = False,
        last_epoch: int = -1,
    ) -> None:
        from descentlab.optim.schedules import _one_cycle_phases

        _check_optimizer(optimizer)
        self.optimizer = optimizer
        if total_steps is not None:
            _check_positive_int("total_steps", total_steps)
            self.total_steps = total_steps
        elif epochs is not None and steps_per_epoch is not None:
            _check_positive_int("epochs", epochs)
            _check_positive_int("steps_per_epoch", steps_per_epoch)
            self.total_steps = epochs * steps_per_epoch
        else:
            raise ValueError("OneCycleLR needs total_steps, or both epochs and steps_per_epoch")
        if not isinstance(pct_start, float) or not 0 <= pct_start <= 1:
            raise ValueError(f"`pct_start` must be a float in [0, 1], got pct_start={pct_start!r}")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(
                f"`anneal_strategy` must be 'cos' or 'linear', got {anneal_strategy!r}"
            )
        self.anneal_strategy = anneal_strategy
        # Phases as JSON-able lists: [end_step, start_lr, end_lr, start_momentum, end_momentum].
        self._schedule_phases = [
            list(p) for p in _one_cycle_phases(self.total_steps, pct_start, three_phase)
        ]
        max_lrs = _per_group("max_lr", optimizer, max_lr)
        if last_epoch == -1:
            for top, group in zip(max_lrs, optimizer.param_groups):
                group["initial_lr"] = top / div_factor
                group["max_lr"] = top
                group["min_lr"] = group["initial_lr"] / final_div_factor
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            key = _momentum_key(optimizer)
            if key is None:
                raise ValueError(
                    "cycle_momentum=True needs an optimizer with 'momentum' or 'betas' "
                    "hyperparameters; pass cycle_momentum=False"
                )
            self.momentum_key = key
            if last_epoch == -1:
                for m_max, m_base, group in zip(
                    _per_group("max_momentum", optimizer, max_momentum),
                    _per_group("base_momentum", optimizer, base_momentum),
                    optimizer.param_groups,
                ):
                    _set_momentum(group, key, m_max)
                    group["max_momentum"] = m_max
                    group["base_momentum"] = m_base
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        from descentlab.optim.schedules import _one_cycle_value

        step = self.last_epoch
        if step > self.total_steps:
            raise ValueError(
                f"OneCycleLR stepped {step} times but total_steps={self.total_steps}; "
                "make total_steps cover every optimizer step"
            )
        lrs = []
        for group in self.optimizer.param_groups:
            lrs.append(_one_cycle_value(step, self._schedule_phases, group, self.anneal_strategy))
            if self.cycle_momentum:
                m = _one_cycle_value(
                    step, self._schedule_phases, group, self.anneal_strategy, momentum=True
                )
                _set_momentum(group, self.momentum_key, m)
        return lrs


class ScheduleLR(LRScheduler):
    """Drive an optimizer with a pure schedule: lr = schedule(epoch) (one schedule or one per group).

    Not in PyTorch; the bridge from `descentlab.optim.schedules` (functions of the step) to any
    optimizer with `param_groups`. The schedule gives the lr itself, not a factor of initial_lr.
    The state holds the epoch count only: re-create with the same schedule, then load.

    Example: `ScheduleLR(opt, schedules.CosineDecay(0.1, 1000))`, stepped once per batch.
    """

    _not_state = ("optimizer", "_is_initial", "schedules")

    def __init__(self, optimizer: Any, schedule: Any, last_epoch: int = -1) -> None:
        _check_optimizer(optimizer)
        self.schedules = _per_group("schedule", optimizer, schedule)
        for fn in self.schedules:
            if not callable(fn):
                raise TypeError(f"`schedule` must be a function of the step, got {fn!r}")
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return self._get_closed_form_lr()

    def _get_closed_form_lr(self) -> list[float]:
        return [float(fn(self.last_epoch)) for fn in self.schedules]


def _check_same_optimizer(owner: str, optimizer: Any, schedulers: Sequence[Any]) -> None:
    if len(schedulers) < 1:
        raise ValueError(f"{owner} needs at least one scheduler, got none")
    for i, s in enumerate(schedulers):
        if isinstance(s, ReduceLROnPlateau):
            raise ValueError(
                f"{owner} cannot hold ReduceLROnPlateau (index {i}): it needs a metric in step()"
            )
        if getattr(s, "optimizer", None) is not optimizer:
            raise ValueError(
                f"{owner}: scheduler {i} ({type(s).__name__}) acts on a different optimizer; all "
                "schedulers must be built on the same one"
            )


class SequentialLR(LRScheduler):
    """Run schedulers one after another, switching at the given epoch milestones; each new one
    restarts from epoch 0 (e.g. warmup then cosine).

    Example: `SequentialLR(opt, [LinearLR(opt, 0.1, total_iters=5), CosineAnnealingLR(opt, 95)],
    milestones=[5])`.
    """

    _not_state = ("optimizer", "_is_initial", "_schedulers")

    def __init__(self, optimizer: Any, schedulers: list[LRScheduler], milestones: list[int],
                 last_epoch: int = -1) -> None:  # fmt: skip
        _check_optimizer(optimizer)
        _check_same_optimizer("SequentialLR", optimizer, schedulers)
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(
                "SequentialLR needs one milestone fewer than schedulers, got "
                f"{len(schedulers)} schedulers and {len(milestones)} milestones"
            )
        self._schedulers = list(schedulers)
        self._milestones = list(milestones)
        self.last_epoch = last_epoch + 1
        self.optimizer = optimizer
        self._is_initial = False
        # Undo the construction-time steps of every scheduler, then start the first one afresh.
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"]
        for s in self._schedulers:
            self._undo(s)
        idx = bisect.bisect_right(self._milestones, 0)
        self._schedulers[idx]._initial_step()
        self._last_lr = self._schedulers[idx].get_last_lr()

    def _undo(self, scheduler: Any) -> None:
        if hasattr(scheduler, "_schedulers"):
            for s in scheduler._schedulers:
                self._undo(s)
        elif hasattr(scheduler, "last_epoch"):
            scheduler.last_epoch -= 1

    def step(self) -> None:
        self.last_epoch += 1
        idx = bisect.bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[idx]
        if idx > 0 and self._milestones[idx - 1] == self.last_epoch:
            scheduler._update_lr(0)
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state["_schedulers"] = [s.state_dict() for s in self._schedulers]
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state = dict(state_dict)
        inner = state.pop("_schedulers")
        super().load_state_dict(state)
        for s, sd in zip(self._schedulers, inner, strict=True):
            s.load_state_dict(sd)


class ChainedScheduler(SequentialLR):
    """Step several chainable schedulers together each epoch (their effects multiply).

    Example: `ChainedScheduler([ConstantLR(opt, 0.1, total_iters=2), ExponentialLR(opt, 0.9)])`.
    """

    def __init__(self, schedulers: Sequence[LRScheduler], optimizer: Any | None = None) -> None:
        if len(schedulers) < 1:
            raise ValueError("ChainedScheduler needs at least one scheduler, got none")
        optimizer = optimizer if optimizer is not None else schedulers[0].optimizer
        _check_same_optimizer("ChainedScheduler", optimizer, schedulers)
        self._schedulers = list(schedulers)
        self.optimizer = optimizer
        self._is_initial = False
        self._last_lr = self._current_lrs()

    def step(self) -> None:
        for s in self._schedulers:
            s.step()
        self._last_lr = self._current_lrs()


class ReduceLROnPlateau(LRScheduler):
    """Multiply the lr by `factor` when a metric has not improved for `patience` epochs.

    "Improved" means metric < best * (1 - threshold) ('min', 'rel'), < best - threshold ('abs'),
    or the mirror for mode='max'. After a reduction, `cooldown` epochs are ignored. The lr never
    goes below `min_lr`, and changes smaller than `eps` are skipped.

    Example: `sched = ReduceLROnPlateau(opt, patience=3); sched.step(val_loss)`.
    """

    def __init__(
        self,
        optimizer: Any,
        mode: str = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: str = "rel",
        cooldown: int = 0,
        min_lr: float | list[float] = 0,
        eps: float = 1e-8,
    ) -> None:
        _check_optimizer(optimizer)
        if factor >= 1.0:
            raise ValueError(f"`factor` must be < 1.0, got factor={factor!r}")
        if mode not in ("min", "max"):
            raise ValueError(f"`mode` must be 'min' or 'max', got mode={mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(
                f"`threshold_mode` must be 'rel' or 'abs', got threshold_mode={threshold_mode!r}"
            )
        self.optimizer = optimizer
        self.factor = factor
        if isinstance(min_lr, (list, tuple)):
            self.default_min_lr = None
            self.min_lrs = _per_group("min_lr", optimizer, list(min_lr))
        else:
            self.default_min_lr = min_lr
            self.min_lrs = [min_lr] * len(optimizer.param_groups)
        self.patience = patience
        self.cooldown = cooldown
        self.eps = eps
        self.mode = mode
        self.threshold = threshold
        self.threshold_mode = threshold_mode
        self.last_epoch = 0
        self._is_initial = False
        self._last_lr = self._current_lrs()
        self._reset()

    @property
    def mode_worse(self) -> float:
        return math.inf if self.mode == "min" else -math.inf

    def _reset(self) -> None:
        self.best = self.mode_worse
        self.cooldown_counter = 0
        self.num_bad_epochs = 0

    @property
    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def _is_better(self, a: float, best: float) -> bool:
        if self.mode == "min" and self.threshold_mode == "rel":
            return a < best * (1.0 - self.threshold)
        if self.mode == "min":
            return a < best - self.threshold
        if self.threshold_mode == "rel":
            return a > best * (self.threshold + 1.0)
        return a > best + self.threshold

    def step(self, metrics: float) -> None:  # type: ignore[override]
        """Record this epoch's metric and reduce the lr if it has plateaued."""
        current = float(metrics)
        self.last_epoch += 1
        if self._is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad epochs during cooldown do not count
        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = self._current_lrs()

    def _reduce_lr(self) -> None:
        groups = self.optimizer.param_groups
        if len(groups) != len(self.min_lrs):
            if self.default_min_lr is None:
                raise RuntimeError(
                    f"the optimizer now has {len(groups)} param groups but min_lr has "
                    f"{len(self.min_lrs)} values; set `min_lrs` to one value per group"
                )
            self.min_lrs = [self.default_min_lr] * len(groups)
        for group, min_lr in zip(groups, self.min_lrs):
            old = float(group["lr"])
            new = max(old * self.factor, min_lr)
            if old - new > self.eps:
                group["lr"] = new
