# cython: cdivision=True, boundscheck=False, wraparound=False, initializedcheck=False
"""The tangent of a spike-train run, replayed forward over its tape (docs/lyapunov.md 2).

The forward twin of _eventprop.pyx: one pass over the tape in the order the engine
wrote it, carrying every neuron's perturbation ``(dV, dJ)`` with the same flow as its
state, and applying the saltation rules at each entry:

* arrival of synapse k (weight w) whose spike moved by ``da``: ``dJ += (w/g) da /
  tau_syn`` and, unless clamped, ``dV -= (w/g) da / tau_mem``;
* spike: ``dt = -dV / dV/dt`` (0 at a tangency, counted); then ``dV = -f dt`` with the
  slope f after the reset (t_ref = 0), or 0 and the shift kept for the release (t_ref > 0),
  or an inert neuron (t_ref = inf);
* release: ``dV = -f dt`` of its spike.

The tape is causal (an entry comes after every entry it depends on) and each neuron's
entries are in time order, but across neurons it need not be in time order (the
windowed loop runs neuron by neuron within a window).  So a checkpoint is taken per
neuron, when its first entry after the checkpoint comes, and the checkpoint is complete
once the last entry at or before its time has been replayed (found in a first pass);
then the lagging neurons are brought to it.

Arrivals whose spike did not move (Poisson spikes, unshifted inputs) change nothing and
are skipped in the first pass, so the replay touches only the recurrent arrivals.

No renormalisation at every checkpoint (that would touch every pending spike shift):
the tangent runs unnormalised, and only when a completed checkpoint's norm leaves
[1e-100, 1e100] is everything divided by it, the factor's log kept.  Linearity makes the
two the same up to rounding.
"""

import numpy as np
from libc.stdlib cimport malloc, calloc, free
from libc.math cimport sqrt, log, isfinite
from libc.stdint cimport int64_t, int32_t, int8_t, uint8_t

from eventsim._lambertw cimport exp
from eventsim._netrec cimport NetRec, netrec_fill
from eventsim._train_tape cimport (LogEntry, check_tape_layout, tape_entry_ok, LOG_SOURCE,
                                   LOG_ARRIVAL,
                                   LOG_FIRE, LOG_RELEASE,
                                   MODE_FREE, MODE_CLAMPED, MODE_DONE)
from eventsim._model_lif_multispike cimport (TrainPop, TRAIN_COLS, train_pops_fill,
                                             train_kappa)

cdef double GUARD_HI = 1e100, GUARD_LO = 1e-100


cdef struct Sweep:
    const NetRec* net
    const TrainPop* pops
    const double* C            # checkpoints, increasing
    int64_t M
    int64_t n                  # neurons
    double* dV                 # per neuron: the tangent, at time tl
    double* dJ
    double* tl
    int8_t* mode
    int64_t* pend              # clamped: the spike-list index of the spike it waits on
    double* pscale             # clamped: dV/dt after the release, for the norm
    int32_t* nm                # next checkpoint the neuron has not been brought to
    double* dts                # per spike of the list: its shift, current units
    const uint8_t* measured
    double* ck_sq              # per checkpoint: the squared norm, current units
    double* dv_ck              # per checkpoint and neuron (NULL: not kept)
    double* dj_ck


cdef inline void flow(Sweep* S, int32_t q, double t) noexcept nogil:
    """Carry neuron q's tangent from tl to t."""
    cdef double s = t - S.tl[q], em, ej, k
    cdef const TrainPop* P
    S.tl[q] = t
    if s <= 0.0 or (S.dV[q] == 0.0 and S.dJ[q] == 0.0):
        return
    P = &S.pops[S.net.pop[q]]
    if S.mode[q] == MODE_FREE:
        em = exp(-s * P.inv_m)
        k = train_kappa(P, s, em, &ej)
        S.dV[q] = em * S.dV[q] + k * S.dJ[q]
        S.dJ[q] = S.dJ[q] * ej
    elif S.mode[q] == MODE_CLAMPED:
        S.dJ[q] = S.dJ[q] * exp(-s * P.inv_s)


cdef inline void record(Sweep* S, int32_t q, int64_t m) noexcept nogil:
    """Neuron q's contribution to checkpoint m (it has been brought to C[m])."""
    cdef double vn = S.dV[q]
    if S.dv_ck != NULL:
        S.dv_ck[m * S.n + q] = S.dV[q]
        S.dj_ck[m * S.n + q] = S.dJ[q]
    if S.measured[q]:
        if S.mode[q] == MODE_CLAMPED:
            # A refractory neuron's perturbation waits in its pending release.
            vn = S.pscale[q] * S.dts[S.pend[q]]
        S.ck_sq[m] += vn * vn + S.dJ[q] * S.dJ[q]
    S.nm[q] = <int32_t> (m + 1)


cdef inline void catch_up(Sweep* S, int32_t q, double t) noexcept nogil:
    """Record every checkpoint before t that neuron q has not reached."""
    cdef int64_t m = S.nm[q]
    while m < S.M and S.C[m] < t:
        flow(S, q, S.C[m])
        record(S, q, m)
        m += 1


cdef inline int64_t block_of(const double* C, int64_t M, double t, double inv_h) noexcept nogil:
    """Index of the first checkpoint >= t (M if none): a guess from the mean spacing,
    corrected by steps (the checkpoints are usually evenly spaced)."""
    cdef int64_t m = <int64_t> (t * inv_h) - 1
    if m < 0:
        m = 0
    if m > M - 1:
        m = M - 1
    while m > 0 and C[m - 1] >= t:
        m -= 1
    while m < M and C[m] < t:
        m += 1
    return m


def sweep(low, const double[:, ::1] pop_params, log_entries, const double[::1] C,
          const double[::1] dv0, const double[::1] dj0, const double[::1] shift,
          const uint8_t[::1] measured, bint rescale, bint keep_states):
    """Replay one example's tape (see module docstring).

    ``shift``: per spike of the engine's spike list, the shift of source spikes (entries of
    neurons' spikes are ignored).  Returns ``(ck_sq, ck_log, dv, dj, dt, fired, tangencies,
    n_fired)``: per checkpoint the squared norm over the measured neurons and the log of
    the factor it is scaled by (true = value * e^{ck_log}); the tangents at the checkpoints
    (None unless ``keep_states``); per spike of the list the shift when it happened (only
    used without rescaling) and whether it is a neuron's spike.
    """
    cdef NetRec net
    netrec_fill(&net, low)
    entries = np.ascontiguousarray(log_entries)
    check_tape_layout(entries)
    cdef int64_t n = net.n_neurons, M = C.shape[0], n_list = shift.shape[0]
    cdef int64_t total = entries.shape[0]
    if pop_params.shape[0] != net.n_pops or pop_params.shape[1] != TRAIN_COLS:
        raise ValueError("spike-train population table has the wrong shape")
    if dv0.shape[0] != n or dj0.shape[0] != n or measured.shape[0] != n:
        raise ValueError("initial tangents must have one entry per neuron")
    if M < 1:
        raise ValueError("no checkpoints")
    cdef const unsigned char[::1] raw = entries.view(np.uint8) if total else np.zeros(1, np.uint8)
    cdef const LogEntry* T = <const LogEntry*> &raw[0]
    cdef int64_t i, j, m, r, n_proc = 0, k, tangencies = 0, n_fired = 0
    cdef int32_t q
    cdef int8_t ty
    cdef double t, da, w, vdot, f, nrm, g, lg = 0.0
    cdef const TrainPop* P
    ck_sq = np.zeros(M)
    ck_log = np.zeros(M)
    dt = np.zeros(n_list)
    dv = np.zeros((M, n)) if keep_states else None
    dj = np.zeros((M, n)) if keep_states else None
    cdef double[::1] ck_sq_v = ck_sq, ck_log_v = ck_log, dt_v = dt
    cdef double[:, ::1] dv_v, dj_v
    cdef double[::1] dts = np.array(shift, np.float64)
    cdef int64_t nn = n if n > 0 else 1
    cdef TrainPop* pops = <TrainPop*> malloc((net.n_pops if net.n_pops > 0 else 1)
                                             * sizeof(TrainPop))
    cdef int64_t* proc = <int64_t*> malloc((total if total > 0 else 1) * sizeof(int64_t))
    cdef int64_t* done_at = <int64_t*> malloc(M * sizeof(int64_t))
    cdef int64_t* src = <int64_t*> malloc((total if total > 0 else 1) * sizeof(int64_t))
    cdef int64_t bad = -1
    fired = np.zeros(n_list, np.bool_)
    cdef uint8_t[::1] fired_v = fired.view(np.uint8)
    cdef Sweep S
    S.dV = <double*> malloc(nn * sizeof(double))
    S.dJ = <double*> malloc(nn * sizeof(double))
    S.tl = <double*> calloc(nn, sizeof(double))
    S.mode = <int8_t*> calloc(nn, sizeof(int8_t))
    S.pend = <int64_t*> calloc(nn, sizeof(int64_t))
    S.pscale = <double*> calloc(nn, sizeof(double))
    S.nm = <int32_t*> calloc(nn, sizeof(int32_t))
    try:
        if (pops == NULL or proc == NULL or done_at == NULL or src == NULL or S.dV == NULL
                or S.dJ == NULL or S.tl == NULL or S.mode == NULL or S.pend == NULL
                or S.pscale == NULL or S.nm == NULL):
            raise MemoryError()
        train_pops_fill(pops, pop_params)
        S.net = &net
        S.pops = pops
        S.C = &C[0]
        S.M = M
        S.n = n
        S.dts = &dts[0] if n_list else NULL
        S.measured = &measured[0] if n else NULL
        S.ck_sq = &ck_sq_v[0]
        S.dv_ck = NULL
        S.dj_ck = NULL
        if keep_states and n:
            dv_v = dv
            dj_v = dj
            S.dv_ck = &dv_v[0, 0]
            S.dj_ck = &dj_v[0, 0]
        for q in range(n):
            if net.pop[q] >= 0:
                S.dV[q] = dv0[q]
                S.dJ[q] = dj0[q]
            else:
                S.dV[q] = 0.0
                S.dJ[q] = 0.0
                S.nm[q] = <int32_t> M          # sources have no state to record
        with nogil:
            # First pass: the checks (a damaged tape must raise, not read out of
            # bounds), the entries that change the tangent with the spike each arrival
            # carries, and for each checkpoint the last of them at or before it.
            for m in range(M):
                done_at[m] = -1
            g = M / C[M - 1] if C[M - 1] > 0 else 0.0
            for j in range(total):
                if not tape_entry_ok(&net, &T[j], total, n_list):
                    bad = j
                    break
                ty = T[j].type
                if ty == LOG_SOURCE:
                    continue
                # The forward sweep also reads the entry an arrival or a release refers
                # to: it must come earlier and be a spike.
                k = -1
                r = T[j].ref
                if ty == LOG_ARRIVAL:
                    if r < 0:
                        continue                   # a Poisson spike: it does not move
                    if r >= j or (T[r].type != LOG_FIRE and T[r].type != LOG_SOURCE):
                        bad = j
                        break
                    k = T[r].syn
                    if T[r].type == LOG_SOURCE and dts[k] == 0.0:
                        continue
                elif ty == LOG_RELEASE:
                    if r >= j or T[r].type != LOG_FIRE or T[r].neuron != T[j].neuron:
                        bad = j
                        break
                    k = T[r].syn
                m = block_of(S.C, M, T[j].t, g)
                if m >= M:
                    continue                       # after the last checkpoint
                proc[n_proc] = j
                src[n_proc] = k
                if n_proc > done_at[m]:
                    done_at[m] = n_proc
                n_proc += 1
            for m in range(1, M):
                if done_at[m - 1] > done_at[m]:
                    done_at[m] = done_at[m - 1]
        if bad >= 0:
            raise ValueError(f"the tape is damaged (entry {bad})")
        with nogil:
            # Second pass.
            m = 0
            i = 0
            while True:
                # Complete every checkpoint whose entries have all been replayed.
                while m < M and done_at[m] < i:
                    for q in range(n):
                        if S.nm[q] == m:
                            flow(&S, q, C[m])
                            record(&S, q, m)
                    ck_log_v[m] = lg
                    nrm = sqrt(ck_sq_v[m])
                    if rescale and isfinite(nrm) and nrm > 0.0 and (
                            nrm > GUARD_HI or nrm < GUARD_LO):
                        f = 1.0 / nrm
                        lg += log(nrm)
                        for q in range(n):
                            S.dV[q] *= f
                            S.dJ[q] *= f
                        for k in range(n_list):
                            dts[k] *= f
                        for k in range(m + 1, M):
                            ck_sq_v[k] *= f * f
                            if S.dv_ck != NULL:
                                for q in range(n):
                                    S.dv_ck[k * n + q] *= f
                                    S.dj_ck[k * n + q] *= f
                    m += 1
                if i >= n_proc:
                    break
                j = proc[i]
                i += 1
                q = T[j].neuron
                t = T[j].t
                ty = T[j].type
                P = &pops[net.pop[q]]
                catch_up(&S, q, t)
                flow(&S, q, t)
                if ty == LOG_ARRIVAL:
                    if S.mode[q] == MODE_DONE:
                        continue
                    da = dts[src[i - 1]]
                    w = net.weights[T[j].syn] * P.inv_g * da
                    S.dJ[q] += w * P.inv_s
                    if T[j].mode == MODE_FREE:
                        S.dV[q] -= w * P.inv_m
                elif ty == LOG_FIRE:
                    n_fired += 1
                    k = T[j].syn
                    fired_v[k] = 1
                    vdot = (T[j].J + P.b - P.theta) * P.inv_m
                    if vdot > 0.0:
                        da = -S.dV[q] / vdot
                    else:
                        da = 0.0                 # a tangency: no derivative
                        tangencies += 1
                    dts[k] = da
                    dt_v[k] = da
                    f = (T[j].J + P.b - P.v_reset) * P.inv_m
                    S.mode[q] = T[j].mode
                    if T[j].mode == MODE_FREE:
                        S.dV[q] = -f * da
                    elif T[j].mode == MODE_CLAMPED:
                        S.dV[q] = 0.0
                        S.pend[q] = k
                        S.pscale[q] = f
                    else:
                        S.dV[q] = 0.0
                        S.dJ[q] = 0.0
                else:                            # LOG_RELEASE
                    f = (T[j].J + P.b - P.v_reset) * P.inv_m
                    S.dV[q] = -f * dts[src[i - 1]]
                    S.mode[q] = MODE_FREE
    finally:
        free(pops); free(proc); free(done_at); free(src)
        free(S.dV); free(S.dJ); free(S.tl); free(S.mode); free(S.pend); free(S.pscale)
        free(S.nm)
    return ck_sq, ck_log, dv, dj, dt, fired, tangencies, n_fired
