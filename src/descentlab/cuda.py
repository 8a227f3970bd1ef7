"""`descentlab.cuda`: the answers torch.cuda gives on a machine without CUDA.

descentlab computes with NumPy on the CPU, so no CUDA device is ever available. These functions
let the usual PyTorch preamble run unchanged and pick the CPU.

Convention: torch.cuda's names and its results on a CPU-only build (the seeding functions seed
nothing there either: there is no CUDA generator; seed with `descentlab.manual_seed`).

Example:
    >>> import descentlab as dl
    >>> dl.device("cuda" if dl.cuda.is_available() else "cpu")
    device(type='cpu')
"""

from __future__ import annotations

__all__ = ["is_available", "device_count", "manual_seed", "manual_seed_all"]


def is_available() -> bool:
    """False: descentlab has no CUDA devices (torch.cuda.is_available on a CPU-only machine).

    Example:
        >>> is_available()
        False
    """
    return False


def device_count() -> int:
    """0: the number of CUDA devices descentlab can use.

    Example:
        >>> device_count()
        0
    """
    return 0


def manual_seed(seed: int) -> None:
    """Accepted and does nothing, as torch.cuda.manual_seed without CUDA; the CPU generator is
    seeded by `descentlab.manual_seed`.

    Example:
        >>> manual_seed(0) is None
        True
    """
    int(seed)  # torch converts the seed too: a non-number fails here as there


def manual_seed_all(seed: int) -> None:
    """Accepted and does nothing, as torch.cuda.manual_seed_all without CUDA.

    Example:
        >>> manual_seed_all(0) is None
        True
    """
    int(seed)
