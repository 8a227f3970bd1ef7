"""The stateful `Optimizer`: parameter groups, `step`, `zero_grad`, `state_dict` (PyTorch semantics).

A concrete optimizer only says which chain of gradient transformations a parameter group uses
(`_transform(group)`); this class feeds it each parameter's gradient and applies the result in place.
The chain is rebuilt from the group's hyperparameters at every step, so a scheduler that writes
`group['lr']` (or any other hyperparameter) before `step()` takes effect at once.

State is kept in parameter order (`self.state[i]` belongs to the i-th parameter counting through the
groups), never keyed by `id()`, so `state_dict()` is plain data: lists, dicts, numbers and arrays.

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

import math
import numbers
import os
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from descentlab.optim.transforms import GradientTransformation
from descentlab.tensor import Tensor, enable_grad

__all__ = ["Optimizer", "check_hyperparameters", "set_num_threads", "get_num_threads"]

_TUPLE_KEYS = ("betas", "etas", "step_sizes")
_CHUNK = 1 << 16  # elements per chunk in flat mode: 256 KiB of float32, a few arrays fit in L2


def _range_error(name: str, value: Any, allowed: str) -> ValueError:
    return ValueError(f"invalid {name}: {value!r}; {name} must be {allowed}")


def check_hyperparameters(group: Mapping[str, Any]) -> None:
    """Validate the usual hyperparameters of a group; a ValueError names the argument and its range."""
    for key in ("lr", "eps", "weight_decay", "momentum", "dampening", "lr_decay", "lambd"):
        if key in group:
            value = group[key]
            if not isinstance(value, numbers.Real) or isinstance(value, bool):
                raise TypeError(f"{key} must be a number, got {type(value).__name__}")
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


class Optimizer:
    """Base class of the PyTorch-named optimizers: parameter groups and the stepping machinery.

    Args:
        params: an iterable of Parameters, or of dicts {'params': [...], **hyperparameters} for
            per-group settings (e.g. no weight decay on biases).
        defaults: the hyperparameters a group gets when it does not name them.
    """

    def __init__(self, params: Iterable[Any], defaults: Mapping[str, Any]) -> None:
        self.defaults: dict[str, Any] = dict(defaults)
        self.param_groups: list[dict[str, Any]] = []
        self.state: list[dict[str, Any]] = []
        self._scratch: list[np.ndarray | None] = []
        self._flat = False
        self._flat_cache: dict[int, dict[str, Any]] = {}
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
        self.state.extend({} for _ in params)
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
            if (
                self._flat
                and len(active) == len(params)
                and self._step_group_flat(gi, group, index)
            ):
                continue
            self._step_group(group, index, [params[j] for j in active])
        return loss

    # ------------------------------------------------------------------ flat buffers
    def flatten(self) -> Optimizer:
        """Keep each group's parameters (and their optimizer state) in one contiguous buffer.

        Every `p.data` becomes a view into its group's buffer, so a step is a handful of NumPy calls
        on one array whatever the number of tensors. The trajectory is the same as without it.
        Steps where some parameter of a group has no gradient fall back to the per-tensor path.
        Returns self, so `opt = Adam(params).flatten()` works.
        """
        self._flat = True
        return self

    def _flat_params(self, gi: int, params: list[Tensor]) -> dict[str, Any] | None:
        """The group's flat parameter buffer, (re)built when a parameter's data was replaced."""
        cache = self._flat_cache.get(gi)
        if cache is not None and all(
            p.data.base is cache["buf"] or p.data is cache["buf"] for p in params
        ):
            return cache
        dtypes = {p.data.dtype for p in params}
        if len(dtypes) != 1:
            return None  # mixed dtypes: stay per tensor
        buf = np.concatenate([p.data.reshape(-1) for p in params])
        offsets = np.cumsum([0] + [p.data.size for p in params]).tolist()
        for p, a, b in zip(params, offsets[:-1], offsets[1:]):
            p.data = buf[a:b].reshape(p.data.shape)
        cache = {"buf": buf, "offsets": offsets, "shapes": [p.data.shape for p in params],
                 "grad": np.empty_like(buf), "state": None}  # fmt: skip
        self._flat_cache[gi] = cache
        return cache

    def _step_group_flat(self, gi: int, group: Mapping[str, Any], index: list[int]) -> bool:
        params = group["params"]
        cache = self._flat_params(gi, params)
        if cache is None:
            return False
        buf, offsets = cache["buf"], cache["offsets"]
        tx = self._transform(group)
        states = [self.state[i] for i in index]
        if not any(states):  # first step: create the state on the flat buffer, views per tensor
            cache["state"] = tx.init([buf])
            self._bind_flat_state(cache, index)
        elif not all(states):
            return False
        elif cache["state"] is None or not self._flat_state_valid(cache, index):
            flat_state = {}
            for k, v in states[0].items():
                values = [s.get(k) for s in states]
                if isinstance(v, np.ndarray):
                    flat_state[k] = [np.concatenate([x.reshape(-1) for x in values])]
                elif all(x is None for x in values):
                    flat_state[k] = [None]
                elif all(x == v for x in values):  # shared scalars (step counts)
                    flat_state[k] = [v]
                else:
                    return False  # tensors that skipped steps differ: stay per tensor
            cache["state"] = flat_state
            self._bind_flat_state(cache, index)
        grad = cache["grad"]
        for p, a, b in zip(params, offsets[:-1], offsets[1:]):
            if p.grad.size != b - a:
                raise ValueError(
                    f"a parameter has {b - a} elements but its gradient has {p.grad.size}"
                )
            np.copyto(grad[a:b], p.grad.reshape(-1), casting="same_kind")
        updates, flat_state = _update(tx, [grad], cache["state"], [buf], group)
        buf += updates[0]
        cache["state"] = flat_state
        self._bind_flat_state(cache, index)
        return True

    def _bind_flat_state(self, cache: dict[str, Any], index: list[int]) -> None:
        """Point each tensor's state entries at slices of the flat state (views, no copies)."""
        offsets, shapes = cache["offsets"], cache["shapes"]
        for j, i in enumerate(index):
            a, b = offsets[j], offsets[j + 1]
            entry = self.state[i] if self.state[i] else {}
            for k, v in cache["state"].items():
                x = v[0]
                entry[k] = x[a:b].reshape(shapes[j]) if isinstance(x, np.ndarray) else x
            self.state[i] = entry

    def _flat_state_valid(self, cache: dict[str, Any], index: list[int]) -> bool:
        for i in index:
            for k, v in cache["state"].items():
                x, mine = v[0], self.state[i].get(k)
                if isinstance(x, np.ndarray):
                    if not isinstance(mine, np.ndarray) or mine.base is not x:
                        return False
                elif mine != x:
                    return False
        return True

    def _step_group(self, group: Mapping[str, Any], index: list[int], params: list[Tensor]) -> None:
        tx = self._transform(group)
        for i, p in zip(index, params):
            if not self.state[i]:  # first step of this parameter: create its state lazily
                self.state[i] = {k: v[0] for k, v in tx.init([p.data]).items()}
        keys = self.state[index[0]].keys()
        state = {k: [self.state[i][k] for i in index] for k in keys}
        datas = [p.data for p in params]
        updates = [self._grad_copy(i, p) for i, p in zip(index, params)]
        updates, state = _update(tx, updates, state, datas, group)
        for d, u in zip(datas, updates):
            d += u
        for k, values in state.items():
            for i, v in zip(index, values):
                self.state[i][k] = v

    def _grad_copy(self, i: int, p: Tensor) -> np.ndarray:
        """Copy p.grad into a scratch array the transforms may overwrite (p.grad stays as it was)."""
        buf = self._scratch[i]
        if buf is None or buf.shape != p.data.shape or buf.dtype != p.data.dtype:
            buf = self._scratch[i] = np.empty_like(p.data)
        if p.grad.shape != buf.shape:
            raise ValueError(
                f"parameter {i} has shape {buf.shape} but its gradient has shape {p.grad.shape}"
            )
        np.copyto(buf, p.grad, casting="same_kind")
        return buf

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        """{'state': [per-parameter dict], 'param_groups': [hyperparameters + 'params': indices]}.

        Arrays are copies; everything else is a JSON-able number, list, dict or None.
        """
        state = [{k: _copy_value(v) for k, v in s.items()} for s in self.state]
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
            saved_state = [
                saved_state.get(i, saved_state.get(str(i), {})) for i in range(len(self.state))
            ]
        if len(saved_state) != len(self.state):
            raise ValueError(
                f"state_dict holds state for {len(saved_state)} parameters, expected {len(self.state)}"
            )
        params = [p for g in self.param_groups for p in g["params"]]
        new_state = []
        for i, (entry, p) in enumerate(zip(saved_state, params)):
            restored = {}
            if not isinstance(entry or {}, Mapping):
                raise ValueError(f"state entry {i} must be a dict, got {type(entry).__name__}")
            for k, v in (entry or {}).items():
                if isinstance(v, np.ndarray) and v.shape == p.data.shape:
                    v = v.astype(p.data.dtype, copy=True)  # as PyTorch: state follows the param
                restored[k] = _copy_value(v) if not isinstance(v, np.ndarray) else np.array(v)
            new_state.append(restored)
        for saved, mine in zip(groups, self.param_groups):
            for k, v in saved.items():
                if k != "params":
                    mine[k] = tuple(v) if k in _TUPLE_KEYS else v
        self.state = new_state

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
_pool: ThreadPoolExecutor | None = None


def set_num_threads(n: int) -> None:
    """Threads used for large optimizer steps (default: the CPU count, at most 8; 1 disables)."""
    global _num_threads, _pool
    if int(n) < 1:
        raise ValueError(f"invalid number of threads: {n!r}; must be >= 1")
    _num_threads = int(n)
    if _pool is not None:
        _pool.shutdown(wait=False)
        _pool = None


def get_num_threads() -> int:
    """Threads used for large optimizer steps."""
    return _num_threads


def _forget_pool() -> None:
    # A forked child (a process-pool worker) inherits the pool object but not its threads.
    global _pool
    _pool = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def _executor() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=_num_threads, thread_name_prefix="descentlab-optim")
    return _pool


def _update(tx: GradientTransformation, updates: list[np.ndarray], state: dict[str, list[Any]],
            params: list[np.ndarray], hyper: Mapping[str, Any]
            ) -> tuple[list[np.ndarray], dict[str, list[Any]]]:  # fmt: skip
    """tx.update, fed in cache-sized chunks when that cannot change the result.

    An elementwise transformation sees each large array as several smaller "tensors" (views), so
    each of the ~15 NumPy passes of an Adam step re-reads its data from cache rather than from
    memory. Scalars (step counts) are repeated per chunk and advance alike; the results land in the
    original arrays, so callers see exactly what an unchunked update would give. Runs of chunks go
    to `get_num_threads()` threads (bit-identical: each chunk is computed the same way alone).
    """
    arrays = [
        *updates,
        *params,
        *(x for v in state.values() for x in v if isinstance(x, np.ndarray)),
    ]
    if (
        not tx.elementwise
        or all(u.size <= 2 * _CHUNK for u in updates)
        or any(x is None for v in state.values() for x in v)
        or not all(a.flags.c_contiguous for a in arrays)
    ):
        return tx.update(updates, state, params, hyper)
    cuts = [[slice(a, min(a + _CHUNK, u.size)) for a in range(0, u.size, _CHUNK)] for u in updates]

    def split(values: list[Any]) -> list[Any]:
        out = []
        for v, cs in zip(values, cuts):
            flat = v.reshape(-1) if isinstance(v, np.ndarray) else None
            out.extend(flat[c] if flat is not None else v for c in cs)
        return out

    u_parts = split(updates)
    s_parts = {k: split(v) for k, v in state.items()}
    kept = {k: list(v) for k, v in s_parts.items()}
    p_parts = split(params)
    workers = min(_num_threads, len(u_parts) // 2)
    if workers > 1:
        # Chunks are independent, and NumPy releases the GIL inside each large ufunc: hand
        # contiguous runs of chunks to threads. Each chunk is computed exactly as it would be alone.
        bounds = np.linspace(0, len(u_parts), workers + 1).astype(int).tolist()
        runs = [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:])]
        results = list(_executor().map(
            lambda r: tx.update(u_parts[r], {k: v[r] for k, v in s_parts.items()}, p_parts[r], hyper),
            runs,
        ))  # fmt: skip
        new_u = [u for part, _ in results for u in part]
        new_s = {k: [x for _, part in results for x in part[k]] for k in results[0][1]}
    else:
        new_u, new_s = tx.update(list(u_parts), s_parts, p_parts, hyper)
    for view, result in zip(u_parts, new_u):
        if result is not view:
            np.copyto(view, result)
    first = np.cumsum([0] + [len(cs) for cs in cuts[:-1]]).tolist()
    for k, values in new_s.items():
        if k not in kept:
            raise RuntimeError(f"transformation added state {k!r} during update")
        for view, result in zip(kept[k], values):
            if isinstance(view, np.ndarray) and result is not view:
                np.copyto(view, result)
        state[k] = [values[j] if not isinstance(state[k][e], np.ndarray) else state[k][e]
                    for e, j in enumerate(first)]  # fmt: skip
    return updates, state


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
