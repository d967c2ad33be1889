# cython: cdivision=True, boundscheck=False, wraparound=False, initializedcheck=False
"""Backward pass: exact spike-time gradients from the tape (see eventsim/gradients.py).

Per example, the tape's delivery batches are swept in reverse time order.  An
arrival ``a = t_pre + d_k`` at neuron ``j`` was causal exactly when ``t_j > a``
(the forward pass ignores arrivals at or after a neuron's spike), so the sweep
needs no per-synapse record.  When the sweep reaches a batch, every target's
adjoint ``g_j = dL/dt_j`` is final: all of ``j``'s consumers receive its spike at
``>= t_j > a`` and were swept before.

Determinism: examples are grouped in fixed chunks of ``CHUNK`` (independent of the
thread count); each chunk sums its examples in order into its own buffer, and the
buffers are added to the total in chunk order.  Only the rows (presynaptic
neurons) a chunk touched are added and cleared, so the cost follows the work.
"""

import numpy as np
from cython.parallel cimport prange
from libc.stdlib cimport calloc, free
from libc.stdint cimport int64_t, int32_t, int8_t

from eventsim._lambertw cimport INFINITY
from eventsim._netrec cimport (NetRec, netrec_fill, syn_at, syn_delay, KIND_NEURON, KIND_PULSE,
                               MODEL_ALPHA)
from eventsim._model_alpha cimport (alpha_rate_max, alpha_inv_vdot, alpha_target,
                                    alpha_source, alpha_jump)
from eventsim._model_lif cimport (lif_rate_max, lif_inv_vdot, lif_target, lif_source,
                                  lif_jump)


# ==============================================================================
# Model dispatch: the only place the backward pass switches on the model
# ==============================================================================
# Each model's local derivatives are in its _model_<name>.pxd (docs/engine.md
# 12).  The LIF kernels (MODEL_LIF, MODEL_LIF2) share one backward form.

cdef inline double model_rate_max(const NetRec* net, int32_t p) noexcept nogil:
    if net.model[p] == MODEL_ALPHA:
        return alpha_rate_max(net, p)
    return lif_rate_max(net, p)


cdef inline double model_inv_vdot(const NetRec* net, int32_t p, double q) noexcept nogil:
    if net.model[p] == MODEL_ALPHA:
        return alpha_inv_vdot(net, p, q)
    return lif_inv_vdot(net, p, q)


cdef inline void model_target(const NetRec* net, int32_t p, double tj, double R0,
                              double inv_vdot, double* ej, double* ej2) noexcept nogil:
    if net.model[p] == MODEL_ALPHA:
        alpha_target(net, p, tj, R0, inv_vdot, ej, ej2)
    else:
        lif_target(net, p, tj, R0, inv_vdot, ej, ej2)


cdef inline void model_source(const NetRec* net, int32_t p, double a, double R0,
                              double* fa, double* fa2) noexcept nogil:
    if net.model[p] == MODEL_ALPHA:
        alpha_source(net, p, a, R0, fa, fa2)
    else:
        lif_source(net, p, a, R0, fa, fa2)


cdef inline void model_jump(int8_t m, const NetRec* net, int32_t p, double w, double s,
                            int64_t j, bint factored, const double* ej, const double* ej2,
                            double fa, double fa2, const double* inv_vdot, double* dw,
                            double* da) noexcept nogil:
    # m = net.model[p], read by the caller once per group of arrivals (the inner loop
    # stores doubles, after which a byte of net.model would have to be read again).
    if m == MODEL_ALPHA:
        alpha_jump(net, p, w, s, j, factored, ej, ej2, fa, fa2, inv_vdot, dw, da)
    else:
        lif_jump(net, p, w, s, j, factored, ej, ej2, fa, fa2, inv_vdot, dw, da)


cdef enum:
    CHUNK = 16


cdef struct Buffers:
    double* gw           # per synapse
    double* gd           # per synapse
    double* gtheta       # per population
    double* gpulse       # per pulse
    double* gt           # adjoint dL/dt per neuron (one example at a time)
    double* inv_vdot     # 1 / V'(t_j) per spiking neuron (one example at a time)
    double* ej           # the target's half of the factored kernel (model_target)
    double* ej2          # its second half, for two-exponential kernels (else 0)
    int8_t* touched      # per presynaptic neuron: row used in this chunk
    int64_t* touched_list
    int64_t n_touched
    bint direct          # gw, gd, gtheta, gpulse are the caller's output arrays


cdef Buffers* buf_new(int64_t n_syn, int64_t n_pops, int64_t n_pulses, int64_t n,
                      double* gw, double* gd, double* gtheta, double* gpulse) noexcept nogil:
    """Per-thread buffers; with output arrays given, accumulate straight into them."""
    cdef Buffers* b = <Buffers*> calloc(1, sizeof(Buffers))
    if b == NULL:
        return NULL
    b.direct = gw != NULL
    if b.direct:
        b.gw, b.gd, b.gtheta, b.gpulse = gw, gd, gtheta, gpulse
    else:
        b.gw = <double*> calloc(n_syn + 1, sizeof(double))
        b.gd = <double*> calloc(n_syn + 1, sizeof(double))
        b.gtheta = <double*> calloc(n_pops + 1, sizeof(double))
        b.gpulse = <double*> calloc(n_pulses + 1, sizeof(double))
    b.gt = <double*> calloc(n + 1, sizeof(double))
    b.inv_vdot = <double*> calloc(n + 1, sizeof(double))
    b.ej = <double*> calloc(n + 1, sizeof(double))
    b.ej2 = <double*> calloc(n + 1, sizeof(double))
    b.touched = <int8_t*> calloc(n + 1, sizeof(int8_t))
    b.touched_list = <int64_t*> calloc(n + 1, sizeof(int64_t))
    if (b.gw == NULL or b.gd == NULL or b.gtheta == NULL or b.gpulse == NULL or b.gt == NULL
            or b.inv_vdot == NULL or b.ej == NULL or b.ej2 == NULL or b.touched == NULL or b.touched_list == NULL):
        buf_free(b)
        return NULL
    return b


cdef void buf_free(Buffers* b) noexcept nogil:
    if b == NULL:
        return
    if not b.direct:
        free(b.gw); free(b.gd); free(b.gtheta); free(b.gpulse)
    free(b.gt); free(b.inv_vdot); free(b.ej); free(b.ej2)
    free(b.touched); free(b.touched_list)
    free(b)


cdef inline double clipd(double x, double c) noexcept nogil:
    if x > c:
        return c
    if x < -c:
        return -c
    return x


cdef void backward_one(Buffers* b, const NetRec* net, const double* times, const double* q,
                       const int64_t* deliveries, int64_t r_begin, int64_t r_end,
                       const double* g, double clip, double* ginput_row) noexcept nogil:
    cdef int64_t n = net.n_neurons
    cdef const int32_t* post = net.post
    cdef const double* weights = net.weights
    cdef const int8_t* kind = net.kind
    cdef const int32_t* source_index = net.source_index
    cdef const int32_t* pop = net.pop
    cdef int64_t j, r, p, pos, k, end
    cdef int32_t pp, pprev
    cdef int8_t m = 0
    cdef double tp, tj, gj, a, s, dw, da, acc, qj, R0 = INFINITY, t_last = -INFINITY
    cdef double fa, fa2, rm, rate_max = 0.0
    cdef bint factored
    for j in range(n):
        b.gt[j] = g[j]
        qj = q[j]
        if times[j] < INFINITY:
            if times[j] < R0:
                R0 = times[j]
            if times[j] > t_last:
                t_last = times[j]
        if kind[j] == KIND_NEURON and qj > 0.0:
            pp = pop[j]
            rm = model_rate_max(net, pp)
            if rm > rate_max:
                rate_max = rm
            b.inv_vdot[j] = model_inv_vdot(net, pp, qj)
        else:
            b.inv_vdot[j] = 0.0
    # e^{-rate (t_j - a)} = [e^{-rate (t_j - R0)}] [e^{rate (a - R0)}]: one exp per spike and
    # one per delivery batch instead of one per synapse, unless the run is so long that
    # the factors could overflow (then each synapse takes its own exp).
    factored = rate_max * (t_last - R0) < 600.0
    if factored:
        for j in range(n):
            # Zero for sources and for a spike at an exact tangency (q = 0), which
            # passes no gradient: never a stale value from an earlier example.
            if b.inv_vdot[j] != 0.0:
                model_target(net, pop[j], times[j], R0, b.inv_vdot[j], &b.ej[j], &b.ej2[j])
            else:
                b.ej[j] = 0.0
                b.ej2[j] = 0.0
    r = r_end - 1
    while r >= r_begin:
        p = deliveries[3 * r]
        pos = deliveries[3 * r + 1]
        end = deliveries[3 * r + 2]
        r -= 1
        tp = times[p]
        acc = 0.0
        if not b.touched[p]:
            b.touched[p] = 1
            b.touched_list[b.n_touched] = p
            b.n_touched += 1
        pprev = -1
        fa = 0.0
        fa2 = 0.0
        a = INFINITY
        while pos < end:
            k = syn_at(net, pos)
            pos += 1
            j = post[k]
            gj = b.gt[j]
            if gj == 0.0:
                continue
            tj = times[j]
            if tp + syn_delay(net, k) != a or pop[j] != pprev:
                a = tp + syn_delay(net, k)
                pprev = pop[j]
                m = net.model[pprev]
                if factored:
                    model_source(net, pprev, a, R0, &fa, &fa2)
            if not tj > a:
                continue
            s = tj - a
            # The model's local derivatives dt_j / dw_k and dt_j / da_k (docs/engine.md 12).
            model_jump(m, net, pprev, weights[k], s, j, factored, b.ej, b.ej2, fa, fa2,
                       b.inv_vdot, &dw, &da)
            dw = clipd(dw, clip)
            da = clipd(da, clip)
            b.gw[k] += gj * dw
            b.gd[k] += gj * da
            acc = acc + gj * da
        b.gt[p] += acc
    for j in range(n):
        gj = b.gt[j]
        if gj == 0.0 or not times[j] < INFINITY:
            continue
        if kind[j] == KIND_NEURON:
            b.gtheta[pop[j]] += gj * b.inv_vdot[j]
        elif kind[j] == KIND_PULSE:
            b.gpulse[source_index[j]] += gj
        else:
            ginput_row[source_index[j]] = gj


cdef int64_t tape_problem(const NetRec* net, const int64_t* deliveries, int64_t n_rows,
                         const int64_t* offsets, int64_t n_ex) noexcept nogil:
    """0 if the tape's indices fit the network (the sweep trusts them); else 1 for
    bad offsets, 2 for a bad row."""
    cdef int64_t e, r, p
    if n_ex >= 0 and not (offsets[0] >= 0 and offsets[n_ex] <= n_rows):
        return 1
    for e in range(n_ex):
        if offsets[e] > offsets[e + 1]:
            return 1
    for r in range(n_rows):
        p = deliveries[3 * r]
        if not (0 <= p < net.n_neurons and net.indptr[p] <= deliveries[3 * r + 1]
                and deliveries[3 * r + 1] <= deliveries[3 * r + 2]
                and deliveries[3 * r + 2] <= net.indptr[p + 1]):
            return 2
    return 0


def backward_batch(low, const double[:, ::1] times, const double[:, ::1] q,
                   const int64_t[:, ::1] deliveries, const int64_t[::1] offsets,
                   const double[:, ::1] g, double clip, double penalty, int n_threads):
    """Gradients for a batch through the lowered network ``low`` (``Network._lower()``;
    see eventsim.backward, which validates the tape).

    Returns ``(weights, delays, theta, pulse_times, input_times)`` gradients.
    """
    cdef NetRec net
    netrec_fill(&net, low)
    cdef int64_t n_ex = times.shape[0], n = times.shape[1], n_syn = net.n_synapses
    cdef int64_t n_pops = net.n_pops, n_chunks = (n_ex + CHUNK - 1) // CHUNK
    cdef int64_t n_inputs = net.n_inputs, n_pulses = net.n_pulses
    cdef int64_t nt = n_threads if n_threads > 0 else 1
    cdef int64_t wave, c, slot, n_slots, e, e_end, i, p, k, j, cnt
    if n != net.n_neurons or q.shape[0] != n_ex or q.shape[1] != n or g.shape[0] != n_ex \
            or g.shape[1] != n or offsets.shape[0] != n_ex + 1 \
            or (deliveries.shape[0] and deliveries.shape[1] != 3):
        raise ValueError("backward_batch: array shapes do not match the network")
    cdef int64_t problem
    with nogil:
        problem = tape_problem(&net, &deliveries[0, 0] if deliveries.shape[0] else NULL,
                               deliveries.shape[0], &offsets[0], n_ex)
    if problem == 1:
        raise ValueError(f"tape.offsets must rise from >= 0 to <= {deliveries.shape[0]} "
                         f"(the number of deliveries)")
    if problem == 2:
        raise ValueError("tape.deliveries holds a neuron id or synapse range that does not "
                         "fit the network")
    if penalty != 0.0 and net.in_indptr == NULL and n_syn:
        raise ValueError("backward_batch: the penalty needs the CSC arrays (lower with incoming)")
    if nt > n_chunks:
        nt = n_chunks if n_chunks > 0 else 1
    gw = np.zeros(n_syn, dtype=np.float64)
    gd = np.zeros(n_syn, dtype=np.float64)
    gth = np.zeros(n_pops, dtype=np.float64)
    gpl = np.zeros(n_pulses, dtype=np.float64)
    gin = np.zeros((n_ex, n_inputs), dtype=np.float64)
    cdef double[::1] gwv = gw, gdv = gd, gthv = gth, gplv = gpl
    cdef double[:, ::1] ginv = gin
    cdef Buffers** bufs = <Buffers**> calloc(nt, sizeof(Buffers*))
    cdef Buffers* b
    cdef double dummy = 0.0
    cdef const int64_t* dptr = &deliveries[0, 0] if deliveries.shape[0] else NULL
    cdef const int64_t* indptr = net.indptr
    cdef const int8_t* kind = net.kind
    cdef const int64_t* in_indptr = net.in_indptr
    cdef const int64_t* in_syn = net.in_syn
    if bufs == NULL:
        raise MemoryError()
    cdef double dz = 0.0
    try:
        # One chunk: its sum is the total, so accumulate into the outputs directly
        # (0 + x == x, bit for bit) and skip the reduction over touched rows.
        for i in range(nt):
            if n_chunks == 1:
                bufs[i] = buf_new(n_syn, n_pops, n_pulses, n, &gwv[0] if n_syn else &dz,
                                  &gdv[0] if n_syn else &dz, &gthv[0] if n_pops else &dz,
                                  &gplv[0] if n_pulses else &dz)
            else:
                bufs[i] = buf_new(n_syn, n_pops, n_pulses, n, NULL, NULL, NULL, NULL)
            if bufs[i] == NULL:
                raise MemoryError()
        if n == 0:
            return gw, gd, gth, gpl, gin
        for wave in range(0, n_chunks, nt):
            n_slots = n_chunks - wave
            if n_slots > nt:
                n_slots = nt
            for slot in prange(n_slots, nogil=True, num_threads=nt, schedule='static', chunksize=1):
                e = (wave + slot) * CHUNK
                e_end = e + CHUNK
                if e_end > n_ex:
                    e_end = n_ex
                while e < e_end:
                    backward_one(bufs[slot], &net, &times[e, 0], &q[e, 0], dptr, offsets[e],
                                 offsets[e + 1], &g[e, 0], clip,
                                 &ginv[e, 0] if n_inputs else &dummy)
                    e = e + 1
            # Add the chunks' sums in chunk order: the result does not depend on nt.
            with nogil:
                for slot in range(n_slots):
                    b = bufs[slot]
                    if b.direct:
                        break
                    for i in range(b.n_touched):
                        p = b.touched_list[i]
                        b.touched[p] = 0
                        for k in range(indptr[p], indptr[p + 1]):
                            gwv[k] += b.gw[k]
                            gdv[k] += b.gd[k]
                            b.gw[k] = 0.0
                            b.gd[k] = 0.0
                    b.n_touched = 0
                    for i in range(n_pops):
                        gthv[i] += b.gtheta[i]
                        b.gtheta[i] = 0.0
                    for i in range(n_pulses):
                        gplv[i] += b.gpulse[i]
                        b.gpulse[i] = 0.0
        if penalty != 0.0:
            # Silent neurons: every incoming weight gets -penalty per example (Comsa et al.).
            with nogil:
                for j in range(n):
                    if kind[j] != KIND_NEURON:
                        continue
                    cnt = 0
                    for e in range(n_ex):
                        if not times[e, j] < INFINITY:
                            cnt += 1
                    if cnt:
                        for i in range(in_indptr[j], in_indptr[j + 1]):
                            gwv[in_syn[i]] -= penalty * cnt
    finally:
        for i in range(nt):
            buf_free(bufs[i])
        free(bufs)
    return gw, gd, gth, gpl, gin
