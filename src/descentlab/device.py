"""Devices: `descentlab.device`, PyTorch's device names, and the CPU-only check behind `.to(device)`.

descentlab computes with NumPy on the CPU. So that PyTorch code runs unchanged, a device can be
named as in torch (`device("cuda" if cuda.is_available() else "cpu")`, `"cuda:0"`, `"mps"`), and
`.to("cpu")`, `.cpu()` and `device="cpu"` are accepted and change nothing; asking to compute on any
other device raises a RuntimeError that says so.

Convention: torch.device's names, attributes, `str`/`repr` and parsing errors (a ValueError here,
where torch raises RuntimeError), and torch.Tensor.to's overloads (`parse_to`). Unlike torch 2.13,
a device also equals its string (`device("cpu") == "cpu"`), and hashes as it.

Example:
    >>> import descentlab as dl
    >>> dl.device("cuda" if dl.cuda.is_available() else "cpu")
    device(type='cpu')
    >>> dl.device("cuda:1").index, str(dl.device("cuda", 0))
    (1, 'cuda:0')
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

__all__ = ["device", "check_device", "cpu_only_error", "parse_to"]

# torch 2.13's device types, in the order its error message lists them.
DEVICE_TYPES = (
    "cpu", "cuda", "ipu", "xpu", "mkldnn", "opengl", "opencl", "ideep", "hip", "ve", "fpga",
    "maia", "xla", "lazy", "vulkan", "mps", "meta", "hpu", "mtia", "privateuseone",
)  # fmt: skip
_DEVICE_STRING = re.compile(r"([a-z_]+)(?::(0|[1-9]\d*))?")  # no leading zeros, as torch
_builtin_type = type  # `device.__init__` names its first argument `type`, as torch does


class device:  # noqa: N801  (torch's lowercase class name)
    """Where a tensor lives: a device type ("cpu", "cuda", "mps", ...) and an optional index.

    `device("cuda:1")` and `device("cuda", 1)` are the same device; `device(other_device)` copies
    one. Immutable and hashable; equal to another device with the same type and index, and to
    its string. Only "cpu" can hold descentlab tensors (see `check_device`).

    Example:
        >>> device("cpu"), device("cpu") == "cpu", str(device("cuda", 0))
        (device(type='cpu'), True, 'cuda:0')
    """

    __slots__ = ("_type", "_index")

    def __init__(self, type: str | device, index: int | None = None) -> None:  # noqa: A002
        if isinstance(type, device):
            if index is not None:
                raise ValueError(f"device: {type!r} already names its index; pass index=None")
            type, index = type.type, type.index
        elif not isinstance(type, str):
            raise TypeError(
                f"device: expected a device string such as 'cpu' or 'cuda:0', got "
                f"{_builtin_type(type).__name__} {type!r}"
            )
        else:
            type, parsed = _parse(type)
            if parsed is not None and index is not None:
                raise ValueError(
                    f"device: type ({type}:{parsed}) and index ({index}) both name an index; "
                    "give one of them"
                )
            index = parsed if parsed is not None else index
        if index is not None:
            if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
                raise TypeError(
                    f"device(): argument 'index' must be int, not {_builtin_type(index).__name__}"
                )
            if index < 0:
                raise ValueError(f"Device index must not be negative, got {index}")
            index = int(index)
        object.__setattr__(self, "_type", type)
        object.__setattr__(self, "_index", index)

    @property
    def type(self) -> str:
        """The device type, e.g. "cpu" or "cuda"."""
        return self._type

    @property
    def index(self) -> int | None:
        """The device index (e.g. 0 in "cuda:0"), or None when not given."""
        return self._index

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"attribute {name!r} of 'descentlab.device' objects is not writable")

    def __str__(self) -> str:
        return self._type if self._index is None else f"{self._type}:{self._index}"

    def __repr__(self) -> str:
        index = "" if self._index is None else f", index={self._index}"
        return f"device(type='{self._type}'{index})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, device):
            return (self._type, self._index) == (other._type, other._index)
        if isinstance(other, str):
            return str(self) == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(str(self))  # equal to its string, so hashed as it

    def __reduce__(self) -> tuple[Any, ...]:
        return (device, (self._type, self._index))


def _parse(text: str) -> tuple[str, int | None]:
    """("cuda", 1) from "cuda:1", with torch's errors for empty, unknown or malformed strings."""
    if not text:
        raise ValueError("Device string must not be empty")
    match = _DEVICE_STRING.fullmatch(text)
    kind = text.split(":", 1)[0]
    if kind not in DEVICE_TYPES:
        raise ValueError(
            f"Expected one of {', '.join(DEVICE_TYPES)} device type at start of device string: "
            f"{text}"
        )
    if match is None:
        raise ValueError(f"Invalid device string: {text!r}")
    return kind, None if match.group(2) is None else int(match.group(2))


CPU = device("cpu")


def check_device(dev: str | device | None) -> device:
    """`dev` as a device that descentlab can compute on (the CPU), else a RuntimeError.

    Used by `.to(device)`, `.cuda()` and the `device=` argument of the tensor factories; None
    means the CPU, as the default device in torch.

    Example:
        >>> check_device("cpu")
        device(type='cpu')
    """
    dev = CPU if dev is None else device(dev)
    if dev.type != "cpu":
        raise cpu_only_error(dev)
    return dev


def cpu_only_error(dev: str | device) -> RuntimeError:
    """The error for computing on `dev`, any device but the CPU (`.cuda()`, `.to("mps")`).

    Example:
        >>> str(cpu_only_error("cuda")).split(";")[0]
        "descentlab computes on the CPU only, so tensors cannot move to device 'cuda'"
    """
    return RuntimeError(
        f"descentlab computes on the CPU only, so tensors cannot move to device '{dev}'; "
        "use device 'cpu' (descentlab.cuda.is_available() is False, so the usual "
        "`device('cuda' if cuda.is_available() else 'cpu')` picks it)"
    )


def _as_device(arg: Any) -> device | None:
    """A device for a device or a device string that names a known type; None otherwise."""
    if isinstance(arg, device):
        return arg
    if isinstance(arg, str) and arg.split(":", 1)[0] in DEVICE_TYPES:
        return device(arg)
    return None


def _as_dtype(arg: Any, where: str) -> np.dtype:
    if isinstance(arg, str):  # not a known device type: a NumPy dtype name, or a bad device
        try:
            return np.dtype(arg)
        except TypeError:
            device(arg)  # raises torch's "Expected one of cpu, cuda, ..." error
    try:
        return np.dtype(arg)
    except TypeError:
        raise TypeError(
            f"{where} expects a device ('cpu'), a dtype (descentlab.float32) or a Tensor, "
            f"got {_builtin_type(arg).__name__} {arg!r}"
        ) from None


def parse_to(
    args: tuple[Any, ...], kwargs: dict[str, Any], where: str = "to()"
) -> tuple[device | None, np.dtype | None, bool]:
    """(device, dtype, copy) from torch.Tensor.to's overloads; None where not asked for.

    The overloads: `to(device=None, dtype=None, non_blocking=False, copy=False)`,
    `to(dtype, non_blocking=False, copy=False)` and `to(tensor, non_blocking=False, copy=False)`
    (the tensor's device and dtype). `non_blocking` is accepted and unused; `memory_format` too.

    Example:
        >>> parse_to(("cpu", np.float64), {})
        (device(type='cpu'), dtype('float64'), False)
    """
    from descentlab.tensor import Tensor

    unknown = set(kwargs) - {"device", "dtype", "non_blocking", "copy", "memory_format"}
    if unknown:
        raise TypeError(f"{where} got an unexpected keyword argument {sorted(unknown)[0]!r}")
    first = args[0] if args else None
    if isinstance(first, Tensor):
        names: tuple[str, ...] = ("other", "non_blocking", "copy")
    elif first is not None and _as_device(first) is None:
        names = ("dtype", "non_blocking", "copy")
    else:
        names = ("device", "dtype", "non_blocking", "copy")
    if len(args) > len(names):
        raise TypeError(f"{where} takes at most {len(names)} positional arguments with a "
                        f"{names[0]} first, got {len(args)}")  # fmt: skip
    values = dict(zip(names, args))
    for name, value in kwargs.items():
        if name in values:
            raise TypeError(f"{where} got multiple values for argument {name!r}")
        values[name] = value
    if "other" in values:
        if "device" in values or "dtype" in values:
            raise TypeError(f"{where}: to(tensor) takes its device and dtype from the tensor; "
                            "pass device= and dtype= without a tensor")  # fmt: skip
        values.update(device=first.device, dtype=first.dtype)
    for flag in ("non_blocking", "copy"):
        if not isinstance(values.get(flag, False), (bool, np.bool_)):
            raise TypeError(f"{where}: {flag} must be a bool, got {values[flag]!r}; a dtype "
                            "goes first, or after a device")  # fmt: skip
    dev = values.get("device")
    dev = None if dev is None else check_device(dev)
    dtype = values.get("dtype")
    dtype = None if dtype is None else _as_dtype(dtype, where)
    return dev, dtype, bool(values.get("copy", False))
