"""Running examples through a network: the batch forward pass.

The event loop itself lives in the compiled module ``eventsim._engine``
(``cython_src/eventsim/_engine.pyx``); this module validates inputs, hands it the
network lowered to one record (``Network._lower()``) and wraps what comes back.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from ._ragged import take_rows
from .network import Network, _readonly, _real

try:
    from . import _engine
except ImportError as exc:  # pragma: no cover - only without a build
    raise ImportError(
        "eventsim's compiled engine (eventsim._engine) is missing. Install the package "
        "with `pip install .` (or `pip install --no-build-isolation -e .`) so that the "
        "Cython extensions are built.") from exc

__all__ = ["simulate", "SimulationResult", "Tape", "EventBudgetExceeded", "ConvergenceError",
           "resolve_threads"]

# Per-example status codes of _engine.run_batch (declared in _netrec.pxd).
_STATUS_BUDGET = 1
_STATUS_NEWTON = 2

# The largest event budget the engine can count to; ``max_events=inf`` means this.
MAX_EVENTS_LIMIT = 2**63 - 1


class EventBudgetExceeded(RuntimeError):
    """An example needed more events than ``max_events`` allows (runaway activity)."""


class ConvergenceError(RuntimeError):
    """The iterative solver of an LIF threshold crossing did not converge."""


def resolve_threads(n_threads) -> int:
    """Number of worker threads: ``None`` or ``-1`` means all cores."""
    if n_threads is None or n_threads == -1:
        return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
    if int(n_threads) < 1:
        raise ValueError(f"n_threads must be >= 1 or -1 (all cores), got {n_threads}")
    return int(n_threads)


@dataclasses.dataclass
class Tape:
    """What the backward pass needs from a forward run.

    Attributes
    ----------
    q : ndarray, shape (n_examples, n_neurons)
        Per neuron that spiked, what the backward pass needs of ``dV/dt`` at the
        crossing; 0 for sources and silent neurons.  It depends on the kernel the
        population runs (``Network._lower``): alpha populations, and LIF
        populations with ``tau_mem == tau_syn`` (which run as alpha with a scaled
        threshold), store ``q = 1 + W`` (Lambert W of the crossing), with
        ``dV/dt = rate * theta * q / (1 - q)`` in the kernel's units; other LIF
        populations store ``dV/dt`` itself.  0 at an exact tangency (no gradient).
    deliveries : ndarray, shape (n_deliveries, 3), int64
        One row per batch of synapses delivered at one time: ``(pre, begin, end)``,
        positions ``begin:end`` into ``delay_order``; arrival time is
        ``times[pre] + delays[syn]``.  Rows are in delivery (time) order.
    offsets : ndarray, shape (n_examples + 1,)
        Rows of example ``e`` are ``deliveries[offsets[e]:offsets[e+1]]``.
    delay_order : ndarray
        Synapse ids in delivery order (by presynaptic neuron, then delay).

    A tape from :func:`simulate` also keeps what the forward run used (graph,
    weights, delays, pulse times, per-population parameters), and
    :func:`eventsim.backward` refuses to run if the network differs from it.  Tapes
    assembled by hand do not, and skip that check; :meth:`SimulationResult.select`
    keeps it.

    The arrays :func:`simulate` returns are read-only.  :func:`eventsim.backward`
    validates a tape's indices against the network before use, so a damaged tape
    raises instead of crashing.
    """

    q: np.ndarray
    deliveries: np.ndarray
    offsets: np.ndarray
    delay_order: np.ndarray

    # Not a dataclass field: the four fields above are the tape's public layout.
    _snapshot = None

    def _check(self, times):
        """Check invariants (used in tests)."""
        n_ex = times.shape[0]
        assert self.offsets.shape == (n_ex + 1,)
        assert self.offsets[0] == 0 and self.offsets[-1] == len(self.deliveries)
        assert (np.diff(self.offsets) >= 0).all()
        assert (self.q[~np.isfinite(times)] == 0).all()
        for e in range(n_ex):
            rows = self.deliveries[self.offsets[e]:self.offsets[e + 1]]
            if len(rows):
                assert (rows[:, 1] < rows[:, 2]).all()
                assert np.isfinite(times[e, rows[:, 0]]).all()


@dataclasses.dataclass
class SimulationResult:
    """Outcome of :func:`simulate`.

    Attributes
    ----------
    times : ndarray, shape (n_examples, n_neurons), or (n_neurons,) for 1-D input
        (one example)
        First spike time of every neuron, sources included; ``inf`` = silent.
    n_events : ndarray of int64, shape (n_examples,)
        Events processed per example (spikes, deliveries, threshold checks).
    tape : Tape or None
        Present when ``record_tape=True``; needed by :func:`eventsim.backward`.
    input_times : ndarray
        The input spike times as simulated (2-D).
    t_max : float
        Horizon used.
    """

    times: np.ndarray
    n_events: np.ndarray
    tape: Tape | None
    input_times: np.ndarray
    t_max: float
    single: bool = False

    def select(self, rows) -> "SimulationResult":
        """The result of a subset of the examples, in the order of ``rows``: equal to
        simulating those examples alone (examples are independent).  The tape, if
        any, is sliced too (views for contiguous rows) and still lets
        :func:`eventsim.backward` check the network against the forward run."""
        times = self.times if self.times.ndim == 2 else self.times[None, :]
        rows = np.asarray(rows, np.int64).reshape(-1)
        n = times.shape[0]
        if rows.size and not ((rows >= 0) & (rows < n)).all():
            raise ValueError(f"rows must lie in 0..{n - 1}")
        tape = self.tape
        contiguous = rows.size > 0 and np.array_equal(rows, np.arange(rows[0], rows[0] + rows.size))
        if tape is None:
            sub = None
        elif contiguous:
            a, b = int(rows[0]), int(rows[0]) + rows.size
            o = tape.offsets
            sub = Tape(tape.q[a:b], tape.deliveries[o[a]:o[b]], _readonly(o[a:b + 1] - o[a]),
                       tape.delay_order)
        else:
            idx, offsets = take_rows(tape.offsets, rows)
            sub = Tape(_readonly(tape.q[rows]), _readonly(tape.deliveries[idx]),
                       _readonly(offsets), tape.delay_order)
        if sub is not None:
            sub._snapshot = tape._snapshot
        if contiguous:
            sl = slice(int(rows[0]), int(rows[0]) + rows.size)
            return SimulationResult(times[sl], self.n_events[sl], sub, self.input_times[sl],
                                    self.t_max, False)
        return SimulationResult(times[rows], self.n_events[rows], sub, self.input_times[rows],
                                self.t_max, False)


@dataclasses.dataclass(frozen=True)
class _Snapshot:
    """What a forward run used, kept in its tape for :func:`eventsim.backward`."""

    structure: object            # Network._lower().structure: the synapse graph
    weights: np.ndarray
    delays: np.ndarray | None    # None: every delay was 0
    pulse_times: np.ndarray
    params_key: bytes            # Network._lower().params_key: per-population parameters

    @classmethod
    def take(cls, low) -> "_Snapshot":
        return cls(low.structure, low.weights.copy(),
                   low.delays.copy() if low.has_delays else None, low.pulse_times.copy(),
                   low.params_key)

    def check(self, net: Network, low) -> None:
        """Raise ValueError naming the first thing that changed since the forward run."""
        same = _engine.same_values
        if (low.structure is self.structure and same(self.weights, low.weights)
                and (same(self.delays, low.delays) if self.delays is not None
                     else not low.has_delays)
                and same(self.pulse_times, low.pulse_times) and self.params_key == low.params_key):
            return
        if low.structure is not self.structure:
            raise ValueError("the network's populations or synapses changed since the forward "
                             "run (or the result is from another network); simulate again")
        delays = self.delays if self.delays is not None else np.zeros_like(low.delays)
        for name, then, now in (("weights", self.weights, low.weights),
                                ("delays", delays, low.delays),
                                ("pulse_times", self.pulse_times, low.pulse_times)):
            if not same(then, now):
                k = int(np.flatnonzero(then.view(np.int64) != now.view(np.int64))[0])
                raise ValueError(
                    f"{name} changed since the forward run ({name}[{k}] was {float(then[k])!r}, is "
                    f"now {float(now[k])!r}); gradients would be wrong: simulate again before backward")
        names = net._param_names()
        then = np.frombuffer(self.params_key).reshape(len(names), -1)
        now = np.frombuffer(low.params_key).reshape(len(names), -1)
        r, i = (int(v[0]) for v in np.nonzero(then.view(np.int64) != now.view(np.int64)))
        raise ValueError(f"{names[r]} of population #{i} changed since the forward run (was "
                         f"{float(then[r, i])!r}, is now {float(now[r, i])!r}); simulate again before backward")


def _max_events(max_events, net: Network) -> int:
    if max_events is None:
        return 4 * (net.n_neurons + net.n_synapses) + 1000
    if isinstance(max_events, (float, np.floating)):
        if max_events == np.inf:
            return MAX_EVENTS_LIMIT
        if not (np.isfinite(max_events) and float(max_events).is_integer()):
            raise ValueError(f"max_events must be a whole number or inf, got {max_events!r}")
    try:
        m = int(max_events)
    except (TypeError, ValueError):
        raise TypeError(f"max_events must be an integer, inf or None, got {max_events!r}") from None
    if m < 1:
        raise ValueError(f"max_events must be >= 1, got {max_events}")
    if m > MAX_EVENTS_LIMIT:
        raise ValueError(f"max_events must be at most 2**63 - 1 = {MAX_EVENTS_LIMIT} (or inf for "
                         f"no limit), got {max_events!r}")
    return m


def _input_array(net: Network, input_times) -> tuple[np.ndarray, bool]:
    x = np.asarray(_real("input_times", input_times), dtype=np.float64)
    single = x.ndim == 1
    if single:
        x = x[None, :]
    if x.ndim != 2:
        raise ValueError(f"input_times must be 1-D (one example) or 2-D (examples x inputs), got {x.ndim}-D")
    if x.shape[1] != net.n_inputs:
        raise ValueError(f"input_times has {x.shape[1]} columns but the network has {net.n_inputs} inputs")
    if np.isnan(x).any():
        raise ValueError("input_times contains NaN (use inf for an input that does not spike)")
    if np.isneginf(x).any():
        raise ValueError("input_times contains -inf")
    return np.ascontiguousarray(x), single


def simulate(net: Network, input_times, *, record_tape: bool = False, t_max: float = np.inf,
             max_events: int | None = None, n_threads: int | None = None) -> SimulationResult:
    """Simulate one or many examples exactly, event by event.

    Parameters
    ----------
    net : Network
    input_times : array_like, shape (n_inputs,) or (n_examples, n_inputs)
        Spike time of each input neuron per example; ``inf`` = no spike.
    record_tape : bool, default False
        Keep what :func:`eventsim.backward` needs.
    t_max : float, default inf
        Horizon: spikes later than ``t_max`` are not produced (reported as ``inf``).
    max_events : int or inf, optional
        Per-example budget of processed events; exceeding it raises
        :class:`EventBudgetExceeded` instead of running on.  The default is
        generous (single-spike models cannot run away).  ``inf`` means no limit;
        finite values must be whole numbers in ``[1, 2**63 - 1]``.
    n_threads : int, optional
        Worker threads for the examples (default: all cores).  Results are
        bit-identical for any thread count.

    Returns
    -------
    SimulationResult

    Raises
    ------
    ValueError
        Bad inputs or options, or an invalid network parameter (every parameter
        array is checked on every call, so in-place edits are caught too).
    EventBudgetExceeded
        An example exceeded ``max_events``.
    ConvergenceError
        The iterative solver of an LIF crossing (``tau_mem`` neither equal to
        nor twice ``tau_syn``) did not converge.

    Notes
    -----
    Runtime complexity: ``O(E log Q)`` per example for ``E`` synaptic events and
    queue length ``Q``; no time grid.
    """
    x, single = _input_array(net, input_times)
    low = net._lower()
    t_max = float(t_max)
    if np.isnan(t_max):
        raise ValueError("t_max is NaN")
    budget = _max_events(max_events, net)
    times, q, n_events, deliveries, offsets, status, where = _engine.run_batch(
        low, x, t_max, budget, bool(record_tape), resolve_threads(n_threads))
    bad = np.flatnonzero(status != 0)
    if bad.size:
        e = int(bad[0])
        if status[e] == _STATUS_NEWTON:
            j = int(where[e])
            pop = net._population_of(j)
            raise ConvergenceError(
                f"example {e}: the Newton iteration for the threshold crossing of neuron {j} "
                f"(LIF population {pop.name!r}) did not converge; its spike time is unknown")
        raise EventBudgetExceeded(
            f"example {e} exceeded the event budget of max_events={budget} "
            f"(runaway activity?); raise max_events or lower t_max")
    tape = None
    if record_tape:
        # Views of read-only owners: their write flag cannot be turned back on.
        tape = Tape(_readonly(q).view(), _readonly(deliveries).view(),
                    _readonly(offsets).view(), low.order.view())
        tape._snapshot = _Snapshot.take(low)
    return SimulationResult(times[0] if single else times, n_events, tape, x, t_max, single)
