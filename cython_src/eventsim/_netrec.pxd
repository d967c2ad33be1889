# The network as both compiled passes (_engine.run_batch, _backward.backward_batch)
# see it: one record of flat arrays, filled from the object that
# eventsim.network.Network._lower() returns.  The codes below are the only
# declaration of kinds, kernels and statuses on the compiled side; network.py mirrors
# the kinds (INPUT, PULSE, NEURON) and simulation.py the statuses.

from libc.stdint cimport int64_t, int32_t, int8_t

cdef enum:                 # per neuron (Network.kind)
    KIND_INPUT = 0
    KIND_PULSE = 1
    KIND_NEURON = 2        # any model; the model is per population
    KIND_POISSON = 3       # Poisson generator (spike-train engine only)

cdef enum:                 # per population (NetRec.model)
    MODEL_ALPHA = 0        # alpha kernel s e^{-rate s}; also LIF with tau_mem == tau_syn
    MODEL_LIF = 1          # coef (e^{-rate s} - e^{-rate_syn s}): safeguarded Newton
    MODEL_LIF2 = 2         # the same with tau_mem = 2 tau_syn: closed form
    MODEL_SPIKE_TRAIN_ONLY = 3  # only _spiketrain_engine runs it; _engine refuses it

cdef enum:                 # what a model's <model>_exact() found (docs/engine.md 12)
    CROSS_NONE = 0         # no crossing before the next input
    CROSS_FIRE = 1         # a crossing: its time and tape value were written
    CROSS_FAIL = 2         # an iteration did not converge (the engine reports STATUS_NEWTON)


cdef struct PopClock:      # per population: its time factors at time t, cached by the engine
    double t               # the time they are for (-inf: none yet)
    double ex              # e^{rate (t - R)}
    double inv             # its inverse
    double ex2             # two-exponential models: e^{rate_syn (t - R)}
    double inv2            # its inverse


cdef enum:                 # per example, returned by run_batch
    STATUS_OK = 0
    STATUS_BUDGET = 1      # more than max_events events
    STATUS_NEWTON = 2      # an LIF crossing did not converge (neuron in `where`)
    STATUS_NO_MEMORY = -1


cdef struct NetRec:
    int64_t n_neurons
    int64_t n_synapses
    int64_t n_pops
    int64_t n_inputs
    int64_t n_pulses
    int64_t n_blocks
    # Synapses, CSR by presynaptic neuron: the synapses of n are indptr[n]:indptr[n+1].
    const int64_t* indptr
    # The delivery order and the delays are compact in the common case, so that a
    # network holds 12 bytes per synapse (weight, post): read them through syn_at()
    # and syn_delay() below, never directly.
    const int64_t* order         # synapse ids by (pre, delay); NULL: the identity
    const int32_t* post
    const double* weights
    const double* delays         # per synapse, or (delay_mask 0) one value for all
    int64_t delay_mask           # -1: delays has one entry per synapse; 0: one in all
    bint has_delays              # False: every delay is 0 (and order is the identity)
    # Per neuron.
    const int8_t* kind           # KIND_*
    const int32_t* source_index  # inputs: column of input_times; pulses: index of pulse_times
    const int32_t* pop           # population index, -1 for sources
    # Per population, in the kernels' terms (Network._lower() converts time constants).
    const int8_t* model          # MODEL_*
    const double* rate           # alpha: decay rate tau; LIF: 1 / tau_mem
    const double* rate_syn       # LIF: 1 / tau_syn (unused for MODEL_ALPHA)
    const double* coef           # LIF: tau_syn / (g_leak (tau_mem - tau_syn))
    const double* theta          # threshold in the kernel's units (LIF-as-alpha: scaled)
    const double* log_rate_theta # log(rate * theta), for the Lambert W argument
    double rate_max              # largest rate or rate_syn: bounds exp() growth
    const double* pulse_times    # per pulse (inf: never fires)
    # Delivery blocks: presynaptic neurons whose targets are consecutive ids of one
    # population (the engine updates those with a vectorised loop).
    const int32_t* block         # per neuron: its block, or -1
    const int32_t* block_start   # per block: first target
    const int32_t* block_stop    # per block: one past the last target
    # CSC (backward only, for the silent-neuron penalty; NULL when not lowered).
    const int64_t* in_indptr
    const int64_t* in_syn


cdef inline int64_t syn_at(const NetRec* r, int64_t pos) noexcept nogil:
    """The synapse at position ``pos`` of the delivery order."""
    return r.order[pos] if r.order != NULL else pos


cdef inline double syn_delay(const NetRec* r, int64_t k) noexcept nogil:
    """The delay of synapse ``k``."""
    # A mask rather than a branch: one load either way, and nothing to mispredict.
    return r.delays[k & r.delay_mask]


cdef inline const double* _f64(const double[::1] a):
    return &a[0] if a.shape[0] else NULL

cdef inline const int64_t* _i64(const int64_t[::1] a):
    return &a[0] if a.shape[0] else NULL

cdef inline const int32_t* _i32(const int32_t[::1] a):
    return &a[0] if a.shape[0] else NULL

cdef inline const int8_t* _i8(const int8_t[::1] a):
    return &a[0] if a.shape[0] else NULL


cdef inline int _need(object arr, Py_ssize_t n, str name) except -1:
    if arr.shape[0] != n:
        raise ValueError(f"lowered network: {name} has length {arr.shape[0]}, expected {n}")
    return 0


cdef inline int netrec_fill(NetRec* r, object low) except -1:
    """Point ``r`` at the arrays of ``low`` (which must outlive every use of ``r``).

    Lengths are checked here; index values are guaranteed by Network._lower(), whose
    arrays are read-only.
    """
    cdef Py_ssize_t n = low.kind.shape[0], m = low.post.shape[0], p = low.model.shape[0]
    _need(low.indptr, n + 1, "indptr")
    _need(low.weights, m, "weights")
    # Empty order: the identity; one delay: every synapse's (Network._lower()).
    if low.order.shape[0]:
        _need(low.order, m, "order")
    if low.delays.shape[0] != 1:
        _need(low.delays, m, "delays")
    for name in ("source_index", "pop", "block"):
        _need(getattr(low, name), n, name)
    for name in ("rate", "rate_syn", "coef", "theta", "log_rate_theta"):
        _need(getattr(low, name), p, name)
    _need(low.block_stop, low.block_start.shape[0], "block_stop")
    _need(low.pulse_times, low.n_pulses, "pulse_times")
    if low.in_indptr.shape[0]:
        _need(low.in_indptr, n + 1, "in_indptr")
        _need(low.in_syn, m, "in_syn")
    r.n_neurons = n
    r.n_synapses = m
    r.n_pops = p
    r.n_inputs = low.n_inputs
    r.n_pulses = low.n_pulses
    r.n_blocks = low.block_start.shape[0]
    r.indptr = _i64(low.indptr)
    r.order = _i64(low.order)
    r.post = _i32(low.post)
    r.weights = _f64(low.weights)
    r.delays = _f64(low.delays)
    r.delay_mask = 0 if low.delays.shape[0] == 1 else -1
    r.has_delays = low.has_delays
    r.kind = _i8(low.kind)
    r.source_index = _i32(low.source_index)
    r.pop = _i32(low.pop)
    r.model = _i8(low.model)
    r.rate = _f64(low.rate)
    r.rate_syn = _f64(low.rate_syn)
    r.coef = _f64(low.coef)
    r.theta = _f64(low.theta)
    r.log_rate_theta = _f64(low.log_rate_theta)
    r.rate_max = low.rate_max
    r.pulse_times = _f64(low.pulse_times)
    r.block = _i32(low.block)
    r.block_start = _i32(low.block_start)
    r.block_stop = _i32(low.block_stop)
    r.in_indptr = _i64(low.in_indptr)
    r.in_syn = _i64(low.in_syn)
    return 0
