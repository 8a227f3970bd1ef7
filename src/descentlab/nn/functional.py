"""Functional interface (`descentlab.nn.functional`, imported as F like `torch.nn.functional`)."""

from __future__ import annotations

from descentlab.nn.embedding import embedding  # noqa: F401
from descentlab.ops import *  # noqa: F403
from descentlab.ops import __all__ as _ops_all
from descentlab.ops.conv import conv1d, conv2d, conv_transpose1d, conv_transpose2d  # noqa: F401
from descentlab.ops.dropout import alpha_dropout, dropout, dropout1d, dropout2d  # noqa: F401
from descentlab.ops.loss import *  # noqa: F403  (every PyTorch-named loss: cross_entropy, mse_loss, ...)
from descentlab.ops.loss import __all__ as _loss_all
from descentlab.ops.normalization import batch_norm, group_norm, layer_norm, rms_norm  # noqa: F401
from descentlab.ops.pool import (  # noqa: F401
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    avg_pool1d,
    avg_pool2d,
    max_pool1d,
    max_pool2d,
    max_unpool1d,
    max_unpool2d,
)

_layers = [
    "embedding", "conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d", "alpha_dropout",
    "dropout", "dropout1d", "dropout2d", "batch_norm", "group_norm", "layer_norm", "rms_norm",
    "adaptive_avg_pool1d", "adaptive_avg_pool2d", "avg_pool1d", "avg_pool2d", "max_pool1d",
    "max_pool2d", "max_unpool1d", "max_unpool2d",
]  # fmt: skip
__all__ = [*_ops_all, *[n for n in _loss_all if n not in _ops_all], *_layers]
