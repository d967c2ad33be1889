/* Small C kernels the Cython engine calls where `restrict` lets the compiler vectorise. */
#ifndef EVENTSIM_KERNELS_H
#define EVENTSIM_KERNELS_H
#include <stdint.h>
#include <math.h>

/* A[i] += w[i] * ex; B[i] += w[i] * exdt: one spike arriving at a block of targets. */
static inline void es_block_arrive(double *restrict A, double *restrict B,
                                   const double *restrict w, int64_t n,
                                   double ex, double exdt)
{
    for (int64_t i = 0; i < n; i++) {
        A[i] += w[i] * ex;
        B[i] += w[i] * exdt;
    }
}

/* Refresh a block of neurons of one population after arrivals at time t; see refresh()
   in _engine.pyx for the reasoning.  dt = t - R, thex = theta e^{tau dt}.  tbar: exact
   pending FIRE or emitted spike time (inf otherwise); tt: pending action time (inf: none).
   `alive` lists the block's neurons (offsets) that had not fired at the last refresh; it
   is compacted in place to those that still have not, and *n_alive updated.  Writes the
   offsets of the neurons whose action changes to idx, and for each the numerator and
   slope of its new CHECK bound, t + num/D, to num and D (D = 0: no crossing possible),
   and returns how many.  The division is left to the caller: most neurons keep their
   bound.
   Branch-free: which neurons fired or keep their bound is unpredictable. */
static inline int64_t es_block_refresh(const double *restrict A, const double *restrict B,
                                       const double *restrict tbar, const double *restrict tt,
                                       int32_t *restrict alive, int32_t *restrict n_alive,
                                       double *restrict num, double *restrict D,
                                       int32_t *restrict idx,
                                       double t, double dt, double tau, double thex)
{
    int64_t cnt = 0, na = 0, n = *n_alive;
    for (int64_t k = 0; k < n; k++) {
        int32_t i = alive[k];
        double a = A[i];
        double u = a * dt - B[i];             /* V(t) e^{tau dt} */
        double d = a - tau * u;               /* V'(t) e^{tau dt} */
        double nm = thex - u;                 /* (theta - V(t)) e^{tau dt} */
        double old = tt[i];
        /* A crossing is possible only while rising (A > 0, d > 0) and if the tangent
           reaches theta before the peak; the 1e-9 slack leaves near-tangent cases
           to the exact solver. */
        int ok = (a > 0.0) & (d > 0.0) & (tau * a * nm <= d * d * (1.0 + 1e-9));
        int live = tbar[i] > t;
        int is_check = (old < INFINITY) & (tbar[i] == INFINITY);
        /* A pending CHECK at `old` stays valid while the tangent is below theta there. */
        int keep = is_check & (nm * (1.0 - 1e-10) >= d * (old - t));
        int need = live & (ok ? !keep : (old < INFINITY));
        num[cnt] = nm;
        D[cnt] = ok ? d : 0.0;
        idx[cnt] = i;
        cnt += need;
        /* A neuron that fires at t (FIRE pending at t) has been processed before the
           refresh, so tbar <= t means fired for good. */
        alive[na] = i;
        na += live;
    }
    *n_alive = (int32_t) na;
    return cnt;
}

#endif
