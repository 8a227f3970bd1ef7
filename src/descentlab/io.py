"""Save and load models and training checkpoints: safetensors for arrays, JSON for everything else.

One file per save. Arrays go into a safetensors file (a JSON header plus raw little-endian bytes,
no pickle, nothing executable); the rest (optimizer hyperparameters, epoch, history, RNG state) is
JSON stored in the header's `__metadata__`. Every write goes to a temporary file in the same folder
that then replaces the target with `os.replace`, so a crash or a SIGKILL never leaves a half-written
file under the real name. Loading checks the whole file before touching the model: a truncated or
foreign file raises `LoadError` and the model keeps its weights.

A model file's tensor names are the model's `state_dict()` names, so it loads into the same PyTorch
architecture with `safetensors.torch.load_file(path)` + `torch_model.load_state_dict(...)`.

Example:
    >>> import descentlab as dl
    >>> from descentlab import nn
    >>> model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    >>> dl.save(model, "model.safetensors")          # doctest: +SKIP
    >>> dl.load("model.safetensors", model)          # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from descentlab.random import get_rng_state, set_rng_state

__all__ = [
    "LoadError",
    "save",
    "load",
    "save_checkpoint",
    "load_checkpoint",
    "read_checkpoint",
    "read_metadata",
    "load_state_into",
    "atomic_write_bytes",
    "encode_state",
    "decode_state",
]

MODEL_FORMAT = "descentlab.model"
CHECKPOINT_FORMAT = "descentlab.checkpoint"
FORMAT_VERSION = 1
_MODEL_PREFIX = "model/"


class LoadError(ValueError):
    """A file could not be loaded: missing, truncated, not safetensors, or not what was asked for."""


# ------------------------------------------------------------------ atomic writes
def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write `data` to `path` atomically: temp file in the same folder, fsync, then `os.replace`.

    Readers see either the old file or the complete new one, never a partial write.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, _file_mode(path))  # mkstemp makes 0600; give the usual permissions
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    try:  # make the rename itself durable; not possible on every platform
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass
    return path


def _file_mode(path: Path) -> int:
    """The existing file's permissions, or 0666 minus the umask for a new file."""
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


# ------------------------------------------------------------------ nested state <-> JSON + arrays
def encode_state(obj: Any, arrays: dict[str, np.ndarray], prefix: str) -> Any:
    """Turn a nested state (dicts, lists, tuples, scalars, arrays) into JSON plus a dict of arrays.

    Arrays are moved into `arrays` under `prefix/...` names and replaced by a reference; tuples,
    dicts with non-string keys and NumPy scalars are tagged so that `decode_state` gives back
    exactly the same types and values (bit-identical floats).
    """
    if isinstance(obj, np.ndarray):
        if obj.dtype == object:
            raise TypeError(f"cannot save an object array at {prefix!r}: only numeric arrays")
        name = f"{prefix}#{len(arrays)}"
        arrays[name] = obj
        return {"__array__": name}
    if hasattr(obj, "data") and isinstance(getattr(obj, "data", None), np.ndarray):
        return encode_state(obj.data, arrays, prefix)  # a Tensor or Parameter
    if isinstance(obj, np.generic):
        return {"__scalar__": obj.dtype.str, "value": obj.item()}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, tuple):
        return {"__tuple__": [encode_state(v, arrays, prefix) for v in obj]}
    if isinstance(obj, list):
        return [encode_state(v, arrays, prefix) for v in obj]
    if isinstance(obj, Mapping):
        if all(isinstance(k, str) and not k.startswith("__") for k in obj):
            return {k: encode_state(v, arrays, f"{prefix}/{k}") for k, v in obj.items()}
        return {
            "__items__": [
                [encode_state(k, arrays, prefix), encode_state(v, arrays, f"{prefix}/{k}")]
                for k, v in obj.items()
            ]
        }
    raise TypeError(
        f"cannot save a {type(obj).__name__} at {prefix!r}: a state may hold only dicts, lists, "
        "tuples, numbers, strings, None and NumPy arrays (no pickle)"
    )


def decode_state(obj: Any, arrays: Mapping[str, np.ndarray]) -> Any:
    """Inverse of `encode_state`."""
    if isinstance(obj, list):
        return [decode_state(v, arrays) for v in obj]
    if not isinstance(obj, dict):
        return obj
    if "__array__" in obj:
        name = obj["__array__"]
        if name not in arrays:
            raise LoadError(f"the file's metadata refers to a missing tensor {name!r}")
        return np.array(arrays[name], copy=True)
    if "__scalar__" in obj:
        return np.dtype(obj["__scalar__"]).type(obj["value"])
    if "__tuple__" in obj:
        return tuple(decode_state(v, arrays) for v in obj["__tuple__"])
    if "__items__" in obj:
        return {
            _hashable(decode_state(k, arrays)): decode_state(v, arrays) for k, v in obj["__items__"]
        }
    return {k: decode_state(v, arrays) for k, v in obj.items()}


def _hashable(key: Any) -> Any:
    return tuple(key) if isinstance(key, list) else key


# ------------------------------------------------------------------ safetensors file access
def _safetensors_numpy() -> Any:
    try:
        import safetensors.numpy as stnp
    except ImportError as err:  # pragma: no cover - safetensors is in the `io` extra
        raise ImportError(
            "saving and loading needs the safetensors package: pip install 'descentlab[io]'"
        ) from err
    return stnp


def _to_bytes(arrays: Mapping[str, np.ndarray], metadata: Mapping[str, Any]) -> bytes:
    stnp = _safetensors_numpy()
    clean = {}
    for name, arr in arrays.items():
        arr = np.asarray(arr)
        if arr.dtype.byteorder == ">":
            arr = arr.astype(arr.dtype.newbyteorder("<"))
        # not np.ascontiguousarray: it turns 0-d arrays into shape (1,)
        clean[name] = arr if arr.flags.c_contiguous else arr.copy(order="C")
    meta = {"descentlab": json.dumps(dict(metadata), allow_nan=True, separators=(",", ":"))}
    return stnp.save(clean, metadata=meta)


def _read(path: str | os.PathLike[str]) -> tuple[dict[str, np.ndarray], dict[str, Any] | None]:
    """Read and fully validate a safetensors file: (arrays, descentlab metadata or None)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such file: {str(path)!r}")
    data = path.read_bytes()
    what = f"{str(path)!r} is not a readable safetensors file"
    if len(data) < 8:
        raise LoadError(f"{what}: only {len(data)} bytes (truncated or empty)")
    n = int.from_bytes(data[:8], "little")
    if n <= 0 or 8 + n > len(data):
        raise LoadError(
            f"{what}: its header claims {n} bytes but the file has {len(data)} "
            "(truncated, or a different format such as a pickle or a .npz)"
        )
    try:
        header = json.loads(data[8 : 8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise LoadError(f"{what}: the header is not JSON ({err}); wrong format?") from err
    if not isinstance(header, dict):
        raise LoadError(f"{what}: the header is not a JSON object")
    try:
        arrays = _safetensors_numpy().load(data)
    except Exception as err:  # SafetensorError: truncated data, bad offsets, ...
        raise LoadError(f"{what}: {err} (truncated or corrupted)") from err
    meta = (header.get("__metadata__") or {}).get("descentlab")
    if meta is None:
        return arrays, None
    try:
        parsed = json.loads(meta)
    except json.JSONDecodeError as err:
        raise LoadError(f"{str(path)!r}: descentlab metadata is not valid JSON: {err}") from err
    return arrays, parsed


# ------------------------------------------------------------------ models
def save(
    model: Any, path: str | os.PathLike[str], metadata: Mapping[str, Any] | None = None
) -> Path:
    """Save a model's `state_dict()` (or a dict of arrays) to `path` as safetensors, atomically.

    Tensor names are the state_dict names (PyTorch's, e.g. "0.weight"); `metadata` is any JSON-able
    dict stored alongside (read it back with `read_metadata`).

    Example:
        >>> dl.save(model, "mlp.safetensors")                                 # doctest: +SKIP
        >>> torch_model.load_state_dict(safetensors.torch.load_file("mlp.safetensors"))  # doctest: +SKIP
    """
    state = model.state_dict() if hasattr(model, "state_dict") else dict(model)
    arrays = {k: (v.data if hasattr(v, "data") and not isinstance(v, np.ndarray) else v)
              for k, v in state.items()}  # fmt: skip
    meta = {
        "format": MODEL_FORMAT,
        "version": FORMAT_VERSION,
        "class": type(model).__name__,
        "user": dict(metadata or {}),
    }
    json.dumps(meta["user"])  # fail before writing anything if metadata is not JSON-able
    return atomic_write_bytes(path, _to_bytes(arrays, meta))


def load(path: str | os.PathLike[str], model: Any = None, strict: bool = True) -> Any:
    """Load weights from a model file (or the model part of a checkpoint) into `model`.

    Returns `model`, or the dict of arrays when `model` is None. Accepts safetensors files written
    by PyTorch too when the names match. The model is unchanged when anything is wrong.
    """
    arrays, meta = _read(path)
    if meta is not None and meta.get("format") == CHECKPOINT_FORMAT:
        arrays = {
            k[len(_MODEL_PREFIX) :]: v for k, v in arrays.items() if k.startswith(_MODEL_PREFIX)
        }
    if model is None:
        return arrays
    return load_state_into(model, arrays, path, strict)


def load_state_into(model: Any, state: Mapping[str, Any], path: str | os.PathLike[str],
                    strict: bool = True) -> Any:  # fmt: skip
    """`model.load_state_dict(state)`, a mismatch raised as LoadError naming the file `path`."""
    try:
        model.load_state_dict(state, strict=strict)
    except RuntimeError as err:
        raise LoadError(f"{str(path)!r} does not fit this {type(model).__name__}: {err}") from err
    return model


def read_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The descentlab metadata of a model or checkpoint file ({} for a foreign safetensors file)."""
    return _read(path)[1] or {}


# ------------------------------------------------------------------ checkpoints
def save_checkpoint(
    path: str | os.PathLike[str],
    model: Any,
    optimizer: Any = None,
    scheduler: Any = None,
    *,
    epoch: int = 0,
    history: Mapping[str, Any] | None = None,
    rng_state: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Save everything needed to continue training exactly: model, optimizer, scheduler, epoch,
    RNG state, history and any `extra` state (callbacks, loaders), in one atomic file.

    `epoch` is the number of epochs completed. `rng_state` defaults to the global generator's
    state (`descentlab.get_rng_state()`).

    Example:
        >>> save_checkpoint("ckpt.safetensors", model, opt, epoch=3)        # doctest: +SKIP
        >>> info = load_checkpoint("ckpt.safetensors", model, opt)          # doctest: +SKIP
        >>> info["epoch"]                                                   # doctest: +SKIP
        3
    """
    arrays: dict[str, np.ndarray] = {}
    for name, value in model.state_dict().items():
        arrays[_MODEL_PREFIX + name] = np.asarray(getattr(value, "data", value))
    state = {
        "epoch": int(epoch),
        "optimizer": None if optimizer is None else optimizer.state_dict(),
        "scheduler": None if scheduler is None else scheduler.state_dict(),
        "history": dict(history or {}),
        "rng": dict(get_rng_state() if rng_state is None else rng_state),
        "extra": dict(extra or {}),
    }
    meta = {
        "format": CHECKPOINT_FORMAT,
        "version": FORMAT_VERSION,
        "class": type(model).__name__,
        "state": encode_state(state, arrays, "state"),
    }
    return atomic_write_bytes(path, _to_bytes(arrays, meta))


def read_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a checkpoint without applying it: {"model": arrays, "epoch", "optimizer", ...}."""
    arrays, meta = _read(path)
    if meta is None or meta.get("format") != CHECKPOINT_FORMAT:
        kind = "a model file (use descentlab.load)" if meta else "not a descentlab checkpoint"
        raise LoadError(f"{str(path)!r} is {kind}; expected a file written by save_checkpoint")
    if meta.get("version", 0) > FORMAT_VERSION:
        raise LoadError(
            f"{str(path)!r} was written by a newer descentlab (format {meta['version']}); upgrade"
        )
    state = decode_state(meta["state"], arrays)
    state["model"] = {
        k[len(_MODEL_PREFIX) :]: v for k, v in arrays.items() if k.startswith(_MODEL_PREFIX)
    }
    return state


def load_checkpoint(
    path: str | os.PathLike[str],
    model: Any,
    optimizer: Any = None,
    scheduler: Any = None,
    *,
    restore_rng: bool = True,
) -> dict[str, Any]:
    """Restore model, optimizer and scheduler from `path`; return the rest of the checkpoint.

    Returns a dict with "epoch", "history", "rng", "extra". With `restore_rng` the global generator
    is set back to its saved state. Nothing is changed if any part fails to load.
    """
    state = read_checkpoint(path)
    before_model = model.state_dict()
    before_opt = None if optimizer is None else optimizer.state_dict()
    before_sched = None if scheduler is None else scheduler.state_dict()
    try:
        load_state_into(model, state["model"], path)
        if optimizer is not None:
            if state["optimizer"] is None:
                raise LoadError(f"{str(path)!r} holds no optimizer state")
            optimizer.load_state_dict(state["optimizer"])
        if scheduler is not None:
            if state["scheduler"] is None:
                raise LoadError(f"{str(path)!r} holds no scheduler state")
            scheduler.load_state_dict(state["scheduler"])
    except BaseException:
        model.load_state_dict(before_model)
        if before_opt is not None:
            optimizer.load_state_dict(before_opt)
        if before_sched is not None:
            scheduler.load_state_dict(before_sched)
        raise
    if restore_rng and state.get("rng"):
        set_rng_state(state["rng"])
    return {k: state[k] for k in ("epoch", "history", "rng", "extra")}
