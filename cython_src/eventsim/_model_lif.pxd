# LIF with exponential current synapses, time to first spike (Göltz et al.):
# MODEL_LIF (safeguarded Newton) and MODEL_LIF2 (tau_mem = 2 tau_syn: closed form),
# behind the model interface of docs/engine.md 12 (docs/math.md B.0).
#
# State, relative to the reference time R:
#   A = sum w e^{rate (a - R)},  B = sum w e^{rate_syn (a - R)},
#   V(t) = coef (A e^{-rate (t-R)} - B e^{-rate_syn (t-R)}),  I(t) = B e^{-rate_syn (t-R)}.
# Between inputs V(t + s) = a e^{-rm s} - b e^{-rs s} with a = coef A e^{-rm (t-R)},
# b = coef B e^{-rs (t-R)}.  Facts used (theta > 0):
# * With I <= 0, V cannot rise above 0 until an excitatory input comes: no crossing.
# * With I > 0, V is concave wherever it rises, and it has at most one extremum
#   between inputs; so from a rising point the tangent reaches theta no later than
#   V does (a lower bound, as for the alpha kernel), and Newton's iteration from
#   below converges monotonically to the crossing.
# * Since both exponentials are in (0, 1], V never exceeds
#   max(0, a) + max(0, -b): a cheap test that rules out crossings.
# Tape value q = V'(t_j) at the crossing.

from libc.stdint cimport int64_t, int32_t
from libc.math cimport sqrt
from eventsim._lambertw cimport exp, log, INFINITY
from eventsim._netrec cimport (NetRec, PopClock, MODEL_LIF2, CROSS_NONE, CROSS_FIRE,
                               CROSS_FAIL)

cdef extern from "_kernels.h" nogil:
    void es_block_arrive(double* A, double* B, const double* w, int64_t n, double ex,
                         double exdt)
    int64_t es_block_refresh_lif(const double* A, const double* B, const double* tbar,
                                 const double* tt, double* num, double* D, int32_t* idx,
                                 int64_t n, double t, double inv_m, double inv_s, double rm,
                                 double rs, double coef, double theta)


# ------------------------------------------------------------------------------
# Forward
# ------------------------------------------------------------------------------
cdef inline void lif_clock(const NetRec* net, int32_t p, double t, double R,
                           PopClock* c) noexcept nogil:
    """The population's time factors at t."""
    c.t = t
    c.ex = exp(net.rate[p] * (t - R))
    c.inv = 1.0 / c.ex
    if net.model[p] == MODEL_LIF2:
        # rate_syn = 2 tau: the square saves an exp (a rounding of difference).
        c.ex2 = c.ex * c.ex
        c.inv2 = c.inv * c.inv
    else:
        c.ex2 = exp(net.rate_syn[p] * (t - R))
        c.inv2 = 1.0 / c.ex2


cdef inline void lif_arrive(double* A, double* B, double w, const PopClock* c, double t,
                            double R) noexcept nogil:
    """State update on one arrival of weight w at time t (c: the clock at t)."""
    A[0] += w * c.ex
    B[0] += w * c.ex2


cdef inline void lif_block_arrive(double* A, double* B, const double* w, int64_t n,
                                  const PopClock* c, double t, double R) noexcept nogil:
    """lif_arrive() for n consecutive targets (vectorised, _kernels.h)."""
    es_block_arrive(A, B, w, n, c.ex, c.ex2)


cdef inline void lif_rebase(double* A, double* B, const NetRec* net, int32_t p,
                            double dt) noexcept nogil:
    """Move the reference time R forward by dt."""
    B[0] = B[0] * exp(-net.rate_syn[p] * dt)
    A[0] = A[0] * exp(-net.rate[p] * dt)


cdef inline int lif_bound(const NetRec* net, int32_t p, double A, double B, PopClock* c,
                          double t, double R, double* bound) noexcept nogil:
    """After inputs at t: 1 and a lower bound (tangent) of the next crossing in bound,
    or 0 if no crossing is possible before the next input."""
    cdef double xm, xs, K = net.coef[p], V, Vd, bd
    if c.t != t:
        lif_clock(net, p, t, R, c)
    xm = A * c.inv
    xs = B * c.inv2
    V = K * (xm - xs)
    Vd = K * (net.rate_syn[p] * xs - net.rate[p] * xm)
    if not (xs > 0.0 and Vd > 0.0 and
            (K * xm if K * xm > 0.0 else 0.0) - (K * xs if K * xs < 0.0 else 0.0) > net.theta[p]):
        return 0
    bd = t + ((net.theta[p] - V) / Vd) * (1.0 - 1e-10)
    bound[0] = t if bd < t else bd
    return 1


cdef inline int64_t lif_block_bound(const NetRec* net, int32_t p, const double* A,
                                    const double* B, const double* tbar, const double* tt,
                                    double* num, double* D, int32_t* idx, int64_t n,
                                    const PopClock* c, double t, double R) noexcept nogil:
    """lif_bound() for a block of n consecutive neurons (vectorised, _kernels.h)."""
    return es_block_refresh_lif(A, B, tbar, tt, num, D, idx, n, t, c.inv, c.inv2,
                                net.rate[p], net.rate_syn[p], net.coef[p], net.theta[p])


cdef inline int lif_exact(const NetRec* net, int32_t p, double A, double B, PopClock* c,
                          double t, double R, int max_iter, double* tc,
                          double* q) noexcept nogil:
    """The bound t was reached with no input since: the exact crossing, if any, from t
    on.  CROSS_FIRE with the time in tc and the tape value in q, CROSS_NONE, or
    CROSS_FAIL if Newton's iteration did not converge in max_iter steps."""
    cdef double K = net.coef[p], rm = net.rate[p], rs = net.rate_syn[p], theta = net.theta[p]
    cdef double a, b, V, Vd, s, ds, s_pk, arg, y, D, em, es
    cdef int it
    cdef bint converged
    if c.t != t:
        lif_clock(net, p, t, R, c)
    a = K * A * c.inv
    b = K * B * c.inv2
    V = a - b
    Vd = b * rs - a * rm
    if not (B > 0.0 and Vd > 0.0):
        return CROSS_NONE
    if V >= theta:
        # The bound t is below the crossing, so this is rounding at the ulp level.
        q[0] = Vd
        tc[0] = t
        return CROSS_FIRE
    if net.model[p] == MODEL_LIF2:
        # rm = rs / 2: with y = e^{-rm s}, V = a y - b y^2 (b > 0 as I > 0).  The
        # upward root is y = (a + D) / (2b), written to avoid cancellation (docs/math.md B.2).
        D = a * a - 4.0 * b * theta
        if not (a > 0.0 and D >= 0.0):
            return CROSS_NONE
        D = sqrt(D)
        y = (a + D) / (2.0 * b)                 # e^{-rm s}
        s = -log(y) / rm
        if not s > 0.0:
            s = 0.0
            y = 1.0
        q[0] = rm * y * D
        tc[0] = t + s
        return CROSS_FIRE
    # The extremum, a maximum since V rises now (docs/math.md B.3).
    arg = (a * rm) / (b * rs)
    if not arg > 0.0:
        return CROSS_NONE                       # rises towards 0 only
    s_pk = log(arg) / (rm - rs)
    if not (a * exp(-rm * s_pk) - b * exp(-rs * s_pk) >= theta):
        return CROSS_NONE
    s = 0.0
    converged = False
    for it in range(max_iter):
        ds = (theta - V) / Vd
        if not ds > 0.0:
            converged = True
            break
        if s + ds > s_pk:
            ds = s_pk - s               # only by rounding: the root is before the peak
        s += ds
        em = exp(-rm * s)
        es = exp(-rs * s)
        V = a * em - b * es
        Vd = b * rs * es - a * rm * em
        if ds <= 1e-15 * s or V >= theta or not Vd > 0.0:
            converged = True
            break
    if not converged:
        return CROSS_FAIL
    q[0] = Vd if Vd > 0.0 else 0.0
    tc[0] = t + s
    return CROSS_FIRE


# ------------------------------------------------------------------------------
# Backward: the local derivatives of a spike time t_j (docs/math.md B.6, C.4)
# ------------------------------------------------------------------------------
# kappa(s) = coef (e^{-rm s} - e^{-rs s}).  The kernel factors of an arrival s before
# t_j are ex = coef e^{-rm s} / V'(t_j) and ex2 = coef e^{-rs s} / V'(t_j), each
# factored as a target half (per spike, ej, ej2) times an arrival half (per delivery
# batch, fa, fa2).

cdef inline double lif_rate_max(const NetRec* net, int32_t p) noexcept nogil:
    """The largest decay rate of the kernel (bounds the growth of the factors)."""
    return net.rate[p] if net.rate[p] > net.rate_syn[p] else net.rate_syn[p]


cdef inline double lif_inv_vdot(const NetRec* net, int32_t p, double q) noexcept nogil:
    """1 / V'(t_j): the tape holds V'(t_j) itself."""
    return 1.0 / q


cdef inline void lif_target(const NetRec* net, int32_t p, double tj, double R0,
                            double inv_vdot, double* ej, double* ej2) noexcept nogil:
    """The target's halves of the factored kernel."""
    ej[0] = net.coef[p] * exp(-net.rate[p] * (tj - R0)) * inv_vdot
    ej2[0] = net.coef[p] * exp(-net.rate_syn[p] * (tj - R0)) * inv_vdot


cdef inline void lif_source(const NetRec* net, int32_t p, double a, double R0,
                            double* fa, double* fa2) noexcept nogil:
    """The arrival's halves of the factored kernel (one per delivery batch)."""
    fa[0] = exp(net.rate[p] * (a - R0))
    fa2[0] = exp(net.rate_syn[p] * (a - R0))


cdef inline void lif_jump(const NetRec* net, int32_t p, double w, double s, int64_t j,
                          bint factored, const double* ej, const double* ej2, double fa,
                          double fa2, const double* inv_vdot, double* dw,
                          double* da) noexcept nogil:
    """The adjoint jump's local derivatives dt_j / dw = -kappa / V' and
    dt_j / da = w kappa' / V' (unclipped) of an arrival of weight w, s before t_j: with
    the factored kernel (ej[j] fa, ej2[j] fa2) or, for long runs, its own exponentials."""
    cdef double ex, ex2
    if factored:
        ex = ej[j] * fa
        ex2 = ej2[j] * fa2
    else:
        ex = net.coef[p] * exp(-net.rate[p] * s) * inv_vdot[j]
        ex2 = net.coef[p] * exp(-net.rate_syn[p] * s) * inv_vdot[j]
    dw[0] = ex2 - ex
    da[0] = w * (net.rate_syn[p] * ex2 - net.rate[p] * ex)
