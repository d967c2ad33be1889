# The tape of the spike-train engine (_spiketrain_engine.pyx writes it, _eventprop.pyx
# reads it back in reverse; docs/engine.md 13): one entry per event that changed a
# neuron, in the order the events happened, with the neuron's state just after it.

from libc.stdint cimport int64_t, int32_t, int8_t

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
