# The continuous-time escape-noise (hazard) neuron: exact sampling by thinning, and the
# point-process log-likelihood of a target train with its exact gradients
# (eventsim/hazard.py is the interface; docs/escape_noise.md 11 derives everything here).
#
# The membrane is the spike-train engine's multi-spike LIF (_model_lif_multispike.pxd),
# reused as is: between two events V is a sum of two exponentials with at most one
# extremum, which gives both the exact bound of the hazard (thinning) and the
# breakpoints of the quadrature (likelihood).  Each (example, neuron) is one task, a pure
# function of its ids and its inputs: results do not depend on the number of threads.

cimport cython
from cython.parallel cimport prange
from libc.stdlib cimport malloc, realloc, free, qsort
from libc.math cimport exp, log, log1p, erfc, sqrt, fabs, isfinite
from libc.stdint cimport int64_t, uint64_t, uint8_t

from eventsim._random cimport stream_key, uniform_open, exponential
from eventsim._model_lif_multispike cimport (TrainPop, TRAIN_COLS, train_pops_fill,
                                              train_kappa, train_extremum)

import numpy as np

cdef enum:
    LINK_PROBIT = 0
    LINK_LOGISTIC = 1
    LINK_EXPONENTIAL = 2

cdef enum:
    REC_SEG = 0        # a free stretch: V analytic, hazard integrated
    REC_CLAMP = 1      # a refractory stretch: V held, no hazard
    REC_ARR = 2        # an arrival
    REC_SPK = 3        # a target spike (reset)

cdef enum:
    ERR_NONE = 0
    ERR_MEMORY = 1
    ERR_REFRACTORY = 2  # a target spike while the neuron is refractory: likelihood -inf

# The exponential link's hazard is capped at rho_0 e^700, so that it stays a finite double.
cdef double Z_CAP = 700.0
cdef double INV_SQRT2 = 0.7071067811865476
cdef double INV_SQRT2PI = 0.3989422804014327
cdef double LOG_SQRT2PI = 0.9189385332046728
# Quadrature: each component of a stretch's integrals to this relative error estimate
# (|Kronrod - Gauss|, which overstates the Kronrod rule's error by orders of magnitude).
cdef double RTOL = 1e-13
cdef enum:
    STACK = 512
# Thinning: a piece of the dominating process is halved until it expects at most this
# many candidates, so that a loose bound never costs many rejections.
cdef double MAX_CANDIDATES = 4.0


cdef struct Haz:
    double u            # threshold of the escape function
    double inv_sigma
    double sigma
    double rho0
    double log_rho0
    int link


cdef struct Arr:
    double t
    double w
    int64_t i           # input channel
    int64_t j           # index of the input spike in the example


cdef struct Rec:
    int kind
    int64_t i
    int64_t j
    double a            # SEG, CLAMP: h;    ARR: w;     SPK: dln rho/dV
    double em           # SEG: e^{-h/tau_mem}
    double es           # SEG, CLAMP: e^{-h/tau_syn}
    double kap          # SEG: kappa(h)
    double I1           # SEG: int rho'(V) e^{-s/tau_mem}
    double I2           # SEG: int rho'(V) kappa(s)
    double I3           # SEG: int rho'(V)


# ----------------------------------------------------------------------- the links
cdef inline double mills(double x) noexcept nogil:
    """Phi(-x) / phi(x) for x >= 5: Laplace's continued fraction, evaluated backwards
    (60 terms: converged to rounding for x >= 5)."""
    cdef double t = x
    cdef int k
    for k in range(60, 0, -1):
        t = x + k / t
    return 1.0 / t


cdef inline double link_F(int link, double z) noexcept nogil:
    cdef double e
    if link == LINK_PROBIT:
        return 0.5 * erfc(-z * INV_SQRT2)
    if link == LINK_LOGISTIC:
        if z >= 0.0:
            return 1.0 / (1.0 + exp(-z))
        e = exp(z)
        return e / (1.0 + e)
    return exp(z if z < Z_CAP else Z_CAP)


cdef inline double link_dF(int link, double z) noexcept nogil:
    """F'(z)."""
    cdef double e
    if link == LINK_PROBIT:
        return exp(-0.5 * z * z) * INV_SQRT2PI
    if link == LINK_LOGISTIC:
        e = exp(-fabs(z))
        return e / ((1.0 + e) * (1.0 + e))
    return exp(z) if z < Z_CAP else 0.0


cdef inline double link_logF(int link, double z) noexcept nogil:
    """ln F(z), finite for every finite z (probit: through the Mills ratio below -5)."""
    if link == LINK_PROBIT:
        if z > 0.0:             # ln(1 - Phi(-z)) without the rounding of 1 - tiny
            return log1p(-0.5 * erfc(z * INV_SQRT2))
        if z >= -5.0:
            return log(0.5 * erfc(-z * INV_SQRT2))
        return -0.5 * z * z - LOG_SQRT2PI + log(mills(-z))
    if link == LINK_LOGISTIC:
        if z >= 0.0:
            return -log1p(exp(-z))
        return z - log1p(exp(z))
    return z if z < Z_CAP else Z_CAP


cdef inline double link_dlogF(int link, double z) noexcept nogil:
    """F'(z) / F(z) without 0/0: about -z for the probit far below threshold."""
    if link == LINK_PROBIT:
        if z >= -5.0:
            return exp(-0.5 * z * z) * INV_SQRT2PI / (0.5 * erfc(-z * INV_SQRT2))
        return 1.0 / mills(-z)
    if link == LINK_LOGISTIC:
        return link_F(LINK_LOGISTIC, -z)        # 1 - F(z), without the cancellation
    return 1.0 if z < Z_CAP else 0.0


def link_terms(double[::1] z, int link):
    """(F, F', ln F, F'/F) at each z: the compiled links, exposed for the tests."""
    cdef Py_ssize_t k, n = z.shape[0]
    out = np.empty((4, n))
    cdef double[:, ::1] o = out
    for k in range(n):
        o[0, k] = link_F(link, z[k])
        o[1, k] = link_dF(link, z[k])
        o[2, k] = link_logF(link, z[k])
        o[3, k] = link_dlogF(link, z[k])
    return out


# ----------------------------------------------------------------------- the membrane
cdef inline double v_at(const TrainPop* P, double V0, double J0, double s,
                        double* J) noexcept nogil:
    """V(s) (and J(s)) from the free state (V0, J0)."""
    cdef double em, ej, k
    if s <= 0.0:
        J[0] = J0
        return V0
    em = exp(-s * P.inv_m)
    k = train_kappa(P, s, em, &ej)
    J[0] = J0 * ej
    return P.b + (V0 - P.b) * em + J0 * k


cdef inline double v_max(const TrainPop* P, double V0, double J0, double h, double* Vh,
                         double* Jh) noexcept nogil:
    """The exact maximum of V over [0, h], and the state at h."""
    cdef double m = V0, s, Js, Vs
    Vh[0] = v_at(P, V0, J0, h, Jh)
    if Vh[0] > m:
        m = Vh[0]
    if J0 - (V0 - P.b) > 0.0:          # rising at 0: the extremum, if any, is a maximum
        s = train_extremum(P, V0 - P.b, J0)
        if s > 0.0 and s < h:
            Vs = v_at(P, V0, J0, s, &Js)
            if Vs > m:
                m = Vs
    return m


# ----------------------------------------------------------------------- arrivals
cdef int arr_cmp(const void* x, const void* y) noexcept nogil:
    cdef const Arr* a = <const Arr*> x
    cdef const Arr* b = <const Arr*> y
    if a.t < b.t:
        return -1
    if a.t > b.t:
        return 1
    return (a.j > b.j) - (a.j < b.j)


cdef int64_t gather(Arr* arr, const double[::1] times, const int64_t[::1] index, int64_t s0,
                    int64_t s1, const double[:, ::1] W, const double[:, ::1] D, int64_t n,
                    bint sort, bint skip_zero, double t_end) noexcept nogil:
    """The arrivals at neuron n of the spikes s0..s1-1, in time order (ties: spike order),
    those after t_end left out."""
    cdef int64_t m = 0, j, i
    cdef double a
    for j in range(s0, s1):
        i = index[j]
        if skip_zero and W[i, n] == 0.0:
            continue
        a = times[j] + D[i, n]
        if a > t_end:
            continue
        arr[m].t = a
        arr[m].w = W[i, n]
        arr[m].i = i
        arr[m].j = j - s0
        m += 1
    if sort and m > 1:
        qsort(arr, m, sizeof(Arr), arr_cmp)
    return m


# ----------------------------------------------------------------------- thinning
cdef int64_t run_free(const TrainPop* P, const Haz* H, const Arr* arr, int64_t n_arr,
                      double T, uint64_t key, double** buf, int64_t* cap) noexcept nogil:
    """Sample one neuron's spikes on [0, T] exactly; -1 if out of memory.

    Between arrivals the hazard is dominated, piece by piece, by the constant
    rho_0 F((max V - u) / sigma) (max V exact, v_max); candidates of that Poisson process
    are accepted with probability rho(t) / bound.  The dominating process is consumed
    through one Exp(1) residual E: a piece of integrated bound B h < E holds no
    candidate and needs no random number (memorylessness)."""
    cdef double t = 0.0, V = P.v_init, J = 0.0, rel = 0.0, E, t1, h, rem, hstep, vm, B
    cdef double Vh, Jh, s, rho, uu, hmin
    cdef bint clamped = False
    cdef uint64_t ctr = 0
    cdef int64_t k = 0, count = 0
    cdef double* tmp
    E = exponential(key, ctr)
    ctr += 1
    while True:
        t1 = arr[k].t if k < n_arr else T
        hstep = t1 - t
        while t < t1:
            if clamped:
                s = (rel if rel < t1 else t1) - t
                J *= exp(-s * P.inv_s)
                if rel <= t1:
                    t = rel
                    clamped = False
                else:
                    t = t1
                hstep = t1 - t
                continue
            rem = t1 - t
            h = hstep if hstep < rem else rem
            # Below this width rounding of t dominates: a piece that still expects many
            # candidates fires at its first one (an error of at most hmin in that spike).
            hmin = 1e-13 * (t + P.tau_syn)
            while True:
                vm = v_max(P, V, J, h, &Vh, &Jh)
                B = H.rho0 * link_F(H.link, (vm - H.u) * H.inv_sigma)
                if B * h <= MAX_CANDIDATES or h <= hmin:
                    break
                h *= 0.5
            if E > B * h:
                E -= B * h
                V = Vh
                J = Jh
                t = t1 if h >= rem else t + h
                hstep = 2.0 * h
            else:
                s = E / B
                V = v_at(P, V, J, s, &Jh)
                J = Jh
                t = t + s
                if t > t1:
                    t = t1
                rho = H.rho0 * link_F(H.link, (V - H.u) * H.inv_sigma)
                uu = uniform_open(key, ctr)
                E = exponential(key, ctr + 1)
                ctr += 2
                if uu * B < rho or h <= hmin:
                    if count == cap[0]:
                        tmp = <double*> realloc(buf[0], 2 * cap[0] * sizeof(double))
                        if tmp == NULL:
                            return -1
                        buf[0] = tmp
                        cap[0] *= 2
                    buf[0][count] = t
                    count += 1
                    V = P.v_reset
                    if P.t_ref > 0.0:
                        clamped = True
                        rel = t + P.t_ref
                hstep = h - s if h > s else t1 - t
                if not hstep > 0.0:
                    hstep = t1 - t
        if k >= n_arr:
            break
        while k < n_arr and arr[k].t == t1:
            J += arr[k].w * P.inv_g
            k += 1
    return count


def simulate(const double[::1] times, const int64_t[::1] index, const int64_t[::1] offsets,
             const double[:, ::1] W, const double[:, ::1] D, const double[::1] bias,
             const double[::1] par, const uint8_t[::1] sort_col, double u, double sigma,
             double rho0, int link, uint64_t seed, const uint64_t[::1] ex_ids,
             const uint64_t[::1] nrn_ids, double T, int n_threads):
    """Free-running samples of every (example, neuron): (counts (E, N), flat times in
    example-major, neuron, time order).  ``par`` is one row of the spike-train table."""
    cdef int64_t E = offsets.shape[0] - 1, N = W.shape[1], n_tasks = E * N, task, e, n, c
    cdef int64_t max_in = 0, k, pos
    cdef TrainPop base
    cdef Haz H
    for e in range(E):
        if offsets[e + 1] - offsets[e] > max_in:
            max_in = offsets[e + 1] - offsets[e]
    _fill(&base, &H, par, u, sigma, rho0, link)
    counts = np.zeros((E, N), np.int64)
    ptrs = np.zeros(n_tasks, np.uint64)
    cdef int64_t[:, ::1] cnt = counts
    cdef uint64_t[::1] pt = ptrs
    cdef TrainPop P
    cdef Arr* arr
    cdef double* buf
    cdef int64_t cap, m
    for task in prange(n_tasks, nogil=True, schedule="dynamic", num_threads=n_threads):
        e = task // N
        n = task % N
        P = base
        P.b = bias[n] * base.inv_g
        arr = <Arr*> malloc((max_in + 1) * sizeof(Arr))
        cap = 16
        buf = <double*> malloc(cap * sizeof(double))
        if arr == NULL or buf == NULL:
            cnt[e, n] = -1
        else:
            m = gather(arr, times, index, offsets[e], offsets[e + 1], W, D, n, sort_col[n],
                       True, T)
            c = run_free(&P, &H, arr, m, T, stream_key(seed, ex_ids[e], nrn_ids[n]), &buf, &cap)
            cnt[e, n] = c
        free(arr)
        pt[task] = <uint64_t> <size_t> buf
    failed = bool((counts < 0).any())
    counts[counts < 0] = 0
    total = int(counts.sum())
    out = np.empty(total, np.float64)
    cdef double[::1] o = out
    pos = 0
    for task in range(n_tasks):
        buf = <double*> <size_t> pt[task]
        c = cnt[task // N, task % N]
        for k in range(c):
            o[pos + k] = buf[k]
        pos += c
        free(buf)
    if failed:
        raise MemoryError("out of memory while sampling the hazard neurons")
    return counts, out


cdef void _fill(TrainPop* P, Haz* H, const double[::1] par, double u, double sigma, double rho0,
                int link) except *:
    cdef double[:, ::1] row = np.asarray(par, np.float64).reshape(1, TRAIN_COLS).copy()
    train_pops_fill(P, row)
    H.u = u
    H.sigma = sigma
    H.inv_sigma = 1.0 / sigma
    H.rho0 = rho0
    H.log_rho0 = log(rho0)
    H.link = link


# ----------------------------------------------------------------------- quadrature
cdef double[8] XGK
cdef double[8] WGK
cdef double[4] WG
XGK[:] = [0.991455371120812639206854697526329, 0.949107912342758524526189684047851,
          0.864864423359769072789712788640926, 0.741531185599394439863864773280788,
          0.586087235467691130294144845693013, 0.405845151377397166906606412076961,
          0.207784955007898467600689403773245, 0.0]
WGK[:] = [0.022935322010529224963732008058970, 0.063092092629978553290700663189204,
          0.104790010322250183839876322541518, 0.140653259715525918745189590510238,
          0.169004726639267902826583426598550, 0.190350578064785409913256402421014,
          0.204432940075298892414161999234649, 0.209482141084727828012999174891714]
WG[:] = [0.129484966168869693270611432679082, 0.279705391489276667901467771423780,
         0.381830050505118944950369775488975, 0.417959183673469387755102040816327]


cdef inline void integrand(const TrainPop* P, const Haz* H, double U0, double J0, double s,
                           double* f) noexcept nogil:
    """rho(V(s)), rho'(V) e^{-s/tau_mem}, rho'(V) kappa(s), rho'(V) at offset s."""
    cdef double em = exp(-s * P.inv_m), ej, k, z, dr
    k = train_kappa(P, s, em, &ej)
    z = (P.b + U0 * em + J0 * k - H.u) * H.inv_sigma
    f[0] = H.rho0 * link_F(H.link, z)
    dr = H.rho0 * link_dF(H.link, z) * H.inv_sigma
    f[1] = dr * em
    f[2] = dr * k
    f[3] = dr


cdef inline void gk15(const TrainPop* P, const Haz* H, double U0, double J0, double a,
                      double b, double* K, double* err) noexcept nogil:
    """Gauss-Kronrod 15 (7-point Gauss embedded) of the four integrands over [a, b]."""
    cdef double c = 0.5 * (a + b), hw = 0.5 * (b - a), G[4], f1[4], f2[4]
    cdef int q, c4
    integrand(P, H, U0, J0, c, f1)
    for c4 in range(4):
        K[c4] = WGK[7] * f1[c4]
        G[c4] = WG[3] * f1[c4]
    for q in range(7):
        integrand(P, H, U0, J0, c - hw * XGK[q], f1)
        integrand(P, H, U0, J0, c + hw * XGK[q], f2)
        for c4 in range(4):
            K[c4] += WGK[q] * (f1[c4] + f2[c4])
            if q & 1:
                G[c4] += WG[q >> 1] * (f1[c4] + f2[c4])
    for c4 in range(4):
        K[c4] *= hw
        err[c4] = fabs(K[c4] - G[c4] * hw)


cdef double cross_u(const TrainPop* P, const Haz* H, double V0, double J0, double lo,
                    double hi) noexcept nogil:
    """The time in (lo, hi) where V = u on a piece where V is monotone and crosses u
    (bisection: 200 halvings or until the bracket stops shrinking)."""
    cdef double flo, mid, fm, Jx
    cdef int it
    flo = v_at(P, V0, J0, lo, &Jx) - H.u
    for it in range(200):
        mid = 0.5 * (lo + hi)
        if mid <= lo or mid >= hi:
            break
        fm = v_at(P, V0, J0, mid, &Jx) - H.u
        if (fm < 0.0) == (flo < 0.0):
            lo = mid
            flo = fm
        else:
            hi = mid
    return 0.5 * (lo + hi)


cdef double scale_at(const TrainPop* P, const Haz* H, double V0, double J0,
                     double s) noexcept nogil:
    """The time over which z changes by about one at offset s: sigma / |V'|, or
    sqrt(2 sigma / |V''|) where V' vanishes (at an extremum)."""
    cdef double Js, V = v_at(P, V0, J0, s, &Js), d1, d2, L = 1e300
    d1 = (Js - (V - P.b)) * P.inv_m
    d2 = (-Js * P.inv_s - d1) * P.inv_m
    if d1 != 0.0:
        L = H.sigma / fabs(d1)
    if d2 != 0.0 and sqrt(2.0 * H.sigma / fabs(d2)) < L:
        L = sqrt(2.0 * H.sigma / fabs(d2))
    return L


cdef int integrate(const TrainPop* P, const Haz* H, double V0, double J0, double h,
                   double* out) noexcept nogil:
    """The four integrals over a free stretch [0, h] from (V0, J0), each to RTOL.

    The stretch is cut where V peaks and where it crosses u, and graded geometrically
    away from every cut where the integrand may be significant: a hazard that is sharp
    on the scale of the stretch (small sigma) then always lies at the edge of a short
    piece, where Gauss-Kronrod cannot step over it.  Adaptive bisection follows."""
    cdef double pts[8]
    cdef double cut[512]
    cdef double k0[2048]
    cdef double e0[2048]
    cdef double sa[STACK]
    cdef double sb[STACK]
    cdef int sd[STACK]
    cdef double K[4]
    cdef double er[4]
    cdef double tol[4]
    cdef double tot[4]
    cdef double U0 = V0 - P.b, s, za, zb, zp, zs, zmax, L, p0, p1, mid, x, Jx
    cdef int np_ = 0, nc = 0, q, r, c4, top, ok, depth, grade0
    for c4 in range(4):
        out[c4] = 0.0
        tot[c4] = 0.0
    if not h > 0.0:
        return 0
    pts[np_] = 0.0
    np_ += 1
    s = train_extremum(P, U0, J0)
    if s > 0.0 and s < h:
        pts[np_] = s
        np_ += 1
    pts[np_] = h
    np_ += 1
    # Threshold crossings (V monotone on each piece: at most one per piece).
    q = 0
    while q < np_ - 1:
        za = v_at(P, V0, J0, pts[q], &Jx) - H.u
        zb = v_at(P, V0, J0, pts[q + 1], &Jx) - H.u
        if (za < 0.0 and zb > 0.0) or (za > 0.0 and zb < 0.0):
            x = cross_u(P, H, V0, J0, pts[q], pts[q + 1])
            if x > pts[q] and x < pts[q + 1]:
                for r in range(np_, q + 1, -1):
                    pts[r] = pts[r - 1]
                pts[q + 1] = x
                np_ += 1
                q += 1
        q += 1
    zmax = -1e300
    for q in range(np_):
        za = (v_at(P, V0, J0, pts[q], &Jx) - H.u) * H.inv_sigma
        if za > zmax:
            zmax = za
    # Cuts: every breakpoint, and geometric grading from the end of each piece where the
    # integrands peak: the larger z below u (and for the exponential link), the smaller z
    # above u, where rho' = rho_0 F'(z) / sigma peaks and rho is nearly flat.
    for q in range(np_ - 1):
        p0 = pts[q]
        p1 = pts[q + 1]
        cut[nc] = p0
        nc += 1
        za = (v_at(P, V0, J0, p0, &Jx) - H.u) * H.inv_sigma
        zb = (v_at(P, V0, J0, p1, &Jx) - H.u) * H.inv_sigma
        if H.link == LINK_EXPONENTIAL or (za <= 0.0 and zb <= 0.0):
            grade0 = za >= zb
        else:
            grade0 = za <= zb
        x = p0 if grade0 else p1
        zp = za if grade0 else zb
        if zp < zmax - 45.0 or (H.link != LINK_EXPONENTIAL and zp < -45.0):
            continue                # the whole piece contributes below rounding
        # ln F and ln F' change about max(1, |z|) times faster than z: over the piece by
        # about that times |zb - za|.  Gauss-Kronrod with bisection handles a smooth
        # variation of e^8; beyond that the peak may be narrower than the rule's nodes.
        zs = fabs(zp) if fabs(zp) > 1.0 else 1.0
        if fabs(zb - za) * zs <= 8.0:
            continue
        L = scale_at(P, H, V0, J0, x) / zs
        while L < 0.5 * (p1 - p0) and nc < 500:
            cut[nc] = (p0 + L) if grade0 else (p1 - L)
            nc += 1
            L *= 2.0
    cut[nc] = h
    nc += 1
    # Sort the cuts (few, nearly sorted: insertion sort).
    for q in range(1, nc):
        x = cut[q]
        r = q - 1
        while r >= 0 and cut[r] > x:
            cut[r + 1] = cut[r]
            r -= 1
        cut[r + 1] = x
    # First pass: the scale of each integral, for the tolerances; its rules are kept for
    # the pieces that need no bisection.
    for q in range(nc - 1):
        if cut[q + 1] > cut[q]:
            gk15(P, H, U0, J0, cut[q], cut[q + 1], &k0[4 * q], &e0[4 * q])
            for c4 in range(4):
                tot[c4] += k0[4 * q + c4]
    for c4 in range(4):
        tol[c4] = RTOL * fabs(tot[c4]) + 1e-300
    ok = 0
    for q in range(nc - 1):
        if not cut[q + 1] > cut[q]:
            continue
        top = 0
        sa[0] = cut[q]
        sb[0] = cut[q + 1]
        sd[0] = 0
        top = 1
        while top > 0:
            top -= 1
            p0 = sa[top]
            p1 = sb[top]
            depth = sd[top]
            if depth == 0:
                for c4 in range(4):
                    K[c4] = k0[4 * q + c4]
                    er[c4] = e0[4 * q + c4]
            else:
                gk15(P, H, U0, J0, p0, p1, K, er)
            mid = 0.5 * (p0 + p1)
            if (er[0] <= tol[0] and er[1] <= tol[1] and er[2] <= tol[2] and er[3] <= tol[3]) \
                    or depth >= 60 or top + 2 > STACK or not (mid > p0 and mid < p1):
                if depth >= 60 or top + 2 > STACK:
                    ok = 1
                for c4 in range(4):
                    out[c4] += K[c4]
                continue
            sa[top] = mid
            sb[top] = p1
            sd[top] = depth + 1
            sa[top + 1] = p0
            sb[top + 1] = mid
            sd[top + 1] = depth + 1
            top += 2
    return ok


def integrals(double V0, double J0, double h, const double[::1] par, double u, double sigma,
              double rho0, int link):
    """The four integrals of one free stretch (tests: against mpmath)."""
    cdef TrainPop P
    cdef Haz H
    cdef double out[4]
    _fill(&P, &H, par, u, sigma, rho0, link)
    integrate(&P, &H, V0, J0, h, out)
    return out[0], out[1], out[2], out[3]


# ----------------------------------------------------------------------- likelihood
cdef inline int push(Rec** recs, int64_t* n, int64_t* cap) noexcept nogil:
    cdef Rec* tmp
    if n[0] == cap[0]:
        tmp = <Rec*> realloc(recs[0], 2 * cap[0] * sizeof(Rec))
        if tmp == NULL:
            return -1
        recs[0] = tmp
        cap[0] *= 2
    n[0] += 1
    return 0


cdef int teacher(const TrainPop* P, const Haz* H, const Arr* arr, int64_t n_arr,
                 const double* tg, int64_t n_tg, double T, Rec** recs, int64_t* n_rec,
                 int64_t* cap, double* ll, double* comp, double* bad_t) noexcept nogil:
    """The forward pass with the resets at the target spikes: the log-likelihood in
    ll, the integrated hazard since the previous target spike (or 0) at each target
    spike in comp (time rescaling), and the tape of records for the reverse sweep."""
    cdef double t = 0.0, V = P.v_init, J = 0.0, rel = 0.0, tn, h, em, ej, kap, I[4], z
    cdef double acc = 0.0
    cdef bint clamped = False
    cdef int64_t k = 0, q = 0
    cdef Rec* r
    ll[0] = 0.0
    n_rec[0] = 0
    while True:
        tn = T
        if k < n_arr and arr[k].t < tn:
            tn = arr[k].t
        if q < n_tg and tg[q] < tn:
            tn = tg[q]
        if clamped and rel < tn:
            tn = rel
        h = tn - t
        if h > 0.0:
            if push(recs, n_rec, cap) < 0:
                return ERR_MEMORY
            r = &recs[0][n_rec[0] - 1]
            r.a = h
            ej = exp(-h * P.inv_s)
            r.es = ej
            if clamped:
                r.kind = REC_CLAMP
                J *= ej
            else:
                r.kind = REC_SEG
                integrate(P, H, V, J, h, I)
                em = exp(-h * P.inv_m)
                kap = train_kappa(P, h, em, &ej)
                r.em = em
                r.kap = kap
                r.I1 = I[1]
                r.I2 = I[2]
                r.I3 = I[3]
                ll[0] -= I[0]
                acc += I[0]
                V = P.b + (V - P.b) * em + J * kap
                J = J * ej
            t = tn
        while k < n_arr and arr[k].t == tn:
            J += arr[k].w * P.inv_g
            if push(recs, n_rec, cap) < 0:
                return ERR_MEMORY
            r = &recs[0][n_rec[0] - 1]
            r.kind = REC_ARR
            r.i = arr[k].i
            r.j = arr[k].j
            r.a = arr[k].w
            k += 1
        if clamped and rel == tn:
            clamped = False
        while q < n_tg and tg[q] == tn:
            if clamped:
                bad_t[0] = tn
                return ERR_REFRACTORY
            z = (V - H.u) * H.inv_sigma
            ll[0] += H.log_rho0 + link_logF(H.link, z)
            comp[q] = acc
            acc = 0.0
            if push(recs, n_rec, cap) < 0:
                return ERR_MEMORY
            r = &recs[0][n_rec[0] - 1]
            r.kind = REC_SPK
            r.a = link_dlogF(H.link, z) * H.inv_sigma
            V = P.v_reset
            if P.t_ref > 0.0:
                clamped = True
                rel = tn + P.t_ref
            q += 1
        if tn >= T:
            break
    return ERR_NONE


def likelihood(const double[::1] times, const int64_t[::1] index, const int64_t[::1] offsets,
               const double[::1] tg_times, const int64_t[::1] tg_index,
               const int64_t[::1] tg_offsets, const double[:, ::1] W, const double[:, ::1] D,
               const double[::1] bias, const double[::1] par, const uint8_t[::1] sort_col,
               double u, double sigma, double rho0, int link, double T, bint grad,
               bint grad_times, int n_threads):
    """Teacher-forced log-likelihood of every (example, neuron) and, with ``grad``, its
    gradients summed over examples.  Neurons run in parallel, each over the examples in
    order, so every sum has one order whatever the thread count.

    ``tg_*`` is the target SpikeTrains sorted by (example, time, neuron).
    Returns (ll (E, N), compensator (n_target_spikes,), gw, gd (n_in, N), gb, gu (N,),
    gt (n_input_spikes, N) or None, error code, its example, neuron, time)."""
    cdef int64_t E = offsets.shape[0] - 1, N = W.shape[1], n_in = W.shape[0]
    cdef int64_t max_in = 0, max_tg = 0, e, n, m, q, j, s0, x, nt
    cdef TrainPop base
    cdef Haz H
    _fill(&base, &H, par, u, sigma, rho0, link)
    for e in range(E):
        if offsets[e + 1] - offsets[e] > max_in:
            max_in = offsets[e + 1] - offsets[e]
        if tg_offsets[e + 1] - tg_offsets[e] > max_tg:
            max_tg = tg_offsets[e + 1] - tg_offsets[e]
    ll_a = np.zeros((E, N))
    comp_a = np.zeros(tg_times.shape[0])
    gw_a = np.zeros((n_in, N))
    gd_a = np.zeros((n_in, N))
    gb_a = np.zeros(N)
    gu_a = np.zeros(N)
    gt_a = np.zeros((times.shape[0] if grad_times else 0, N))
    err_a = np.zeros((N, 3))          # code, example, time
    cdef double[:, ::1] ll_v = ll_a, gw = gw_a, gd = gd_a, gt = gt_a, err = err_a
    cdef double[::1] comp_v = comp_a, gb = gb_a, gu = gu_a
    cdef TrainPop P
    cdef Arr* arr
    cdef double* tg
    cdef double* cp
    cdef int64_t* pos
    cdef Rec* recs
    cdef Rec* r
    cdef int64_t n_rec, cap
    cdef int code
    cdef double llv, bad_t, lv, lj, lvn, b_acc, u_acc, ga
    for n in prange(N, nogil=True, schedule="dynamic", num_threads=n_threads):
        P = base
        P.b = bias[n] * base.inv_g
        arr = <Arr*> malloc((max_in + 1) * sizeof(Arr))
        tg = <double*> malloc((max_tg + 1) * sizeof(double))
        cp = <double*> malloc((max_tg + 1) * sizeof(double))
        pos = <int64_t*> malloc((max_tg + 1) * sizeof(int64_t))
        cap = 64
        recs = <Rec*> malloc(cap * sizeof(Rec))
        # Assigned here so that prange makes them private (teacher() writes them by address).
        n_rec = 0
        llv = 0.0
        b_acc = 0.0
        u_acc = 0.0
        if arr == NULL or tg == NULL or cp == NULL or pos == NULL or recs == NULL:
            err[n, 0] = ERR_MEMORY
        else:
            for e in range(E):
                m = gather(arr, times, index, offsets[e], offsets[e + 1], W, D, n, sort_col[n],
                           False, T)
                nt = 0
                for x in range(tg_offsets[e], tg_offsets[e + 1]):
                    if tg_index[x] == n:
                        tg[nt] = tg_times[x]
                        pos[nt] = x
                        nt = nt + 1
                bad_t = 0.0
                code = teacher(&P, &H, arr, m, tg, nt, T, &recs, &n_rec, &cap, &llv, cp, &bad_t)
                if code != ERR_NONE:
                    err[n, 0] = code
                    err[n, 1] = e
                    err[n, 2] = bad_t
                    break
                ll_v[e, n] = llv
                for x in range(nt):
                    comp_v[pos[x]] = cp[x]
                if not grad:
                    continue
                # The reverse sweep: (lv, lj) are the adjoints of (V, J).
                lv = 0.0
                lj = 0.0
                s0 = offsets[e]
                for x in range(n_rec - 1, -1, -1):
                    r = &recs[x]
                    if r.kind == REC_SEG:
                        b_acc = b_acc + lv * (1.0 - r.em) - (r.I3 - r.I1)
                        u_acc = u_acc + r.I3
                        lvn = r.em * lv - r.I1
                        lj = r.es * lj + r.kap * lv - r.I2
                        lv = lvn
                    elif r.kind == REC_CLAMP:
                        lj = r.es * lj
                        lv = 0.0
                    elif r.kind == REC_ARR:
                        gw[r.i, n] += lj * P.inv_g
                        ga = r.a * P.inv_g * (lj * P.inv_s - lv * P.inv_m)
                        gd[r.i, n] += ga
                        if grad_times:
                            gt[s0 + r.j, n] += ga
                    else:
                        lv = r.a
                        u_acc = u_acc - r.a
        gb[n] = b_acc * P.inv_g
        gu[n] = u_acc
        free(arr)
        free(tg)
        free(cp)
        free(pos)
        free(recs)
    return ll_a, comp_a, gw_a, gd_a, gb_a, gu_a, (gt_a if grad_times else None), err_a
