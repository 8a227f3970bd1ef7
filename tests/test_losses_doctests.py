"""The docstring examples of every loss (issue 4's Docs: formula, convention, when to use, one
example) run and give the values they show."""

from __future__ import annotations

import doctest
import importlib

import numpy as np
import pytest

import descentlab

MODULES = [
    "descentlab.losses",
    "descentlab.losses.base",
    "descentlab.losses.torch_losses",
    "descentlab.losses.keras_losses",
    "descentlab.ops.loss",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(
        module,
        extraglobs={"np": np, "dl": descentlab, "descentlab": descentlab},
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
    )
    assert result.attempted > 0, f"no docstring examples in {name}"
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"


def test_every_loss_docstring_has_a_formula_convention_use_and_example():
    import descentlab.losses as L

    names = [*L.TORCH_LOSSES, *L.KERAS_LOSSES]
    names += [n for n in L.keras_losses.__all__ if n[0].islower() and n != "EPSILON"]
    for name in names:
        doc = getattr(L, name).__doc__ or ""
        assert ">>>" in doc, f"{name}: no example"
        assert "PyTorch" in doc or "Keras" in doc, f"{name}: no convention"
        assert "`" in doc, f"{name}: no formula"
        assert any(w in doc.lower() for w in ("use", "regression", "classification")), name
