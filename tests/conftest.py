"""Shared test helpers: reference libraries that must be present in CI, seeded generators."""

from __future__ import annotations

import importlib
import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")


def require(module: str):
    """Import a reference library (torch, keras); skip locally if absent, fail loudly under CI."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{module} is required for parity tests in CI but is not installed: {err}")
        pytest.skip(f"{module} not installed")


@pytest.fixture
def torch():
    t = require("torch")
    t.set_num_threads(1)
    return t


@pytest.fixture
def keras():
    require("torch")
    return require("keras")


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
