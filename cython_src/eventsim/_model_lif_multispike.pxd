# Multi-spike LIF with exponential current synapses, reset, refractory period and a
# constant bias current, and the non-spiking leaky integrator (LI) readout: the
# per-neuron math of the spike-train event loop (_spiketrain_engine.pyx; docs/math.md
# C.1, docs/engine.md 13).
#
# Units: J = I / g_leak and b = bias / g_leak are in the units of V, so
#     tau_mem dV/dt = -V + J + b,     tau_syn dJ/dt = -J.
# With U = V - b and s the time since the state (V0, J0) was taken:
#     J(s) = J0 e^{-s/tau_syn},   U(s) = U0 e^{-s/tau_mem} + J0 kappa(s),
#     kappa(s) = coef (e^{-s/tau_mem} - e^{-s/tau_syn}),  coef = tau_syn / (tau_mem - tau_syn)
#              = (s/tau_mem) phi(s (1/tau_mem - 1/tau_syn)) e^{-s/tau_mem},  phi(x) = expm1(x)/x,
# the second form for time constants close to (or exactly) equal, where the first
# cancels.  U is a sum of two exponentials: at most one extremum between events,
# which is what makes the crossing search below exact.

from libc.math cimport expm1, log1p, log, fabs
from libc.stdint cimport int64_t
from eventsim._lambertw cimport exp, INFINITY
from eventsim._netrec cimport CROSS_NONE, CROSS_FIRE, CROSS_FAIL

cdef enum:                 # TrainPop.code
    TRAIN_LIF = 0          # spikes; t_ref = inf: fires once (the first-spike LIF)
    TRAIN_LI = 1           # leaky integrator: no threshold, never spikes

# One row per population of the table simulation._train_table() builds from the
# registry (NeuronModel.spike_train).
cdef enum:
    COL_CODE = 0
    COL_TAU_MEM = 1
    COL_TAU_SYN = 2
    COL_G_LEAK = 3
    COL_THETA = 4
    COL_V_RESET = 5
    COL_T_REF = 6
    COL_BIAS = 7
    COL_V_INIT = 8
    TRAIN_COLS = 9

cdef struct TrainPop:
    double tau_mem
    double tau_syn
    double inv_m           # 1 / tau_mem
    double inv_s           # 1 / tau_syn
    double coef            # tau_syn / (tau_mem - tau_syn) (unused when near)
    double ext             # tau_mem tau_syn / (tau_mem - tau_syn): extremum scale (unused when equal)
    double inv_g           # 1 / g_leak: a weight w adds w / g_leak to J
    double theta
    double v_reset
    double t_ref           # inf: never released (fires once)
    double b               # bias / g_leak
    double v_init
    double kmax            # max over s of kappa(s) (> 0)
    double gk_m            # EventProp's d kappa / d(1/tau) constants: 1/tau_syn / (1/tau_mem
    double gk_s            #   (1/tau_syn - 1/tau_mem)) and 1 / (1/tau_syn - 1/tau_mem) (not near)
    int code               # TRAIN_*
    int near               # the phi form of kappa (time constants within 5%)
    int equal              # tau_mem == tau_syn exactly
    int power              # tau_mem == power * tau_syn (2..64): e^{-s/tau_syn} = e^{-s/tau_mem}^power


cdef inline double train_power(double em, int power) noexcept nogil:
    """em ** power for 1 <= power <= 64: e^{-s/tau_syn} from e^{-s/tau_mem} when
    tau_mem = power tau_syn, one exponential less per state update (EventProp's 4,
    Brunel's 40, ...).  Binary powering, unrolled (the loop's own bookkeeping cost
    more than its multiplications; a fixed count of six squarings the compiler unrolls,
    and power is fixed per population, so its tests are always predicted): at most 12
    roundings, each relative error multiplied by at most power: below 1e-13 relative."""
    cdef double x = em, r
    cdef int b
    # The common small powers directly (4 and 3: tau_mem = 4 tau_syn and its crossing's
    # polynomial; 2 and 1 likewise for tau_mem = 2 tau_syn).
    if power <= 4:
        if power == 4:
            x = em * em
            return x * x
        if power == 3:
            return em * em * em
        return em * em if power == 2 else em
    r = em if power & 1 else 1.0
    for b in range(1, 7):
        x *= x
        if power & (1 << b):
            r *= x
    return r


cdef inline double train_kappa(const TrainPop* P, double s, double em, double* ej) noexcept nogil:
    """kappa(s) given em = e^{-s/tau_mem}; e^{-s/tau_syn} in ej."""
    cdef double x, e1
    if P.near:
        x = s * (P.inv_m - P.inv_s)
        if x == 0.0:
            ej[0] = em
            return s * P.inv_m * em
        e1 = expm1(x)
        ej[0] = em + em * e1
        return s * P.inv_m * (e1 / x) * em
    if P.power:
        ej[0] = train_power(em, P.power)
    else:
        ej[0] = exp(-s * P.inv_s)
    return P.coef * (em - ej[0])


cdef inline void train_flow(const TrainPop* P, double s, double* V, double* J) noexcept nogil:
    """Advance a free (not clamped) neuron's state by s >= 0."""
    cdef double em, ej, k
    if s <= 0.0:
        return
    em = exp(-s * P.inv_m)
    k = train_kappa(P, s, em, &ej)
    V[0] = P.b + (V[0] - P.b) * em + J[0] * k
    J[0] = J[0] * ej


cdef inline void train_flow_by(const TrainPop* P, double s, double em, double ej, double* V,
                               double* J) noexcept nogil:
    """train_flow() given em = e^{-s/tau_mem} and ej = e^{-s/tau_syn} (from the
    engine's per-population clock: no exponential per neuron)."""
    cdef double k, e2
    if P.near:
        k = train_kappa(P, s, em, &e2)
    else:
        k = P.coef * (em - ej)
    V[0] = P.b + (V[0] - P.b) * em + J[0] * k
    J[0] = J[0] * ej


cdef inline double train_extremum(const TrainPop* P, double U0, double J0) noexcept nogil:
    """Time s* > 0 of the only extremum of U from (U0, J0), or -1 if there is none.

    dU/ds = 0 gives e^{s (1/tau_syn - 1/tau_mem)} = 1 + (J0 - U0) / alpha with
    alpha = U0 + J0 coef; log1p keeps it exact as the time constants approach each
    other (it tends to tau (1 - U0 / J0), the equal-constant answer)."""
    cdef double alpha, arg, s
    if P.equal:
        if J0 == 0.0:
            return -1.0
        s = P.tau_mem * (J0 - U0) / J0
    else:
        alpha = U0 + J0 * P.coef
        if alpha == 0.0:
            return -1.0
        arg = (J0 - U0) / alpha
        if not arg > -1.0:
            return -1.0
        s = log1p(arg) * P.ext
    return s if s > 0.0 else -1.0


cdef inline int train_bound(const TrainPop* P, double V0, double J0, double* s_lb) noexcept nogil:
    """0 if no crossing can come from the free state (V0, J0) before the next event;
    else 1 and a lower bound of its time in s_lb, with no exponential.

    Over s >= 0, J(s) <= max(J0, 0) and U(s) >= min(U0, 0) + min(J0, 0) kmax, so
    tau_mem dU/ds = J - U <= max(J0, 0) - that: U rises at most linearly with that
    slope, and cannot reach c = theta - b before (c - U0) / slope.  The exact crossing
    is only computed when the bound is reached with no arrival in between, which
    most predictions never are (docs/math.md G.2)."""
    cdef double c = P.theta - P.b, U0 = V0 - P.b, slope
    if U0 >= c:
        s_lb[0] = 0.0
        return 1
    if (U0 if U0 > 0.0 else 0.0) + (J0 * P.kmax if J0 > 0.0 else 0.0) < c:
        return 0
    slope = ((J0 if J0 > 0.0 else 0.0) - (U0 if U0 < 0.0 else 0.0)
             - (J0 * P.kmax if J0 < 0.0 else 0.0)) * P.inv_m
    if not slope > 0.0:
        return 0
    # Shave a relative 1e-10, so that rounding never puts the bound after the crossing.
    s_lb[0] = (c - U0) / slope * (1.0 - 1e-10)
    return 1


cdef inline double _u(const TrainPop* P, double U0, double J0, double s, double* dU) noexcept nogil:
    """U(s) and dU/ds from (U0, J0)."""
    cdef double em = exp(-s * P.inv_m), ej, k = train_kappa(P, s, em, &ej)
    cdef double U = U0 * em + J0 * k
    dU[0] = (J0 * ej - U) * P.inv_m
    return U


cdef inline bint train_quiet(const TrainPop* P, double U0, double J0, double c,
                             double h) noexcept nogil:
    """Whether U = V - b, free from (U0 < c, J0), certainly stays below c = theta - b
    over [0, h] by the cheap tests, with no exponential: train_cross() then returns
    CROSS_NONE without a search.

    e^{-s/tau_mem} is in (0, 1] and kappa in [0, kmax]; U falling at 0 can only sink
    to a minimum and then rise towards 0 < c; and for tau_mem = power tau_syn the peak
    of a rising piece has a closed form: at the maximum U* = J(s*) = J0 r^{-p/(p-1)}
    with r = e^{s* (1/tau_syn - 1/tau_mem)} = J0 p / ((p - 1) A), A = U0 + J0 coef, so
    U* < c iff (J0 / c)^{p-1} < r^p.  Most rising pieces peak below threshold (an
    input that does not make the neuron fire); only a clear margin decides here,
    rounding-close cases (and overflowing powers) are left to the search."""
    cdef double A, q, lhs, rhs
    cdef int p = P.power
    if (U0 if U0 > 0.0 else 0.0) + (J0 * P.kmax if J0 > 0.0 else 0.0) < c:
        return True
    if J0 <= U0 and c > 0.0:
        return True
    if p and J0 > 0.0 and c > 0.0 and h * P.inv_m <= 600.0:
        A = U0 + J0 * P.coef
        if A > 0.0:
            q = J0 * p / ((p - 1) * A)
            lhs = train_power(J0 / c, p - 1) if p > 2 else J0 / c
            rhs = train_power(q, p)
            return lhs < rhs * (1.0 - 1e-9) and rhs < INFINITY
    return False


cdef inline int _cross_power_rising(const TrainPop* P, double U0, double J0, double c, double h,
                                   double* s_out, double* em_out) noexcept nogil:
    """train_cross() for the usual case of tau_mem = power tau_syn, with U rising at 0
    (J0 > U0) from an excitatory J0 > 0, with no exponential per step, where
    train_quiet() did not rule a crossing out.

    In x = e^{-s/tau_mem} the membrane is a polynomial, U = A x - B x^p with
    A = U0 + J0 coef and B = J0 coef > 0: concave in x, so Newton from x = 1 (s = 0,
    below c) moves monotonically towards the crossing and never past it.  An iterate
    past the maximum (dU/dx >= 0) or at x <= 0 therefore proves there is no crossing on
    the rising piece, and no bracket (no extremum, no log1p) is needed.  One log turns
    x into s at the end.  Returns CROSS_FAIL, for the bracketed search to decide, when
    rounding breaks the monotone picture (an iterate above c, slow convergence at a
    near-tangent crossing) or the crossing could lie where x underflows."""
    cdef double B = J0 * P.coef, A = U0 + B, x = 1.0, xn, xp, xprev, f = U0 - c, dg = U0 - J0
    cdef double s
    cdef int it, p = P.power
    if h * P.inv_m > 600.0:
        return CROSS_FAIL
    for it in range(40):
        if not dg < 0.0:
            return CROSS_NONE          # past the maximum: the rising piece stays below c
        xn = x - f / dg
        if not xn > 0.0:
            return CROSS_NONE          # a crossing would hold the tangent's root above it
        if xn >= x:
            break                      # no progress left: converged to rounding
        if x - xn <= 2.2e-16 * xn:
            x = xn
            break
        xprev = x
        x = xn
        xp = train_power(x, p - 1)
        f = (A - B * xp) * x - c
        dg = A - p * B * xp
        if f > 0.0:
            # Past the crossing, which concavity rules out but for rounding in U: after
            # a small step that is where the crossing is; after a large one, bracket.
            if xprev - x <= 1e-7 * x:
                break
            return CROSS_FAIL
        if f == 0.0:
            break
    else:
        return CROSS_FAIL
    s = -P.tau_mem * log(x)
    if s > h:
        return CROSS_NONE
    s_out[0] = s
    if em_out != NULL:
        em_out[0] = x
    return CROSS_FIRE


cdef inline int train_cross(const TrainPop* P, double V0, double J0, double h, int max_iter,
                            double* s_out, double* em_out=NULL) noexcept nogil:
    """First time s in [0, h] at which V reaches theta, from a free state (V0, J0).

    Returns CROSS_FIRE with s in s_out, CROSS_NONE, or CROSS_FAIL if the
    safeguarded Newton iteration ran out of steps.  On CROSS_FIRE, em_out (if not
    NULL) gets e^{-s/tau_mem} where the search had it (the polynomial way's root),
    else 0.  Power ratios rising from an excitatory state go the polynomial way first
    (_cross_power_rising); everything else, and whatever that leaves undecided, is
    bracketed (train_cross_bracketed).
    """
    cdef double c = P.theta - P.b, U0 = V0 - P.b
    cdef int rc
    if em_out != NULL:
        em_out[0] = 0.0
    if U0 >= c:
        # At threshold already (rounding at an arrival right before a crossing).
        s_out[0] = 0.0
        return CROSS_FIRE
    if train_quiet(P, U0, J0, c, h):
        return CROSS_NONE
    if P.power and J0 > U0 and J0 > 0.0:
        rc = _cross_power_rising(P, U0, J0, c, h, s_out, em_out)
        if rc != CROSS_FAIL:
            return rc
    return train_cross_bracketed(P, U0, J0, c, h, max_iter, s_out)


cdef inline int train_cross_bracketed(const TrainPop* P, double U0, double J0, double c,
                                      double h, int max_iter, double* s_out) noexcept nogil:
    """train_cross() for U = V - b from U0 < c, for any ratio of the time constants.

    U has at most one extremum, so the first rising piece of it is [0, s*] (rising
    at 0: s* is a maximum) or [s*, inf) (falling at 0: s* is a minimum, after which U
    rises towards 0, i.e. V towards b).  A crossing exists iff U reaches c = theta - b
    at the end of that piece (clipped to h); it is then unique and bracketed, so one
    that rises above theta and falls back between two events is never missed.
    """
    cdef double lo, hi, ss, f, df, sn, tol, fh, dfh
    cdef int it, hi_known
    ss = train_extremum(P, U0, J0)
    if J0 - U0 > 0.0:
        lo = 0.0
        hi = ss if ss > 0.0 else h
    elif ss > 0.0:
        lo = ss
        hi = h
    else:
        return CROSS_NONE
    if hi > h:
        hi = h
    if lo >= hi:
        return CROSS_NONE
    # Safeguarded Newton on [lo, hi] with U(lo) < c.  Whether U(hi) >= c (a crossing
    # exists) is only evaluated when an iterate needs the bracket: when a crossing
    # exists, Newton from below usually reaches it first, which saves an evaluation.
    tol = 1e-18 * P.tau_syn
    hi_known = 0
    ss = lo
    for it in range(max_iter):
        if ss == 0.0:
            f = U0 - c                     # no exponential at the start
            df = (J0 - U0) * P.inv_m
        else:
            f = _u(P, U0, J0, ss, &df) - c
        if f < 0.0:
            lo = ss
        elif f > 0.0:
            hi = ss
            hi_known = 1
        else:
            break
        sn = ss - f / df if df > 0.0 else -1.0
        # Rounding in U (kappa cancels at small s, more so with a large tau ratio
        # powered out of e^{-s/tau_mem}) can keep Newton's steps inside the bracket
        # without ever meeting the tolerance: after 40 steps, bisect, which ends in
        # at most 64 more.
        if it >= 40:
            sn = -1.0
        if not (sn > lo and sn < hi):
            if not hi_known:
                fh = _u(P, U0, J0, hi, &dfh) - c
                if fh < 0.0:
                    return CROSS_NONE
                if fh == 0.0:
                    ss = hi
                    break
                hi_known = 1
            sn = 0.5 * (lo + hi)
        # Converged to rounding; the floor matters when the crossing is right at the
        # start (a CHECK reached just before it): a relative test alone never passes
        # on a bracket that shrinks towards 0.
        if fabs(sn - ss) <= 2.2e-16 * sn + tol or (hi_known and hi - lo <= 2.2e-16 * hi + tol):
            ss = sn
            break
        ss = sn
    else:
        return CROSS_FAIL
    s_out[0] = ss
    return CROSS_FIRE


cdef inline void train_li_max(const TrainPop* P, double V0, double J0, double s, double t0,
                              double* vmax, double* tmax) noexcept nogil:
    """Raise (vmax, tmax) to the maximum of V over (t0, t0 + s] (an LI neuron advanced
    by s: the end point, or the interior maximum if V rises at t0 and peaks before)."""
    cdef double U0 = V0 - P.b, ss, V, J
    if J0 - U0 > 0.0:
        ss = train_extremum(P, U0, J0)
        if ss > 0.0 and ss < s:
            V = V0
            J = J0
            train_flow(P, ss, &V, &J)
            if V > vmax[0]:
                vmax[0] = V
                tmax[0] = t0 + ss


cdef inline int train_pops_fill(TrainPop* pops, const double[:, ::1] par) except -1:
    """Fill one TrainPop per row of the population table."""
    cdef int64_t p, k
    cdef double tm, ts, s_pk, ej
    cdef TrainPop* P
    for p in range(par.shape[0]):
        P = &pops[p]
        P.code = <int> par[p, COL_CODE]
        tm = par[p, COL_TAU_MEM]
        ts = par[p, COL_TAU_SYN]
        P.tau_mem = tm
        P.tau_syn = ts
        P.inv_m = 1.0 / tm
        P.inv_s = 1.0 / ts
        P.equal = tm == ts
        P.near = fabs(tm - ts) < 0.05 * tm
        P.power = 0
        for k in range(2, 65):
            if tm == k * ts:
                P.power = <int> k
        P.coef = ts / (tm - ts) if not P.equal else INFINITY
        P.ext = tm * ts / (tm - ts) if not P.equal else INFINITY
        P.gk_m = P.inv_s / (P.inv_m * (P.inv_s - P.inv_m)) if not P.equal else INFINITY
        P.gk_s = 1.0 / (P.inv_s - P.inv_m) if not P.equal else INFINITY
        P.inv_g = 1.0 / par[p, COL_G_LEAK]
        P.theta = par[p, COL_THETA]
        P.v_reset = par[p, COL_V_RESET]
        P.t_ref = par[p, COL_T_REF]
        P.b = par[p, COL_BIAS] / par[p, COL_G_LEAK]
        P.v_init = par[p, COL_V_INIT]
        # The peak of kappa: at tau for equal constants, else where
        # e^{s (1/tau_syn - 1/tau_mem)} = tau_mem / tau_syn.  Raised a little, so that
        # rounding never lets the exclusion test rule out a real crossing.
        s_pk = tm if P.equal else log1p((tm - ts) / ts) * P.ext
        P.kmax = train_kappa(P, s_pk, exp(-s_pk * P.inv_m), &ej) * (1.0 + 1e-9) + 1e-300
    return 0
