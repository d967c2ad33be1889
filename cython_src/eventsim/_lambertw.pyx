"""Lambert W0 on [-1/e, 0), exposed for tests.

The engine inlines :c:func:`lambertw0_q` from ``_lambertw.pxd``; this module only
wraps that same compiled function (tests/test_lambertw.py checks it against mpmath).
The pure-Python version in :mod:`eventsim.pyengine` is a separate implementation.
"""
import numpy as np

from eventsim._lambertw cimport lambertw0_q


def _py_lambertw0(ell):
    """Test entry point of the compiled lambertw0_q: return (W0(z), 1 + W0(z)) for
    z = -exp(ell), ell <= -1 (arrays of float64)."""
    cdef double[::1] e = np.ascontiguousarray(np.atleast_1d(ell), dtype=np.float64)
    w = np.empty(e.shape[0])
    q = np.empty(e.shape[0])
    cdef double[::1] wv = w, qv = q
    cdef double ww
    cdef Py_ssize_t i
    for i in range(e.shape[0]):
        if not e[i] <= -1.0:
            raise ValueError(f"ell must be <= -1 (z in [-1/e, 0)), got {e[i]}")
        qv[i] = lambertw0_q(e[i], &ww)
        wv[i] = ww
    return w, q
