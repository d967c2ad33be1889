"""Running examples through a network: the batch forward pass.

The event loop itself lives in the compiled module ``eventsim._engine``
(``cython_src/eventsim/_engine.pyx``); this module validates inputs, hands flat
arrays to it and wraps what comes back.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from .network import Network

try:
    from . import _engine
except ImportError as exc:  # pragma: no cover - only without a build
    raise ImportError(
        "eventsim's compiled engine (eventsim._engine) is missing. Install the package "
        "with `pip install .` (or `pip install --no-build-isolation -e .`) so that the "
        "Cython extensions are built.") from exc

__all__ = ["simulate", "SimulationResult", "Tape", "EventBudgetExceeded", "resolve_threads"]


class EventBudgetExceeded(RuntimeError):
    """An example needed more events than ``max_events`` allows (runaway activity)."""


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
        ``1 + W`` (Lambert W of the threshold crossing) for every computed neuron
        that spiked, 0 elsewhere; ``dV/dt`` at the crossing is ``tau * theta * q / (1 - q)``.
    deliveries : ndarray, shape (n_deliveries, 3), int64
        One row per batch of synapses delivered at one time: ``(pre, begin, end)``,
        positions ``begin:end`` into ``delay_order``; arrival time is
        ``times[pre] + delays[syn]``.  Rows are in delivery (time) order.
    offsets : ndarray, shape (n_examples + 1,)
        Rows of example ``e`` are ``deliveries[offsets[e]:offsets[e+1]]``.
    delay_order : ndarray
        Synapse ids in delivery order (by presynaptic neuron, then delay).
    """

    q: np.ndarray
    deliveries: np.ndarray
    offsets: np.ndarray
    delay_order: np.ndarray

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


def _input_array(net: Network, input_times) -> tuple[np.ndarray, bool]:
    x = np.asarray(input_times, dtype=np.float64)
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


def _network_arrays(net: Network):
    # Users may have edited the parameter arrays in place, so check them on every run:
    # a vectorised test first, the compiled scan (which names the culprit) on failure.
    w, d, p = net.weights, net.delays, net.pulse_times
    any_delay = d.any()
    if not (np.isfinite(w).all()
            and (not any_delay or (np.isfinite(d).all() and d.min() >= 0.0))
            and not np.isnan(p).any() and not np.isneginf(p).any()):
        raise ValueError(_engine.check_parameters(w, d, p))
    sign = net.synapse_sign
    if sign is not None and (sign * w < 0).any():
        bad = net.dale_violations()
        raise ValueError(f"Dale's law violated by {bad.size} synapse(s), e.g. synapse {bad[0]} "
                         f"(weight {float(w[bad[0]])!r} from neuron {int(net.pre[bad[0]])}); "
                         f"see Network.project_dale")
    return net.delay_order() if any_delay else np.arange(d.size, dtype=np.int64)


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
    max_events : int, optional
        Per-example budget of processed events; exceeding it raises
        :class:`EventBudgetExceeded` instead of running on.  The default is
        generous (single-spike models cannot run away).
    n_threads : int, optional
        Worker threads for the examples (default: all cores).  Results are
        bit-identical for any thread count.

    Returns
    -------
    SimulationResult

    Notes
    -----
    Runtime complexity: ``O(E log Q)`` per example for ``E`` synaptic events and
    queue length ``Q``; no time grid.
    """
    x, single = _input_array(net, input_times)
    order = _network_arrays(net)
    t_max = float(t_max)
    if np.isnan(t_max):
        raise ValueError("t_max is NaN")
    if max_events is None:
        max_events = 4 * (net.n_neurons + net.n_synapses) + 1000
    if int(max_events) < 1:
        raise ValueError(f"max_events must be >= 1, got {max_events}")
    model, rate, rate_syn, coef, theta, _ = net._engine_params()
    times, q, n_events, deliveries, offsets, status = _engine.run_batch(
        net.indptr, order, net.post, net.weights, net.delays,
        net.kind, net.source_index, net.population_index, rate, theta,
        net.pulse_times, x, t_max, int(max_events), bool(record_tape), resolve_threads(n_threads),
        *net._delivery_blocks(), model, rate_syn, coef)
    bad = np.flatnonzero(status != 0)
    if bad.size:
        e = bad[0]
        raise EventBudgetExceeded(
            f"example {e} exceeded the event budget of max_events={max_events} "
            f"(runaway activity?); raise max_events or lower t_max")
    tape = Tape(q, deliveries, offsets, order) if record_tape else None
    return SimulationResult(times[0] if single else times, n_events, tape, x, t_max, single)
