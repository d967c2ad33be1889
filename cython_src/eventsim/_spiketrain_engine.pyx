# cython: cdivision=True, boundscheck=False, wraparound=False, initializedcheck=False
"""The spike-train event loop: exact simulation of neurons that fire again and again.

The first-spike loop (``_engine.pyx``) assumes every neuron fires at most once; this
one runs networks with multi-spike LIF populations (reset, refractory period, bias),
first-spike LIF populations (a multi-spike LIF that is never released) and LI
readouts, on whole input spike trains (docs/engine.md 13).  It has three loops, which
agree to rounding: the heap loop (run_one, described here) for any network; the windowed
loop (run_windowed) where delays cut time into windows; the layered loop (run_layered) for
delay-free stacks of dense projections.  simulation.py chooses (_window_plan, _layer_plan).

How one example runs (the heap loop)
====================================
* Each neuron keeps its state ``(V, J)`` at the time ``t0`` it was last touched, and
  is advanced analytically (``_model_lif_multispike.pxd``) only when an event
  reaches it: an arrival costs two exponentials, whatever happened elsewhere.
* Input spikes are read in order straight from the example's spike train (a
  cursor, not the heap); pulses and delayed deliveries sit in the event heap
  (``_queue.pxd``), with the spike's own time kept in the event so every later
  synapse of it arrives at exactly ``t_spike + delay``.
* Each synapse from a Poisson generator is a stream with one pending event in the
  heap; popping it delivers the spike and draws the next one.  The draws are
  counter-based (``_random.pxd``): a function of (seed, example, stream, count).
* Each neuron has at most one pending action in the action tree: ``CHECK`` at a
  cheap lower bound of its next crossing, ``FIRE`` at the exact crossing (computed
  when a ``CHECK`` is reached with no input since), or ``RELEASE`` at the end of
  its refractory period.
* Events at the same time form one batch; neurons whose crossing may have moved
  (an excitatory arrival, or any arrival while a ``FIRE`` is pending) are marked
  dirty and re-predicted once after the batch.  An inhibitory arrival at a neuron
  with no pending crossing cannot create one, so it costs no prediction.
* A prediction first rules crossings out with a bound that needs no exponential,
  then schedules a ``CHECK`` at a lower bound of the crossing that needs none
  either.  Most are superseded by the next input.  Only a ``CHECK`` that is reached
  brackets the first rising piece of ``V`` (at most one extremum between events)
  up to ``t_max`` and solves it with safeguarded Newton, so a crossing that rises
  above threshold and falls back between two events is found.
* Every spike is kept (growable buffers: nothing is ever truncated); the budget
  ``max_events`` ends runaway activity with a status, never silently.
"""

import numpy as np
from cython.parallel cimport parallel, prange, threadid
from libc.stdlib cimport malloc, calloc, realloc, free
from libc.string cimport memset, memcpy
from libc.math cimport log1p, isinf
from libc.stdint cimport int64_t, int32_t, int8_t, uint64_t

from eventsim._lambertw cimport exp, INFINITY
from eventsim._netrec cimport (NetRec, netrec_fill, syn_at, syn_delay, KIND_INPUT, KIND_PULSE,
                               CROSS_NONE, CROSS_FIRE, CROSS_FAIL, STATUS_OK, STATUS_BUDGET,
                               STATUS_NEWTON, STATUS_NO_MEMORY)
from eventsim._queue cimport (EventRecord, Heap, heap_push, heap_pop, ActionTree, tree_clear,
                              tree_set, tree_argmin, LEAF, queues_alloc, queues_free)
from eventsim._random cimport stream_key, uniform_open
from eventsim._train_tape cimport (LogEntry, LOG_SOURCE, LOG_ARRIVAL, LOG_FIRE, LOG_RELEASE,
                                   MODE_FREE, MODE_CLAMPED, MODE_DONE)
from eventsim._model_lif_multispike cimport (TrainPop, TRAIN_LIF, TRAIN_LI, TRAIN_COLS, train_power,
                                             train_pops_fill, train_flow, train_flow_by,
                                             train_cross, train_cross_bracketed, train_kappa,
                                             train_bound, train_quiet, train_li_max)

cdef enum:
    EV_SOURCE = 0      # a pulse spikes
    EV_DELIVER = 1     # deliver the delayed synapses of a spike, from a position on
    EV_POISSON = 2     # a Poisson stream's spike arrives (neuron: the stream)

cdef enum:
    ACT_NONE = 0
    ACT_FIRE = 1       # time is the exact next spike time
    ACT_RELEASE = 2    # time is the end of the refractory period
    ACT_CHECK = 3      # time is a lower bound of the next crossing: compute it then

cdef int newton_max_iterations = 200

# Re-reference the clocks when (t - R) / tau exceeds this for some population, so that
# the factors e^{(t0 - R)/tau} stay far from overflow (e^30 ~ 1e13).
cdef double REBASE = 30.0

cdef struct Arr:
    # One arrival of the windowed loop: weight w, at the time of group g of the
    # window's group table (one group per spike and delay: its time and, clocked,
    # its decay factors).  16 bytes: buckets are written and read back once per
    # arrival, so their size is memory traffic.
    double w
    int64_t g


cdef struct ArrTape:
    # When recording, beside each Arr: its synapse, and the tape entry of the spike
    # (-1: a Poisson spike).
    int64_t k
    int64_t ref


cdef struct Bucket:
    Arr* a
    ArrTape* x          # NULL unless recording
    double last         # the time of the latest arrival appended (kept here, so that
                        # appending never reads the arrivals back)
    int32_t n
    int32_t cap
    int32_t unsorted    # an arrival was appended before an earlier one


cdef struct TrainState:
    double V
    double J
    double t0           # the time (V, J) refer to
    double fm           # e^{(t0 - R)/tau_mem} and e^{(t0 - R)/tau_syn}: with the clock's
    double fs           # e^{-(t - R)/tau}, the decay from t0 to t without an exponential
    int64_t last_fire   # recording: the log entry of its last spike
    int32_t pop
    int8_t act
    int8_t dirty
    int8_t mode


cdef struct TrainClock:
    # Per population: its decay factors at time t relative to the reference time R.
    double t            # the time they are for (-inf: none yet)
    double im           # e^{-(t - R)/tau_mem}
    double is_          # e^{-(t - R)/tau_syn}
    double fm           # their inverses
    double fs


cdef inline int grow(void** p, size_t nbytes) noexcept nogil:
    """realloc *p to nbytes; -1 (and *p untouched) if out of memory."""
    cdef void* g = realloc(p[0], nbytes)
    if g == NULL:
        return -1
    p[0] = g
    return 0


cdef struct Spk:
    # A spike, or anything sorted by time (spk_sort): time, neuron (a block's input
    # row in the layered loop; 0 to keep ties in order), tape entry (or a position).
    double t
    int64_t ref
    int32_t n


cdef struct SpikeList:
    Spk* s
    int64_t m
    int64_t cap


cdef int sl_reserve(SpikeList* L, int64_t m) noexcept nogil:
    """Room for m spikes; -1 if out of memory."""
    cdef int64_t cap = L.cap if L.cap else 64
    if m <= L.cap:
        return 0
    while cap < m:
        cap *= 2
    if grow(<void**> &L.s, cap * sizeof(Spk)) < 0:
        return -1
    L.cap = cap
    return 0


cdef inline int sl_push(SpikeList* L, double t, int32_t j, int64_t ref) noexcept nogil:
    if L.m == L.cap and sl_reserve(L, L.m + 1) < 0:
        return -1
    L.s[L.m].t = t
    L.s[L.m].n = j
    L.s[L.m].ref = ref
    L.m += 1
    return 0


cdef struct Workspace:
    Heap heap
    TrainClock* clock   # per population
    double R            # reference time of the clocks (moved forward by rebase())
    ActionTree tree
    TrainState* s
    int32_t* dirty_list
    int64_t n_dirty
    # Spikes of this thread's examples (sources included), in the order they happened.
    double* sp_t
    int32_t* sp_n
    int64_t sp_n_used
    int64_t sp_cap
    int64_t sp_base     # where the current example's spikes start
    # The tape (record_tape=True): every event that changed a neuron, in order.
    bint record
    LogEntry* log
    int64_t log_n
    int64_t log_cap
    int64_t log_base
    # Per Poisson stream: draws so far, and the rate segment of its last spike.
    uint64_t* st_count
    uint64_t* st_key
    double* st_rate     # per stream: 1 / its rate if constant (one segment), else -1
    double* st_delay    # per stream: its synapse's delay
    int64_t* st_seg
    # The windowed loop (run_windowed): per neuron, its arrivals of the current window
    # and its pending action's time; per LI readout, its next readout.
    bint windowed
    Bucket* bk
    double* act_t
    int64_t* ro_next
    Spk* scr_spk        # scratch for sorting (spk_sort): 2 entries per item
    Arr* scr_arr
    ArrTape* scr_tape
    int64_t scratch_cap
    # The window's groups: time, and when clocked (decays shared per group, below)
    # per population e^{-(t - R)/tau_mem}, e^{-(t - R)/tau_syn} and their inverses.
    bint clocked
    double* gt_t
    double* gt_f
    int64_t gt_n
    int64_t gt_cap
    int64_t n_pops
    double* shift       # per population: scratch for rebasing
    # Spikes of the current level, delivered when the level is done (in time order,
    # so that the next levels' buckets fill sorted).
    SpikeList pend
    double* st_emit     # per Poisson stream: its latest spike, and when it arrives
    double* st_next
    double* pnext       # per neuron: the earliest st_next of its streams
    int64_t n_bk
    # The window's arrivals from a neuron's Poisson stream, drawn before it runs
    # (draw_window), with their clock factors, 4 per arrival as in gt_f.
    double* pq_t
    double* pq_f
    double* pq_e        # scratch: the exponents of pq_f's first two factors
    int64_t pq_cap
    # The layered loop (run_layered): the example's spikes so far in canonical order
    # (its inputs, then every finished block's), the running block's inputs, and its
    # own new spikes; per interval between the block's input times, its decays.
    SpikeList lg
    SpikeList lf
    SpikeList lb
    double* iv
    int64_t iv_n
    int64_t iv_cap
    int64_t* ia            # where each interval's arrivals (at its end) start in lf
    int32_t* ir            # the row of every arrival in lf
    # The block scan (lay_scan): per neuron of the block its state and the first
    # interval it cannot pass without a search; per interval and neuron, the state at
    # the interval's start.
    double* sc_u
    double* sc_j
    double* sc_first
    double* sc_cand
    double* sc_live
    int32_t* sc_pick
    double* sc_uh
    double* sc_jh
    int64_t sc_cap
    int64_t sc_hcap


cdef void ws_free(Workspace* ws) noexcept nogil:
    cdef int64_t j
    if ws == NULL:
        return
    queues_free(&ws.heap, &ws.tree)
    free(ws.s); free(ws.dirty_list)
    free(ws.sp_t); free(ws.sp_n); free(ws.log)
    free(ws.st_count); free(ws.st_key); free(ws.st_rate); free(ws.st_delay); free(ws.st_seg); free(ws.clock)
    if ws.bk != NULL:
        for j in range(ws.n_bk):
            free(ws.bk[j].a)
            free(ws.bk[j].x)
    free(ws.bk); free(ws.act_t); free(ws.ro_next)
    free(ws.scr_spk); free(ws.scr_arr); free(ws.scr_tape)
    free(ws.st_emit); free(ws.st_next); free(ws.pnext)
    free(ws.gt_t); free(ws.gt_f); free(ws.shift); free(ws.pq_t); free(ws.pq_f); free(ws.pq_e)
    free(ws.pend.s)
    free(ws.lg.s); free(ws.lf.s); free(ws.lb.s); free(ws.iv); free(ws.ia); free(ws.ir)
    free(ws.sc_u); free(ws.sc_j); free(ws.sc_first); free(ws.sc_cand); free(ws.sc_live); free(ws.sc_pick); free(ws.sc_uh); free(ws.sc_jh)
    free(ws)


cdef Workspace* ws_new(int64_t n_neurons, int64_t n_pops, int64_t n_streams) noexcept nogil:
    cdef Workspace* ws = <Workspace*> malloc(sizeof(Workspace))
    cdef int64_t n = n_neurons if n_neurons > 0 else 1
    if ws == NULL:
        return NULL
    memset(ws, 0, sizeof(Workspace))
    ws.n_pops = n_pops
    if queues_alloc(&ws.heap, &ws.tree, n) < 0:
        ws_free(ws)
        return NULL
    ws.s = <TrainState*> malloc(n * sizeof(TrainState))
    ws.dirty_list = <int32_t*> malloc(n * sizeof(int32_t))
    ws.sp_cap = 1024
    ws.sp_t = <double*> malloc(ws.sp_cap * sizeof(double))
    ws.sp_n = <int32_t*> malloc(ws.sp_cap * sizeof(int32_t))
    ws.log_cap = 1024
    ws.log = <LogEntry*> malloc(ws.log_cap * sizeof(LogEntry))
    ws.clock = <TrainClock*> malloc((n_pops + 1) * sizeof(TrainClock))
    ws.st_count = <uint64_t*> malloc((n_streams + 1) * sizeof(uint64_t))
    ws.st_key = <uint64_t*> malloc((n_streams + 1) * sizeof(uint64_t))
    ws.st_rate = <double*> malloc((n_streams + 1) * sizeof(double))
    ws.st_delay = <double*> malloc((n_streams + 1) * sizeof(double))
    ws.st_seg = <int64_t*> malloc((n_streams + 1) * sizeof(int64_t))
    if (ws.clock == NULL or ws.st_count == NULL or ws.st_key == NULL or ws.st_rate == NULL
            or ws.st_delay == NULL or ws.st_seg == NULL or ws.s == NULL or ws.dirty_list == NULL or ws.sp_t == NULL
            or ws.sp_n == NULL or ws.log == NULL):
        ws_free(ws)
        return NULL
    return ws


# Workspaces kept between run_batch() calls (with the GIL held: taking and giving
# back are Python-level steps of run_batch), so that a training loop's many small
# batches reuse their buffers: no allocation, no regrowth of the tape, no fresh pages.
# At most POOL_SIZE of them, holding at most POOL_BYTES in all.
cdef enum:
    POOL_SIZE = 8
cdef Workspace* _pool[POOL_SIZE]
cdef int64_t _pool_key[POOL_SIZE][7]     # the key of ws_take(), and the bytes held
cdef int _pool_n = 0
cdef int64_t POOL_BYTES = 64 << 20


cdef Workspace* ws_take(int64_t n, int64_t n_pops, int64_t n_streams, int64_t n_li,
                        bint windowed, bint record):
    """A workspace for this network, loop and recording (the windowed loop's buckets
    hold tape fields only when recording), from the pool or new; NULL if out of memory."""
    global _pool_n
    cdef int i
    cdef Workspace* ws
    for i in range(_pool_n):
        if (_pool_key[i][0] == n and _pool_key[i][1] == n_pops and _pool_key[i][2] == n_streams
                and _pool_key[i][3] == n_li and _pool_key[i][4] == windowed
                and _pool_key[i][5] == record):
            ws = _pool[i]
            _pool_n -= 1
            _pool[i] = _pool[_pool_n]
            _pool_key[i] = _pool_key[_pool_n]
            ws.sp_n_used = 0
            ws.sp_base = 0
            ws.log_n = 0
            ws.log_base = 0
            ws.heap.n = 0
            ws.n_dirty = 0
            ws.pend.m = 0
            ws.gt_n = 0
            ws.lg.m = 0
            ws.lf.m = 0
            ws.lb.m = 0
            return ws
    ws = ws_new(n, n_pops, n_streams)
    if ws != NULL and windowed and ws_window_alloc(ws, n, n_li, n_streams) < 0:
        ws_free(ws)
        return NULL
    if ws != NULL:
        ws.record = record
    return ws


cdef void ws_give(Workspace* ws, int64_t n, int64_t n_pops, int64_t n_streams, int64_t n_li,
                  bint windowed):
    """Keep a workspace for the next call (small ones, while there is room), or free it;
    its key is that of ws_take(), recording as it was taken."""
    global _pool_n
    cdef int64_t nbytes, held = 0, j
    cdef int i
    if ws == NULL:
        return
    # What it holds, roughly: its buffers, and per neuron its state and queue entries.
    nbytes = (ws.log_cap * sizeof(LogEntry) + ws.sp_cap * (sizeof(double) + sizeof(int32_t))
              + (ws.lg.cap + ws.lf.cap + ws.lb.cap + ws.pend.cap + 2 * ws.scratch_cap) * sizeof(Spk)
              + ws.scratch_cap * (sizeof(Arr) + sizeof(ArrTape)) + n * 96)
    for j in range(ws.n_bk):
        nbytes += ws.bk[j].cap * (sizeof(Arr) + (sizeof(ArrTape) if ws.bk[j].x != NULL else 0))
    for i in range(_pool_n):
        held += _pool_key[i][6]
    if ws.log == NULL or _pool_n == POOL_SIZE or held + nbytes > POOL_BYTES:
        ws_free(ws)
        return
    _pool[_pool_n] = ws
    _pool_key[_pool_n][0] = n
    _pool_key[_pool_n][1] = n_pops
    _pool_key[_pool_n][2] = n_streams
    _pool_key[_pool_n][3] = n_li
    _pool_key[_pool_n][4] = windowed
    _pool_key[_pool_n][5] = ws.record
    _pool_key[_pool_n][6] = nbytes
    _pool_n += 1


cdef int ws_window_alloc(Workspace* ws, int64_t n, int64_t n_li, int64_t n_streams) noexcept nogil:
    """The windowed loop's per-neuron buckets and action times; -1 if out of memory."""
    cdef int64_t nn = n if n > 0 else 1
    ws.windowed = True
    ws.bk = <Bucket*> calloc(nn, sizeof(Bucket))
    ws.n_bk = nn if ws.bk != NULL else 0
    ws.act_t = <double*> malloc(nn * sizeof(double))
    ws.ro_next = <int64_t*> malloc((n_li + 1) * sizeof(int64_t))
    ws.st_emit = <double*> malloc((n_streams + 1) * sizeof(double))
    ws.st_next = <double*> malloc((n_streams + 1) * sizeof(double))
    ws.pnext = <double*> malloc(nn * sizeof(double))
    ws.gt_cap = 256
    ws.gt_t = <double*> malloc(ws.gt_cap * sizeof(double))
    ws.gt_f = <double*> malloc(ws.gt_cap * 4 * (ws.n_pops + 1) * sizeof(double))
    ws.shift = <double*> malloc(2 * (ws.n_pops + 1) * sizeof(double))
    if (ws.gt_t == NULL or ws.gt_f == NULL or ws.shift == NULL or ws.bk == NULL or ws.act_t == NULL or ws.ro_next == NULL or ws.st_emit == NULL
            or ws.st_next == NULL or ws.pnext == NULL):
        return -1
    return 0


cdef int64_t record_spike(Workspace* ws, int32_t j, double t) noexcept nogil:
    """Append a spike; its index within the example, or -1 if out of memory."""
    if ws.sp_n_used == ws.sp_cap:
        if (grow(<void**> &ws.sp_t, 2 * ws.sp_cap * sizeof(double)) < 0
                or grow(<void**> &ws.sp_n, 2 * ws.sp_cap * sizeof(int32_t)) < 0):
            return -1
        ws.sp_cap *= 2
    ws.sp_t[ws.sp_n_used] = t
    ws.sp_n[ws.sp_n_used] = j
    ws.sp_n_used += 1
    return ws.sp_n_used - 1 - ws.sp_base


cdef int log_grow(Workspace* ws) noexcept nogil:
    """Double the tape's buffer (out of line: the rare path of log_add); -1 if out of
    memory."""
    if grow(<void**> &ws.log, 2 * ws.log_cap * sizeof(LogEntry)) < 0:
        return -1
    ws.log_cap *= 2
    return 0


cdef inline int64_t log_add(Workspace* ws, int type, int32_t j, double t, double V, double J,
                            int64_t ref, int64_t syn, int mode) noexcept nogil:
    """Append a tape entry; its index within the example, or -1 if out of memory.
    Inline: a call in a neuron's loop would spill its whole state around it."""
    cdef LogEntry* e
    if ws.log_n == ws.log_cap and log_grow(ws) < 0:
        return -1
    e = &ws.log[ws.log_n]
    e.t = t
    e.V = V
    e.J = J
    e.ref = ref
    e.syn = syn
    e.neuron = j
    e.type = <int8_t> type
    e.mode = <int8_t> mode
    ws.log_n += 1
    return ws.log_n - 1 - ws.log_base


cdef struct Streams:
    # Poisson streams: one per synapse of a generator, each an independent Poisson
    # train keyed by (seed, example, stream) (docs/engine.md 13).  The heap loop
    # keeps each stream's next spike in the heap; the windowed loop draws a neuron's
    # streams while it runs that neuron.
    int64_t n
    const int64_t* pos       # per stream: its first synapse's position in the delivery order
    const int64_t* count     # per stream: its number of synapses (1)
    const int32_t* gen       # per stream: its generator
    const int64_t* seg_off   # per generator: its rate segments seg_off[g]:seg_off[g+1]
    const double* seg_t      # segment start times (each generator's first is 0)
    const double* seg_rate   # rate on each segment
    uint64_t seed
    uint64_t example         # which example runs (part of every stream's key)
    const int64_t* by_target_ptr  # windowed loop: per neuron, its streams
    const int64_t* by_target      #   by_target[by_target_ptr[j]:by_target_ptr[j + 1]]


cdef inline double next_emission(const Streams* S, Workspace* ws, int64_t s,
                                 double t0) noexcept nogil:
    """The spike after t0 of stream s: invert the integrated (piecewise-constant)
    rate at an exponential draw, so time-varying rates need no thinning."""
    # exponential with mean 1 (_random.pxd), through the log draw_window() batches
    cdef double E = -es_log1(uniform_open(ws.st_key[s], ws.st_count[s]))
    cdef int64_t i, end
    cdef double t = t0, r, b
    ws.st_count[s] += 1
    if ws.st_rate[s] > 0.0:
        return t + E * ws.st_rate[s]            # a constant rate (a division less)
    i = ws.st_seg[s]
    end = S.seg_off[S.gen[s] + 1]
    while True:
        r = S.seg_rate[i]
        b = S.seg_t[i + 1] if i + 1 < end else INFINITY
        if r > 0.0 and r * (b - t) >= E:
            ws.st_seg[s] = i
            return t + E / r
        if b == INFINITY:
            ws.st_seg[s] = i
            return INFINITY
        E -= r * (b - t)
        t = b
        i += 1


cdef inline int push_stream(const Streams* S, const NetRec* net, Workspace* ws, int64_t s,
                            double t0, double t_max) noexcept nogil:
    """Schedule the next spike of stream s after t0 (if it arrives by t_max)."""
    cdef double e = next_emission(S, ws, s, t0)
    cdef double a = e + ws.st_delay[s]
    if a <= t_max:
        return heap_push(&ws.heap, a, <int32_t> s, EV_POISSON, S.pos[s], e, -1)
    return 0


cdef inline void streams_start(const Streams* S, const NetRec* net, Workspace* ws) noexcept nogil:
    """Every stream at its first draw, keyed by (seed, example, stream)."""
    cdef int64_t i
    for i in range(S.n):
        ws.st_count[i] = 0
        ws.st_seg[i] = S.seg_off[S.gen[i]]
        ws.st_key[i] = stream_key(S.seed, S.example, <uint64_t> i)
        ws.st_rate[i] = -1.0
        if S.seg_off[S.gen[i] + 1] - ws.st_seg[i] == 1 and S.seg_rate[ws.st_seg[i]] > 0.0:
            ws.st_rate[i] = 1.0 / S.seg_rate[ws.st_seg[i]]
        ws.st_delay[i] = syn_delay(net, syn_at(net, S.pos[i]))


# ==============================================================================
# One neuron
# ==============================================================================
cdef inline void set_action(Workspace* ws, int64_t n, int64_t j, int act, double t) noexcept nogil:
    ws.s[j].act = act
    if ws.windowed:
        ws.act_t[j] = t if act != ACT_NONE else INFINITY
    else:
        tree_set(&ws.tree, j, n, t if act != ACT_NONE else INFINITY)


cdef inline TrainClock* clock_at(Workspace* ws, int32_t p, const TrainPop* P,
                                 double t) noexcept nogil:
    """Population p's decay factors at t (computed once per population and time)."""
    cdef TrainClock* c = &ws.clock[p]
    if c.t != t:
        c.t = t
        c.im = exp(-(t - ws.R) * P.inv_m)
        c.is_ = exp(-(t - ws.R) * P.inv_s)
        c.fm = 1.0 / c.im
        c.fs = 1.0 / c.is_
    return c


cdef void rebase(Workspace* ws, const TrainPop* pops, int64_t n_pops, int64_t n,
                 double t) noexcept nogil:
    """Move the reference time R to t, before the factors e^{(t0 - R)/tau} overflow;
    neurons touched long ago underflow to 0, i.e. fully decayed."""
    cdef int64_t j
    cdef int32_t p
    cdef TrainState* st
    for p in range(n_pops):
        ws.clock[p].im = exp(-(t - ws.R) * pops[p].inv_m)     # scratch: the shift
        ws.clock[p].is_ = exp(-(t - ws.R) * pops[p].inv_s)
        ws.clock[p].t = -INFINITY
    for j in range(n):
        st = &ws.s[j]
        if st.pop >= 0:
            st.fm *= ws.clock[st.pop].im
            st.fs *= ws.clock[st.pop].is_
    ws.R = t


cdef inline void flow_state(TrainState* st, const TrainPop* P, double s, double em, double ej,
                            double t, double* vmax, double* tmax) noexcept nogil:
    """Advance a neuron by s to t given its decays em = e^{-s/tau_mem} and ej =
    e^{-s/tau_syn}: free, V and J flow (an LI neuron, vmax non-NULL, raises its
    running maximum); clamped, only J decays."""
    if st.mode == MODE_FREE:
        if vmax != NULL:
            train_li_max(P, st.V, st.J, s, st.t0, vmax, tmax)
        train_flow_by(P, s, em, ej, &st.V, &st.J)
        if vmax != NULL and st.V > vmax[0]:
            vmax[0] = st.V
            tmax[0] = t
    else:
        st.J = st.J * ej
    st.t0 = t


cdef inline void advance(Workspace* ws, TrainState* st, const TrainPop* P, double t,
                         double* vmax, double* tmax) noexcept nogil:
    """Bring neuron st's state to time t (LI neurons: raise their running maximum)."""
    cdef double s = t - st.t0, em, ej
    cdef TrainClock* c
    if s <= 0.0:
        return
    c = clock_at(ws, st.pop, P, t)
    flow_state(st, P, s, c.im * st.fm, c.is_ * st.fs, t, vmax, tmax)
    st.fm = c.fm
    st.fs = c.fs


cdef inline void mark_dirty(Workspace* ws, TrainState* st, int32_t j) noexcept nogil:
    if not st.dirty:
        st.dirty = 1
        ws.dirty_list[ws.n_dirty] = j
        ws.n_dirty += 1


cdef inline int arrive(Workspace* ws, const TrainPop* pops, int32_t j, double w, double t,
                       int64_t k, int64_t ref, const int32_t* li_slot, double* vmax,
                       double* tmax) noexcept nogil:
    """Synapse k (weight w) delivers at t the spike of tape entry ref to neuron j.
    Returns -1 if out of memory."""
    cdef TrainState* st = &ws.s[j]
    cdef const TrainPop* P = &pops[st.pop]
    cdef int32_t slot
    if st.mode == MODE_DONE:
        return 0
    slot = li_slot[j]
    if slot >= 0:
        advance(ws, st, P, t, &vmax[slot], &tmax[slot])
    else:
        advance(ws, st, P, t, NULL, NULL)
    st.J += w * P.inv_g
    if ws.record and log_add(ws, LOG_ARRIVAL, j, t, st.V, st.J, ref, k, st.mode) < 0:
        return -1
    # An inhibitory arrival cannot create a crossing, only delay one: a pending CHECK
    # stays a lower bound; a pending FIRE must move.
    if P.code == TRAIN_LIF and st.mode == MODE_FREE and (w > 0.0 or st.act == ACT_FIRE):
        mark_dirty(ws, st, j)
    return 0


cdef int deliver(Workspace* ws, const NetRec* net, const TrainPop* pops, int64_t pre, int64_t pos,
                 double t_spike, int64_t ref, double t, const int32_t* li_slot, double* vmax,
                 double* tmax) noexcept nogil:
    """Deliver the synapses of a spike of ``pre`` (at t_spike; tape entry ref) that
    are due at t, from position ``pos`` of the delivery order on; schedule the rest."""
    cdef int64_t end = net.indptr[pre + 1], k
    cdef double w
    while pos < end:
        k = syn_at(net, pos)
        if net.has_delays and t_spike + syn_delay(net, k) != t:
            if heap_push(&ws.heap, t_spike + syn_delay(net, k), <int32_t> pre, EV_DELIVER, pos,
                         t_spike, ref) < 0:
                return -1
            break
        pos += 1
        w = net.weights[k]
        # A zero weight changes nothing now, but its gradient is not zero: the tape
        # keeps the arrival.
        if w != 0.0 or ws.record:
            if arrive(ws, pops, net.post[k], w, t, k, ref, li_slot, vmax, tmax) < 0:
                return -1
    return 0


cdef int predict(Workspace* ws, const TrainPop* pops, int64_t n, int32_t j, double t,
                 double t_max) noexcept nogil:
    """New pending action of a free LIF neuron whose state is at t: none, a CHECK at
    a cheap lower bound of its next crossing, or (when that bound is now) the exact
    crossing.  Returns -1 if the crossing's iteration did not converge."""
    cdef TrainState* st = &ws.s[j]
    cdef double s = 0.0
    if not train_bound(&pops[st.pop], st.V, st.J, &s) or t + s > t_max:
        if st.act != ACT_NONE:
            set_action(ws, n, j, ACT_NONE, INFINITY)
        return 0
    if s > 0.0:
        set_action(ws, n, j, ACT_CHECK, t + s)
        return 0
    return solve(ws, pops, n, j, t, t_max)


cdef int solve(Workspace* ws, const TrainPop* pops, int64_t n, int32_t j, double t,
               double t_max) noexcept nogil:
    """The exact next crossing of a free LIF neuron whose state is at t (FIRE), or none."""
    cdef TrainState* st = &ws.s[j]
    cdef double s = 0.0
    cdef int rc = train_cross(&pops[st.pop], st.V, st.J, t_max - t, newton_max_iterations, &s)
    if rc == CROSS_FAIL:
        return -1
    if rc == CROSS_NONE:
        if st.act != ACT_NONE:
            set_action(ws, n, j, ACT_NONE, INFINITY)
    else:
        set_action(ws, n, j, ACT_FIRE, t + s)
    return 0


cdef inline int64_t fire(Workspace* ws, const TrainPop* P, int64_t n, int32_t j, double t,
                         double* first, bint* again) noexcept nogil:
    """Neuron j spikes at t (its state advanced to t): record the spike, reset, then
    clamp it until t + t_ref, retire it (t_ref = inf) or leave it free (t_ref = 0:
    ``again``, it needs a new prediction).  Returns its tape entry (0 when not
    recording), or -1 if out of memory."""
    cdef TrainState* st = &ws.s[j]
    cdef int64_t sidx = record_spike(ws, j, t), ref = 0
    if sidx < 0:
        return -1
    if first[j] == INFINITY:
        first[j] = t
    st.V = P.v_reset
    again[0] = False
    if isinf(P.t_ref):
        st.mode = MODE_DONE
        set_action(ws, n, j, ACT_NONE, INFINITY)
    elif P.t_ref > 0.0:
        st.mode = MODE_CLAMPED
        set_action(ws, n, j, ACT_RELEASE, t + P.t_ref)
    else:
        set_action(ws, n, j, ACT_NONE, INFINITY)
        again[0] = True
    if ws.record:
        ref = log_add(ws, LOG_FIRE, j, t, st.V, st.J, -1, sidx, st.mode)
        st.last_fire = ref
    return ref


cdef inline int release(Workspace* ws, const TrainPop* P, int64_t n, int32_t j,
                        double t) noexcept nogil:
    """Neuron j's refractory period ends at t: free again, from v_reset (it needs a
    new prediction).  Returns -1 if out of memory."""
    cdef TrainState* st = &ws.s[j]
    st.V = P.v_reset
    st.mode = MODE_FREE
    set_action(ws, n, j, ACT_NONE, INFINITY)
    if ws.record and log_add(ws, LOG_RELEASE, j, t, st.V, st.J, st.last_fire, -1,
                             st.mode) < 0:
        return -1
    return 0


cdef inline int64_t source_spike(Workspace* ws, int32_t j, double t) noexcept nogil:
    """Record an input or pulse spike; its tape entry (0 when not recording), or -1
    if out of memory."""
    cdef int64_t sidx = record_spike(ws, j, t)
    if sidx < 0:
        return -1
    if ws.record:
        return log_add(ws, LOG_SOURCE, j, t, 0.0, 0.0, -1, sidx, MODE_FREE)
    return 0


cdef int neuron_start(Workspace* ws, const NetRec* net, const TrainPop* pops, int64_t j,
                      const int32_t* li_slot, double* first, double* vmax, double* tmax,
                      double t_max) noexcept nogil:
    """Neuron j at rest at t = 0 (an LI neuron's maximum so far: v_init; a pulse:
    its spike in the heap).  Returns -1 if out of memory."""
    cdef TrainState* st = &ws.s[j]
    cdef double ts
    first[j] = INFINITY
    st.pop = net.pop[j]
    st.act = ACT_NONE
    st.dirty = 0
    st.t0 = 0.0
    st.fm = 1.0
    st.fs = 1.0
    st.J = 0.0
    st.mode = MODE_FREE
    if st.pop >= 0:
        st.V = pops[st.pop].v_init
        if li_slot[j] >= 0:
            vmax[li_slot[j]] = st.V
            tmax[li_slot[j]] = 0.0
        return 0
    st.V = 0.0
    if net.kind[j] == KIND_PULSE:
        ts = net.pulse_times[net.source_index[j]]
        if ts <= t_max and heap_push(&ws.heap, ts, <int32_t> j, EV_SOURCE, 0, ts, 0) < 0:
            return -1
    return 0


cdef int run_one(Workspace* ws, const NetRec* net, const TrainPop* pops, Streams* S,
                 const double* in_t, const int64_t* in_c, int64_t n_in_spikes,
                 const int32_t* input_neuron, const double* ro_t, int64_t n_ro,
                 const int32_t* li_slot, int64_t n_li, double t_max, int64_t max_events,
                 double* first, double* ro_v, double* vmax, double* tmax,
                 int64_t* n_events, int64_t* where) noexcept nogil:
    """Simulate one example; returns a STATUS_* (STATUS_NEWTON: neuron in ``where``)."""
    cdef int64_t n = net.n_neurons, j, i, k, events = 0, c = 0, r = 0, nb, ref, sidx
    cdef bint again
    cdef double t, t_in, t_heap, t_act, ts, rate_max
    cdef int32_t jj, slot
    cdef EventRecord ev
    cdef TrainState* st
    cdef const TrainPop* P
    ws.heap.n = 0
    ws.heap.seq = 0
    ws.n_dirty = 0
    tree_clear(&ws.tree, n)
    for j in range(n):
        if neuron_start(ws, net, pops, j, li_slot, first, vmax, tmax, t_max) < 0:
            return STATUS_NO_MEMORY
        if ws.s[j].pop >= 0 and li_slot[j] < 0 and pops[ws.s[j].pop].code == TRAIN_LIF:
            mark_dirty(ws, &ws.s[j], <int32_t> j)     # bias or v_init may drive it alone
    ws.R = 0.0
    rate_max = 0.0
    for i in range(net.n_pops):
        ws.clock[i].t = -INFINITY
        rate_max = max(rate_max, max(pops[i].inv_m, pops[i].inv_s))
    streams_start(S, net, ws)
    for i in range(S.n):
        if push_stream(S, net, ws, i, 0.0, t_max) < 0:
            return STATUS_NO_MEMORY
    t = 0.0
    while True:
        # Predictions of the batch just done (at the start: of every LIF neuron at 0).
        nb = ws.n_dirty
        ws.n_dirty = 0
        for i in range(nb):
            jj = ws.dirty_list[i]
            st = &ws.s[jj]
            st.dirty = 0
            if st.mode == MODE_FREE:
                if predict(ws, pops, n, jj, t, t_max) < 0:
                    n_events[0] = events
                    where[0] = jj
                    return STATUS_NEWTON
        t_in = in_t[c] if c < n_in_spikes else INFINITY
        t_heap = ws.heap.data[0].time if ws.heap.n > 0 else INFINITY
        tree_argmin(&ws.tree, n, &t_act)
        t = t_in if t_in < t_heap else t_heap
        t = t if t < t_act else t_act
        # Readouts before this batch: V is continuous through arrivals, and LI
        # neurons never spike, so a readout at t itself may come first too.
        while r < n_ro and (ro_t[r] <= t or t > t_max):
            for j in range(n):
                slot = li_slot[j]
                if slot >= 0:
                    advance(ws, &ws.s[j], &pops[ws.s[j].pop], ro_t[r], &vmax[slot],
                            &tmax[slot])
                    ro_v[r * n_li + slot] = ws.s[j].V
            r += 1
        if t > t_max:
            break
        if (t - ws.R) * rate_max > REBASE:
            rebase(ws, pops, net.n_pops, n, t)
        # One batch: everything at time t.
        while True:
            if c < n_in_spikes and in_t[c] == t:
                jj = input_neuron[in_c[c]]
                c += 1
                events += 1
                if first[jj] == INFINITY:
                    first[jj] = t
                ref = source_spike(ws, jj, t)
                if ref < 0 or deliver(ws, net, pops, jj, net.indptr[jj], t, ref, t, li_slot,
                                      vmax, tmax) < 0:
                    return STATUS_NO_MEMORY
            elif ws.heap.n > 0 and ws.heap.data[0].time == t:
                heap_pop(&ws.heap, &ev)
                events += 1
                if ev.kind == EV_SOURCE:
                    if first[ev.neuron] == INFINITY:
                        first[ev.neuron] = t
                    ref = source_spike(ws, ev.neuron, t)
                    if ref < 0 or deliver(ws, net, pops, ev.neuron, net.indptr[ev.neuron], t, ref,
                                          t, li_slot, vmax, tmax) < 0:
                        return STATUS_NO_MEMORY
                elif ev.kind == EV_POISSON:
                    k = syn_at(net, ev.pos)
                    if net.weights[k] != 0.0 or ws.record:
                        if arrive(ws, pops, net.post[k], net.weights[k], t, k, -1, li_slot, vmax,
                                  tmax) < 0:
                            return STATUS_NO_MEMORY
                    if push_stream(S, net, ws, ev.neuron, ev.origin, t_max) < 0:
                        return STATUS_NO_MEMORY
                elif deliver(ws, net, pops, ev.neuron, ev.pos, ev.origin, ev.ref, t, li_slot,
                             vmax, tmax) < 0:
                    return STATUS_NO_MEMORY
            else:
                jj = <int32_t> tree_argmin(&ws.tree, n, &t_act)
                if t_act != t:
                    break
                events += 1
                st = &ws.s[jj]
                P = &pops[st.pop]
                advance(ws, st, P, t, NULL, NULL)
                if st.act == ACT_CHECK:
                    # The bound is reached with no input since: the exact crossing now.
                    if solve(ws, pops, n, jj, t, t_max) < 0:
                        n_events[0] = events
                        where[0] = jj
                        return STATUS_NEWTON
                elif st.act == ACT_FIRE:
                    ref = fire(ws, P, n, jj, t, first, &again)
                    if ref < 0:
                        return STATUS_NO_MEMORY
                    if again:
                        mark_dirty(ws, st, jj)
                    if deliver(ws, net, pops, jj, net.indptr[jj], t, ref, t, li_slot, vmax,
                               tmax) < 0:
                        return STATUS_NO_MEMORY
                else:                       # ACT_RELEASE
                    if release(ws, P, n, jj, t) < 0:
                        return STATUS_NO_MEMORY
                    mark_dirty(ws, st, jj)
            if events > max_events:
                n_events[0] = events
                return STATUS_BUDGET
    # The LI maxima run to the horizon.
    for j in range(n):
        slot = li_slot[j]
        if slot >= 0:
            advance(ws, &ws.s[j], &pops[ws.s[j].pop], t_max, &vmax[slot], &tmax[slot])
    n_events[0] = events
    return STATUS_OK


# ==============================================================================
# The windowed loop
# ==============================================================================
# When every synapse from a spiking neuron has either no delay or a delay of at
# least d > 0, and the delay-free ones form no cycle, time splits into windows of
# length d in which neurons do not influence each other except along delay-free
# synapses: a spike in a window arrives, through a delayed synapse, in a later
# window.  Each window runs in two phases (docs/engine.md 13, "The windowed loop"):
#   1. the heap's events and the input spikes of the window are fanned out into
#      per-neuron buckets of arrivals (in time order, so buckets come out sorted);
#   2. neuron by neuron (delay-free synapses in topological order), each neuron runs
#      through its own arrivals and its own actions with its state in registers, and
#      its spikes go to the heap (delayed synapses) or straight into the buckets of
#      later neurons (delay-free ones).
# The neuron's arithmetic is run_one's, step for step; decays are shared per group
# of arrivals (a spike's synapses of one delay) where run_one shares them per
# population clock, and taken directly at times of their own, so spike times agree
# to rounding.  No global queue is touched per arrival, and each neuron's events run
# in one place: what makes this loop fast.

cdef inline bint spk_less(const Spk* a, const Spk* b) noexcept nogil:
    return a.t < b.t or (a.t == b.t and a.n < b.n)


cdef inline int64_t spk_less_bits(const Spk* a, const Spk* b) noexcept nogil:
    """spk_less() as 0 or 1, evaluated without short-circuit branches."""
    return (<int64_t> (a.t < b.t)) | ((<int64_t> (a.t == b.t)) & (<int64_t> (a.n < b.n)))


cdef void spk_sort(Spk* a, Spk* tmp, int64_t m) noexcept nogil:
    """Stable sort of m spikes by time, then n (a neuron, or 0 to keep ties in their
    order): insertion sort of runs of 8, then bottom-up merges, the 24-byte entries
    themselves moving (no indirection).  tmp holds m entries.  Every sort of the loops
    goes through here, ref carrying what an entry stands for."""
    cdef int64_t i, k, lo, mid, hi, p, q, o, take, width = 8
    cdef Spk x
    cdef Spk* src = a
    cdef Spk* dst = tmp
    cdef Spk* sw
    for lo in range(0, m, 8):
        hi = min(lo + 8, m)
        for i in range(lo + 1, hi):
            x = a[i]
            k = i
            while k > lo and spk_less(&x, &a[k - 1]):
                a[k] = a[k - 1]
                k -= 1
            a[k] = x
    while width < m:
        lo = 0
        while lo < m:
            mid = min(lo + width, m)
            hi = min(lo + 2 * width, m)
            p = lo
            q = mid
            o = lo
            while p < mid and q < hi:
                # Without a branch on the comparison (its outcome is a coin flip on
                # spikes from different neurons): a select and two additions.
                take = spk_less_bits(&src[q], &src[p])
                dst[o] = src[p + take * (q - p)]
                q += take
                p += 1 - take
                o += 1
            while p < mid:
                dst[o] = src[p]
                p += 1
                o += 1
            while q < hi:
                dst[o] = src[q]
                q += 1
                o += 1
            lo = hi
        sw = src
        src = dst
        dst = sw
        width *= 2
    if src != a:
        memcpy(a, src, m * sizeof(Spk))


cdef int scratch_reserve(Workspace* ws, int64_t m) noexcept nogil:
    """Room for sorting m items: 2m sort entries, m arrivals (and their tape fields).
    Returns -1 if out of memory."""
    if ws.scratch_cap >= m:
        return 0
    if (grow(<void**> &ws.scr_spk, 2 * m * sizeof(Spk)) < 0
            or grow(<void**> &ws.scr_arr, m * sizeof(Arr)) < 0
            or grow(<void**> &ws.scr_tape, m * sizeof(ArrTape)) < 0):
        return -1
    ws.scratch_cap = m
    return 0


cdef int64_t group_new(Workspace* ws, const TrainPop* pops, double t) noexcept nogil:
    """A new group of the window's table at time t (its decay factors when clocked);
    its index, or -1 if out of memory."""
    cdef int64_t g = ws.gt_n, p
    cdef double* f
    cdef double ej
    if g == ws.gt_cap:
        if (grow(<void**> &ws.gt_t, 2 * ws.gt_cap * sizeof(double)) < 0
                or grow(<void**> &ws.gt_f, 2 * ws.gt_cap * 4 * (ws.n_pops + 1) * sizeof(double)) < 0):
            return -1
        ws.gt_cap *= 2
    ws.gt_t[g] = t
    if ws.clocked:
        f = ws.gt_f + g * 4 * ws.n_pops
        for p in range(ws.n_pops):
            f[4 * p] = exp(-(t - ws.R) * pops[p].inv_m)
            train_kappa(&pops[p], t - ws.R, f[4 * p], &ej)
            f[4 * p + 1] = ej
            f[4 * p + 2] = 1.0 / f[4 * p]
            f[4 * p + 3] = 1.0 / ej
    ws.gt_n += 1
    return g


cdef int bucket_push(Workspace* ws, int32_t j, int64_t g, double t, double w, int64_t k,
                     int64_t ref) noexcept nogil:
    cdef Bucket* b = &ws.bk[j]
    cdef int32_t cap
    if b.n == b.cap:
        if b.cap >= 1 << 29:
            return -1
        cap = 2 * b.cap if b.cap else 8
        if grow(<void**> &b.a, cap * sizeof(Arr)) < 0:
            return -1
        if ws.record and grow(<void**> &b.x, cap * sizeof(ArrTape)) < 0:
            return -1
        b.cap = cap
    if b.n and t < b.last:
        b.unsorted = 1
    b.last = t
    b.a[b.n].w = w
    b.a[b.n].g = g
    if ws.record:
        b.x[b.n].k = k
        b.x[b.n].ref = ref
    b.n += 1
    return 0


cdef int bucket_sort(Workspace* ws, Bucket* b) noexcept nogil:
    """Stable sort of a bucket by time (equal times keep their order of arrival).
    Only buckets fed by delay-free synapses as well as by delayed ones (or by several
    delay-free sources) need it."""
    cdef int64_t n = b.n, i
    cdef Spk* S
    b.unsorted = 0
    if scratch_reserve(ws, n) < 0:
        return -1
    S = ws.scr_spk
    for i in range(n):
        S[i].t = ws.gt_t[b.a[i].g]
        S[i].n = 0
        S[i].ref = i
    spk_sort(S, S + n, n)
    memcpy(ws.scr_arr, b.a, n * sizeof(Arr))
    for i in range(n):
        b.a[i] = ws.scr_arr[S[i].ref]
    if b.x != NULL:
        memcpy(ws.scr_tape, b.x, n * sizeof(ArrTape))
        for i in range(n):
            b.x[i] = ws.scr_tape[S[i].ref]
    return 0


cdef extern from *:
    """
    #define ES_PREFETCH(p) __builtin_prefetch((const void*) (p))
    """
    void ES_PREFETCH(const void* p) noexcept nogil


cdef int fan_out(Workspace* ws, const NetRec* net, const TrainPop* pops, int64_t pre,
                 int64_t pos, double t_spike, int64_t ref, double t) noexcept nogil:
    """deliver() of the windowed loop: the synapses of a spike of ``pre`` due at t go
    into their targets' buckets; the next group of equal delay waits in the heap."""
    cdef int64_t end = net.indptr[pre + 1], k, g = -1
    cdef int32_t j
    cdef double w
    cdef Bucket* bq
    # Synapses are in delay order: if the last one is due now, all are, and the
    # per-synapse delay test (a load per synapse) can go.
    cdef bint check = (net.has_delays and pos < end
                       and t_spike + syn_delay(net, syn_at(net, end - 1)) != t)
    while pos < end:
        # The targets are scattered: fetch the bucket header 16 synapses ahead and
        # the slot its next arrival goes to 8 ahead, so neither load stalls here.
        if pos + 16 < end:
            ES_PREFETCH(&ws.bk[net.post[syn_at(net, pos + 16)]])
        if pos + 8 < end:
            bq = &ws.bk[net.post[syn_at(net, pos + 8)]]
            ES_PREFETCH(bq.a + bq.n)
        k = syn_at(net, pos)
        if check and t_spike + syn_delay(net, k) != t:
            return heap_push(&ws.heap, t_spike + syn_delay(net, k), <int32_t> pre, EV_DELIVER, pos,
                             t_spike, ref)
        pos += 1
        w = net.weights[k]
        j = net.post[k]
        # (Arrivals at a neuron that is done are dropped when it runs: checking here
        # would read every target's state.)
        if w != 0.0 or ws.record:
            if g < 0:
                g = group_new(ws, pops, t)
                if g < 0:
                    return -1
            if bucket_push(ws, j, g, t, w, k, ref) < 0:
                return -1
    return 0


cdef inline void stream_advance(const Streams* S, const NetRec* net, Workspace* ws, int64_t s,
                                double t_max) noexcept nogil:
    """Draw the spike after st_emit[s] of stream s (one synapse: no pick), and when it
    arrives (inf: after t_max); the same draws as push_stream()."""
    stream_set(ws, s, next_emission(S, ws, s, ws.st_emit[s]), t_max)


cdef inline void stream_set(Workspace* ws, int64_t s, double e, double t_max) noexcept nogil:
    """Stream s's latest spike is at e: its arrival (inf: after t_max)."""
    cdef double a = e + ws.st_delay[s]
    ws.st_emit[s] = e
    ws.st_next[s] = a if a <= t_max else INFINITY


cdef inline void clock_follow(Workspace* ws, TrainState* st, const TrainPop* P, double em,
                              double ej, double t) noexcept nogil:
    """The neuron's factors e^{(t - R)/tau} after a direct advance by decays em, ej."""
    if em > 0.0 and ej > 0.0 and st.fm > 0.0 and st.fs > 0.0:
        st.fm = st.fm / em
        st.fs = st.fs / ej
    else:
        # A long silence: the quotient would be 0/0.
        st.fm = exp((t - ws.R) * P.inv_m)
        st.fs = exp((t - ws.R) * P.inv_s)


cdef inline void advance_direct(Workspace* ws, TrainState* st, const TrainPop* P, double t,
                                double* vmax, double* tmax) noexcept nogil:
    """advance() with the decays taken directly from t - t0 (an event at a time of
    its own: a Poisson spike, an action, a readout).  Clocked, the neuron's factors
    e^{(t0 - R)/tau} follow by a division."""
    cdef double s = t - st.t0, em, ej
    if s <= 0.0:
        return
    em = exp(-s * P.inv_m)
    train_kappa(P, s, em, &ej)
    flow_state(st, P, s, em, ej, t, vmax, tmax)
    if ws.clocked:
        clock_follow(ws, st, P, em, ej, t)


cdef inline void advance_by(TrainState* st, const TrainPop* P, double t, const double* f,
                            double* vmax, double* tmax) noexcept nogil:
    """advance() to t given its clock factors f (e^{-(t - R)/tau_mem}, e^{-(t -
    R)/tau_syn} and their inverses): no exponential (clocked only)."""
    cdef double s = t - st.t0
    if s <= 0.0:
        return
    flow_state(st, P, s, f[0] * st.fm, f[1] * st.fs, t, vmax, tmax)
    st.fm = f[2]
    st.fs = f[3]


cdef inline void advance_group(Workspace* ws, TrainState* st, const TrainPop* P,
                               int64_t g, double* vmax, double* tmax) noexcept nogil:
    """advance() to the time of group g, with the group's decay factors."""
    advance_by(st, P, ws.gt_t[g], ws.gt_f + g * 4 * ws.n_pops + 4 * st.pop, vmax, tmax)


cdef inline void readouts_until(Workspace* ws, TrainState* st, const TrainPop* P, int32_t slot,
                                double t, const double* ro_t, int64_t n_ro, int64_t n_li,
                                double* ro_v, double* vmax, double* tmax) noexcept nogil:
    """An LI neuron's readouts at times <= t (V is continuous through arrivals)."""
    cdef int64_t r = ws.ro_next[slot]
    while r < n_ro and ro_t[r] <= t:
        advance_direct(ws, st, P, ro_t[r], &vmax[slot], &tmax[slot])
        ro_v[r * n_li + slot] = st.V
        r += 1
    ws.ro_next[slot] = r


cdef int pend_push(Workspace* ws, double t, int32_t j, int64_t ref) noexcept nogil:
    """Hold a spike of the running level until the level is done; -1 if out of memory."""
    return sl_push(&ws.pend, t, j, ref)


cdef int pend_flush(Workspace* ws, const NetRec* net, const TrainPop* pops) noexcept nogil:
    """Deliver the level's spikes in time order (ties: as they came, which within a
    level is neuron order).  Returns -1 if out of memory."""
    cdef int64_t m = ws.pend.m, i
    cdef const Spk* p
    if scratch_reserve(ws, m) < 0:
        return -1
    spk_sort(ws.pend.s, ws.scr_spk, m)
    ws.pend.m = 0
    for i in range(m):
        p = &ws.pend.s[i]
        if fan_out(ws, net, pops, p.n, net.indptr[p.n], p.t, p.ref, p.t) < 0:
            return -1
    return 0


cdef inline int poisson_arrival(Workspace* ws, TrainState* st, int32_t j, double t, double dJ,
                                int64_t k, bint* dirty) noexcept nogil:
    """A Poisson spike through synapse k raises neuron j's J by dJ at t (its state
    advanced to t).  Returns -1 if out of memory."""
    if dJ != 0.0 or ws.record:
        st.J += dJ
        if ws.record and log_add(ws, LOG_ARRIVAL, j, t, st.V, st.J, -1, k, st.mode) < 0:
            return -1
        # Only an excitatory arrival (or any, while a crossing is pending) can move it.
        if dJ > 0.0 or st.act == ACT_FIRE:
            dirty[0] = True
    return 0


cdef enum:
    DRAW_BATCH = 8


cdef int64_t draw_window(Workspace* ws, const Streams* S, const NetRec* net, int64_t s,
                        const TrainPop* P, double horizon, bint inclusive,
                        double t_max) noexcept nogil:
    """The arrivals of stream s (a constant rate; ws.st_next[s] its next) before the
    horizon into ws.pq_t, then the first one after (or inf); the same draws, in the
    same order, as drawing each when it arrives.  Their clock factors into ws.pq_f,
    as group_new() has them for a group (two exponentials and two inverses), but
    computed together, vectorised (es_clock_factors): drawn one by one, the Poisson
    drive's logarithms and exponentials were about a quarter of the windowed loop's
    time in a Brunel network.  Returns their number, or -1 if out of memory."""
    cdef int64_t m = 0, cap, k, used = DRAW_BATCH
    cdef double t = ws.st_next[s], x
    cdef double lg[DRAW_BATCH]
    while True:
        if m == ws.pq_cap:
            cap = 2 * ws.pq_cap if ws.pq_cap else 64
            if (grow(<void**> &ws.pq_t, cap * sizeof(double)) < 0
                    or grow(<void**> &ws.pq_f, 4 * cap * sizeof(double)) < 0
                    or grow(<void**> &ws.pq_e, 2 * cap * sizeof(double)) < 0):
                return -1
            ws.pq_cap = cap
        ws.pq_t[m] = t
        if not (t < horizon or (inclusive and t == horizon)):
            break
        x = t - ws.R
        ws.pq_e[2 * m] = -x * P.inv_m
        ws.pq_e[2 * m + 1] = -x * P.inv_s
        m += 1
        # stream_advance(), with the logs of the exponential draws taken DRAW_BATCH
        # at a time (the draws are counter-based: those a window leaves unused are
        # drawn again, the same, by the next)
        if used == DRAW_BATCH:
            for k in range(DRAW_BATCH):
                lg[k] = uniform_open(ws.st_key[s], ws.st_count[s] + <uint64_t> k)
            es_log_inplace(lg, DRAW_BATCH)
            used = 0
        ws.st_count[s] += 1
        stream_set(ws, s, ws.st_emit[s] + (-lg[used]) * ws.st_rate[s], t_max)
        used += 1
        t = ws.st_next[s]
    es_clock_factors(ws.pq_e, ws.pq_f, m)
    return m


cdef int run_neuron(Workspace* ws, const NetRec* net, const TrainPop* pops, const Streams* S,
                    int32_t j, double lim, bint last, double t_max, const int32_t* li_slot,
                    const double* ro_t, int64_t n_ro, int64_t n_li, double* first,
                    double* ro_v, double* vmax, double* tmax, int64_t* events,
                    int64_t max_events) noexcept nogil:
    """Run neuron j through the current window (times < lim; <= t_max in the last):
    its bucket, its own Poisson streams (drawn here, never queued) and its actions.
    Returns a STATUS_*.

    The next bucket time, the next Poisson time and the pending action's time live
    in locals (the loop runs once per event: re-reading them through pointers that
    the compiler cannot prove unaliased costs more than the arithmetic)."""
    cdef int64_t n = net.n_neurons, i = 0, sidx, ref, q, sid, k, nb
    cdef int64_t q0 = S.by_target_ptr[j] if S.n else 0, q1 = S.by_target_ptr[j + 1] if S.n else 0
    cdef int64_t sid1 = S.by_target[q0] if q1 - q0 == 1 else -1, k1 = 0
    cdef double tp, w, w1 = 0.0
    cdef TrainState* st = &ws.s[j]
    cdef const TrainPop* P = &pops[st.pop]
    cdef Bucket* b = &ws.bk[j]
    cdef const Arr* a
    cdef const double* gt = ws.gt_t
    cdef int32_t slot = li_slot[j]
    cdef double t, ta, tb, inv_g = P.inv_g, horizon = t_max if last or lim > t_max else lim
    cdef double* vm = &vmax[slot] if slot >= 0 else NULL
    cdef double* tm = &tmax[slot] if slot >= 0 else NULL
    cdef bint dirty, again, lif = P.code == TRAIN_LIF, inclusive = last or lim > t_max
    cdef bint fast = ws.clocked and slot < 0 and not P.near
    # The window's Poisson arrivals drawn up front, with their decays (draw_window).
    cdef bint drawn = fast and sid1 >= 0 and ws.st_rate[sid1] > 0.0
    cdef int64_t pq = 0, pm = 0
    cdef double s_, em, ej
    if b.unsorted and bucket_sort(ws, b) < 0:
        return STATUS_NO_MEMORY
    a = b.a
    nb = b.n
    if sid1 >= 0:
        # One Poisson stream (the usual drive): its synapse and weight, once.
        k1 = syn_at(net, S.pos[sid1])
        w1 = net.weights[k1]
    tb = gt[a[0].g] if nb else INFINITY
    tp = ws.pnext[j]
    if drawn and tp < INFINITY:
        pm = draw_window(ws, S, net, sid1, P, horizon, inclusive, t_max)
        if pm < 0:
            return STATUS_NO_MEMORY
        tp = ws.pq_t[0]
    ta = ws.act_t[j]
    while st.mode != MODE_DONE:
        t = ta if ta < tb else tb
        t = t if t < tp else tp
        if not (t < horizon or (inclusive and t == horizon)):
            break
        if slot >= 0:
            readouts_until(ws, st, P, slot, t, ro_t, n_ro, n_li, ro_v, vmax, tmax)
        if ws.clocked and tb == t:
            advance_group(ws, st, P, a[i].g, vm, tm)
        elif drawn and tp == t:
            advance_by(st, P, t, ws.pq_f + 4 * pq, vm, tm)
        elif fast and st.mode == MODE_FREE and t > st.t0:
            # advance_direct() for the usual case (a free LIF neuron, constants not
            # close, a clock to keep), inline: most events are Poisson arrivals.
            s_ = t - st.t0
            em = exp(-s_ * P.inv_m)
            ej = train_power(em, P.power) if P.power else exp(-s_ * P.inv_s)
            st.V = P.b + (st.V - P.b) * em + st.J * (P.coef * (em - ej))
            st.J = st.J * ej
            st.t0 = t
            clock_follow(ws, st, P, em, ej, t)
        else:
            advance_direct(ws, st, P, t, vm, tm)
        # One batch, as in run_one: the arrivals at t, then the actions at t, then
        # one prediction if the crossing may have moved.
        dirty = False
        while tb == t:
            w = a[i].w
            st.J += w * inv_g
            if ws.record and log_add(ws, LOG_ARRIVAL, j, t, st.V, st.J, b.x[i].ref, b.x[i].k,
                                     st.mode) < 0:
                return STATUS_NO_MEMORY
            if w > 0.0 or st.act == ACT_FIRE:
                dirty = True
            i += 1
            tb = gt[a[i].g] if i < nb else INFINITY
        if tp == t:
            if sid1 >= 0:
                events[0] += 1
                if events[0] > max_events:
                    return STATUS_BUDGET
                if poisson_arrival(ws, st, j, t, w1 * inv_g, k1, &dirty) < 0:
                    return STATUS_NO_MEMORY
                if drawn:
                    pq += 1
                    tp = ws.pq_t[pq]
                else:
                    stream_advance(S, net, ws, sid1, t_max)
                    tp = ws.st_next[sid1]
            else:
                tp = INFINITY
                for q in range(q0, q1):
                    sid = S.by_target[q]
                    if ws.st_next[sid] == t:
                        events[0] += 1
                        if events[0] > max_events:
                            return STATUS_BUDGET
                        k = syn_at(net, S.pos[sid])
                        if poisson_arrival(ws, st, j, t, net.weights[k] * inv_g, k, &dirty) < 0:
                            return STATUS_NO_MEMORY
                        stream_advance(S, net, ws, sid, t_max)
                    if ws.st_next[sid] < tp:
                        tp = ws.st_next[sid]
        # Only a free LIF neuron's crossing can move.
        dirty = dirty and lif and st.mode == MODE_FREE
        while ta == t:
            events[0] += 1
            if events[0] > max_events:
                return STATUS_BUDGET
            if st.act == ACT_CHECK:
                if solve(ws, pops, n, j, t, t_max) < 0:
                    return STATUS_NEWTON
            elif st.act == ACT_FIRE:
                ref = fire(ws, P, n, j, t, first, &again)
                if ref < 0:
                    return STATUS_NO_MEMORY
                dirty = dirty or again
                # Delivered when the neuron's level is done: delay-free targets are in
                # later levels, delayed ones in later windows.
                if pend_push(ws, t, j, ref) < 0:
                    return STATUS_NO_MEMORY
            else:                       # ACT_RELEASE
                if release(ws, P, n, j, t) < 0:
                    return STATUS_NO_MEMORY
                dirty = True
            ta = ws.act_t[j]
        if dirty and st.mode == MODE_FREE:
            # predict(), with its usual outcomes inline: no crossing possible, or a
            # CHECK at a lower bound of it.
            if train_bound(P, st.V, st.J, &s_) and t + s_ <= t_max:
                if s_ > 0.0:
                    st.act = ACT_CHECK
                    ta = t + s_
                    ws.act_t[j] = ta
                else:
                    if solve(ws, pops, n, j, t, t_max) < 0:
                        return STATUS_NEWTON
                    ta = ws.act_t[j]
            elif st.act != ACT_NONE:
                st.act = ACT_NONE
                ta = INFINITY
                ws.act_t[j] = ta
    # (A neuron that is done may leave drawn arrivals unused: it takes no more.)
    ws.pnext[j] = ws.pq_t[pm] if drawn and tp < INFINITY else tp
    b.n = 0
    b.unsorted = 0
    return STATUS_OK


cdef void rebase_window(Workspace* ws, const TrainPop* pops, int64_t n, double t) noexcept nogil:
    """Move the reference time R to the window's start t: then every factor of the
    window's groups is within e^{window rate} of 1."""
    cdef int64_t j, p
    cdef TrainState* st
    for p in range(ws.n_pops):
        ws.shift[2 * p] = exp(-(t - ws.R) * pops[p].inv_m)
        ws.shift[2 * p + 1] = exp(-(t - ws.R) * pops[p].inv_s)
    for j in range(n):
        st = &ws.s[j]
        if st.pop >= 0:
            st.fm *= ws.shift[2 * st.pop]
            st.fs *= ws.shift[2 * st.pop + 1]
    ws.R = t


cdef int run_windowed(Workspace* ws, const NetRec* net, const TrainPop* pops, Streams* S,
                      const double* in_t, const int64_t* in_c, int64_t n_in_spikes,
                      const int32_t* input_neuron, const double* ro_t, int64_t n_ro,
                      const int32_t* li_slot, int64_t n_li, double t_max, int64_t max_events,
                      double window, const int32_t* topo, const int64_t* levels,
                      double* first, double* ro_v,
                      double* vmax, double* tmax, int64_t* n_events,
                      int64_t* where) noexcept nogil:
    """run_one() by windows (see above); the same results to rounding."""
    cdef int64_t n = net.n_neurons, j, i, c = 0, events = 0, ref, lv
    cdef int32_t jj, slot
    cdef int rc
    cdef double t, t_in, t_h, ts = 0.0, lim, nxt
    cdef bint last
    cdef EventRecord ev
    cdef TrainState* st
    cdef const TrainPop* P
    ws.heap.n = 0
    ws.heap.seq = 0
    for j in range(n):
        ws.act_t[j] = INFINITY
        ws.bk[j].n = 0
        ws.bk[j].unsorted = 0
        if neuron_start(ws, net, pops, j, li_slot, first, vmax, tmax, t_max) < 0:
            return STATUS_NO_MEMORY
        if li_slot[j] >= 0:
            ws.ro_next[li_slot[j]] = 0
        elif ws.s[j].pop >= 0 and pops[ws.s[j].pop].code == TRAIN_LIF:
            if predict(ws, pops, n, <int32_t> j, 0.0, t_max) < 0:   # bias or v_init alone
                where[0] = j
                return STATUS_NEWTON
    streams_start(S, net, ws)
    for i in range(S.n):
        ws.st_emit[i] = 0.0
        stream_advance(S, net, ws, i, t_max)
    for j in range(n):
        ws.pnext[j] = INFINITY
        if S.n:
            for i in range(S.by_target_ptr[j], S.by_target_ptr[j + 1]):
                if ws.st_next[S.by_target[i]] < ws.pnext[j]:
                    ws.pnext[j] = ws.st_next[S.by_target[i]]
    ws.R = 0.0
    while ts <= t_max:
        lim = ts + window
        last = not (lim <= t_max)
        ws.gt_n = 0
        if ws.clocked and ts > ws.R:
            rebase_window(ws, pops, n, ts)
        # Phase 1: the window's input spikes and heap events, in time order (inputs
        # first at equal times, as in run_one), into the buckets.
        while True:
            t_in = in_t[c] if c < n_in_spikes else INFINITY
            t_h = ws.heap.data[0].time if ws.heap.n > 0 else INFINITY
            t = t_in if t_in <= t_h else t_h
            if not (t <= t_max and (t < lim or last)):
                break
            events += 1
            if events > max_events:
                n_events[0] = events
                return STATUS_BUDGET
            if t_in <= t_h:
                jj = input_neuron[in_c[c]]
                c += 1
                if first[jj] == INFINITY:
                    first[jj] = t
                ref = source_spike(ws, jj, t)
                if ref < 0 or fan_out(ws, net, pops, jj, net.indptr[jj], t, ref, t) < 0:
                    return STATUS_NO_MEMORY
                continue
            heap_pop(&ws.heap, &ev)
            if ev.kind == EV_SOURCE:
                if first[ev.neuron] == INFINITY:
                    first[ev.neuron] = t
                ref = source_spike(ws, ev.neuron, t)
                if ref < 0 or fan_out(ws, net, pops, ev.neuron, net.indptr[ev.neuron], t, ref, t) < 0:
                    return STATUS_NO_MEMORY
            elif fan_out(ws, net, pops, ev.neuron, ev.pos, ev.origin, ev.ref, t) < 0:
                return STATUS_NO_MEMORY
        # Phase 2: neuron by neuron; the earliest pending action is the next window's
        # candidate start.
        nxt = INFINITY
        lv = 0
        for i in range(n):
            jj = topo[i]
            if i + 2 < n:
                ES_PREFETCH(ws.bk[topo[i + 2]].a)
            st = &ws.s[jj]
            if st.pop >= 0:
                t = ws.act_t[jj] if ws.act_t[jj] < ws.pnext[jj] else ws.pnext[jj]
                if ws.bk[jj].n or (t <= t_max and (t < lim or last)):
                    rc = run_neuron(ws, net, pops, S, jj, lim, last, t_max, li_slot, ro_t,
                                    n_ro, n_li, first, ro_v, vmax, tmax, &events, max_events)
                    if rc != STATUS_OK:
                        n_events[0] = events
                        where[0] = jj
                        return rc
                if ws.act_t[jj] < nxt:
                    nxt = ws.act_t[jj]
                if ws.pnext[jj] < nxt:
                    nxt = ws.pnext[jj]
            if i + 1 == levels[lv + 1]:
                lv += 1
                if ws.pend.m and pend_flush(ws, net, pops) < 0:
                    return STATUS_NO_MEMORY
        if last:
            break
        # Skip the windows with nothing in them.
        t_in = in_t[c] if c < n_in_spikes else INFINITY
        t_h = ws.heap.data[0].time if ws.heap.n > 0 else INFINITY
        nxt = min(nxt, min(t_in, t_h))
        if not (nxt <= t_max):
            break
        ts = lim
        while not (nxt < ts + window) and ts + window <= t_max:
            ts = ts + window
    # The LI readouts left, and the maxima up to the horizon.
    for j in range(n):
        slot = li_slot[j]
        if slot >= 0:
            st = &ws.s[j]
            P = &pops[st.pop]
            readouts_until(ws, st, P, slot, INFINITY, ro_t, n_ro, n_li, ro_v, vmax, tmax)
            advance_direct(ws, st, P, t_max, &vmax[slot], &tmax[slot])
    n_events[0] = events
    if sort_spikes(ws) < 0:
        return STATUS_NO_MEMORY
    return STATUS_OK


cdef inline bint spike_less(const double* t, const int32_t* nrn, int64_t a, int64_t b) noexcept nogil:
    return t[a] < t[b] or (t[a] == t[b] and nrn[a] < nrn[b])


cdef int sort_spikes(Workspace* ws) noexcept nogil:
    """Put the example's spikes, which the windowed loop records neuron by neuron, in
    the canonical order (time, then neuron), here where it is cheap, and renumber the
    tape's references to them.  Returns -1 if out of memory."""
    cdef int64_t m = ws.sp_n_used - ws.sp_base, i
    cdef double* t = ws.sp_t + ws.sp_base
    cdef int32_t* nrn = ws.sp_n + ws.sp_base
    cdef Spk* S
    cdef int64_t* where
    cdef LogEntry* e
    for i in range(1, m):
        if spike_less(t, nrn, i, i - 1):
            break
    else:
        return 0
    if scratch_reserve(ws, m) < 0:
        return -1
    S = ws.scr_spk
    for i in range(m):
        S[i].t = t[i]
        S[i].n = nrn[i]
        S[i].ref = i
    spk_sort(S, S + m, m)
    for i in range(m):
        t[i] = S[i].t
        nrn[i] = S[i].n
    if ws.record:
        where = <int64_t*> (S + m)          # old position -> new, in the sort's scratch
        for i in range(m):
            where[S[i].ref] = i
        for i in range(ws.log_base, ws.log_n):
            e = &ws.log[i]
            if e.type == LOG_SOURCE or e.type == LOG_FIRE:
                e.syn = where[e.syn]
    return 0


# ==============================================================================
# The layered loop
# ==============================================================================
# A network without delays whose populations form a feedforward stack of dense
# projections (every presynaptic neuron of a population reaches each of its neurons
# through exactly one synapse), fed by input spike trains only, is run block by
# block (one population each, in topological order), and each neuron of a block
# from 0 to t_max in one go (docs/engine.md 13, "The layered loop"):
#   * the block's inputs are the spikes of its presynaptic neurons, all known when
#     it runs (inputs and earlier blocks), merged in canonical order (time, then
#     neuron); the decays over each interval between consecutive input times are
#     shared by the block's neurons and computed once;
#   * per interval, a neuron's state at its end costs two multiplications; a
#     crossing is only searched for when that state is above threshold (a crossing
#     certainly exists) or when V rises at the start and falls at the end (a
#     maximum inside, which might reach threshold): with at most one extremum per
#     interval, V stays below threshold otherwise;
#   * no heap, no action tree, no buckets: the arrivals are read from one array
#     with the weights of a dense matrix.
# Ties are resolved as in run_one: a crossing at an input time fires after that
# time's arrivals, a refractory period that ends at one is released after them.
# The tape is written block by block and neuron by neuron, in each neuron's time
# order, which is all the reverse sweep needs (a spike's entry comes before every
# arrival that refers to it).

cdef struct Layers:
    # The layered loop's plan (simulation._layer_plan): per block, its neurons
    # nrn[ptr[b]:ptr[b + 1]], its population, the row of each neuron in its dense
    # synapse matrix (row[b * n + j], -1: not presynaptic to it), the matrix's width,
    # and the matrix from soff[b], neuron-major: synapse ids, and weights / g_leak.
    int64_t n_blocks
    const int32_t* nrn
    const int64_t* ptr
    const int32_t* pop
    const int32_t* row
    const int64_t* npre
    const int64_t* soff
    const int64_t* syn
    const double* wg
    const double* wt       # the same, presynaptic-major (row r of block b from soff[b] + r * size)
    # Recording for the backward pass only: a neuron that never fires leaves no
    # entries (its adjoint is zero throughout, so the sweep would skip them all).
    bint prune


cdef int merge_block(Workspace* ws) noexcept nogil:
    """Merge the block's new spikes ws.lb into the example's spikes ws.lg, keeping
    those in canonical order (time, then neuron).  Returns -1 if out of memory."""
    cdef SpikeList* G = &ws.lg
    cdef SpikeList* B = &ws.lb
    cdef int64_t m = B.m, a, b, o
    if m == 0:
        return 0
    if sl_reserve(G, G.m + m) < 0 or sl_reserve(&ws.lf, m) < 0:
        return -1
    # ws.lf is free between blocks: the sort's scratch.
    spk_sort(B.s, ws.lf.s, m)
    # From the back, in place: G's tail moves up by m.
    a = G.m - 1
    b = m - 1
    o = G.m + m - 1
    while b >= 0:
        if a >= 0 and spk_less(&B.s[b], &G.s[a]):
            G.s[o] = G.s[a]
            a -= 1
        else:
            G.s[o] = B.s[b]
            b -= 1
        o -= 1
    G.m += m
    B.m = 0
    return 0


cdef inline int lay_arrivals(Workspace* ws, int32_t j, const double* wg, const int64_t* syn,
                             int64_t a0, int64_t a1, double V, double* J, int mode) noexcept nogil:
    """Neuron j of the running block takes the block's arrivals a0:a1 (all at one time,
    its potential V, its mode): J gains their weights wg, and when recording each gets
    its tape entry.  Returns a STATUS_*."""
    cdef int64_t a
    cdef double Jr = J[0]
    cdef const Spk* F = ws.lf.s
    cdef const int32_t* ir = ws.ir
    cdef LogEntry* e
    if not ws.record:
        for a in range(a0, a1):
            Jr += wg[ir[a]]
        J[0] = Jr
        return STATUS_OK
    while ws.log_n + (a1 - a0) > ws.log_cap:
        if log_grow(ws) < 0:
            return STATUS_NO_MEMORY
    e = ws.log + ws.log_n
    for a in range(a0, a1):
        Jr += wg[ir[a]]
        e.t = F[a].t
        e.V = V
        e.J = Jr
        e.ref = F[a].ref
        e.syn = syn[ir[a]]
        e.neuron = j
        e.type = LOG_ARRIVAL
        e.mode = <int8_t> mode
        e += 1
    ws.log_n += a1 - a0
    J[0] = Jr
    return STATUS_OK


cdef inline int lay_spike(Workspace* ws, const TrainPop* P, int32_t j, double t, double J,
                          int* mode, int64_t* last_fire, double* first, int64_t* events,
                          int64_t max_events) noexcept nogil:
    """Neuron j of the running block spikes at t (J: its current then): keep the
    spike (its place in the spike list, the tape entry's syn, is set at the end),
    set its mode after the reset.  Returns a STATUS_*."""
    cdef int64_t ref = 0
    if first[j] == INFINITY:
        first[j] = t
    if isinf(P.t_ref):
        mode[0] = MODE_DONE
    elif P.t_ref > 0.0:
        mode[0] = MODE_CLAMPED
    else:
        mode[0] = MODE_FREE
    events[0] += 1
    if events[0] > max_events:
        return STATUS_BUDGET
    if ws.record:
        ref = log_add(ws, LOG_FIRE, j, t, P.v_reset, J, -1, -1, mode[0])
        if ref < 0:
            return STATUS_NO_MEMORY
    last_fire[0] = ref
    if sl_push(&ws.lb, t, j, ref) < 0:
        return STATUS_NO_MEMORY
    return STATUS_OK


cdef int lay_neuron(Workspace* ws, const TrainPop* P, int32_t j, const double* wg,
                    const int64_t* syn, double t_max, double* first, int64_t* events,
                    int64_t max_events, int64_t i_start, double U_start,
                    double J_start) noexcept nogil:
    """Run neuron j of the current block up to t_max through the block's inputs
    ws.lf (their rows index its weights wg and synapses syn) and the intervals
    between them (end time and decays in ws.iv), from the start of interval i_start
    (0: time 0) where its state is free with U = V - b = U_start and current J_start;
    recording, its entries go to the tape in the order they happen.  Returns a
    STATUS_*.

    The state is carried as U = V - b: an interval is then U e + J kappa, one
    multiplication and one addition on U's dependency chain from one interval to the
    next (V would add two more), which bounds how fast a neuron runs through them."""
    cdef const double* iv
    cdef int64_t q = ws.iv_n, i, last_fire = -1
    # Local copies of the workspace's pointers: stores through other pointers could
    # alias the workspace, so the compiler would reload them on every arrival.
    cdef const int64_t* ia = ws.ia
    cdef const double* ivs = ws.iv
    cdef double b = P.b, U = U_start, J = J_start, t0, ts, T, s = 0.0, em, ej, k
    cdef double Ue, tf = 0.0, c = P.theta - b, ur = P.v_reset - b, xs = 0.0, ex, rest
    cdef int mode = MODE_FREE, rc
    cdef bint pending, record = ws.record, search
    t0 = ivs[4 * (i_start - 1)] if i_start > 0 else 0.0
    ts = t0
    for i in range(i_start, q):
        iv = ivs + 4 * i
        T = iv[0]
        pending = False
        # e^{-(T - t0)/tau_mem} after a spike inside the interval, from the crossing's
        # own e^{-s/tau_mem} (0: not known, computed afresh).
        rest = 0.0
        # From t0 to T: releases and spikes, then the state at T.
        while True:
            if mode == MODE_DONE:
                return STATUS_OK
            if mode == MODE_CLAMPED:
                if tf + P.t_ref < T or (i == q - 1 and tf + P.t_ref <= T):
                    J *= exp(-(tf + P.t_ref - t0) * P.inv_s)
                    t0 = tf + P.t_ref
                    U = ur
                    mode = MODE_FREE
                    rest = 0.0
                    events[0] += 1
                    if events[0] > max_events:
                        return STATUS_BUDGET
                    if record and log_add(ws, LOG_RELEASE, j, t0, P.v_reset, J, last_fire, -1,
                                          MODE_FREE) < 0:
                        return STATUS_NO_MEMORY
                    continue
                J *= iv[2] if t0 == ts else exp(-(T - t0) * P.inv_s)
                t0 = T
                break
            if t0 == ts:
                em = iv[1]
                ej = iv[2]
                k = iv[3]
            else:
                em = rest if rest > 0.0 else exp(-(T - t0) * P.inv_m)
                k = train_kappa(P, T - t0, em, &ej)
            Ue = U * em + J * k
            # Above threshold at T, or a maximum inside (rising at t0, falling at T):
            # search (train_cross's first bound rules most of those out).  Otherwise V
            # stays below threshold up to T.  Evaluated whole, with no branch per
            # comparison: "rising at t0" and "falling at T" are coin flips the branch
            # predictor misses.
            search = (Ue >= c) | ((J > U) & (J * ej < Ue))
            if U >= c:
                rc = CROSS_FIRE
                s = 0.0
            elif search:
                rc = train_cross(P, U + b, J, T - t0, newton_max_iterations, &s, &xs)
                if rc == CROSS_FAIL:
                    return STATUS_NEWTON
            else:
                rc = CROSS_NONE
            if rc == CROSS_NONE or (i == q - 1 and t0 + s > t_max):
                U = Ue
                J = J * ej
                t0 = T
                break
            tf = t0 + s
            if tf >= T and i < q - 1:
                # At an input time: the spike comes after its arrivals.
                U = Ue
                J = J * ej
                t0 = T
                pending = True
                break
            if s > 0.0:
                # The search's root is e^{-s/tau_mem} itself where it had one (the
                # polynomial way): two exponentials per spike fewer.
                ex = xs if xs > 0.0 else exp(-s * P.inv_m)
                train_kappa(P, s, ex, &ej)
                J = J * ej
                rest = (em / ex if em < ex else 1.0) if xs > 0.0 else 0.0
            else:
                rest = em
            t0 = tf
            U = ur
            rc = lay_spike(ws, P, j, tf, J, &mode, &last_fire, first, events, max_events)
            if rc != STATUS_OK:
                return rc
        if i == q - 1:
            break
        # T's arrivals (a neuron that is done has returned above: it drops them, as in
        # arrive()).  A zero weight adds nothing (the heap loop skips it).
        rc = lay_arrivals(ws, j, wg, syn, ia[i], ia[i + 1], U + b, &J, mode)
        if rc != STATUS_OK:
            return rc
        if pending:
            tf = T
            U = ur
            rc = lay_spike(ws, P, j, T, J, &mode, &last_fire, first, events, max_events)
            if rc != STATUS_OK:
                return rc
        elif mode == MODE_CLAMPED and tf + P.t_ref == T:
            U = ur
            mode = MODE_FREE
            events[0] += 1
            if events[0] > max_events:
                return STATUS_BUDGET
            if record and log_add(ws, LOG_RELEASE, j, T, P.v_reset, J, last_fire, -1,
                                  MODE_FREE) < 0:
                return STATUS_NO_MEMORY
        ts = T
    return STATUS_OK


cdef extern from "_kernels.h" nogil:
    int es_scalar_math
    int es_vector_math()
    void es_clock_factors(double* e, double* f, int64_t n)
    void es_log_inplace(double* x, int64_t n)
    double es_log1(double x)
    double es_lif_scan(double* U, double* J, double* uh, double* jh, double* cand,
                       const double* live, int64_t n, double em, double ej, double k,
                       double b, double c, double kmax)


cdef void lay_scan(Workspace* ws, const TrainPop* P, int64_t nb, const double* wt) noexcept nogil:
    """Run the nb neurons of the current block together from rest at 0 through its
    intervals, each while it crosses no threshold: for each neuron, the first interval
    on which lay_neuron would do anything else (sc_first, q if none), and the state at
    every interval's start (sc_uh, sc_jh; those after sc_first are not its).  wt: the
    block's weights / g_leak, presynaptic-major.

    On an interval without a crossing, lay_neuron does exactly this arithmetic, in
    this order, so a neuron taken up from sc_first on runs as if lay_neuron had run it
    from 0.  Most neurons of a hidden layer pass most intervals so; run across the
    block the arithmetic has no branch and vectorizes, where one neuron at a time it
    is a chain of dependent multiplications with a few mispredicted branches per
    interval.  Where lay_neuron would search for a crossing (its tests, and
    train_cross's first bound, are taken across the block too), train_quiet decides
    here, neuron by neuron, whether the search would find nothing; the searches
    themselves are left to lay_neuron."""
    cdef int64_t q = ws.iv_n, i, x, a, n_cand
    cdef double* U = ws.sc_u
    cdef double* J = ws.sc_j
    cdef double* first = ws.sc_first
    cdef double* cand = ws.sc_cand
    cdef double* live = ws.sc_live     # 1: not taken yet (first[x] == q)
    cdef int32_t* pick = ws.sc_pick
    cdef double* uh
    cdef double* jh
    cdef const double* wr
    cdef const double* iv
    cdef double b = P.b, c = P.theta - b, nq = <double> q
    cdef double em, ej, k, u, jc, t0 = 0.0
    for x in range(nb):
        U[x] = P.v_init - b
        J[x] = 0.0
        first[x] = nq
        live[x] = 1.0
    for i in range(q):
        iv = ws.iv + 4 * i
        em = iv[1]
        ej = iv[2]
        k = iv[3]
        uh = ws.sc_uh + i * nb
        jh = ws.sc_jh + i * nb
        if es_lif_scan(U, J, uh, jh, cand, live, nb, em, ej, k, b, c, P.kmax) > 0.0:
            # The candidates, gathered without a branch per neuron.
            n_cand = 0
            for x in range(nb):
                pick[n_cand] = <int32_t> x
                n_cand += cand[x] != 0.0
            for a in range(n_cand):
                x = pick[a]
                u = uh[x]
                jc = jh[x]
                if (u >= c or u * em + jc * k >= c
                        or not train_quiet(P, (u + b) - b, jc, c, iv[0] - t0)):
                    first[x] = <double> i      # lay_neuron spikes here, or searches
                    live[x] = 0.0
        t0 = iv[0]
        if i + 1 < q:
            for a in range(ws.ia[i], ws.ia[i + 1]):
                wr = wt + ws.ir[a] * nb
                for x in range(nb):
                    J[x] += wr[x]


cdef int lay_prefill(Workspace* ws, const TrainPop* P, int32_t j, int64_t x, int64_t nb,
                     int64_t i_end, const double* wg, const int64_t* syn) noexcept nogil:
    """The tape entries lay_neuron would have written for neuron j, x-th of the block
    (weights wg, synapses syn), over the intervals before i_end, which lay_scan ran for
    it: its arrivals, in a free state.  Returns a STATUS_*."""
    cdef int64_t i
    cdef double J
    cdef int rc
    for i in range(i_end):
        J = ws.sc_jh[i * nb + x] * ws.iv[4 * i + 2]
        rc = lay_arrivals(ws, j, wg, syn, ws.ia[i], ws.ia[i + 1], ws.sc_uh[(i + 1) * nb + x] + P.b,
                          &J, MODE_FREE)
        if rc != STATUS_OK:
            return rc
    return STATUS_OK


# Neurons in a block from which lay_scan pays (a test hook sets it).
cdef int64_t lay_scan_min = 8


cdef int run_layered(Workspace* ws, const NetRec* net, const TrainPop* pops, const Layers* Ly,
                     const double* in_t, const int64_t* in_c, int64_t n_in_spikes,
                     const int32_t* input_neuron, double t_max, int64_t max_events,
                     double* first, int64_t* n_events, int64_t* where) noexcept nogil:
    """Simulate one example block by block (see above); run_one's results to rounding."""
    cdef int64_t n = net.n_neurons, i, b, x, events = 0, m, q, ref = 0, w0, fired, nb, i0, kept
    cdef int32_t jj, row
    cdef int rc
    cdef bint scan
    cdef const TrainPop* P
    cdef const int32_t* rows
    cdef SpikeList* G = &ws.lg
    cdef SpikeList* F = &ws.lf
    cdef double prev, h, em, ej
    cdef double* iv
    G.m = 0
    ws.lb.m = 0
    for i in range(n):
        first[i] = INFINITY
    for i in range(n_in_spikes):
        if not in_t[i] <= t_max:
            break
        jj = input_neuron[in_c[i]]
        events += 1
        if events > max_events:
            n_events[0] = events
            return STATUS_BUDGET
        if first[jj] == INFINITY:
            first[jj] = in_t[i]
        if ws.record:
            ref = log_add(ws, LOG_SOURCE, jj, in_t[i], 0.0, 0.0, -1, -1, MODE_FREE)
        if ref < 0 or sl_push(&ws.lb, in_t[i], jj, ref) < 0:
            return STATUS_NO_MEMORY
    if merge_block(ws) < 0:
        return STATUS_NO_MEMORY
    for b in range(Ly.n_blocks):
        P = &pops[Ly.pop[b]]
        rows = Ly.row + b * n
        # The block's inputs, and the intervals they cut [0, t_max] into.
        if sl_reserve(F, G.m) < 0:
            return STATUS_NO_MEMORY
        m = 0
        for i in range(G.m):
            row = rows[G.s[i].n]
            if row >= 0:
                F.s[m] = G.s[i]
                F.s[m].n = row
                m += 1
        F.m = m
        if ws.iv_cap < m + 1:
            if (grow(<void**> &ws.iv, 4 * (m + 1) * sizeof(double)) < 0
                    or grow(<void**> &ws.ia, (m + 2) * sizeof(int64_t)) < 0
                    or grow(<void**> &ws.ir, (m + 1) * sizeof(int32_t)) < 0):
                return STATUS_NO_MEMORY
            ws.iv_cap = m + 1
        q = 0
        prev = 0.0
        for i in range(m + 1):
            if i < m:
                ws.ir[i] = F.s[i].n
                if q > 0 and F.s[i].t == prev:
                    continue
            ws.ia[q] = i
            iv = ws.iv + 4 * q
            iv[0] = F.s[i].t if i < m else t_max
            h = iv[0] - prev
            em = exp(-h * P.inv_m)
            iv[1] = em
            iv[3] = train_kappa(P, h, em, &ej)
            iv[2] = ej
            prev = iv[0]
            q += 1
        ws.iv_n = q
        w0 = Ly.soff[b]
        nb = Ly.ptr[b + 1] - Ly.ptr[b]
        # The scan leaves out neurons that never fire, whose entries a full tape keeps.
        scan = nb >= lay_scan_min and not (ws.record and not Ly.prune)
        if scan:
            if ws.sc_cap < nb:
                if (grow(<void**> &ws.sc_u, nb * sizeof(double)) < 0
                        or grow(<void**> &ws.sc_j, nb * sizeof(double)) < 0
                        or grow(<void**> &ws.sc_first, nb * sizeof(double)) < 0
                        or grow(<void**> &ws.sc_cand, nb * sizeof(double)) < 0
                        or grow(<void**> &ws.sc_live, nb * sizeof(double)) < 0
                        or grow(<void**> &ws.sc_pick, nb * sizeof(int32_t)) < 0):
                    return STATUS_NO_MEMORY
                ws.sc_cap = nb
            if ws.sc_hcap < q * nb:
                if (grow(<void**> &ws.sc_uh, q * nb * sizeof(double)) < 0
                        or grow(<void**> &ws.sc_jh, q * nb * sizeof(double)) < 0):
                    return STATUS_NO_MEMORY
                ws.sc_hcap = q * nb
            lay_scan(ws, P, nb, Ly.wt + w0)
        for x in range(nb):
            jj = Ly.nrn[Ly.ptr[b] + x]
            fired = ws.lb.m
            kept = ws.log_n
            if not scan:
                rc = lay_neuron(ws, P, jj, Ly.wg + w0, Ly.syn + w0, t_max, first, &events,
                                max_events, 0, P.v_init - P.b, 0.0)
            elif ws.sc_first[x] < q:
                i0 = <int64_t> ws.sc_first[x]
                rc = lay_prefill(ws, P, jj, x, nb, i0, Ly.wg + w0, Ly.syn + w0)
                if rc == STATUS_OK:
                    rc = lay_neuron(ws, P, jj, Ly.wg + w0, Ly.syn + w0, t_max, first, &events,
                                    max_events, i0, ws.sc_uh[i0 * nb + x], ws.sc_jh[i0 * nb + x])
            else:
                rc = STATUS_OK          # passed every interval: no spike, no entry kept
            if Ly.prune and ws.lb.m == fired:
                ws.log_n = kept         # it never fired: its entries go
            if rc != STATUS_OK:
                n_events[0] = events
                where[0] = jj
                return rc
            w0 += Ly.npre[b]
        if merge_block(ws) < 0:
            return STATUS_NO_MEMORY
    # The spike list, in canonical order already; the tape's spike entries learn
    # their places in it.
    for i in range(G.m):
        if record_spike(ws, G.s[i].n, G.s[i].t) < 0:
            return STATUS_NO_MEMORY
        if ws.record:
            ws.log[ws.log_base + G.s[i].ref].syn = i
    n_events[0] = events
    return STATUS_OK


# ==============================================================================
# Batch entry point
# ==============================================================================
def _set_scalar_math(bint scalar):
    """Test hook: the C library's scalar exp and log for the Poisson drive even where
    its vector ones run (draw_window, next_emission); returns whether the vector ones
    ran before."""
    cdef bint was = es_vector_math()
    global es_scalar_math
    es_scalar_math = 1 if scalar else 0
    return was


def _set_newton_iterations(int n):
    """Test hook: the Newton step limit of crossings (returns the old one)."""
    global newton_max_iterations
    old = newton_max_iterations
    newton_max_iterations = n
    return old


def _set_lay_scan_min(int64_t n):
    """Test hook: the block size from which the layered loop scans (returns the old one)."""
    global lay_scan_min
    old = lay_scan_min
    lay_scan_min = n
    return old


def _train_power(double em, int power):
    """Test hook: e^{-s/tau_syn} as the engine takes it from em = e^{-s/tau_mem} when
    tau_mem = power tau_syn (1 <= power <= 64)."""
    return train_power(em, power)


def _next_crossing(const double[:, ::1] pop_params, double V0, double J0, double h,
                   bint bracketed=False):
    """Test hook: the next crossing (s, or inf for none) of population 0 of the table
    from the free state (V0, J0) within h, the way the engine finds it, or always by
    the bracketed search (``bracketed``) that the polynomial way must agree with."""
    cdef TrainPop P
    cdef double s = INFINITY, c
    cdef int rc
    train_pops_fill(&P, pop_params[:1])
    c = P.theta - P.b
    if bracketed and V0 - P.b < c:
        rc = train_cross_bracketed(&P, V0 - P.b, J0, c, h, newton_max_iterations, &s)
    else:
        # At threshold already, both searches answer s = 0 the same way.
        rc = train_cross(&P, V0, J0, h, newton_max_iterations, &s)
    if rc == CROSS_FAIL:
        raise ArithmeticError("the crossing's iteration did not converge")
    return s if rc == CROSS_FIRE else INFINITY


cdef struct Batch:
    # Everything run_example() needs of one run_batch() call (pointers into its arrays).
    const NetRec* net
    const TrainPop* pops
    const double* in_t
    const int64_t* in_c
    const int64_t* in_off
    const int32_t* input_neuron
    const double* ro_t
    int64_t n_ro
    const int32_t* li_slot
    int64_t n_li
    int64_t n
    double t_max
    int64_t max_events
    double* first          # (n_ex, n)
    double* ro_v           # (n_ex, n_ro, n_li)
    double* vmax           # (n_ex, n_li)
    double* tmax
    int64_t* n_events
    int64_t* where
    int32_t* status
    int64_t* tid           # per example: the workspace that ran it
    int64_t* sp_start      # per example: its spikes and tape entries in that workspace
    int64_t* sp_len
    int64_t* log_start
    int64_t* log_len
    double window          # the windowed loop's window (topo != NULL)
    const int32_t* topo    # its neuron order, or NULL: run_one
    const int64_t* levels  # where each level of topo starts (and n at the end)
    const Layers* lay      # the layered loop's plan, or NULL


cdef void run_example(Batch* B, Workspace* ws, Streams* S, int64_t e, int64_t tid) noexcept nogil:
    cdef double dummy = 0.0
    B.tid[e] = tid
    ws.sp_base = ws.sp_n_used
    ws.log_base = ws.log_n
    S.example = <uint64_t> e
    if B.lay != NULL:
        B.status[e] = run_layered(
            ws, B.net, B.pops, B.lay, B.in_t + B.in_off[e], B.in_c + B.in_off[e],
            B.in_off[e + 1] - B.in_off[e], B.input_neuron, B.t_max, B.max_events,
            B.first + e * B.n if B.n else &dummy, &B.n_events[e], &B.where[e])
    elif B.topo != NULL:
        B.status[e] = run_windowed(
            ws, B.net, B.pops, S, B.in_t + B.in_off[e], B.in_c + B.in_off[e],
            B.in_off[e + 1] - B.in_off[e], B.input_neuron, B.ro_t, B.n_ro, B.li_slot, B.n_li,
            B.t_max, B.max_events, B.window, B.topo, B.levels,
            B.first + e * B.n if B.n else &dummy,
            B.ro_v + e * B.n_ro * B.n_li if (B.n_ro and B.n_li) else &dummy,
            B.vmax + e * B.n_li if B.n_li else &dummy, B.tmax + e * B.n_li if B.n_li else &dummy,
            &B.n_events[e], &B.where[e])
    else:
        B.status[e] = run_one(
            ws, B.net, B.pops, S, B.in_t + B.in_off[e], B.in_c + B.in_off[e],
            B.in_off[e + 1] - B.in_off[e], B.input_neuron, B.ro_t, B.n_ro, B.li_slot, B.n_li,
            B.t_max, B.max_events, B.first + e * B.n if B.n else &dummy,
            B.ro_v + e * B.n_ro * B.n_li if (B.n_ro and B.n_li) else &dummy,
            B.vmax + e * B.n_li if B.n_li else &dummy, B.tmax + e * B.n_li if B.n_li else &dummy,
            &B.n_events[e], &B.where[e])
    B.sp_start[e] = ws.sp_base
    B.sp_len[e] = ws.sp_n_used - ws.sp_base
    B.log_start[e] = ws.log_base
    B.log_len[e] = ws.log_n - ws.log_base


def run_batch(low, const double[:, ::1] pop_params, const double[::1] in_times,
              const int64_t[::1] in_channel, const int64_t[::1] in_offsets,
              const int32_t[::1] input_neuron, const double[::1] readout_times,
              const int32_t[::1] li_slot, int64_t n_li, double t_max, int64_t max_events,
              int n_threads, const int64_t[::1] stream_pos, const int64_t[::1] stream_count,
              const int32_t[::1] stream_gen,
              const int64_t[::1] seg_off, const double[::1] seg_t, const double[::1] seg_rate,
              uint64_t seed, bint record, double window=0.0, topo=None, levels=None,
              const int64_t[::1] stream_ptr=None, const int64_t[::1] stream_ids=None,
              layers=None, bint full_tape=False):
    """Run every example of the input spike trains through the lowered network.

    Returns ``(first, sp_time, sp_neuron, sp_offsets, readout_v, v_max, t_vmax,
    n_events, status, where, log)``.  Spikes (sources included) are in the order
    they happened within each example.  ``log`` is None, or with ``record`` the
    tape: ``(entries, offsets)``, a structured array of ``LOG_DTYPE`` (``t, V, J,
    ref, syn, neuron, type, mode`` per entry, docs/engine.md 13) and its offsets per
    example.  Without ``full_tape`` the layered loop keeps no entries of a neuron that
    never fires (what the backward pass needs); with it, every neuron's.
    """
    cdef NetRec net
    netrec_fill(&net, low)
    cdef int64_t n_ex = in_offsets.shape[0] - 1, n = net.n_neurons, e, i, k, tid, nb
    cdef double rate_max
    cdef bint clocked
    cdef int64_t n_ro = readout_times.shape[0]
    cdef int64_t n_threads_ = n_threads if n_threads > 0 else 1
    if pop_params.shape[0] != net.n_pops or pop_params.shape[1] != TRAIN_COLS:
        raise ValueError("spike-train population table has the wrong shape")
    if li_slot.shape[0] != n or input_neuron.shape[0] != net.n_inputs:
        raise ValueError("spike-train engine: index arrays have the wrong length")
    if (stream_gen.shape[0] != stream_pos.shape[0] or stream_count.shape[0] != stream_pos.shape[0]
            or seg_t.shape[0] != seg_rate.shape[0]):
        raise ValueError("spike-train engine: Poisson arrays have inconsistent lengths")
    if in_offsets.shape[0] < 1 or in_offsets[n_ex] > in_times.shape[0] or in_channel.shape[0] != in_times.shape[0]:
        raise ValueError("spike-train engine: input arrays have inconsistent lengths")
    if n_threads_ > n_ex // 4:
        n_threads_ = n_ex // 4 if n_ex >= 8 else 1
    first = np.empty((n_ex, n), dtype=np.float64)
    ro_v = np.empty((n_ex, n_ro, n_li), dtype=np.float64)
    vmax = np.empty((n_ex, n_li), dtype=np.float64)
    tmax = np.empty((n_ex, n_li), dtype=np.float64)
    n_events = np.zeros(n_ex, dtype=np.int64)
    status = np.zeros(n_ex, dtype=np.int32)
    where = np.full(n_ex, -1, dtype=np.int64)
    book = np.zeros((5, n_ex), dtype=np.int64)       # tid, sp_start, sp_len, log_start, log_len
    cdef double[:, ::1] fv = first, vmv = vmax, tmv = tmax
    cdef double[:, :, ::1] rov = ro_v
    cdef int64_t[::1] nev = n_events, wh = where
    cdef int64_t[:, ::1] bk = book
    cdef int32_t[::1] stv = status
    cdef double dummy = 0.0
    cdef int64_t idummy = 0
    cdef int32_t i32dummy = 0
    cdef Batch B
    B.net = &net
    B.in_t = &in_times[0] if in_times.shape[0] else &dummy
    B.in_c = &in_channel[0] if in_channel.shape[0] else &idummy
    B.in_off = &in_offsets[0]
    B.input_neuron = &input_neuron[0] if input_neuron.shape[0] else &i32dummy
    B.ro_t = &readout_times[0] if n_ro else &dummy
    B.n_ro = n_ro
    B.li_slot = &li_slot[0] if n else &i32dummy
    B.n_li = n_li
    B.n = n
    B.t_max = t_max
    B.max_events = max_events
    B.first = &fv[0, 0] if (n_ex and n) else &dummy
    B.ro_v = &rov[0, 0, 0] if (n_ex and n_ro and n_li) else &dummy
    B.vmax = &vmv[0, 0] if (n_ex and n_li) else &dummy
    B.tmax = &tmv[0, 0] if (n_ex and n_li) else &dummy
    B.n_events = &nev[0] if n_ex else &idummy
    B.where = &wh[0] if n_ex else &idummy
    B.status = &stv[0] if n_ex else &i32dummy
    B.tid = &bk[0, 0] if n_ex else &idummy
    B.sp_start = &bk[1, 0] if n_ex else &idummy
    B.sp_len = &bk[2, 0] if n_ex else &idummy
    B.log_start = &bk[3, 0] if n_ex else &idummy
    B.log_len = &bk[4, 0] if n_ex else &idummy
    cdef const int32_t[::1] topo_v
    cdef const int64_t[::1] levels_v
    B.topo = NULL
    B.window = window
    if topo is not None:
        topo_v = topo
        levels_v = levels
        if (topo_v.shape[0] != n or not window > 0.0 or levels_v.shape[0] < 2
                or levels_v[0] != 0 or levels_v[levels_v.shape[0] - 1] != n):
            raise ValueError("spike-train engine: the windowed loop needs one entry per "
                             "neuron, levels covering them, and a window > 0")
        for i in range(1, levels_v.shape[0]):
            if levels_v[i] <= levels_v[i - 1] and n:
                raise ValueError("spike-train engine: empty or decreasing levels")
        if n:
            B.topo = &topo_v[0]
            B.levels = &levels_v[0]
    cdef Layers Ly
    cdef const int32_t[::1] ly_nrn, ly_pop, ly_row
    cdef const int64_t[::1] ly_ptr, ly_npre, ly_soff, ly_syn
    cdef double[::1] ly_wg, ly_wt
    B.lay = NULL
    if layers is not None:
        if topo is not None:
            raise ValueError("spike-train engine: the layered and the windowed loop are exclusive")
        ly_nrn, ly_ptr, ly_pop, ly_row, ly_npre, ly_soff, ly_syn = layers
        Ly.n_blocks = ly_pop.shape[0]
        if (ly_ptr.shape[0] != Ly.n_blocks + 1 or ly_npre.shape[0] != Ly.n_blocks
                or ly_soff.shape[0] != Ly.n_blocks + 1 or ly_row.shape[0] != Ly.n_blocks * n
                or ly_ptr[0] != 0 or ly_ptr[Ly.n_blocks] != ly_nrn.shape[0]
                or ly_soff[0] != 0 or ly_soff[Ly.n_blocks] != ly_syn.shape[0]):
            raise ValueError("spike-train engine: the layered plan's arrays are inconsistent")
        for i in range(Ly.n_blocks):
            if (ly_pop[i] < 0 or ly_pop[i] >= net.n_pops or ly_ptr[i + 1] < ly_ptr[i]
                    or ly_soff[i + 1] - ly_soff[i] != (ly_ptr[i + 1] - ly_ptr[i]) * ly_npre[i]):
                raise ValueError("spike-train engine: the layered plan's arrays are inconsistent")
        for i in range(ly_nrn.shape[0]):
            if ly_nrn[i] < 0 or ly_nrn[i] >= n:
                raise ValueError("spike-train engine: the layered plan names an unknown neuron")
        for i in range(ly_row.shape[0]):
            if ly_row[i] >= ly_npre[i // n]:
                raise ValueError("spike-train engine: the layered plan's rows are out of range")
        for i in range(ly_syn.shape[0]):
            if ly_syn[i] < 0 or ly_syn[i] >= net.n_synapses:
                raise ValueError("spike-train engine: the layered plan names an unknown synapse")
        wg = np.empty(ly_syn.shape[0], dtype=np.float64)
        ly_wg = wg
        wt = np.empty(ly_syn.shape[0], dtype=np.float64)
        ly_wt = wt
        Ly.nrn = &ly_nrn[0] if ly_nrn.shape[0] else &i32dummy
        Ly.ptr = &ly_ptr[0]
        Ly.pop = &ly_pop[0] if Ly.n_blocks else &i32dummy
        Ly.row = &ly_row[0] if ly_row.shape[0] else &i32dummy
        Ly.npre = &ly_npre[0] if Ly.n_blocks else &idummy
        Ly.soff = &ly_soff[0]
        Ly.syn = &ly_syn[0] if ly_syn.shape[0] else &idummy
        Ly.wg = &ly_wg[0] if ly_syn.shape[0] else &dummy
        Ly.wt = &ly_wt[0] if ly_syn.shape[0] else &dummy
        Ly.prune = record and not full_tape
        B.lay = &Ly
    cdef Streams S0
    S0.n = stream_pos.shape[0]
    S0.pos = &stream_pos[0] if S0.n else NULL
    S0.count = &stream_count[0] if S0.n else NULL
    S0.gen = &stream_gen[0] if S0.n else NULL
    S0.seg_off = &seg_off[0] if seg_off.shape[0] else NULL
    S0.seg_t = &seg_t[0] if seg_t.shape[0] else NULL
    S0.seg_rate = &seg_rate[0] if seg_rate.shape[0] else NULL
    S0.seed = seed
    S0.example = 0
    S0.by_target_ptr = NULL
    S0.by_target = NULL
    for i in range(S0.n):
        if stream_count[i] != 1:
            raise ValueError("spike-train engine: a Poisson stream is one synapse")
    if topo is not None and S0.n:
        if (stream_ptr is None or stream_ids is None or stream_ptr.shape[0] != n + 1
                or stream_ids.shape[0] != S0.n):
            raise ValueError("spike-train engine: the windowed loop needs each neuron's streams")
        S0.by_target_ptr = &stream_ptr[0]
        S0.by_target = &stream_ids[0]
    cdef TrainPop* pops = NULL
    cdef Streams* Sx = NULL
    cdef Workspace** wss = NULL
    cdef Workspace* ws
    cdef LogEntry* le
    cdef double[::1] spv_t
    cdef int32_t[::1] spv_n
    cdef int64_t q, r
    log = None
    try:
        pops = <TrainPop*> malloc((net.n_pops if net.n_pops > 0 else 1) * sizeof(TrainPop))
        Sx = <Streams*> malloc(n_threads_ * sizeof(Streams))
        wss = <Workspace**> calloc(n_threads_, sizeof(Workspace*))
        if pops == NULL or Sx == NULL or wss == NULL:
            raise MemoryError()
        train_pops_fill(pops, pop_params)
        B.pops = pops
        if B.lay != NULL:
            # Weights / g_leak in the layout of the dense matrices (as arrive() adds them).
            for i in range(Ly.n_blocks):
                for k in range(ly_soff[i], ly_soff[i + 1]):
                    ly_wg[k] = net.weights[ly_syn[k]] * pops[ly_pop[i]].inv_g
                # Transposed (presynaptic-major) for the block scan: entry k is (post r,
                # pre q) with k = r npre + q, counted along (a 64-bit division per weight
                # was most of a one-example batch's setup).
                nb = ly_ptr[i + 1] - ly_ptr[i]
                q = 0
                r = 0
                for k in range(ly_soff[i + 1] - ly_soff[i]):
                    ly_wt[ly_soff[i] + q * nb + r] = ly_wg[ly_soff[i] + k]
                    q += 1
                    if q == ly_npre[i]:
                        q = 0
                        r += 1
        # Shared decays in the windowed loop need windows short enough that a
        # group's factors e^{+-(t - R)/tau} stay far from overflow (R: the window's
        # start; one window: 0 up to t_max), and few populations (each group holds
        # factors for all).
        rate_max = 0.0
        for i in range(net.n_pops):
            rate_max = max(rate_max, max(pops[i].inv_m, pops[i].inv_s))
        clocked = net.n_pops <= 8 and min(window, t_max) * rate_max <= 300.0
        for i in range(n_threads_):
            Sx[i] = S0
            wss[i] = ws_take(n, net.n_pops, S0.n, n_li, topo is not None, record)
            if wss[i] == NULL:
                raise MemoryError()
            wss[i].clocked = clocked and topo is not None
        if n_ex > 0 and n_threads_ == 1:
            with nogil:
                for e in range(n_ex):
                    run_example(&B, wss[0], &Sx[0], e, 0)
        elif n_ex > 0:
            with nogil, parallel(num_threads=n_threads_):
                tid = threadid()
                for e in prange(n_ex, schedule='dynamic', chunksize=1):
                    run_example(&B, wss[tid], &Sx[tid], e, tid)
        if (status < 0).any():
            raise MemoryError("out of memory while simulating")
        offsets = np.zeros(n_ex + 1, dtype=np.int64)
        np.cumsum(book[2], out=offsets[1:])
        total = int(offsets[n_ex])
        sp_t = np.empty(total, dtype=np.float64)
        sp_n = np.empty(total, dtype=np.int32)
        # One memcpy per example and array, no Python objects (a slice assignment
        # per example cost ~2 us each, the whole run of a small network).
        spv_t = sp_t
        spv_n = sp_n
        i = 0
        for e in range(n_ex):
            ws = wss[bk[0, e]]
            k = bk[2, e]
            if k:
                memcpy(&spv_t[i], ws.sp_t + bk[1, e], k * sizeof(double))
                memcpy(&spv_n[i], ws.sp_n + bk[1, e], k * sizeof(int32_t))
                i += k
        if record:
            log = _gather_log(wss, book, n_ex)
    finally:
        if wss != NULL:
            for i in range(n_threads_):
                ws_give(wss[i], n, net.n_pops, S0.n, n_li, topo is not None)
        free(wss)
        free(pops)
        free(Sx)
    return first, sp_t, sp_n, offsets, ro_v, vmax, tmax, n_events, status, where, log


def first_spike_trains(const double[:, ::1] x):
    """The rows of a checked input_times matrix (no NaN, no -inf) as spike trains in
    canonical order, ``(times, index, offsets)``: each row's finite entries by time,
    ties by channel.  For a few channels (inputs of a classifier) this is one pass
    with no temporaries; SpikeTrains.from_first_spikes does the same with numpy."""
    cdef int64_t n_ex = x.shape[0], k = x.shape[1], e, c, i, o = 0, start
    cdef double t
    times = np.empty(n_ex * k, dtype=np.float64)
    index = np.empty(n_ex * k, dtype=np.int64)
    offsets = np.empty(n_ex + 1, dtype=np.int64)
    cdef double[::1] tv = times
    cdef int64_t[::1] iv = index, ov = offsets
    with nogil:
        ov[0] = 0
        for e in range(n_ex):
            start = o
            for c in range(k):
                t = x[e, c]
                if t == INFINITY:
                    continue
                # Insertion by time, after equal times: channels keep their order.
                i = o
                while i > start and tv[i - 1] > t:
                    tv[i] = tv[i - 1]
                    iv[i] = iv[i - 1]
                    i -= 1
                tv[i] = t
                iv[i] = c
                o += 1
            ov[e + 1] = o
    return times[:o], index[:o], offsets


def local_index(const int64_t[::1] offsets):
    """Per element of the examples ``offsets`` delimit, its place in its example."""
    cdef int64_t n_ex = offsets.shape[0] - 1, e, i
    out = np.empty(offsets[n_ex] if n_ex >= 0 else 0, dtype=np.int64)
    cdef int64_t[::1] ov = out
    with nogil:
        for e in range(n_ex):
            for i in range(offsets[e], offsets[e + 1]):
                ov[i] = i - offsets[e]
    return out


#: The tape entries as numpy sees them: the same bytes as _train_tape.pxd's LogEntry.
LOG_DTYPE = np.dtype([("t", np.float64), ("V", np.float64), ("J", np.float64),
                      ("ref", np.int64), ("syn", np.int64), ("neuron", np.int32),
                      ("type", np.int8), ("mode", np.int8)], align=True)
if LOG_DTYPE.itemsize != sizeof(LogEntry):
    raise ImportError("eventsim._spiketrain_engine: LOG_DTYPE does not match LogEntry")


# Tape buffers given back by the arrays they were lent to (_OwnedBlock), kept for the
# next runs' workspaces up to POOL_BYTES in all: a training loop's tapes then cycle
# through a few buffers whose pages are already mapped, with neither a copy nor a
# page fault.  Only touched with the GIL held.
cdef enum:
    SPARE_SIZE = 4
cdef void* _spare[SPARE_SIZE]
cdef size_t _spare_bytes[SPARE_SIZE]
cdef int _spare_n = 0


cdef void* spare_take(size_t nbytes):
    """A spare tape buffer of at least nbytes, or a new one (NULL if out of memory)."""
    global _spare_n
    cdef int i
    cdef void* p
    for i in range(_spare_n):
        if _spare_bytes[i] >= nbytes:
            p = _spare[i]
            _spare_n -= 1
            _spare[i] = _spare[_spare_n]
            _spare_bytes[i] = _spare_bytes[_spare_n]
            return p
    return malloc(nbytes)


cdef class _OwnedBlock:
    """A malloc'd block lent to numpy through the array interface; with the last array
    that uses it, kept as a spare tape buffer (small ones, while there is room) or freed."""
    cdef void* ptr
    cdef Py_ssize_t nbytes
    cdef size_t cap

    def __dealloc__(self):
        global _spare_n
        cdef size_t held = 0
        cdef int i
        for i in range(_spare_n):
            held += _spare_bytes[i]
        if _spare_n < SPARE_SIZE and held + self.cap <= <size_t> POOL_BYTES:
            _spare[_spare_n] = self.ptr
            _spare_bytes[_spare_n] = self.cap
            _spare_n += 1
        else:
            free(self.ptr)

    @property
    def __array_interface__(self):
        return {"shape": (self.nbytes,), "typestr": "|u1", "version": 3,
                "data": (<size_t> self.ptr, False)}


cdef object _gather_log(Workspace** wss, object book, int64_t n_ex):
    """The examples' tape entries, in example order: one structured array and the
    offsets of the examples.

    When one workspace holds every example's entries in order (one thread), its
    buffer itself becomes the array, and the workspace takes a spare buffer (one a
    tape no longer in use gave back) or a new one: no copy, and in a training loop
    no fresh pages either (copying measured 10% of a small run with a tape).  A
    large buffer is first shrunk to its tape and is not kept as a spare.  Otherwise
    the examples' blocks are copied together."""
    cdef int64_t[:, ::1] bk = book
    cdef int64_t e, m, o = 0
    cdef Workspace* ws
    cdef void* shrunk
    cdef _OwnedBlock block
    offsets = np.zeros(n_ex + 1, dtype=np.int64)
    np.cumsum(book[4], out=offsets[1:])
    cdef int64_t total = int(offsets[n_ex])
    cdef bint whole = n_ex > 0 and total > 0
    for e in range(n_ex):
        if bk[0, e] != bk[0, 0] or bk[3, e] != offsets[e]:
            whole = False
    if whole and wss[bk[0, 0]].log_n == total:
        ws = wss[bk[0, 0]]
        block = _OwnedBlock.__new__(_OwnedBlock)
        block.nbytes = total * sizeof(LogEntry)
        block.cap = ws.log_cap * sizeof(LogEntry)
        if block.cap > <size_t> POOL_BYTES:
            shrunk = realloc(ws.log, total * sizeof(LogEntry))
            block.ptr = shrunk if shrunk != NULL else <void*> ws.log
            block.cap = total * sizeof(LogEntry) if shrunk != NULL else block.cap
            # Too large to keep: the workspace goes (ws_give frees one without a tape).
            ws.log = NULL
        else:
            block.ptr = <void*> ws.log
            # The block owns it now; the workspace (kept for the next call) gets another.
            ws.log = <LogEntry*> spare_take(ws.log_cap * sizeof(LogEntry))
        ws.log_n = 0
        return np.asarray(block).view(LOG_DTYPE), offsets
    entries = np.empty(total, dtype=LOG_DTYPE)
    cdef unsigned char[::1] raw = entries.view(np.uint8)
    for e in range(n_ex):
        m = bk[4, e]
        if m:
            memcpy(&raw[o * sizeof(LogEntry)], wss[bk[0, e]].log + bk[3, e], m * sizeof(LogEntry))
            o += m
    return entries, offsets
