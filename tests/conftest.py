"""Shared fixtures.  ``tests/reference.py`` (the brute-force reference simulator)
is importable from the tests as ``reference``."""

import numpy as np
import pytest


@pytest.fixture
def rng():
    """A seeded numpy Generator (fresh for every test)."""
    return np.random.default_rng(20240601)
