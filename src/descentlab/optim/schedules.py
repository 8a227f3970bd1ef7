"""Learning-rate schedules: pure functions of the step number.

A schedule is any callable `schedule(step) -> float`; every class here is a small frozen dataclass
whose `__call__` writes its formula. Use one as `learning_rate` of `descentlab.keras.optimizers`
(evaluated at the iteration count, as Keras does), in `transforms.scale_by_learning_rate(schedule)`,
or drive a PyTorch-named optimizer with `lr_scheduler.ScheduleLR(opt, schedule)`. `step` counts
optimizer updates from 0. The Keras-named ones (`ExponentialDecay`,
`PiecewiseConstantDecay`, `InverseTimeDecay`, `PolynomialDecay`, `CosineDecay`, `CosineDecayRestarts`)
take Keras' arguments and give `keras.optimizers.schedules`' values (Keras computes in float32, we
in float64). `OneCycle` and `Cyclic` give `torch.optim.lr_scheduler.OneCycleLR` / `CyclicLR`'s lr at
`last_epoch == step`. `LinearWarmup` and `Join` compose schedules.

Schedules serialise to JSON-able dicts with `serialize` and come back with `deserialize`.

Example:
    >>> from descentlab.optim.schedules import CosineDecay, LinearWarmup
    >>> lr = LinearWarmup(CosineDecay(0.1, decay_steps=90), warmup_steps=10)
    >>> round(lr(5), 6), round(lr(10), 6), round(lr(100), 6)
    (0.05, 0.1, 0.0)
"""

from __future__ import annotations

import bisect
import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

__all__ = [
    "Schedule",
    "Constant",
    "PiecewiseConstantDecay",
    "ExponentialDecay",
    "InverseTimeDecay",
    "PolynomialDecay",
    "CosineDecay",
    "CosineDecayRestarts",
    "LinearWarmup",
    "OneCycle",
    "Cyclic",
    "Join",
    "as_schedule",
    "serialize",
    "deserialize",
    "SCHEDULES",
]

ScheduleLike = float | Callable[[int], float]


def _check_step(step: Any) -> float:
    s = float(step)
    if s < 0 or math.isnan(s):
        raise ValueError(f"schedule step must be a non-negative number, got step={step!r}")
    return s


def _positive(name: str, value: float) -> None:
    if not value > 0:
        raise ValueError(f"`{name}` must be > 0, got {name}={value!r}")


@dataclasses.dataclass(frozen=True)
class Schedule:
    """Base class: a frozen dataclass whose `__call__(step)` returns the learning rate at `step`."""

    _registry: ClassVar[dict[str, type[Schedule]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        Schedule._registry[cls.__name__] = cls

    def __call__(self, step: int) -> float:  # pragma: no cover - every subclass overrides it
        raise NotImplementedError(f"{type(self).__name__} must implement __call__(step)")

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments as a JSON-able dict (nested schedules serialised)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Schedule):
                value = serialize(value)
            elif isinstance(value, tuple):
                value = [serialize(v) if isinstance(v, Schedule) else v for v in value]
            out[f.name] = value
        return out


def serialize(schedule: Schedule | float) -> dict[str, Any] | float:
    """`{"class_name": ..., "config": {...}}` for a schedule; a float is returned as is."""
    if isinstance(schedule, Schedule):
        return {"class_name": type(schedule).__name__, "config": schedule.get_config()}
    if isinstance(schedule, (int, float)):
        return float(schedule)
    raise TypeError(
        f"only descentlab schedules and floats can be serialised, got {type(schedule).__name__}; "
        "wrap custom functions in a Schedule subclass"
    )


def deserialize(config: dict[str, Any] | float) -> Schedule | float:
    """Inverse of `serialize`."""
    if isinstance(config, (int, float)):
        return float(config)
    name = config.get("class_name")
    cls = Schedule._registry.get(name)
    if cls is None:
        raise ValueError(
            f"unknown schedule class_name={name!r}; known: {sorted(Schedule._registry)}"
        )
    kwargs = {}
    for key, value in config["config"].items():
        if isinstance(value, dict) and "class_name" in value:
            value = deserialize(value)
        elif isinstance(value, list):
            value = [deserialize(v) if isinstance(v, dict) else v for v in value]
        kwargs[key] = value
    return cls(**kwargs)


def as_schedule(value: ScheduleLike) -> Callable[[int], float]:
    """A float becomes `Constant(value)`; a callable is returned unchanged."""
    if callable(value):
        return value
    if isinstance(value, (int, float)):
        return Constant(float(value))
    raise TypeError(
        f"learning rate must be a float or a schedule (callable of the step), got {value!r}"
    )


@dataclasses.dataclass(frozen=True)
class Constant(Schedule):
    """lr(step) = value.

    Example: `Constant(0.01)(1000) == 0.01`.
    """

    value: float

    def __call__(self, step: int) -> float:
        _check_step(step)
        return float(self.value)


@dataclasses.dataclass(frozen=True)
class PiecewiseConstantDecay(Schedule):
    """values[0] while step <= boundaries[0], values[i] while boundaries[i-1] < step <= boundaries[i],
    values[-1] after the last boundary (Keras `PiecewiseConstantDecay`: boundaries belong to the left).

    Example: `PiecewiseConstantDecay([100, 200], [1.0, 0.5, 0.1])(150) == 0.5`.
    """

    boundaries: Sequence[float]
    values: Sequence[float]

    def __post_init__(self) -> None:
        object.__setattr__(self, "boundaries", tuple(self.boundaries))
        object.__setattr__(self, "values", tuple(float(v) for v in self.values))
        if len(self.boundaries) != len(self.values) - 1:
            raise ValueError(
                "`values` must have one more entry than `boundaries`, got "
                f"{len(self.boundaries)} boundaries and {len(self.values)} values"
            )
        if list(self.boundaries) != sorted(self.boundaries):
            raise ValueError(f"`boundaries` must be increasing, got {list(self.boundaries)}")

    def __call__(self, step: int) -> float:
        # bisect_left counts the boundaries strictly below step, so a boundary itself stays left.
        return self.values[bisect.bisect_left(self.boundaries, _check_step(step))]


@dataclasses.dataclass(frozen=True)
class ExponentialDecay(Schedule):
    """lr(step) = initial_learning_rate * decay_rate ** (step / decay_steps)
    (exponent floored when `staircase`; Keras `ExponentialDecay`).

    Example: `ExponentialDecay(0.1, 10, 0.5, staircase=True)(25) == 0.025`.
    """

    initial_learning_rate: float
    decay_steps: float
    decay_rate: float
    staircase: bool = False

    def __post_init__(self) -> None:
        _positive("decay_steps", self.decay_steps)

    def __call__(self, step: int) -> float:
        p = _check_step(step) / self.decay_steps
        if self.staircase:
            p = math.floor(p)
        return self.initial_learning_rate * self.decay_rate**p


@dataclasses.dataclass(frozen=True)
class InverseTimeDecay(Schedule):
    """lr(step) = initial_learning_rate / (1 + decay_rate * step / decay_steps)
    (ratio floored when `staircase`; Keras `InverseTimeDecay`, the legacy `decay=` argument with
    decay_steps=1).

    Example: `InverseTimeDecay(0.1, 1, 0.5)(2) == 0.05`.
    """

    initial_learning_rate: float
    decay_steps: float
    decay_rate: float
    staircase: bool = False

    def __post_init__(self) -> None:
        _positive("decay_steps", self.decay_steps)

    def __call__(self, step: int) -> float:
        p = _check_step(step) / self.decay_steps
        if self.staircase:
            p = math.floor(p)
        return self.initial_learning_rate / (1.0 + self.decay_rate * p)


@dataclasses.dataclass(frozen=True)
class PolynomialDecay(Schedule):
    """lr(step) = (initial - end) * (1 - min(step, decay_steps) / decay_steps) ** power + end.

    With `cycle=True` the horizon becomes decay_steps * ceil(step / decay_steps) (at least one
    period) instead of clamping step (Keras `PolynomialDecay`).

    Example: `PolynomialDecay(0.1, 100, end_learning_rate=0.0)(50) == 0.05`.
    """

    initial_learning_rate: float
    decay_steps: float
    end_learning_rate: float = 0.0001
    power: float = 1.0
    cycle: bool = False

    def __post_init__(self) -> None:
        _positive("decay_steps", self.decay_steps)

    def __call__(self, step: int) -> float:
        s = _check_step(step)
        horizon = float(self.decay_steps)
        if self.cycle:
            horizon *= 1.0 if s == 0 else math.ceil(s / self.decay_steps)
        else:
            s = min(s, horizon)
        frac = 1.0 - s / horizon
        return (self.initial_learning_rate - self.end_learning_rate) * frac**self.power + (
            self.end_learning_rate
        )


def _cosine(start: float, fraction: float, alpha: float) -> float:
    # Shared by CosineDecay and CosineDecayRestarts: half a cosine from start down to alpha * start.
    return start * ((1.0 - alpha) * 0.5 * (1.0 + math.cos(math.pi * fraction)) + alpha)


@dataclasses.dataclass(frozen=True)
class CosineDecay(Schedule):
    """lr(step) = initial * ((1 - alpha) * (1 + cos(pi * min(step, decay_steps) / decay_steps)) / 2 + alpha).

    With `warmup_target`, first a linear warmup from initial_learning_rate to warmup_target over
    `warmup_steps`, then the cosine from warmup_target (Keras `CosineDecay`; SGDR without restarts).

    Example: `CosineDecay(0.1, 100)(50) == 0.05` (up to rounding).
    """

    initial_learning_rate: float
    decay_steps: float
    alpha: float = 0.0
    warmup_target: float | None = None
    warmup_steps: float = 0

    def __post_init__(self) -> None:
        _positive("decay_steps", self.decay_steps)
        if self.warmup_steps < 0:
            raise ValueError(f"`warmup_steps` must be >= 0, got warmup_steps={self.warmup_steps!r}")

    def __call__(self, step: int) -> float:
        s = _check_step(step)
        if self.warmup_target is None:
            s = min(s, self.decay_steps)
            return _cosine(self.initial_learning_rate, s / self.decay_steps, self.alpha)
        s = min(s, self.decay_steps + self.warmup_steps)
        if s < self.warmup_steps:
            delta = self.warmup_target - self.initial_learning_rate
            return delta * (s / self.warmup_steps) + self.initial_learning_rate
        return _cosine(self.warmup_target, (s - self.warmup_steps) / self.decay_steps, self.alpha)


@dataclasses.dataclass(frozen=True)
class CosineDecayRestarts(Schedule):
    """Cosine decay with warm restarts (SGDR, Loshchilov & Hutter; Keras `CosineDecayRestarts`).

    Period i lasts first_decay_steps * t_mul**i steps; inside it
    lr = initial * ((1 - alpha) * m_mul**i * (1 + cos(pi * t / period)) / 2 + alpha)
    (the floor alpha * initial is not scaled by m_mul, as in Keras).

    Example: `CosineDecayRestarts(0.1, 10, t_mul=2.0)(10) == 0.1` (first restart).
    """

    initial_learning_rate: float
    first_decay_steps: float
    t_mul: float = 2.0
    m_mul: float = 1.0
    alpha: float = 0.0

    def __post_init__(self) -> None:
        _positive("first_decay_steps", self.first_decay_steps)
        _positive("t_mul", self.t_mul)

    def _restart(self, fraction: float) -> tuple[int, float]:
        """Index of the current period and the fraction of it completed (exact at boundaries)."""
        if self.t_mul == 1.0:
            i = math.floor(fraction)
            return i, fraction - i
        t = self.t_mul
        i = math.floor(math.log(1.0 - fraction * (1.0 - t)) / math.log(t))

        def start(k: int) -> float:  # periods 0..k-1 last sum t**j = (1 - t**k) / (1 - t)
            return (1.0 - t**k) / (1.0 - t)

        # The log formula can land one period off at a boundary through rounding; fix it exactly.
        while start(i + 1) <= fraction:
            i += 1
        while i > 0 and start(i) > fraction:
            i -= 1
        return i, (fraction - start(i)) / t**i

    def __call__(self, step: int) -> float:
        i, frac = self._restart(_check_step(step) / self.first_decay_steps)
        cosine = 0.5 * self.m_mul**i * (1.0 + math.cos(math.pi * frac))
        return self.initial_learning_rate * ((1.0 - self.alpha) * cosine + self.alpha)


@dataclasses.dataclass(frozen=True)
class LinearWarmup(Schedule):
    """Linear warmup joined to any schedule: start_value -> schedule(0) over warmup_steps, then
    schedule(step - warmup_steps).

    lr(step) = start_value + (peak - start_value) * step / warmup_steps  for step < warmup_steps.

    Example: `LinearWarmup(ExponentialDecay(0.1, 10, 0.5), warmup_steps=5)(5) == 0.1`.
    """

    schedule: Schedule | float
    warmup_steps: int
    start_value: float = 0.0

    def __post_init__(self) -> None:
        if isinstance(self.schedule, (int, float)):
            object.__setattr__(self, "schedule", Constant(float(self.schedule)))
        if not callable(self.schedule):
            raise TypeError(f"`schedule` must be a float or a schedule, got {self.schedule!r}")
        if self.warmup_steps < 0:
            raise ValueError(f"`warmup_steps` must be >= 0, got warmup_steps={self.warmup_steps!r}")

    def __call__(self, step: int) -> float:
        s = _check_step(step)
        if s < self.warmup_steps:
            peak = self.schedule(0)
            return self.start_value + (peak - self.start_value) * s / self.warmup_steps
        return self.schedule(s - self.warmup_steps)


def _anneal_cos(start: float, end: float, pct: float) -> float:
    # Same operation order as torch's OneCycleLR so values agree to the last bit.
    return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)


def _anneal_linear(start: float, end: float, pct: float) -> float:
    return (end - start) * pct + start


def _one_cycle_phases(total_steps: int, pct_start: float, three_phase: bool) -> list[tuple]:
    """(end_step, start key, end key, start momentum key, end momentum key) per phase (torch)."""
    up = float(pct_start * total_steps) - 1
    if three_phase:
        return [
            (up, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
            (float(2 * pct_start * total_steps) - 2, "max_lr", "initial_lr", "base_momentum",
             "max_momentum"),
            (total_steps - 1, "initial_lr", "min_lr", "max_momentum", "max_momentum"),
        ]  # fmt: skip
    return [
        (up, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
        (total_steps - 1, "max_lr", "min_lr", "base_momentum", "max_momentum"),
    ]


def _one_cycle_value(step: float, phases: list[tuple], values: dict[str, float], anneal: str,
                     momentum: bool = False) -> float:  # fmt: skip
    fn = _anneal_cos if anneal == "cos" else _anneal_linear
    start_step = 0.0
    for i, (end_step, lr0, lr1, m0, m1) in enumerate(phases):
        if step <= end_step or i == len(phases) - 1:
            pct = (step - start_step) / (end_step - start_step)
            a, b = (m0, m1) if momentum else (lr0, lr1)
            return fn(values[a], values[b], pct)
        start_step = end_step
    raise AssertionError("unreachable: the last phase always matches")


@dataclasses.dataclass(frozen=True)
class OneCycle(Schedule):
    """One-cycle policy (Smith & Topin): warm up from max_lr / div_factor to max_lr over
    pct_start * total_steps, then anneal to max_lr / (div_factor * final_div_factor).

    Cosine (or linear) annealing per phase; `three_phase` goes back to the initial lr before the
    final annihilation. Gives `torch.optim.lr_scheduler.OneCycleLR`'s lr at last_epoch == step;
    steps past the end hold the last value. `momentum(step)` is the matching inverse momentum cycle.

    Example: `OneCycle(100, max_lr=1.0)(29) == 1.0`.
    """

    total_steps: int
    max_lr: float
    pct_start: float = 0.3
    anneal_strategy: str = "cos"
    div_factor: float = 25.0
    final_div_factor: float = 1e4
    three_phase: bool = False
    base_momentum: float = 0.85
    max_momentum: float = 0.95

    def __post_init__(self) -> None:
        if not isinstance(self.total_steps, int) or self.total_steps <= 0:
            raise ValueError(f"`total_steps` must be a positive integer, got {self.total_steps!r}")
        if not 0 <= self.pct_start <= 1:
            raise ValueError(f"`pct_start` must be in [0, 1], got pct_start={self.pct_start!r}")
        if self.anneal_strategy not in ("cos", "linear"):
            raise ValueError(
                f"`anneal_strategy` must be 'cos' or 'linear', got {self.anneal_strategy!r}"
            )

    def _values(self) -> dict[str, float]:
        initial = self.max_lr / self.div_factor
        return {
            "initial_lr": initial,
            "max_lr": self.max_lr,
            "min_lr": initial / self.final_div_factor,
            "base_momentum": self.base_momentum,
            "max_momentum": self.max_momentum,
        }

    def _eval(self, step: int, momentum: bool) -> float:
        s = min(_check_step(step), self.total_steps - 1)
        phases = _one_cycle_phases(self.total_steps, self.pct_start, self.three_phase)
        return _one_cycle_value(s, phases, self._values(), self.anneal_strategy, momentum)

    def __call__(self, step: int) -> float:
        return self._eval(step, momentum=False)

    def momentum(self, step: int) -> float:
        """The momentum (or beta_1) that cycles opposite to the lr: max -> base -> max."""
        return self._eval(step, momentum=True)


def _cyclic_position(step: float, total_size: float, step_ratio: float) -> tuple[int, float]:
    """(cycle number from 1, scale factor in [0, 1] along the triangle) as in torch's CyclicLR."""
    cycle = math.floor(1 + step / total_size)
    x = 1.0 + step / total_size - cycle
    if x <= step_ratio:
        return cycle, x / step_ratio
    return cycle, (x - 1) / (step_ratio - 1)


@dataclasses.dataclass(frozen=True)
class Cyclic(Schedule):
    """Cyclical learning rate (Smith 2017): a triangle between base_lr and max_lr.

    lr = base_lr + (max_lr - base_lr) * height(step) * scale, where scale is 1 ('triangular'),
    1 / 2**(cycle - 1) ('triangular2') or gamma**step ('exp_range'). Gives
    `torch.optim.lr_scheduler.CyclicLR`'s lr at last_epoch == step.

    Example: `Cyclic(0.1, 1.0, step_size_up=10)(10) == 1.0`.
    """

    base_lr: float
    max_lr: float
    step_size_up: int = 2000
    step_size_down: int | None = None
    mode: str = "triangular"
    gamma: float = 1.0

    def __post_init__(self) -> None:
        _positive("step_size_up", self.step_size_up)
        if self.step_size_down is not None:
            _positive("step_size_down", self.step_size_down)
        if self.mode not in ("triangular", "triangular2", "exp_range"):
            raise ValueError(
                f"`mode` must be 'triangular', 'triangular2' or 'exp_range', got {self.mode!r}"
            )

    def __call__(self, step: int) -> float:
        s = _check_step(step)
        up = float(self.step_size_up)
        down = float(self.step_size_down) if self.step_size_down is not None else up
        cycle, factor = _cyclic_position(s, up + down, up / (up + down))
        height = (self.max_lr - self.base_lr) * factor
        if self.mode == "triangular":
            scale = 1.0
        elif self.mode == "triangular2":
            scale = 1 / (2.0 ** (cycle - 1))
        else:
            scale = self.gamma**s
        return self.base_lr + height * scale


@dataclasses.dataclass(frozen=True)
class Join(Schedule):
    """Schedules one after another: schedules[i] runs from boundaries[i-1], restarted at step 0.

    lr(step) = schedules[i](step - boundaries[i-1]) for boundaries[i-1] <= step < boundaries[i]
    (optax `join_schedules`; the pure-function twin of `lr_scheduler.SequentialLR`).

    Example: `Join([Constant(0.1), ExponentialDecay(0.1, 1, 0.5)], [10])(12) == 0.025`.
    """

    schedules: Sequence[Schedule | float]
    boundaries: Sequence[int]

    def __post_init__(self) -> None:
        object.__setattr__(self, "schedules", tuple(as_schedule(s) for s in self.schedules))
        object.__setattr__(self, "boundaries", tuple(self.boundaries))
        if len(self.schedules) != len(self.boundaries) + 1:
            raise ValueError(
                "`schedules` must have one more entry than `boundaries`, got "
                f"{len(self.schedules)} schedules and {len(self.boundaries)} boundaries"
            )
        if list(self.boundaries) != sorted(self.boundaries):
            raise ValueError(f"`boundaries` must be increasing, got {list(self.boundaries)}")

    def __call__(self, step: int) -> float:
        s = _check_step(step)
        i = bisect.bisect_right(self.boundaries, s)
        offset = self.boundaries[i - 1] if i > 0 else 0
        return self.schedules[i](s - offset)


SCHEDULES: dict[str, type[Schedule]] = Schedule._registry
