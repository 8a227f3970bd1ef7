"""The docstring examples of the engine, the ops and the nn layers run and show what they say."""

from __future__ import annotations

import doctest
import importlib
import sys

import numpy as np
import pytest

import descentlab
import descentlab.nn.functional as F

MODULES = [
    "descentlab", "descentlab.tensor", "descentlab.gradcheck", "descentlab.random",
    "descentlab.ops.activation", "descentlab.ops.conv", "descentlab.ops.dropout",
    "descentlab.ops.loss", "descentlab.ops.math", "descentlab.ops.pool",
    "descentlab.ops.normalization", "descentlab.ops.reduce", "descentlab.ops.shape",
    "descentlab.nn.activation", "descentlab.nn.activations", "descentlab.nn.conv",
    "descentlab.nn.dropout", "descentlab.nn.embedding", "descentlab.nn.flatten",
    "descentlab.nn.init", "descentlab.nn.linear", "descentlab.nn.module",
    "descentlab.nn.normalization", "descentlab.nn.pooling", "descentlab.nn.regularizers",
    "descentlab.nn.summary", "descentlab.nn.utils", "descentlab.nn.functional",
    "descentlab.device", "descentlab.cuda", "descentlab.backends", "descentlab.backends.mps",
    "descentlab.backends.cudnn", "descentlab._memory",
]  # fmt: skip


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    importlib.import_module(name)
    module = sys.modules[name]  # `descentlab.tensor` the module, not the function
    state = descentlab.random.get_rng_state()
    try:
        result = doctest.testmod(
            module,
            extraglobs={"np": np, "dl": descentlab, "descentlab": descentlab, "F": F},
            optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
        )
    finally:
        descentlab.random.set_rng_state(state)  # examples draw from the global generator
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"
