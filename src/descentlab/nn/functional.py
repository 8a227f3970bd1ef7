"""Functional interface (`descentlab.nn.functional`, imported as F like `torch.nn.functional`)."""

from __future__ import annotations

from descentlab.ops import *  # noqa: F403
from descentlab.ops import __all__ as _ops_all
from descentlab.ops.loss import *  # noqa: F403  (every PyTorch-named loss: cross_entropy, mse_loss, ...)
from descentlab.ops.loss import __all__ as _loss_all

__all__ = [*_ops_all, *[n for n in _loss_all if n not in _ops_all]]
