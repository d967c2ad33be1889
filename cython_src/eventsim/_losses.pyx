# cython: cdivision=True, boundscheck=False, wraparound=False, initializedcheck=False
"""Compiled kernels of losses.py: one pass per example instead of a few dozen numpy
calls on small arrays, which cost more than the loss itself (a training step calls
the loss once per minibatch of, typically, 32 x 3 spike times)."""

import numpy as np
from libc.math cimport exp, expm1, log, isnan, isfinite, INFINITY
from libc.stdint cimport int64_t


def ttfs_cross_entropy(const double[:, ::1] t, const int64_t[::1] y, double tau0, double tau1,
                       double alpha, double max_loss):
    """(loss, dL_dt) of losses.ttfs_cross_entropy for checked arguments: out_times
    ``t`` (n, k) without NaN or -inf, labels ``y`` in 0..k-1, tau0, tau1 > 0,
    alpha >= 0.  The same formulas, in the same order, per example."""
    cdef Py_ssize_t n = t.shape[0], k = t.shape[1], r, c
    loss_np = np.empty(n)
    dl_np = np.empty((n, k))
    cdef double[::1] loss = loss_np
    cdef double[:, ::1] dl = dl_np
    cdef double smin, ssum, s, ty, l, e
    cdef int64_t lab
    with nogil:
        for r in range(n):
            lab = y[r]
            smin = INFINITY
            for c in range(k):
                s = t[r, c] / tau0
                if s < smin:
                    smin = s
            if smin < INFINITY:
                # Softmax of -t / tau0, shifted by the earliest spike (exp(-inf) = 0
                # for silent outputs).
                ssum = 0.0
                for c in range(k):
                    e = exp(-(t[r, c] / tau0 - smin))
                    dl[r, c] = e
                    ssum += e
                l = (t[r, lab] / tau0 - smin) + log(ssum)
                for c in range(k):
                    dl[r, c] = -dl[r, c] / ssum
            else:
                l = log(<double> k)
                for c in range(k):
                    dl[r, c] = -1.0 / k
            loss[r] = l if l < max_loss else max_loss
            ty = t[r, lab]
            if isfinite(ty):
                dl[r, lab] += 1.0
                for c in range(k):
                    dl[r, c] = dl[r, c] / tau0 if isfinite(t[r, c]) else 0.0
                loss[r] += alpha * expm1(ty / tau1)
                dl[r, lab] += alpha * exp(ty / tau1) / tau1
            else:
                # A silent label neuron: no gradient (see losses.ttfs_cross_entropy).
                for c in range(k):
                    dl[r, c] = 0.0
    return loss_np, dl_np
