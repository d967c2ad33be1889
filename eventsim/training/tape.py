"""Cutting a simulation result with tape down to some of its examples."""

from __future__ import annotations

import dataclasses

import numpy as np

from ..simulation import SimulationResult, Tape

__all__ = ["select_examples"]

_TAPE_KNOWN = {f.name for f in dataclasses.fields(Tape)} == {"q", "deliveries", "offsets",
                                                              "delay_order"}


def select_examples(res: SimulationResult, rows, resimulate=None) -> SimulationResult:
    """The result (with tape) of a subset of the examples of ``res``, in order.

    Equal to simulating those examples alone, because examples are independent.
    Should the tape's layout ever differ from the one known here, ``resimulate(rows)``
    is called instead (if given).
    """
    rows = np.asarray(rows, np.int64)
    n = res.times.shape[0]
    if rows.size == n and np.array_equal(rows, np.arange(n)):
        return res
    tape = res.tape
    if not _TAPE_KNOWN:  # pragma: no cover
        if resimulate is None:
            raise NotImplementedError("unknown tape layout: cannot select examples")
        return resimulate(rows)
    a = int(rows[0])
    b = a + rows.size
    if int(rows[-1]) == b - 1:
        # Contiguous rows (the common case): slices, no copies of the tape.
        o = tape.offsets
        sub = Tape(tape.q[a:b], tape.deliveries[o[a]:o[b]], o[a:b + 1] - o[a],
                   tape.delay_order)
        return SimulationResult(res.times[a:b], res.n_events[a:b], sub, res.input_times[a:b],
                                res.t_max, False)
    starts, ends = tape.offsets[rows], tape.offsets[rows + 1]
    lens = ends - starts
    offsets = np.zeros(rows.size + 1, np.int64)
    np.cumsum(lens, out=offsets[1:])
    idx = np.repeat(starts - offsets[:-1], lens) + np.arange(offsets[-1])
    sub = Tape(np.ascontiguousarray(tape.q[rows]), np.ascontiguousarray(tape.deliveries[idx]),
               offsets, tape.delay_order)
    return SimulationResult(np.ascontiguousarray(res.times[rows]), res.n_events[rows], sub,
                            res.input_times[rows], res.t_max, False)
