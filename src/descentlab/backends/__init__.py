"""`descentlab.backends`: torch.backends' switches that PyTorch scripts read or set.

Example:
    >>> import descentlab as dl
    >>> dl.backends.mps.is_available(), dl.backends.cudnn.is_available()
    (False, False)
"""

from descentlab.backends import cudnn, mps

__all__ = ["cudnn", "mps"]
