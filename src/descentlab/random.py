"""The one seeded random generator behind every random op (init, dropout, shuffling).

`manual_seed(seed)` makes runs repeatable: same seed, same inputs -> bit-identical results. Every
random function also takes an optional `generator` (an `np.random.Generator`) to stay independent
of the global one.

Example:
    >>> import descentlab as dl
    >>> _ = dl.manual_seed(0)   # returns the new generator, as torch.manual_seed
    >>> a = dl.randn(3)
    >>> _ = dl.manual_seed(0)
    >>> bool((dl.randn(3).data == a.data).all())
    True
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["manual_seed", "default_generator", "get_rng_state", "set_rng_state", "resolve"]

_generator = np.random.default_rng(0)


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed the global generator and return it (like `torch.manual_seed`)."""
    global _generator
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"manual_seed: seed must be a non-negative integer, got {seed!r}")
    _generator = np.random.default_rng(int(seed))
    return _generator


def default_generator() -> np.random.Generator:
    """The global generator (replaced by `manual_seed`)."""
    return _generator


def resolve(generator: np.random.Generator | None) -> np.random.Generator:
    """`generator` if given, else the global one."""
    return _generator if generator is None else generator


def get_rng_state() -> dict[str, Any]:
    """The global generator's state as a JSON-serialisable dict (for exact resume)."""
    return _generator.bit_generator.state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore a state returned by `get_rng_state`."""
    _generator.bit_generator.state = state
