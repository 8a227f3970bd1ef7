"""The stateful `Optimizer`: parameter groups, `step`, `zero_grad`, `state_dict` (PyTorch semantics).

A concrete optimizer only says which chain of gradient transformations a parameter group uses
(`_transform(group)`); this class feeds it each parameter's gradient and applies the result in place.
The chain is built once per group and reads the learning rate from the group at every update; a
change to any other hyperparameter rebuilds it, so a scheduler that writes `group['lr']` (or any
other hyperparameter) before `step()` takes effect at once. A large step runs the whole chain on
one cache-sized work item of the parameters at a time, on a few threads (`_apply_in_pieces`).

State is kept in parameter order (`self._state[i]` belongs to the i-th parameter counting through
the groups), never keyed by `id()`, so `state_dict()` is plain data: lists, dicts, numbers and
arrays; the public `optimizer.state[p]` finds a parameter's entry as PyTorch's does (`ParamState`).

Example:
    >>> import numpy as np, descentlab as dl
    >>> w = dl.nn.Parameter(np.array([1.0, 2.0]))
    >>> opt = dl.optim.SGD([w], lr=0.1)
    >>> w.grad = np.array([1.0, -1.0])
    >>> opt.step()
    >>> w.data
    array([0.9, 2.1])
"""

from __future__ import annotations

import collections
import copy
import functools
import itertools
import math
import numbers
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, ClassVar

import numpy as np

from descentlab._memory import empty_aligned
from descentlab.optim import _blas
from descentlab.optim._workers import Workers
from descentlab.optim.transforms import GradientTransformation, apply_updates, readonly
from descentlab.optim.workspace import scratch, work_item
from descentlab.tensor import Tensor, _torch_to_numpy, enable_grad

__all__ = ["Optimizer", "check_hyperparameters", "set_num_threads", "get_num_threads"]

_TUPLE_KEYS = ("betas", "etas", "step_sizes")
# A flat group: (parameter buffer, {state name: flat array}, offsets of the tensors in the buffer)
_Layout = tuple[np.ndarray, dict[str, np.ndarray], list[int]]
_CHUNK = 1 << 18  # elements per work item (1 MiB of float32): an item's arrays stay in cache
_WHOLE_MAX = 8 * _CHUNK  # larger groups never step on whole arrays: each pass would stream memory


def _range_error(name: str, value: Any, allowed: str) -> ValueError:
    return ValueError(f"invalid {name}: {value!r}; {name} must be {allowed}")


def check_hyperparameters(group: Mapping[str, Any]) -> None:
    """Validate the usual hyperparameters of a group; a ValueError names the argument and its range."""
    for key in ("lr", "eps", "weight_decay", "momentum", "dampening", "lr_decay", "lambd"):
        if key in group:
            value = group[key]
            if not isinstance(value, numbers.Real) or isinstance(value, bool):
                hint = ""
                if key == "lr" and callable(value):  # a Keras habit: Adam(learning_rate=schedule)
                    hint = (
                        "; to follow a schedule, give a number here and step "
                        "descentlab.optim.lr_scheduler.ScheduleLR(optimizer, schedule), or use "
                        "descentlab.keras.optimizers, which take a schedule as learning_rate"
                    )
                raise TypeError(f"{key} must be a number, got {type(value).__name__}{hint}")
            if not math.isfinite(value) or value < 0.0:
                raise _range_error(key, value, ">= 0")
    if "rho" in group and not 0.0 <= group["rho"] <= 1.0:
        raise _range_error("rho", group["rho"], "in [0, 1]")
    if "betas" in group:
        betas = group["betas"]
        if len(betas) != 2:
            raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        for i, b in enumerate(betas):
            if not 0.0 <= b < 1.0:
                raise _range_error(f"betas[{i}]", b, "in [0, 1)")
    if group.get("nesterov", False) and (
        group.get("momentum", 0.0) <= 0.0 or group.get("dampening", 0.0) != 0.0
    ):
        raise ValueError(
            "nesterov=True requires momentum > 0 and dampening = 0, got "
            f"momentum={group.get('momentum', 0.0)!r}, dampening={group.get('dampening', 0.0)!r}"
        )


class ParamState:
    """An optimizer's per-parameter state as `optimizer.state` shows it: the list of dicts in
    parameter order (`state[i]` belongs to the i-th parameter counting through the groups, as
    `state_dict()` numbers them) that also takes a parameter as its key, as PyTorch's
    `optimizer.state[p]` does.

    As PyTorch's dict, it holds the parameters that have state: iteration, `len()`, `keys()`,
    `values()`, `items()`, `get()` and `p in state` see those, in parameter order; `del state[p]`
    and `clear()` forget state (the next step starts it afresh, as PyTorch's does). A parameter's
    state is an empty dict until its first step (AdaGrad's, as PyTorch's, exists from the start;
    PyTorch's defaultdict would add one on `state[p]`;
    here it is the optimizer's own row, counted once it holds something). A view: writing
    `state[p] = {...}` writes the optimizer's own state.

    Example:
        >>> import numpy as np, descentlab as dl
        >>> w = dl.nn.Parameter(np.zeros(2))
        >>> opt = dl.optim.SGD([w], lr=0.1, momentum=0.9)
        >>> w.grad = np.ones(2)
        >>> opt.step()
        >>> opt.state[w]["momentum_buffer"]
        array([1., 1.])
        >>> list(opt.state) == [w], len(opt.state), w in opt.state, opt.state[0] is opt.state[w]
        (True, 1, True, True)
        >>> del opt.state[w]  # forget it: the next step starts the momentum afresh
        >>> len(opt.state), opt.state[w]
        (0, {})
    """

    __slots__ = ("_rows", "_groups")

    def __init__(self, rows: list[dict[str, Any]], param_groups: list[dict[str, Any]]) -> None:
        self._rows = rows
        self._groups = param_groups

    def _params(self) -> list[Tensor]:
        return [p for group in self._groups for p in group["params"]]

    def _position(self, param: Tensor) -> int:
        for i, p in enumerate(self._params()):
            if p is param:
                return i
        raise KeyError(
            f"this tensor (shape {param.shape}) is not a parameter of this optimizer; "
            "state[p] takes one of its param_groups' parameters, state[i] the i-th of them"
        )

    def _index(self, key: Any) -> int:
        return self._position(key) if isinstance(key, Tensor) else key

    def __getitem__(self, key: Any) -> Any:
        return self._rows[self._index(key)]

    def __setitem__(self, key: Any, value: dict[str, Any]) -> None:
        self._rows[self._index(key)] = value

    def __delitem__(self, key: Any) -> None:
        position = self._index(key)
        if not self._rows[position]:
            raise KeyError(f"parameter {position} has no optimizer state to delete")
        self._rows[position] = {}

    def clear(self) -> None:
        """Forget every parameter's state (PyTorch's `optimizer.state.clear()`)."""
        self._rows[:] = [{} for _ in self._rows]

    def __len__(self) -> int:
        return sum(1 for row in self._rows if row)

    def __iter__(self) -> Iterator[Tensor]:
        return iter(self.keys())

    def __contains__(self, key: Any) -> bool:
        return isinstance(key, Tensor) and any(p is key for p in self.keys())

    def __eq__(self, other: object) -> bool:
        return self._rows == (other._rows if isinstance(other, ParamState) else other)

    def __repr__(self) -> str:
        return repr(self._rows)

    def get(self, param: Tensor, default: Any = None) -> Any:
        """The parameter's state if it has any, else `default` (PyTorch's `state.get(p)`)."""
        return next((row for p, row in self.items() if p is param), default)

    def items(self) -> list[tuple[Tensor, dict[str, Any]]]:
        """(parameter, its state) for every parameter that has state, in parameter order."""
        return [(p, row) for p, row in zip(self._params(), self._rows) if row]

    def keys(self) -> list[Tensor]:
        """The parameters that have state, in order."""
        return [p for p, _ in self.items()]

    def values(self) -> list[dict[str, Any]]:
        """The non-empty state dicts, in parameter order."""
        return [row for _, row in self.items()]


class Optimizer:
    """Base class of the PyTorch-named optimizers: parameter groups and the stepping machinery.

    Args:
        params: an iterable of Parameters, or of dicts {'params': [...], **hyperparameters} for
            per-group settings (e.g. no weight decay on biases).
        defaults: the hyperparameters a group gets when it does not name them.
    """

    # Hyperparameters the chain reads from the group (`hyper`) at every update rather than baking
    # them in when `_transform` builds it: changing them needs no rebuild.
    _live_hyperparameters: ClassVar[tuple[str, ...]] = ()

    def __init__(self, params: Iterable[Any], defaults: Mapping[str, Any]) -> None:
        self.defaults: dict[str, Any] = dict(defaults)
        self.param_groups: list[dict[str, Any]] = []
        self._state: list[dict[str, Any]] = []  # per parameter, in order; shown as `state`
        self._scratch: list[np.ndarray | None] = []
        self._flat = False
        self._flat_cache: dict[int, dict[str, Any]] = {}
        self._chains: dict[int, tuple[dict[str, Any], GradientTransformation]] = {}
        self._tuners: dict[tuple, _Tuner] = {}
        if isinstance(params, Tensor):
            raise TypeError(
                "params must be an iterable of Parameters or of dicts, got a single Tensor; "
                "wrap it in a list: [param]"
            )
        items = list(params)
        if not items:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(items[0], Mapping):
            items = [{"params": items}]
        for group in items:
            self.add_param_group(group)

    @property
    def state(self) -> ParamState:
        """Per-parameter state: `state[p]` (as PyTorch) or `state[i]` (see `ParamState`)."""
        return ParamState(self._state, self.param_groups)

    @state.setter
    def state(self, rows: Iterable[dict[str, Any]]) -> None:
        self._state = list(rows._rows if isinstance(rows, ParamState) else rows)

    # ------------------------------------------------------------------ groups
    def add_param_group(self, param_group: Mapping[str, Any]) -> None:
        """Add a group of parameters with its own hyperparameters (missing ones come from defaults)."""
        if not isinstance(param_group, Mapping) or "params" not in param_group:
            raise TypeError("a param group must be a dict with a 'params' entry")
        group = dict(param_group)
        params = group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, got {type(p).__name__}")
            if not np.issubdtype(p.data.dtype, np.inexact):
                raise TypeError(f"cannot optimize a tensor of dtype {p.data.dtype}")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if len({id(p) for p in params}) != len(params) or any(id(p) in seen for p in params):
            raise ValueError("some parameters appear more than once (within or across groups)")
        group["params"] = params
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        for key in _TUPLE_KEYS:
            if key in group:
                group[key] = tuple(group[key])
        check_hyperparameters(group)
        self._check_group(group)
        self.param_groups.append(group)
        self._state.extend({} for _ in params)
        self._scratch.extend(None for _ in params)

    def _check_group(self, group: dict[str, Any]) -> None:
        """Optimizer-specific validation of a group (override)."""

    def _transform(self, group: Mapping[str, Any]) -> GradientTransformation:
        raise NotImplementedError(f"{type(self).__name__} must define _transform(group)")

    # ------------------------------------------------------------------ stepping
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear every parameter's gradient: set it to None (default) or to zeros."""
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad = np.zeros_like(p.grad)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient; returns closure() when a closure is given."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        offset = 0
        for gi, group in enumerate(self.param_groups):
            params = group["params"]
            active = [j for j, p in enumerate(params) if p.grad is not None]
            index = [offset + j for j in active]
            offset += len(params)
            if not active:
                continue
            tx = self._chain(gi, group)
            layout = None
            if self._flat and len(active) == len(params):
                layout = self._flat_layout(gi, group, index, tx)
            self._step_group(tx, group, index, [params[j] for j in active], layout)
        return loss

    def _chain(self, gi: int, group: Mapping[str, Any]) -> GradientTransformation:
        """The group's chain: `_transform(group)`, built once and again only when the group changes.

        The entries named in `_live_hyperparameters` are read from the group at every update (it is
        passed as `hyper`), so a scheduler may write them freely; changing any other entry (a
        scheduler cycling momentum, `load_state_dict`) rebuilds the chain at the next step.
        """
        live = self._live_hyperparameters
        for k in live:
            v = group.get(k, 0.0)
            if isinstance(v, bool) or not isinstance(v, numbers.Real) or not 0.0 <= v < math.inf:
                check_hyperparameters({k: v})  # raises the usual error
        settings = {k: v for k, v in group.items() if k != "params" and k not in live}
        cached = self._chains.get(gi)
        if cached is not None and _same(cached[0], settings):
            return cached[1]
        tx = self._transform(group)
        try:
            snapshot = copy.deepcopy(settings)  # a list mutated in place must not go unnoticed
        except Exception:  # an entry that cannot be copied: compare it by value as it is
            snapshot = dict(settings)
        self._chains[gi] = (snapshot, tx)
        return tx

    def _step_group(self, tx: GradientTransformation, group: Mapping[str, Any], index: list[int],
                    params: list[Tensor], layout: _Layout | None = None) -> None:  # fmt: skip
        for i, p in zip(index, params):
            if not self._state[i]:  # first step of this parameter: create its state lazily
                self._state[i] = {k: v[0] for k, v in tx.init([p.data]).items()}
            if p.grad.shape != p.data.shape:
                raise ValueError(
                    f"parameter {i} has shape {p.data.shape} but its gradient has shape "
                    f"{p.grad.shape}"
                )
        keys = self._state[index[0]].keys()
        rows = [self._state[i] for i in index]
        lift = has_0d(params)
        state = gather_state(rows, keys, lift)
        datas = [at_least_1d(p.data) for p in params] if lift else [p.data for p in params]

        def whole() -> dict[str, list[Any]]:
            # the chain on whole arrays, on the gradients themselves (read-only) where it allows
            # that, else on copies in scratch arrays
            updates = [
                readonly(p.grad) if _as_is(tx, p.grad, p.data) else self._grad_copy(i, p)
                for i, p in zip(index, params)
            ]
            return apply_updates(tx, [at_least_1d(u) for u in updates] if lift else updates,
                                 state, datas, group)  # fmt: skip

        tuner = self._tuners.setdefault((tuple(index), layout is not None), _Tuner())
        grads = [at_least_1d(p.grad) for p in params] if lift else [p.grad for p in params]
        new_state = _update(tx, grads, state, datas, group, whole, layout, tuner)
        store_state(rows, new_state, params, lift)

    def _grad_copy(self, i: int, p: Tensor) -> np.ndarray:
        """Copy p.grad into a scratch array the transforms may overwrite (p.grad stays as it was)."""
        buf = self._scratch[i]
        if buf is None or buf.shape != p.data.shape or buf.dtype != p.data.dtype:
            buf = self._scratch[i] = empty_aligned(p.data.shape, p.data.dtype)
        if p.grad.shape != buf.shape:
            raise ValueError(
                f"parameter {i} has shape {buf.shape} but its gradient has shape {p.grad.shape}"
            )
        np.copyto(buf, p.grad, casting="same_kind")
        return buf

    # ------------------------------------------------------------------ flat buffers
    def flatten(self) -> Optimizer:
        """Keep each group's parameters (and their optimizer state) in one contiguous buffer.

        Every `p.data` becomes a view into its group's buffer, and each array of optimizer state
        (exp_avg, ...) a view into one buffer per name, so a step calls the chain once per
        cache-sized work item whatever the number of tensors. The trajectory is the same as
        without it. Returns self, so `opt = Adam(params).flatten()` works.
        """
        self._flat = True
        return self

    def _flat_params(self, gi: int, params: list[Tensor]) -> dict[str, Any] | None:
        """The group's flat parameter buffer, (re)built when a parameter's data was replaced."""
        cache = self._flat_cache.get(gi)
        if cache is not None and all(_owner(p.data) is _owner(cache["buf"]) for p in params):
            return cache
        dtypes = {p.data.dtype for p in params}
        if len(dtypes) != 1:
            return None  # mixed dtypes: stay per tensor
        buf = _concatenate([p.data for p in params])
        offsets = np.cumsum([0] + [p.data.size for p in params]).tolist()
        for p, a, b in zip(params, offsets[:-1], offsets[1:]):
            p.data = buf[a:b].reshape(p.data.shape)
        cache = {"buf": buf, "offsets": offsets, "shapes": [p.data.shape for p in params],
                 "state": {}}  # fmt: skip
        self._flat_cache[gi] = cache
        return cache

    def _flat_layout(self, gi: int, group: Mapping[str, Any], index: list[int],
                     tx: GradientTransformation) -> _Layout | None:  # fmt: skip
        """Flat mode: the group's parameters in one buffer, and its array state in one per name.

        The first step creates the state on the buffer; state made by a step (a momentum buffer)
        or by `load_state_dict` is gathered at the next step. Returns (buffer, flat state, offsets)
        when the whole state is flat and its scalars agree, so that a step may treat the group as
        one tensor; None otherwise.
        """
        cache = self._flat_params(gi, group["params"])
        if cache is None:
            return None
        states = [self._state[i] for i in index]
        offsets, shapes = cache["offsets"], cache["shapes"]
        if not any(states):
            fresh = tx.init([cache["buf"]])
            cache["state"] = {k: v[0] for k, v in fresh.items() if isinstance(v[0], np.ndarray)}
            for i in index:
                self._state[i] = {k: v[0] for k, v in fresh.items()}
        elif not all(states):
            return None
        elif not self._flat_state_valid(cache, index):
            cache["state"] = {}
            for k in states[0]:
                values = [s.get(k) for s in states]
                sizes = [x.size if isinstance(x, np.ndarray) else -1 for x in values]
                if sizes == [b - a for a, b in zip(offsets, offsets[1:])]:
                    cache["state"][k] = _concatenate(values)
        else:
            return self._merged_layout(cache, states)
        for j, i in enumerate(index):  # point each tensor's entries at slices (views, no copies)
            for k, x in cache["state"].items():
                self._state[i][k] = x[offsets[j] : offsets[j + 1]].reshape(shapes[j])
        return self._merged_layout(cache, states)

    @staticmethod
    def _merged_layout(cache: dict[str, Any], states: list[dict[str, Any]]) -> _Layout | None:
        flat = cache["state"]
        for k, v in states[0].items():
            if isinstance(v, np.ndarray):
                if k not in flat:
                    return None
            elif v is None or any(
                isinstance(s.get(k), np.ndarray) or s.get(k) != v for s in states[1:]
            ):
                return None  # e.g. tensors that skipped steps count differently
        return cache["buf"], flat, cache["offsets"]

    def _flat_state_valid(self, cache: dict[str, Any], index: list[int]) -> bool:
        flat = cache["state"]
        for i in index:
            for k, mine in self._state[i].items():
                if isinstance(mine, np.ndarray) and (
                    k not in flat or _owner(mine) is not _owner(flat[k])
                ):
                    return False
        return True

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        """{'state': {index: state}, 'param_groups': [hyperparameters + 'params': indices]}, as
        PyTorch writes it: `state` holds the parameters that have state, by their position over
        all groups in order (`load_state_dict` also takes the list of every parameter's dict that
        descentlab wrote before).

        Arrays are copies (PyTorch hands out its live tensors); everything else is a JSON-able
        number, list, dict or None.
        """
        state = {
            i: {k: _copy_value(v) for k, v in row.items()}
            for i, row in enumerate(self._state)
            if row
        }
        groups, offset = [], 0
        for group in self.param_groups:
            entry = {k: (list(v) if isinstance(v, tuple) else v) for k, v in group.items()}
            n = len(group["params"])
            entry["params"] = list(range(offset, offset + n))
            offset += n
            groups.append(entry)
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore hyperparameters and state saved by `state_dict()` (same parameter layout)."""
        groups = state_dict.get("param_groups")
        saved_state = state_dict.get("state")
        if groups is None or saved_state is None:
            raise ValueError("state_dict must have 'state' and 'param_groups' entries")
        if len(groups) != len(self.param_groups):
            raise ValueError(
                f"loaded state_dict has {len(groups)} parameter groups, this optimizer has "
                f"{len(self.param_groups)}"
            )
        for i, (saved, mine) in enumerate(zip(groups, self.param_groups)):
            if len(saved["params"]) != len(mine["params"]):
                raise ValueError(
                    f"parameter group {i}: the state_dict has {len(saved['params'])} parameters, "
                    f"this optimizer has {len(mine['params'])}"
                )
        if isinstance(saved_state, Mapping):  # {index: state} as PyTorch writes it
            saved_state = self._state_by_position(saved_state)
        if len(saved_state) != len(self._state):
            raise ValueError(
                f"state_dict holds state for {len(saved_state)} parameters, expected {len(self._state)}"
            )
        params = [p for g in self.param_groups for p in g["params"]]
        new_state = []
        for i, (entry, p) in enumerate(zip(saved_state, params)):
            restored = {}
            if not isinstance(entry or {}, Mapping):
                raise ValueError(f"state entry {i} must be a dict, got {type(entry).__name__}")
            for k, v in (entry or {}).items():
                v = _torch_to_numpy(v)
                if isinstance(v, np.ndarray) and v.shape == p.data.shape:
                    v = v.astype(p.data.dtype, copy=True)  # as PyTorch: state follows the param
                restored[k] = _copy_value(v) if not isinstance(v, np.ndarray) else np.array(v)
            new_state.append(restored)
        for saved, mine in zip(groups, self.param_groups):
            for k, v in saved.items():
                if k != "params":
                    mine[k] = tuple(v) if k in _TUPLE_KEYS else v
        self._state = new_state
        self._counters_as_ints()

    def _counters_as_ints(self) -> None:
        """Loaded step counters as the ints the transforms count with: PyTorch keeps `step` as a
        float32 tensor, and a float32 count would round Adam's bias correction 1 - beta2**t."""
        offset = 0
        for group in self.param_groups:
            params = group["params"]
            rows = self._state[offset : offset + len(params)]
            offset += len(params)
            if not params or not any(rows):
                continue
            try:
                fresh = self._transform(group).init([params[0].data])
            except NotImplementedError:  # no chain (L-BFGS): its state is its own
                continue
            counters = [k for k, v in fresh.items() if type(v[0]) is int]
            for row in rows:
                for k in counters:
                    if k in row and type(row[k]) is not int:
                        value = float(np.asarray(row[k]).item())
                        if value.is_integer():
                            row[k] = int(value)

    def _state_by_position(self, saved: Mapping[Any, Any]) -> list[Any]:
        """A saved {index: state} (int keys, or their strings after a JSON round trip) as the list
        of every parameter's state, {} for the parameters it leaves out."""
        n = len(self._state)
        for key in saved:
            text = str(key)
            if isinstance(key, bool) or not (
                text.isdigit() and text == str(int(text)) and int(text) < n
            ):
                raise ValueError(
                    f"state_dict holds state for parameter {key!r}; this optimizer has parameters "
                    f"0 to {n - 1}"
                )
        return [saved.get(i, saved.get(str(i), {})) for i in range(n)]

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for k in sorted(group):
                if k != "params":
                    lines.append(f"    {k}: {group[k]}")
        lines.append(")")
        return "\n".join(lines)


_num_threads = min(os.cpu_count() or 1, 8)
_pool: Workers | None = None


def set_num_threads(n: int) -> None:
    """Threads used for large optimizer steps (default: the CPU count, at most 8; 1 disables)."""
    global _num_threads, _pool
    if int(n) < 1:
        raise ValueError(f"invalid number of threads: {n!r}; must be >= 1")
    _num_threads = int(n)
    if _pool is not None:
        _pool.close()
        _pool = None


def get_num_threads() -> int:
    """Threads used for large optimizer steps."""
    return _num_threads


def _forget_pool() -> None:
    # A forked child (a process-pool worker) inherits the pool object but not its threads, and
    # the lock may be held by a thread it does not have.
    global _pool, _pool_lock
    _pool = None
    _pool_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


_pool_lock = threading.Lock()  # two threads stepping at once must not start two pools


def _workers() -> Workers:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = Workers(_num_threads - 1)  # the stepping thread is the other one
        return _pool


def at_least_1d(x: Any) -> Any:
    """A 0-d array as a one-element view (anything else as it is): on 0-d inputs NumPy's ufuncs
    return scalars, which the transforms' in-place passes (`out=`) cannot take."""
    return x.reshape(1) if isinstance(x, np.ndarray) and x.ndim == 0 else x


def gather_state(rows: list[dict[str, Any]], keys: Iterable[str],
                 lift: bool = True) -> dict[str, list[Any]]:  # fmt: skip
    """The chain's state for one step: per entry, the parameters' values in order (0-d arrays as
    one-element views, see `at_least_1d`; `lift=False` when no parameter is 0-d), from `rows`, the
    parameters' own state dicts."""
    if not lift:
        return {k: [row[k] for row in rows] for k in keys}
    return {k: [at_least_1d(row[k]) for row in rows] for k in keys}


def has_0d(params: list[Tensor]) -> bool:
    """Whether some parameter is 0-d (its arrays then step as one-element views, `at_least_1d`);
    the usual answer, no, lets a step skip that per array."""
    return not all(p.data.ndim for p in params)


def store_state(rows: list[dict[str, Any]], state: Mapping[str, list[Any]],
                params: list[Tensor], lift: bool = True) -> None:  # fmt: skip
    """Write a step's new state back into the parameters' state dicts; an array a transform built
    for a 0-d parameter's one-element view is shaped back like the parameter (as PyTorch keeps it,
    so state_dicts match; `lift=False`, as for `gather_state`, when no parameter is 0-d)."""
    if not lift:
        for k, values in state.items():
            for row, v in zip(rows, values):
                row[k] = v
        return
    for k, values in state.items():
        for row, v, p in zip(rows, values, params):
            if p.data.ndim == 0 and isinstance(v, np.ndarray) and v.shape == (1,):
                v = v.reshape(())
            row[k] = v


def _same(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    try:
        return bool(a == b)
    except (TypeError, ValueError):  # an array-valued entry: treat it as changed
        return False


class _Tuner:
    """Times the ways one group's step can run and keeps the fastest (per optimizer and group).

    Which way wins depends on the machine, its load and the chain: threads pay off for a long chain
    (Adam) on a large group, but handing work to a thread costs tens of microseconds and the
    threads then contend for the GIL between NumPy calls, more than a short chain (SGD) saves on
    data that sits in cache; whole-array passes beat work items while the group fits in cache. The
    trajectory is the same bit for bit whichever way runs.

    A way is timed as it would run if chosen: in a run of consecutive steps, whose first is not
    timed (after a switch, a helper thread that idled for a hundred steps wakes slowly, and the
    caches hold what the other way left: that first step takes up to twice as long). Each way in
    turn runs `TRIALS` + 1 steps; a way's time is the best of its `TRIALS` latest samples, and the
    fastest runs. Timings early in a run are unsteady (first-touch page faults, threads being
    started, caches and cores still busy with whatever ran before), and the load changes later, so
    the other ways keep being timed: a run of `BURST` steps every `EXPLORE[0]` steps during the
    first `SETTLE` steps, every `EXPLORE[1]` after. The way that runs is timed at every step, so a
    way that only looked fast is dropped again within `TRIALS` steps.
    """

    TRIALS = 3
    BURST = 3
    EXPLORE = (15, 300)
    SETTLE = 300
    # The "handed" way's helper share (see _apply_handed), moved after each such step by half the
    # way to balance (at most MOVE). The aim is the helper ending MARGIN seconds before this thread
    # ends its own passes: a helper that ends later has this thread sleep on it and wake slowly.
    SHARE = (0.25, 0.05, 0.5)  # start, least, most
    MARGIN = 20e-6
    MOVE = 0.05

    def __init__(self) -> None:
        self.share = self.SHARE[0]
        self.samples: dict[str, collections.deque[float]] = {}
        self.steps = 0
        self.turn = 0  # which of the other ways is timed next
        self.last: str | None = None  # the way the previous step ran
        self.queued: list[str] = []  # the rest of an exploring run

    def choose(self, ways: tuple[str, ...]) -> str:
        self.steps += 1
        if self.queued:
            way = self.queued.pop()
            if way in ways:
                return way
            self.queued.clear()
        pending = [w for w in ways if len(self.samples.get(w, ())) < self.TRIALS]
        if pending:  # still timing: the current way until it has its samples, then the next
            return self.last if self.last in pending else pending[0]
        best = min(ways, key=lambda w: min(self.samples[w]))
        every = self.EXPLORE[0] if self.steps <= self.SETTLE else self.EXPLORE[1]
        if self.steps % every == 0 and len(ways) > 1:
            others = [w for w in ways if w != best]
            self.turn += 1
            way = others[self.turn % len(others)]
            self.queued = [way] * (self.BURST - 1)
            return way
        return best

    def record(self, way: str, seconds: float) -> None:
        if way == self.last:  # the first step after a switch is not typical of the way
            self.samples.setdefault(way, collections.deque(maxlen=self.TRIALS)).append(seconds)
        self.last = way

    def balance(self, late: float, own: float) -> None:
        """Move the helper's share after a "handed" step whose helper ended `late` seconds after
        this thread ended its own passes (negative: before), which took it `own` seconds. Moving
        a share d from one thread to the other changes the gap between them by 2 d own / (1 -
        share)."""
        per_share = own / (1.0 - self.share)
        move = -0.5 * (late + self.MARGIN) / (2.0 * per_share) if per_share > 0 else 0.0
        least, most = self.SHARE[1:]
        self.share = min(most, max(least, self.share + min(self.MOVE, max(-self.MOVE, move))))


def _ways(tx: GradientTransformation, state: dict[str, list[Any]], params: list[np.ndarray],
          layout: _Layout | None, grads: list[np.ndarray]) -> tuple[str, ...]:  # fmt: skip
    """The ways a step of these arrays may run, the usual best first: "whole" (the chain on whole
    arrays), "pieces" (by work items on this thread), "threads" (work items on a few threads),
    "handed" (a deferrable chain's passes recorded, a share handed to a helper thread; only
    where it may read every gradient as it is, on a group small enough for whole-array passes;
    a flat group hands the views its tensors have into the buffers)."""
    total = sum(p.size for p in params)
    if total <= _CHUNK and layout is None:  # one work item at most: nothing to share or cut
        return ("whole",)
    if not _streamable(tx, state, params):
        return ("whole",)
    if total <= _CHUNK:  # flat: one chain call on the buffers' slice
        return ("pieces",)
    usual = ("threads" if _threaded(params, layout) else
             "pieces" if _in_pieces(params, layout) else "whole")  # fmt: skip
    ways = [usual]
    ways += [
        w for w in ("pieces", "threads") if w != usual and (w != "threads" or _num_threads > 1)
    ]
    if usual != "whole" and total <= _WHOLE_MAX:
        ways.append("whole")
    if (
        tx.deferrable
        and _num_threads > 1
        and total <= _WHOLE_MAX  # larger, its whole-array passes would stream memory
        and all(_as_is(tx, g, p) for g, p in zip(grads, params))
    ):
        ways.append("handed")
    return tuple(ways)


def _update(tx: GradientTransformation, grads: list[np.ndarray], state: dict[str, list[Any]],
            params: list[np.ndarray], hyper: Mapping[str, Any],
            whole: Callable[[], dict[str, list[Any]]], layout: _Layout | None = None,
            tuner: _Tuner | None = None) -> dict[str, list[Any]]:  # fmt: skip
    """params += tx.update(grads), the fastest way (`_Tuner`; without one, the usual way): by work
    items (`_apply_in_pieces`) on one thread or a few, or by `whole()`, the caller's step on whole
    arrays (it returns the new state). `grads` are only read. Returns the new state."""
    ways = _ways(tx, state, params, layout, grads)
    if tuner is None or len(ways) == 1:
        way = ways[0]
        tuner = None
    else:
        way = tuner.choose(ways)
    start = time.perf_counter()
    if way == "whole":
        with work_item():  # the chain's temporaries come from this thread's workspace
            state = whole()
    elif way == "handed":  # offered only beside others: a tuner chose it
        assert tuner is not None
        tuner.balance(*_apply_handed(tx, grads, state, params, hyper, tuner.share))
    else:
        _apply_in_pieces(tx, grads, state, params, hyper, layout, threads=way == "threads")
    if tuner is not None:
        tuner.record(way, time.perf_counter() - start)
    return state


def _as_is(tx: GradientTransformation, grad: np.ndarray, data: np.ndarray) -> bool:
    """May the chain read this gradient itself (as a read-only view) instead of a copy? Only if it
    never writes into a read-only update and no dtype cast is due."""
    return tx.readonly_updates and grad.dtype == data.dtype


def _threaded(params: list[np.ndarray], layout: _Layout | None) -> bool:
    """Threads pay off when each NumPy call is long enough to hide the hand-over of the GIL: many
    small tensors (short passes, much Python between them) run faster on one thread."""
    total = sum(p.size for p in params)
    calls = math.ceil(total / _CHUNK) if layout is not None else len(params)
    return _num_threads > 1 and total > _CHUNK and total >= calls * (_CHUNK // 4)


def _in_pieces(params: list[np.ndarray], layout: _Layout | None) -> bool:
    """Work items pay off for a tensor larger than an item (its passes would stream from memory),
    for a flat group (one chain call per item), and where there is work to share among threads."""
    return layout is not None or max(p.size for p in params) > _CHUNK or _threaded(params, layout)


def _streamable(tx: GradientTransformation, state: dict[str, list[Any]],
                params: list[np.ndarray]) -> bool:  # fmt: skip
    """Can the update be cut into pieces? The chain is elementwise and every array is contiguous and
    not empty, with state arrays the size of their parameter (None marks state that a first step
    still creates)."""
    if not tx.elementwise or not all(p.flags.c_contiguous and p.size for p in params):
        return False
    for values in state.values():
        for x, p in zip(values, params):
            if x is None or (
                isinstance(x, np.ndarray) and (x.size != p.size or not x.flags.c_contiguous)
            ):
                return False
    return True


@functools.lru_cache(maxsize=64)
def _plan(sizes: tuple[int, ...], dtypes: tuple[np.dtype, ...], chunk: int
          ) -> tuple[tuple[tuple[int, int, int], ...], ...]:  # fmt: skip
    """Work items of at most `chunk` elements, each a run of pieces (tensor, start, stop).

    Large tensors are cut and small ones share an item (in a flat group, an item's pieces are one
    slice of the buffers, so one chain call per item whatever the number of tensors). An item
    holds one dtype.
    """
    items: list[tuple[tuple[int, int, int], ...]] = []
    item: list[tuple[int, int, int]] = []
    room = chunk
    for t, (n, dtype) in enumerate(zip(sizes, dtypes)):
        if item and dtypes[item[0][0]] != dtype:
            items.append(tuple(item))
            item, room = [], chunk
        a = 0
        while a < n:
            b = min(n, a + room)
            item.append((t, a, b))
            room -= b - a
            a = b
            if room == 0:
                items.append(tuple(item))
                item, room = [], chunk
    if item:
        items.append(tuple(item))
    return tuple(items)


def _apply_in_pieces(tx: GradientTransformation, grads: list[np.ndarray],
                     state: dict[str, list[Any]], params: list[np.ndarray],
                     hyper: Mapping[str, Any], layout: _Layout | None = None,
                     threads: bool = False) -> None:  # fmt: skip
    """params[i] += tx.update(grads[i]), computed one cache-sized work item at a time.

    For each item: run the whole chain on its pieces (views of the parameters and state arrays, and
    read-only views of the gradients, or copies in a small scratch buffer when the chain would
    write into them, a cast is due, or a flat item joins pieces of several gradients), add the
    result to the parameters.
    Every array is then read from memory once and written once per step, and the chain's dozen
    NumPy passes run on data in cache. The chain is elementwise, so each coordinate is computed
    exactly as in a single whole-array update (bit-identical). Scalars in the state (step counts)
    are repeated per piece, advance alike, and the first piece's value is kept. With `threads`, the
    items are shared out to `get_num_threads()` threads as they go: NumPy releases the GIL inside
    each pass.

    With a flat `layout` (all tensors adjacent in one buffer, state likewise, scalars shared) the
    pieces of an item are one slice of the buffers: one chain call per item, however many tensors.
    """
    chunk = _CHUNK
    sizes = tuple(p.size for p in params)
    workers = min(_num_threads, math.ceil(sum(sizes) / chunk)) if threads else 1
    if workers > 1:  # equal items, as many for each thread: all finish at about the same time
        per_thread = math.ceil(sum(sizes) / (chunk * workers))
        chunk = math.ceil(sum(sizes) / (per_thread * workers))
    items = _plan(sizes, tuple(p.dtype for p in params), chunk)
    flat_p = [p.reshape(-1) for p in params]
    flat_g = [g.reshape(-1) for g in grads]
    as_is = [_as_is(tx, g, p) for g, p in zip(grads, params)]
    flat_s = {k: [x.reshape(-1) if isinstance(x, np.ndarray) else None for x in v]
              for k, v in state.items()}  # fmt: skip

    def inputs(item: tuple[tuple[int, int, int], ...]) -> tuple[list, list, dict[str, list]]:
        """The chain's arguments for one item: the gradients (read-only views, or copies in this
        thread's scratch buffer), and views of the parameters and state (scalars as they are)."""
        if layout is not None and len(item) == 1 and as_is[item[0][0]]:
            ((t, a, b),) = item  # a piece of one gradient: the chain reads it where it is
            flat_buf, flat_state, offsets = layout
            lo, hi = offsets[t] + a, offsets[t] + b
            pieces = {k: [flat_state[k][lo:hi] if k in flat_state else state[k][0]] for k in state}
            return [readonly(flat_g[t][a:b])], [flat_buf[lo:hi]], pieces
        buf = scratch(params[item[0][0]].dtype, _CHUNK)
        updates, views, pieces = [], [], {k: [] for k in state}
        pos = 0
        for t, a, b in item:
            if layout is None and as_is[t]:
                u = readonly(flat_g[t][a:b])
            else:
                u = buf[pos : pos + b - a]
                pos += b - a
                np.copyto(u, flat_g[t][a:b], casting="same_kind")
            updates.append(u)
            if layout is None:
                views.append(flat_p[t][a:b])
                for k, arrays in flat_s.items():
                    pieces[k].append(state[k][t] if arrays[t] is None else arrays[t][a:b])
        if layout is not None:  # the pieces are adjacent: one slice of each buffer
            flat_buf, flat_state, offsets = layout
            a = offsets[item[0][0]] + item[0][1]
            updates, views = [buf[:pos]], [flat_buf[a : a + pos]]
            for k in state:
                pieces[k].append(flat_state[k][a : a + pos] if k in flat_state else state[k][0])
        return updates, views, pieces

    def run() -> list[tuple[str, int, Any]]:
        try:
            return steps()
        except BaseException:
            failed.append(True)  # the other threads take no new item
            raise

    def steps() -> list[tuple[str, int, Any]]:
        scalars = []
        while not failed and (n := next_item()) < len(items):  # the next item, as each finishes
            item = items[n]
            updates, views, pieces = inputs(item)
            kept = {k: list(v) for k, v in pieces.items()}
            with work_item():  # the chain's temporaries come from this thread's workspace
                new_s = apply_updates(tx, updates, pieces, views, hyper)
            # flat: one piece per item, every item's scalars alike
            scalars += _settle(kept, new_s, item if layout is None else [(item[0][0], 0, 0)])
        return scalars

    next_item = itertools.count().__next__  # atomic under the GIL
    failed: list[bool] = []
    results = _workers().run(run, workers - 1) if workers > 1 else [run()]
    for scalars in results:
        for k, t, value in scalars:
            if layout is None:
                state[k][t] = value
            else:  # shared scalars: every tensor advanced alike
                state[k] = [value] * len(params)


def _apply_handed(tx: GradientTransformation, grads: list[np.ndarray],
                  state: dict[str, list[Any]], params: list[np.ndarray],
                  hyper: Mapping[str, Any], share: float) -> tuple[float, float]:  # fmt: skip
    """params[i] += tx.update(grads[i]) for a deferrable chain, on this thread and a helper.

    The helper's passes are recorded first (`_blas.recording`: BLAS routines and addresses, ufuncs
    and their arrays, temporaries from this thread's workspace) and handed over, so it needs the
    GIL only for a moment between two passes; then this thread records and runs its own. Threads
    that run the chain itself contend for the GIL between NumPy calls, and each wait for it is a
    thread put to sleep and woken again (tens of microseconds on a virtual machine): more than
    SGD's two passes per tensor take, and a tenth of RMSProp's step. The helper
    takes the last `share` of the elements (cutting a tensor if need be: the chain is
    elementwise, so the values are those of a whole-array step, bit for bit), as it starts late,
    after waking up. If it has not started when this thread is done, this thread runs its passes
    too. Returns how long after this thread's own passes the helper's ended (negative: before),
    and how long this thread's own passes took, in seconds.
    """
    sizes = [p.size for p in params]
    total = sum(sizes)
    mine, theirs = _split(sizes, total - max(1, min(total - 1, round(total * share))))
    flat_p = [p.reshape(-1) for p in params]
    flat_g = [g.reshape(-1) for g in grads]
    flat_s = {k: [x.reshape(-1) if isinstance(x, np.ndarray) else None for x in v]
              for k, v in state.items()}  # fmt: skip

    def record(part: list[tuple[int, int, int]]) -> tuple[list[_blas.Call], dict, dict]:
        pieces = {k: [state[k][t] if flat_s[k][t] is None else flat_s[k][t][a:b]
                      for t, a, b in part] for k in state}  # fmt: skip
        kept = {k: list(v) for k, v in pieces.items()}
        with _blas.recording() as calls:
            new = apply_updates(tx, [readonly(flat_g[t][a:b]) for t, a, b in part],
                                pieces, [flat_p[t][a:b] for t, a, b in part], hyper)  # fmt: skip
        return calls, kept, new

    jobs: list[list[_blas.Call]] = []
    ended: list[float] = []

    def helper() -> None:
        try:
            calls = jobs.pop()  # atomic: this thread may have taken it already
        except IndexError:
            return
        _blas.run(calls)
        ended.append(time.perf_counter())

    def here() -> tuple[float, float, tuple[list[_blas.Call], dict, dict]]:
        own = record(mine)
        start = time.perf_counter()
        _blas.run(own[0])
        done = time.perf_counter()
        helper()  # the helper has not started (or the pool is closed): run its passes here
        return start, done, own

    with work_item():  # both parts' temporaries, apart in this thread's workspace until the end
        handed = record(theirs)
        jobs.append(handed[0])
        start, done, own = _workers().run(here, 1, helper_fn=helper)[0]
    _merge(own, mine, state)
    _merge(handed, theirs, state)
    return ended[0] - done, done - start


def _split(sizes: list[int], cut: int) -> tuple[list[tuple[int, int, int]], ...]:
    """Elements [0, cut) and [cut, total) of tensors laid end to end, as pieces (tensor, a, b)."""
    before, after, start = [], [], 0
    for t, n in enumerate(sizes):
        if start + n <= cut:
            before.append((t, 0, n))
        elif start >= cut:
            after.append((t, 0, n))
        else:
            before.append((t, 0, cut - start))
            after.append((t, cut - start, n))
        start += n
    return before, after


def _settle(kept: dict[str, list[Any]], new: dict[str, list[Any]],
            part: list[tuple[int, int, int]]) -> list[tuple[str, int, Any]]:  # fmt: skip
    """After the chain ran on pieces (tensor, a, b): copy a new state array into the piece it
    replaces (most are updated in place), and return (key, tensor, value) for the scalars of
    each tensor's first piece (every piece's scalars advance alike)."""
    scalars = []
    for k, values in new.items():
        if k not in kept:
            raise RuntimeError(f"transformation added state {k!r} during update")
        for (t, a, _), before, after in zip(part, kept[k], values):
            if isinstance(before, np.ndarray):
                if after is not before:
                    np.copyto(before, after)
            elif a == 0:
                scalars.append((k, t, after))
    return scalars


def _merge(recorded: tuple[list[Any], dict, dict], part: list[tuple[int, int, int]],
           state: dict[str, list[Any]]) -> None:  # fmt: skip
    """Bring a recorded part's new state into `state`, once its passes have run."""
    for k, t, value in _settle(recorded[1], recorded[2], part):
        state[k][t] = value


def _owner(a: np.ndarray) -> Any:
    """The object that owns a's memory (NumPy points a view's `base` at it, however deep the view;
    our aligned arrays are views of a raw byte buffer, see `descentlab._memory`)."""
    return a if a.base is None else a.base


def _concatenate(arrays: list[np.ndarray]) -> np.ndarray:
    """The arrays flattened end to end into one new aligned buffer."""
    out = empty_aligned(sum(a.size for a in arrays), arrays[0].dtype)
    np.concatenate([a.reshape(-1) for a in arrays], out=out)
    return out


def _copy_value(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        return v.copy()
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, (list, tuple)):
        return [_copy_value(x) for x in v]
    if isinstance(v, dict):
        return {k: _copy_value(x) for k, x in v.items()}
    return v
