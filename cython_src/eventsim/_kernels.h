/* Small C kernels the Cython engine calls where `restrict` lets the compiler vectorise. */
#ifndef EVENTSIM_KERNELS_H
#define EVENTSIM_KERNELS_H
#include <stdint.h>
#include <math.h>

/* Wider vectors where the CPU has them, chosen at load time (portable binaries). */
#if defined(__GNUC__) && !defined(__clang__) && (defined(__x86_64__) || defined(__i386__))
#define ES_VECTOR_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define ES_VECTOR_CLONES
#endif

/* A[i] += w[i] * ex; B[i] += w[i] * exdt: one spike arriving at a block of targets. */
ES_VECTOR_CLONES static void es_block_arrive(double *restrict A, double *restrict B,
                                   const double *restrict w, int64_t n,
                                   double ex, double exdt)
{
    for (int64_t i = 0; i < n; i++) {
        A[i] += w[i] * ex;
        B[i] += w[i] * exdt;
    }
}

/* Shared by both block refresh kernels.  The decision per neuron, given whether a
   crossing is possible (ok), the tangent numerator nm and slope d at time t: the new
   D (d: new CHECK; 0: no crossing; -1: nothing changes -- fired, or the pending CHECK
   at tt still lies below the tangent).  Then the compaction of the changed offsets,
   branch-free since which neurons change is unpredictable. */
#if defined(__GNUC__)
#define ES_INLINE static inline __attribute__((always_inline))
#else
#define ES_INLINE static inline
#endif

ES_INLINE double es_decide(int ok, double nm, double d, double old, double tb, double t)
{
    int live = tb > t;
    int is_check = (old < INFINITY) & (tb == INFINITY);
    int keep = is_check & (nm * (1.0 - 1e-10) >= d * (old - t));
    int need = live & (ok ? !keep : (old < INFINITY));
    return need ? (ok ? d : 0.0) : -1.0;
}

ES_INLINE int64_t es_compact(const double *restrict D, int32_t *restrict idx, int64_t n)
{
    int64_t cnt = 0;
    for (int64_t i = 0; i < n; i++) {
        idx[cnt] = (int32_t) i;
        cnt += D[i] != -1.0;
    }
    return cnt;
}

/* Refresh a block of n consecutive neurons of one population after arrivals at time t;
   see refresh() in _engine.pyx for the reasoning.  dt = t - R, thex = theta e^{tau dt}.
   tbar: exact pending FIRE or emitted spike time (inf otherwise); tt: pending action
   time (inf: none).  Pass 1 (vectorised over the whole block; needs -fno-trapping-math)
   writes per neuron the numerator num and slope D of its new CHECK bound t + num/D,
   with D = 0 meaning "no crossing possible" and D = -1 "nothing changes" (fired, or
   the pending bound is still valid).  Pass 2 compacts the offsets of the others into
   idx, branch-free since which neurons change is unpredictable, and returns how many.
   The division is left to the caller: most neurons keep their bound. */
ES_VECTOR_CLONES static int64_t es_block_refresh(const double *restrict A, const double *restrict B,
                                       const double *restrict tbar, const double *restrict tt,
                                       double *restrict num, double *restrict D,
                                       int32_t *restrict idx, int64_t n,
                                       double t, double dt, double tau, double thex)
{
    for (int64_t i = 0; i < n; i++) {
        double a = A[i];
        double u = a * dt - B[i];             /* V(t) e^{tau dt} */
        double d = a - tau * u;               /* V'(t) e^{tau dt} */
        double nm = thex - u;                 /* (theta - V(t)) e^{tau dt} */
        double old = tt[i];
        double tb = tbar[i];
        /* A crossing is possible only while rising (A > 0, d > 0) and if the tangent
           reaches theta before the peak; the 1e-9 slack leaves near-tangent cases
           to the exact solver. */
        int ok = (a > 0.0) & (d > 0.0) & (tau * a * nm <= d * d * (1.0 + 1e-9));
        num[i] = nm;
        D[i] = es_decide(ok, nm, d, old, tb, t);
    }
    return es_compact(D, idx, n);
}

/* The same for a block of LIF neurons (refresh_lif() in _engine.pyx):
   inv_m = e^{-rm (t-R)}, inv_s = e^{-rs (t-R)}; num, D in absolute units. */
ES_VECTOR_CLONES static int64_t es_block_refresh_lif(const double *restrict A,
                                       const double *restrict B,
                                       const double *restrict tbar, const double *restrict tt,
                                       double *restrict num, double *restrict D,
                                       int32_t *restrict idx, int64_t n, double t,
                                       double inv_m, double inv_s, double rm, double rs,
                                       double coef, double theta)
{
    for (int64_t i = 0; i < n; i++) {
        double xm = A[i] * inv_m;
        double xs = B[i] * inv_s;
        double v = coef * (xm - xs);
        double d = coef * (rs * xs - rm * xm);
        double nm = theta - v;
        double pm = coef * xm, ps = -coef * xs;
        /* ternaries, not fmax(): they vectorise without a libm call */
        double ub = (pm > 0.0 ? pm : 0.0) + (ps > 0.0 ? ps : 0.0);
        double old = tt[i];
        double tb = tbar[i];
        /* Rising with a positive current, and able to reach theta at all. */
        int ok = (xs > 0.0) & (d > 0.0) & (ub > theta);
        num[i] = nm;
        D[i] = es_decide(ok, nm, d, old, tb, t);
    }
    return es_compact(D, idx, n);
}

/* One interval of the layered loop's block scan (_spiketrain_engine.lay_scan), for n
   multi-spike LIF neurons in U = V - b: the state at the interval's start into uh, jh
   and its end (decays em, ej, kernel k) into U, J; in cand, live[i] (1: not taken
   yet, 0: taken) where lay_neuron would search for a crossing and train_cross's
   first bound (kmax) does not rule one out, else 0.  Returns the sum of cand.
   The arithmetic is lay_neuron's, operation for operation (no contraction into
   fused multiply-adds: neither target enables them). */
ES_VECTOR_CLONES static double es_lif_scan(double *restrict U, double *restrict J,
                                           double *restrict uh, double *restrict jh,
                                           double *restrict cand, const double *restrict live,
                                           int64_t n, double em, double ej, double k,
                                           double b, double c, double kmax)
{
    double any = 0.0;
#if defined(_OPENMP)
#pragma omp simd reduction(+:any)
#endif
    for (int64_t i = 0; i < n; i++) {
        double u = U[i], j = J[i];
        double ue = u * em + j * k, jn = j * ej;
        double u0 = (u + b) - b;               /* train_cross's U0 */
        double bound = (u0 > 0.0 ? u0 : 0.0) + (j > 0.0 ? j : 0.0) * kmax;
        int hit = (u >= c) | (ue >= c) | ((j > u) & (jn < ue) & (bound >= c));
        double h = hit ? live[i] : 0.0;
        uh[i] = u;
        jh[i] = j;
        cand[i] = h;
        any += h;
        U[i] = ue;
        J[i] = jn;
    }
    return any;
}

/* exp(x[i]) and log(x[i]) in place for n values, four at a time where the CPU and the C
   library allow (glibc's libmvec, within an ulp or so of the scalar functions; results
   then depend on the CPU, never on the thread or the order of examples), else one by
   one.  es_log1 is one value through the same vector code, so that a draw made alone
   equals the same draw made in a batch. */
#if defined(__GLIBC__) && defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#if __GLIBC_PREREQ(2, 22)          /* libmvec's first release */
#define ES_HAVE_MVEC 1
#endif
#endif
#ifdef ES_HAVE_MVEC
#include <immintrin.h>
#pragma GCC push_options
#pragma GCC target("avx2")
__m256d _ZGVdN4v_exp(__m256d x);
__m256d _ZGVdN4v_log(__m256d x);
#define ES_MVEC_LOOP(name, f, pad)                                              \
static void name(double *x, int64_t n)                                          \
{                                                                               \
    int64_t i = 0;                                                              \
    for (; i + 4 <= n; i += 4)                                                  \
        _mm256_storeu_pd(x + i, f(_mm256_loadu_pd(x + i)));                     \
    if (i < n) {                                                                \
        double tail[4] = {pad, pad, pad, pad};                                  \
        for (int64_t k = i; k < n; k++)                                         \
            tail[k - i] = x[k];                                                 \
        _mm256_storeu_pd(tail, f(_mm256_loadu_pd(tail)));                       \
        for (int64_t k = i; k < n; k++)                                         \
            x[k] = tail[k - i];                                                 \
    }                                                                           \
}
ES_MVEC_LOOP(es_exp_avx2, _ZGVdN4v_exp, 0.0)
ES_MVEC_LOOP(es_log_avx2, _ZGVdN4v_log, 1.0)
static double es_log1_avx2(double x)
{
    return _mm256_cvtsd_f64(_ZGVdN4v_log(_mm256_set1_pd(x)));
}
/* es_clock_factors' interleaving, two times' decays and inverses per step; returns how
   many times it did (an odd last one is left to the caller). */
static int64_t es_factors_avx2(const double *e, double *f, int64_t n)
{
    int64_t i = 0;
    for (; i + 2 <= n; i += 2) {
        __m256d a = _mm256_loadu_pd(e + 2 * i);
        __m256d r = _mm256_div_pd(_mm256_set1_pd(1.0), a);
        _mm256_storeu_pd(f + 4 * i, _mm256_permute2f128_pd(a, r, 0x20));
        _mm256_storeu_pd(f + 4 * i + 4, _mm256_permute2f128_pd(a, r, 0x31));
    }
    return i;
}
#pragma GCC pop_options
#endif

/* Nonzero: the scalar functions even where the vector ones exist (a test hook). */
static int es_scalar_math = 0;

static int es_vector_math(void)
{
#ifdef ES_HAVE_MVEC
    return !es_scalar_math && __builtin_cpu_supports("avx2");
#else
    return 0;
#endif
}

#ifdef ES_HAVE_MVEC
#define ES_VECTOR_OR(avx2_loop, x, n) if (es_vector_math()) { avx2_loop(x, n); return; }
#else
#define ES_VECTOR_OR(avx2_loop, x, n)
#endif

static void es_exp_inplace(double *x, int64_t n)
{
    ES_VECTOR_OR(es_exp_avx2, x, n)
    for (int64_t i = 0; i < n; i++)
        x[i] = exp(x[i]);
}

static void es_log_inplace(double *x, int64_t n)
{
    ES_VECTOR_OR(es_log_avx2, x, n)
    for (int64_t i = 0; i < n; i++)
        x[i] = log(x[i]);
}

/* The clock factors of n times: given e[2i] = -(t_i - R)/tau_mem and e[2i + 1] =
   -(t_i - R)/tau_syn (overwritten), f[4i..4i + 3] = their exponentials and the
   exponentials' inverses (divisions, correctly rounded either way: half the
   exponentials). */
static void es_clock_factors(double *e, double *f, int64_t n)
{
    int64_t i = 0;
    es_exp_inplace(e, 2 * n);
#ifdef ES_HAVE_MVEC
    if (es_vector_math())
        i = es_factors_avx2(e, f, n);
#endif
    for (; i < n; i++) {
        f[4 * i] = e[2 * i];
        f[4 * i + 1] = e[2 * i + 1];
        f[4 * i + 2] = 1.0 / e[2 * i];
        f[4 * i + 3] = 1.0 / e[2 * i + 1];
    }
}

static double es_log1(double x)
{
#ifdef ES_HAVE_MVEC
    if (es_vector_math())
        return es_log1_avx2(x);
#endif
    return log(x);
}

#endif
