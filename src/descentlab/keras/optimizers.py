"""Keras-convention optimizers: Keras 3 names, arguments, defaults and update rules, on descentlab
parameters.

Each optimizer here is a chain of `descentlab.optim.transforms` under the Keras conventions
(epsilon-hat in Adam, epsilon inside the square root for RMSprop/Adagrad, the learning rate inside
the momentum buffer, Adagrad's accumulator starting at 0.1, one step counter per optimizer), wrapped
in Keras' order of operations for one `apply`:

    (gradient accumulation) -> clip (clipnorm | global_clipnorm | clipvalue)
    -> weight decay p <- p * (1 - lr * weight_decay) -> update step -> EMA of the parameters
    -> iterations += 1

They match `keras.optimizers` (Keras 3) trajectory for trajectory (verified against Keras with the
torch backend in float32). The legacy arguments that tutorials still write work: `lr=` is an alias of
`learning_rate`, `decay=` is time-based decay lr / (1 + decay * iterations) (tf.keras 2 semantics;
Keras 3 ignores it), `epsilon=None` means the Keras default.

Use them like Keras (`apply_gradients(zip(grads, params))`, `learning_rate` as a float or a
schedule from `descentlab.optim.schedules`, also reachable as `optimizers.schedules`) or like the
PyTorch-named optimizers (`build(params)` or `params=`, then `step()`, `zero_grad()`,
`state_dict()`); PyTorch-style schedulers that write `param_groups[i]['lr']` act on them too.

Example:
    >>> import numpy as np, descentlab as dl
    >>> from descentlab.keras import optimizers
    >>> w = dl.nn.Parameter(np.array([1.0, -2.0], dtype=np.float32))
    >>> opt = optimizers.SGD(lr=0.1, momentum=0.9, decay=0.0, nesterov=False)
    >>> opt.apply_gradients(zip([np.array([1.0, 1.0])], [w]))
    1
    >>> w.data
    array([ 0.9, -2.1], dtype=float32)
"""

from __future__ import annotations

import difflib
import math
import numbers
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from descentlab.optim import schedules
from descentlab.optim import transforms as T
from descentlab.optim.optimizer import Optimizer as _TorchStyleOptimizer
from descentlab.optim.optimizer import (
    _as_is,
    _Tuner,
    _update,
    at_least_1d,
    gather_state,
    has_0d,
    store_state,
)
from descentlab.optim.registry import OptimizerSpec, register
from descentlab.optim.transforms import GradientTransformation, apply_updates
from descentlab.tensor import Tensor, enable_grad

__all__ = [
    "Optimizer",
    "SGD",
    "RMSprop",
    "Adam",
    "AdamW",
    "Adagrad",
    "Adadelta",
    "Adamax",
    "Nadam",
    "Lion",
    "Ftrl",
    "schedules",
    "get",
    "serialize",
    "deserialize",
]

# Per-parameter state kept by the Keras wrapper itself (not by the update's transformations).
_EMA, _ACC = "ema_average", "grad_accumulator"
_WRAPPER_KEYS = (_EMA, _ACC)


def _positive(name: str, value: Any, allow_zero: bool = False) -> float:
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"invalid {name}: {value!r}; {name} must be a number {bound}")
    return float(value)


def _unit(name: str, value: Any, low_open: bool = False, high_open: bool = True) -> float:
    """A beta/rho/momentum: a number in [0, 1) (or the given open/closed ends)."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    v = float(value) if ok else math.nan
    bad = not ok or not (v > 0 if low_open else v >= 0) or not (v < 1 if high_open else v <= 1)
    if bad:
        rng = f"{'(' if low_open else '['}0, 1{')' if high_open else ']'}"
        raise ValueError(f"invalid {name}: {value!r}; {name} must be in {rng}")
    return v


def _epsilon(value: float | None, default: float) -> float:
    """Legacy `epsilon=None` means the Keras default (tf.keras 2 read it from backend.epsilon())."""
    return default if value is None else _positive("epsilon", value, allow_zero=True)


class Optimizer(_TorchStyleOptimizer):
    """Base class of the Keras-convention optimizers (the Keras `Optimizer` options live here).

    Args:
        learning_rate: float or schedule (a callable of the 0-based iteration count); `lr` is its
            legacy alias. Passing an iterable of parameters first (PyTorch habit) is also accepted.
        weight_decay: decoupled decay, p <- p * (1 - lr * weight_decay) before each update.
        clipnorm / global_clipnorm / clipvalue: gradient clipping per tensor, over all tensors
            together, or per coordinate (at most one of them).
        use_ema, ema_momentum, ema_overwrite_frequency: keep a moving average of the parameters
            (first average = the parameters after the first step); every `ema_overwrite_frequency`
            iterations copy it into the parameters, or do so once with `finalize_variable_values()`.
        loss_scale_factor: gradients are divided by it first (mixed-precision loss scaling).
        gradient_accumulation_steps: update every k calls with the mean of the k gradients.
        decay: legacy time-based decay, lr_t = lr / (1 + decay * iterations).
        params: the parameters (else `build(params)` or the first `apply_gradients` supplies them).
    """

    _default_lr: ClassVar[float] = 0.001
    # Every chain takes its rate from hyper["lr"] (`_lr()`): a new rate needs no rebuilt chain.
    _live_hyperparameters = ("lr",)
    _structure_keys: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        learning_rate: Any,
        hyper: Mapping[str, Any],
        *,
        lr: float | None = None,
        decay: float = 0.0,
        weight_decay: float | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        use_ema: bool = False,
        ema_momentum: float = 0.99,
        ema_overwrite_frequency: int | None = None,
        loss_scale_factor: float | None = None,
        gradient_accumulation_steps: int | None = None,
        name: str | None = None,
        params: Iterable[Any] | None = None,
    ) -> None:
        if hasattr(learning_rate, "parameters") and hasattr(learning_rate, "forward"):
            raise TypeError("got a model where parameters were expected: pass model.parameters()")
        is_rate = isinstance(learning_rate, numbers.Real) or callable(learning_rate)
        if learning_rate is not None and not is_rate:
            if params is not None:
                raise TypeError(
                    f"learning_rate must be a float or a schedule, got {type(learning_rate).__name__}"
                )
            params, learning_rate = learning_rate, None  # Adam(model.parameters(), lr=...)
        if lr is not None:
            if learning_rate is not None:
                raise ValueError(
                    "pass either learning_rate or its legacy alias lr, not both "
                    f"(got learning_rate={learning_rate!r}, lr={lr!r})"
                )
            learning_rate = lr
        if learning_rate is None:
            learning_rate = self._default_lr
        if isinstance(learning_rate, bool):
            raise TypeError("learning_rate must be a float or a schedule, got a bool")
        self._schedule: Callable[[int], float] | None = None
        if callable(learning_rate):
            self._schedule = learning_rate
            base_lr = float(learning_rate(0))
        else:
            base_lr = _positive("learning_rate", learning_rate, allow_zero=True)
        self.decay = _positive("decay", decay, allow_zero=True)
        clips = {"clipnorm": clipnorm, "clipvalue": clipvalue, "global_clipnorm": global_clipnorm}
        given = {k: v for k, v in clips.items() if v is not None}
        if len(given) > 1:
            raise ValueError(
                f"only one of clipnorm, clipvalue and global_clipnorm can be set, got {given}"
            )
        for k, v in given.items():
            _positive(k, v)
        self.clipnorm, self.clipvalue, self.global_clipnorm = clipnorm, clipvalue, global_clipnorm
        if gradient_accumulation_steps is not None and (
            not isinstance(gradient_accumulation_steps, int) or gradient_accumulation_steps < 2
        ):
            raise ValueError(
                "gradient_accumulation_steps must be an integer >= 2 (or None), got "
                f"{gradient_accumulation_steps!r}"
            )
        self.gradient_accumulation_steps = gradient_accumulation_steps
        self.use_ema = bool(use_ema)
        self.ema_momentum = _unit("ema_momentum", ema_momentum, high_open=False)
        if ema_overwrite_frequency is not None and (
            not isinstance(ema_overwrite_frequency, int) or ema_overwrite_frequency < 1
        ):
            raise ValueError(
                "ema_overwrite_frequency must be an integer >= 1 (or None), got "
                f"{ema_overwrite_frequency!r}"
            )
        self.ema_overwrite_frequency = ema_overwrite_frequency
        self.loss_scale_factor = (
            None if loss_scale_factor is None else _positive("loss_scale_factor", loss_scale_factor)
        )
        self.name = name or type(self).__name__.lower()
        wd = 0.0 if weight_decay is None else _positive("weight_decay", weight_decay, True)
        self._iterations = 0
        # Until build(), the optimizer has its defaults but no parameter groups (Keras builds lazily).
        self.defaults = {"lr": base_lr, **hyper, "weight_decay": wd}
        self._check_group(self.defaults)  # bad betas/rho/epsilon fail here, not at build()
        self.param_groups, self.state, self._scratch = [], [], []
        self._flat, self._flat_cache = False, {}
        self.built = False
        if params is not None:
            self.build(params)

    # ------------------------------------------------------------------ building
    def build(self, var_list: Iterable[Any]) -> Optimizer:
        """Attach the parameters (a list of Parameters or of param-group dicts); returns self."""
        if self.built:
            raise RuntimeError(
                f"{type(self).__name__} is already built on {len(self._state)} parameters; use "
                "add_param_group() to add more, or create a new optimizer"
            )
        flat = self._flat
        _TorchStyleOptimizer.__init__(self, var_list, self.defaults)
        self.built = True
        return self.flatten() if flat else self

    def _check_group(self, group: dict[str, Any]) -> None:
        for key in ("beta_1", "beta_2", "rho"):
            if key in group:
                _unit(key, group[key])
        if "epsilon" in group:
            _positive("epsilon", group["epsilon"], allow_zero=True)

    def _require_built(self) -> None:
        if not self.built:
            raise RuntimeError(
                f"{type(self).__name__} has no parameters yet: call build(params), pass params=, "
                "or use apply_gradients(zip(grads, params))"
            )

    def flatten(self) -> Optimizer:
        """Keep each group's parameters in one contiguous buffer (every `p.data` becomes a view).

        API twin of `descentlab.optim.Optimizer.flatten`; the Keras wrapper still updates tensor by
        tensor (its clipnorm and EMA are per tensor), so the trajectory is unchanged and the gain is
        only a contiguous parameter layout. Returns self.
        """
        self._flat = True
        if self.built:
            self._bind_flat_params()
        return self

    def _bind_flat_params(self) -> None:
        for gi, group in enumerate(self.param_groups):
            self._flat_params(gi, group["params"])  # (re)builds the buffer if data was replaced

    # ------------------------------------------------------------------ learning rate
    @property
    def iterations(self) -> int:
        """Completed updates (Keras: calls // gradient_accumulation_steps when accumulating)."""
        k = self.gradient_accumulation_steps
        return self._iterations // k if k else self._iterations

    def _lr_at(self, group: Mapping[str, Any]) -> float:
        """lr_t = schedule(calls) or group['lr'], divided by (1 + decay * calls) (legacy decay)."""
        rate = float(self._schedule(self._iterations)) if self._schedule else float(group["lr"])
        if self.decay:
            rate /= 1.0 + self.decay * self._iterations
        return rate

    @property
    def learning_rate(self) -> float:
        """The learning rate the next update will use (of the first parameter group)."""
        return self._lr_at(self.param_groups[0] if self.param_groups else self.defaults)

    @learning_rate.setter
    def learning_rate(self, value: float) -> None:
        if self._schedule is not None:
            raise TypeError(
                "this optimizer was created with a learning-rate schedule, so its learning rate "
                "cannot be set; create it with a float learning_rate instead"
            )
        value = _positive("learning_rate", value, allow_zero=True)
        self.defaults["lr"] = value
        for group in self.param_groups:
            group["lr"] = value

    lr = learning_rate  # tf.keras 2 alias

    # ------------------------------------------------------------------ applying
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Apply one update from each parameter's `.grad` (parameters without one are skipped)."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        self._require_built()
        if getattr(self, "_flat", False):
            self._bind_flat_params()
        index, params, offset = [], [], 0
        for group in self.param_groups:
            for j, p in enumerate(group["params"]):
                if p.grad is not None:
                    index.append(offset + j)
                    params.append(p)
            offset += len(group["params"])
        if index:
            if self._grads_read_only():  # the chain reads p.grad itself: no copy
                grads = [T.readonly(p.grad) for p in params]
            else:
                grads = [self._grad_copy(i, p) for i, p in zip(index, params)]
            self._apply(index, params, grads)
        return loss

    def _grads_read_only(self) -> bool:
        """Does nothing write into the gradients before the chain (no loss scaling, gradient
        accumulation or clipping)? Then `step` hands the chain read-only views of them, and
        `_update_group` copies only for a chain that would write into them."""
        return not (
            self.loss_scale_factor
            or self.gradient_accumulation_steps
            or self.clipnorm
            or self.global_clipnorm
            or self.clipvalue
        )

    def apply_gradients(self, grads_and_vars: Iterable[tuple[Any, Any]]) -> int:
        """Keras API: update each variable with its gradient (None gradients are skipped).

        Builds the optimizer on the first call. Returns the iteration count, as tf.keras did.
        """
        pairs = list(grads_and_vars)
        if not pairs:
            return self._iterations
        grads, variables = zip(*pairs)
        return self.apply(list(grads), list(variables))

    def apply(self, grads: Sequence[Any], trainable_variables: Sequence[Any] | None = None) -> int:
        """Keras API: `apply(grads, variables)`; without variables, the built ones in order."""
        if trainable_variables is None:
            self._require_built()
            trainable_variables = [p for g in self.param_groups for p in g["params"]]
        elif not self.built:
            self.build(list(trainable_variables))
        if len(grads) != len(trainable_variables):
            raise ValueError(
                f"got {len(grads)} gradients for {len(trainable_variables)} variables; pass one "
                "gradient (or None) per variable"
            )
        # A transient identity lookup to find each variable's position; state itself is kept in
        # parameter order, never keyed by id().
        position = {
            id(p): i for i, p in enumerate(p for g in self.param_groups for p in g["params"])
        }
        picked: list[tuple[int, Tensor, np.ndarray]] = []
        for g, v in zip(grads, trainable_variables):
            i = position.get(id(v))
            if i is None:
                raise ValueError(
                    f"unknown variable of shape {getattr(v, 'shape', None)}: this optimizer was "
                    "built on other parameters; create a new optimizer for new variables"
                )
            if g is None:
                continue
            buf = self._scratch[i]
            if buf is None or buf.shape != v.data.shape or buf.dtype != v.data.dtype:
                buf = self._scratch[i] = np.empty_like(v.data)
            arr = g.data if isinstance(g, Tensor) else np.asarray(g)
            if arr.shape != buf.shape:
                raise ValueError(
                    f"gradient of shape {arr.shape} for a variable of shape {buf.shape}"
                )
            np.copyto(buf, arr, casting="same_kind")
            picked.append((i, v, buf))
        if not picked:
            raise ValueError("no gradients provided for any variable (all were None)")
        picked.sort(key=lambda item: item[0])  # parameter order, group by group
        index = [i for i, _, _ in picked]
        if len(set(index)) != len(index):
            raise ValueError("a variable appears twice in one apply_gradients call")
        self._apply(index, [v for _, v, _ in picked], [b for _, _, b in picked])
        return self._iterations

    def _slot(self, i: int, p: Tensor, key: str, like_param: bool) -> np.ndarray:
        """The wrapper's own per-parameter array (EMA average or gradient accumulator)."""
        arr = self._state[i].get(key)
        if arr is None:
            arr = p.data.copy() if like_param else np.zeros_like(p.data)
            self._state[i][key] = arr
        return arr

    def _apply(self, index: list[int], params: list[Tensor], grads: list[np.ndarray]) -> None:
        if self.loss_scale_factor is not None:
            for g in grads:
                g /= self.loss_scale_factor
        k = self.gradient_accumulation_steps
        if k:
            accs = [self._slot(i, p, _ACC, False) for i, p in zip(index, params)]
            if (self._iterations + 1) % k != 0:
                for a, g in zip(accs, grads):
                    a += g
                self._finish_step()
                return
            for a, g in zip(accs, grads):
                g += a
                g /= k
                a.fill(0)
        grads = self._clip(grads, params)
        offset, cursor = 0, 0
        for group in self.param_groups:
            n = len(group["params"])
            sub = []
            while cursor < len(index) and index[cursor] < offset + n:
                sub.append(cursor)
                cursor += 1
            if sub:
                self._update_group(group, [index[c] for c in sub], [params[c] for c in sub],
                                   [grads[c] for c in sub])  # fmt: skip
            offset += n
        self._finish_step()

    def _clip(self, grads: list[np.ndarray], params: list[Tensor]) -> list[np.ndarray]:
        datas = [p.data for p in params]
        if self.clipnorm:
            return T.clip_by_norm(self.clipnorm).update(grads, {}, datas)[0]
        if self.global_clipnorm:
            tx = T.clip_by_global_norm(self.global_clipnorm, convention="keras")
            return tx.update(grads, {}, datas)[0]
        if self.clipvalue:
            return T.clip(self.clipvalue).update(grads, {}, datas)[0]
        return grads

    def exclude_from_weight_decay(self, var_list: Iterable[Any] | None = None,
                                  var_names: Iterable[str] | None = None) -> None:  # fmt: skip
        """Keras API: no weight decay for these parameters (e.g. biases and norm scales).

        descentlab parameters carry no names, so `var_names` cannot be matched: pass the
        parameters themselves (`var_list`), or give them their own param group with
        weight_decay=0.0.
        """
        if var_names:
            raise ValueError(
                "descentlab parameters have no names to match var_names against; pass "
                "var_list=[...] (the parameters) or use a param group with weight_decay=0.0"
            )
        self._no_decay = list(var_list or [])

    def _update_group(self, group: dict[str, Any], index: list[int], params: list[Tensor],
                      grads: list[np.ndarray]) -> None:  # fmt: skip
        lr_t = self._lr_at(group)
        wd = group.get("weight_decay", 0.0)
        if wd:
            factor = 1.0 - wd * lr_t  # Keras decays the weights before the update step
            excluded = getattr(self, "_no_decay", ())
            for p in params:
                if not any(p is q for q in excluded):
                    p.data *= factor
        tx = self._chain(next(k for k, g in enumerate(self.param_groups) if g is group), group)
        structure = (type(self), *(bool(group.get(k)) for k in self._structure_keys))
        keys = self._tx_keys(tx, structure, params[0])
        for i, p in zip(index, params):
            st = self._state[i]
            missing = [key for key in keys if key not in st]
            if missing:  # first step (or momentum switched on): create this parameter's state
                fresh = tx.init([p.data])
                for key in missing:
                    st[key] = fresh[key][0]
        rows = [self._state[i] for i in index]
        lift = has_0d(params)
        state = gather_state(rows, keys, lift)
        hyper = dict(group)
        hyper["lr"] = lr_t
        hyper["step"] = self.iterations + 1  # one shared, 1-based step count (Keras)
        datas = [at_least_1d(p.data) for p in params] if lift else [p.data for p in params]
        grads = [
            g if g.flags.writeable or _as_is(tx, g, d) else self._grad_copy(i, p)
            for i, p, g, d in zip(index, params, grads, datas)
        ]
        if lift:
            grads = [at_least_1d(g) for g in grads]

        def whole() -> dict[str, list[Any]]:
            return apply_updates(tx, grads, state, datas, hyper)

        tuner = self._tuners.setdefault(tuple(index), _Tuner())
        store_state(rows, _update(tx, grads, state, datas, hyper, whole, tuner=tuner), params, lift)

    def _tx_keys(self, tx: GradientTransformation, structure: tuple, p: Tensor) -> tuple[str, ...]:
        cache = self.__dict__.setdefault("_tx_key_cache", {})
        keys = cache.get(structure)
        if keys is None:
            keys = cache[structure] = tuple(tx.init([np.zeros(1, dtype=p.data.dtype)]))
        return keys

    def _finish_step(self) -> None:
        """EMA of all parameters (Keras updates it on every call), then count the call."""
        if self.use_ema:
            it = self.iterations
            m = self.ema_momentum if it != 0 else 0.0  # the first average is the parameters
            all_params = [p for g in self.param_groups for p in g["params"]]
            for i, p in enumerate(all_params):
                avg = self._slot(i, p, _EMA, True)
                avg *= m
                avg += p.data * (1.0 - m)
            freq = self.ema_overwrite_frequency
            if freq and (it + 1) % freq == 0:
                self.finalize_variable_values()
        self._iterations += 1

    def finalize_variable_values(self, var_list: Sequence[Any] | None = None) -> None:
        """With use_ema, copy the moving averages into the parameters (Keras does it after fit)."""
        if not self.use_ema:
            return
        for i, p in enumerate(p for g in self.param_groups for p in g["params"]):
            if var_list is not None and not any(p is v for v in var_list):
                continue
            avg = self._state[i].get(_EMA)
            if avg is not None:
                np.copyto(p.data, avg)

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        """The PyTorch-style state dict plus the optimizer-wide iteration count."""
        out = super().state_dict()
        out["iterations"] = self._iterations
        return out

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        rest = dict(state_dict)
        iterations = rest.pop("iterations", 0)
        super().load_state_dict(rest)
        self._iterations = int(iterations)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Optimizer:
        """Inverse of `get_config()` (a serialised schedule is rebuilt)."""
        kwargs = dict(config)
        lr = kwargs.get("learning_rate")
        if isinstance(lr, Mapping):
            kwargs["learning_rate"] = schedules.deserialize(dict(lr))
        return cls(**kwargs)

    def get_config(self) -> dict[str, Any]:
        """Keras-style config: the constructor arguments (a schedule is serialised)."""
        lr: Any = self._schedule if self._schedule is not None else self.defaults["lr"]
        if isinstance(lr, schedules.Schedule):
            lr = schedules.serialize(lr)
        hyper = {k: v for k, v in self.defaults.items() if k not in ("lr", "weight_decay")}
        return {
            "name": self.name,
            "learning_rate": lr,
            **hyper,
            "weight_decay": self.defaults["weight_decay"] or None,
            **({"decay": self.decay} if self.decay else {}),  # tf.keras 2's legacy decay, if set
            "clipnorm": self.clipnorm,
            "global_clipnorm": self.global_clipnorm,
            "clipvalue": self.clipvalue,
            "use_ema": self.use_ema,
            "ema_momentum": self.ema_momentum,
            "ema_overwrite_frequency": self.ema_overwrite_frequency,
            "loss_scale_factor": self.loss_scale_factor,
            "gradient_accumulation_steps": self.gradient_accumulation_steps,
        }


def _lr() -> GradientTransformation:
    # The rate comes from hyper["lr"]: the wrapper evaluates schedules and legacy decay per call.
    return T.scale_by_learning_rate(None)


class SGD(Optimizer):
    """Gradient descent with Keras momentum (the learning rate lives inside the buffer).

        m <- momentum * m - lr * g;   p <- p + m      (nesterov: p <- p + momentum * m - lr * g)

    Convention: Keras (learning_rate=0.01). Legacy call: `SGD(lr=0.01, momentum=0.0, decay=0.0,
    nesterov=False)`.
    """

    _default_lr = 0.01
    _structure_keys = ("momentum",)

    def __init__(self, learning_rate: Any = None, momentum: float = 0.0, nesterov: bool = False,
                 **kwargs: Any) -> None:  # fmt: skip
        momentum = _unit("momentum", momentum, high_open=False)
        if nesterov and momentum == 0.0:
            raise ValueError("nesterov=True needs momentum > 0, got momentum=0.0")
        super().__init__(
            learning_rate, {"momentum": momentum, "nesterov": bool(nesterov)}, **kwargs
        )

    def _transform(self, g: Mapping[str, Any]) -> GradientTransformation:
        if not g["momentum"]:
            return T.chain(_lr())
        return T.chain(_lr(), T.trace(g["momentum"], nesterov=g["nesterov"], convention="keras"))


class RMSprop(Optimizer):
    """RMSprop with Keras conventions (epsilon inside the root, lr inside the momentum buffer).

        v <- rho v + (1 - rho) g^2   (centered: a <- rho a + (1 - rho) g, v~ = v - a^2)
        inc = lr g / sqrt(v~ + eps);   p <- p - inc   (momentum: b <- momentum b + inc; p <- p - b)

    Convention: Keras (learning_rate=0.001, rho=0.9, epsilon=1e-7). Legacy call:
    `RMSprop(lr=0.01, rho=0.9, epsilon=None)`.
    """

    _structure_keys = ("momentum", "centered")

    def __init__(self, learning_rate: Any = None, rho: float = 0.9, momentum: float = 0.0,
                 epsilon: float | None = 1e-7, centered: bool = False, **kwargs: Any) -> None:  # fmt: skip
        hyper = {"rho": rho, "momentum": _positive("momentum", momentum, allow_zero=True),
                 "epsilon": _epsilon(epsilon, 1e-7), "centered": bool(centered)}  # fmt: skip
        super().__init__(learning_rate, hyper, **kwargs)

    def _transform(self, g: Mapping[str, Any]) -> GradientTransformation:
        parts = [T.scale_by_rms(g["rho"], g["epsilon"], g["centered"], eps_in_sqrt=True), _lr()]
        if g["momentum"] > 0:
            parts.append(T.trace(g["momentum"], convention="keras"))
        return T.chain(*parts)


def _keras_scalars(p: np.ndarray, lr: float, step: int) -> tuple[Any, Any]:
    """lr and the 1-based step as scalars of the parameter's dtype.

    Keras evaluates bias corrections such as 1 - 0.999**t in the variable's dtype; in float32 that
    loses about 4 of the 7 digits at small t, and reproducing it keeps float32 trajectories equal
    to Keras' to ~1e-7 instead of drifting by ~1e-5.
    """
    dt = p.dtype.type
    return dt(lr), dt(step)


def _adam_step(
    beta_1: float, beta_2: float, epsilon: float, amsgrad: bool
) -> GradientTransformation:
    """Keras Adam's update, scalars in the parameter dtype (see `_keras_scalars`).

        m <- b1 m + (1 - b1) g;   v <- b2 v + (1 - b2) g^2   (amsgrad: v^ <- max(v^, v), used for v)
        u = -(lr sqrt(1 - b2^t) / (1 - b1^t)) m / (sqrt(v) + eps)
    State: "momentum", "velocity" (+ "velocity_hat"). The result already contains -lr.
    """

    def init(params: Sequence[np.ndarray]) -> dict[str, list[Any]]:
        state = {"momentum": [np.zeros_like(p) for p in params],
                 "velocity": [np.zeros_like(p) for p in params]}  # fmt: skip
        if amsgrad:
            state["velocity_hat"] = [np.zeros_like(p) for p in params]
        return state

    def update(updates: list[np.ndarray], state: dict[str, list[Any]],
               params: Sequence[np.ndarray] = (), hyper: Any = None) -> tuple[list, dict]:  # fmt: skip
        out = []
        for i, (g, p) in enumerate(zip(updates, params)):
            lr, t = _keras_scalars(p, hyper["lr"], hyper["step"])
            one = t.dtype.type(1)
            alpha = lr * np.sqrt(one - type(t)(beta_2) ** t) / (one - type(t)(beta_1) ** t)
            m, v = state["momentum"][i], state["velocity"][i]
            m *= beta_1
            m += g * (1.0 - beta_1)
            v *= beta_2
            v += (g * g) * (1.0 - beta_2)
            if amsgrad:
                v_hat = state["velocity_hat"][i]
                np.maximum(v_hat, v, out=v_hat)
                v = v_hat
            g = np.sqrt(v, out=T.inplace_target(g))  # a read-only g stays as it was
            g += epsilon
            np.divide(m * alpha, g, out=g)
            np.negative(g, out=g)
            out.append(g)
        return out, state

    return GradientTransformation(init, update, elementwise=True, readonly_updates=True)


def _nadam_step(beta_1: float, beta_2: float, epsilon: float) -> GradientTransformation:
    """Keras Nadam's update, scalars in the parameter dtype (see `_keras_scalars`).

        mu_t = b1 (1 - 0.5 * 0.96^t);   P_t = P_{t-1} mu_t   (P_0 = 1)
        m_hat = mu_{t+1} m / (1 - P_t mu_{t+1}) + (1 - mu_t) g / (1 - P_t)
        u = -lr m_hat / (sqrt(v / (1 - b2^t)) + eps)
    State: "momentum", "velocity", "u_product" (P, one number per parameter, all equal).
    """

    def init(params: Sequence[np.ndarray]) -> dict[str, list[Any]]:
        return {"momentum": [np.zeros_like(p) for p in params],
                "velocity": [np.zeros_like(p) for p in params],
                "u_product": [1.0] * len(params)}  # fmt: skip

    def update(updates: list[np.ndarray], state: dict[str, list[Any]],
               params: Sequence[np.ndarray] = (), hyper: Any = None) -> tuple[list, dict]:  # fmt: skip
        out = []
        for i, (g, p) in enumerate(zip(updates, params)):
            lr, t = _keras_scalars(p, hyper["lr"], hyper["step"])
            dt = type(t)
            b1, decay = dt(beta_1), dt(0.96)
            u_t = b1 * (dt(1.0) - dt(0.5) * decay**t)
            u_next = b1 * (dt(1.0) - dt(0.5) * decay ** (t + dt(1)))
            prod = dt(state["u_product"][i]) * u_t
            prod_next = prod * u_next
            state["u_product"][i] = float(prod)
            b2_power = dt(beta_2) ** t
            m, v = state["momentum"][i], state["velocity"][i]
            m *= beta_1
            m += g * (1.0 - beta_1)
            v *= beta_2
            v += (g * g) * (1.0 - beta_2)
            m_hat = (m * u_next) / (dt(1.0) - prod_next)
            g = np.multiply(
                g, dt(1.0) - u_t, out=T.inplace_target(g)
            )  # a read-only g stays as it was
            g /= dt(1.0) - prod
            m_hat += g
            np.divide(v, dt(1.0) - b2_power, out=g)
            np.sqrt(g, out=g)
            g += epsilon
            np.divide(m_hat * lr, g, out=g)
            np.negative(g, out=g)
            out.append(g)
        return out, state

    return GradientTransformation(init, update, elementwise=True, readonly_updates=True)


class Adam(Optimizer):
    """Adam with Keras' epsilon-hat (eps added to sqrt(v) before bias correction).

        m <- m + (1 - b1)(g - m);   v <- v + (1 - b2)(g^2 - v)   (amsgrad: v^ <- max(v^, v))
        p <- p - lr sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps)

    Convention: Keras (learning_rate=0.001, epsilon=1e-7). Legacy call:
    `Adam(lr=0.001, beta_1=0.9, beta_2=0.999, epsilon=None, decay=0.0, amsgrad=False)`.
    """

    _structure_keys = ("amsgrad",)

    def __init__(self, learning_rate: Any = None, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float | None = 1e-7, amsgrad: bool = False, **kwargs: Any) -> None:  # fmt: skip
        hyper = {"beta_1": beta_1, "beta_2": beta_2, "epsilon": _epsilon(epsilon, 1e-7),
                 "amsgrad": bool(amsgrad)}  # fmt: skip
        super().__init__(learning_rate, hyper, **kwargs)

    def _transform(self, g: Mapping[str, Any]) -> GradientTransformation:
        # Same rule as T.scale_by_adam(eps_convention="keras") + scale_by_learning_rate, with
        # Keras' float32 bias corrections (see _keras_scalars).
        return _adam_step(g["beta_1"], g["beta_2"], g["epsilon"], g["amsgrad"])


class AdamW(Adam):
    """Adam with decoupled weight decay: p <- p (1 - lr wd) before the Adam step.

    Convention: Keras (weight_decay=0.004, epsilon=1e-7).
    """

    def __init__(self, learning_rate: Any = None, weight_decay: float = 0.004, beta_1: float = 0.9,
                 beta_2: float = 0.999, epsilon: float | None = 1e-7, amsgrad: bool = False,
                 **kwargs: Any) -> None:  # fmt: skip
        if weight_decay is None:
            raise ValueError("AdamW needs a float weight_decay, got None")
        super().__init__(learning_rate, beta_1, beta_2, epsilon, amsgrad,
                         weight_decay=weight_decay, **kwargs)  # fmt: skip


class Adagrad(Optimizer):
    """AdaGrad with Keras conventions: the accumulator starts at 0.1 and eps sits inside the root.

        s <- s + g^2;   p <- p - lr g / sqrt(s + eps)

    Convention: Keras (learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7).
    """

    def __init__(self, learning_rate: Any = None, initial_accumulator_value: float = 0.1,
                 epsilon: float | None = 1e-7, **kwargs: Any) -> None:  # fmt: skip
        iav = _positive("initial_accumulator_value", initial_accumulator_value, allow_zero=True)
        hyper = {"initial_accumulator_value": iav, "epsilon": _epsilon(epsilon, 1e-7)}
        super().__init__(learning_rate, hyper, **kwargs)

    def _transform(self, g: Mapping[str, Any]) -> GradientTransformation:
        ada = T.scale_by_adagrad(g["epsilon"], g["initial_accumulator_value"], eps_in_sqrt=True)
        return T.chain(ada, _lr())


class Adadelta(Optimizer):
    """Adadelta: steps in the units of past steps, then scaled by the learning rate.

        v <- rho v + (1 - rho) g^2;   d = -sqrt(u + eps) / sqrt(v + eps) g;   u <- rho u + (1 - rho) d^2
        p <- p + lr d

    Convention: Keras (learning_rate=0.001, rho=0.95, epsilon=1e-7).
    """

    def __init__(self, learning_rate: Any = None, rho: float = 0.95,
                 epsilon: float | None = 1e-7, **kwargs: Any) -> None:  # fmt: skip
        super().__init__(learning_rate, {"rho": rho, "epsilon": _epsilon(epsilon, 1e-7)}, **kwargs)

    def _transform(self, g: Mapping[str, Any]) -> GradientTransformation:
        return T.chain(T.scale_by_adadelta(g["rho"], g["epsilon"]), _lr())


class Adamax(Optimizer):
    """Adamax: Adam with the infinity norm; Keras adds eps after the max.

        m <- m + (1 - b1)(g - m);   u <- max(b2 u, |g|);   p <- p - lr m / ((1 - b1^t)(u + eps))

    Convention: Keras (learning_rate=0.001, epsilon=1e-7).
    """

    def __init__(self, learning_rate: Any = None, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float | None = 1e-7, **kwargs: Any) -> None:  # fmt: skip
        hyper = {"beta_1": beta_1, "beta_2": beta_2, "epsilon": _epsilon(epsilon, 1e-7)}
        super().__init__(learning_rate, hyper, **kwargs)

    def _transform(self, g: Mapping[str, Any]) -> GradientTransformation:
        adamax = T.scale_by_adamax(g["beta_1"], g["beta_2"], g["epsilon"], eps_convention="keras")
        return T.chain(adamax, _lr())


class Nadam(Optimizer):
    """Nadam (Dozat 2016): Adam with Nesterov momentum and the momentum schedule
    mu_t = b1 (1 - 0.5 * 0.96^t).

        m_hat = mu_{t+1} m / (1 - prod_{i<=t+1} mu_i) + (1 - mu_t) g / (1 - prod_{i<=t} mu_i)
        p <- p - lr m_hat / (sqrt(v / (1 - b2^t)) + eps)

    Convention: Keras (learning_rate=0.001, epsilon=1e-7; PyTorch's NAdam differs in the schedule).
    """

    def __init__(self, learning_rate: Any = None, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float | None = 1e-7, **kwargs: Any) -> None:  # fmt: skip
        hyper = {"beta_1": beta_1, "beta_2": beta_2, "epsilon": _epsilon(epsilon, 1e-7)}
        super().__init__(learning_rate, hyper, **kwargs)

    def _transform(self, g: Mapping[str, Any]) -> GradientTransformation:
        # Same rule as T.scale_by_adam(eps_convention="keras", nesterov=True, momentum_decay=1.0)
        # + scale_by_learning_rate, with Keras' float32 scalars (see _keras_scalars).
        return _nadam_step(g["beta_1"], g["beta_2"], g["epsilon"])


class Lion(Optimizer):
    """Lion (Chen et al. 2023): the sign of an interpolated momentum.

        p <- p - lr sign(b1 m + (1 - b1) g);   m <- b2 m + (1 - b2) g

    Convention: Keras (learning_rate=0.001, beta_1=0.9, beta_2=0.99).
    """

    def __init__(self, learning_rate: Any = None, beta_1: float = 0.9, beta_2: float = 0.99,
                 **kwargs: Any) -> None:  # fmt: skip
        _unit("beta_1", beta_1, low_open=True)  # beta_1 = 0 would make it SignSGD
        super().__init__(learning_rate, {"beta_1": beta_1, "beta_2": beta_2}, **kwargs)

    def _transform(self, g: Mapping[str, Any]) -> GradientTransformation:
        return T.chain(T.scale_by_lion(g["beta_1"], g["beta_2"]), _lr())


def _ftrl_step(lr_power: float, initial_accumulator_value: float, l1: float, l2: float,
               l2_shrinkage: float, beta: float) -> GradientTransformation:  # fmt: skip
    """FTRL-Proximal (McMahan et al. 2013) as Keras writes it; the update is new_p - p.

        g~ = g + 2 l2_shrinkage p;   n' = n + g^2;   z <- z + g~ - (n'^-c - n^-c) / lr * p
        p' = (clip(z, -l1, l1) - z) / (n'^-c / lr + 2 (l2 + beta / (2 lr)));   n <- n'
    (c = learning_rate_power). Private to the Keras facade: PyTorch has no FTRL.
    State: "accumulator" (n), "linear" (z).
    """

    def init(params: Sequence[np.ndarray]) -> dict[str, list[Any]]:
        return {"accumulator": [np.full_like(p, initial_accumulator_value) for p in params],
                "linear": [np.zeros_like(p) for p in params]}  # fmt: skip

    def update(updates: list[np.ndarray], state: dict[str, list[Any]],
               params: Sequence[np.ndarray] = (), hyper: Any = None) -> tuple[list, dict]:  # fmt: skip
        lr = float(hyper["lr"])
        l2_reg = l2 + beta / (2.0 * lr)
        for i, (g, p) in enumerate(zip(updates, params)):
            acc, lin = state["accumulator"][i], state["linear"][i]
            shrunk = g + p * (2.0 * l2_shrinkage)
            new_acc = g * g
            new_acc += acc
            new_pow = new_acc ** (-lr_power)
            shrunk -= (new_pow - acc ** (-lr_power)) / lr * p
            lin += shrunk
            quadratic = new_pow / lr + 2.0 * l2_reg
            new_p = (np.clip(lin, -l1, l1) - lin) / quadratic
            np.subtract(new_p, p, out=g)
            np.copyto(acc, new_acc)
        return updates, state

    return GradientTransformation(init, update, elementwise=True)


class Ftrl(Optimizer):
    """FTRL-Proximal ("Follow The Regularized Leader"), Keras' optimizer for wide sparse models.

    The formula is in `_ftrl_step`; l1/l2 act inside the proximal step, `beta` adds beta / (2 lr)
    to l2, `l2_shrinkage_regularization_strength` shrinks towards zero through the gradient.
    Convention: Keras (learning_rate=0.001, learning_rate_power=-0.5, initial_accumulator_value=0.1).
    """

    def __init__(self, learning_rate: Any = None, learning_rate_power: float = -0.5,
                 initial_accumulator_value: float = 0.1, l1_regularization_strength: float = 0.0,
                 l2_regularization_strength: float = 0.0,
                 l2_shrinkage_regularization_strength: float = 0.0, beta: float = 0.0,
                 **kwargs: Any) -> None:  # fmt: skip
        if not isinstance(learning_rate_power, numbers.Real) or learning_rate_power > 0:
            raise ValueError(
                f"invalid learning_rate_power: {learning_rate_power!r}; must be a number <= 0"
            )
        hyper = {
            "learning_rate_power": float(learning_rate_power),
            "initial_accumulator_value": _positive(
                "initial_accumulator_value", initial_accumulator_value, allow_zero=True),
            "l1_regularization_strength": _positive(
                "l1_regularization_strength", l1_regularization_strength, allow_zero=True),
            "l2_regularization_strength": _positive(
                "l2_regularization_strength", l2_regularization_strength, allow_zero=True),
            "l2_shrinkage_regularization_strength": _positive(
                "l2_shrinkage_regularization_strength", l2_shrinkage_regularization_strength,
                allow_zero=True),
            "beta": _positive("beta", beta, allow_zero=True),
        }  # fmt: skip
        super().__init__(learning_rate, hyper, **kwargs)

    def _transform(self, g: Mapping[str, Any]) -> GradientTransformation:
        return _ftrl_step(g["learning_rate_power"], g["initial_accumulator_value"],
                          g["l1_regularization_strength"], g["l2_regularization_strength"],
                          g["l2_shrinkage_regularization_strength"], g["beta"])  # fmt: skip


_ALL: dict[str, type[Optimizer]] = {
    "sgd": SGD, "rmsprop": RMSprop, "adam": Adam, "adamw": AdamW, "adagrad": Adagrad,
    "adadelta": Adadelta, "adamax": Adamax, "nadam": Nadam, "lion": Lion, "ftrl": Ftrl,
}  # fmt: skip


def get(identifier: str | Optimizer, **kwargs: Any) -> Optimizer:
    """Keras-style lookup: `get('adam')` -> Adam() with Keras defaults; an optimizer passes through."""
    if isinstance(identifier, Optimizer):
        return identifier
    key = str(identifier).lower()
    if key not in _ALL:
        close = difflib.get_close_matches(key, _ALL, n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(map(repr, close))}? " if close else ""
        raise ValueError(f"unknown Keras optimizer {identifier!r}; {hint}known: {sorted(_ALL)}")
    return _ALL[key](**kwargs)


# name -> (registry default lr, learning-rate search range, one-line description). The registry
# lr is a sensible starting point (it differs from the class default where Keras' default is too
# small to get anywhere in a few thousand steps: SGD's 0.01 diverges on Rosenbrock, Adagrad/FTRL/
# Adadelta crawl at 0.001). Registry defaults use `lr`, the alias every registry entry shares, so
# `descentlab.optim.get("keras.adam", params, lr=...)` works.
_SPECS: dict[str, tuple[float, tuple[float, float], str]] = {
    "sgd": (1e-3, (1e-4, 1.0), "Keras SGD: lr inside the momentum buffer (m = mu m - lr g)"),
    "rmsprop": (1e-3, (1e-5, 1e-1), "Keras RMSprop: rho=0.9, epsilon inside the square root"),
    "adam": (1e-3, (1e-5, 1e-1), "Keras Adam: epsilon-hat, epsilon=1e-7"),
    "adamw": (1e-3, (1e-5, 1e-1), "Keras AdamW: decoupled weight decay 0.004"),
    "adagrad": (0.1, (1e-3, 1.0), "Keras Adagrad: accumulator starts at 0.1, eps inside the root"),
    "adadelta": (1.0, (1e-2, 10.0), "Keras Adadelta: rho=0.95, scaled by a learning rate"),
    "adamax": (1e-3, (1e-5, 1e-1), "Keras Adamax: infinity norm, epsilon after the max"),
    "nadam": (1e-3, (1e-5, 1e-1), "Keras Nadam: Dozat's momentum schedule 0.96^t"),
    "lion": (1e-3, (1e-6, 1e-2), "Keras Lion: sign of an interpolated momentum"),
    "ftrl": (0.1, (1e-3, 1.0), "Keras FTRL-Proximal: per-coordinate rates with l1/l2"),
}

for _name, (_lr_default, _range, _desc) in _SPECS.items():
    register(
        OptimizerSpec(f"keras.{_name}", _ALL[_name], {"lr": _lr_default}, _range, _desc, "keras"),
        overwrite=True,  # re-importing this module re-registers the same names
    )


def serialize(optimizer: Optimizer) -> dict[str, Any]:
    """Keras' `optimizers.serialize`: {'class_name': 'Adam', 'config': optimizer.get_config()}.
    A learning rate given as a Python function cannot be saved (ValueError); a schedule from
    `optimizers.schedules` can.

    Example:
        >>> serialize(Adam(learning_rate=0.01))["config"]["learning_rate"]
        0.01
    """
    name = type(optimizer).__name__
    if _ALL.get(name.lower()) is not type(optimizer):
        raise ValueError(
            f"the optimizer {name} cannot be saved: only the keras.optimizers classes can "
            f"({', '.join(c.__name__ for c in _ALL.values())}); compile with one of them, or "
            "save the weights alone with model.save_weights(path)"
        )
    config = optimizer.get_config()
    if callable(config["learning_rate"]):
        raise ValueError(
            f"{name}: the learning rate is a Python function, which cannot be saved; use a "
            "schedule from keras.optimizers.schedules, or save the weights alone with "
            "model.save_weights(path)"
        )
    return {"class_name": name, "config": config}


def deserialize(config: Mapping[str, Any]) -> Optimizer:
    """Inverse of `serialize`: a new, unbuilt optimizer."""
    cls = _ALL.get(str(config.get("class_name", "")).lower())
    if cls is None:
        raise ValueError(
            f"unknown optimizer class {config.get('class_name')!r}; known: "
            f"{', '.join(c.__name__ for c in _ALL.values())}"
        )
    return cls.from_config(config.get("config", {}))
