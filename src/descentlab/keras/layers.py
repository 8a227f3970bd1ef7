"""Keras-named layers: `Dense`, `Dropout`, `Flatten`, `Activation`, `BatchNormalization`,
`LayerNormalization` and `Input`, with Keras' argument names, defaults, weight layout and names.

They are ordinary descentlab Modules (use them in any model), built lazily from the first input
like Keras layers. Weights follow Keras: `Dense.kernel` is (in, units) and starts Glorot-uniform
with zero bias (PyTorch's `Linear.weight` is (out, in) with a different default init);
normalization layers hold `gamma`, `beta`, `moving_mean`, `moving_variance` and normalise the last
axis (channels last), with Keras' momentum convention moving = momentum * moving + (1 - momentum)
* batch statistic, and epsilon 1e-3.

Each layer has Keras' `get_config()` (its constructor arguments under Keras 3's names, JSON-able,
with `name` and `trainable`) and `from_config(config)`; `serialize(layer)` / `deserialize(d)` add
the class name (what `model.save` writes). Activations, initializers and regularizers are saved
by their Keras names: one given as a Python function cannot be saved.

Example:
    >>> from descentlab.keras import layers
    >>> dense = layers.Dense(3, activation="relu")
    >>> dense(dl.randn(2, 5)).shape, dense.kernel.shape
    ((2, 3), (5, 3))
"""

from __future__ import annotations

import difflib
import itertools
import math
import re
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from descentlab.keras import regularizers
from descentlab.nn import activations, init
from descentlab.nn.dropout import Dropout as _TorchDropout
from descentlab.nn.module import Module, Parameter
from descentlab.ops.conv import conv2d
from descentlab.ops.normalization import layer_norm, normalize
from descentlab.ops.pool import avg_pool2d, max_pool2d
from descentlab.ops.shape import pad
from descentlab.tensor import Tensor

__all__ = [
    "Layer",
    "Variable",
    "auto_name",
    "variance_scaling",
    "Input",
    "InputSpec",
    "Dense",
    "Dropout",
    "Flatten",
    "Activation",
    "BatchNormalization",
    "LayerNormalization",
    "Conv2D",
    "MaxPooling2D",
    "AveragePooling2D",
    "GlobalAveragePooling2D",
    "GlobalMaxPooling2D",
    "serialize",
    "deserialize",
]


def variance_scaling(tensor: Any, scale: float, mode: str, distribution: str) -> Any:
    """Keras' VarianceScaling, in place, for a kernel laid out as Keras does: (in, out) for Dense,
    (kh, kw, in, out) for Conv2D. n is fan_in = receptive field * in, fan_out = receptive field *
    out, or their mean (fan_avg); 'uniform' draws U(-sqrt(3 scale / n), +), 'truncated_normal' a
    normal cut at two standard deviations with std sqrt(scale / n) / 0.8796 (so that the cut
    distribution has variance scale / n)."""
    shape = tensor.shape
    if len(shape) < 2:
        fan_in = fan_out = int(shape[0]) if shape else 1
    else:
        receptive = int(np.prod(shape[:-2]))
        fan_in, fan_out = receptive * int(shape[-2]), receptive * int(shape[-1])
    n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]
    if distribution == "uniform":
        limit = math.sqrt(3.0 * scale / n)
        return init.uniform_(tensor, -limit, limit)
    std = math.sqrt(scale / n) / 0.87962566103423978
    return init.trunc_normal_(tensor, std=std, a=-2 * std, b=2 * std)


_INITIALIZERS: dict[str, Callable[[Any], Any]] = {
    "glorot_uniform": lambda p: variance_scaling(p, 1.0, "fan_avg", "uniform"),
    "glorot_normal": lambda p: variance_scaling(p, 1.0, "fan_avg", "truncated_normal"),
    "he_uniform": lambda p: variance_scaling(p, 2.0, "fan_in", "uniform"),
    "he_normal": lambda p: variance_scaling(p, 2.0, "fan_in", "truncated_normal"),
    "lecun_uniform": lambda p: variance_scaling(p, 1.0, "fan_in", "uniform"),
    "lecun_normal": lambda p: variance_scaling(p, 1.0, "fan_in", "truncated_normal"),
    "random_normal": lambda p: init.normal_(p, 0.0, 0.05),
    "random_uniform": lambda p: init.uniform_(p, -0.05, 0.05),
    "orthogonal": init.orthogonal_,
    "zeros": init.zeros_,
    "ones": init.ones_,
}


def _initializer(name: Any, what: str) -> Callable[[Any], Any]:
    """An initializer by Keras name, or a callable that fills a Parameter in place."""
    if callable(name):
        return name
    key = str(name).lower()
    if key not in _INITIALIZERS:
        close = difflib.get_close_matches(key, _INITIALIZERS, n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(map(repr, close))}? " if close else ""
        raise ValueError(
            f"{what}: unknown initializer {name!r}; {hint}known: {', '.join(sorted(_INITIALIZERS))}"
        )
    return _INITIALIZERS[key]


# Keras' own defaults where they differ from PyTorch's (activations.get gives PyTorch's).
_KERAS_ACTIVATION_ARGS: dict[str, dict[str, Any]] = {
    "softmax": {"dim": -1}, "log_softmax": {"dim": -1}, "leaky_relu": {"negative_slope": 0.2},
    "gelu": {"approximate": "tanh"},
}  # fmt: skip


def _initializer_name(fill: Callable[[Any], Any], who: str) -> str:
    """The Keras name of an initializer `_initializer` returned (a name, or nn.init's function)."""
    name = next((k for k, f in _INITIALIZERS.items() if f is fill), None)
    if name is None:
        raise ValueError(
            f"{who}: the initializer {fill!r} is a Python function, which cannot be saved; pass "
            f"it by its Keras name ({', '.join(sorted(_INITIALIZERS))}), or save the weights "
            "alone with model.save_weights(path)"
        )
    return name


def _activation_name(identifier: Any, who: str) -> str:
    """The Keras name of an activation given by name (None is 'linear', as Keras writes it)."""
    if identifier is None:
        return "linear"
    if not isinstance(identifier, str):
        raise ValueError(
            f"{who}: the activation {identifier!r} is a Python object, which cannot be saved; "
            "pass it by its Keras name (activation='relu'), or save the weights alone with "
            "model.save_weights(path)"
        )
    return identifier


def _activation_module(identifier: Any) -> Module:
    """An activation by Keras name with Keras' defaults (softmax over the last axis, leaky_relu
    slope 0.2, gelu's tanh approximation); a Module or callable passes through, None is linear."""
    if isinstance(identifier, str):
        key = identifier.strip().lower()
        return activations.get(key, **_KERAS_ACTIVATION_ARGS.get(key, {}))
    return activations.get(identifier)


_NAME_COUNTS: defaultdict[str, itertools.count] = defaultdict(itertools.count)


def auto_name(cls_name: str) -> str:
    """Keras' default object name: the class name in snake case, made unique in this process
    ('dense', 'dense_1', ...; 'BatchNormalization' -> 'batch_normalization')."""
    name = re.sub(r"\W+", "", cls_name)
    name = re.sub("([a-z])([A-Z])", r"\1_\2", re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)).lower()
    uid = next(_NAME_COUNTS[name])
    return name if uid == 0 else f"{name}_{uid}"


def count_weights(module: Module) -> tuple[int, int]:
    """(trainable, non-trainable) sizes of a layer's or model's weights, as Keras counts them:
    frozen parameters and state such as BatchNormalization's moving statistics are
    non-trainable."""
    trainable = sum(p.size for p in module.parameters() if p.requires_grad)
    frozen = sum(p.size for p in module.parameters() if not p.requires_grad)
    buffers = sum(np.size(b) for _, b in module.named_buffers() if b is not None)
    return trainable, frozen + buffers


# The Keras objects being called or built, outermost first: a weight created meanwhile records
# their names as its Keras path ('sequential/dense/kernel'), as Keras' name scopes do. One stack
# per thread: models called from two threads must not see each other's scopes.
_scopes = threading.local()


def _scope() -> list[Module]:
    stack = getattr(_scopes, "stack", None)
    if stack is None:
        stack = _scopes.stack = []
    return stack


@contextmanager
def name_scope(module: Module) -> Iterator[None]:
    """Calls and builds inside this block create weights under `module.name` (Keras' scope)."""
    stack = _scope()
    stack.append(module)
    try:
        yield
    finally:
        stack.pop()


def _record_path(module: Module, attr: str) -> None:
    """Remember where a weight was created, as Keras' variable path: the enclosing scopes'
    names, the layer's own name, the weight's name."""
    stack = _scope()
    names = [getattr(m, "name", None) or type(m).__name__.lower() for m in stack]
    if not stack or stack[-1] is not module:
        names.append(module.name)
    module.__dict__.setdefault("_weight_paths", {})[attr] = "/".join([*names, attr])


def adopt_weights(layer: Module, owner: Module) -> None:
    """Give a layer built on its own (Keras 2's `input_shape=` on a Sequential's first layer) the
    paths Keras gives it, where the model builds it: 'sequential/dense/kernel'."""
    with name_scope(owner):
        for attr in list(layer.__dict__.get("_weight_paths", {})):
            _record_path(layer, attr)
    layer.__dict__.pop("_variables", None)


class Variable:
    """One weight as Keras shows it (`model.weights[i]`): a live view of a descentlab parameter
    or buffer with Keras' `name`, `path`, `shape`, `dtype`, `trainable`, `numpy()` and `assign`.

    Convention: Keras 3's `keras.Variable`: `name` is the weight's own name ('kernel'), `path`
    the scopes it was created in ('sequential/dense/kernel'); `trainable` is False for state
    (BatchNormalization's moving statistics) and for a frozen layer's weights. `assign` writes
    in place into the array the layer computes with; `numpy()` returns a copy.

    Example:
        >>> dense = Dense(2, input_dim=3, name="out")
        >>> kernel = dense.weights[0]
        >>> kernel.name, kernel.path, kernel.shape, kernel.trainable
        ('kernel', 'out/kernel', (3, 2), True)
        >>> _ = kernel.assign(np.ones((3, 2)))
        >>> float(dense.kernel.data.sum())
        6.0
    """

    def __init__(self, module: Module, attr: str, path: str) -> None:
        self._module, self.name, self.path = module, attr, path

    @property
    def value(self) -> np.ndarray:
        """The live array (writing into it changes the weight)."""
        param = self._module._parameters.get(self.name)
        return param.data if param is not None else self._module._buffers[self.name]

    @property
    def trainable(self) -> bool:
        """True for a parameter that training updates (False for state, or when frozen)."""
        param = self._module._parameters.get(self.name)
        return param is not None and bool(param.requires_grad)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.value.shape)

    @property
    def ndim(self) -> int:
        return self.value.ndim

    @property
    def dtype(self) -> str:
        """The dtype's name, 'float32', as Keras."""
        return self.value.dtype.name

    def numpy(self) -> np.ndarray:
        """A copy of the current value."""
        return np.array(self.value)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return np.array(self.value, dtype=dtype)

    def assign(self, value: Any) -> Variable:
        """Write `value` (same shape, cast to the weight's dtype) into the weight, in place."""
        assign_weights([self.value], [value], "assign", [self.path])
        return self

    def assign_add(self, delta: Any) -> Variable:
        """Add `delta` to the weight in place."""
        return self.assign(self.value + np.asarray(delta))

    def assign_sub(self, delta: Any) -> Variable:
        """Subtract `delta` from the weight in place."""
        return self.assign(self.value - np.asarray(delta))

    def __repr__(self) -> str:
        return (f"<Variable path={self.path}, shape={self.shape}, dtype={self.dtype}, "
                f"value={self.value}>")  # fmt: skip


def own_variables(module: Module, scope: Sequence[str] = ()) -> list[Variable]:
    """A module's own weights (not its sub-modules'), in Keras order: parameters, then buffers
    such as BatchNormalization's moving statistics, each in the order it was created. `scope` names
    the enclosing modules for a weight whose creation path was not recorded (a descentlab.nn
    module inside a Keras model)."""
    cache: dict[str, Variable] = module.__dict__.setdefault("_variables", {})
    recorded: dict[str, str] = module.__dict__.get("_weight_paths", {})
    names = [n for n, p in module._parameters.items() if p is not None]
    names += [n for n, b in module._buffers.items() if b is not None]
    out = []
    for attr in names:
        if attr not in cache:
            path = recorded.get(attr) or "/".join([*scope, attr])
            cache[attr] = Variable(module, attr, path)
        out.append(cache[attr])
    return out


def keras_weights(module: Module) -> list[Variable]:
    """Every weight of `module` and its sub-modules in Keras order (each layer's own weights,
    then its sub-layers', depth first; a shared weight once)."""
    out: list[Variable] = []
    seen: set[int] = set()

    def walk(m: Module, scope: list[str]) -> None:
        for v in own_variables(m, scope):
            if id(v.value) not in seen:
                seen.add(id(v.value))
                out.append(v)
        for key, child in m._modules.items():
            if child is not None:
                walk(child, [*scope, getattr(child, "name", None) or key])

    walk(module, [getattr(module, "name", None) or type(module).__name__.lower()])
    return out


class KerasWeights:
    """Keras' weight accessors for a layer or a model: `weights`, `trainable_weights`,
    `non_trainable_weights`, `get_weights`, `set_weights` (one list, in Keras order).

    Convention: Keras 3: a layer's own weights (parameters, then state), then its sub-layers',
    each once; `trainable = False` moves every weight to `non_trainable_weights`.

    Example:
        >>> bn = BatchNormalization(input_shape=(3,))
        >>> [v.name for v in bn.trainable_weights], [v.name for v in bn.non_trainable_weights]
        (['gamma', 'beta'], ['moving_mean', 'moving_variance'])
        >>> bn.trainable = False
        >>> len(bn.trainable_weights), len(bn.non_trainable_weights)
        (0, 4)
    """

    @property
    def weights(self) -> list[Variable]:
        """Every weight, trainable and not, in Keras order (Dense: kernel, bias;
        BatchNormalization: gamma, beta, moving_mean, moving_variance), as `Variable`s."""
        return keras_weights(self)  # type: ignore[arg-type]

    @property
    def trainable_weights(self) -> list[Variable]:
        """The weights training updates: none when frozen (`trainable = False`), as Keras."""
        if not self.trainable:  # type: ignore[attr-defined]
            return []
        return [v for v in self.weights if v.trainable]

    @property
    def non_trainable_weights(self) -> list[Variable]:
        """State (moving statistics) and frozen weights: all of them when frozen, as Keras."""
        if not self.trainable:  # type: ignore[attr-defined]
            return self.weights
        return [v for v in self.weights if not v.trainable]

    def get_weights(self) -> list[np.ndarray]:
        """Copies of every weight in Keras order (e.g. kernel, bias; gamma, beta, moving_mean,
        moving_variance), so `ours.set_weights(keras_model.get_weights())` works."""
        return [v.numpy() for v in self.weights]

    def set_weights(self, weights: Sequence[Any]) -> None:
        """Load arrays given in `get_weights()` order; counts and shapes must match."""
        variables = self.weights
        assign_weights([v.value for v in variables], weights, self._who("set_weights"),
                       [v.path for v in variables])  # fmt: skip

    def _who(self, method: str) -> str:
        return method


class InputSpec:
    """What `Input(shape=...)` returns: the per-sample shape that builds a `Sequential` at once."""

    def __init__(self, shape: Sequence[int], dtype: Any = np.float32) -> None:
        self.shape = tuple(int(s) for s in shape)
        self.dtype = np.dtype(dtype)

    def __repr__(self) -> str:
        return f"Input(shape={self.shape})"


def Input(shape: Sequence[int], dtype: Any = "float32", name: str | None = None) -> InputSpec:  # noqa: N802
    """Keras' `keras.Input(shape=(features,))`: the input shape without the batch dimension."""
    if isinstance(shape, int):
        shape = (shape,)
    return InputSpec(shape, dtype)


class Serializable:
    """Keras' config protocol: `get_config()` returns the constructor arguments (JSON-able, under
    Keras 3's names, with `name` and `trainable`), `from_config(config)` is `cls(**config)`.

    Example:
        >>> Dense.from_config(Dense(3, activation="relu", name="out").get_config()).name
        'out'
    """

    name: str
    trainable: bool

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "trainable": bool(self.trainable)}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Any:
        return cls(**config)

    def _label(self) -> str:
        return f"{type(self).__name__} {self.name!r}"


def call_in_mode(module: Module, call: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
    """Keras' `training=` call argument: `layer(x, training=False)` runs in inference mode
    (dropout off, BatchNormalization on its moving statistics), `training=True` in training
    mode, each module's own mode restored afterwards; None (the default) keeps the current one.

    Example:
        >>> drop = Dropout(0.5)
        >>> float(drop(dl.ones(4), training=False).sum())  # inference: identity
        4.0
    """
    training = kwargs.pop("training", None)
    if kwargs.get("mask", 0) is None:  # Keras passes mask=None to every layer: nothing to mask
        kwargs.pop("mask")
    if training is None:
        return call(*args, **kwargs)
    modes = [(m, m.training) for m in module.modules()]
    module.train(bool(training))
    try:
        return call(*args, **kwargs)
    finally:
        for m, mode in modes:
            m.training = mode


class Layer(Serializable, KerasWeights, Module):
    """A Module with Keras' extras: `input_shape=` (Keras 2 habit) builds it at once in a
    Sequential; `kernel_regularizer`/`bias_regularizer` penalties are collected in `losses`;
    `weights`, `trainable_weights`, `non_trainable_weights` list Keras `Variable`s; `trainable=False`
    creates it frozen; `get_config()` / `from_config()` as Keras."""

    def __init__(self, input_shape: Sequence[int] | None = None, input_dim: int | None = None,
                 name: str | None = None, trainable: bool = True) -> None:  # fmt: skip
        super().__init__()
        if input_dim is not None:
            input_shape = (input_dim,)
        self.input_shape = None if input_shape is None else tuple(input_shape)
        self.name = name or auto_name(type(self).__name__)
        self._regularizers: list[tuple[str, Callable[[Tensor], Tensor]]] = []
        self._trainable = bool(trainable)

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, Parameter):
            if not self.__dict__.get("_trainable", True):
                value.requires_grad = False  # a frozen layer's weights, created after the freeze
            _record_path(self, name)
        super().__setattr__(name, value)

    def register_buffer(self, name: str, value: Any, persistent: bool = True) -> None:
        if value is not None:
            _record_path(self, name)
        super().register_buffer(name, value, persistent)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        stack = _scope()
        stack.append(self)  # Keras' name scope (weights built now get 'layer/kernel' paths)
        try:  # (append/pop rather than `with name_scope`: this runs on every call)
            return call_in_mode(self, super().__call__, args, kwargs)
        finally:
            stack.pop()

    @property
    def trainable(self) -> bool:
        """Keras' freeze switch: `layer.trainable = False` keeps the weights out of training
        (no gradients, no updates; a frozen BatchNormalization also uses its moving statistics,
        as Keras). Takes effect at once (Keras asks for a new compile())."""
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self._trainable = bool(value)
        for m in self.modules():
            if isinstance(m, Layer):
                m.__dict__["_trainable"] = self._trainable
            for p in m.parameters(recurse=False):
                p.requires_grad = self._trainable

    def count_params(self) -> int:
        """The number of weights (Keras: parameters plus state such as moving statistics)."""
        return sum(count_weights(self))

    @property
    def losses(self) -> list[Tensor]:
        """The regularization penalties of this layer's weights, as differentiable tensors."""
        out = []
        for attr, reg in self._regularizers:
            weight = getattr(self, attr, None)
            if weight is not None:
                out.append(reg(weight))
        return out

    def _who(self, method: str) -> str:
        return f"{type(self).__name__}.{method}"


def assign_weights(targets: Sequence[np.ndarray], weights: Sequence[Any], who: str,
                   names: Sequence[str] | None = None) -> None:  # fmt: skip
    """Copy `weights` into the `targets` arrays in place (cast to their dtypes); the counts and
    each shape must match. `names` (Keras paths) label the weights in the errors."""
    if len(weights) != len(targets):
        raise ValueError(f"{who}: there are {len(targets)} weights, got {len(weights)} array(s)")
    checked = []
    for i, (dst, src) in enumerate(zip(targets, weights)):
        src = np.asarray(src)
        if src.shape != dst.shape:
            label = f"weight {i}" + (f" ({names[i]})" if names else "")
            raise ValueError(
                f"{who}: {label} has shape {dst.shape}, got an array of shape {src.shape}"
            )
        checked.append(src)
    for dst, src in zip(targets, checked):  # all shapes checked first: nothing half-written
        dst[...] = src


class _KernelLayer(Layer):
    """A layer with a `kernel` and an optional `bias` (Dense, Conv2D): activation, initializers
    and regularizers by Keras name, weights created by `build` from the first input."""

    def _setup(self, what: str, activation: Any, use_bias: bool, kernel_initializer: Any,
               bias_initializer: Any, kernel_regularizer: Any, bias_regularizer: Any,
               dtype: Any) -> None:  # fmt: skip
        self.use_bias, self._dtype = use_bias, np.dtype(dtype)
        self._activation_arg = activation
        self.activation = _activation_module(activation)
        self._kernel_init = _initializer(kernel_initializer, f"{what} kernel_initializer")
        self._bias_init = _initializer(bias_initializer, f"{what} bias_initializer")
        self.register_parameter("kernel", None)
        self.register_parameter("bias", None)
        for attr, reg in (("kernel", kernel_regularizer), ("bias", bias_regularizer)):
            if reg is not None:
                self._regularizers.append((attr, regularizers.get(reg)))  # a config dict too

    def _kernel_config(self) -> dict[str, Any]:
        """The config entries Dense and Conv2D share (activation ... dtype), Keras' names."""
        who, regs = self._label(), dict(self._regularizers)
        return {
            "activation": _activation_name(self._activation_arg, who),
            "use_bias": self.use_bias,
            "kernel_initializer": _initializer_name(self._kernel_init, f"{who} kernel_initializer"),
            "bias_initializer": _initializer_name(self._bias_init, f"{who} bias_initializer"),
            "kernel_regularizer": regularizers.serialize(regs.get("kernel"), who),
            "bias_regularizer": regularizers.serialize(regs.get("bias"), who),
            "dtype": self._dtype.name,
        }

    def _make_weights(self, kernel_shape: tuple[int, ...]) -> None:
        self.kernel = Parameter(np.empty(kernel_shape, dtype=self._dtype))
        self._kernel_init(self.kernel)
        if self.use_bias:
            self.bias = Parameter(np.empty(kernel_shape[-1], dtype=self._dtype))
            self._bias_init(self.bias)

    def _build_for(self, x: Tensor, layer: str, what: str) -> None:
        """Create the weights from the first input; later inputs must have the same last axis."""
        if self.kernel is None:
            self.build(x.shape)
        expected = self.kernel.shape[-2]  # the input size sits second to last in Keras' kernels
        if x.shape[-1] != expected:
            raise ValueError(
                f"{layer} expected input with {expected} {what}, got input of shape "
                f"{tuple(x.shape)}"
            )

    def _materialize_from_state(self, state: Any, prefix: str) -> None:
        """Build from a state_dict's kernel shape before loading it (its channels are at -2)."""
        if self.kernel is None and prefix + "kernel" in state:
            self.build((None, state[prefix + "kernel"].shape[-2]))


class Dense(_KernelLayer):
    """Fully connected: y = activation(x @ kernel + bias), kernel of shape (in, units) (Keras).

    Defaults as Keras: kernel Glorot-uniform U(-sqrt(6 / (in + units)), +), bias zeros, no
    activation. The input size comes from the first call (or `input_shape=`/`input_dim=`).

    Example:
        >>> Dense(10, activation="softmax", input_dim=64).kernel.shape
        (64, 10)
    """

    def __init__(self, units: int, activation: Any = None, use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 kernel_regularizer: Any = None, bias_regularizer: Any = None,
                 dtype: Any = np.float32, **kwargs: Any) -> None:  # fmt: skip
        super().__init__(**kwargs)
        if not isinstance(units, int) or units <= 0:
            raise ValueError(f"Dense: units must be a positive integer, got {units!r}")
        self.units = units
        self._setup("Dense", activation, use_bias, kernel_initializer, bias_initializer,
                    kernel_regularizer, bias_regularizer, dtype)  # fmt: skip
        if self.input_shape is not None:
            self.build(self.input_shape)

    def build(self, input_shape: Sequence[int]) -> None:
        """Create the weights for inputs whose last dimension is input_shape[-1]."""
        self._make_weights((int(input_shape[-1]), self.units))

    def forward(self, x: Tensor) -> Tensor:
        self._build_for(x, f"Dense({self.units})", "features in the last dimension")
        y = x @ self.kernel
        if self.bias is not None:
            y = y + self.bias
        return self.activation(y)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "units": self.units, **self._kernel_config()}

    def extra_repr(self) -> str:
        return f"units={self.units}, activation={type(self.activation).__name__}"


class Dropout(Serializable, _TorchDropout):
    """Keras' `Dropout(rate)`: zero each input with probability `rate` while training and scale
    the rest by 1 / (1 - rate) (inverted dropout); identity in evaluation. `seed` gives the layer
    its own generator (Keras' seed), else it draws from descentlab's global one."""

    def __init__(self, rate: float, noise_shape: Any = None, seed: int | None = None,
                 name: str | None = None, **kwargs: Any) -> None:  # fmt: skip
        if noise_shape is not None:
            raise ValueError("Dropout: noise_shape is not supported (use descentlab.nn.Dropout2d "
                             "for whole channels)")  # fmt: skip
        generator = None if seed is None else np.random.default_rng(seed)
        super().__init__(p=rate, generator=generator)
        self.seed = seed
        self.trainable = bool(kwargs.get("trainable", True))  # kept for the config: no weights
        self.input_shape = kwargs.get("input_shape")
        self.name = name or auto_name(type(self).__name__)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return call_in_mode(self, super().__call__, args, kwargs)

    def count_params(self) -> int:
        return 0

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "rate": self.p, "seed": self.seed, "noise_shape": None}

    def extra_repr(self) -> str:
        return f"rate={self.p}"


class Flatten(Layer):
    """Keras' `Flatten()`: (N, d1, d2, ...) -> (N, d1 * d2 * ...); the batch axis stays."""

    def forward(self, x: Tensor) -> Tensor:
        return x.reshape(x.shape[0], -1)


class Activation(Layer):
    """Keras' `Activation('relu')`: an activation by name (see `descentlab.nn.activations`)."""

    def __init__(self, activation: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._activation_arg = activation
        self.activation = _activation_module(activation)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(),
                "activation": _activation_name(self._activation_arg, self._label())}  # fmt: skip

    def forward(self, x: Tensor) -> Tensor:
        return self.activation(x)


class _Normalization(Layer):
    """gamma/beta over the last axis, created from the first input (channels last)."""

    def __init__(self, axis: int, epsilon: float, center: bool, scale: bool, dtype: Any,
                 **kwargs: Any) -> None:  # fmt: skip
        super().__init__(**kwargs)
        if axis != -1:
            raise ValueError(
                f"{type(self).__name__}: only axis=-1 (channels last) is supported, got {axis}"
            )
        if not epsilon > 0:
            raise ValueError(f"{type(self).__name__}: epsilon must be > 0, got {epsilon!r}")
        self.axis, self.epsilon, self.center, self.scale = axis, float(epsilon), center, scale
        self._dtype = np.dtype(dtype)
        self.register_parameter("gamma", None)
        self.register_parameter("beta", None)
        if self.input_shape is not None:
            self.build(self.input_shape)

    def build(self, input_shape: Sequence[int]) -> None:
        c = int(input_shape[-1])
        if self.scale:
            self.gamma = Parameter(np.ones(c, dtype=self._dtype))
        if self.center:
            self.beta = Parameter(np.zeros(c, dtype=self._dtype))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axis": self.axis, "epsilon": self.epsilon,
                "center": self.center, "scale": self.scale, "dtype": self._dtype.name}  # fmt: skip

    def _materialize_from_state(self, state: Any, prefix: str) -> None:
        for key in ("gamma", "beta", "moving_mean"):
            if getattr(self, key, None) is None and prefix + key in state:
                self.build(state[prefix + key].shape)
                return

    def _affine(self, y: Tensor) -> Tensor:
        if self.gamma is not None:
            y = y * self.gamma
        if self.beta is not None:
            y = y + self.beta
        return y


class BatchNormalization(_Normalization):
    """Keras' batch normalization over every axis but the last (channels last).

    Training: y = gamma (x - mean_B) / sqrt(var_B + epsilon) + beta with the batch's mean and
    biased variance, and moving = momentum * moving + (1 - momentum) * batch statistic (Keras'
    momentum=0.99 is PyTorch's momentum=0.01; Keras keeps the biased variance, PyTorch the
    unbiased one). Evaluation: the moving statistics. Defaults: momentum 0.99, epsilon 1e-3.

    Example:
        >>> bn = BatchNormalization()
        >>> bn(dl.randn(8, 4)).shape, bn.moving_variance.shape
        ((8, 4), (4,))
    """

    def __init__(self, axis: int = -1, momentum: float = 0.99, epsilon: float = 1e-3,
                 center: bool = True, scale: bool = True, dtype: Any = np.float32,
                 **kwargs: Any) -> None:  # fmt: skip
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"BatchNormalization: momentum must be in [0, 1], got {momentum!r}")
        super().__init__(axis, epsilon, center, scale, dtype, **kwargs)
        self.momentum = float(momentum)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "momentum": self.momentum}

    def build(self, input_shape: Sequence[int]) -> None:
        super().build(input_shape)
        c = int(input_shape[-1])
        self.register_buffer("moving_mean", np.zeros(c, dtype=self._dtype))
        self.register_buffer("moving_variance", np.ones(c, dtype=self._dtype))

    def forward(self, x: Tensor) -> Tensor:
        if getattr(self, "moving_mean", None) is None:
            self.build(x.shape)
        axes = tuple(range(x.ndim - 1))
        if self.training and self.trainable:  # Keras: a frozen BN uses its moving statistics
            if math.prod(x.shape[:-1]) <= 1:
                raise ValueError(
                    f"BatchNormalization: expected more than 1 value per channel when training, "
                    f"got input of shape {tuple(x.shape)}; use a batch of at least 2"
                )
            data = x.data
            mean = data.mean(axis=axes)
            var = data.var(axis=axes)
            m = self.momentum
            self.moving_mean[...] = self.moving_mean * m + mean * (1 - m)
            self.moving_variance[...] = self.moving_variance * m + var * (1 - m)
            y = normalize(x, axes, eps=self.epsilon)
        else:
            inv = (1.0 / np.sqrt(self.moving_variance + self.epsilon)).astype(x.dtype)
            y = (x - self.moving_mean.astype(x.dtype)) * inv
        return self._affine(y)


class LayerNormalization(_Normalization):
    """Keras' layer normalization of each sample over its last axis:
    y = gamma (x - mean) / sqrt(var + epsilon) + beta (biased variance; epsilon 1e-3 as Keras).

    Example:
        >>> LayerNormalization()(dl.randn(2, 6)).shape
        (2, 6)
    """

    def __init__(self, axis: int = -1, epsilon: float = 1e-3, center: bool = True,
                 scale: bool = True, dtype: Any = np.float32, **kwargs: Any) -> None:  # fmt: skip
        super().__init__(axis, epsilon, center, scale, dtype, **kwargs)

    def forward(self, x: Tensor) -> Tensor:
        if self.gamma is None and self.beta is None and (self.scale or self.center):
            self.build(x.shape)
        return layer_norm(x, x.shape[-1], self.gamma, self.beta, eps=self.epsilon)


# ---------------------------------------------------------------------- convolution and pooling
def _pair(value: Any, what: str) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, int) and v > 0 for v in pair):
        raise ValueError(f"{what} must be a positive int or a pair of them, got {value!r}")
    return pair  # type: ignore[return-value]


def _padding(padding: str, what: str) -> str:
    mode = str(padding).lower()
    if mode not in ("valid", "same"):
        raise ValueError(f"{what}: padding must be 'valid' or 'same', got {padding!r}")
    return mode


def _same_pads(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """TensorFlow/Keras 'same': output ceil(size / stride); the odd pixel of padding goes last."""
    out = -(-size // stride)
    total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


def _check_nhwc(layer: Module, x: Tensor) -> None:
    if x.ndim != 4:
        raise ValueError(
            f"{type(layer).__name__} expects channels-last input (batch, height, width, channels), "
            f"got input of shape {tuple(x.shape)}"
        )


class Conv2D(_KernelLayer):
    """Keras' 2-D convolution on channels-last input (N, H, W, C) -> (N, H', W', filters).

    out = activation(x (*) kernel + bias), kernel of shape (kh, kw, in, filters) as Keras,
    Glorot-uniform with fans receptive field * channels, bias zeros. padding 'valid' (none) or
    'same' (output ceil(H / stride), the odd pixel of padding at the bottom/right, as Keras).
    Computed with descentlab's NCHW `conv2d` between two transposes.

    Example:
        >>> Conv2D(8, 3, padding="same", activation="relu")(dl.randn(2, 28, 28, 1)).shape
        (2, 28, 28, 8)
    """

    def __init__(self, filters: int, kernel_size: Any, strides: Any = (1, 1),
                 padding: str = "valid", data_format: str | None = None, dilation_rate: Any = (1, 1),
                 activation: Any = None, use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 kernel_regularizer: Any = None, bias_regularizer: Any = None,
                 dtype: Any = np.float32, **kwargs: Any) -> None:  # fmt: skip
        super().__init__(**kwargs)
        if data_format not in (None, "channels_last"):
            raise ValueError(
                f"Conv2D: only data_format='channels_last' is supported, got {data_format!r}; "
                "for channels-first input use descentlab.nn.Conv2d"
            )
        if not isinstance(filters, int) or filters <= 0:
            raise ValueError(f"Conv2D: filters must be a positive integer, got {filters!r}")
        self.filters = filters
        self.kernel_size = _pair(kernel_size, "Conv2D kernel_size")
        self.strides = _pair(strides, "Conv2D strides")
        self.dilation_rate = _pair(dilation_rate, "Conv2D dilation_rate")
        self.padding = _padding(padding, "Conv2D")
        self._setup("Conv2D", activation, use_bias, kernel_initializer, bias_initializer,
                    kernel_regularizer, bias_regularizer, dtype)  # fmt: skip
        if self.input_shape is not None:
            self.build((None, *self.input_shape))

    def build(self, input_shape: Sequence[Any]) -> None:
        """Create the kernel for inputs with input_shape[-1] channels."""
        self._make_weights((*self.kernel_size, int(input_shape[-1]), self.filters))

    def forward(self, x: Tensor) -> Tensor:
        _check_nhwc(self, x)
        self._build_for(x, f"Conv2D({self.filters})", "input channels (last axis)")
        h = x.permute(0, 3, 1, 2)
        if self.padding == "same":
            (kh, kw), (sh, sw), (dh, dw) = self.kernel_size, self.strides, self.dilation_rate
            top, bottom = _same_pads(x.shape[1], kh, sh, dh)
            left, right = _same_pads(x.shape[2], kw, sw, dw)
            if top or bottom or left or right:
                h = pad(h, (left, right, top, bottom))
        weight = self.kernel.permute(3, 2, 0, 1)  # (kh, kw, in, out) -> PyTorch's (out, in, kh, kw)
        h = conv2d(h, weight, self.bias, stride=self.strides, dilation=self.dilation_rate)
        return self.activation(h.permute(0, 2, 3, 1))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "strides": self.strides, "padding": self.padding, "data_format": "channels_last",
                "dilation_rate": self.dilation_rate, **self._kernel_config()}  # fmt: skip

    def extra_repr(self) -> str:
        return (
            f"filters={self.filters}, kernel_size={self.kernel_size}, strides={self.strides}, "
            f"padding={self.padding!r}"
        )


class _Pooling2D(Layer):
    def __init__(self, pool_size: Any = (2, 2), strides: Any = None, padding: str = "valid",
                 data_format: str | None = None, **kwargs: Any) -> None:  # fmt: skip
        super().__init__(**kwargs)
        name = type(self).__name__
        if data_format not in (None, "channels_last"):
            raise ValueError(f"{name}: only data_format='channels_last' is supported")
        self.pool_size = _pair(pool_size, f"{name} pool_size")
        self.strides = self.pool_size if strides is None else _pair(strides, f"{name} strides")
        self.padding = _padding(padding, name)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "pool_size": self.pool_size, "strides": self.strides,
                "padding": self.padding, "data_format": "channels_last"}  # fmt: skip

    def _pads(self, x: Tensor) -> tuple[int, int, int, int]:
        if self.padding == "valid":
            return (0, 0, 0, 0)
        top, bottom = _same_pads(x.shape[1], self.pool_size[0], self.strides[0])
        left, right = _same_pads(x.shape[2], self.pool_size[1], self.strides[1])
        return (left, right, top, bottom)

    def forward(self, x: Tensor) -> Tensor:
        _check_nhwc(self, x)
        out = self._pool(x.permute(0, 3, 1, 2), self._pads(x))
        return out.permute(0, 2, 3, 1)

    def extra_repr(self) -> str:
        return f"pool_size={self.pool_size}, strides={self.strides}, padding={self.padding!r}"


class MaxPooling2D(_Pooling2D):
    """Keras' max pooling on channels-last input; strides default to pool_size; 'same' padding
    never wins a window (it counts as -inf).

    Example:
        >>> MaxPooling2D()(dl.randn(2, 28, 28, 8)).shape
        (2, 14, 14, 8)
    """

    def _pool(self, h: Tensor, pads: tuple[int, int, int, int]) -> Tensor:
        if any(pads):
            h = pad(h, pads, value=-np.inf)
        return max_pool2d(h, self.pool_size, self.strides)


class AveragePooling2D(_Pooling2D):
    """Keras' average pooling on channels-last input; with 'same' padding each window averages
    only its real pixels (the padding is not counted, as Keras on TensorFlow and JAX; Keras' torch
    backend replicates edge pixels instead where the padding is uneven).

    Example:
        >>> AveragePooling2D(pool_size=3, strides=2, padding="same")(dl.randn(1, 5, 5, 2)).shape
        (1, 3, 3, 2)
    """

    def _pool(self, h: Tensor, pads: tuple[int, int, int, int]) -> Tensor:
        if not any(pads):
            return avg_pool2d(h, self.pool_size, self.strides)
        summed = avg_pool2d(pad(h, pads), self.pool_size, self.strides)
        ones = np.pad(np.ones(h.shape[2:], h.dtype), ((pads[2], pads[3]), (pads[0], pads[1])))
        counts = avg_pool2d(Tensor(ones[None, None]), self.pool_size, self.strides).data[0, 0]
        return summed / counts  # the mean over the window's real pixels


class GlobalAveragePooling2D(Layer):
    """Keras' global average pooling: (N, H, W, C) -> (N, C), the mean over height and width."""

    def forward(self, x: Tensor) -> Tensor:
        _check_nhwc(self, x)
        return x.mean(axis=(1, 2))


class GlobalMaxPooling2D(Layer):
    """Keras' global max pooling: (N, H, W, C) -> (N, C), the max over height and width."""

    def forward(self, x: Tensor) -> Tensor:
        _check_nhwc(self, x)
        return x.max(axis=(1, 2))


_SAVEABLE: dict[str, type[Serializable]] = {cls.__name__: cls for cls in (
    Dense, Conv2D, MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D, GlobalMaxPooling2D,
    Dropout, Flatten, Activation, BatchNormalization, LayerNormalization)}  # fmt: skip


def serialize(layer: Module) -> dict[str, Any]:
    """Keras' `layers.serialize`: {'class_name': 'Dense', 'config': layer.get_config()}, for the
    keras.layers classes above (a descentlab.nn module or a custom class cannot be rebuilt from
    its name: ValueError).

    Example:
        >>> serialize(Dropout(0.5, name="drop"))
        {'class_name': 'Dropout', 'config': {'name': 'drop', 'trainable': True, 'rate': 0.5, 'seed': None, 'noise_shape': None}}
    """
    name = type(layer).__name__
    if _SAVEABLE.get(name) is not type(layer):
        label = f"{name} {layer.name!r}" if getattr(layer, "name", None) else name
        raise ValueError(
            f"{label} is not one of the keras.layers classes "
            f"({', '.join(_SAVEABLE)}), so a saved model could not rebuild it; build the model "
            "from keras.layers, or save the weights alone with model.save_weights(path)"
        )
    return {"class_name": name, "config": layer.get_config()}


def deserialize(config: dict[str, Any]) -> Module:
    """Inverse of `serialize`: the layer class by name, built with `from_config`."""
    cls = _SAVEABLE.get(config.get("class_name", ""))
    if cls is None:
        raise ValueError(
            f"unknown layer class {config.get('class_name')!r} (a custom layer, or a file from a "
            f"newer descentlab?); known: {', '.join(_SAVEABLE)}"
        )
    return cls.from_config(dict(config.get("config", {})))
