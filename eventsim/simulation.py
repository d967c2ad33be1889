"""Running examples through a network: the batch forward pass.

The event loop itself lives in the compiled module ``eventsim._engine``
(``cython_src/eventsim/_engine.pyx``); this module validates inputs, hands it the
network lowered to one record (``Network._lower()``) and wraps what comes back.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from . import models as _models
from ._arrays import readonly as _readonly, take_rows
from .network import POISSON, SOURCE_KINDS, Network, _real
from .spiketrains import SpikeTrains, canonical_order

try:
    from . import _engine, _spiketrain_engine
except ImportError as exc:  # pragma: no cover - only without a build
    raise ImportError(
        "eventsim's compiled engine (eventsim._engine) is missing. Install the package "
        "with `pip install .` (or `pip install --no-build-isolation -e .`) so that the "
        "Cython extensions are built.") from exc

__all__ = ["simulate", "SimulationResult", "Tape", "TrainTape", "EventBudgetExceeded",
           "ConvergenceError", "resolve_threads"]

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
        Synapse ids in delivery order (by presynaptic neuron, then delay); empty
        when that order is the identity (always when the delays are all equal, and
        when each neuron's delays already rise with synapse id).

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
class TrainTape:
    """What the EventProp backward pass needs from a spike-train run (docs/engine.md 13).

    Attributes
    ----------
    log : ndarray (structured)
        One entry per event that changed a neuron (source spikes, arrivals, spikes,
        releases), in the order they happened, with fields ``t, V, J`` (time and the
        neuron's state just after), ``neuron``, ``type``, ``mode``, ``ref`` and
        ``syn`` (meaning by type; docs/engine.md 13).
    log_offsets : ndarray of int64, shape (n_examples + 1,)
        Example ``e`` holds entries ``log_offsets[e]:log_offsets[e + 1]``.
    spike_order : ndarray of int64
        Per spike of ``res.spikes`` (canonical order), its position in the engine's
        spike list of its example (the order spikes happened, which the log's
        ``syn`` of source and spike entries refers to).
    delay_order : ndarray
        Synapse ids in delivery order, as in :class:`Tape` (empty: the identity).
    complete : bool
        Whether every neuron's every event is in ``log``.  ``record_tape=True`` keeps
        what the backward pass needs, and in the layered loop (delay-free stacks of
        dense projections) that leaves out the neurons that never fire: their
        adjoints are zero throughout.  ``record_tape="full"`` keeps them, for
        replays of the whole state (:mod:`eventsim.lyapunov`).
    """

    log: np.ndarray
    log_offsets: np.ndarray
    spike_order: np.ndarray
    delay_order: np.ndarray
    complete: bool = True

    _snapshot = None


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
    input_times : ndarray or SpikeTrains
        The input spike times as simulated (2-D; the spike-train engine: the input
        SpikeTrains).
    t_max : float
        Horizon used.
    spikes : SpikeTrains
        Every neuron's spikes (property; see below).
    readout_ids : ndarray or None
        Spike-train engine: the LI readout neurons, in the column order of the
        three arrays below.
    readout_times : ndarray or None
        The ``readout_times`` asked for.
    voltages : ndarray, shape (n_examples, n_readout_times, n_readouts), or None
        LI readout voltages at ``readout_times``.
    v_max, t_v_max : ndarray, shape (n_examples, n_readouts), or None
        Each LI readout's maximum voltage over ``[0, t_max]`` and when it is reached
        (the first time, if the maximum is held).
    seed : int or None
        The Poisson generators' seed the run used (None: the network has none and no
        seed was given).
    """

    times: np.ndarray
    n_events: np.ndarray
    tape: Tape | None
    input_times: np.ndarray
    t_max: float
    single: bool = False
    _spikes: SpikeTrains | None = dataclasses.field(default=None, repr=False)
    readout_ids: np.ndarray | None = None
    readout_times: np.ndarray | None = None
    voltages: np.ndarray | None = None
    v_max: np.ndarray | None = None
    t_v_max: np.ndarray | None = None
    seed: int | None = None

    @property
    def spikes(self) -> SpikeTrains:
        """Every neuron's spikes (sources included) as :class:`eventsim.SpikeTrains`
        with one channel per neuron id: within each example sorted by time, spikes at
        the same time by neuron id.  For a first-spike network, each neuron's one
        spike (``times``)."""
        if self._spikes is None:
            self._spikes = SpikeTrains.from_first_spikes(
                self.times if self.times.ndim == 2 else self.times[None, :])
        return self._spikes

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
        elif isinstance(tape, TrainTape):
            idx, offsets = take_rows(tape.log_offsets, rows)
            sidx, _ = take_rows(self.spikes.offsets, rows)
            sub = TrainTape(_readonly(tape.log[idx]), _readonly(offsets),
                            _readonly(tape.spike_order[sidx]), tape.delay_order, tape.complete)
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
        extra = {}
        if self._spikes is not None:
            extra["_spikes"] = self._spikes.select(rows)
        if self.readout_ids is not None:
            extra.update(readout_ids=self.readout_ids, readout_times=self.readout_times,
                         voltages=self.voltages[rows], v_max=self.v_max[rows],
                         t_v_max=self.t_v_max[rows])
        extra["seed"] = self.seed
        inputs = (self.input_times.select(rows) if isinstance(self.input_times, SpikeTrains)
                  else None)
        if contiguous:
            sl = slice(int(rows[0]), int(rows[0]) + rows.size)
            return SimulationResult(times[sl], self.n_events[sl], sub,
                                    self.input_times[sl] if inputs is None else inputs,
                                    self.t_max, False, **extra)
        return SimulationResult(times[rows], self.n_events[rows], sub,
                                self.input_times[rows] if inputs is None else inputs,
                                self.t_max, False, **extra)


@dataclasses.dataclass(frozen=True)
class _Snapshot:
    """What a forward run used, kept in its tape for :func:`eventsim.backward`."""

    structure: object            # Network._lower().structure: the synapse graph
    weights: np.ndarray
    delays: np.ndarray           # Network._lower().delays: one value when all were equal
    pulse_times: np.ndarray
    params_key: bytes            # Network._lower().params_key: per-population parameters

    @classmethod
    def take(cls, low) -> "_Snapshot":
        return cls(low.structure, low.weights.copy(), low.delays.copy(),
                   low.pulse_times.copy(), low.params_key)

    def check(self, net: Network, low) -> None:
        """Raise ValueError naming the first thing that changed since the forward run."""
        same = _engine.same_values
        if (low.structure is self.structure and same(self.weights, low.weights)
                and same(self.delays, low.delays)
                and same(self.pulse_times, low.pulse_times) and self.params_key == low.params_key):
            return
        if low.structure is not self.structure:
            raise ValueError("the network's populations or synapses changed since the forward "
                             "run (or the result is from another network); simulate again")
        m = low.post.size
        # (Equal delays are one value on either side: expand both for the message.)
        delays = np.ascontiguousarray(np.broadcast_to(self.delays, (m,)) if self.delays.size != m
                                      else self.delays)
        for name, then, now in (("weights", self.weights, low.weights),
                                ("delays", delays, np.ascontiguousarray(low.delay_array())),
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


def _max_events(max_events, net: Network, spike_trains=False) -> int:
    if max_events is None:
        if spike_trains:
            return min(1000 * (net.n_neurons + net.n_synapses) + 10**6, MAX_EVENTS_LIMIT)
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


def _raise_status(net: Network, status, where, budget):
    """Raise the error of the first example whose status is not OK."""
    e = int(np.flatnonzero(status != 0)[0])
    if status[e] == _STATUS_NEWTON:
        j = int(where[e])
        pop = net._population_of(j)
        raise ConvergenceError(
            f"example {e}: the Newton iteration for the threshold crossing of neuron {j} "
            f"(LIF population {pop.name!r}) did not converge; its spike time is unknown")
    raise EventBudgetExceeded(
        f"example {e} exceeded the event budget of max_events={budget} "
        f"(runaway activity?); raise max_events or lower t_max")


def _input_array(net: Network, input_times) -> tuple[np.ndarray, bool]:
    x = np.asarray(_real("input_times", input_times), dtype=np.float64)
    single = x.ndim == 1
    if single:
        x = x[None, :]
    if x.ndim != 2:
        raise ValueError(f"input_times must be 1-D (one example) or 2-D (examples x inputs), got {x.ndim}-D")
    if x.shape[1] != net.n_inputs:
        raise ValueError(f"input_times has {x.shape[1]} columns but the network has {net.n_inputs} inputs")
    # One pass for the usual case (every time finite or inf, none negative: what the
    # spike-train engine needs), the others only to name the problem.
    if not (x > -np.inf).all():
        if np.isnan(x).any():
            raise ValueError("input_times contains NaN (use inf for an input that does not spike)")
        raise ValueError("input_times contains -inf")
    return np.ascontiguousarray(x), single


def simulate(net: Network, input_times, *, record_tape: bool | str = False,
             t_max: float = np.inf, max_events: int | None = None, n_threads: int | None = None,
             readout_times=None, seed=None) -> SimulationResult:
    """Simulate one or many examples exactly, event by event.

    Two engines share this entry point.  Networks of first-spike populations
    (``"alpha"``, ``"lif"``) fed one time per input run in the first-spike engine.
    Networks with a multi-spike LIF (``multispike=True``) or LI readout
    population, and LIF networks fed whole spike trains, run in the spike-train
    engine: every neuron starts at ``v_init`` (0 by default) with no synaptic
    current at ``t = 0``, all input spikes must be at ``t >= 0``, and ``t_max`` must
    be finite.

    Parameters
    ----------
    net : Network
    input_times : array_like, shape (n_inputs,) or (n_examples, n_inputs), or SpikeTrains
        Spike time of each input neuron per example (``inf`` = no spike), or whole
        spike trains (:class:`eventsim.SpikeTrains` with one channel per input).
    record_tape : bool or "full", default False
        Keep what :func:`eventsim.backward` needs (``SimulationResult.tape``).  In the
        spike-train engine, ``True`` may leave out neurons that never fire (they add
        nothing to any gradient; see :class:`TrainTape`), ``"full"`` keeps every
        event of every neuron, as replays of the whole state need
        (:mod:`eventsim.lyapunov`).
    t_max : float, default inf
        Horizon: spikes later than ``t_max`` are not produced (reported as ``inf``).
        Required (finite) for the spike-train engine.
    max_events : int or inf, optional
        Per-example budget of processed events; exceeding it raises
        :class:`EventBudgetExceeded` instead of running on (never truncating).  The
        default is generous: ``4 (n_neurons + n_synapses) + 1000`` for first-spike
        networks (which cannot run away), ``1000 (n_neurons + n_synapses) + 10**6``
        for spike-train networks.  ``inf`` means no limit; finite values must be
        whole numbers in ``[1, 2**63 - 1]``.
    n_threads : int, optional
        Worker threads for the examples (default: all cores).  Results are
        bit-identical for any thread count.
    readout_times : array_like of float, optional
        Spike-train engine: times in ``[0, t_max]`` at which the voltages of the LI
        readout neurons are reported (``voltages``).
    seed : int, optional
        Seed of the Poisson generators' streams (:meth:`Network.add_poisson`); each
        stream is keyed by ``(seed, example row, synapse)``.  None draws a fresh seed,
        reported in ``SimulationResult.seed`` so the run can be repeated.

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
    t_max = float(t_max)
    if np.isnan(t_max):
        raise ValueError("t_max is NaN")
    if isinstance(record_tape, str) and record_tape != "full":
        raise ValueError(f"record_tape must be True, False or 'full', got {record_tape!r}")
    if _spike_train_engine_needed(net, input_times):
        return _simulate_trains(net, input_times, record_tape=record_tape, t_max=t_max,
                                max_events=max_events, n_threads=n_threads,
                                readout_times=readout_times, seed=seed)
    if readout_times is not None:
        raise ValueError("readout_times is for networks with LI readout populations "
                         "(model='li'); this network has none")
    if isinstance(input_times, SpikeTrains):
        # At most one spike per channel here (else the spike-train engine runs).
        if input_times.n_channels != net.n_inputs:
            raise ValueError(f"the input spike trains have {input_times.n_channels} channels "
                             f"but the network has {net.n_inputs} inputs")
        input_times = input_times.first_spikes()
    x, single = _input_array(net, input_times)
    low = net._lower()
    budget = _max_events(max_events, net)
    times, q, n_events, deliveries, offsets, status, where = _engine.run_batch(
        low, x, t_max, budget, bool(record_tape), resolve_threads(n_threads))
    if (status != 0).any():
        _raise_status(net, status, where, budget)
    tape = None
    if record_tape:
        # Views of read-only owners: their write flag cannot be turned back on.
        tape = Tape(_readonly(q).view(), _readonly(deliveries).view(),
                    _readonly(offsets).view(), low.order.view())
        tape._snapshot = _Snapshot.take(low)
    return SimulationResult(times[0] if single else times, n_events, tape, x, t_max, single)


# ------------------------------------------------------------------------------
# The spike-train engine (_spiketrain_engine.pyx)
# ------------------------------------------------------------------------------
def _spike_train_engine_needed(net: Network, input_times) -> bool:
    """Whether ``simulate`` runs the spike-train engine: a population that only it
    runs, or input trains with more than one spike on some channel."""
    specs = [_models.REGISTRY[m] for m in net.models]
    if any(not spec.first_spike for spec in specs) or net.n_poisson:
        return True
    if isinstance(input_times, SpikeTrains):
        counts = np.diff(input_times.offsets)
        if input_times.n_spikes and np.bincount(
                np.repeat(np.arange(counts.size), counts) * max(input_times.n_channels, 1)
                + input_times.index).max() > 1:
            if any(spec.spike_train is None for spec in specs):
                bad = sorted({m for m, spec in zip(net.models, specs) if spec.spike_train is None})
                raise ValueError(f"input trains with several spikes per channel need the "
                                 f"spike-train engine, which does not run {bad} populations "
                                 f"(they fire once on first spikes: pass one time per input)")
            return True
    return False


def _net_cached(net: Network, name: str, key: tuple, make):
    """``make()``, kept on the network under ``name`` while ``key`` (its lowered
    structure token, and its parameter values where they matter) stays equal."""
    attr = "_cache_" + name
    cached = getattr(net, attr, None)
    if cached is None or cached[0] != key:
        cached = (key, make())
        setattr(net, attr, cached)
    return cached[1]


def _train_table(net: Network, low=None) -> np.ndarray:
    """Per population, its row of the spike-train engine (``NeuronModel.spike_train``);
    cached on the network per parameter values when ``low`` (its lowered form) is given."""
    if low is not None:
        return _net_cached(net, "train_table", (low.structure, low.params_key),
                           lambda: _train_table(net))
    rows = []
    for i, m in enumerate(net.models):
        spec = _models.REGISTRY[m]
        if spec.spike_train is None:
            names = [p.name for p in net.populations if p.kind not in SOURCE_KINDS]
            raise ValueError(f"population {names[i]!r} is {m!r}, which the spike-train engine "
                             f"does not run (it runs 'lif', 'lif_multispike' and 'li')")
        rows.append(spec.spike_train(net._pop_params(i)))
    return np.ascontiguousarray(np.array(rows, np.float64).reshape(len(rows), 9))


def _input_trains(net: Network, input_times) -> tuple[SpikeTrains, bool]:
    if isinstance(input_times, SpikeTrains):
        trains, single = input_times, False
    else:
        x, single = _input_array(net, input_times)
        if x.size and (x >= 0).all():
            # Valid as it stands (no NaN, no -inf, none negative), in one pass: the
            # checks below, each a numpy call, cost a small batch more than its spikes.
            return SpikeTrains._from_checked_first_spikes(x), single
        trains = SpikeTrains.from_first_spikes(x)
    if trains.n_channels != net.n_inputs:
        raise ValueError(f"the input spike trains have {trains.n_channels} channels but the "
                         f"network has {net.n_inputs} inputs")
    if trains.n_spikes and trains.times.min() < 0:
        k = int(np.argmin(trains.times))
        raise ValueError(f"input spike {k} (channel {int(trains.index[k])}) is at "
                         f"{trains.times[k]!r} < 0; spike-train networks start at rest at t = 0, "
                         f"so input spikes must be at t >= 0")
    return trains, single


def _train_structure(net: Network, low):
    """What the spike-train engine needs of the network's structure, cached per
    structure: which neurons are LI readouts, their ids and slots, and the neuron of
    each input channel.  Raises if an LI readout is presynaptic to a synapse."""
    return _net_cached(net, "train_structure", (low.structure,),
                       lambda: _make_train_structure(net, low))


def _make_train_structure(net: Network, low):
    li = np.zeros(net.n_neurons, bool)
    for pop in net.populations:
        if pop.kind == "li":
            li[pop.ids] = True
    li_ids = _readonly(np.flatnonzero(li))
    li_slot = np.full(net.n_neurons, -1, np.int32)
    li_slot[li_ids] = np.arange(li_ids.size, dtype=np.int32)
    sends = li & (np.diff(low.indptr) > 0)
    if sends.any():
        i = int(np.flatnonzero(sends)[0])
        raise ValueError(f"neuron {i} is an LI readout (model='li'), which never "
                         f"spikes, but it is the presynaptic neuron of synapse {int(low.indptr[i])}")
    return (_readonly(li), li_ids, _readonly(li_slot),
            _readonly(np.ascontiguousarray(net.input_ids, dtype=np.int32)))


def _poisson_streams(net: Network, low):
    """The Poisson streams of the engine: one per synapse of a generator, numbered by
    generator and then delivery order (engine.md 13).  Returns each stream's position
    in the delivery order, its number of synapses (1), its generator, and, for the
    windowed loop, the streams of each target neuron (``ptr``, ``ids``: CSR)."""
    if not net.n_poisson:
        e64 = np.zeros(0, np.int64)
        return e64, e64, np.zeros(0, np.int32), np.zeros(net.n_neurons + 1, np.int64), e64
    gens = np.flatnonzero(low.kind == POISSON)
    sizes = low.indptr[gens + 1] - low.indptr[gens]
    total = int(sizes.sum())
    pos = np.repeat(low.indptr[gens] - np.cumsum(sizes) + sizes, sizes) + np.arange(total)
    owner = np.repeat(np.asarray(low.source_index)[gens], sizes).astype(np.int32)
    syn = np.asarray(low.order)[pos] if low.order.size else pos
    target = np.asarray(low.post)[syn]
    ids = np.argsort(target, kind="stable").astype(np.int64)
    ptr = np.zeros(net.n_neurons + 1, np.int64)
    np.cumsum(np.bincount(target, minlength=net.n_neurons), out=ptr[1:])
    return (np.ascontiguousarray(pos, np.int64), np.ones(total, np.int64),
            np.ascontiguousarray(owner), ptr, np.ascontiguousarray(ids))


#: Which loop the spike-train engine runs: "auto" (the layered or the windowed loop
#: where they apply and pay), "heap", "window" or "layered" (tests compare them).
_TRAIN_LOOP = "auto"

#: The layered loop's per-block row table has n_blocks * n_neurons entries: above
#: this, the plan is not made.
_LAYER_ROWS_MAX = 50_000_000


def _layer_plan(net: Network, low, li):
    """The layered loop's plan, or None where it does not apply (docs/engine.md 13,
    "The layered loop").

    It applies to a network without delays, pulses, Poisson generators or LI
    readouts whose populations receive dense projections (each presynaptic neuron of
    a population reaches each of its neurons through exactly one synapse) and form no
    cycle.  Returns ``(nrn, ptr, pop, row, npre, soff, syn)``: one block per
    population in topological order, its neurons ``nrn[ptr[b]:ptr[b + 1]]``, its
    population index, the row of every neuron in its dense synapse matrix
    (``row[b * n + j]``, -1: none), the matrix's width and, from ``soff[b]``, the
    matrix itself (synapse ids, neuron-major).  Cached on the network per structure."""
    if _TRAIN_LOOP not in ("auto", "layered") or low.has_delays:
        return None
    return _net_cached(net, "layer_plan", (low.structure,),
                       lambda: None if (li.any() or net.n_poisson or net.n_pulses)
                       else _make_layer_plan(net, low))


def _make_layer_plan(net: Network, low):
    n = net.n_neurons
    pops = [p for p in net.populations if p.kind not in SOURCE_KINDS and p.size]
    if not pops or len(pops) * n > _LAYER_ROWS_MAX:
        return None
    pop_of = np.asarray(low.pop)
    pre, post = np.asarray(net.pre), np.asarray(low.post)
    pre_pop, post_pop = pop_of[pre], pop_of[post]
    # Population-level edges; a population feeding itself (or a cycle) rules it out.
    edges = {(int(a), int(b)) for a, b in zip(*np.unique(np.stack([pre_pop, post_pop]), axis=1))
             if a >= 0}
    if any(a == b for a, b in edges):
        return None
    order, left = [], {p.index for p in pops}
    while left:
        ready = sorted(p for p in left if not any(a in left and b == p for a, b in edges))
        if not ready:
            return None
        order += ready
        left -= set(ready)
    by_index = {p.index: p for p in pops}
    by_post = np.argsort(post_pop, kind="stable")
    bounds = np.searchsorted(post_pop[by_post], np.arange(len(net.models) + 1))
    nrn, ptr, pop, npre, soff, syn = [], [0], [], [], [0], []
    row = np.full((len(order), n), -1, np.int32)
    for b, i in enumerate(order):
        p = by_index[i]
        ks = by_post[bounds[i]:bounds[i + 1]]
        pres = np.unique(pre[ks])
        if ks.size != pres.size * p.size:
            return None
        mat = np.full((p.size, pres.size), -1, np.int64)
        mat[post[ks] - p.start, np.searchsorted(pres, pre[ks])] = ks
        if (mat < 0).any():
            return None                 # duplicates where others are missing
        row[b, pres] = np.arange(pres.size, dtype=np.int32)
        nrn.append(p.ids.astype(np.int32))
        ptr.append(ptr[-1] + p.size)
        pop.append(i)
        npre.append(pres.size)
        syn.append(mat.ravel())
        soff.append(soff[-1] + mat.size)
    return (np.concatenate(nrn), np.array(ptr, np.int64), np.array(pop, np.int32),
            np.ascontiguousarray(row.ravel()), np.array(npre, np.int64),
            np.array(soff, np.int64), np.concatenate(syn).astype(np.int64))


def _window_plan(net: Network, low, li, t_max):
    """The windowed loop's schedule, or None for the heap loop (docs/engine.md 13,
    "The windowed loop").

    Returns ``(window, topo, levels)``: the smallest nonzero delay of a synapse from a
    spiking neuron (inf: none), an order of the neurons in which every delay-free
    synapse between spiking neurons points from one level to a later one, and where
    each level starts in that order (and its end).  None if those synapses form a cycle, or
    if the windows would be so many that visiting every neuron in each costs more
    than the events themselves, or (choosing freely) for delay-free layered networks."""
    n = net.n_neurons
    spiking = np.zeros(n, bool)
    spiking[np.asarray(low.pop) >= 0] = True
    spiking &= ~li
    m = low.post.size
    if low.delays.size != m or m == 1:
        # One delay for every synapse: decided per neuron, without per-synapse arrays.
        d0 = float(low.delays[0])
        fires = bool((spiking & (np.diff(low.indptr) > 0)).any())
        window = d0 if fires and d0 > 0 else np.inf
        uniform_zero = fires and d0 == 0
    else:
        pre, d = np.asarray(net.pre), np.asarray(low.delays)
        from_spiking = spiking[pre]
        dd = d[from_spiking]
        positive = dd[dd > 0]
        window = float(positive.min()) if positive.size else np.inf
        uniform_zero = None
    n_windows = 1.0 if not np.isfinite(window) else np.ceil(t_max / window) + 1
    if _TRAIN_LOOP == "heap" or (_TRAIN_LOOP == "auto" and n_windows * n > 64 * (m + n) + 1e6):
        return None
    if uniform_zero is False:
        # No delay-free synapse between spiking neurons: one level.
        return window, np.arange(n, dtype=np.int32), np.array([0, n], np.int64)
    if uniform_zero and _TRAIN_LOOP == "auto":
        return None         # delay-free layers: the heap loop, as below
    if uniform_zero:
        pre, d = np.asarray(net.pre), np.zeros(m)
        from_spiking = spiking[pre]
    post = np.asarray(low.post)
    # Delay-free synapses between spiking neurons (and into readouts): a level per
    # neuron by Kahn's algorithm, level by level.
    zero = from_spiking & (d == 0)
    if _TRAIN_LOOP == "auto" and not np.isfinite(window) and zero.any():
        # A stack of layers without delays: in one window, every deeper neuron's
        # arrivals come in neuron by neuron and would need sorting, while the heap
        # loop meets them in time order (measured: the heap loop is ~15% faster on
        # Yin-Yang 5-200-3).
        return None
    zp, zq = pre[zero], post[zero]
    indeg = np.bincount(zq, minlength=n)
    by_pre = np.argsort(zp, kind="stable")
    starts = np.searchsorted(zp[by_pre], np.arange(n + 1))
    level = np.full(n, -1, np.int64)
    frontier = np.flatnonzero(indeg == 0)
    depth = 0
    while frontier.size:
        level[frontier] = depth
        depth += 1
        a, b = starts[frontier], starts[frontier + 1]
        m = b - a
        if not m.sum():
            break
        idx = np.repeat(a - np.cumsum(m) + m, m) + np.arange(m.sum())
        targets = zq[by_pre[idx]]
        np.subtract.at(indeg, targets, 1)
        frontier = np.unique(targets[indeg[targets] == 0])
    if (level < 0).any():
        if _TRAIN_LOOP == "window":
            raise ValueError("the windowed loop needs the delay-free synapses between spiking "
                             "neurons to form no cycle")
        return None
    topo = np.argsort(level, kind="stable").astype(np.int32)
    levels = np.zeros(int(level.max(initial=0)) + 2, np.int64)
    np.cumsum(np.bincount(level, minlength=levels.size - 1), out=levels[1:])
    return window, np.ascontiguousarray(topo), levels


def _seed(seed) -> int:
    if seed is None:
        return int(np.random.SeedSequence().generate_state(1, np.uint64)[0])
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer or None, got {seed!r}")
    return int(seed) % 2**64


def _simulate_trains(net: Network, input_times, *, record_tape, t_max, max_events, n_threads,
                     readout_times, seed) -> SimulationResult:
    if not np.isfinite(t_max):
        raise ValueError("a network with multi-spike or LI populations (or fed spike trains) "
                         "needs a finite t_max: its neurons may fire for ever")
    trains, single = _input_trains(net, input_times)
    low = net._lower()
    table = _train_table(net, low)
    budget = _max_events(max_events, net, spike_trains=True)
    li, li_ids, li_slot, input_neuron = _train_structure(net, low)
    if readout_times is None:
        ro = np.zeros(0)
    else:
        ro = np.asarray(_real("readout_times", readout_times), dtype=np.float64).reshape(-1)
        if not li_ids.size:
            raise ValueError("readout_times needs LI readout neurons (model='li'); the network "
                             "has none")
        if not (np.isfinite(ro).all() and (ro >= 0).all() and (ro <= t_max).all()):
            raise ValueError(f"readout_times must lie in [0, t_max = {t_max}]")
        if (np.diff(ro) < 0).any():
            raise ValueError("readout_times must be sorted")
    stream_pos, stream_count, stream_gen, stream_ptr, stream_ids = _poisson_streams(net, low)
    # Only Poisson generators draw random numbers; without them no seed is drawn.
    seed = _seed(seed) if net.n_poisson or seed is not None else None
    layers = _layer_plan(net, low, li)
    if _TRAIN_LOOP == "layered" and layers is None:
        raise ValueError("the layered loop needs a network without delays, pulses, Poisson "
                         "generators or LI readouts, of dense projections between "
                         "populations that form no cycle")
    plan = _window_plan(net, low, li, t_max) if layers is None else None
    window, topo, levels = plan if plan is not None else (0.0, None, None)
    (first, sp_t, sp_n, sp_off, ro_v, vmax, tvmax, n_events, status, where,
     log) = _spiketrain_engine.run_batch(
        low, table, trains.times, trains.index, trains.offsets, input_neuron, ro, li_slot,
        int(li_ids.size), t_max, budget, resolve_threads(n_threads), stream_pos, stream_count,
        stream_gen,
        net._poisson_offsets, net._poisson_t, net._poisson_rate, seed or 0, bool(record_tape),
        window, topo, levels, stream_ptr, stream_ids, layers, full_tape=record_tape == "full")
    if (status != 0).any():
        _raise_status(net, status, where, budget)
    # Canonical order (time, then neuron) of the engine's spikes, which are in the
    # order they happened; the backward pass maps per-spike losses through it.
    sp_n = sp_n.astype(np.int64)
    # The layered loop lists spikes in canonical order already.
    order = None if layers is not None else canonical_order(sp_t, sp_n, sp_off)
    if order is not None:
        sp_t, sp_n = sp_t[order], sp_n[order]
    spikes = SpikeTrains._trusted(sp_t, sp_n, sp_off, net.n_neurons)
    tape = None
    if record_tape:
        entries, log_offsets = log
        if order is None:
            spike_order = _spiketrain_engine.local_index(sp_off)
        else:
            example = np.repeat(np.arange(trains.n_examples), np.diff(sp_off))
            spike_order = order - sp_off[example]
        tape = TrainTape(log=_readonly(entries), log_offsets=_readonly(log_offsets),
                         spike_order=_readonly(spike_order),
                         delay_order=low.order.view(),
                         complete=layers is None or record_tape == "full")
        tape._snapshot = _Snapshot.take(low)
    res = SimulationResult(first[0] if single else first, n_events, tape, trains, t_max, single,
                           _spikes=spikes, readout_ids=_readonly(li_ids),
                           readout_times=_readonly(ro), voltages=ro_v, v_max=vmax, t_v_max=tvmax,
                           seed=seed)
    return res
