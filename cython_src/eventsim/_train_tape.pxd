# The tape of the spike-train engine (_spiketrain_engine.pyx writes it, _eventprop.pyx
# reads it back in reverse, _tangent.pyx forward; docs/engine.md 13): one entry per event
# that changed a neuron, in the order the events happened, with the neuron's state just
# after it.

from libc.stdint cimport int64_t, int32_t, int8_t
from eventsim._netrec cimport NetRec

cdef enum:                 # a neuron's mode (TrainState.mode, LogEntry.mode)
    MODE_FREE = 0          # V evolves
    MODE_CLAMPED = 1       # refractory: V held at v_reset, J evolves
    MODE_DONE = 2          # fired once and never released (t_ref = inf): inert

cdef enum:                 # LogEntry.type
    LOG_SOURCE = 0         # an input or pulse spike (syn: its index in the spike list)
    LOG_ARRIVAL = 1        # a spike arrives (syn: synapse id; ref: the spike's entry, -1: Poisson)
    LOG_FIRE = 2           # a neuron spikes (syn: its index in the spike list)
    LOG_RELEASE = 3        # a refractory period ends (ref: the entry of its spike)


cdef struct LogEntry:
    double t
    double V               # the neuron's state just after the event
    double J
    int64_t ref
    int64_t syn
    int32_t neuron
    int8_t type
    int8_t mode            # MODE_* just after the event


cdef inline int check_tape_layout(object entries) except -1:
    """Raise unless the numpy array ``entries`` holds LogEntry records (a tape loaded or
    built elsewhere must not be read with another layout)."""
    if entries.dtype.itemsize != sizeof(LogEntry) or entries.dtype.names != (
            "t", "V", "J", "ref", "syn", "neuron", "type", "mode"):
        raise ValueError("the tape's entries have the wrong layout")
    return 0


cdef inline bint tape_entry_ok(const NetRec* net, const LogEntry* e, int64_t n_entries,
                               int64_t n_spikes) noexcept nogil:
    """Whether a sweep can follow entry ``e``'s indices: its neuron, its synapse or place
    in the spike list (``n_spikes`` long), and its reference into the example's
    ``n_entries`` entries.  A damaged tape must raise, not read out of bounds."""
    cdef int32_t j = e.neuron
    if j < 0 or j >= net.n_neurons:
        return False
    if e.type == LOG_SOURCE:
        return net.pop[j] < 0 and 0 <= e.syn < n_spikes
    if net.pop[j] < 0:
        return False
    if e.type == LOG_ARRIVAL:
        return 0 <= e.syn < net.n_synapses and e.ref < n_entries
    if e.type == LOG_FIRE:
        return 0 <= e.syn < n_spikes
    if e.type == LOG_RELEASE:
        return 0 <= e.ref < n_entries
    return False
