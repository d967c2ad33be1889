# cython: cdivision=True, boundscheck=False, wraparound=False, initializedcheck=False
"""EventProp: exact gradients of the spike-train engine, by the adjoint method.

The reverse sweep of Wunderlich & Pehle (2021) over the tape the forward run kept
(``_train_tape.pxd``), extended to reset to ``v_reset``, refractory clamping, delays,
bias, LI readouts, and the time constants (docs/math.md G.3-G.5).

Each neuron carries an adjoint ``(lV, lJ) = (dL/dV, dL/dJ)`` of its state, valid at
the time ``tl`` it was last brought to.  Between the neuron's own events the adjoint
flows backward by the transpose of the forward flow, using the state the tape kept
just after the earlier event (the only place the forward state is needed, besides
the time-constant gradients).  At each tape entry, in reverse order:

* arrival of synapse k at time a: ``dL/dw_k += lJ / g``; the arrival time's
  adjoint ``(w/g)(lJ/tau_syn - lV/tau_mem)`` (no ``lV`` term while clamped) goes to
  the delay and to the presynaptic spike;
* spike at t_k: its total adjoint ``G`` (loss, downstream arrivals, the reset's and
  the release's shift) gives ``dL/dtheta += G / dV/dt`` and ``lV = -G / dV/dt``;
* release at the end of a refractory period: its shift is the spike's, so
  ``-dV/dt(release) lV`` joins that spike's ``G``; ``lV = 0`` while clamped.

Examples run in fixed chunks (independent of the thread count), each summed in
order, and the chunks are added in order: results are bit-identical for any
number of threads.
"""

import numpy as np
from cython.parallel cimport prange
from libc.stdlib cimport malloc, calloc, realloc, free
from libc.string cimport memset, memcpy
from libc.math cimport expm1, fabs, isfinite
from libc.stdint cimport int64_t, int32_t, int8_t, uint64_t

from eventsim._lambertw cimport exp, INFINITY
from eventsim._netrec cimport NetRec, netrec_fill, KIND_PULSE, KIND_INPUT
from eventsim._train_tape cimport (LogEntry, check_tape_layout, tape_entry_ok, LOG_SOURCE, LOG_ARRIVAL,
                                   LOG_FIRE, LOG_RELEASE, MODE_FREE,
                                   MODE_CLAMPED, MODE_DONE)
from eventsim._model_lif_multispike cimport (TrainPop, TRAIN_COLS, train_pops_fill, train_kappa,
                                             train_flow)

cdef enum:                 # per-population gradients, columns of the output table
    GP_THETA = 0
    GP_V_RESET = 1
    GP_T_REF = 2
    GP_BIAS = 3
    GP_V_INIT = 4
    GP_TAU_MEM = 5
    GP_TAU_SYN = 6
    N_GP = 7


cdef struct Losses:
    # Readout losses: dL/dV at readout_times and dL/d(max V), per example.
    const double* ro_t
    int64_t n_ro
    const int32_t* li_slot
    int64_t n_li
    const double* dv       # (n_ex, n_ro, n_li)
    const double* dvmax    # (n_ex, n_li)
    const double* tvmax    # (n_ex, n_li)
    double t_max


cdef enum:
    DECAYS = 64            # entries of a sweep's decay cache (a power of two)


cdef struct Decay:
    # The flow over a span d of population P: its decays, kappa, and kappa's
    # derivatives with respect to the time constants.
    double d               # -1: empty
    const TrainPop* P
    double em
    double ej
    double k
    double dkm
    double dks


cdef struct Slot:
    # One chunk of examples: its gradient sums and the per-neuron adjoints.
    double* gw
    double* gd
    double* gp             # (n_pops, N_GP)
    double* gpulse
    double* lV
    double* lJ
    double* tl
    double* G              # per tape entry of the current example
    int64_t G_cap
    int failed             # out of memory
    int64_t bad            # the first tape entry the sweep could not follow, or -1
    Decay decays[DECAYS]


cdef inline double dphi(double y) noexcept nogil:
    """phi'(y) for phi(y) = expm1(y) / y: a series near 0, where the closed form cancels."""
    cdef double e
    if fabs(y) < 0.05:
        return (0.5 + y * (1.0 / 3.0 + y * (1.0 / 8.0 + y * (1.0 / 30.0 + y * (1.0 / 144.0 + y * (
            1.0 / 840.0 + y * (1.0 / 5760.0 + y * (1.0 / 45360.0))))))))
    e = exp(y)
    return (e * (y - 1.0) + 1.0) / (y * y)


cdef inline void kappa_grads(const TrainPop* P, double s, double em, double ej, double k,
                             double* dk_dtm, double* dk_dts) noexcept nogil:
    """Derivatives of kappa(s) with respect to tau_mem and tau_syn.

    With u = 1/tau_mem, v = 1/tau_syn: kappa = u (e^{-us} - e^{-vs}) / (v - u)
    = u s e^{-us} phi((u - v) s).  Far from u = v the first form is exact; near it
    the second (docs/math.md G.5)."""
    cdef double u = P.inv_m, v = P.inv_s, y, ph, dp, dku, dkv
    if P.near:
        y = (u - v) * s
        ph = expm1(y) / y if y != 0.0 else 1.0
        dp = dphi(y)
        dku = s * em * (ph * (1.0 - u * s) + u * s * dp)
        dkv = -u * s * s * em * dp
    else:
        dku = k * P.gk_m - P.coef * s * em
        dkv = P.coef * s * ej - k * P.gk_s
    dk_dtm[0] = -u * u * dku
    dk_dts[0] = -v * v * dkv


cdef inline const Decay* decay_of(Decay* cache, const TrainPop* P, double d) noexcept nogil:
    """The flow over d, from a small direct-mapped cache: in a layered run all neurons of
    a block see the same spans between the block's input times, so most are hits (a
    pure function of (P, d): results do not depend on what the cache holds)."""
    cdef uint64_t bits
    memcpy(&bits, &d, sizeof(double))
    bits ^= (bits >> 21) ^ (bits >> 37) ^ (<uint64_t> <size_t> P >> 4)
    cdef Decay* c = &cache[bits & (DECAYS - 1)]
    if c.d != d or c.P != P:
        c.d = d
        c.P = P
        c.em = exp(-d * P.inv_m)
        c.k = train_kappa(P, d, c.em, &c.ej)
        kappa_grads(P, d, c.em, c.ej, c.k, &c.dkm, &c.dks)
    return c


cdef inline void flow_back(const TrainPop* P, double* gp, double V0, double J0, int mode, double d,
                           double* lV, double* lJ, Decay* cache) noexcept nogil:
    """Carry a neuron's adjoint back over d >= 0 from the state (V0, J0, mode) at the
    start of that stretch; accumulate the bias and time-constant gradients."""
    cdef double ej, lv = lV[0], lj = lJ[0]
    cdef const Decay* c
    # A zero adjoint stays zero and adds nothing: most of a first-spike loss's tape
    # (everything after the first spikes the loss reads) needs no exponential.
    if d <= 0.0 or (lv == 0.0 and lj == 0.0):
        return
    if mode == MODE_FREE:
        c = decay_of(cache, P, d)
        gp[GP_BIAS] += (1.0 - c.em) * P.inv_g * lv
        gp[GP_TAU_MEM] += lv * ((V0 - P.b) * c.em * d * P.inv_m * P.inv_m + J0 * c.dkm)
        gp[GP_TAU_SYN] += lv * J0 * c.dks + lj * J0 * c.ej * d * P.inv_s * P.inv_s
        lV[0] = c.em * lv
        lJ[0] = c.k * lv + c.ej * lj
    else:
        ej = exp(-d * P.inv_s)
        gp[GP_TAU_SYN] += lj * J0 * ej * d * P.inv_s * P.inv_s
        lJ[0] = ej * lj


cdef inline void carry(const TrainPop* P, double* gp, const Losses* L, int64_t e,
                       int32_t slot, double V0, double J0, int mode, double t0, double t1,
                       double* lV, double* lJ, Decay* cache) noexcept nogil:
    """flow_back() from t1 down to t0 (state (V0, J0, mode) at t0), adding the readout
    losses of LI neuron ``slot`` (-1: none) at the readout times and at its maximum in
    (t0, t1].  Inline for the usual case without readouts: a call per tape entry cost
    more than the flow; readouts go out of line (carry_readouts)."""
    if slot < 0:
        flow_back(P, gp, V0, J0, mode, t1 - t0, lV, lJ, cache)
    else:
        carry_readouts(P, gp, L, e, slot, V0, J0, mode, t0, t1, lV, lJ, cache)


cdef void carry_readouts(const TrainPop* P, double* gp, const Losses* L, int64_t e,
                         int32_t slot, double V0, double J0, int mode, double t0, double t1,
                         double* lV, double* lJ, Decay* cache) noexcept nogil:
    """carry() for LI readout ``slot`` >= 0."""
    cdef int64_t r
    cdef double tp, V, J
    cdef double tv = L.tvmax[e * L.n_li + slot]
    r = L.n_ro - 1
    while True:
        # The latest readout point in (t0, t1]: a readout time or the time of the maximum.
        while r >= 0 and L.ro_t[r] > t1:
            r -= 1
        tp = -INFINITY
        if r >= 0 and L.ro_t[r] > t0:
            tp = L.ro_t[r]
        if tv > t0 and tv <= t1 and tv >= tp:
            tp = tv
        if tp == -INFINITY:
            flow_back(P, gp, V0, J0, mode, t1 - t0, lV, lJ, cache)
            return
        # State at tp, from t0 (the forward's own flow).
        V = V0
        J = J0
        train_flow(P, tp - t0, &V, &J)
        flow_back(P, gp, V, J, mode, t1 - tp, lV, lJ, cache)
        while r >= 0 and L.ro_t[r] == tp:
            lV[0] += L.dv[(e * L.n_ro + r) * L.n_li + slot]
            r -= 1
        if tv == tp:
            lV[0] += L.dvmax[e * L.n_li + slot]
            tv = -INFINITY         # the interval below is open at tp
        t1 = tp


cdef int run_example(const NetRec* net, const TrainPop* pops, const LogEntry* T, int64_t a, int64_t b,
                     const double* seed, double* gspike, int64_t n_spikes, const Losses* L,
                     int64_t e, Slot* S) noexcept nogil:
    """The reverse sweep of one example: tape entries a:b, spike seeds and outputs
    ``seed``/``gspike`` (its spike list, n_spikes long).  Returns -1 if out of memory,
    -2 (the entry in S.bad) at an entry whose indices cannot be followed."""
    cdef int64_t n = net.n_neurons, i, j, k, m = b - a, sidx
    cdef int32_t nrn, p, slot
    cdef const TrainPop* P
    cdef double* gp
    cdef double w, dA, total, vdot, f
    cdef double* grown
    if m > S.G_cap:
        grown = <double*> realloc(S.G, m * sizeof(double))
        if grown == NULL:
            return -1
        S.G = grown
        S.G_cap = m
    for i in range(m):
        S.G[i] = 0.0
    for j in range(n):
        S.lV[j] = 0.0
        S.lJ[j] = 0.0
        S.tl[j] = L.t_max
    # Local copies of the slot's arrays: stores through them could alias S itself, so
    # the compiler would reload every pointer after each store.
    cdef double* lV = S.lV
    cdef double* lJ = S.lJ
    cdef double* tl = S.tl
    cdef double* G = S.G
    cdef double* gw = S.gw
    cdef double* gd = S.gd
    cdef const LogEntry* E
    cdef double lv, lj
    for i in range(m - 1, -1, -1):
        j = a + i
        E = &T[j]
        # Every index an entry holds is checked before it is followed (a damaged
        # tape must raise, not read out of bounds), here where the entry is read
        # anyway rather than in a pass of its own over the whole tape.
        if not tape_entry_ok(net, E, m, n_spikes):
            S.bad = j
            return -2
        nrn = E.neuron
        if E.type == LOG_SOURCE:
            total = G[i] + seed[E.syn]
            gspike[E.syn] = total
            if net.kind[nrn] == KIND_PULSE:
                S.gpulse[net.source_index[nrn]] += total
            continue
        slot = L.li_slot[nrn]
        if slot < 0 and E.type == LOG_ARRIVAL and lV[nrn] == 0.0 and lJ[nrn] == 0.0:
            # Nothing to carry and nothing to pass on: an arrival at a neuron whose
            # adjoint is zero adds 0 to every gradient (readouts excepted: their
            # maximum may sit at the arrival).
            tl[nrn] = E.t
            continue
        p = net.pop[nrn]
        P = &pops[p]
        gp = S.gp + p * N_GP
        carry(P, gp, L, e, slot, E.V, E.J, E.mode, E.t, tl[nrn], &lV[nrn], &lJ[nrn], S.decays)
        tl[nrn] = E.t
        lv = lV[nrn]
        if E.type == LOG_ARRIVAL:
            lj = lJ[nrn]
            k = E.syn
            w = net.weights[k] * P.inv_g
            gw[k] += lj * P.inv_g
            dA = w * P.inv_s * lj
            if E.mode == MODE_FREE:
                dA -= w * P.inv_m * lv
            if slot >= 0 and L.tvmax[e * L.n_li + slot] == E.t and L.dvmax[e * L.n_li + slot] != 0.0:
                # The maximum sits at this arrival (a kink of V): moving the arrival
                # moves it along the slope V had just before.
                dA += L.dvmax[e * L.n_li + slot] * (E.J - w + P.b - E.V) * P.inv_m
            gd[k] += dA
            if E.ref >= 0:
                G[E.ref] += dA
        elif E.type == LOG_FIRE:
            sidx = E.syn
            total = G[i] + seed[sidx]
            if E.mode == MODE_FREE:
                # t_ref = 0: V restarts from v_reset at t_k, with slope f.
                f = (E.J + P.b - P.v_reset) * P.inv_m
                total -= f * lv
                gp[GP_V_RESET] += lv
            vdot = (E.J + P.b - P.theta) * P.inv_m
            gspike[sidx] = total
            if vdot > 0.0:
                gp[GP_THETA] += total / vdot
                lV[nrn] = -total / vdot
            else:
                lV[nrn] = 0.0            # a tangency: no derivative exists (docs/math.md G.4)
        else:                            # LOG_RELEASE
            f = (E.J + P.b - P.v_reset) * P.inv_m
            total = -f * lv
            G[E.ref] += total
            gp[GP_T_REF] += total
            gp[GP_V_RESET] += lv
            lV[nrn] = 0.0
    # Back to t = 0, where every neuron starts at (v_init, 0).
    for j in range(n):
        p = net.pop[j]
        if p < 0:
            continue
        P = &pops[p]
        gp = S.gp + p * N_GP
        slot = L.li_slot[j]
        carry(P, gp, L, e, slot, P.v_init, 0.0, MODE_FREE, 0.0, S.tl[j], &S.lV[j], &S.lJ[j],
              S.decays)
        if slot >= 0:
            # Readouts at t = 0 itself see v_init only.
            for k in range(L.n_ro):
                if L.ro_t[k] == 0.0:
                    S.lV[j] += L.dv[(e * L.n_ro + k) * L.n_li + slot]
            if L.tvmax[e * L.n_li + slot] == 0.0:
                S.lV[j] += L.dvmax[e * L.n_li + slot]
        gp[GP_V_INIT] += S.lV[j]
    return 0


def backward_batch(low, const double[:, ::1] pop_params, log, const int64_t[::1] off,
                   const int64_t[::1] sp_offsets, const int64_t[::1] spike_order,
                   const int64_t[::1] sp_index, const double[::1] seed_c,
                   const double[:, ::1] dl_first, const int32_t[::1] out_ids,
                   const int64_t[::1] in_offsets, const double[::1] readout_times,
                   const int32_t[::1] li_slot, int64_t n_li, const double[:, :, ::1] dv,
                   const double[:, ::1] dvmax, const double[:, ::1] tvmax, double t_max,
                   int n_threads):
    """Gradients of a loss over a recorded spike-train run (see module docstring).

    Spikes come in the run's canonical order (per example ``sp_offsets``, neurons
    ``sp_index``; ``spike_order``: each one's place in the engine's list, which the
    tape's entries name).  The loss enters as ``seed_c``, dL/dt of every spike (or
    empty: none), ``dl_first`` (n_ex, len(out_ids)), dL/dt of the first spike of
    neurons ``out_ids`` (ignored for a neuron that stays silent), and the readout
    terms.  Returns ``(gw, gd, gpop, gpulse, gspike, ginput)``: per synapse, per
    population (columns theta, v_reset, t_ref, bias, v_init, tau_mem, tau_syn), per
    pulse, dL/dt of every spike (canonical order) and of every input spike (per
    example ``in_offsets`` of the input trains; 0 after t_max).  Raises ValueError for a
    first-spike seed that is not finite.
    """
    cdef NetRec net
    netrec_fill(&net, low)
    entries = np.ascontiguousarray(log)
    check_tape_layout(entries)
    cdef const unsigned char[::1] raw = entries.view(np.uint8)
    cdef int64_t n_ex = off.shape[0] - 1, n = net.n_neurons, ns = net.n_synapses
    cdef int64_t n_pops = net.n_pops, n_pulses = net.n_pulses, total = entries.shape[0]
    cdef const LogEntry* T = <const LogEntry*> &raw[0] if total else NULL
    cdef int64_t i, e, c, n_slots, lo, hi, q, k
    cdef int rc
    if pop_params.shape[0] != n_pops or pop_params.shape[1] != TRAIN_COLS:
        raise ValueError("spike-train population table has the wrong shape")
    cdef int64_t n_sp = sp_offsets[sp_offsets.shape[0] - 1] if sp_offsets.shape[0] else 0
    cdef int64_t n_out = out_ids.shape[0]
    cdef int64_t n_in = in_offsets[in_offsets.shape[0] - 1] if in_offsets.shape[0] else 0
    if (sp_offsets.shape[0] != n_ex + 1 or sp_offsets[0] != 0 or spike_order.shape[0] != n_sp
            or sp_index.shape[0] != n_sp or (seed_c.shape[0] != n_sp and seed_c.shape[0] != 0)):
        raise ValueError("spike seeds do not match the tape's examples")
    if (dl_first.shape[0] != n_ex and n_out) or dl_first.shape[1] != n_out:
        raise ValueError("first-spike seeds have the wrong shape")
    for i in range(n_out):
        if out_ids[i] < 0 or out_ids[i] >= n:
            raise ValueError("first-spike seeds name an unknown neuron")
    if in_offsets.shape[0] != n_ex + 1 or in_offsets[0] != 0:
        raise ValueError("the input trains do not match the tape's examples")
    if off.shape[0] < 1 or off[n_ex] != total or li_slot.shape[0] != n:
        raise ValueError("the tape's arrays have inconsistent lengths")
    if dv.shape[0] != n_ex or dv.shape[1] != readout_times.shape[0] or dv.shape[2] != n_li \
            or dvmax.shape[0] != n_ex or dvmax.shape[1] != n_li \
            or tvmax.shape[0] != n_ex or tvmax.shape[1] != n_li:
        raise ValueError("readout losses have the wrong shape")
    # Every index the sweep follows must be in range: a damaged tape raises here.  One
    # compiled pass (no temporaries: tapes run to millions of entries).
    if off[0] != 0:
        raise ValueError("the tape is damaged (its offsets do not start at 0)")
    for e in range(n_ex):
        if (off[e + 1] < off[e] or sp_offsets[e + 1] < sp_offsets[e]
                or in_offsets[e + 1] < in_offsets[e]):
            raise ValueError("the tape is damaged (its offsets decrease)")
        for i in range(sp_offsets[e], sp_offsets[e + 1]):
            if not 0 <= spike_order[i] < sp_offsets[e + 1] - sp_offsets[e]:
                raise ValueError("the tape is damaged (its spike order is out of range)")
            if not 0 <= sp_index[i] < n:
                raise ValueError("the spikes name an unknown neuron")
    gw = np.zeros(ns)
    gd = np.zeros(ns)
    gpop = np.zeros((n_pops, N_GP))
    gpulse = np.zeros(n_pulses)
    # Seeds and outputs in the engine's order (the tape's), then in canonical order.
    seed_np = np.zeros(n_sp)
    gspike = np.zeros(n_sp)
    gsp_c = np.empty(n_sp)
    ginput = np.zeros(n_in)
    cdef double[::1] seed = seed_np, gsc = gsp_c, ginv = ginput
    if seed_c.shape[0]:
        for e in range(n_ex):
            for i in range(sp_offsets[e], sp_offsets[e + 1]):
                seed[sp_offsets[e] + spike_order[i]] = seed_c[i]
    # dL/dt of first spikes, per neuron onto its first spike in canonical order (time).
    dlf_np = np.zeros(n)
    cdef double[::1] dlf = dlf_np
    cdef int64_t jn
    if n_out:
        for e in range(n_ex):
            for k in range(n_out):
                dlf[out_ids[k]] += dl_first[e, k]
            for i in range(sp_offsets[e], sp_offsets[e + 1]):
                jn = sp_index[i]
                if dlf[jn] != 0.0:
                    if not isfinite(dlf[jn]):
                        raise ValueError("dL_dt contains inf for a neuron that spiked")
                    seed[sp_offsets[e] + spike_order[i]] += dlf[jn]
                    dlf[jn] = 0.0
            for k in range(n_out):
                dlf[out_ids[k]] = 0.0      # silent neurons: their seeds are ignored
    cdef double[::1] gwv = gw, gdv = gd, gpulv = gpulse, gsv = gspike
    cdef double[:, ::1] gpv = gpop
    cdef double dummy = 0.0
    cdef int32_t idummy = 0
    cdef Losses L
    L.ro_t = &readout_times[0] if readout_times.shape[0] else &dummy
    L.n_ro = readout_times.shape[0]
    L.li_slot = &li_slot[0] if n else &idummy
    L.n_li = n_li
    L.dv = &dv[0, 0, 0] if (n_ex and L.n_ro and n_li) else &dummy
    L.dvmax = &dvmax[0, 0] if (n_ex and n_li) else &dummy
    L.tvmax = &tvmax[0, 0] if (n_ex and n_li) else &dummy
    L.t_max = t_max
    # Chunks: a function of the batch only, so that sums never depend on threads.  At
    # least 16 examples each: every chunk zeroes and sums a gradient buffer per
    # synapse, which on a minibatch of a small network costs more than its sweeps.
    n_slots = max(1, min(n_ex // 16, 8 if ns < 2_000_000 else 1))
    cdef TrainPop* pops = <TrainPop*> malloc((n_pops if n_pops > 0 else 1) * sizeof(TrainPop))
    cdef Slot* slots = <Slot*> calloc(n_slots if n_slots > 0 else 1, sizeof(Slot))
    cdef int64_t nn = n if n > 0 else 1
    cdef const double* pseed = &seed[0] if n_sp else &dummy
    cdef double* pgs = &gsv[0] if n_sp else &dummy
    try:
        if pops == NULL or slots == NULL:
            raise MemoryError()
        train_pops_fill(pops, pop_params)
        for c in range(n_slots):
            slots[c].bad = -1
            for q in range(DECAYS):
                slots[c].decays[q].d = -1.0
            slots[c].gw = <double*> calloc(ns + 1, sizeof(double))
            slots[c].gd = <double*> calloc(ns + 1, sizeof(double))
            slots[c].gp = <double*> calloc(n_pops * N_GP + 1, sizeof(double))
            slots[c].gpulse = <double*> calloc(n_pulses + 1, sizeof(double))
            slots[c].lV = <double*> malloc(nn * sizeof(double))
            slots[c].lJ = <double*> malloc(nn * sizeof(double))
            slots[c].tl = <double*> malloc(nn * sizeof(double))
            if (slots[c].gw == NULL or slots[c].gd == NULL or slots[c].gp == NULL
                    or slots[c].gpulse == NULL or slots[c].lV == NULL or slots[c].lJ == NULL
                    or slots[c].tl == NULL):
                raise MemoryError()
        with nogil:
            for c in prange(n_slots, num_threads=n_threads if n_threads > 0 else 1,
                            schedule='dynamic', chunksize=1):
                lo = c * n_ex // n_slots
                hi = (c + 1) * n_ex // n_slots
                for e in range(lo, hi):
                    rc = run_example(&net, pops, T, off[e], off[e + 1], pseed + sp_offsets[e],
                                     pgs + sp_offsets[e], sp_offsets[e + 1] - sp_offsets[e], &L,
                                     e, &slots[c])
                    if rc == -1:
                        slots[c].failed = 1
                    elif rc == -2:
                        break
        for c in range(n_slots):
            if slots[c].failed:
                raise MemoryError("out of memory in the backward pass")
            if slots[c].bad >= 0:
                raise ValueError(f"the tape is damaged (entry {slots[c].bad} has an index out "
                                 "of range)")
        for c in range(n_slots):
            for q in range(ns):
                gwv[q] += slots[c].gw[q]
                gdv[q] += slots[c].gd[q]
            for q in range(n_pops * N_GP):
                gpv[q // N_GP, q % N_GP] += slots[c].gp[q]
            for q in range(n_pulses):
                gpulv[q] += slots[c].gpulse[q]
    finally:
        if slots != NULL:
            for c in range(n_slots):
                free(slots[c].gw); free(slots[c].gd); free(slots[c].gp); free(slots[c].gpulse)
                free(slots[c].lV); free(slots[c].lJ); free(slots[c].tl); free(slots[c].G)
        free(slots)
        free(pops)
    # Canonical order; the input spikes (those up to t_max) come in it in the order of
    # the input trains, which are sorted the same way.
    for e in range(n_ex):
        k = in_offsets[e]
        for i in range(sp_offsets[e], sp_offsets[e + 1]):
            gsc[i] = gsv[sp_offsets[e] + spike_order[i]]
            if net.kind[sp_index[i]] == KIND_INPUT:
                if k >= in_offsets[e + 1]:
                    raise ValueError("the run's input spikes do not match its input trains")
                ginv[k] = gsc[i]
                k += 1
    return gw, gd, gpop, gpulse, gsp_c, ginput
