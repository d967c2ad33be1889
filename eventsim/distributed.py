"""Data-parallel simulation, evaluation and training on a Dask cluster.

Every example of a batch is independent of the others, so a batch can be cut into
*shards* (contiguous runs of examples), each simulated and differentiated by a Dask
worker, and the results put back together.  The design (docs/distributed.md):

* **Broadcast.**  The network's structure (populations, synapses, delays) is
  pickled once and broadcast to every worker; each training step then sends only
  the parameters training changes (weights and pulse times).  A worker keeps its
  copy of the network between steps, so nothing is rebuilt.
* **Shards.**  A batch is cut into one shard per worker thread.  The forward pass of
  a shard runs on a worker, which keeps the tape; only the spike times come back,
  so the loss and every decision that depends on it (which examples update) are
  taken in the calling process, by the same code as a local run.
* **Fixed-order sum.**  The backward engine sums the examples of a batch in fixed
  chunks of 16 (``_backward.pyx``): each chunk into a zeroed buffer, then the
  chunks into the total in chunk order.  Workers compute the chunks' sums, and a
  running total visits the workers in chunk order, each adding its chunks: the
  engine's additions in the engine's order, so the gradient is **bit-identical** to
  :func:`eventsim.backward` in one process (``exact=True``, the default).  With
  ``exact=False`` a worker sums all its examples at once and the shard sums are
  added in shard order: results then agree with the single-process run to rounding
  (1e-16 relative), still reproducible for a fixed number of shards.  The order
  never depends on which worker finishes first.

Workers run the engine with one thread (``n_threads=1``): the cluster, not the
engine, spreads the work, and a worker should have one thread per core it owns.

The Dask packages are an extra: ``pip install "eventsim[dask]"``.

Examples
--------
>>> from eventsim import distributed
>>> client = distributed.connect(n_workers=2)            # doctest: +SKIP
>>> clf = SpikingClassifier(TrainConfig.boolean_reliable(seed=0))  # doctest: +SKIP
>>> distributed.fit(client, clf, X, y)                   # doctest: +SKIP
>>> distributed.simulate(client, clf.network_, X).times  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import pickle
import re
import threading
import uuid

import numpy as np

from .gradients import Gradients, backward
from .network import NEURON, Network
from .simulation import (ConvergenceError, EventBudgetExceeded, SimulationResult, Tape,
                         _Snapshot, _readonly, simulate as _simulate)
from .spiketrains import SpikeTrains

__all__ = ["DaskBackend", "ShardedResult", "connect", "simulate", "value_and_grad", "fit",
           "evaluate", "predict", "INSTALL_HINT"]

#: How to install what this module needs.
INSTALL_HINT = 'pip install "eventsim[dask]"'

#: Examples per chunk of the backward engine's fixed-order sum (``CHUNK`` in
#: ``_backward.pyx``); the exact mode reproduces its grouping.
_CHUNK = 16

_GRAD_KEYS = ("weights", "delays", "theta", "pulse_times")


def _require_distributed():
    """The ``distributed`` package, or an ImportError that names the extra."""
    try:
        import distributed
    except ImportError as exc:
        raise ImportError(f"eventsim.distributed needs Dask's distributed scheduler, which "
                          f"is not installed: {INSTALL_HINT}") from exc
    return distributed


def connect(address: str | None = None, *, timeout: float | None = None, n_workers: int = 2,
            processes: bool = True):
    """A Dask client: to the scheduler at ``address``, or to a new local cluster.

    Parameters
    ----------
    address : str, optional
        Scheduler address, e.g. ``"tcp://10.0.0.5:8786"`` (what ``dask scheduler``
        or ``SLURMCluster.scheduler_address`` prints).  None starts a
        ``LocalCluster`` of ``n_workers`` single-threaded workers.
    timeout : float, optional
        Seconds to wait for the scheduler (default: Dask's
        ``distributed.comm.timeouts.connect`` setting, 30 s unless configured).
    n_workers : int, default 2
        Workers of the local cluster (ignored with ``address``).
    processes : bool, default True
        Local cluster: workers in separate processes (real parallelism) or as
        threads of this one (fast to start; the engine releases the GIL, so they
        still run in parallel).

    Returns
    -------
    distributed.Client

    Raises
    ------
    ImportError
        Dask is not installed (the message names the extra to install).
    TimeoutError
        No scheduler answered at ``address`` within ``timeout`` seconds.
    """
    dd = _require_distributed()
    if address is None:
        cluster = dd.LocalCluster(n_workers=int(n_workers), threads_per_worker=1,
                                  processes=processes, dashboard_address=":0")
        return dd.Client(cluster)
    if timeout is None:
        import dask
        from dask.utils import parse_timedelta

        timeout = parse_timedelta(dask.config.get("distributed.comm.timeouts.connect"), "s")
    try:
        return dd.Client(address, timeout=timeout)
    except (OSError, TimeoutError) as exc:
        raise TimeoutError(f"no Dask scheduler answered at {address} within {timeout:g} s "
                           f"({exc})") from exc


# ------------------------------------------------------------------------------
# What runs on the workers
# ------------------------------------------------------------------------------
# One network per worker thread, kept between tasks so that a training step costs a
# parameter update, not an unpickling and a fresh lowering (sorting the synapses).
# Per thread, so that in-process workers never share one; a lock, because a
# backward task may run on another thread of the worker than its forward task.
_local = threading.local()


class _Cached:
    """A worker thread's network, the parameters it holds now, and its lock."""

    def __init__(self, key, net):
        self.key, self.net, self.params, self.lock = key, net, None, threading.Lock()

    def assign(self, params):
        # Holding the lock.  ``params`` objects are per task, so identity says
        # whether the network already holds them.
        if params is not None and params is not self.params:
            self.net.weights, self.net.pulse_times = params
            self.params = params


def _worker_network(key, base) -> _Cached:
    cached = getattr(_local, "net", None)
    if cached is None or cached.key != key:
        cached = _local.net = _Cached(key, pickle.loads(base))
    return cached


class _Shard:
    """A shard's forward run, kept on its worker for the backward pass: the tape is
    valid only together with the network object that produced it, holding the
    parameters it ran with."""

    def __init__(self, cached, params, result, inputs, t_max, max_events):
        self.cached, self.params, self.result, self.inputs = cached, params, result, inputs
        self._args = (t_max, max_events)

    def __reduce__(self):
        # A tape cannot travel: an unpickled network is a new object, which the tape's
        # check refuses.  Moved to another worker (its own is gone), a shard runs
        # its examples again there, with the same result.
        with self.cached.lock:
            self.cached.assign(self.params)
            net = pickle.dumps(self.cached.net)
        return _rebuild_shard, (net, self.params, self.inputs, *self._args)


def _rebuild_shard(net_bytes, params, x, t_max, max_events):
    cached = _Cached(None, pickle.loads(net_bytes))
    cached.params = params
    res = _simulate(cached.net, x, record_tape=True, t_max=t_max, max_events=max_events,
                    n_threads=1)
    return _Shard(cached, params, res, x, t_max, max_events)


def _forward(key, base, params, x, record_tape, t_max, max_events, keep, first=0):
    cached = _worker_network(key, base)
    with cached.lock:
        cached.assign(params)
        try:
            res = _simulate(cached.net, x, record_tape=record_tape, t_max=t_max,
                            max_events=max_events, n_threads=1)
        except (EventBudgetExceeded, ConvergenceError) as exc:
            # Number the example within the whole batch, as a local run would.
            text = re.sub(r"^example (\d+)", lambda m: f"example {int(m[1]) + first}",
                          str(exc))
            raise type(exc)(text) from None
    if keep:
        return _Shard(cached, params, res, x, t_max, max_events)
    out = {"times": res.times, "n_events": res.n_events}
    if record_tape:
        out.update(q=res.tape.q, deliveries=res.tape.deliveries, offsets=res.tape.offsets)
    return out


def _shard_times(shard):
    from distributed import get_worker

    return shard.result.times, shard.result.n_events, get_worker().address


def _grad_parts(g, keys):
    return {k: getattr(g, k) for k in keys}, g.input_times


def _shard_gradients(shard, pieces, kw, keys):
    """Gradients of ``pieces`` (``(local rows, dL/dt)`` each) of a shard, one per piece."""
    out = []
    with shard.cached.lock:
        # Another shard on this thread may have given the network other parameters
        # since (the tape's check would refuse them): give it this shard's back.
        shard.cached.assign(shard.params)
        for rows, dl in pieces:
            g = backward(shard.cached.net, shard.result.select(rows), dl, n_threads=1, **kw)
            out.append(_grad_parts(g, keys))
    return out


def _input_gradients(key, base, params, x, dl, t_max, max_events, kw, keys):
    """Gradients of examples given by their inputs: a chunk whose examples lie in two
    shards is simulated again, whole, on one worker (the engine gives the same times
    for any grouping of examples)."""
    cached = _worker_network(key, base)
    with cached.lock:
        cached.assign(params)
        res = _simulate(cached.net, x, record_tape=True, t_max=t_max, max_events=max_events,
                        n_threads=1)
        return [_grad_parts(backward(cached.net, res, dl, n_threads=1, **kw), keys)]


# ------------------------------------------------------------------------------
# The calling process
# ------------------------------------------------------------------------------
class ShardedResult:
    """A forward run whose tapes stay on the workers (from
    :meth:`DaskBackend.simulate` with ``record_tape=True``).

    Attributes
    ----------
    times : ndarray, shape (n_examples, n_neurons)
        First spike times, gathered (as :attr:`SimulationResult.times`).
    n_events : ndarray, shape (n_examples,)
    input_times : ndarray, shape (n_examples, n_inputs)
    bounds : ndarray of int
        Shard ``s`` holds examples ``bounds[s]:bounds[s + 1]``.
    """

    def __init__(self, times, n_events, input_times, bounds, shards, where, sent):
        self.times, self.n_events, self.input_times = times, n_events, input_times
        self.bounds, self._shards, self._where, self._sent = bounds, shards, where, sent


class DaskBackend:
    """Simulate and differentiate batches on the workers of a Dask cluster.

    Set it as a :class:`~eventsim.training.SpikingClassifier`'s ``backend`` (or use
    :func:`fit`, :func:`evaluate`) to train or evaluate with data parallelism; the
    results equal those of the default in-process backend (see the module's
    docstring).

    Parameters
    ----------
    client : distributed.Client
    n_shards : int, optional
        Shards per batch (default: the cluster's worker threads when the backend is
        made).  Batches smaller than this use fewer.
    exact : bool, default True
        Add the gradients of the engine's chunks of 16 examples in the engine's
        order (bit-identical to one process); False: one sum per shard, added in
        shard order (one backward call per shard, no chunk simulated again; equal
        to rounding).
    min_shard : int, default 1
        Smallest shard: batches are not cut into shards of fewer examples.
    local_below : int, default 64
        Batches (and gradients) of fewer examples are computed in this process
        instead, with the same results: a round trip to the workers costs
        milliseconds, more than the engine needs for a few examples of a small
        network.  0: always on the workers.
    """

    def __init__(self, client, *, n_shards: int | None = None, exact: bool = True,
                 min_shard: int = 1, local_below: int = 64):
        _require_distributed()
        self.client = client
        self._find_slots()
        if n_shards is None:
            n_shards = len(self._slots)
        if int(n_shards) < 1:
            raise ValueError(f"n_shards must be >= 1, got {n_shards} (is the cluster "
                             f"without workers?)")
        if int(min_shard) < 1:
            raise ValueError(f"min_shard must be >= 1, got {min_shard}")
        self.n_shards, self.exact, self.min_shard = int(n_shards), bool(exact), int(min_shard)
        self.local_below = int(local_below)
        self._base = None       # (network token, delays, other params, key, future)

    def _find_slots(self):
        """One entry per worker thread: shard ``s`` goes to ``_slots[s % len]``."""
        self._slots = [w for w, n in sorted(self.client.nthreads().items())
                       for _ in range(n)]

    def _forward_tasks(self, x, bounds, sent, record_tape, keep):
        """The shards' forward tasks, placed one per worker thread: left to itself,
        the scheduler may queue two shards on one worker while another idles."""
        key, base, params, t_max, max_events = sent
        slots = self._slots
        return [self.client.submit(_forward, key, base, params, x[a:b], record_tape, t_max,
                                   max_events, keep, int(a), pure=False,
                                   workers=[slots[i % len(slots)]] if slots else None,
                                   allow_other_workers=bool(slots))
                for i, (a, b) in enumerate(zip(bounds[:-1], bounds[1:]))]

    # -------------------------------------------------------------- broadcast
    def _payload(self, net: Network):
        """(key, base future, params future): the network on the workers.  The base
        (everything but weights and pulse times) is broadcast again only when it
        changed; the parameters every call."""
        net._flush()
        model = b"".join(np.asarray(getattr(net, "_" + k)).tobytes()
                         for k in net._param_names())
        b = self._base
        # Equal delays are compared as the one value the network keeps.
        delays = net._delay_value if net._delays is None else net._delays
        if (b is None or b[0] is not net._structure_token or b[2] != model
                or type(b[1]) is not type(delays) or not np.array_equal(b[1], delays)):
            key = uuid.uuid4().hex
            fut = self.client.scatter(pickle.dumps(net, protocol=pickle.HIGHEST_PROTOCOL),
                                      broadcast=True, hash=False)
            self._base = b = (net._structure_token, np.copy(delays) if net._delays is not None
                              else delays, model, key, fut)
        # Sent with the tasks rather than scattered: scattering waits for the workers'
        # answer, a round trip per step.
        return b[3], b[4], (net.weights.copy(), net.pulse_times.copy())

    def _bounds(self, n: int, align: bool) -> np.ndarray:
        """Shard boundaries: contiguous, as equal as possible; with ``align`` on
        multiples of the engine's chunk (so no chunk spans two shards)."""
        k = max(1, min(self.n_shards, n // self.min_shard))
        if align:
            # At most one shard per chunk: a chunk cut in two would be simulated again.
            n_chunks = -(-n // _CHUNK)
            k = min(k, max(n_chunks, 1))
            b = (np.arange(k + 1) * n_chunks // k) * _CHUNK
        else:
            b = np.arange(k + 1) * n // k
        b[-1] = n
        return np.unique(b)

    # -------------------------------------------------------------- forward
    def simulate(self, net: Network, input_times, *, record_tape: bool = False,
                 n_threads: int | None = None, t_max: float = np.inf,
                 max_events: int | None = None):
        """Run a batch, spread over the workers.

        Parameters
        ----------
        net : Network
        input_times : array_like, shape (n_examples, n_inputs)
        record_tape : bool, default False
            Keep the tapes on the workers for :meth:`gradient`.
        n_threads : int, optional
            Ignored: workers run the engine with one thread.
        t_max, max_events
            As in :func:`eventsim.simulate`.

        Returns
        -------
        SimulationResult, or ShardedResult with ``record_tape``
        """
        x = _check_inputs(net, input_times)
        if x.shape[0] < self.local_below:
            return _simulate(net, x, record_tape=record_tape, t_max=t_max,
                             max_events=max_events, n_threads=n_threads)
        key, base, params = self._payload(net)
        bounds = self._bounds(x.shape[0], self.exact and record_tape)
        sent = (key, base, params, float(t_max), max_events)
        futs = self._forward_tasks(x, bounds, sent, record_tape, keep=record_tape)
        if not record_tape:
            parts = _gather(self.client, futs)
            return _joined(net, x, parts, t_max, tape=False)
        _raise_first_error(futs)      # the shards stay where they are
        got = _gather(self.client, [self.client.submit(_shard_times, f, pure=False)
                                    for f in futs])
        if got:
            times = np.concatenate([g[0] for g in got])
            n_events = np.concatenate([g[1] for g in got])
        else:
            times, n_events = np.zeros((0, net.n_neurons)), np.zeros(0, np.int64)
        if any(g[2] not in self._slots for g in got):
            self._find_slots()          # workers came or went
        return ShardedResult(times, n_events, x, bounds, futs, [[g[2]] for g in got], sent)

    # -------------------------------------------------------------- backward
    def gradient(self, net: Network, result: ShardedResult, rows, dL_dt, *, outputs=None,
                 clip_derivative=None, penalty_no_spike: float = 0.0,
                 n_threads: int | None = None, keys=None) -> Gradients:
        """Gradients summed over the examples ``rows`` of a batch, computed where
        the batch's tapes are.

        Parameters
        ----------
        net : Network
            The network of :meth:`simulate`, unchanged since.
        result : ShardedResult
            From :meth:`simulate` with ``record_tape=True``.
        rows : array_like of int
            Contributing examples, in this order (their sum is in this order too).
        dL_dt : ndarray, shape (len(rows), len(outputs)) or (len(rows), n_neurons)
        outputs, clip_derivative, penalty_no_spike
            As in :func:`eventsim.backward`.
        n_threads : int, optional
            Ignored (workers run one thread).
        keys : sequence of str, optional
            Parameter gradients to bring back (default all of ``weights``,
            ``delays``, ``theta``, ``pulse_times``); the others are None.

        Returns
        -------
        Gradients
            ``input_times`` per example, in the order of ``rows``.
        """
        local = dict(outputs=outputs, clip_derivative=clip_derivative,
                     penalty_no_spike=penalty_no_spike, n_threads=n_threads)
        if isinstance(result, SimulationResult):        # a small batch, run here
            return backward(net, result.select(rows), dL_dt, **local)
        if not isinstance(result, ShardedResult):
            raise TypeError("result must come from DaskBackend.simulate(..., "
                            "record_tape=True)")
        rows = np.asarray(rows, np.int64).reshape(-1)
        n = result.times.shape[0]
        if rows.size and not ((rows >= 0) & (rows < n)).all():
            raise ValueError(f"rows must lie in 0..{n - 1}")
        if rows.size < self.local_below:
            # A few examples: simulating them again here is cheaper than a round trip.
            _, _, _, t_max, max_events = result._sent
            res = _simulate(net, result.input_times[rows], record_tape=True, t_max=t_max,
                            max_events=max_events, n_threads=n_threads)
            return backward(net, res, dL_dt, **local)
        keys = _GRAD_KEYS if keys is None else tuple(keys)
        bad = [k for k in keys if k not in _GRAD_KEYS]
        if bad:
            raise ValueError(f"keys must be among {_GRAD_KEYS}, got {bad}")
        if penalty_no_spike and "weights" not in keys:
            raise ValueError("penalty_no_spike needs the weights' gradient (keys)")
        dl = np.asarray(dL_dt, np.float64)
        if dl.ndim != 2 or dl.shape[0] != rows.size:
            raise ValueError(f"dL_dt must have one row per entry of rows ({rows.size}), "
                             f"got shape {dl.shape}")
        if outputs is not None:
            outputs = net._ids(outputs, "output")
        # The penalty is added below, after the sum, where the engine adds it.
        kw = {"outputs": outputs, "clip_derivative": clip_derivative}
        key, base, params, t_max, max_events = result._sent
        shard_of = np.searchsorted(result.bounds, rows, side="right") - 1
        # The plan, in the order of the sum: per piece, its positions in ``rows`` and
        # where it is computed: ("shard", s, i) is piece i of shard s's task,
        # ("input", f) the task futs[f] that simulates the piece again.
        plan, pieces, futs = [], {}, []
        if self.exact:
            for c in range(0, rows.size, _CHUNK):
                pos = np.arange(c, min(c + _CHUNK, rows.size))
                s = np.unique(shard_of[pos])
                if s.size == 1:
                    s = int(s[0])
                    pieces.setdefault(s, []).append((rows[pos] - result.bounds[s], dl[pos]))
                    plan.append((pos, ("shard", s, len(pieces[s]) - 1)))
                else:
                    futs.append(self.client.submit(
                        _input_gradients, key, base, params, result.input_times[rows[pos]],
                        dl[pos], t_max, max_events, kw, keys, pure=False))
                    plan.append((pos, ("input", len(futs) - 1)))
        else:
            for s in np.unique(shard_of):
                s = int(s)
                pos = np.flatnonzero(shard_of == s)
                pieces[s] = [(rows[pos] - result.bounds[s], dl[pos])]
                plan.append((pos, ("shard", s, 0)))
        n_input = len(futs)
        shard_ids = sorted(pieces)
        for s in shard_ids:
            # Where the tape is; if that worker is gone, the shard moves and is
            # simulated again on arrival (_Shard.__reduce__).
            futs.append(self.client.submit(
                _shard_gradients, result._shards[s], pieces[s], kw, keys,
                workers=result._where[s], allow_other_workers=True, pure=False))
        places = [("input", i) for i in range(n_input)] + [("shard", s) for s in shard_ids]
        if not self.exact:
            # One sum per shard, added here in shard order: no chain of transfers.
            got = dict(zip(places, _gather(self.client, futs)))
            total = {k: _zeros_of(net, k) for k in keys}
            g_in = np.zeros((rows.size, net.n_inputs))
            for pos, where in plan:
                sums, g_in[pos] = got[where[:2]][0]
                for k in keys:
                    total[k] += sums[k]
            return self._finish(net, total, g_in, result.times[rows], penalty_no_spike)
        fut_of = dict(zip(places, futs))
        # The sum runs along the pieces in plan order, each run of pieces computed in
        # one place added there to the running total, which then moves on: one
        # transfer of the total per place instead of one per piece, and the same
        # additions, in the same order, as the engine's.
        runs = []
        for _, where in plan:
            place, i = where[:2], (where[2] if where[0] == "shard" else 0)
            if runs and runs[-1][0] == place:
                runs[-1][1].append(i)
            else:
                runs.append((place, [i]))
        total = None
        for place, idx in runs:
            near = result._where[place[1]] if place[0] == "shard" else None
            total = self.client.submit(_fold, total, fut_of[place], idx, keys, workers=near,
                                       allow_other_workers=near is not None, pure=False)
        gins = [self.client.submit(_input_parts, fut_of[p], pure=False) for p in places]
        got = _gather(self.client, [total, *gins])
        total = got[0] or {k: _zeros_of(net, k) for k in keys}
        gin_of = dict(zip(places, got[1:]))
        g_in = np.zeros((rows.size, net.n_inputs))
        for pos, where in plan:
            g_in[pos] = gin_of[where[:2]][where[2] if where[0] == "shard" else 0]
        return self._finish(net, total, g_in, result.times[rows], penalty_no_spike)

    @staticmethod
    def _finish(net, total, g_in, times, penalty_no_spike):
        if penalty_no_spike:
            _add_penalty(net, total["weights"], times, float(penalty_no_spike))
        return Gradients(total.get("weights"), total.get("delays"), total.get("theta"),
                         total.get("pulse_times"), g_in)


def _fold(total, parts, idx, keys):
    """``total`` plus the parameter sums of ``parts[i]`` for ``i`` in ``idx``, in that
    order (None: start from zeros, as the engine's reduction does)."""
    if total is None:
        total = {k: np.zeros_like(parts[idx[0]][0][k]) for k in keys}
    else:
        # A copy: the input may be held (in memory) by another task too.
        total = {k: v.copy() for k, v in total.items()}
    for i in idx:
        for k in keys:
            total[k] += parts[i][0][k]
    return total


def _input_parts(parts):
    return [p[1] for p in parts]


def _raise_first_error(futures):
    """Wait for the futures; if some failed, raise the exception of the first in
    list order (not the first to fail in time), so a run fails as a local one would."""
    _require_distributed().wait(futures)
    for f in futures:
        if f.status == "error":
            f.result()              # raises the worker's exception, with its traceback


def _gather(client, futures):
    """The futures' results (None stays None), errors as :func:`_raise_first_error`."""
    real = [f for f in futures if f is not None]
    if not real:
        return list(futures)
    _raise_first_error(real)
    got = iter(client.gather(real))
    return [None if f is None else next(got) for f in futures]


def _zeros_of(net: Network, key):
    n = {"weights": net.n_synapses, "delays": net.n_synapses,
         "theta": net.theta.size, "pulse_times": net.n_pulses}[key]
    return np.zeros(n)


def _add_penalty(net: Network, gw, times, penalty):
    """``-penalty`` per silent example on every incoming weight of a neuron, as the
    engine adds it (after the sum, one subtraction per synapse)."""
    if not times.size:
        return
    cnt = (~(times < np.inf)).sum(axis=0)
    cnt[net.kind != NEURON] = 0
    post = net.post
    hit = cnt[post] > 0
    gw[hit] -= penalty * cnt[post[hit]].astype(np.float64)


def _check_inputs(net: Network, input_times) -> np.ndarray:
    if isinstance(input_times, SpikeTrains):
        raise ValueError("eventsim.distributed takes first-spike inputs (one time per input "
                         "and example); spike trains are not supported yet")
    if any(m not in ("alpha", "lif") for m in net.models) or net.n_poisson:
        raise ValueError("eventsim.distributed runs first-spike networks (alpha and lif "
                         "populations without multispike, LI readouts or Poisson generators)")
    x = np.asarray(input_times, np.float64)
    if x.ndim != 2:
        raise ValueError(f"input_times must be 2-D (examples x inputs), got shape {x.shape}")
    if x.shape[1] != net.n_inputs:
        raise ValueError(f"input_times has {x.shape[1]} columns but the network has "
                         f"{net.n_inputs} inputs")
    return np.ascontiguousarray(x)


def _joined(net, x, parts, t_max, tape):
    """One SimulationResult from the shards' results, as one run would give it."""
    if not parts:
        empty = _simulate(net, x, record_tape=tape, t_max=t_max)
        return empty
    times = np.concatenate([p["times"] for p in parts])
    n_events = np.concatenate([p["n_events"] for p in parts])
    t = None
    if tape:
        low = net._lower()
        offs, base = [np.zeros(1, np.int64)], 0
        for p in parts:
            offs.append(p["offsets"][1:] + base)
            base += p["offsets"][-1]
        t = Tape(_readonly(np.concatenate([p["q"] for p in parts])),
                 _readonly(np.concatenate([p["deliveries"] for p in parts])),
                 _readonly(np.concatenate(offs)), low.order.view())
        # The workers ran this network's parameters: the same snapshot a local run takes.
        t._snapshot = _Snapshot.take(low)
    return SimulationResult(times, n_events, t, x, float(t_max), False)


# ------------------------------------------------------------------------------
# Convenience API
# ------------------------------------------------------------------------------
def simulate(client, net: Network, input_times, *, record_tape: bool = False,
             t_max: float = np.inf, max_events: int | None = None,
             n_shards: int | None = None) -> SimulationResult:
    """:func:`eventsim.simulate`, with the examples spread over a Dask cluster.

    Parameters
    ----------
    client : distributed.Client
    net : Network
        A first-spike network (alpha and LIF populations).
    input_times : array_like, shape (n_examples, n_inputs)
    record_tape : bool, default False
        Bring the tapes back too, joined into one: the result then works with
        :func:`eventsim.backward` in this process.
    t_max, max_events
        As in :func:`eventsim.simulate`.
    n_shards : int, optional
        Default: the cluster's worker threads.

    Returns
    -------
    SimulationResult
        Equal, array for array, to ``eventsim.simulate(net, input_times, ...)``.

    Raises
    ------
    ImportError
        Dask is not installed.
    ValueError
        Bad inputs, or a network or input this module does not run.
    EventBudgetExceeded, ConvergenceError
        As raised on the worker that ran the example.
    """
    backend = DaskBackend(client, n_shards=n_shards, exact=False)
    x = _check_inputs(net, input_times)
    key, base, params = backend._payload(net)
    bounds = backend._bounds(x.shape[0], False)
    futs = backend._forward_tasks(x, bounds, (key, base, params, float(t_max), max_events),
                                  record_tape, keep=False)
    return _joined(net, x, _gather(client, futs), t_max, tape=record_tape)


def value_and_grad(client, net: Network, input_times, loss_fn, *, outputs=None,
                   clip_derivative=None, penalty_no_spike: float = 0.0,
                   backend: DaskBackend | None = None):
    """:func:`eventsim.value_and_grad` with the examples spread over a Dask cluster.

    The forward pass and the backward pass run on the workers; ``loss_fn`` runs
    here, on the gathered spike times.

    Parameters
    ----------
    client : distributed.Client
    net : Network
    input_times : array_like, shape (n_examples, n_inputs)
    loss_fn : callable
        ``loss_fn(times) -> (loss, dL_dt)``, as in :func:`eventsim.value_and_grad`.
    outputs, clip_derivative, penalty_no_spike
        As in :func:`eventsim.value_and_grad`.
    backend : DaskBackend, optional
        Default ``DaskBackend(client)`` (exact).

    Returns
    -------
    loss, Gradients, ShardedResult
    """
    backend = DaskBackend(client) if backend is None else backend
    res = backend.simulate(net, input_times, record_tape=True)
    ids = None if outputs is None else net._ids(outputs, "output")
    sel = res.times if ids is None else res.times[:, ids]
    loss, dl = loss_fn(sel)
    dl = np.asarray(dl, np.float64)
    if dl.shape != sel.shape:
        raise ValueError(f"loss_fn must return dL_dt of shape {sel.shape}, got {dl.shape}")
    g = backend.gradient(net, res, np.arange(sel.shape[0]), dl, outputs=ids,
                         clip_derivative=clip_derivative, penalty_no_spike=penalty_no_spike)
    return loss, g, res


@contextlib.contextmanager
def _using(clf, backend):
    old = clf.__dict__.get("backend", None)
    clf.backend = backend
    try:
        yield clf
    finally:
        clf.backend = old


def fit(client, clf, X, y, X_val=None, y_val=None, *, backend: DaskBackend | None = None,
        **fit_kwargs):
    """Train a :class:`~eventsim.training.SpikingClassifier` on a Dask cluster.

    Same as ``clf.fit(X, y, X_val, y_val, **fit_kwargs)``, and the same trained
    network, bit for bit (with the default ``exact=True`` backend), with every
    batch's forward and backward passes and every evaluation spread over the
    workers.

    Parameters
    ----------
    client : distributed.Client
    clf : SpikingClassifier
    X, y, X_val, y_val, **fit_kwargs
        As in :meth:`SpikingClassifier.fit` (checkpoints, resume, callback).
    backend : DaskBackend, optional
        Default ``DaskBackend(client)``; pass one to choose its options.

    Returns
    -------
    clf
    """
    with _using(clf, DaskBackend(client) if backend is None else backend):
        return clf.fit(X, y, X_val, y_val, **fit_kwargs)


def evaluate(client, clf, X, y, *, backend: DaskBackend | None = None) -> dict:
    """:meth:`SpikingClassifier.evaluate` with the examples spread over a Dask cluster.

    Parameters
    ----------
    client : distributed.Client
    clf : SpikingClassifier
        Fitted (or holding a ``network``).
    X, y : array_like
        As in :meth:`SpikingClassifier.evaluate`.
    backend : DaskBackend, optional
        Default ``DaskBackend(client)``.

    Returns
    -------
    dict
        The same statistics as ``clf.evaluate(X, y)``, equal to them.
    """
    with _using(clf, DaskBackend(client) if backend is None else backend):
        return clf.evaluate(X, y)


def predict(client, clf, X, *, backend: DaskBackend | None = None) -> np.ndarray:
    """:meth:`SpikingClassifier.predict` with the examples spread over a Dask cluster.

    Parameters
    ----------
    client : distributed.Client
    clf : SpikingClassifier
    X : array_like, shape (n_examples, n_inputs)
    backend : DaskBackend, optional
        Default ``DaskBackend(client)``.

    Returns
    -------
    ndarray of int
        As ``clf.predict(X)``.
    """
    with _using(clf, DaskBackend(client) if backend is None else backend):
        return clf.predict(X)
