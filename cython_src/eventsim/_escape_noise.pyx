# The per-bin loops of the discrete-time escape-noise neuron (eventsim/escape_noise.py):
# the forward pass (teacher-forced or free-running) and the reverse sweep of its adjoint.
# Everything else (links, log-likelihood terms, the stable per-bin weight, the products
# with the inputs) is vectorised numpy in escape_noise.py; these loops are sequential in
# time, which is what numpy cannot vectorise.  docs/escape_noise.md 1 and 4 derive them.

from libc.math cimport exp, expm1, erfc

ctypedef unsigned char uint8


cdef inline double _prob(double z, int link) noexcept nogil:
    """F(z) for link 0 = probit, 1 = logistic, 2 = exponential (1 - exp(-e^z))."""
    cdef double e
    if link == 0:
        return 0.5 * erfc(-z * 0.7071067811865476)
    if link == 1:
        if z >= 0:
            return 1.0 / (1.0 + exp(-z))
        e = exp(z)
        return e / (1.0 + e)
    return -expm1(-exp(z))


def forward(const double[:, :, ::1] c, const double[::1] b, const double[:, :, ::1] resets,
            const double[:, :, ::1] u, bint teacher, double a_m, double a_s, double k,
            long n_ref, double v_reset, double v_init, double theta, double sigma, int link,
            bint subtract, double[:, :, ::1] V, uint8[:, :, ::1] S, uint8[:, :, ::1] R,
            uint8[:, :, ::1] F):
    """One pass over the bins for every (example, neuron); see escape_noise._forward_numpy.

    Used by eventsim.escape_noise only (``resets`` is read when ``teacher``, ``u`` otherwise).
    """
    cdef Py_ssize_t E = c.shape[0], T = c.shape[1], N = c.shape[2]
    cdef Py_ssize_t e, n, t
    cdef double v, j, bb, p
    cdef long hold
    cdef bint s, ref, frozen
    with nogil:
        for e in range(E):
            for n in range(N):
                v = v_init
                j = 0.0
                hold = 0
                bb = b[n]
                for t in range(T):
                    V[e, t, n] = v
                    ref = hold > 0
                    if teacher:
                        s = resets[e, t, n] > 0.5
                    elif ref:
                        s = False
                    else:
                        p = _prob((v - theta) / sigma, link)
                        s = u[e, t, n] < p
                    # A neuron that fired holds V at v_reset for n_ref bins.
                    frozen = (s and n_ref > 0) or hold > 1
                    R[e, t, n] = ref
                    S[e, t, n] = s
                    F[e, t, n] = frozen
                    if s:
                        hold = n_ref
                    elif hold > 0:
                        hold -= 1
                    j += c[e, t, n]
                    if s:
                        v = v - (theta - v_reset) if subtract else v_reset
                    if frozen:
                        v = v_reset
                    else:
                        v = bb + a_m * (v - bb) + k * j
                    j *= a_s


def backward(const double[:, :, ::1] g, const uint8[:, :, ::1] S, const uint8[:, :, ::1] F,
             double a_m, double a_s, double k, bint subtract, double[:, :, ::1] cbar,
             double[:, ::1] bbar, double[:, ::1] rbar):
    """The reverse sweep of escape_noise._backward_numpy: dl/dV -> dl/dc, dl/db, and the
    summed adjoint of the potential just after each spike's reset (rbar)."""
    cdef Py_ssize_t E = g.shape[0], T = g.shape[1], N = g.shape[2]
    cdef Py_ssize_t e, n, t
    cdef double vbar, jbar, bsum, rsum, live
    with nogil:
        for e in range(E):
            for n in range(N):
                vbar = 0.0
                jbar = 0.0
                bsum = 0.0
                rsum = 0.0
                for t in range(T - 1, -1, -1):
                    live = 0.0 if F[e, t, n] else vbar
                    jbar = a_s * jbar + k * live
                    bsum += (1.0 - a_m) * live
                    if S[e, t, n]:
                        rsum += a_m * live
                    # A reset to a value cuts the dependence on V; a subtraction keeps it.
                    vbar = g[e, t, n] + (0.0 if (S[e, t, n] and not subtract) else a_m * live)
                    cbar[e, t, n] = jbar
                bbar[e, n] = bsum
                rbar[e, n] = rsum
