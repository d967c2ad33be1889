# Counter-based random numbers: every draw is a pure function of (seed, example,
# stream, counter), so results do not depend on which thread runs an example or in
# which order examples run.  The mixer is splitmix64's finaliser (Steele, Lea and
# Flood 2014), chained once per key so that nearby keys give unrelated outputs; each
# stream is then splitmix64's own sequence from its key.

from libc.stdint cimport uint64_t
from libc.math cimport log


cdef inline uint64_t mix64(uint64_t z) noexcept nogil:
    z = z + <uint64_t> 0x9E3779B97F4A7C15
    z = (z ^ (z >> 30)) * <uint64_t> 0xBF58476D1CE4E5B9
    z = (z ^ (z >> 27)) * <uint64_t> 0x94D049BB133111EB
    return z ^ (z >> 31)


cdef inline uint64_t stream_key(uint64_t seed, uint64_t example, uint64_t stream) noexcept nogil:
    """The key of one stream of one example."""
    return mix64(mix64(mix64(seed) ^ example) ^ stream)


cdef inline double uniform_open(uint64_t key, uint64_t counter) noexcept nogil:
    """Draw number ``counter`` of stream ``key``: uniform on (0, 1), never 0 or 1.

    The stream is splitmix64 seeded with the key: output ``counter`` is the mixer of
    ``key + (counter + 1) * gamma``, one mixer per draw.  Keys are mixer outputs,
    so two streams' state sequences meet only by a 64-bit coincidence."""
    return (<double> (mix64(key + counter * <uint64_t> 0x9E3779B97F4A7C15) >> 11) + 0.5) * (
        1.0 / 9007199254740992.0)


cdef inline double exponential(uint64_t key, uint64_t counter) noexcept nogil:
    """Draw number ``counter`` of stream ``key``: exponential with mean 1 (> 0)."""
    return -log(uniform_open(key, counter))
