"""Functional interface (`descentlab.nn.functional`, imported as F like `torch.nn.functional`)."""

from __future__ import annotations

from descentlab.ops import *  # noqa: F403
from descentlab.ops import __all__ as _ops_all
from descentlab.ops.loss import softmax_cross_entropy as cross_entropy

__all__ = [*_ops_all, "cross_entropy"]
