# cython: cdivision=True, boundscheck=False, wraparound=False, initializedcheck=False
"""The event loop: exact, event-driven forward pass of a batch of examples.

How one example runs
====================
* Source spikes (inputs, pulses) and delayed deliveries live in a binary heap of
  small C structs ordered by ``(time, seq)``; ``seq`` is an insertion counter, so
  ties are broken deterministically.
* Every computed neuron has at most one *pending action* in a separate min-structure
  (:c:type:`ActionTree`): either ``FIRE`` at its exact predicted spike time, or
  ``CHECK`` at a cheap lower bound of it.  Writing a new action overwrites the old
  one, so nothing stale is ever popped (no version counters are needed).
* All events with the same time form one batch.  Deliveries in a batch update the
  targets' state ``A, B`` (docs/math.md A.1/A.3, relative to a global reference time
  ``R``) and mark them dirty; after the batch each dirty neuron's prediction is
  refreshed once, so coincident inputs (MNIST pixels sit on a 1/256 grid) cost one
  refresh, not one per input.
* Refresh is cheap and exact-by-construction: while the membrane rises, ``V`` is
  concave up to its peak (it is concave before ``t_peak + 1/tau``), so the tangent
  at the current time reaches ``theta`` no later than ``V`` does.  That tangent
  crossing is a lower bound of the spike time; it needs no exp/log and no Lambert
  W.  Only when the bound is reached (``CHECK`` pops) with no input in between is
  the exact crossing computed (Lambert W0, ``_lambertw.pxd``).  Most predictions
  are superseded by the next input long before, which is where the reference
  implementation spends half of its time.
* An inhibitory input can only delay a crossing, so a pending ``CHECK`` stays a
  valid lower bound and the neuron is not refreshed; a pending ``FIRE`` is.
* A neuron that fired (or whose ``FIRE`` time is not after an arrival) ignores the
  arrival: single-spike model.  The tape records, per batch of synapses delivered
  together, ``(pre, begin, end)``; the backward pass knows an arrival was causal
  exactly when the target's spike time is later than the arrival time.
* The reasoning above is the alpha kernel's; the LIF kernels keep the same shape
  (tangent bound, exact solve when it is reached).  Each model's math lives in its
  own ``_model_<name>.pxd``, reached only through the "Model dispatch" section
  below (docs/engine.md 12).
"""

import numpy as np
from cython.parallel cimport parallel, prange, threadid
from libc.stdlib cimport malloc, realloc, free
from libc.string cimport memset, memcmp
from libc.stdint cimport int64_t, int32_t, int8_t

from eventsim._lambertw cimport INFINITY
from eventsim._netrec cimport (NetRec, netrec_fill, syn_at, syn_delay, PopClock, KIND_INPUT,
                               KIND_PULSE, KIND_POISSON,
                               KIND_NEURON, MODEL_ALPHA, MODEL_SPIKE_TRAIN_ONLY, CROSS_NONE, CROSS_FAIL, STATUS_OK, STATUS_BUDGET, STATUS_NEWTON,
                               STATUS_NO_MEMORY)
from eventsim._model_alpha cimport (alpha_clock, alpha_arrive, alpha_block_arrive,
                                    alpha_rebase, alpha_bound, alpha_block_bound, alpha_exact)
from eventsim._queue cimport (EventRecord, Heap, heap_push, heap_pop, _ev_less, ActionTree,
                              tree_clear, tree_set, tree_argmin, LEAF, queues_alloc,
                              queues_free)
from eventsim._model_lif cimport (lif_clock, lif_arrive, lif_block_arrive, lif_rebase,
                                  lif_bound, lif_block_bound, lif_exact)


cdef enum:
    EV_SOURCE = 0      # a source neuron spikes
    EV_DELIVER = 1     # deliver the delayed synapses of a spike, from a position on

cdef enum:
    ACT_NONE = 0
    ACT_CHECK = 1      # time is a lower bound of the crossing: compute it exactly then
    ACT_FIRE = 2       # time is the exact spike time

# Iteration steps allowed per exact crossing (LIF: Newton's).  From below, on a
# concave potential, the iteration converges monotonically (quadratically, or linearly
# with ratio 1/2 at a tangency), so 200 is never reached in double precision; running
# out is reported.
# Lowered only by tests (_set_newton_iterations).
cdef int newton_max_iterations = 200

# Re-reference A, B when rate_max * (t - R) exceeds this, so that exp() stays far from
# overflow; only the log-domain cancellation grows with it (docs/math.md A.3).
cdef double REBASE = 30.0

# ==============================================================================
# Per-thread workspace
# ==============================================================================
# The state one arrival touches sits in one struct (one cache line), not in
# parallel arrays: a delivery is a scattered read-modify-write per target.
# A and B are separate arrays: a spike into a contiguous block of targets updates
# them with a vectorisable loop.
cdef struct NeuronState:
    double qpend         # 1 + W of the pending FIRE
    int32_t pop          # population index (-1: source)
    int8_t act           # ACT_* of the pending action
    int8_t dirty


cdef struct Workspace:
    Heap heap
    ActionTree tree
    NeuronState* s
    double* A            # the model's state (alpha: sum w e^{tau (a - R)})
    double* B            # (alpha: sum w (a - R) e^{tau (a - R)})
    double* tbar         # exact pending FIRE time or emitted spike time; inf otherwise
    double* scratch_t    # refresh_block: tangent numerators
    double* scratch_d    # refresh_block: slopes (0: no crossing)
    int32_t* scratch_i   # refresh_block: which neurons
    int8_t* block_dirty  # per delivery block: refresh its neurons after the batch
    int32_t* dirty_blocks
    int64_t n_dirty_blocks
    int32_t* dirty_list
    int64_t n_dirty
    PopClock* clock      # per population: its time factors, cached for clock.t
    int64_t* tape        # (pre, begin, end) triples of this thread's examples
    int64_t tape_n       # used triples
    int64_t tape_cap


cdef Workspace* ws_new(int64_t n_neurons, int64_t n_pops, int64_t n_blocks) noexcept nogil:
    cdef Workspace* ws = <Workspace*> malloc(sizeof(Workspace))
    cdef int64_t n = n_neurons if n_neurons > 0 else 1
    cdef int64_t p = n_pops if n_pops > 0 else 1
    if ws == NULL:
        return NULL
    memset(ws, 0, sizeof(Workspace))
    if queues_alloc(&ws.heap, &ws.tree, n) < 0:
        ws_free(ws)
        return NULL
    ws.s = <NeuronState*> malloc(n * sizeof(NeuronState))
    ws.A = <double*> malloc(n * sizeof(double))
    ws.B = <double*> malloc(n * sizeof(double))
    ws.tbar = <double*> malloc(n * sizeof(double))
    ws.scratch_t = <double*> malloc(n * sizeof(double))
    ws.scratch_d = <double*> malloc(n * sizeof(double))
    ws.scratch_i = <int32_t*> malloc(n * sizeof(int32_t))
    ws.block_dirty = <int8_t*> malloc((n_blocks + 1) * sizeof(int8_t))
    ws.dirty_blocks = <int32_t*> malloc((n_blocks + 1) * sizeof(int32_t))
    ws.dirty_list = <int32_t*> malloc(n * sizeof(int32_t))
    ws.clock = <PopClock*> malloc(p * sizeof(PopClock))
    ws.tape_cap = 1024
    ws.tape = <int64_t*> malloc(3 * ws.tape_cap * sizeof(int64_t))
    if (ws.s == NULL or ws.dirty_list == NULL
            or ws.A == NULL or ws.B == NULL or ws.tbar == NULL or ws.scratch_t == NULL or ws.scratch_d == NULL
            or ws.scratch_i == NULL or ws.block_dirty == NULL  or ws.dirty_blocks == NULL or ws.clock == NULL
            or ws.tape == NULL):
        ws_free(ws)
        return NULL
    return ws


cdef void ws_free(Workspace* ws) noexcept nogil:
    if ws == NULL:
        return
    queues_free(&ws.heap, &ws.tree)
    free(ws.s); free(ws.dirty_list); free(ws.A); free(ws.B); free(ws.tbar); free(ws.scratch_t); free(ws.scratch_d)
    free(ws.scratch_i); free(ws.block_dirty)
    free(ws.dirty_blocks); free(ws.clock)
    free(ws.tape)
    free(ws)


cdef int tape_append(Workspace* ws, int64_t pre, int64_t begin, int64_t end) noexcept nogil:
    cdef int64_t* grown
    if ws.tape_n == ws.tape_cap:
        grown = <int64_t*> realloc(ws.tape, 6 * ws.tape_cap * sizeof(int64_t))
        if grown == NULL:
            return -1
        ws.tape = grown
        ws.tape_cap *= 2
    ws.tape[3 * ws.tape_n] = pre
    ws.tape[3 * ws.tape_n + 1] = begin
    ws.tape[3 * ws.tape_n + 2] = end
    ws.tape_n += 1
    return 0


# ==============================================================================
# One example
# ==============================================================================
cdef inline void set_action(Workspace* ws, NetRec* net, int64_t j, int act, double t) noexcept nogil:
    ws.s[j].act = act
    ws.tbar[j] = t if act == ACT_FIRE else INFINITY
    tree_set(&ws.tree, j, net.n_neurons, t if act != ACT_NONE else INFINITY)


# ==============================================================================
# Model dispatch: the only place the forward pass switches on the model
# ==============================================================================
# Each model's math is in its own _model_<name>.pxd behind the same functions
# (docs/engine.md 12); these inline switches pick one per population.  A
# new model adds its MODEL_* code (_netrec.pxd) and one case to each.

cdef inline void model_clock(const NetRec* net, int32_t p, double t, double R,
                             PopClock* c) noexcept nogil:
    if net.model[p] == MODEL_ALPHA:
        alpha_clock(net, p, t, R, c)
    else:
        lif_clock(net, p, t, R, c)


cdef inline void model_arrive(const NetRec* net, int32_t p, double* A, double* B, double w,
                              const PopClock* c, double t, double R) noexcept nogil:
    if net.model[p] == MODEL_ALPHA:
        alpha_arrive(A, B, w, c, t, R)
    else:
        lif_arrive(A, B, w, c, t, R)


cdef inline void model_block_arrive(const NetRec* net, int32_t p, double* A, double* B,
                                    const double* w, int64_t n, const PopClock* c, double t,
                                    double R) noexcept nogil:
    if net.model[p] == MODEL_ALPHA:
        alpha_block_arrive(A, B, w, n, c, t, R)
    else:
        lif_block_arrive(A, B, w, n, c, t, R)


cdef inline void model_rebase(const NetRec* net, int32_t p, double* A, double* B,
                              double dt) noexcept nogil:
    if net.model[p] == MODEL_ALPHA:
        alpha_rebase(A, B, net, p, dt)
    else:
        lif_rebase(A, B, net, p, dt)


cdef inline int model_bound(const NetRec* net, int32_t p, double A, double B, PopClock* c,
                            double t, double R, double* bound) noexcept nogil:
    if net.model[p] == MODEL_ALPHA:
        return alpha_bound(net, p, A, B, c, t, R, bound)
    return lif_bound(net, p, A, B, c, t, R, bound)


cdef inline int64_t model_block_bound(const NetRec* net, int32_t p, const double* A,
                                      const double* B, const double* tbar, const double* tt,
                                      double* num, double* D, int32_t* idx, int64_t n,
                                      const PopClock* c, double t, double R) noexcept nogil:
    if net.model[p] == MODEL_ALPHA:
        return alpha_block_bound(net, p, A, B, tbar, tt, num, D, idx, n, c, t, R)
    return lif_block_bound(net, p, A, B, tbar, tt, num, D, idx, n, c, t, R)


cdef inline int model_exact(const NetRec* net, int32_t p, double A, double B, PopClock* c,
                            double t, double R, int max_iter, double* tc,
                            double* q) noexcept nogil:
    if net.model[p] == MODEL_ALPHA:
        return alpha_exact(net, p, A, B, c, t, R, max_iter, tc, q)
    return lif_exact(net, p, A, B, c, t, R, max_iter, tc, q)


# ==============================================================================
# One neuron, through the model interface
# ==============================================================================
cdef inline void arrive(Workspace* ws, NetRec* net, int32_t j, double w, double t, double R) noexcept nogil:
    """Apply one arrival of weight w at time t to neuron j (not fired by t)."""
    cdef NeuronState* st = &ws.s[j]
    cdef int32_t p = st.pop
    if ws.clock[p].t != t:
        model_clock(net, p, t, R, &ws.clock[p])
    model_arrive(net, p, &ws.A[j], &ws.B[j], w, &ws.clock[p], t, R)
    # An inhibitory input only delays a crossing: a pending CHECK stays a valid
    # lower bound, and no pending action stays none.  A pending FIRE must move.
    if not st.dirty and (w > 0.0 or st.act == ACT_FIRE):
        st.dirty = 1
        ws.dirty_list[ws.n_dirty] = j
        ws.n_dirty += 1


cdef int deliver(Workspace* ws, NetRec* net, int64_t pre, int64_t pos, double t_spike, double t,
                 double R, bint record) noexcept nogil:
    """Deliver the synapses of ``pre`` due at time ``t``, starting at position ``pos``
    of the delivery order; schedule the rest.  Returns 0, or -1 if out of memory."""
    cdef int64_t end = net.indptr[pre + 1], begin = pos, k, i, m
    cdef int32_t j, b, p
    cdef double w
    if not net.has_delays and net.block[pre] >= 0:
        # The targets are consecutive neurons of one population.  Arrivals at neurons
        # that fired (or fire now) are added too: a fired neuron's A, B are never read
        # again, and the backward pass tests causality by time, so this is harmless and
        # keeps the loop branch-free.
        b = net.block[pre]
        j = net.block_start[b]
        p = ws.s[j].pop
        if ws.clock[p].t != t:
            model_clock(net, p, t, R, &ws.clock[p])
        model_block_arrive(net, p, ws.A + j, ws.B + j, net.weights + pos, end - pos,
                           &ws.clock[p], t, R)
        if not ws.block_dirty[b]:
            ws.block_dirty[b] = 1
            ws.dirty_blocks[ws.n_dirty_blocks] = b
            ws.n_dirty_blocks += 1
        pos = end
    elif not net.has_delays:
        # Every synapse is due now, and synapse ids are the delivery order.
        for k in range(pos, end):
            j = net.post[k]
            w = net.weights[k]
            if ws.tbar[j] <= t or w == 0.0:     # fired, or fires now: not causal
                continue
            arrive(ws, net, j, w, t, R)
        pos = end
    else:
        while pos < end:
            k = syn_at(net, pos)
            if t_spike + syn_delay(net, k) != t:
                if heap_push(&ws.heap, t_spike + syn_delay(net, k), <int32_t> pre, EV_DELIVER, pos,
                             t_spike, 0) < 0:
                    return -1
                break
            pos += 1
            j = net.post[k]
            w = net.weights[k]
            if ws.tbar[j] <= t or w == 0.0:
                continue
            arrive(ws, net, j, w, t, R)
    if record and pos > begin:
        if tape_append(ws, pre, begin, pos) < 0:
            return -1
    return 0


cdef inline void refresh(Workspace* ws, NetRec* net, int64_t j, double t, double R) noexcept nogil:
    """New lower bound (CHECK) of neuron j's crossing after inputs at time t."""
    cdef NeuronState* st = &ws.s[j]
    cdef int32_t p = st.pop
    cdef double bound
    if not model_bound(net, p, ws.A[j], ws.B[j], &ws.clock[p], t, R, &bound):
        set_action(ws, net, j, ACT_NONE, INFINITY)
        return
    if st.act == ACT_CHECK and ws.tree.t[j] <= bound:
        return                            # the earlier bound is still a valid bound
    set_action(ws, net, j, ACT_CHECK, bound)


cdef void refresh_block(Workspace* ws, NetRec* net, int32_t b, double t, double R) noexcept nogil:
    """refresh() for block b (consecutive neurons of one population): a vectorised
    kernel finds the neurons whose action changes, then only those are updated."""
    cdef int64_t j0 = net.block_start[b]
    cdef int32_t p = ws.s[j0].pop
    cdef int64_t c, cnt, i
    cdef double bound
    if ws.clock[p].t != t:
        model_clock(net, p, t, R, &ws.clock[p])
    cnt = model_block_bound(net, p, ws.A + j0, ws.B + j0, ws.tbar + j0, ws.tree.t + j0,
                            ws.scratch_t, ws.scratch_d, ws.scratch_i, net.block_stop[b] - j0,
                            &ws.clock[p], t, R)
    for c in range(cnt):
        i = ws.scratch_i[c]
        if ws.scratch_d[i] == 0.0:
            set_action(ws, net, j0 + i, ACT_NONE, INFINITY)
        else:
            # Shave a relative 1e-10 so rounding never puts the bound after the crossing
            # (nor, at a crossing right now, before the present).
            bound = t + (ws.scratch_t[i] / ws.scratch_d[i]) * (1.0 - 1e-10)
            set_action(ws, net, j0 + i, ACT_CHECK, bound if bound > t else t)


cdef inline int exact(Workspace* ws, NetRec* net, int64_t j, double t, double R) noexcept nogil:
    """CHECK reached: compute the exact crossing.  Returns a STATUS_* (for
    STATUS_NEWTON the neuron's action is left as it was)."""
    cdef NeuronState* st = &ws.s[j]
    cdef int32_t p = st.pop
    cdef double tc = INFINITY, q = 0.0
    cdef int rc = model_exact(net, p, ws.A[j], ws.B[j], &ws.clock[p], t, R,
                              newton_max_iterations, &tc, &q)
    if rc == CROSS_NONE:
        set_action(ws, net, j, ACT_NONE, INFINITY)
    elif rc == CROSS_FAIL:
        return STATUS_NEWTON
    else:
        st.qpend = q
        set_action(ws, net, j, ACT_FIRE, tc)
    return STATUS_OK


cdef int run_one(Workspace* ws, NetRec* net, const double* inputs, double t_max,
                 int64_t max_events, bint record, double* times, double* qrow,
                 int64_t* n_events, int64_t* where) noexcept nogil:
    """Simulate one example.  Returns a STATUS_*; for STATUS_NEWTON the neuron is
    stored in ``where``."""
    cdef int64_t n = net.n_neurons, j, i, events = 0, nb
    cdef int32_t b
    cdef double R = INFINITY, t, t_src, t_act, ts, f
    cdef EventRecord ev
    cdef int8_t kind
    cdef NeuronState* st
    cdef int rc
    ws.heap.n = 0
    ws.heap.seq = 0
    ws.n_dirty = 0
    for j in range(n):
        times[j] = INFINITY
        if qrow != NULL:
            qrow[j] = 0.0
        st = &ws.s[j]
        ws.A[j] = 0.0
        ws.B[j] = 0.0
        ws.tbar[j] = INFINITY
        st.qpend = 0.0
        st.pop = net.pop[j]
        st.act = ACT_NONE
        st.dirty = 0
    tree_clear(&ws.tree, n)
    for j in range(net.n_pops):
        ws.clock[j].t = -INFINITY
    ws.n_dirty_blocks = 0
    for j in range(net.n_blocks):
        ws.block_dirty[j] = 0
    # Sources, in neuron-id order (the insertion counter breaks ties the same way).
    for j in range(n):
        kind = net.kind[j]
        if kind == KIND_INPUT:
            ts = inputs[net.source_index[j]]
        elif kind == KIND_PULSE:
            ts = net.pulse_times[net.source_index[j]]
        else:
            continue
        if ts < INFINITY and ts <= t_max:
            if heap_push(&ws.heap, ts, <int32_t> j, EV_SOURCE, 0, ts, 0) < 0:
                return STATUS_NO_MEMORY
            if ts < R:
                R = ts
    while True:
        t_src = ws.heap.data[0].time if ws.heap.n > 0 else INFINITY
        tree_argmin(&ws.tree, n, &t_act)
        t = t_src if t_src < t_act else t_act
        if t == INFINITY or t > t_max:    # nothing left, or past the horizon
            break
        if net.rate_max * (t - R) > REBASE:
            # Move the reference time to now; inputs far in the past underflow to 0.
            for j in range(n):
                st = &ws.s[j]
                if st.pop >= 0 and (ws.A[j] != 0.0 or ws.B[j] != 0.0):
                    model_rebase(net, st.pop, &ws.A[j], &ws.B[j], t - R)
            R = t
            for j in range(net.n_pops):
                ws.clock[j].t = -INFINITY
        # One batch: everything at time t.
        while True:
            if ws.heap.n > 0 and ws.heap.data[0].time == t:
                heap_pop(&ws.heap, &ev)
                events += 1
                if ev.kind == EV_SOURCE:
                    times[ev.neuron] = t
                    ws.tbar[ev.neuron] = t
                    if deliver(ws, net, ev.neuron, net.indptr[ev.neuron], t, t, R, record) < 0:
                        return STATUS_NO_MEMORY
                else:
                    if deliver(ws, net, ev.neuron, ev.pos, times[ev.neuron], t, R, record) < 0:
                        return STATUS_NO_MEMORY
            else:
                j = tree_argmin(&ws.tree, n, &t_act)
                if t_act != t:
                    break
                events += 1
                if ws.s[j].act == ACT_FIRE:
                    times[j] = t
                    if qrow != NULL:
                        qrow[j] = ws.s[j].qpend
                    set_action(ws, net, j, ACT_NONE, INFINITY)
                    ws.tbar[j] = t
                    if deliver(ws, net, j, net.indptr[j], t, t, R, record) < 0:
                        return STATUS_NO_MEMORY
                else:
                    rc = exact(ws, net, j, t, R)
                    if rc != STATUS_OK:
                        n_events[0] = events
                        where[0] = j
                        return rc
            if events > max_events:
                n_events[0] = events
                return STATUS_BUDGET
        for i in range(ws.n_dirty_blocks):
            b = ws.dirty_blocks[i]
            ws.block_dirty[b] = 0
            refresh_block(ws, net, b, t, R)
        ws.n_dirty_blocks = 0
        nb = ws.n_dirty
        ws.n_dirty = 0
        for i in range(nb):
            j = ws.dirty_list[i]
            ws.s[j].dirty = 0
            if ws.tbar[j] <= t:
                continue        # fired in this batch
            refresh(ws, net, j, t, R)
    n_events[0] = events
    return STATUS_OK


# ==============================================================================
# Batch entry points
# ==============================================================================
def same_values(const double[::1] a, const double[::1] b):
    """Whether two float64 arrays hold the same bytes (no NaN or -0.0 subtleties, and
    no temporary array: this runs on every backward pass)."""
    if a.shape[0] != b.shape[0]:
        return False
    if a.shape[0] == 0:
        return True
    cdef int rc
    with nogil:
        rc = memcmp(&a[0], &b[0], a.shape[0] * sizeof(double))
    return rc == 0


def _set_newton_iterations(int n):
    """Test hook: the Newton step limit of LIF crossings (returns the old one)."""
    global newton_max_iterations
    old = newton_max_iterations
    newton_max_iterations = n
    return old


def run_batch(low, const double[:, ::1] inputs, double t_max, int64_t max_events, bint record,
              int n_threads):
    """Run every row of ``inputs`` through the lowered network ``low``
    (``Network._lower()``; see eventsim.simulate).

    Returns ``(times, q, n_events, deliveries, offsets, status, where)``: ``status``
    per example is a STATUS_* code, ``where`` the neuron a STATUS_NEWTON refers to.
    """
    cdef NetRec net
    netrec_fill(&net, low)
    cdef int64_t n_ex = inputs.shape[0], n = net.n_neurons, e, i, total, tid, k
    cdef int64_t n_threads_ = n_threads if n_threads > 0 else 1
    if inputs.shape[1] != net.n_inputs:
        raise ValueError(f"inputs have {inputs.shape[1]} columns, the network {net.n_inputs} inputs")
    for i in range(n):
        if net.kind[i] == KIND_POISSON:
            raise ValueError("the first-spike engine cannot run Poisson generators "
                             "(eventsim.simulate sends them to the spike-train engine)")
    for i in range(net.n_pops):
        if net.model[i] == MODEL_SPIKE_TRAIN_ONLY:
            raise ValueError("the first-spike engine cannot run multi-spike or LI populations "
                             "(eventsim.simulate sends them to the spike-train engine)")
    # A thread needs a few examples to be worth waking (results do not depend on it).
    if n_threads_ > n_ex // 4:
        n_threads_ = n_ex // 4 if n_ex >= 8 else 1
    times = np.empty((n_ex, n), dtype=np.float64)
    qs = np.empty((n_ex if record else 1, n if record else 1), dtype=np.float64)
    n_events = np.zeros(n_ex, dtype=np.int64)
    status = np.zeros(n_ex, dtype=np.int32)
    where = np.full(n_ex, -1, dtype=np.int64)
    ex_tid = np.zeros(n_ex, dtype=np.int64)
    ex_start = np.zeros(n_ex, dtype=np.int64)
    ex_len = np.zeros(n_ex, dtype=np.int64)
    cdef double[:, ::1] tv = times, qv = qs
    cdef int64_t[::1] nev = n_events, etid = ex_tid, estart = ex_start, elen = ex_len, wh = where
    cdef int32_t[::1] st = status
    cdef Workspace** wss = <Workspace**> malloc(n_threads_ * sizeof(Workspace*))
    cdef Workspace* ws
    cdef int rc
    cdef double dummy = 0.0
    if wss == NULL:
        raise MemoryError()
    cdef int64_t n_in = inputs.shape[1]
    for i in range(n_threads_):
        wss[i] = ws_new(n, net.n_pops, net.n_blocks)
        if wss[i] == NULL:
            for k in range(i):
                ws_free(wss[k])
            free(wss)
            raise MemoryError()
    try:
        if n_ex > 0 and n_threads_ == 1:
            # No OpenMP team for one thread: small calls (training on small networks,
            # one example at a time) are dominated by fixed costs.
            ws = wss[0]
            with nogil:
                for e in range(n_ex):
                    estart[e] = ws.tape_n
                    st[e] = run_one(ws, &net, &inputs[e, 0] if n_in else &dummy, t_max,
                                    max_events, record, &tv[e, 0] if n else &dummy,
                                    &qv[e, 0] if (n and record) else NULL, &nev[e], &wh[e])
                    elen[e] = ws.tape_n - estart[e]
        elif n_ex > 0:
            with nogil, parallel(num_threads=n_threads_):
                tid = threadid()
                ws = wss[tid]
                for e in prange(n_ex, schedule='dynamic', chunksize=1):
                    etid[e] = tid
                    estart[e] = ws.tape_n
                    rc = run_one(ws, &net, &inputs[e, 0] if n_in else &dummy, t_max,
                                 max_events, record, &tv[e, 0] if n else &dummy,
                                 &qv[e, 0] if (n and record) else NULL, &nev[e], &wh[e])
                    st[e] = rc
                    elen[e] = ws.tape_n - estart[e]
        if (status < 0).any():
            raise MemoryError("out of memory while simulating")
        if record:
            offsets = np.zeros(n_ex + 1, dtype=np.int64)
            np.cumsum(ex_len, out=offsets[1:])
            total = offsets[n_ex]
            deliveries = np.empty((total, 3), dtype=np.int64)
            for e in range(n_ex):
                ws = wss[etid[e]]
                if elen[e]:
                    deliveries[offsets[e]:offsets[e + 1]] = np.asarray(
                        <int64_t[:elen[e] * 3]> (ws.tape + 3 * estart[e])).reshape(-1, 3)
        else:
            offsets = np.zeros(n_ex + 1, dtype=np.int64)
            deliveries = np.empty((0, 3), dtype=np.int64)
    finally:
        for i in range(n_threads_):
            ws_free(wss[i])
        free(wss)
    return times, (qs if record else None), n_events, deliveries, offsets, status, where


# ==============================================================================
# Test hooks
# ==============================================================================
cdef class _PyEventHeap:
    """Used for testing the event heap: push/pop of (time, neuron) with FIFO ties."""
    cdef Heap h

    def __cinit__(self):
        self.h.capacity = 4
        self.h.n = 0
        self.h.seq = 0
        self.h.data = <EventRecord*> malloc(4 * sizeof(EventRecord))
        if self.h.data == NULL:
            raise MemoryError()

    def __dealloc__(self):
        free(self.h.data)

    def push(self, double time, int neuron):
        if heap_push(&self.h, time, neuron, EV_SOURCE, 0, time, 0) < 0:
            raise MemoryError()

    def pop(self):
        """Return (time, seq, neuron) of the earliest event."""
        cdef EventRecord ev
        if self.h.n == 0:
            raise IndexError("pop from an empty heap")
        heap_pop(&self.h, &ev)
        return ev.time, ev.seq, ev.neuron

    def __len__(self):
        return self.h.n

    def _check(self):
        """Heap order holds for every parent/child pair."""
        cdef int64_t i
        for i in range(1, self.h.n):
            assert not _ev_less(&self.h.data[i], &self.h.data[(i - 1) >> 1]), (
                f"heap order violated at {i}")


cdef class _PyActionTree:
    """Used for testing the action tree: per-neuron times and the argmin."""
    cdef ActionTree a
    cdef int64_t n

    def __cinit__(self, int64_t n):
        cdef int64_t i
        self.n = n
        self.a.n_leaves = (n + LEAF - 1) // LEAF if n > 0 else 1
        self.a.n_tops = (self.a.n_leaves + LEAF - 1) // LEAF
        self.a.t = <double*> malloc((n + 1) * sizeof(double))
        self.a.leaf_min = <double*> malloc(self.a.n_leaves * sizeof(double))
        self.a.top_min = <double*> malloc(self.a.n_tops * sizeof(double))
        self.a.leaf_arg = <int32_t*> malloc(self.a.n_leaves * sizeof(int32_t))
        self.a.top_arg = <int32_t*> malloc(self.a.n_tops * sizeof(int32_t))
        if (self.a.t == NULL or self.a.leaf_min == NULL or self.a.top_min == NULL
                or self.a.leaf_arg == NULL or self.a.top_arg == NULL):
            raise MemoryError()
        tree_clear(&self.a, n)

    def __dealloc__(self):
        free(self.a.t)
        free(self.a.leaf_min)
        free(self.a.top_min)
        free(self.a.leaf_arg)
        free(self.a.top_arg)

    def set(self, int64_t neuron, double t):
        if not 0 <= neuron < self.n:
            raise IndexError(neuron)
        tree_set(&self.a, neuron, self.n, t)

    def argmin(self):
        """(neuron, time) of the earliest pending time; (-1, inf) if none."""
        cdef double m
        cdef int64_t j = tree_argmin(&self.a, self.n, &m)
        return j, m

    def _check(self):
        """Every leaf and group minimum equals the minimum of what it covers, and its
        argmin is the lowest index holding it (-1 when everything is inf)."""
        cdef int64_t leaf, g, i
        for leaf in range(self.a.n_leaves):
            ts = [self.a.t[i] for i in range(leaf * LEAF, min((leaf + 1) * LEAF, self.n))]
            m = min(ts, default=INFINITY)
            arg = leaf * LEAF + ts.index(m) if m < INFINITY else -1
            assert self.a.leaf_min[leaf] == m, f"leaf {leaf}: {self.a.leaf_min[leaf]} != {m}"
            assert self.a.leaf_arg[leaf] == arg, f"leaf {leaf}: arg {self.a.leaf_arg[leaf]} != {arg}"
        for g in range(self.a.n_tops):
            ms = [self.a.leaf_min[i] for i in range(g * LEAF, min((g + 1) * LEAF, self.a.n_leaves))]
            m = min(ms, default=INFINITY)
            arg = g * LEAF + ms.index(m) if m < INFINITY else -1
            assert self.a.top_min[g] == m, f"group {g}: {self.a.top_min[g]} != {m}"
            assert self.a.top_arg[g] == arg, f"group {g}: arg {self.a.top_arg[g]} != {arg}"
        if self.a.min_valid:
            ts = [self.a.t[i] for i in range(self.n)]
            m = min(ts, default=INFINITY)
            arg = ts.index(m) if m < INFINITY else -1
            assert self.a.min_t == m, f"cached minimum {self.a.min_t} != {m}"
            assert self.a.min_arg == arg, f"cached argmin {self.a.min_arg} != {arg}"
