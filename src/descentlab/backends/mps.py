"""`descentlab.backends.mps`: Apple's Metal (MPS) backend, never available to descentlab.

Convention: torch.backends.mps's names and answers on a machine without MPS.

Example:
    >>> is_available()
    False
"""

from __future__ import annotations

__all__ = ["is_available"]


def is_available() -> bool:
    """False: descentlab computes with NumPy on the CPU.

    Example:
        >>> is_available()
        False
    """
    return False
