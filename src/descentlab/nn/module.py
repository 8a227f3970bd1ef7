"""Module and Parameter: the containers every layer is built from (PyTorch semantics).

Assigning a `Parameter`, a `Module` or a registered buffer to an attribute registers it, so
`named_parameters()` yields PyTorch-style dotted names ("0.weight", "encoder.fc1.bias") and a
`state_dict()` can be exchanged with PyTorch.

Example:
    >>> from descentlab.nn import Linear
    >>> class Net(Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.fc = Linear(4, 2)
    ...     def forward(self, x):
    ...         return self.fc(x)
    >>> [name for name, _ in Net().named_parameters()]
    ['fc.weight', 'fc.bias']
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, NamedTuple

import numpy as np

from descentlab._memory import copy_aligned
from descentlab.device import cpu_only_error, parse_to
from descentlab.tensor import Tensor, _to_array, _torch_to_numpy

__all__ = ["Parameter", "Module", "Sequential", "ModuleList", "ModuleDict", "IncompatibleKeys"]


class Parameter(Tensor):
    """A tensor that is a learnable weight of a module (requires_grad=True by default)."""

    def __init__(self, data: Any, requires_grad: bool = True, dtype: Any = None) -> None:
        arr = _to_array(data, dtype)
        if arr is data:  # the caller's array: a Parameter holds its own copy, on cache lines
            arr = copy_aligned(arr)
        super().__init__(arr, requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class HookHandle:
    """Returned by `register_forward_hook`; `remove()` unregisters the hook."""

    _next_id = 0

    def __init__(self, hooks: OrderedDict[int, Any]) -> None:
        self.hooks, self.id = hooks, HookHandle._next_id
        HookHandle._next_id += 1

    def remove(self) -> None:
        self.hooks.pop(self.id, None)


class IncompatibleKeys(NamedTuple):
    missing_keys: list[str]
    unexpected_keys: list[str]


class Module:
    """Base class of every layer and model: subclass it, assign layers in `__init__`, write `forward`."""

    training: bool

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    # ------------------------------------------------------------ registration
    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise RuntimeError(
                f"{type(self).__name__}: call super().__init__() before assigning attributes"
            )
        if isinstance(value, (Parameter, Module)):
            target = self._parameters if isinstance(value, Parameter) else self._modules
            for store in (self._parameters, self._buffers, self._modules):
                if store is not target:
                    store.pop(name, None)
            self.__dict__.pop(name, None)
            target[name] = value  # replacing keeps its place: parameter order stays stable
        elif name in self._buffers:
            self._buffers[name] = None if value is None else _buffer_array(value)
        elif name in self._parameters or name in self._modules:
            if value is not None:
                kind = "Parameter" if name in self._parameters else "Module"
                raise TypeError(
                    f"cannot assign a {type(value).__name__} to {name!r}: it is registered as a "
                    f"{kind}; assign a {kind} or None"
                )
            (self._parameters if name in self._parameters else self._modules)[name] = None
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str) -> Any:
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            if store in d and name in d[store]:
                return d[store][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        for store in (self._parameters, self._buffers, self._modules):
            if name in store:
                del store[name]
                return
        object.__delattr__(self, name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Add a parameter (or None, a declared-but-absent parameter such as bias=False)."""
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter({name!r}): expected a Parameter or None")
        self.__dict__.pop(name, None)
        self._parameters[name] = param

    def register_buffer(self, name: str, value: Any, persistent: bool = True) -> None:
        """Add a non-learnable array that belongs to the module's state (e.g. running means)."""
        self.__dict__.pop(name, None)
        self._buffers[name] = None if value is None else _buffer_array(value)
        if not persistent:
            self._non_persistent.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        """Register a sub-module under `name`."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module({name!r}): expected a Module, got {type(module).__name__}")
        self.__dict__.pop(name, None)
        self._modules[name] = module

    register_module = add_module

    # ------------------------------------------------------------ traversal
    def named_modules(self, prefix: str = "", memo: set[int] | None = None
                      ) -> Iterator[tuple[str, Module]]:  # fmt: skip
        """(dotted name, module) for this module and every descendant, each once."""
        memo = set() if memo is None else memo
        if id(self) in memo:
            return
        memo.add(id(self))
        yield prefix, self
        for name, child in self._modules.items():
            if child is not None:
                yield from child.named_modules(f"{prefix}.{name}" if prefix else name, memo)

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, Module]]:
        for name, child in self._modules.items():
            if child is not None:
                yield name, child

    def children(self) -> Iterator[Module]:
        for _, child in self.named_children():
            yield child

    def named_parameters(self, prefix: str = "", recurse: bool = True
                         ) -> Iterator[tuple[str, Parameter]]:  # fmt: skip
        """(dotted name, parameter) pairs in registration order; shared parameters appear once."""
        seen: set[int] = set()
        modules = self.named_modules(prefix) if recurse else [(prefix, self)]
        for mod_name, module in modules:
            for name, p in module._parameters.items():
                if p is None or id(p) in seen:
                    continue
                seen.add(id(p))
                yield (f"{mod_name}.{name}" if mod_name else name), p

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True
                      ) -> Iterator[tuple[str, np.ndarray]]:  # fmt: skip
        modules = self.named_modules(prefix) if recurse else [(prefix, self)]
        for mod_name, module in modules:
            for name, b in module._buffers.items():
                if b is not None:
                    yield (f"{mod_name}.{name}" if mod_name else name), b

    def buffers(self, recurse: bool = True) -> Iterator[np.ndarray]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def get_submodule(self, target: str) -> Module:
        """The sub-module at dotted path `target` ("" is self), e.g. "encoder.0" (as PyTorch)."""
        module: Module = self
        for part in target.split(".") if target else []:
            child = module._modules.get(part)
            if child is None:
                raise AttributeError(f"{type(module).__name__} has no sub-module {part!r} "
                                     f"(looking up {target!r})")  # fmt: skip
            module = child
        return module

    def get_parameter(self, target: str) -> Parameter:
        """The parameter at dotted path `target`, e.g. "0.weight"."""
        path, _, name = target.rpartition(".")
        module = self.get_submodule(path)
        if module._parameters.get(name) is None:
            raise AttributeError(f"{type(module).__name__} has no parameter {name!r} ({target!r})")
        return module._parameters[name]

    def get_buffer(self, target: str) -> np.ndarray:
        """The buffer at dotted path `target`, e.g. "1.running_mean"."""
        path, _, name = target.rpartition(".")
        module = self.get_submodule(path)
        if module._buffers.get(name) is None:
            raise AttributeError(f"{type(module).__name__} has no buffer {name!r} ({target!r})")
        return module._buffers[name]

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """Call `fn` on every sub-module (children first) and on self, e.g. to re-initialise."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    # ------------------------------------------------------------ modes and grads
    def train(self, mode: bool = True) -> Module:
        """Training mode (dropout active, batch norm uses batch statistics)."""
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self) -> Module:
        """Evaluation mode: the same as `train(False)`."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Freeze (False) or unfreeze (True) every parameter."""
        for p in self.parameters():
            p.requires_grad = requires_grad
        return self

    def to(self, *args: Any, **kwargs: Any) -> Module:
        """Move to a device and/or cast every floating parameter and buffer to a dtype; returns
        self (in place, as torch).

        Convention: torch.nn.Module.to's overloads, `to(device=None, dtype=None,
        non_blocking=False)`, `to(dtype)` and `to(tensor)` (its dtype). The only device is the
        CPU: "cpu" changes nothing, "cuda"/"mps" raise a RuntimeError. The dtype must be floating
        (e.g. np.float64 for gradient checks); integer buffers such as BatchNorm's
        num_batches_tracked are kept. The Parameter objects stay the same but get new arrays:
        cast before creating an optimizer.

        Example:
            >>> from descentlab import nn
            >>> model = nn.Linear(2, 1)
            >>> model.to("cpu") is model, model.to("cpu", np.float64).weight.dtype
            (True, dtype('float64'))
        """
        _, dtype, copy = parse_to(args, kwargs, "Module.to()")
        if copy:
            raise TypeError("nn.Module.to() does not accept copy argument (it works in place)")
        if dtype is None:
            return self
        if not np.issubdtype(dtype, np.inexact):
            raise TypeError(
                "nn.Module.to only accepts floating point or complex dtypes, but got desired "
                f"dtype={dtype}; cast the inputs instead (x.long()), not the module"
            )
        for p in self.parameters():  # arrays already of that dtype stay as they are (torch)
            p.data = p.data.astype(dtype, copy=False)
            if p.grad is not None:
                p.grad = p.grad.astype(dtype, copy=False)
        for m in self.modules():
            for name, b in m._buffers.items():
                if b is not None and np.issubdtype(b.dtype, np.floating):
                    m._buffers[name] = b.astype(dtype, copy=False)
            if "_dtype" in m.__dict__:  # lazy layers build their parameters in this dtype
                object.__setattr__(m, "_dtype", dtype)
        return self

    def cpu(self) -> Module:
        """Self: descentlab modules always live on the CPU (torch's `Module.cpu()`)."""
        return self

    def cuda(self, device: Any = None) -> Module:
        """Always a RuntimeError: descentlab computes on the CPU only (use `.to("cpu")`)."""
        raise cpu_only_error("cuda")

    def double(self) -> Module:
        """Cast floating parameters and buffers to float64."""
        return self.to(np.float64)

    def float(self) -> Module:
        """Cast floating parameters and buffers to float32."""
        return self.to(np.float32)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the gradients of every parameter (set to None by default, as PyTorch 2)."""
        for p in self.parameters():
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad[...] = 0

    # ------------------------------------------------------------ state
    def state_dict(self, prefix: str = "") -> OrderedDict[str, np.ndarray]:
        """Copies of every parameter and persistent buffer, keyed by dotted name."""
        out: OrderedDict[str, np.ndarray] = OrderedDict()
        for mod_name, module in self.named_modules(prefix):
            dot = f"{mod_name}." if mod_name else ""
            for name, p in module._parameters.items():
                if p is not None:
                    out[dot + name] = p.data.copy()
            for name, b in module._buffers.items():
                if b is not None and name not in module._non_persistent:
                    out[dot + name] = b.copy()
        return out

    def load_state_dict(
        self, state_dict: Mapping[str, Any], strict: bool = True
    ) -> IncompatibleKeys:
        """Copy arrays into parameters and buffers by name (values are cast to each one's dtype).

        With `strict=True` missing or unexpected keys raise; a shape mismatch always raises, naming
        the key and both shapes. Nothing is changed when an error is raised.
        """
        for mod_name, module in self.named_modules():
            # Lazy layers (e.g. Linear(None, 10)) create their parameters from the stored shapes.
            materialize = getattr(module, "_materialize_from_state", None)
            if materialize is not None:
                materialize(state_dict, f"{mod_name}." if mod_name else "")
        targets: dict[str, tuple[Module, str, str]] = {}
        for mod_name, module in self.named_modules():
            dot = f"{mod_name}." if mod_name else ""
            for name, p in module._parameters.items():
                if p is not None:
                    targets[dot + name] = (module, name, "param")
            for name, b in module._buffers.items():
                if b is not None and name not in module._non_persistent:
                    targets[dot + name] = (module, name, "buffer")
        missing = [k for k in targets if k not in state_dict]
        unexpected = [k for k in state_dict if k not in targets]
        errors = []
        if strict and (missing or unexpected):
            if missing:
                errors.append(f"missing keys: {missing}")
            if unexpected:
                errors.append(f"unexpected keys: {unexpected}")
        arrays = {}
        for key, (module, name, kind) in targets.items():
            if key not in state_dict:
                continue
            value = state_dict[key]
            arr = np.asarray(value.data if isinstance(value, Tensor) else _torch_to_numpy(value))
            current = module._parameters[name].data if kind == "param" else module._buffers[name]
            if arr.shape != current.shape:
                errors.append(
                    f"size mismatch for {key}: copying a value of shape {arr.shape}, the shape in "
                    f"the current model is {current.shape}"
                )
            arrays[key] = arr
        if errors:
            raise RuntimeError(
                f"Error(s) in loading state_dict for {type(self).__name__}:\n  "
                + "\n  ".join(errors)
            )
        for key, arr in arrays.items():
            module, name, kind = targets[key]
            if kind == "param":
                p = module._parameters[name]
                p.data[...] = arr.astype(p.data.dtype, copy=False)
            else:
                buf = module._buffers[name]
                buf[...] = arr.astype(buf.dtype, copy=False)
        return IncompatibleKeys(missing, unexpected)

    # ------------------------------------------------------------ calling and printing
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        hooks = self.__dict__.get("_forward_hooks")
        out = self.forward(*args, **kwargs)
        if hooks:
            for hook in list(hooks.values()):
                result = hook(self, args, out)
                if result is not None:
                    out = result
        return out

    def register_forward_hook(self, hook: Callable[[Module, tuple, Any], Any]) -> HookHandle:
        """Call `hook(module, inputs, output)` after every forward; a non-None return replaces the
        output. Returns a handle whose `remove()` unregisters it (used by `nn.summary`)."""
        hooks = self.__dict__.setdefault("_forward_hooks", OrderedDict())
        handle = HookHandle(hooks)
        hooks[handle.id] = hook
        return handle

    def extra_repr(self) -> str:
        """The arguments shown inside the module's repr, e.g. 'in_features=4, out_features=2'."""
        return ""

    def __repr__(self) -> str:
        children = [f"({name}): " + _indent(repr(m)) for name, m in self._modules.items()]
        extra = self.extra_repr()
        if not children:
            return f"{type(self).__name__}({extra})"
        lines = ([extra] if extra else []) + children
        return f"{type(self).__name__}(\n  " + "\n  ".join(lines) + "\n)"

    def __dir__(self) -> list[str]:
        keys = list(super().__dir__())
        return keys + list(self._parameters) + list(self._buffers) + list(self._modules)


def _indent(text: str) -> str:
    return text.replace("\n", "\n  ")


def _buffer_array(value: Any) -> np.ndarray:
    if isinstance(value, Tensor):
        return value.data
    return np.asarray(value)


class Sequential(Module):
    """Modules applied one after another; children are named "0", "1", ... (or by an OrderedDict).

    Example:
        >>> from descentlab.nn import Linear, ReLU
        >>> model = Sequential(Linear(784, 128), ReLU(), Linear(128, 10))
        >>> model(descentlab.randn(32, 784)).shape
        (32, 10)
    """

    def __init__(self, *modules: Module | Mapping[str, Module]) -> None:
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], Mapping):
            for name, m in modules[0].items():
                self.add_module(name, m)
        else:
            for i, m in enumerate(modules):
                if not isinstance(m, Module):
                    raise TypeError(
                        f"Sequential: argument {i} is a {type(m).__name__}, not a Module"
                    )
                self.add_module(str(i), m)

    def forward(self, input: Any) -> Any:
        modules = list(self._modules.values())
        i = 0
        while i < len(modules):
            m = modules[i]
            if i + 1 < len(modules) and _relu_then_max_pool(m, modules[i + 1]):
                # Swapped for speed, same values and gradients: max-pool then ReLU == ReLU then
                # max-pool (ReLU is monotone, and a window's gradient is zero either way when its
                # max is <= 0), and the ReLU then runs on a pooled tensor, 4x smaller for 2x2.
                input = m(modules[i + 1](input))
                i += 2
            else:
                input = m(input)
                i += 1
        return input

    def append(self, module: Module) -> Sequential:
        self.add_module(str(len(self._modules)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> Sequential:
        for m in modules:
            self.append(m)
        return self

    def insert(self, index: int, module: Module) -> Sequential:
        """Insert `module` before `index`; the modules are renumbered "0", "1", ... (as PyTorch)."""
        items = list(self._modules.values())
        items.insert(index, module)
        self._modules.clear()
        return self.extend(items)

    def pop(self, index: int = -1) -> Module:
        """Remove the module at `index` and return it."""
        module = self[index]
        del self[index]
        return module

    def __getitem__(self, idx: int | slice) -> Any:
        items = list(self._modules.values())
        if isinstance(idx, slice):
            return Sequential(OrderedDict(list(self._modules.items())[idx]))
        return items[idx]

    def __setitem__(self, idx: int, module: Module) -> None:
        self.add_module(list(self._modules)[idx], module)

    def __delitem__(self, idx: int | slice) -> None:
        items = list(self._modules.values())
        del items[idx]
        self._modules.clear()  # renumbered afterwards, as PyTorch 2
        self.extend(items)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())


class ModuleList(Module):
    """A list of sub-modules that registers each one (so their parameters are found)."""

    def __init__(self, modules: Iterable[Module] = ()) -> None:
        super().__init__()
        for m in modules:
            self.append(m)

    def append(self, module: Module) -> ModuleList:
        self.add_module(str(len(self._modules)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        for m in modules:
            self.append(m)
        return self

    def insert(self, index: int, module: Module) -> None:
        """Insert `module` before `index`; later modules are renumbered (as PyTorch)."""
        items = list(self._modules.values())
        items.insert(index, module)
        self._renumber(items)

    def _renumber(self, items: list[Module]) -> None:
        self._modules.clear()
        for m in items:
            self.append(m)

    def _key(self, idx: int) -> str:
        return str(range(len(self._modules))[idx])  # negative indices; IndexError when outside

    def __getitem__(self, idx: int | slice) -> Any:
        if isinstance(idx, slice):
            return ModuleList(list(self._modules.values())[idx])
        return self._modules[self._key(idx)]

    def __setitem__(self, idx: int, module: Module) -> None:
        self.add_module(self._key(idx), module)

    def __delitem__(self, idx: int | slice) -> None:
        items = list(self._modules.values())
        del items[idx]
        self._renumber(items)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())


class ModuleDict(Module):
    """A dict of sub-modules that registers each one under its key."""

    def __init__(self, modules: Mapping[str, Module] | None = None) -> None:
        super().__init__()
        for k, m in (modules or {}).items():
            self.add_module(k, m)

    def __getitem__(self, key: str) -> Module:
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(key, module)

    def __delitem__(self, key: str) -> None:
        del self._modules[key]

    def update(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]]) -> None:
        """Add or replace modules from a mapping or from (key, module) pairs."""
        pairs = modules.items() if isinstance(modules, Mapping) else modules
        for k, m in pairs:
            self.add_module(k, m)

    def pop(self, key: str) -> Module:
        """Remove `key` and return its module."""
        return self._modules.pop(key)

    def clear(self) -> None:
        """Remove every module."""
        self._modules.clear()

    def __contains__(self, key: str) -> bool:
        return key in self._modules

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def keys(self) -> Iterable[str]:
        return self._modules.keys()

    def values(self) -> Iterable[Module]:
        return self._modules.values()

    def items(self) -> Iterable[tuple[str, Module]]:
        return self._modules.items()


def _relu_then_max_pool(first: Module, second: Module) -> bool:
    """Whether `first` is a plain ReLU and `second` a max-pool that returns no indices (indices of
    all-negative windows would differ), neither with forward hooks (they would see other tensors)."""
    if type(first).__name__ != "ReLU":  # the usual answer, before any import (runs every forward)
        return False
    from descentlab.nn.activation import ReLU
    from descentlab.nn.pooling import MaxPool1d, MaxPool2d

    return (
        type(first) is ReLU
        and type(second) in (MaxPool1d, MaxPool2d)
        and not second.return_indices
        and not first.__dict__.get("_forward_hooks")
        and not second.__dict__.get("_forward_hooks")
    )
