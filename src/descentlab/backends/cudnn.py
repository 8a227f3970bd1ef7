"""`descentlab.backends.cudnn`: the cuDNN switches of reproducibility recipes, which change nothing.

Seeding recipes written for PyTorch set `torch.backends.cudnn.deterministic = True` and
`benchmark = False`; here they are plain module attributes that can be read and set. descentlab's
NumPy computations are deterministic whatever they hold (same seed, same results).

Convention: torch.backends.cudnn's names and defaults (deterministic False, benchmark False,
enabled True), with `is_available()` False as on a machine without CUDA.

Example:
    >>> import descentlab as dl
    >>> dl.backends.cudnn.benchmark = False  # a seeding recipe's line: runs, changes nothing
    >>> dl.backends.cudnn.is_available()
    False
"""

from __future__ import annotations

__all__ = ["is_available", "deterministic", "benchmark", "enabled"]

deterministic: bool = False
benchmark: bool = False
enabled: bool = True


def is_available() -> bool:
    """False: there is no cuDNN under descentlab.

    Example:
        >>> is_available()
        False
    """
    return False
