"""The compiled Lambert W0 (``_lambertw.pxd``, used by the engine) against mpmath.

``eventsim._lambertw._py_lambertw0`` calls the very inline function the engine
calls.  The argument is ``ell = log(-z)``; ``ell + 1`` measures the distance to
the branch point ``z = -1/e``.
"""

import mpmath as mp
import numpy as np
import pytest

from eventsim._lambertw import _py_lambertw0

mp.mp.dps = 50


def reference(ell):
    """(W0, 1 + W0) of z = -exp(ell), with ell taken exactly as the double given."""
    z = -mp.exp(mp.mpf(float(ell)))
    w = mp.lambertw(z).real
    return float(w), float(1 + w)


def rel_errors(ells):
    w, q = _py_lambertw0(ells)
    ref = np.array([reference(e) for e in ells])
    with np.errstate(invalid="ignore", divide="ignore"):
        eq = np.where(ref[:, 1] != 0, np.abs(q - ref[:, 1]) / np.abs(ref[:, 1]), np.abs(q))
        ew = np.where(ref[:, 0] != 0, np.abs(w - ref[:, 0]) / np.abs(ref[:, 0]), np.abs(w))
    return eq, ew


def test_near_the_branch_point():
    """Within 1e-12 (down to one ulp) of -1/e, where 1 + W ~ sqrt(2 (1 + e z))."""
    rng = np.random.default_rng(0)
    d = np.r_[10.0 ** -np.arange(12, 16.5, 0.25), rng.uniform(0, 1e-12, 100),
              2.0 ** -np.arange(40, 53)]
    eq, ew = rel_errors(-1.0 - d)
    assert eq.max() <= 5e-16
    assert ew.max() <= 2.3e-16


def test_series_region():
    """1 + W < 0.3 uses the branch-point series; 1e-12 < 1 + e z < 0.045."""
    d = np.geomspace(1e-12, 0.045, 300)
    eq, ew = rel_errors(-1.0 - d)
    assert eq.max() <= 5e-16
    assert ew.max() <= 2.3e-16


def test_halley_region_and_large_arguments():
    """Away from the branch point (Halley iteration) down to z ~ 1e-300 and beyond."""
    ells = -1.0 - np.r_[np.geomspace(0.04, 50, 400), np.geomspace(50, 740, 60)]
    eq, ew = rel_errors(ells)
    assert eq.max() <= 2e-15
    assert ew.max() <= 1e-15
    # z underflows: W = z to the last bit, so 1 + W is 1.
    w, q = _py_lambertw0(np.array([-746.0, -1e4, -1e300, -np.inf]))
    np.testing.assert_array_equal(q, 1.0)
    assert (np.abs(w) <= 5e-324).all()


def test_branch_point_and_domain():
    w, q = _py_lambertw0(np.array([-1.0]))
    assert w[0] == -1.0 and q[0] == 0.0
    w, q = _py_lambertw0(np.nextafter(-1.0, -2.0))
    want = reference(np.nextafter(-1.0, -2.0))
    assert q[0] == pytest.approx(want[1], rel=5e-16)
    for bad in (-0.5, np.nextafter(-1.0, 0.0), np.nan):
        with pytest.raises(ValueError, match="ell must be <= -1"):
            _py_lambertw0(bad)


def test_defining_equation_holds():
    """Independent of mpmath: W e^W = z, and q and W agree to the rounding of 1 + W."""
    ells = -1.0 - np.geomspace(1e-10, 30, 500)
    w, q = _py_lambertw0(ells)
    z = -np.exp(ells)
    np.testing.assert_allclose(w * np.exp(w), z, rtol=4e-15, atol=0)
    np.testing.assert_allclose(q - 1.0, w, rtol=0, atol=1.2e-16)
