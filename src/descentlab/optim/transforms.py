"""Gradient transformations: the small pieces every optimizer in descentlab is a chain of.

A transformation is a pair of pure-looking functions over lists of arrays (one entry per parameter):

    init(params) -> state
    update(updates, state, params, hyper) -> (updates, state)

`state` is a dict mapping a name ("exp_avg", "step", ...) to a list with one entry per parameter
(an array or a number), so an optimizer can keep it in parameter order, take a subset of parameters
(those that have a gradient this step) and save it without pickling. Updates are *added* to the
parameters, so a learning rate enters as `-lr` (`scale_by_learning_rate`).

For speed the arrays in `updates` and in `state` are modified in place: the caller passes update
arrays it owns (the `Optimizer` copies each `.grad` into a scratch buffer first) and must not
reuse them. A transformation built with `readonly_updates=True` also accepts read-only update
arrays: it never writes into one but puts its result in a new array (or returns a read-only view
of its state), and returns writable arrays for writable ones; for a chain of such parts the
`Optimizer` passes the gradients themselves, saving one copy pass per step. `hyper` is an optional mapping of live values read at each step: `hyper["lr"]` feeds
`scale_by_learning_rate()` when it was built without a rate, and `hyper["step"]` (1-based), when
given, replaces the per-parameter step counters (Keras counts steps once per optimizer, PyTorch once
per parameter).

Example (Adam, PyTorch convention, by hand):
    >>> import numpy as np
    >>> tx = chain(scale_by_adam(b1=0.9, b2=0.999, eps=1e-8), scale_by_learning_rate(0.1))
    >>> p = [np.array([1.0, -2.0])]
    >>> state = tx.init(p)
    >>> u, state = tx.update([np.array([0.5, -0.5])], state, p)
    >>> p[0] + u[0]  # the first Adam step moves each coordinate by about lr against its gradient
    array([ 0.9, -1.9])
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from descentlab._memory import copy_aligned, full_aligned
from descentlab.optim._blas import axpby, axpy, ufunc_pass
from descentlab.optim.workspace import temporary

__all__ = [
    "GradientTransformation",
    "apply_updates",
    "chain",
    "identity",
    "count_steps",
    "scale",
    "scale_by_learning_rate",
    "maximize",
    "trace",
    "scale_by_adagrad",
    "scale_by_rms",
    "scale_by_adam",
    "scale_by_adamax",
    "scale_by_radam",
    "scale_by_adadelta",
    "scale_by_lion",
    "scale_by_rprop",
    "scale_by_asgd",
    "add_l2",
    "add_decayed_weights",
    "clip",
    "clip_by_norm",
    "clip_by_global_norm",
    "global_norm",
    "ema",
    "swap_ema",
    "accumulate",
    "skip_nonfinite",
]

Arrays = list[np.ndarray]
State = dict[str, list[Any]]
Hyper = Mapping[str, Any] | None
Schedule = Callable[[int], float]


class GradientTransformation(NamedTuple):
    """A pair `init(params) -> state`, `update(updates, state, params, hyper) -> (updates, state)`.

    `elementwise=True` declares that every output coordinate depends only on the same coordinate
    of the inputs and state (no norms across a tensor), so the caller may feed the arrays in
    chunks (the `Optimizer`'s flat mode does, to keep its working set in cache).

    `readonly_updates=True` declares that `update` never writes into a read-only update array (it
    writes its result to a new array instead, or returns a read-only view of its state) and
    returns writable arrays when given writable ones, so the caller may pass read-only views of
    the gradients instead of copies; the values computed are the same either way.

    `apply(updates, state, params, hyper, factor) -> state`, when given, adds `factor` times the
    transformed updates to the parameters in place itself, and `scalar(state, hyper) -> float`
    declares a transformation that only multiplies every update by that number (the learning
    rate). `apply_updates` uses them to fold scalings into the final add, which then costs one
    fused pass (BLAS axpby) instead of a pass per scaling plus one for the add.

    `deferrable=True` declares that `update` (and `apply`), given state that a first step has
    created and read-only updates (or the arrays an earlier deferrable part returns), touch array
    data only through `_blas.axpy`, `_blas.axpby` and `_blas.ufunc_pass`, and take their
    temporaries from `workspace.temporary`: their passes may then be recorded
    (`_blas.recording`) and run later, in order, on another thread, while the work item that
    gave out the temporaries stays open. Momentum (`trace`) and RMSProp (`scale_by_rms`) are; a
    chain is when every part is, trailing scalings aside.
    """

    init: Callable[[Sequence[np.ndarray]], State]
    update: Callable[..., tuple[Arrays, State]]
    elementwise: bool = False
    readonly_updates: bool = False
    apply: Callable[..., State] | None = None
    scalar: Callable[[State, Hyper], float] | None = None
    deferrable: bool = False


# ----------------------------------------------------------------------------- helpers
def _check(name: str, value: float, low: float = 0.0, high: float | None = None,
           high_open: bool = False) -> float:  # fmt: skip
    """Validate one hyperparameter: a ValueError names the argument, its value and its range."""
    value = float(value)
    bad = not math.isfinite(value) or value < low
    if high is not None:
        bad = bad or (value >= high if high_open else value > high)
    if bad:
        closing = ")" if high_open else "]"
        rng = f"[{low:g}, {high:g}{closing}" if high is not None else f">= {low:g}"
        raise ValueError(f"invalid {name}: {value!r}; {name} must be in {rng}")
    return value


def _check_convention(convention: str) -> str:
    if convention not in ("torch", "keras"):
        raise ValueError(f"convention must be 'torch' or 'keras', got {convention!r}")
    return convention


def _zeros(params: Sequence[np.ndarray]) -> list[np.ndarray]:
    return [full_aligned(p, 0.0) for p in params]  # optimizer state: on cache lines, see _memory


def inplace_target(u: np.ndarray) -> np.ndarray:
    """Where an in-place step on update `u` may write: `u` itself, or a new array if it is read-only."""
    return u if u.flags.writeable else temporary(u)


def readonly(a: np.ndarray) -> np.ndarray:
    """A read-only view of `a` (an update that must not be written into: a gradient, a state array)."""
    view = a.view()
    view.flags.writeable = False
    return view


def _steps(state: State, key: str, hyper: Hyper) -> list[int]:
    """Advance and return the per-parameter step counters (or the shared `hyper['step']`)."""
    counts = state[key]
    for i in range(len(counts)):
        counts[i] += 1
    if hyper is not None and hyper.get("step") is not None:
        return [int(hyper["step"])] * len(counts)
    return counts


def _lr_value(lr: float | Schedule | None, step: int, hyper: Hyper) -> float:
    if lr is None:
        if hyper is None or "lr" not in hyper:
            raise ValueError("scale_by_learning_rate() without a rate needs hyper['lr']")
        return float(hyper["lr"])
    return float(lr(step)) if callable(lr) else float(lr)


def apply_updates(tx: GradientTransformation, updates: Arrays, state: State,
                  params: Sequence[np.ndarray], hyper: Hyper = None,
                  factor: float = 1.0) -> State:  # fmt: skip
    """params <- params + factor * tx.update(updates), in place; returns the new state.

    The same values as adding `tx.update`'s result (to rounding), in fewer passes over memory: a
    chain ending in `scale_by_learning_rate` folds -lr into the add (p <- p + (-lr) u, one BLAS
    axpby), and a part with its own `apply` (Adam) folds its last scalar multiplication there too.

    Example:
        >>> p = [np.array([1.0, 2.0])]
        >>> tx = chain(trace(0.9), scale_by_learning_rate(0.5))
        >>> state = apply_updates(tx, [np.array([1.0, -1.0])], tx.init(p), p)
        >>> p[0]
        array([0.5, 2.5])
    """
    if tx.apply is not None:
        return tx.apply(updates, state, params, hyper, factor)
    if tx.scalar is not None:
        factor *= tx.scalar(state, hyper)
    else:
        updates, state = tx.update(updates, state, params, hyper)
    for p, u in zip(params, updates):
        axpy(factor, u, p)
    return state


# ----------------------------------------------------------------------------- combinators
def chain(*transforms: GradientTransformation) -> GradientTransformation:
    """Apply transformations one after another: `chain(a, b)` feeds a's updates into b.

    The chained state is the union of the parts' states; two parts keeping state under the same name
    (e.g. two `trace`s) is an error, as one would silently overwrite the other.

    Example:
        >>> sgd_momentum = chain(trace(momentum=0.9), scale_by_learning_rate(0.01))
    """

    def init(params: Sequence[np.ndarray]) -> State:
        state: State = {}
        for t in transforms:
            part = t.init(params)
            clash = set(part) & set(state)
            if clash:
                raise ValueError(
                    f"chain(): two transformations keep state under {sorted(clash)}; "
                    "use distinct transformations or wrap one of them"
                )
            state.update(part)
        return state

    def update(updates: Arrays, state: State, params: Sequence[np.ndarray] = (),
               hyper: Hyper = None) -> tuple[Arrays, State]:  # fmt: skip
        for t in transforms:
            updates, state = t.update(updates, state, params, hyper)
        return updates, state

    def apply(updates: Arrays, state: State, params: Sequence[np.ndarray] = (),
              hyper: Hyper = None, factor: float = 1.0) -> State:  # fmt: skip
        last = len(transforms) - 1
        while last > 0 and transforms[last].scalar is not None:  # trailing scalings: one factor
            factor *= transforms[last].scalar(state, hyper)
            last -= 1
        for t in transforms[:last]:
            updates, state = t.update(updates, state, params, hyper)
        return apply_updates(transforms[last], updates, state, params, hyper, factor)

    return GradientTransformation(init, update, all(t.elementwise for t in transforms),
                                  all(t.readonly_updates for t in transforms),
                                  apply if transforms else None,
                                  deferrable=_deferrable(transforms))  # fmt: skip


def _deferrable(transforms: Sequence[GradientTransformation]) -> bool:
    """Is `chain(*transforms).apply` deferrable? Its trailing scalings only join the factor, and
    the last other part runs through `apply_updates`, where a scaling also only joins it."""
    last = len(transforms) - 1
    while last > 0 and transforms[last].scalar is not None:
        last -= 1
    if last < 0:
        return False
    tail = transforms[last]
    applied = tail.deferrable or (tail.apply is None and tail.scalar is not None)
    return applied and all(t.deferrable for t in transforms[:last])


def _stateless(
    fn: Callable[[Arrays, Sequence[np.ndarray], Hyper], Arrays],
    elementwise: bool = False,
    readonly_updates: bool = False,
) -> GradientTransformation:
    def update(updates: Arrays, state: State, params: Sequence[np.ndarray] = (),
               hyper: Hyper = None) -> tuple[Arrays, State]:  # fmt: skip
        return fn(updates, params, hyper), state

    return GradientTransformation(lambda params: {}, update, elementwise, readonly_updates)


def identity() -> GradientTransformation:
    """Leave the updates unchanged (a neutral element of `chain`)."""
    return _stateless(lambda u, p, h: u, elementwise=True, readonly_updates=True)


def count_steps(key: str = "step") -> GradientTransformation:
    """Count each parameter's steps under `state[key]`, leaving the updates unchanged.

    PyTorch's RMSprop and Adadelta keep such a count (`state[p]["step"]`) that their update does
    not use; keeping it too makes state_dicts carry over between the two libraries.

    Example:
        >>> tx = chain(count_steps(), scale_by_rms(0.99), scale_by_learning_rate(0.01))
    """

    def init(params: Sequence[np.ndarray]) -> State:
        return {key: [0] * len(params)}

    def update(updates: Arrays, state: State, params: Sequence[np.ndarray] = (),
               hyper: Hyper = None) -> tuple[Arrays, State]:  # fmt: skip
        _steps(state, key, None)
        return updates, state

    return GradientTransformation(init, update, elementwise=True, readonly_updates=True,
                                  deferrable=True)  # fmt: skip


# ----------------------------------------------------------------------------- scaling
def scale(factor: float) -> GradientTransformation:
    """Multiply the updates by a constant: u <- factor * u."""
    factor = float(factor)

    def fn(updates: Arrays, params: Sequence[np.ndarray], hyper: Hyper) -> Arrays:
        return [np.multiply(u, factor, out=inplace_target(u)) for u in updates]

    return _stateless(fn, elementwise=True, readonly_updates=True)._replace(
        scalar=lambda state, hyper: factor
    )


def maximize() -> GradientTransformation:
    """Ascend instead of descend: u <- -u (PyTorch's `maximize=True`, applied to the gradient first)."""
    return scale(-1.0)


def scale_by_learning_rate(lr: float | Schedule | None = None) -> GradientTransformation:
    """Turn a direction into a step: u <- -lr * u.

    `lr` is a float, a schedule (a function of the 0-based step count, kept under "lr_step"), or None
    to read `hyper['lr']` at every step, which is how PyTorch-style schedulers that write
    `group['lr']` reach the update.

    Example:
        >>> tx = scale_by_learning_rate(lambda step: 0.1 * 0.5 ** step)  # halve every step
    """
    if lr is not None and not callable(lr):
        _check("lr", lr)

    def init(params: Sequence[np.ndarray]) -> State:
        return {"lr_step": [0] * len(params)} if callable(lr) else {}

    def update(updates: Arrays, state: State, params: Sequence[np.ndarray] = (),
               hyper: Hyper = None) -> tuple[Arrays, State]:  # fmt: skip
        if callable(lr):
            counts = state["lr_step"]
            out = []
            for i, u in enumerate(updates):
                out.append(np.multiply(u, -_lr_value(lr, counts[i], hyper), out=inplace_target(u)))
                counts[i] += 1
            return out, state
        rate = -_lr_value(lr, 0, hyper)
        return [np.multiply(u, rate, out=inplace_target(u)) for u in updates], state

    def scalar(state: State, hyper: Hyper) -> float:
        return -_lr_value(lr, 0, hyper)

    return GradientTransformation(init, update, elementwise=True, readonly_updates=True,
                                  scalar=None if callable(lr) else scalar)  # fmt: skip


# ----------------------------------------------------------------------------- weight decay
def _plus_decay(updates: Arrays, params: Sequence[np.ndarray], wd: float) -> Arrays:
    """u + wd * p for each pair, one fused pass (in place when u is writable, else on a copy of u,
    which rounds the same)."""
    if wd == 0.0:
        return updates
    out = []
    for u, p in zip(updates, params):
        target = inplace_target(u)
        if target is not u:
            np.copyto(target, u)
        axpy(wd, p, target)
        out.append(target)
    return out


def add_l2(weight_decay: float) -> GradientTransformation:
    """Coupled weight decay (L2 in the gradient): u <- u + wd * p, before any rescaling (PyTorch)."""
    wd = _check("weight_decay", weight_decay)

    def fn(updates: Arrays, params: Sequence[np.ndarray], hyper: Hyper) -> Arrays:
        return _plus_decay(updates, params, wd)

    return _stateless(fn, elementwise=True, readonly_updates=True)


def add_decayed_weights(weight_decay: float) -> GradientTransformation:
    """Decoupled weight decay (AdamW): u <- u + wd * p after the rescaling, before `-lr`.

    With `scale_by_learning_rate` after it this is p <- p - lr * (u + wd * p), i.e. PyTorch's
    p.mul_(1 - lr * wd) followed by the step, and Keras's `weight_decay` (p -= lr * wd * p).
    """
    wd = _check("weight_decay", weight_decay)

    def fn(updates: Arrays, params: Sequence[np.ndarray], hyper: Hyper) -> Arrays:
        return _plus_decay(updates, params, wd)

    return _stateless(fn, elementwise=True, readonly_updates=True)


# ----------------------------------------------------------------------------- momentum
def trace(momentum: float = 0.9, dampening: float = 0.0, nesterov: bool = False,
          convention: str = "torch") -> GradientTransformation:  # fmt: skip
    """Momentum: past updates as inertia.

        b <- momentum * b + (1 - dampening) * u;   u <- b   (or u + momentum * b with Nesterov)

    Conventions: 'torch' (SGD) starts the buffer at the first update itself (no dampening on
    step 1); 'keras' starts it at zero. Put `trace` before `scale_by_learning_rate` for PyTorch's
    lr-outside-the-buffer SGD, after it for Keras's lr-inside-the-buffer SGD (b <- m*b - lr*g).
    State: "momentum_buffer" (None until the first step under 'torch').

    Example:
        >>> sgd_nesterov = chain(trace(0.9, nesterov=True), scale_by_learning_rate(0.01))
    """
    mom = _check("momentum", momentum)
    damp = _check("dampening", dampening)
    _check_convention(convention)
    if nesterov and (mom <= 0.0 or damp != 0.0):
        raise ValueError(
            "Nesterov momentum requires a momentum > 0 and dampening = 0, got "
            f"momentum={mom!r}, dampening={damp!r}"
        )
    if convention == "keras" and damp != 0.0:
        raise ValueError(f"dampening must be 0 under the Keras convention, got {damp!r}")

    def init(params: Sequence[np.ndarray]) -> State:
        bufs = [None] * len(params) if convention == "torch" else _zeros(params)
        return {"momentum_buffer": bufs}

    def update(updates: Arrays, state: State, params: Sequence[np.ndarray] = (),
               hyper: Hyper = None) -> tuple[Arrays, State]:  # fmt: skip
        bufs = state["momentum_buffer"]
        out = []
        for i, u in enumerate(updates):
            b = bufs[i]
            if b is None:
                bufs[i] = b = copy_aligned(u)
            else:
                axpby(1.0 - damp, u, mom, b)  # b <- mom * b + (1 - damp) * u, one pass
            if u.flags.writeable:  # the caller's own array: the result goes there
                if nesterov:
                    u += np.multiply(b, mom, out=temporary(b))
                else:
                    ufunc_pass(np.positive, b, u)  # a copy, recorded when deferred
                out.append(u)
            elif nesterov:
                t = np.multiply(b, mom, out=temporary(b))
                out.append(np.add(u, t, out=t))  # u + t == t + u bit for bit
            else:
                out.append(readonly(b))  # the buffer itself, no copy
        return out, state

    return GradientTransformation(init, update, elementwise=True, readonly_updates=True,
                                  deferrable=not nesterov)  # fmt: skip


# ----------------------------------------------------------------------------- adaptive scalings
def scale_by_adagrad(eps: float = 1e-10, initial_accumulator_value: float = 0.0,
                     lr_decay: float = 0.0, eps_in_sqrt: bool = False) -> GradientTransformation:  # fmt: skip
    """AdaGrad: coordinates that moved little get a larger step; the step shrinks forever.

        s <- s + g^2;   u <- g / (sqrt(s) + eps) / (1 + (t - 1) * lr_decay)

    PyTorch puts eps outside the square root (default 1e-10, accumulator starts at 0); Keras puts it
    inside, u = g / sqrt(s + eps), with eps=1e-7 and the accumulator starting at 0.1.
    State: "sum", "step".
    """
    eps = _check("eps", eps)
    init_value = _check("initial_accumulator_value", initial_accumulator_value)
    lr_decay = _check("lr_decay", lr_decay)

    def init(params: Sequence[np.ndarray]) -> State:
        return {"sum": [full_aligned(p, init_value) for p in params], "step": [0] * len(params)}

    def update(updates: Arrays, state: State, params: Sequence[np.ndarray] = (),
               hyper: Hyper = None) -> tuple[Arrays, State]:  # fmt: skip
        steps = _steps(state, "step", hyper)
        out = []
        for u, s, t in zip(updates, state["sum"], steps):
            std = np.multiply(u, u, out=temporary(u))
            s += std
            if eps_in_sqrt:
                np.add(s, eps, out=std)
                np.sqrt(std, out=std)
            else:
                np.sqrt(s, out=std)
                std += eps
            u = np.divide(u, std, out=u if u.flags.writeable else std)
            if lr_decay != 0.0:
                u /= 1.0 + (t - 1) * lr_decay
            out.append(u)
        return out, state

    return GradientTransformation(init, update, elementwise=True, readonly_updates=True)


def scale_by_rms(alpha: float = 0.99, eps: float = 1e-8, centered: bool = False,
                 eps_in_sqrt: bool = False, initial_scale: float = 0.0) -> GradientTransformation:  # fmt: skip
    """RMSProp: AdaGrad with an exponential moving average, so the step stops shrinking.

        v <- alpha * v + (1 - alpha) * g^2;   (centered: m <- alpha * m + (1 - alpha) * g, v~ = v - m^2)
        u <- g / (sqrt(v~) + eps)        PyTorch (eps outside the root, alpha=0.99, eps=1e-8)
        u <- g / sqrt(v~ + eps)          Keras   (eps_in_sqrt=True, rho=0.9, epsilon=1e-7)

    State: "square_avg" (and "grad_avg" when centered).
    """
    alpha = _check("alpha", alpha, 0.0, 1.0)
    eps = _check("eps", eps)
    init_scale = float(initial_scale)

    def init(params: Sequence[np.ndarray]) -> State:
        state: State = {"square_avg": [full_aligned(p, init_scale) for p in params]}
        if centered:
            state["grad_avg"] = _zeros(params)
        return state

    def update(updates: Arrays, state: State, params: Sequence[np.ndarray] = (),
               hyper: Hyper = None) -> tuple[Arrays, State]:  # fmt: skip
        out = []
        for i, u in enumerate(updates):
            v = state["square_avg"][i]
            sq = ufunc_pass(np.multiply, u, u, temporary(u))
            axpby(1.0 - alpha, sq, alpha, v)  # v <- alpha * v + (1 - alpha) * g^2, one pass
            if centered:
                m = state["grad_avg"][i]
                axpby(1.0 - alpha, u, alpha, m)
                ufunc_pass(np.multiply, m, m, sq)
                ufunc_pass(np.subtract, v, sq, sq)
            mean_sq = sq if centered else v  # v~
            if eps_in_sqrt:
                ufunc_pass(np.add, mean_sq, eps, sq)
                ufunc_pass(np.sqrt, sq, sq)
            else:
                ufunc_pass(np.sqrt, mean_sq, sq)
                ufunc_pass(np.add, sq, eps, sq)
            out.append(ufunc_pass(np.divide, u, sq, u if u.flags.writeable else sq))
        return out, state

    return GradientTransformation(init, update, elementwise=True, readonly_updates=True,
                                  deferrable=True)  # fmt: skip


def scale_by_adam(b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8, amsgrad: bool = False,
                  eps_convention: str = "torch", nesterov: bool = False,
                  momentum_decay: float = 4e-3) -> GradientTransformation:  # fmt: skip
    """Adam: RMSProp + momentum, both bias-corrected.

        m <- b1 m + (1 - b1) g;   v <- b2 v + (1 - b2) g^2;   (AMSGrad: v^ <- max(v^, v), used for v)
        'torch' eps:  u = (m / (1 - b1^t)) / (sqrt(v) / sqrt(1 - b2^t) + eps)
        'keras' eps ("epsilon hat"):  u = m * sqrt(1 - b2^t) / (1 - b1^t) / (sqrt(v) + eps)

    `nesterov=True` is NAdam (Dozat, with PyTorch's momentum schedule
    mu_t = b1 (1 - 0.5 * 0.96^(t * momentum_decay)); Keras uses momentum_decay=1):
        u = [(1 - mu_t) / (1 - prod mu) g + mu_{t+1} / (1 - prod mu * mu_{t+1}) m] / (sqrt(v / (1 - b2^t)) + eps)

    State: "exp_avg", "exp_avg_sq", "step" (+ "max_exp_avg_sq" for AMSGrad, "mu_product" for NAdam).
    """
    b1 = _check("beta1", b1, 0.0, 1.0, high_open=True)
    b2 = _check("beta2", b2, 0.0, 1.0, high_open=True)
    eps = _check("eps", eps)
    _check_convention(eps_convention)
    momentum_decay = _check("momentum_decay", momentum_decay)
    if nesterov and amsgrad:
        raise ValueError("scale_by_adam: amsgrad and nesterov (NAdam) cannot be combined")

    def init(params: Sequence[np.ndarray]) -> State:
        state: State = {"step": [0] * len(params), "exp_avg": _zeros(params),
                        "exp_avg_sq": _zeros(params)}  # fmt: skip
        if amsgrad:
            state["max_exp_avg_sq"] = _zeros(params)
        if nesterov:
            state["mu_product"] = [1.0] * len(params)
        return state

    def directions(
        updates: Arrays, state: State, hyper: Hyper
    ) -> Iterator[tuple[np.ndarray, float]]:
        """Each update as (array, scalar), one parameter at a time (its temporaries freed before
        the next): the update is their product, the scalar left to the caller, who folds it into
        the next multiplication."""
        steps = _steps(state, "step", hyper)
        for i, g in enumerate(updates):
            t = steps[i]
            m, v = state["exp_avg"][i], state["exp_avg_sq"][i]
            axpby(1.0 - b1, g, b1, m)  # one pass each (PyTorch's lerp, to rounding)
            tmp = np.multiply(g, g, out=temporary(g))
            axpby(1.0 - b2, tmp, b2, v)
            if amsgrad:
                vmax = state["max_exp_avg_sq"][i]
                np.maximum(vmax, v, out=vmax)
                v = vmax
            bc1 = 1.0 - b1**t
            bc2 = 1.0 - b2**t
            if nesterov:
                mu = b1 * (1.0 - 0.5 * 0.96 ** (t * momentum_decay))
                mu_next = b1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * momentum_decay))
                prod = state["mu_product"][i] * mu
                state["mu_product"][i] = prod
                np.divide(v, bc2, out=tmp)
                np.sqrt(tmp, out=tmp)
                tmp += eps
                g = np.multiply(g, (1.0 - mu) / (1.0 - prod), out=inplace_target(g))
                g += np.multiply(m, mu_next / (1.0 - prod * mu_next), out=temporary(m))
                g /= tmp
                yield g, 1.0
                continue
            # torch: (m / bc1) / (sqrt(v) / sqrt(bc2) + eps) = sqrt(bc2) / bc1 * m / (sqrt(v) + eps sqrt(bc2))
            # keras: m * sqrt(bc2) / bc1 / (sqrt(v) + eps)
            np.sqrt(v, out=tmp)
            tmp += eps * math.sqrt(bc2) if eps_convention == "torch" else eps
            g = np.divide(m, tmp, out=g if g.flags.writeable else tmp)
            yield g, math.sqrt(bc2) / bc1

    def update(updates: Arrays, state: State, params: Sequence[np.ndarray] = (),
               hyper: Hyper = None) -> tuple[Arrays, State]:  # fmt: skip
        out = []
        for u, k in directions(updates, state, hyper):
            if k != 1.0:
                u *= k
            out.append(u)
        return out, state

    def apply(updates: Arrays, state: State, params: Sequence[np.ndarray] = (),
              hyper: Hyper = None, factor: float = 1.0) -> State:  # fmt: skip
        for p, (u, k) in zip(params, directions(updates, state, hyper)):
            axpy(factor * k, u, p)  # the bias correction joins the learning rate: one pass less
        return state

    return GradientTransformation(init, update, elementwise=True, readonly_updates=True,
                                  apply=apply)  # fmt: skip


def scale_by_adamax(b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8,
                    eps_convention: str = "torch") -> GradientTransformation:  # fmt: skip
    """Adamax: Adam with the infinity norm in place of the root mean square.

        m <- b1 m + (1 - b1) g;   u = m / ((1 - b1^t) * n)
        'torch':  n <- max(b2 n, |g| + eps)          'keras':  n <- max(b2 n, |g|),  u = m / ((1 - b1^t)(n + eps))

    State: "exp_avg", "exp_inf", "step".
    """
    b1 = _check("beta1", b1, 0.0, 1.0, high_open=True)
    b2 = _check("beta2", b2, 0.0, 1.0, high_open=True)
    eps = _check("eps", eps)
    _check_convention(eps_convention)

    def init(params: Sequence[np.ndarray]) -> State:
        return {"step": [0] * len(params), "exp_avg": _zeros(params), "exp_inf": _zeros(params)}

    def update(updates: Arrays, state: State, params: Sequence[np.ndarray] = (),
               hyper: Hyper = None) -> tuple[Arrays, State]:  # fmt: skip
        steps = _steps(state, "step", hyper)
        for i, g in enumerate(updates):
            m, n = state["exp_avg"][i], state["exp_inf"][i]
            tmp = np.subtract(g, m, out=temporary(g))
            tmp *= 1.0 - b1
            m += tmp
            n *= b2
            np.abs(g, out=tmp)
            if eps_convention == "torch":
                tmp += eps
                np.maximum(n, tmp, out=n)
                np.divide(m, n, out=g)
            else:
                np.maximum(n, tmp, out=n)
                np.add(n, eps, out=tmp)
                np.divide(m, tmp, out=g)
            g /= 1.0 - b1 ** steps[i]
        return updates, state

    return GradientTransformation(init, update, elementwise=True)


def scale_by_radam(b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8) -> GradientTransformation:
    """RAdam (Liu et al. 2019): Adam whose adaptive term is switched on once its variance is tractable.

        rho_inf = 2 / (1 - b2) - 1;   rho_t = rho_inf - 2 t b2^t / (1 - b2^t)
        rho_t > 5:  u = r_t * (m / (1 - b1^t)) * sqrt(1 - b2^t) / (sqrt(v) + eps),
                    r_t = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))
        otherwise:  u = m / (1 - b1^t)      (PyTorch convention)

    State: "exp_avg", "exp_avg_sq", "step".
    """
    b1 = _check("beta1", b1, 0.0, 1.0, high_open=True)
    b2 = _check("beta2", b2, 0.0, 1.0, high_open=True)
    eps = _check("eps", eps)

    def init(params: Sequence[np.ndarray]) -> State:
        return {"step": [0] * len(params), "exp_avg": _zeros(params), "exp_avg_sq": _zeros(params)}

    def update(updates: Arrays, state: State, params: Sequence[np.ndarray] = (),
               hyper: Hyper = None) -> tuple[Arrays, State]:  # fmt: skip
        steps = _steps(state, "step", hyper)
        rho_inf = 2.0 / (1.0 - b2) - 1.0
        for i, g in enumerate(updates):
            t = steps[i]
            m, v = state["exp_avg"][i], state["exp_avg_sq"][i]
            tmp = np.subtract(g, m, out=temporary(g))
            tmp *= 1.0 - b1
            m += tmp
            v *= b2
            np.multiply(g, 1.0 - b2, out=tmp)
            tmp *= g
            v += tmp
            bc1, bc2 = 1.0 - b1**t, 1.0 - b2**t
            rho_t = rho_inf - 2.0 * t * (b2**t) / bc2
            np.divide(m, bc1, out=g)
            if rho_t > 5.0:
                rect = math.sqrt(
                    (rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
                )
                np.sqrt(v, out=tmp)
                tmp += eps
                g /= tmp
                g *= math.sqrt(bc2) * rect
        return updates, state

    return GradientTransformation(init, update, elementwise=True)


def scale_by_adadelta(rho: float = 0.9, eps: float = 1e-6) -> GradientTransformation:
    """Adadelta (Zeiler 2012): the step's units come from a running average of past steps.

        v <- rho v + (1 - rho) g^2;   u = sqrt(d + eps) / sqrt(v + eps) * g;   d <- rho d + (1 - rho) u^2

    Same in PyTorch (rho=0.9, eps=1e-6, lr=1) and Keras (rho=0.95, epsilon=1e-7, lr=0.001).
    State: "square_avg", "acc_delta".
    """
    rho = _check("rho", rho, 0.0, 1.0)
    eps = _check("eps", eps)

    def init(params: Sequence[np.ndarray]) -> State:
        return {"square_avg": _zeros(params), "acc_delta": _zeros(params)}

    def update(updates: Arrays, state: State, params: Sequence[np.ndarray] = (),
               hyper: Hyper = None) -> tuple[Arrays, State]:  # fmt: skip
        for i, g in enumerate(updates):
            v, d = state["square_avg"][i], state["acc_delta"][i]
            v *= rho
            tmp = np.multiply(g, 1.0 - rho, out=temporary(g))
            tmp *= g
            v += tmp
            std = np.add(v, eps, out=temporary(v))
            np.sqrt(std, out=std)
            np.add(d, eps, out=tmp)
            np.sqrt(tmp, out=tmp)
            tmp /= std
            g *= tmp
            d *= rho
            np.multiply(g, 1.0 - rho, out=tmp)
            tmp *= g
            d += tmp
        return updates, state

    return GradientTransformation(init, update, elementwise=True)


def scale_by_lion(b1: float = 0.9, b2: float = 0.99) -> GradientTransformation:
    """Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms"): the sign of a momentum.

        u = sign(b1 m + (1 - b1) g);   m <- b2 m + (1 - b2) g      (same in Keras)

    State: "exp_avg".
    """
    b1 = _check("beta1", b1, 0.0, 1.0, high_open=True)
    b2 = _check("beta2", b2, 0.0, 1.0, high_open=True)

    def init(params: Sequence[np.ndarray]) -> State:
        return {"exp_avg": _zeros(params)}

    def update(updates: Arrays, state: State, params: Sequence[np.ndarray] = (),
               hyper: Hyper = None) -> tuple[Arrays, State]:  # fmt: skip
        for i, g in enumerate(updates):
            m = state["exp_avg"][i]
            c = m * b1
            c += g * (1.0 - b1)
            m *= b2
            m += g * (1.0 - b2)
            np.sign(c, out=g)
        return updates, state

    return GradientTransformation(init, update, elementwise=True)


def scale_by_rprop(lr: float = 1e-2, etas: tuple[float, float] = (0.5, 1.2),
                   step_sizes: tuple[float, float] = (1e-6, 50.0)) -> GradientTransformation:  # fmt: skip
    """Rprop: each coordinate has its own step size, grown while the gradient keeps its sign.

        s <- clip(s * (eta+ if g g_prev > 0, eta- if < 0, 1 otherwise), min, max);
        where the sign flipped, g <- 0;   u = -sign(g) * s;   g_prev <- g   (PyTorch; s starts at lr)

    The result is the full step (the learning rate is only the initial step size).
    State: "prev", "step_size", "step".
    """
    lr = _check("lr", lr)
    eta_minus, eta_plus = float(etas[0]), float(etas[1])
    if not 0.0 < eta_minus < 1.0 < eta_plus:
        raise ValueError(f"invalid etas: {etas!r}; need 0 < etaminus < 1 < etaplus")
    smin, smax = _check("step_sizes[0]", step_sizes[0]), _check("step_sizes[1]", step_sizes[1])

    def init(params: Sequence[np.ndarray]) -> State:
        return {"step": [0] * len(params), "prev": _zeros(params),
                "step_size": [full_aligned(p, lr) for p in params]}  # fmt: skip

    def update(updates: Arrays, state: State, params: Sequence[np.ndarray] = (),
               hyper: Hyper = None) -> tuple[Arrays, State]:  # fmt: skip
        _steps(state, "step", hyper)
        for i, g in enumerate(updates):
            prev, size = state["prev"][i], state["step_size"][i]
            prod = g * prev
            factor = np.where(prod > 0, eta_plus, np.where(prod < 0, eta_minus, 1.0))
            size *= factor.astype(size.dtype, copy=False)
            np.clip(size, smin, smax, out=size)
            g[prod < 0] = 0
            np.copyto(prev, g)
            np.sign(g, out=g)
            g *= size
            np.negative(g, out=g)
        return updates, state

    return GradientTransformation(init, update, elementwise=True)


def scale_by_asgd(lr: float = 1e-2, lambd: float = 1e-4, alpha: float = 0.75,
                  t0: float = 1e6) -> GradientTransformation:  # fmt: skip
    """Averaged SGD (Polyak-Ruppert) as in PyTorch: a decaying step and a running average of p.

        p <- p (1 - lambd eta) - eta g;   ax <- ax + mu (p - ax)   (ax <- p while mu = 1)
        eta <- lr / (1 + lambd lr t)^alpha;   mu <- 1 / max(1, t - t0)

    Returns the full step (it already contains eta). State: "eta", "mu", "ax", "step".
    """
    lr = _check("lr", lr)
    lambd = _check("lambd", lambd)
    alpha = float(alpha)
    t0 = float(t0)

    def init(params: Sequence[np.ndarray]) -> State:
        n = len(params)
        return {"step": [0] * n, "eta": [lr] * n, "mu": [1.0] * n, "ax": _zeros(params)}

    def update(updates: Arrays, state: State, params: Sequence[np.ndarray] = (),
               hyper: Hyper = None) -> tuple[Arrays, State]:  # fmt: skip
        steps = _steps(state, "step", hyper)
        for i, g in enumerate(updates):
            eta, mu, ax, p = state["eta"][i], state["mu"][i], state["ax"][i], params[i]
            new_p = p * (1.0 - lambd * eta)
            g *= eta
            new_p -= g
            np.subtract(new_p, p, out=g)
            if mu != 1:
                new_p -= ax
                new_p *= mu
                ax += new_p
            else:
                np.copyto(ax, new_p)
            t = steps[i]
            state["eta"][i] = lr / ((1 + lambd * lr * t) ** alpha)
            state["mu"][i] = 1 / max(1, t - t0)
        return updates, state

    return GradientTransformation(init, update, elementwise=True)


# ----------------------------------------------------------------------------- clipping
def clip(max_delta: float) -> GradientTransformation:
    """Clip each coordinate to [-max_delta, max_delta] (Keras `clipvalue`, torch clip_grad_value_)."""
    c = _check("max_delta", max_delta)

    def fn(updates: Arrays, params: Sequence[np.ndarray], hyper: Hyper) -> Arrays:
        for u in updates:
            np.clip(u, -c, c, out=u)
        return updates

    return _stateless(fn, elementwise=True)


def clip_by_norm(max_norm: float) -> GradientTransformation:
    """Rescale each tensor separately so its L2 norm is at most max_norm (Keras `clipnorm`).

    u <- u * max_norm / max(||u||, max_norm)
    """
    c = _check("max_norm", max_norm)

    def fn(updates: Arrays, params: Sequence[np.ndarray], hyper: Hyper) -> Arrays:
        for u in updates:
            norm = float(np.sqrt(np.vdot(u, u).real))
            if norm > c:
                u *= c
                u /= norm
        return updates

    return _stateless(fn)


def global_norm(arrays: Sequence[np.ndarray]) -> float:
    """The L2 norm of all arrays taken together: sqrt(sum_i ||a_i||^2)."""
    return math.sqrt(sum(float(np.vdot(a, a).real) for a in arrays))


def clip_by_global_norm(max_norm: float, convention: str = "torch") -> GradientTransformation:
    """Rescale all updates together so their joint L2 norm is at most max_norm.

    'torch' (clip_grad_norm_):  u <- u * min(1, max_norm / (||u|| + 1e-6))
    'keras' (global_clipnorm):  u <- u * max_norm / max(||u||, max_norm)
    """
    c = _check("max_norm", max_norm)
    _check_convention(convention)

    def fn(updates: Arrays, params: Sequence[np.ndarray], hyper: Hyper) -> Arrays:
        total = global_norm(updates)
        if convention == "torch":
            coef = min(1.0, c / (total + 1e-6))
            if coef < 1.0:
                for u in updates:
                    u *= coef
        elif total > c:
            for u in updates:
                u *= c
                u /= total
        return updates

    return _stateless(fn)


# ----------------------------------------------------------------------------- wrappers
def ema(decay: float = 0.99, first_step_copies: bool = True) -> GradientTransformation:
    """Exponential moving average of the parameters (the updates pass through unchanged).

        a <- decay * a + (1 - decay) * (p + u)    (the parameter after this step's update)

    Place it last in a chain. With `first_step_copies` (Keras `use_ema`) the average starts at the
    parameters after the first step. Evaluate with the average via `swap_ema(params, state)`.
    State: "ema", "ema_step".
    """
    decay = _check("decay", decay, 0.0, 1.0)

    def init(params: Sequence[np.ndarray]) -> State:
        return {"ema": [copy_aligned(p) for p in params], "ema_step": [0] * len(params)}

    def update(updates: Arrays, state: State, params: Sequence[np.ndarray] = (),
               hyper: Hyper = None) -> tuple[Arrays, State]:  # fmt: skip
        for i, (u, p) in enumerate(zip(updates, params)):
            a = state["ema"][i]
            new_p = p + u
            if first_step_copies and state["ema_step"][i] == 0:
                np.copyto(a, new_p)
            else:
                axpby(1.0 - decay, new_p, decay, a)  # one pass
            state["ema_step"][i] += 1
        return updates, state

    return GradientTransformation(init, update)


def swap_ema(params: Sequence[np.ndarray], state: State) -> None:
    """Exchange the parameters with their moving averages in place (call again to swap back)."""
    if "ema" not in state:
        raise ValueError("swap_ema: the state holds no 'ema' entry; add ema() to the chain")
    for p, a in zip(params, state["ema"]):
        tmp = p.copy()
        np.copyto(p, a)
        np.copyto(a, tmp)


def accumulate(every_k: int, inner: GradientTransformation) -> GradientTransformation:
    """Gradient accumulation: sum k micro-batch gradients, then step `inner` once with their mean.

    Between the k-th steps the updates are zero and `inner`'s state does not move.
    State: `inner`'s, plus "acc_grads" and "acc_count".
    """
    k = int(every_k)
    if k < 1:
        raise ValueError(f"invalid every_k: {every_k!r}; must be an integer >= 1")

    def init(params: Sequence[np.ndarray]) -> State:
        state = inner.init(params)
        state["acc_grads"] = _zeros(params)
        state["acc_count"] = [0] * len(params)
        return state

    def update(updates: Arrays, state: State, params: Sequence[np.ndarray] = (),
               hyper: Hyper = None) -> tuple[Arrays, State]:  # fmt: skip
        accs, counts = state["acc_grads"], state["acc_count"]
        ready = []
        for i, u in enumerate(updates):
            accs[i] += u
            counts[i] += 1
            ready.append(counts[i] >= k)
        if all(ready):
            for i, u in enumerate(updates):
                np.divide(accs[i], k, out=u)
                accs[i].fill(0)
                counts[i] = 0
            return inner.update(updates, state, params, hyper)
        if any(ready):
            raise RuntimeError("accumulate: parameters are out of step (some skipped a gradient)")
        for u in updates:
            u.fill(0)
        return updates, state

    return GradientTransformation(init, update, inner.elementwise)


def skip_nonfinite(inner: GradientTransformation) -> GradientTransformation:
    """Skip the whole step (zero updates, `inner`'s state untouched) when any gradient is NaN/inf.

    State: `inner`'s, plus "nonfinite_count" (how many steps were skipped).
    """

    def init(params: Sequence[np.ndarray]) -> State:
        state = inner.init(params)
        state["nonfinite_count"] = [0] * len(params)
        return state

    def update(updates: Arrays, state: State, params: Sequence[np.ndarray] = (),
               hyper: Hyper = None) -> tuple[Arrays, State]:  # fmt: skip
        if all(bool(np.isfinite(u).all()) for u in updates):
            return inner.update(updates, state, params, hyper)
        counts = state["nonfinite_count"]
        for i, u in enumerate(updates):
            counts[i] += 1
            u.fill(0)
        return updates, state

    return GradientTransformation(init, update)
