"""Lyapunov analysis of spike-train networks: tangent dynamics, Benettin, finite perturbations.

Issue 11 asks whether a recurrent network of multi-spike LIF neurons is chaotic on short
time scales.  This module answers with three tools (docs/lyapunov.md gives the mathematics):

1. :func:`tangent` -- the state-space tangent of a run: the perturbation of every neuron's
   ``(V, J)`` (``J = I / g_leak``, the current in units of the potential) and of every spike
   time, propagated exactly between events (the same exponentials as the state) and through
   spikes, resets, refractory releases and delayed arrivals by the saltation rules of
   docs/math.md G.3.  It *replays* the run that :func:`eventsim.simulate` recorded (its
   spike-train tape), so no second simulator is involved, in one compiled pass over the
   tape (``cython_src/eventsim/_tangent.pyx``);
2. :func:`largest_lyapunov` -- the largest Lyapunov exponent by Benettin's method: a random
   unit tangent, renormalised every ``renorm_interval``, its log growth accumulated;
3. :func:`perturbation_growth` -- finite perturbations of the initial state, rerun with the
   same Poisson seed: the distance between the runs over time, with spike flips (spikes
   in one run but not the other) counted apart from timing shifts.

Only networks that run in the spike-train engine (a multi-spike LIF or LI population, or a
Poisson generator) can be analysed, one example at a time.  Times are in the network's
time unit (ms in the examples); exponents are per time unit, and per second assuming ms.
"""

from __future__ import annotations

import dataclasses
import numbers

import numpy as np

from . import _tangent
from . import simulation as _simulation
from .network import INPUT, NEURON, Network
from .spiketrains import SpikeTrains

__all__ = ["TangentResult", "LyapunovResult", "PerturbationGrowth", "tangent",
           "largest_lyapunov", "perturbation_growth", "match_spikes"]

# Codes of the spike-train tape (cython_src/eventsim/_train_tape.pxd).
_LOG_FIRE, _LOG_RELEASE = 2, 3
_MODE_FREE, _MODE_DONE = 0, 2


# ----------------------------------------------------------------------------- checks
def _positive_time(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {value!r}")
    value = float(value)
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be finite and > 0, got {value!r}")
    return value


def _sample_times(times, t_max, name="sample_times"):
    if times is None:
        return np.linspace(0.0, t_max, 101)[1:]
    t = np.asarray(times, np.float64).reshape(-1)
    if t.size == 0:
        raise ValueError(f"{name} is empty")
    if not (np.isfinite(t).all() and (t > 0).all() and (t <= t_max).all()):
        raise ValueError(f"{name} must lie in (0, t_max = {t_max}]")
    if (np.diff(t) <= 0).any():
        raise ValueError(f"{name} must be strictly increasing")
    return t


def _one_example(net, inputs):
    """The inputs as a one-example SpikeTrains (what the spike-train engine reads)."""
    if isinstance(inputs, SpikeTrains):
        if inputs.n_examples != 1:
            raise ValueError(f"the Lyapunov analysis runs one example at a time; inputs hold "
                             f"{inputs.n_examples} (use inputs.select([e]))")
        return inputs
    x = np.asarray(inputs, np.float64)
    if x.ndim == 2 and x.shape[0] != 1:
        raise ValueError(f"the Lyapunov analysis runs one example at a time; inputs hold "
                         f"{x.shape[0]} rows")
    if x.ndim not in (1, 2):
        raise ValueError(f"inputs must be 1-D (one example) or a SpikeTrains, got {x.ndim}-D")
    x = x.reshape(1, -1)
    if x.shape[1] != net.n_inputs:
        raise ValueError(f"inputs have {x.shape[1]} columns but the network has "
                         f"{net.n_inputs} inputs")
    if np.isnan(x).any():
        raise ValueError("inputs contain NaN (use inf for an input that does not spike)")
    return SpikeTrains.from_first_spikes(x)


def _run(net, inputs, t_max, seed, max_events=None):
    res = _simulation.simulate(net, inputs, t_max=t_max, seed=seed, record_tape="full",
                               max_events=max_events, n_threads=1)
    if not isinstance(res.tape, _simulation.TrainTape):
        raise ValueError("the Lyapunov analysis needs a network that runs in the spike-train "
                         "engine (a multi-spike LIF or LI population, or a Poisson generator)")
    return res


def _check_result(net, res, t_max):
    """A run handed in for replay must be of this network, with a tape, to this t_max."""
    if not isinstance(getattr(res, "tape", None), _simulation.TrainTape):
        raise ValueError("result must come from simulate(..., record_tape='full') of a "
                         "spike-train network")
    if not res.tape.complete:
        raise ValueError("the result's tape leaves out the neurons that never fire "
                         "(record_tape=True keeps what backward needs): simulate with "
                         "record_tape='full' for a replay")
    if res.tape._snapshot is not None:
        res.tape._snapshot.check(net, net._lower())
    if res.t_max != t_max:
        raise ValueError(f"result was simulated to t_max = {res.t_max}, not {t_max}")
    if res.tape.log_offsets.size != 2:
        raise ValueError("result must hold one example (result.select([e]))")
    return res


def _check_run_args(t_max, seed):
    if isinstance(t_max, bool) or not isinstance(t_max, numbers.Real):
        raise TypeError(f"t_max must be a number, got {t_max!r}")
    t_max = float(t_max)
    if not (np.isfinite(t_max) and t_max > 0):
        raise ValueError(f"t_max must be finite and > 0, got {t_max!r}")
    if seed is None:
        # Both runs of a finite perturbation, and a tangent and its check, must see the
        # same Poisson spikes: a seed drawn here is reported, like simulate's.
        seed = _simulation._seed(None)
    return t_max, seed


# ----------------------------------------------------------------------------- model
class _Params:
    """Per-neuron parameters over all neuron ids (sources get harmless placeholders)."""

    def __init__(self, net: Network):
        table = _simulation._train_table(net)
        pop = np.asarray(net.population_index)
        self.state = (np.asarray(net.kind) == NEURON) & (pop >= 0)
        rows = np.where(self.state[:, None], table[np.maximum(pop, 0)] if table.size
                        else np.zeros((pop.size, 9)), np.nan)
        rows[~self.state] = [0, 1.0, 0.5, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0]
        (_, self.tm, self.ts, self.g, self.theta, self.vr, self.tref, bias,
         self.vinit) = rows.T.copy()
        self.b = bias / self.g                  # bias in units of the potential
        self.spiking = self.state & np.isfinite(self.theta)
        st = self.state
        self.uniform = bool(st.any() and all(np.all(a[st] == a[st][0])
                                             for a in (self.tm, self.ts, self.g)))

    def taus(self, q):
        """tau_mem, tau_syn of neurons ``q`` (scalars when all neurons share them)."""
        if self.uniform:
            i = int(np.flatnonzero(self.state)[0])
            return self.tm[i], self.ts[i]
        return self.tm[q], self.ts[q]


def _kappa(s, tm, ts, em, es):
    """kappa(s) of docs/math.md G.1 from e^{-s/tau_m}, e^{-s/tau_s}; the expm1 form where the
    time constants are within 5% (no cancellation), the two-exponential form elsewhere."""
    tm = np.broadcast_to(np.asarray(tm, np.float64), s.shape)
    ts = np.broadcast_to(np.asarray(ts, np.float64), s.shape)
    near = np.abs(tm - ts) < 0.05 * tm
    out = np.empty(s.shape)
    far = ~near
    if far.any():
        out[far] = ts[far] / (tm[far] - ts[far]) * (em[far] - es[far])
    if near.any():
        x = s[near] * (1.0 / tm[near] - 1.0 / ts[near])
        with np.errstate(invalid="ignore", divide="ignore"):
            phi = np.where(x == 0.0, 1.0, np.expm1(x) / np.where(x == 0.0, 1.0, x))
        out[near] = s[near] / tm[near] * phi * em[near]
    return out


# ----------------------------------------------------------------------------- replay
def _input_shift_list(net, res, input_shift):
    """The shift of every spike of the run's spike list (the engine's order): the
    ``input_shift`` given for input spikes, 0 for every other source."""
    order = np.asarray(res.tape.spike_order, np.int64)
    shift = np.zeros(order.size)
    if input_shift is None:
        return shift
    trains = res.input_times
    val = np.asarray(input_shift, np.float64).reshape(-1)
    if val.size != trains.n_spikes:
        raise ValueError(f"input_shift must have one entry per input spike "
                         f"({trains.n_spikes}), got {val.size}")
    if not np.isfinite(val).all():
        raise ValueError("input_shift must be finite")
    # The input spikes up to t_max are in the run's spikes, in the input trains' order.
    is_input = np.asarray(net.kind)[res.spikes.index] == INPUT
    shift[order[is_input]] = val[trains.times <= res.t_max]
    return shift


def _sweep(net, res, checkpoints, dv0, dj0, shift, measured, *, rescale, keep_states):
    """Replay the run's tape in compiled code (cython_src/eventsim/_tangent.pyx)."""
    tape = res.tape
    log = tape.log[tape.log_offsets[0]:tape.log_offsets[1]]
    ck_sq, ck_log, dv, dj, dt, fired, tangencies, n_fired = _tangent.sweep(
        net._lower(), _simulation._train_table(net), log, np.asarray(checkpoints, np.float64),
        dv0, dj0, shift, measured, rescale, keep_states)
    return dict(ck_sq=ck_sq, ck_log=ck_log, dv=dv, dj=dj, dt=dt, fired=fired,
                tangencies=int(tangencies), n_fired=int(n_fired))


def _state_vector(net, values, name):
    if values is None:
        return np.zeros(net.n_neurons)
    v = np.asarray(values, np.float64)
    if v.shape != (net.n_neurons,):
        raise ValueError(f"{name} must have shape ({net.n_neurons},) (one entry per neuron "
                         f"id), got {v.shape}")
    if not np.isfinite(v).all():
        raise ValueError(f"{name} must be finite")
    return v


# ----------------------------------------------------------------------------- public
@dataclasses.dataclass
class TangentResult:
    """Outcome of :func:`tangent`.

    Attributes
    ----------
    times : ndarray, shape (n_times,)
        The sample times.
    dv, dj : ndarray, shape (n_times, n_neurons)
        The tangent of every neuron's ``V`` and ``J = I / g_leak`` at the sample times (at
        fixed time; 0 for sources; ``dv`` is 0 while a neuron is refractory).
    dt : ndarray, shape (n_spikes,)
        The shift of every spike of ``result.spikes`` (canonical order); for input spikes
        the ``input_shift`` given.
    result : SimulationResult
        The run that was replayed (with its tape).
    tangencies : int
        Spikes at which ``dV/dt = 0`` (no derivative; their shift is set to 0).
    """

    times: np.ndarray
    dv: np.ndarray
    dj: np.ndarray
    dt: np.ndarray
    result: object
    tangencies: int = 0


def tangent(net: Network, inputs, *, t_max, seed=None, dv0=None, dj0=None, input_shift=None,
            sample_times=None, result=None) -> TangentResult:
    """The tangent of a spike-train run: how an infinitesimal perturbation propagates.

    The perturbation of the initial state (``dv0``, ``dj0``) and of the input spike times
    (``input_shift``) is carried exactly through the run (docs/lyapunov.md 2): between
    events by the linear flow, at arrivals, spikes, resets and refractory releases by the
    saltation rules of docs/math.md G.3.  It is linear: a run perturbed by ``eps`` times
    the same perturbation differs from the original by ``eps`` times the tangent, until a
    spike appears or vanishes.

    Parameters
    ----------
    net : Network
        A network that runs in the spike-train engine.
    inputs : array_like or SpikeTrains
        One example's input spikes, as for :func:`eventsim.simulate`.
    t_max : float
        Horizon (finite).
    seed : int, optional
        Seed of the Poisson generators (None: drawn; ``result.seed`` has it).
    dv0, dj0 : array_like, shape (n_neurons,), optional
        Initial perturbation of ``V`` and of ``J = I / g_leak`` per neuron id (sources are
        ignored).  Default 0.
    input_shift : array_like, shape (n_input_spikes,), optional
        Shift of each input spike (canonical order of the input SpikeTrains).
    sample_times : array_like, optional
        Increasing times in ``(0, t_max]`` at which the tangent is reported (default 100
        equally spaced, ending at ``t_max``).
    result : SimulationResult, optional
        A run of ``net`` on ``inputs`` with ``record_tape="full"`` to replay instead of
        simulating again.

    Returns
    -------
    TangentResult

    Notes
    -----
    No renormalisation: over long horizons a chaotic network's tangent overflows; use
    :func:`largest_lyapunov` for growth rates.
    """
    t_max, seed = _check_run_args(t_max, seed)
    times = _sample_times(sample_times, t_max)
    if times[-1] != t_max:
        times = np.append(times, t_max)
        drop_last = True
    else:
        drop_last = False
    trains = _one_example(net, inputs)
    res = (_check_result(net, result, t_max) if result is not None
           else _run(net, trains, t_max, seed))
    dv0 = _state_vector(net, dv0, "dv0")
    dj0 = _state_vector(net, dj0, "dj0")
    shift = _input_shift_list(net, res, input_shift)
    out = _sweep(net, res, times, dv0, dj0, shift, np.ones(net.n_neurons, np.uint8),
                 rescale=False, keep_states=True)
    k = times.size - (1 if drop_last else 0)
    dv, dj = out["dv"][:k], out["dj"][:k]
    # Per spike of res.spikes: the neurons' shifts, and the sources' as given.
    pos = np.asarray(res.tape.spike_order, np.int64)
    dt = np.where(out["fired"][pos], out["dt"][pos], shift[pos]) if pos.size else np.zeros(0)
    return TangentResult(times[:k], dv, dj, dt, res, out["tangencies"])


@dataclasses.dataclass
class LyapunovResult:
    """Outcome of :func:`largest_lyapunov`.

    Attributes
    ----------
    exponent : float
        The largest Lyapunov exponent, per time unit of the network (1/ms in the examples):
        the sum of ``log_growth`` after ``transient`` over the time it spans.
    exponent_per_s : float
        ``1000 * exponent``: per second, if the time unit is ms.
    times : ndarray, shape (n_intervals,)
        End of each renormalisation interval.
    log_growth : ndarray, shape (n_intervals,)
        Log of the tangent's growth over each interval (its norm at the end, the norm
        being 1 at the start); the running estimate is ``cumsum(log_growth) / times``.
    n_spikes : int
        Spikes of the run.
    tangencies : int
        Spikes at ``dV/dt = 0`` (no derivative; their shift is set to 0).
    seed : int
        The Poisson seed of the run.
    """

    exponent: float
    exponent_per_s: float
    times: np.ndarray
    log_growth: np.ndarray
    n_spikes: int
    tangencies: int
    seed: int

    def running_estimate(self) -> np.ndarray:
        """The exponent estimated from the start to each interval's end (convergence)."""
        return np.cumsum(self.log_growth) / self.times


def largest_lyapunov(net: Network, inputs, *, t_max, seed=None, renorm_interval=1.0,
                     transient=0.0, neurons=None, tangent_seed=0,
                     result=None) -> LyapunovResult:
    """The largest Lyapunov exponent of a run, by Benettin's method on the exact tangent.

    A random unit tangent of the state (``V`` and ``J = I / g_leak`` of every neuron) is
    carried through the run by :func:`tangent`'s rules and renormalised to norm 1 every
    ``renorm_interval``; the logs of the norms before each renormalisation add up to the
    growth, and the exponent is their sum over the time after ``transient``.

    Parameters
    ----------
    net : Network
        A network that runs in the spike-train engine.
    inputs : array_like or SpikeTrains
        One example's input spikes (input spikes are not perturbed).
    t_max : float
        Horizon (finite).
    seed : int, optional
        Seed of the Poisson generators (the drive is the same realisation for the
        tangent; None: drawn and reported).
    renorm_interval : float, default 1.0
        Time between measurements of the norm (> 0): the tangent is renormalised
        whenever its norm there leaves [1e-100, 1e100], so growth or decay within one
        interval must stay below about e^400.
    transient : float, default 0.0
        Time from the start excluded from the exponent (the tangent aligns with the most
        unstable direction first).
    neurons : array_like of int, optional
        Neuron ids whose state is perturbed initially and measured by the norm (default:
        every neuron with a membrane).
    tangent_seed : int, default 0
        Seed of the random initial tangent.
    result : SimulationResult, optional
        A recorded run (``record_tape="full"``) to analyse instead of simulating.

    Returns
    -------
    LyapunovResult

    Notes
    -----
    The norm is :math:`\\|\\delta x\\|^2 = \\sum_i \\delta V_i^2 + \\delta J_i^2` over the
    measured neurons, with a refractory neuron's :math:`\\delta V_i` counted as the
    potential shift its pending release will cause, :math:`-\\dot V_\\mathrm{release}
    \\delta t_k` (docs/lyapunov.md 3).  Spike shifts still travelling along delayed
    synapses are carried and renormalised but not measured.  Any norm gives the same
    exponent in the limit; it only shapes ``log_growth`` over short times.
    """
    t_max, seed = _check_run_args(t_max, seed)
    if isinstance(renorm_interval, bool) or not isinstance(renorm_interval, numbers.Real):
        raise TypeError(f"renorm_interval must be a number, got {renorm_interval!r}")
    h = float(renorm_interval)
    if not (np.isfinite(h) and h > 0):
        raise ValueError(f"renorm_interval must be finite and > 0, got {renorm_interval!r}")
    if isinstance(transient, bool) or not isinstance(transient, numbers.Real) or not (
            np.isfinite(transient) and 0 <= transient < t_max):
        raise ValueError(f"transient must be in [0, t_max), got {transient!r}")
    n_int = int(np.ceil(t_max / h - 1e-9))
    times = np.minimum(h * np.arange(1, n_int + 1), t_max)
    times[-1] = t_max
    trains = _one_example(net, inputs)
    res = (_check_result(net, result, t_max) if result is not None
           else _run(net, trains, t_max, seed))
    sn = np.flatnonzero(_Params(net).state)          # neurons with a membrane
    if sn.size == 0:
        raise ValueError("the network has no neuron with a membrane")
    measured = np.zeros(net.n_neurons, np.uint8)
    if neurons is None:
        measured[sn] = 1
    else:
        ids = np.asarray(neurons, np.int64).reshape(-1)
        if ids.size == 0 or (ids < 0).any() or (ids >= net.n_neurons).any() or not np.isin(
                ids, sn).all():
            raise ValueError("neurons must be ids of neurons with a membrane (no sources)")
        measured[ids] = 1
    rng = np.random.default_rng(tangent_seed)
    x = rng.standard_normal((2, sn.size)) * measured[sn]
    x /= np.sqrt((x * x).sum())
    dv0 = np.zeros(net.n_neurons)
    dj0 = np.zeros(net.n_neurons)
    dv0[sn], dj0[sn] = x
    out = _sweep(net, res, times, dv0, dj0, _input_shift_list(net, res, None), measured,
                 rescale=True, keep_states=False)
    bad = np.flatnonzero(~(out["ck_sq"] > 0) | ~np.isfinite(out["ck_sq"]))
    if bad.size:
        norm = float(np.sqrt(out["ck_sq"][bad[0]]))
        raise FloatingPointError(
            f"the tangent's norm is {norm} at t = {times[bad[0]]}; the tangent died out or "
            "overflowed (shorten renorm_interval)")
    # Benettin's log growth per interval: the log of the norm at its end, the tangent
    # having been renormalised to 1 at its start (the sweep runs unnormalised).
    log_norm = 0.5 * np.log(out["ck_sq"]) + out["ck_log"]
    growth = np.diff(log_norm, prepend=0.0)
    start = np.concatenate([[0.0], times[:-1]])
    use = start >= transient - 1e-12
    span = times[use][-1] - start[use][0] if use.any() else 0.0
    lam = float(growth[use].sum() / span) if span > 0 else np.nan
    return LyapunovResult(lam, 1000.0 * lam, times, growth, out["n_fired"], out["tangencies"],
                          res.seed if res.seed is not None else seed)


# ----------------------------------------------------------------------------- finite runs
def _states_at(net, res, times):
    """V and J of every neuron at ``times`` (right-continuous), from a run's tape."""
    P = _Params(net)
    tape = res.tape
    log = tape.log[tape.log_offsets[0]:tape.log_offsets[1]]
    ent = np.flatnonzero(log["type"] != 0)               # events that change a neuron
    t = log["t"][ent]
    o = np.argsort(t, kind="stable")  # per neuron, tape order is time order: ties keep it
    ent, t = ent[o], t[o]
    q = log["neuron"][ent].astype(np.int64)
    cut = np.searchsorted(t, times, side="right")
    last = np.full(net.n_neurons, -1, np.int64)
    V = np.zeros((times.size, net.n_neurons))
    J = np.zeros((times.size, net.n_neurons))
    lo = 0
    st = P.state
    for i, (tau, hi) in enumerate(zip(times, cut)):
        if hi > lo:
            np.maximum.at(last, q[lo:hi], np.arange(lo, hi))
        lo = hi
        has = last >= 0
        e = ent[np.maximum(last, 0)]
        t0 = np.where(has, log["t"][e], 0.0)
        V0 = np.where(has, log["V"][e], P.vinit)
        J0 = np.where(has, log["J"][e], 0.0)
        mode = np.where(has, log["mode"][e], _MODE_FREE)
        free = mode == _MODE_FREE
        s = tau - t0
        em, es = np.exp(-s / P.tm), np.exp(-s / P.ts)
        Vf = P.b + (V0 - P.b) * em + J0 * _kappa(s, P.tm, P.ts, em, es)
        V[i] = np.where(st, np.where(free, Vf, V0), 0.0)
        # a neuron done for good (t_ref = inf, after its spike) is inert: no current
        J[i] = np.where(st & (mode != _MODE_DONE), J0 * es, 0.0)
    return V, J


def match_spikes(a, b, tol):
    """Pair the spikes of two runs of one neuron: timing shifts vs flips.

    Parameters
    ----------
    a, b : array_like
        Sorted spike times of the neuron in the two runs.
    tol : float
        Two spikes are the same spike, shifted, if they are each other's nearest and less
        than ``tol`` apart.

    Returns
    -------
    pairs : ndarray, shape (n_pairs, 2), int
        Indices into ``a`` and ``b`` of the matched spikes.
    unmatched_a, unmatched_b : ndarray of int
        Spikes present in one run only (flips).
    """
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    if a.size == b.size and (a.size == 0 or np.abs(a - b).max() < tol):
        i = np.arange(a.size)
        return np.stack([i, i], 1), np.zeros(0, np.int64), np.zeros(0, np.int64)
    if a.size == 0 or b.size == 0:
        return np.zeros((0, 2), np.int64), np.arange(a.size), np.arange(b.size)

    def nearest(x, y):
        j = np.clip(np.searchsorted(y, x), 1, y.size - 1) if y.size > 1 else np.zeros(
            x.size, np.int64)
        if y.size > 1:
            j = np.where(np.abs(y[j - 1] - x) <= np.abs(y[j] - x), j - 1, j)
        return j

    ja = nearest(a, b)
    jb = nearest(b, a)
    mutual = (jb[ja] == np.arange(a.size)) & (np.abs(b[ja] - a) < tol)
    ia = np.flatnonzero(mutual)
    pairs = np.stack([ia, ja[ia]], 1)
    ua = np.setdiff1d(np.arange(a.size), ia)
    ub = np.setdiff1d(np.arange(b.size), ja[ia])
    return pairs, ua, ub


@dataclasses.dataclass
class PerturbationGrowth:
    """Outcome of :func:`perturbation_growth`.

    Attributes
    ----------
    eps : ndarray, shape (n_eps,)
        The perturbation sizes.
    times : ndarray, shape (n_times,)
        Sample times.
    dist_v : ndarray, shape (n_eps, n_times)
        Euclidean distance of the membrane potentials of all neurons at each time.
    dist_state : ndarray, shape (n_eps, n_times)
        The same over ``V`` and ``J = I / g_leak``.
    dist_timing : ndarray, shape (n_eps, n_times)
        Euclidean norm of the shifts of the matched spikes up to each time.
    n_flips : ndarray of int, shape (n_eps, n_times)
        Spikes up to each time present in one run only (the unmatched ones of
        :func:`match_spikes`).
    first_flip : ndarray, shape (n_eps,)
        Time of the first flipped spike (inf: none).
    seed : int
        The Poisson seed both runs used.
    """

    eps: np.ndarray
    times: np.ndarray
    dist_v: np.ndarray
    dist_state: np.ndarray
    dist_timing: np.ndarray
    n_flips: np.ndarray
    first_flip: np.ndarray
    seed: int


def _perturbed_network(net, inputs, kind, target, eps):
    """The network and inputs of a run perturbed by ``eps`` (``eps = 0``: the reference
    with exactly the same structure, so Poisson streams agree)."""
    if kind == "v_init":
        pert = net.copy()
        pop = int(net.population_index[target])
        v = np.array(pert.v_init, np.float64)
        v[pop] += eps
        pert.v_init = v
        return pert, inputs
    if kind == "current":
        # J(0) of one neuron kicked by an input spike at t = 0 of weight eps g_leak; the
        # new input gets the largest id, so no existing synapse or stream is renumbered
        pert = net.copy()
        kick = pert.add_inputs(1, name="__lyapunov_kick__")
        g = float(net.g_leak[int(net.population_index[target])])
        pert.connect(kick.ids, np.array([target]), np.array([eps * g]), 0.0)
        x = inputs
        new = SpikeTrains(np.concatenate([x.times, [0.0]]),
                          np.concatenate([x.index, [net.n_inputs]]),
                          np.array([0, x.n_spikes + 1]), net.n_inputs + 1)
        return pert, new
    raise ValueError(f"kind must be 'current' or 'v_init', got {kind!r}")


def perturbation_growth(net: Network, inputs, *, eps, t_max, seed=None, kind="current",
                        neuron=None, sample_times=None, match_tol=1.0,
                        max_events=None) -> PerturbationGrowth:
    """Growth of finite perturbations of the initial state, from pairs of exact runs.

    The network runs once unperturbed and once per ``eps`` with the initial state
    perturbed, all with the same Poisson seed (the same drive).  Reported against time:
    the distance of the membrane potentials, of the whole state, of the matched spike
    times, and the number of spike flips, counted apart from timing shifts.

    Parameters
    ----------
    net : Network
        A network that runs in the spike-train engine.
    inputs : array_like or SpikeTrains
        One example's input spikes.
    eps : float or array_like
        Perturbation sizes (finite, nonzero; e.g. ``[1e-6, 1e-5, 1e-4, 1e-3]``).
    t_max : float
        Horizon (finite).
    seed : int, optional
        Poisson seed shared by all runs (None: drawn and reported).
    kind : {"current", "v_init"}
        ``"current"``: ``J = I / g_leak`` of ``neuron`` at ``t = 0`` is raised by ``eps``
        (an input spike at 0 onto it); ``"v_init"``: ``V(0)`` of every neuron of
        ``neuron``'s population is raised by ``eps``.
    neuron : int, optional
        The perturbed neuron (default: the first neuron with a membrane).
    sample_times : array_like, optional
        Increasing times in ``(0, t_max]`` (default 100 equally spaced).
    match_tol : float, default 1.0
        Spikes of the two runs less than this apart (and each other's nearest) are one
        spike shifted; others are flips.
    max_events : int, optional
        Event budget of each run (:func:`eventsim.simulate`).

    Returns
    -------
    PerturbationGrowth
    """
    t_max, seed = _check_run_args(t_max, seed)
    times = _sample_times(sample_times, t_max)
    eps = np.atleast_1d(np.asarray(eps, np.float64)).reshape(-1)
    if eps.size == 0 or not np.isfinite(eps).all() or (eps == 0).any():
        raise ValueError(f"eps must be finite and nonzero, got {eps!r}")
    match_tol = _positive_time("match_tol", match_tol)
    trains = _one_example(net, inputs)
    P = _Params(net)
    if neuron is None:
        cand = np.flatnonzero(P.state)
        if not cand.size:
            raise ValueError("the network has no neuron with a membrane")
        neuron = int(cand[0])
    neuron = int(neuron)
    if not (0 <= neuron < net.n_neurons and P.state[neuron]):
        raise ValueError(f"neuron {neuron} is not a neuron with a membrane")
    ref_net, ref_in = _perturbed_network(net, trains, kind, neuron, 0.0)
    ref = _run(ref_net, ref_in, t_max, seed, max_events)
    n = net.n_neurons
    V0, J0 = _states_at(ref_net, ref, times)
    tr0 = ref.spikes.trains(0)[:n]
    dist_v = np.zeros((eps.size, times.size))
    dist_s = np.zeros_like(dist_v)
    dist_t = np.zeros_like(dist_v)
    flips = np.zeros((eps.size, times.size), np.int64)
    first = np.full(eps.size, np.inf)
    st = P.state
    for i, e in enumerate(eps):
        pn, pin = _perturbed_network(net, trains, kind, neuron, float(e))
        run = _run(pn, pin, t_max, seed, max_events)
        V1, J1 = _states_at(pn, run, times)
        dV = (V1 - V0)[:, :n][:, st]
        dJ = (J1 - J0)[:, :n][:, st]
        dist_v[i] = np.sqrt((dV * dV).sum(1))
        dist_s[i] = np.sqrt((dV * dV + dJ * dJ).sum(1))
        tr1 = run.spikes.trains(0)[:n]
        shift_t, shift_v, flip_t = [], [], []
        for q in np.flatnonzero(P.spiking):
            pairs, ua, ub = match_spikes(tr0[q], tr1[q], match_tol)
            if pairs.size:
                ta, tb = tr0[q][pairs[:, 0]], tr1[q][pairs[:, 1]]
                shift_t.append(np.maximum(ta, tb))
                shift_v.append(tb - ta)
            flip_t.append(tr0[q][ua])
            flip_t.append(tr1[q][ub])
        if shift_t:
            ts_, dv_ = np.concatenate(shift_t), np.concatenate(shift_v)
            o = np.argsort(ts_)
            c = np.concatenate([[0.0], np.cumsum(dv_[o] ** 2)])
            dist_t[i] = np.sqrt(c[np.searchsorted(ts_[o], times, side="right")])
        ft = np.sort(np.concatenate(flip_t)) if flip_t else np.zeros(0)
        flips[i] = np.searchsorted(ft, times, side="right")
        first[i] = ft[0] if ft.size else np.inf
    return PerturbationGrowth(eps, times, dist_v, dist_s, dist_t, flips, first,
                              ref.seed if ref.seed is not None else seed)
