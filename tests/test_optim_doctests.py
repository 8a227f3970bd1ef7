"""The docstring examples of the optimizers, transforms, schedules and the stepping machinery run
and show what they say."""

from __future__ import annotations

import doctest
import importlib

import numpy as np
import pytest

import descentlab as dl

MODULES = [
    "descentlab.optim", "descentlab.optim.transforms", "descentlab.optim.schedules",
    "descentlab.optim.optimizer", "descentlab.optim._blas", "descentlab.optim.workspace",
    "descentlab.optim._workers", "descentlab.optim.lr_scheduler", "descentlab.optim.registry",
    "descentlab.optim.optimizers", "descentlab.keras.optimizers",
]  # fmt: skip


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    state = dl.random.get_rng_state()
    try:
        result = doctest.testmod(
            module,
            extraglobs={"np": np, "dl": dl},
            optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
        )
    finally:
        dl.random.set_rng_state(state)
    assert result.attempted > 0, f"{name} has no docstring example"
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"
