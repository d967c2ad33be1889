# The alpha-kernel SRM neuron (Comsa et al.), MODEL_ALPHA: its whole per-neuron math,
# behind the model interface of docs/engine.md 12.  Also runs LIF populations
# with tau_mem == tau_syn (Network._lower() scales their threshold).
#
# State, relative to the reference time R (docs/math.md A.1/A.3):
#   A = sum w e^{tau (a - R)},  B = sum w (a - R) e^{tau (a - R)},
#   V(t) = e^{-tau (t - R)} (A (t - R) - B).
# Tape value q = 1 + W0 at the crossing (every spike-time derivative divides by it).

from libc.stdint cimport int64_t, int32_t
from eventsim._lambertw cimport lambertw0_q, exp, log, INFINITY
from eventsim._netrec cimport NetRec, PopClock, CROSS_NONE, CROSS_FIRE

cdef extern from "_kernels.h" nogil:
    void es_block_arrive(double* A, double* B, const double* w, int64_t n, double ex,
                         double exdt)
    int64_t es_block_refresh(const double* A, const double* B, const double* tbar,
                             const double* tt, double* num, double* D, int32_t* idx, int64_t n,
                             double t, double dt, double tau, double thex)


# ------------------------------------------------------------------------------
# Forward
# ------------------------------------------------------------------------------
cdef inline void alpha_clock(const NetRec* net, int32_t p, double t, double R,
                             PopClock* c) noexcept nogil:
    """The population's time factors at t."""
    c.t = t
    c.ex = exp(net.rate[p] * (t - R))
    c.inv = 1.0 / c.ex


cdef inline void alpha_arrive(double* A, double* B, double w, const PopClock* c, double t,
                              double R) noexcept nogil:
    """State update on one arrival of weight w at time t (c: the clock at t)."""
    cdef double ex = w * c.ex
    A[0] += ex
    B[0] += ex * (t - R)


cdef inline void alpha_block_arrive(double* A, double* B, const double* w, int64_t n,
                                    const PopClock* c, double t, double R) noexcept nogil:
    """alpha_arrive() for n consecutive targets (vectorised, _kernels.h)."""
    es_block_arrive(A, B, w, n, c.ex, c.ex * (t - R))


cdef inline void alpha_rebase(double* A, double* B, const NetRec* net, int32_t p,
                              double dt) noexcept nogil:
    """Move the reference time R forward by dt."""
    cdef double f = exp(-net.rate[p] * dt)
    B[0] = (B[0] - dt * A[0]) * f
    A[0] = A[0] * f


cdef inline int alpha_bound(const NetRec* net, int32_t p, double A, double B, PopClock* c,
                            double t, double R, double* bound) noexcept nogil:
    """After inputs at t: 1 and a lower bound of the next crossing in bound, or 0 if
    no crossing is possible before the next input.

    While V rises it is concave up to its peak, so the tangent at t reaches theta no
    later than V does: no exp/log, no Lambert W."""
    cdef double tau = net.rate[p], U, D, num
    if A <= 0.0:
        # V = e^{-tau t}(A t - B) with A <= 0 never rises above its value now (< theta).
        return 0
    if c.t != t:
        alpha_clock(net, p, t, R, c)
    U = A * (t - R) - B                  # V(t) e^{tau (t - R)}
    D = A - tau * U                      # V'(t) e^{tau (t - R)}
    if D <= 0.0:
        # Past the peak: V only falls from here (and V(t) < theta).
        return 0
    num = net.theta[p] * c.ex - U
    # The tangent reaches theta after num / D; the peak comes after D / (tau A).  If
    # the tangent (an upper bound of concave V) reaches theta only after the peak,
    # V stays below theta.  The 1e-9 slack leaves near-tangent cases to alpha_exact().
    if tau * A * num > D * D * (1.0 + 1e-9):
        return 0
    # Shave a relative 1e-10 so rounding can never put the bound after the crossing.
    bound[0] = t + (num / D) * (1.0 - 1e-10)
    return 1


cdef inline int64_t alpha_block_bound(const NetRec* net, int32_t p, const double* A,
                                      const double* B, const double* tbar, const double* tt,
                                      double* num, double* D, int32_t* idx, int64_t n,
                                      const PopClock* c, double t, double R) noexcept nogil:
    """alpha_bound() for a block of n consecutive neurons (vectorised, _kernels.h):
    see es_block_refresh() for num, D and idx."""
    return es_block_refresh(A, B, tbar, tt, num, D, idx, n, t, t - R, net.rate[p],
                            net.theta[p] * c.ex)


cdef inline int alpha_exact(const NetRec* net, int32_t p, double A, double B, PopClock* c,
                            double t, double R, int max_iter, double* tc,
                            double* q) noexcept nogil:
    """The bound t was reached with no input since: the exact crossing by Lambert W0
    (docs/math.md A.2).  CROSS_FIRE with the time in tc and the tape value in q, or
    CROSS_NONE.  (max_iter: unused, W0 takes a fixed number of steps.)"""
    cdef double tau = net.rate[p], ell, W, qq, tcc
    if A <= 0.0:
        return CROSS_NONE
    ell = net.log_rate_theta[p] - log(A) + tau * B / A
    if not ell <= -1.0:
        return CROSS_NONE                 # the peak stays below theta
    qq = lambertw0_q(ell, &W)
    tcc = R + B / A - W / tau
    if tcc < t:
        # The bound t is below the true crossing (inhibition since only delays it), so
        # tc < t means either rounding at the ulp level (then V(t) is at theta) or a
        # spurious root before the latest input, where V was below theta (docs/math.md A.2).
        if c.t != t:
            alpha_clock(net, p, t, R, c)
        if (A * (t - R) - B) * c.inv < net.theta[p] * (1.0 - 1e-9):
            return CROSS_NONE
        tcc = t
    q[0] = qq
    tc[0] = tcc
    return CROSS_FIRE


# ------------------------------------------------------------------------------
# Backward: the local derivatives of a spike time t_j (docs/math.md A.4, C.4)
# ------------------------------------------------------------------------------
# kappa(s) = s e^{-tau s}.  The kernel factor of an arrival s before t_j is
# ex = e^{-tau s} / V'(t_j), factored as [e^{-tau (t_j - R0)} / V'(t_j)] [e^{tau (a - R0)}].

cdef inline double alpha_rate_max(const NetRec* net, int32_t p) noexcept nogil:
    """The largest decay rate of the kernel (bounds the growth of the factors)."""
    return net.rate[p]


cdef inline double alpha_inv_vdot(const NetRec* net, int32_t p, double q) noexcept nogil:
    """1 / V'(t_j) from the tape value q = 1 + W: -W / (rate theta (1 + W))."""
    return (1.0 - q) / (net.rate[p] * net.theta[p] * q)


cdef inline void alpha_target(const NetRec* net, int32_t p, double tj, double R0,
                              double inv_vdot, double* ej, double* ej2) noexcept nogil:
    """The target's half of the factored kernel."""
    ej[0] = exp(-net.rate[p] * (tj - R0)) * inv_vdot
    ej2[0] = 0.0


cdef inline void alpha_source(const NetRec* net, int32_t p, double a, double R0,
                              double* fa, double* fa2) noexcept nogil:
    """The arrival's half of the factored kernel (one per delivery batch)."""
    fa[0] = exp(net.rate[p] * (a - R0))
    fa2[0] = 0.0


cdef inline void alpha_jump(const NetRec* net, int32_t p, double w, double s, int64_t j,
                            bint factored, const double* ej, const double* ej2, double fa,
                            double fa2, const double* inv_vdot, double* dw,
                            double* da) noexcept nogil:
    """The adjoint jump's local derivatives dt_j / dw and dt_j / da (unclipped) of an
    arrival of weight w, s before t_j: with the factored kernel (ej[j] fa) or, for
    long runs, its own exponential."""
    cdef double ex
    if factored:
        ex = ej[j] * fa
    else:
        ex = exp(-net.rate[p] * s) * inv_vdot[j]
    dw[0] = -s * ex
    da[0] = w * (1.0 - net.rate[p] * s) * ex
