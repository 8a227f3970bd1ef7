"""The docstring examples of the data package and the metrics module run and are right."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "descentlab.data",
    "descentlab.data.dataset",
    "descentlab.data.loader",
    "descentlab.data.sampler",
    "descentlab.data.preprocessing",
    "descentlab.data.datasets",
    "descentlab.data.formats",
    "descentlab.data.download",
    "descentlab.data.transforms",
    "descentlab.train.metrics",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"
