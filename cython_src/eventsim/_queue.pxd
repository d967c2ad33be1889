# The two queues of both event loops (_engine.pyx: first spikes; _spiketrain_engine.pyx:
# spike trains): a binary heap of timed events, and the action tree that holds one
# pending action time per neuron.  Inline, so each loop compiles them in place.

from libc.stdlib cimport malloc, realloc, free
from libc.stdint cimport int64_t, int32_t
from eventsim._lambertw cimport INFINITY

cdef enum:
    LEAF = 16          # neurons per leaf (and leaves per group) of the action tree

# ==============================================================================
# Event heap
# ==============================================================================
cdef struct EventRecord:
    double time
    int64_t seq          # insertion counter: deterministic tie-break
    int32_t neuron
    int32_t kind
    int64_t pos          # EV_DELIVER: next position in delay_order
    double origin        # EV_DELIVER: the time of the spike being delivered
    int64_t ref          # spike-train engine, recording: the spike's entry in the tape log


cdef inline bint _ev_less(EventRecord* a, EventRecord* b) noexcept nogil:
    return a.time < b.time or (a.time == b.time and a.seq < b.seq)


cdef struct Heap:
    EventRecord* data
    int64_t n
    int64_t capacity
    int64_t seq


cdef inline int heap_push(Heap* h, double time, int32_t neuron, int32_t kind, int64_t pos,
                          double origin, int64_t ref) noexcept nogil:
    cdef int64_t i, parent
    cdef EventRecord ev
    cdef EventRecord* grown
    if h.n == h.capacity:
        grown = <EventRecord*> realloc(h.data, 2 * h.capacity * sizeof(EventRecord))
        if grown == NULL:
            return -1
        h.data = grown
        h.capacity *= 2
    ev.time = time
    ev.seq = h.seq
    ev.neuron = neuron
    ev.kind = kind
    ev.pos = pos
    ev.origin = origin
    ev.ref = ref
    h.seq += 1
    i = h.n
    h.n += 1
    while i > 0:
        parent = (i - 1) >> 1
        if _ev_less(&ev, &h.data[parent]):
            h.data[i] = h.data[parent]
            i = parent
        else:
            break
    h.data[i] = ev
    return 0


cdef inline void heap_pop(Heap* h, EventRecord* out) noexcept nogil:
    cdef int64_t i = 0, child, n
    cdef EventRecord last
    out[0] = h.data[0]
    h.n -= 1
    n = h.n
    if n == 0:
        return
    last = h.data[n]
    while True:
        child = 2 * i + 1
        if child >= n:
            break
        if child + 1 < n and _ev_less(&h.data[child + 1], &h.data[child]):
            child += 1
        if _ev_less(&h.data[child], &last):
            h.data[i] = h.data[child]
            i = child
        else:
            break
    h.data[i] = last


# ==============================================================================
# Action tree: min over per-neuron pending-action times
# ==============================================================================
# Two levels of minima over leaves of LEAF neurons, each with its argmin (the lowest
# neuron id among ties, so the order is deterministic).  Lowering a time is O(1);
# raising the argmin of a leaf rescans that leaf (LEAF entries) and its group;
# finding the global minimum scans the groups only.  For the networks this engine
# targets (hundreds to tens of thousands of neurons) this beats a heap with
# decrease-key: most updates only lower a time or leave it alone.
cdef struct ActionTree:
    double* t            # per neuron: pending action time (inf: none)
    double* leaf_min     # per leaf
    double* top_min      # per group of LEAF leaves
    int32_t* leaf_arg    # per leaf: lowest neuron id with t == leaf_min (-1: all inf)
    int32_t* top_arg     # per group: lowest leaf with leaf_min == top_min (-1: all inf)
    int64_t n_leaves
    int64_t n_tops
    # The global minimum, cached: lowering any time keeps it exact in O(1); only
    # raising the current minimum forces the next tree_argmin to scan the groups,
    # whose number grows with the network (n / LEAF^2).
    double min_t
    int64_t min_arg
    bint min_valid


cdef inline void tree_clear(ActionTree* a, int64_t n_neurons) noexcept nogil:
    cdef int64_t i
    for i in range(n_neurons):
        a.t[i] = INFINITY
    for i in range(a.n_leaves):
        a.leaf_min[i] = INFINITY
        a.leaf_arg[i] = -1
    for i in range(a.n_tops):
        a.top_min[i] = INFINITY
        a.top_arg[i] = -1
    a.min_t = INFINITY
    a.min_arg = -1
    a.min_valid = 1


cdef inline void _tree_fix_top(ActionTree* a, int64_t leaf) noexcept nogil:
    cdef int64_t g = leaf // LEAF, i, end = (g + 1) * LEAF
    cdef double m = INFINITY
    cdef int32_t arg = -1
    if end > a.n_leaves:
        end = a.n_leaves
    cdef bint lower
    for i in range(g * LEAF, end):
        # Selects, not branches: which entry is lowest is unpredictable.
        lower = a.leaf_min[i] < m
        m = a.leaf_min[i] if lower else m
        arg = <int32_t> i if lower else arg
    a.top_min[g] = m
    a.top_arg[g] = arg


cdef inline void tree_set(ActionTree* a, int64_t n, int64_t n_neurons, double t) noexcept nogil:
    cdef double old = a.t[n], m
    cdef int64_t leaf = n // LEAF, g = leaf // LEAF, i, end
    cdef int32_t arg
    cdef bint lower
    a.t[n] = t
    if a.min_valid:
        if t < a.min_t or (t == a.min_t and t < INFINITY and n < a.min_arg):
            a.min_t = t
            a.min_arg = n
        elif n == a.min_arg and t != old:
            a.min_valid = 0
    if t < a.leaf_min[leaf] or (t == a.leaf_min[leaf] and n < a.leaf_arg[leaf]):
        a.leaf_min[leaf] = t
        a.leaf_arg[leaf] = <int32_t> n
        if t < a.top_min[g] or (t == a.top_min[g] and leaf < a.top_arg[g]):
            a.top_min[g] = t
            a.top_arg[g] = <int32_t> leaf
    elif n == a.leaf_arg[leaf] and t > old:
        end = (leaf + 1) * LEAF
        if end > n_neurons:
            end = n_neurons
        m = INFINITY
        arg = -1
        for i in range(leaf * LEAF, end):
            lower = a.t[i] < m
            m = a.t[i] if lower else m
            arg = <int32_t> i if lower else arg
        a.leaf_min[leaf] = m
        a.leaf_arg[leaf] = arg
        _tree_fix_top(a, leaf)


cdef inline int64_t tree_argmin(ActionTree* a, int64_t n_neurons, double* tmin) noexcept nogil:
    """Neuron with the earliest pending action (-1 if none); its time in tmin."""
    cdef int64_t g, best_g = -1
    cdef double m = INFINITY
    if a.min_valid:
        tmin[0] = a.min_t
        return a.min_arg
    for g in range(a.n_tops):
        if a.top_min[g] < m:
            m = a.top_min[g]
            best_g = g
    tmin[0] = m
    a.min_t = m
    a.min_arg = -1 if best_g < 0 else a.leaf_arg[a.top_arg[best_g]]
    a.min_valid = 1
    return a.min_arg


cdef inline int queues_alloc(Heap* h, ActionTree* a, int64_t n_neurons) noexcept nogil:
    """Allocate an empty heap and an action tree for n_neurons; -1 if out of memory
    (whatever was allocated is left for queues_free)."""
    cdef int64_t n = n_neurons if n_neurons > 0 else 1
    h.capacity = 64
    h.n = 0
    h.seq = 0
    h.data = <EventRecord*> malloc(64 * sizeof(EventRecord))
    a.n_leaves = (n + LEAF - 1) // LEAF
    a.n_tops = (a.n_leaves + LEAF - 1) // LEAF
    a.t = <double*> malloc(n * sizeof(double))
    a.leaf_min = <double*> malloc(a.n_leaves * sizeof(double))
    a.top_min = <double*> malloc(a.n_tops * sizeof(double))
    a.leaf_arg = <int32_t*> malloc(a.n_leaves * sizeof(int32_t))
    a.top_arg = <int32_t*> malloc(a.n_tops * sizeof(int32_t))
    if (h.data == NULL or a.t == NULL or a.leaf_min == NULL or a.top_min == NULL
            or a.leaf_arg == NULL or a.top_arg == NULL):
        return -1
    return 0


cdef inline void queues_free(Heap* h, ActionTree* a) noexcept nogil:
    free(h.data)
    free(a.t)
    free(a.leaf_min)
    free(a.top_min)
    free(a.leaf_arg)
    free(a.top_arg)

