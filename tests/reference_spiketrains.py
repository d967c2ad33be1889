"""Brute-force reference for multi-spike LIF networks with current synapses (tests only).

Independent of eventsim: nothing here imports the package, and no incremental
state update, Newton step, Lambert W or closed-form crossing formula is used.  The
membrane potential between two events is the analytic solution of the linear ODEs;
threshold crossings are found by sampling that solution densely, inserting every
extremum, and polishing the first sign change with :func:`scipy.optimize.brentq`.

Model
-----
Global ids ``0 .. n_inputs-1`` are input channels, ``n_inputs .. n_inputs+N-1``
are neurons (``i = id - n_inputs`` indexes ``desc["neurons"]``).  For ``t >= 0``,
starting from ``V(0) = v_init`` and ``I(0) = 0``::

    tau_mem dV/dt = -V + (I(t) + bias) / g_leak
    tau_syn dI/dt = -I

A synapse ``(pre, post, w, d)`` makes ``I_post`` jump by ``w`` at ``t_s + d`` for
every spike ``t_s`` of ``pre``.  A ``"lif"`` neuron spikes when ``V`` reaches
``theta``; ``V`` is then held at ``v_reset`` during ``[t_k, t_k + t_ref]`` (``I``
keeps evolving and receiving jumps) and evolves freely from ``v_reset`` afterwards.
``"li"`` neurons have the same membrane but never spike.  Spikes after ``t_max``
are not produced; a spike exactly at ``t_max`` is.  If ``v_init >= theta`` a
``"lif"`` neuron spikes at ``t = 0``.

Analytic solution on an event-free stretch (``s = t - t0``, ``J = I / g_leak``,
``U = V - bias / g_leak``)::

    J(s) = J0 exp(-s / tau_syn)
    U(s) = exp(-s / tau_mem) U0 + J0 kappa(s)
    kappa(s) = tau_syn / (tau_mem - tau_syn) (exp(-s/tau_mem) - exp(-s/tau_syn))
             = (s / tau_mem) phi(s (tau_syn - tau_mem) / (tau_mem tau_syn)) exp(-s/tau_mem)

with ``phi(x) = expm1(x) / x``; the second form has no cancellation when
``tau_mem ~ tau_syn`` and is exact when they are equal.

``dV/dt = (J - U) / tau_mem`` is a combination of two exponentials (or
``(A + B s) exp(-s/tau)``), so it has at most one zero per event-free stretch:
``V`` is monotone on each piece between the samples once the extremum is inserted,
which is what makes the bracketing below exhaustive (it also finds crossings where
``V`` rises above ``theta`` and falls back between two samples).

Event order
-----------
The network is simulated globally in time: the candidate crossing of every neuron
is computed from its current state and the arrivals already known, up to its next
known arrival (or ``t_max``); the earliest candidate or known arrival is applied.
Delays are ``>= 0``, so no arrival still unknown can precede the earliest crossing.
At equal times crossings go before arrivals: an arrival changes only ``I``, so it
cannot move a crossing at its own time, and the post-spike state then receives it.
"""

from __future__ import annotations

import heapq
import math

import numpy as np
from scipy.optimize import brentq

__all__ = [
    "simulate_reference",
    "voltage_reference",
    "superposition_voltage",
    "isi_constant_drive",
    "crossing_margins",
    "spiketrain_networks",
    "random_desc",
    "kappa",
]

# Uniform sub-brackets per event-free stretch, and the geometric refinement towards
# its start (L 2^-k): a crossing or extremum right after an arrival is then still
# bracketed by samples where the floating-point sign of V - theta / dV/dt is clear.
_N_UNIFORM = 64
_GEOM = 2.0 ** -np.arange(7, 51)
_UNIT_GRID = np.unique(np.concatenate([np.linspace(0.0, 1.0, _N_UNIFORM + 1), _GEOM]))


# --------------------------------------------------------------------------- kernels


def kappa(s, tau_mem, tau_syn):
    """Membrane response to a unit jump of ``J`` at ``s = 0`` (no leak terms of U0).

    Parameters
    ----------
    s : float or array_like
        Time since the jump (``>= 0``).
    tau_mem, tau_syn : float
        Membrane and synaptic time constants (any ratio, including equal).

    Returns
    -------
    float or ndarray
        ``kappa(s)``; 0 at ``s = 0``.
    """
    s_arr = np.asarray(s, dtype=float)
    y = s_arr * ((tau_syn - tau_mem) / (tau_mem * tau_syn))
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        phi = np.where(y == 0.0, 1.0, np.expm1(y) / np.where(y == 0.0, 1.0, y))
        out = (s_arr / tau_mem) * phi * np.exp(-s_arr / tau_mem)
        # For tau_syn >> tau_mem and long s, expm1(y) overflows; the direct form has
        # no cancellation there because exp(-s/tau_mem) << exp(-s/tau_syn).
        big = y > 50.0
        if np.any(big):
            direct = tau_syn / (tau_mem - tau_syn) * (
                np.exp(-s_arr / tau_mem) - np.exp(-s_arr / tau_syn))
            out = np.where(big, direct, out)
    if np.ndim(out) == 0:
        return float(out)
    return out


def _kappa_scalar(s, tau_mem, tau_syn):
    # Scalar twin of ``kappa`` for the brentq callbacks (numpy scalars are slow).
    y = s * ((tau_syn - tau_mem) / (tau_mem * tau_syn))
    if y > 50.0:
        return tau_syn / (tau_mem - tau_syn) * (math.exp(-s / tau_mem) - math.exp(-s / tau_syn))
    phi = 1.0 if y == 0.0 else math.expm1(y) / y
    return (s / tau_mem) * phi * math.exp(-s / tau_mem)


class _Piece:
    """Free membrane dynamics from ``(V0, J0)`` at local time ``s = 0``."""

    __slots__ = ("V0", "J0", "b", "tm", "ts", "U0")

    def __init__(self, V0, J0, b, tm, ts):
        self.V0, self.J0, self.b, self.tm, self.ts = V0, J0, b, tm, ts
        self.U0 = V0 - b

    def V(self, s):
        if s == 0.0:
            # b + (V0 - b) need not round back to V0; the state itself is exact.
            return self.V0
        return self.b + math.exp(-s / self.tm) * self.U0 + self.J0 * _kappa_scalar(s, self.tm, self.ts)

    def dV(self, s):
        # tau_mem dU/ds = -U + J: no kernel derivative needed, and no cancellation
        # beyond the one inherent in J - U near the extremum.
        U = math.exp(-s / self.tm) * self.U0 + self.J0 * _kappa_scalar(s, self.tm, self.ts)
        return (self.J0 * math.exp(-s / self.ts) - U) / self.tm

    def V_vec(self, s):
        v = self.b + np.exp(-s / self.tm) * self.U0 + self.J0 * kappa(s, self.tm, self.ts)
        return np.where(s == 0.0, self.V0, v)

    def dV_vec(self, s):
        U = np.exp(-s / self.tm) * self.U0 + self.J0 * kappa(s, self.tm, self.ts)
        return (self.J0 * np.exp(-s / self.ts) - U) / self.tm

    def J(self, s):
        return self.J0 * math.exp(-s / self.ts)


def _brentq(f, a, b, scale):
    # xtol ~ 1e-16 of the absolute time scale, rtol at scipy's floor: the result is
    # within a few ulps of the exact root of the floating-point f.
    return brentq(f, a, b, xtol=1e-16 * max(scale, 1e-300), rtol=4 * np.finfo(float).eps,
                  maxiter=500)


def _samples(piece, L, t_abs):
    """Sample points on ``[0, L]`` with every extremum of V inserted.

    Returns the sorted local sample points; between two consecutive ones V is
    monotone (dV/dt has at most one zero, and every sign change of the sampled
    dV/dt is polished and inserted).
    """
    x = _UNIT_GRID * L
    d = piece.dV_vec(x)
    extra = []
    sign_change = np.nonzero(d[:-1] * d[1:] < 0.0)[0]
    for k in sign_change:
        extra.append(_brentq(piece.dV, x[k], x[k + 1], t_abs + L))
    if extra:
        x = np.unique(np.concatenate([x, extra]))
    return x


def _first_crossing(piece, L, theta, t_abs):
    """First local time in ``[0, L]`` with ``V >= theta``, or None.

    Parameters
    ----------
    piece : _Piece
        Free dynamics starting at local time 0 (absolute time ``t_abs``).
    L : float
        Length of the stretch (``>= 0``).
    theta : float
        Threshold.
    t_abs : float
        Absolute start time (sets brentq's absolute tolerance).
    """
    if piece.V0 >= theta:
        return 0.0
    if L <= 0.0:
        return None
    x = _samples(piece, L, t_abs)
    f = piece.V_vec(x) - theta
    above = np.nonzero(f >= 0.0)[0]
    if above.size == 0:
        return None
    k = int(above[0])
    if k == 0:
        return 0.0
    return _brentq(lambda s: piece.V(s) - theta, x[k - 1], x[k], t_abs + L)


def _maximum(piece, L, t_abs):
    """Maximum of V over the local stretch ``[0, L]``."""
    if L <= 0.0:
        return piece.V0
    x = _samples(piece, L, t_abs)
    return float(np.max(piece.V_vec(x)))


# --------------------------------------------------------------------------- network


def _check_desc(desc, inputs, t_max):
    n_in = int(desc["n_inputs"])
    neurons = list(desc["neurons"])
    N = len(neurons)
    pre = np.asarray(desc["pre"], dtype=np.int64).ravel()
    post = np.asarray(desc["post"], dtype=np.int64).ravel()
    w = np.asarray(desc["weight"], dtype=float).ravel()
    d = np.asarray(desc["delay"], dtype=float).ravel()
    if not (pre.size == post.size == w.size == d.size):
        raise ValueError("pre, post, weight and delay must have the same length")
    if pre.size and (pre.min() < 0 or pre.max() >= n_in + N):
        raise ValueError("pre out of range")
    if post.size and (post.min() < n_in or post.max() >= n_in + N):
        raise ValueError("post must be a neuron id")
    if d.size and not np.all(d >= 0.0):
        raise ValueError("delays must be >= 0")
    if len(inputs) != n_in:
        raise ValueError(f"expected {n_in} input trains, got {len(inputs)}")
    for p in neurons:
        if not (p["tau_mem"] > 0 and p["tau_syn"] > 0 and p["g_leak"] > 0):
            raise ValueError("tau_mem, tau_syn, g_leak must be > 0")
        if p.get("model", "lif") not in ("lif", "li"):
            raise ValueError(f"unknown model {p.get('model')!r}")
        if p.get("model", "lif") == "lif" and not p["v_reset"] < p["theta"]:
            raise ValueError("v_reset must be < theta")
        if not p["t_ref"] >= 0:
            raise ValueError("t_ref must be >= 0")
    if not t_max >= 0:
        raise ValueError("t_max must be >= 0")
    return n_in, neurons, pre, post, w, d


class _Neuron:
    """Lazy state of one neuron: ``(V0, J0)`` at ``t0``, held at v_reset until ``t_rel``."""

    def __init__(self, p):
        self.tm = float(p["tau_mem"])
        self.ts = float(p["tau_syn"])
        self.g = float(p["g_leak"])
        self.theta = float(p["theta"])
        self.v_reset = float(p["v_reset"])
        self.t_ref = float(p["t_ref"])
        self.b = float(p.get("bias", 0.0)) / self.g
        self.lif = p.get("model", "lif") == "lif"
        self.t0, self.V0, self.J0 = 0.0, float(p["v_init"]), 0.0
        self.t_rel = -math.inf
        self.trace = [(self.t0, self.V0, self.J0, self.t_rel)]

    def free_start(self):
        """Start of the free stretch after ``t0``, and the state there."""
        if self.t_rel > self.t0:
            if math.isinf(self.t_rel):
                return math.inf, None
            dt = self.t_rel - self.t0
            return self.t_rel, _Piece(self.v_reset, self.J0 * math.exp(-dt / self.ts), self.b, self.tm, self.ts)
        return self.t0, _Piece(self.V0, self.J0, self.b, self.tm, self.ts)

    def state_at(self, t):
        return _state_at(self.t0, self.V0, self.J0, self.t_rel, self.v_reset, self.b, self.tm, self.ts, t)

    def set_state(self, t, V, J, t_rel):
        self.t0, self.V0, self.J0, self.t_rel = t, V, J, t_rel
        self.trace.append((t, V, J, t_rel))


def _state_at(t0, V0, J0, t_rel, v_reset, b, tm, ts, t):
    # V at t >= t0 is v_reset while held (t <= t_rel), free from max(t0, t_rel) after.
    J = J0 * math.exp(-(t - t0) / ts)
    if t <= t_rel:
        return v_reset, J
    if t_rel > t0:
        start, Vs, Js = t_rel, v_reset, J0 * math.exp(-(t_rel - t0) / ts)
    else:
        start, Vs, Js = t0, V0, J0
    return _Piece(Vs, Js, b, tm, ts).V(t - start), J


def _simulate(desc, inputs, t_max, max_spikes):
    n_in, params, pre, post, w, d = _check_desc(desc, inputs, t_max)
    N = len(params)
    neurons = [_Neuron(p) for p in params]
    out_syn = [[] for _ in range(n_in + N)]
    for k in range(pre.size):
        out_syn[pre[k]].append((int(post[k]) - n_in, float(w[k]), float(d[k])))
    # Per-neuron heaps of pending arrivals (time, seq, dJ); seq keeps heap order total.
    pending = [[] for _ in range(N)]
    seq = 0
    for src in range(n_in):
        for t_s in np.asarray(inputs[src], dtype=float).ravel():
            for (j, wk, dk) in out_syn[src]:
                a = float(t_s) + dk
                if a <= t_max:
                    heapq.heappush(pending[j], (a, seq, wk / neurons[j].g))
                    seq += 1
    spikes = [[] for _ in range(N)]
    cand = [None] * N  # cached candidate crossing time (math.inf: none); None: stale
    n_spikes = 0
    while True:
        for i in range(N):
            if cand[i] is None:
                cand[i] = _candidate(neurons[i], pending[i], t_max)
        i_c = min(range(N), key=lambda i: cand[i]) if N else None
        t_c = cand[i_c] if N else math.inf
        t_a, i_a = math.inf, None
        for i in range(N):
            if pending[i] and pending[i][0][0] < t_a:
                t_a, i_a = pending[i][0][0], i
        if math.isinf(t_c) and math.isinf(t_a):
            break
        if t_c <= t_a:
            # Spike (ties with arrivals: spike first, the arrival then hits the reset state).
            nrn = neurons[i_c]
            _, J = nrn.state_at(t_c)
            nrn.set_state(t_c, nrn.v_reset, J, t_c + nrn.t_ref)
            spikes[i_c].append(t_c)
            n_spikes += 1
            if n_spikes > max_spikes:
                raise RuntimeError(f"more than max_spikes={max_spikes} spikes")
            cand[i_c] = None
            for (j, wk, dk) in out_syn[n_in + i_c]:
                a = t_c + dk
                if a <= t_max:
                    heapq.heappush(pending[j], (a, seq, wk / neurons[j].g))
                    seq += 1
                    # A cached crossing at or before the new arrival stays valid (it
                    # was found before the old horizon, and ties go to the crossing);
                    # keeping it makes simultaneous spikes independent of the order.
                    if cand[j] is not None and a < cand[j]:
                        cand[j] = None
        else:
            a, _, dJ = heapq.heappop(pending[i_a])
            nrn = neurons[i_a]
            V, J = nrn.state_at(a)
            # V is continuous through an arrival; keep the hold (t_rel) if still active.
            nrn.set_state(a, V, J + dJ, nrn.t_rel if nrn.t_rel > a else -math.inf)
            cand[i_a] = None
    return [np.asarray(s, dtype=float) for s in spikes], neurons


def _candidate(nrn, pend, t_max):
    # First crossing of the free dynamics before the next known arrival (or t_max).
    if not nrn.lif:
        return math.inf
    horizon = min(pend[0][0], t_max) if pend else t_max
    start, piece = nrn.free_start()
    if piece is None or start > horizon:
        return math.inf
    x = _first_crossing(piece, horizon - start, nrn.theta, start)
    return math.inf if x is None else start + x


def simulate_reference(desc, inputs, t_max, max_spikes=100000):
    """Spike times of every neuron of the network, by brute-force event simulation.

    Parameters
    ----------
    desc : dict
        ``n_inputs`` (int); ``neurons`` (list of dicts with ``tau_mem``,
        ``tau_syn``, ``g_leak``, ``theta``, ``v_reset``, ``t_ref``, ``bias``,
        ``v_init``, ``model`` in ``{"lif", "li"}``); ``pre``, ``post`` (global ids,
        ``post`` a neuron), ``weight``, ``delay`` (``>= 0``) arrays.
    inputs : list of array_like
        ``n_inputs`` sorted arrays of input spike times (``>= 0``; may be empty).
    t_max : float
        End of the simulation; spikes at ``t_max`` are included.
    max_spikes : int, optional
        Bail-out bound on the total number of neuron spikes.

    Returns
    -------
    list of ndarray
        For each neuron, its sorted spike times (empty for ``"li"`` and silent
        neurons).

    Raises
    ------
    RuntimeError
        When more than ``max_spikes`` spikes would be produced.
    """
    spikes, _ = _simulate(desc, inputs, t_max, max_spikes)
    return spikes


def voltage_reference(desc, inputs, t_max, neuron, times, max_spikes=100000):
    """Membrane potential of one neuron (or all) at given times, after simulating.

    Parameters
    ----------
    desc, inputs, t_max, max_spikes
        As for :func:`simulate_reference`.
    neuron : int or None
        Index into ``desc["neurons"]``; None for all neurons.
    times : array_like
        Times in ``[0, t_max]`` (arrivals after ``t_max`` are not simulated).

    Returns
    -------
    ndarray
        ``V`` at ``times`` (shape of ``times``; ``(N,) + shape`` when ``neuron`` is
        None).  Right-continuous: at a spike time ``V = v_reset``.
    """
    _, neurons = _simulate(desc, inputs, t_max, max_spikes)
    times = np.asarray(times, dtype=float)
    if neuron is None:
        return np.stack([_trace_voltage(n, times) for n in neurons])
    return _trace_voltage(neurons[int(neuron)], times)


def _trace_voltage(nrn, times):
    starts = np.array([tr[0] for tr in nrn.trace])
    out = np.empty(times.shape)
    for idx, t in np.ndenumerate(times):
        # Last state update at or before t (right-continuity: an update at t applies).
        k = int(np.searchsorted(starts, t, side="right")) - 1
        if k < 0:
            raise ValueError("times must be >= 0")
        t0, V0, J0, t_rel = nrn.trace[k]
        out[idx] = _state_at(t0, V0, J0, t_rel, nrn.v_reset, nrn.b, nrn.tm, nrn.ts, float(t))[0]
    return out


def _arrivals_at(desc, inputs, spikes, neuron):
    """Arrivals at a neuron: times, J jumps, and (pre id, source spike time, delay)."""
    n_in = int(desc["n_inputs"])
    pre = np.asarray(desc["pre"], dtype=np.int64).ravel()
    post = np.asarray(desc["post"], dtype=np.int64).ravel()
    w = np.asarray(desc["weight"], dtype=float).ravel()
    d = np.asarray(desc["delay"], dtype=float).ravel()
    g = float(desc["neurons"][neuron]["g_leak"])
    out = []
    for k in np.nonzero(post == n_in + neuron)[0]:
        src = int(pre[k])
        train = inputs[src] if src < n_in else spikes[src - n_in]
        for t_s in np.asarray(train, dtype=float).ravel():
            out.append((float(t_s) + float(d[k]), float(w[k]) / g, src, float(t_s), float(d[k])))
    out.sort(key=lambda r: r[0])
    return out


def superposition_voltage(desc, inputs, spikes, neuron, times):
    """SRM / superposition form of V for a neuron with ``t_ref == 0`` (or ``"li"``).

    ``V(t) = v_init e^{-t/tau_mem} + b (1 - e^{-t/tau_mem})
    + sum_{a <= t} (w / g_leak) kappa(t - a)
    - (theta - v_reset) sum_{t_m <= t} e^{-(t - t_m)/tau_mem}``, ``b = bias/g_leak``.
    The own-spike sum includes ``t_m = t`` so that the result is right-continuous
    like :func:`voltage_reference` (``kappa(0) = 0``, so ``a <= t`` or ``a < t`` is
    the same).

    Parameters
    ----------
    desc, inputs
        As for :func:`simulate_reference`.
    spikes : list of array_like
        Spike times of every neuron (e.g. from :func:`simulate_reference`).
    neuron : int
        Index into ``desc["neurons"]``.
    times : array_like
        Evaluation times (``>= 0``).

    Returns
    -------
    ndarray
        ``V`` at ``times``.

    Raises
    ------
    ValueError
        For a ``"lif"`` neuron with ``t_ref != 0`` (the form does not hold then).
    """
    p = desc["neurons"][neuron]
    is_lif = p.get("model", "lif") == "lif"
    if is_lif and p["t_ref"] != 0:
        raise ValueError("superposition form needs t_ref == 0")
    tm, ts, g = float(p["tau_mem"]), float(p["tau_syn"]), float(p["g_leak"])
    b = float(p.get("bias", 0.0)) / g
    t = np.asarray(times, dtype=float)
    V = p["v_init"] * np.exp(-t / tm) - b * np.expm1(-t / tm)
    for (a, dJ, _, _, _) in _arrivals_at(desc, inputs, spikes, neuron):
        s = t - a
        V = V + np.where(s > 0, dJ * kappa(np.maximum(s, 0.0), tm, ts), 0.0)
    if is_lif:
        jump = float(p["theta"]) - float(p["v_reset"])
        for t_m in np.asarray(spikes[neuron], dtype=float).ravel():
            s = t - t_m
            V = V - np.where(s >= 0, jump * np.exp(-np.maximum(s, 0.0) / tm), 0.0)
    return V


def isi_constant_drive(tau_mem, g_leak, bias, theta, v_reset, t_ref):
    """Inter-spike interval of a neuron driven by the constant current ``bias`` only.

    Returns
    -------
    float
        ``t_ref + tau_mem ln((b - v_reset) / (b - theta))`` with ``b = bias/g_leak``;
        ``inf`` when ``b <= theta``.
    """
    b = bias / g_leak
    if b <= theta:
        return math.inf
    return t_ref + tau_mem * math.log((b - v_reset) / (b - theta))


# --------------------------------------------------------------------------- margins


def crossing_margins(desc, inputs, t_max, spikes):
    """How well-conditioned a simulated example is (to ``assume()`` bad ones away).

    Each neuron is replayed on its own from the given spike trains (arrivals from
    inputs and from the other neurons' spikes, resets at its own spikes).

    Parameters
    ----------
    desc, inputs, t_max
        As for :func:`simulate_reference`.
    spikes : list of array_like
        Spike times of every neuron.

    Returns
    -------
    dict
        ``tangency``: min ``|max V - theta|`` over the free stretches between events
        (for a stretch that ends in a spike, the maximum of the un-reset V up to the
        next arrival or ``t_max``: a grazing crossing gives a small value);
        ``slope``: min ``tau_mem dV/dt`` at the spikes (a voltage);
        ``arrival``: min distance between a spike and an arrival at the same neuron
        (not counting arrivals that the spike itself causes through a zero-delay
        autapse); ``t_max``: min distance of any spike to ``t_max``;
        ``min``: the smallest of these.  ``inf`` when there is nothing to measure.
    """
    n_in = int(desc["n_inputs"])
    tang = slope = arr = tmx = math.inf
    for i, p in enumerate(desc["neurons"]):
        nrn = _Neuron(p)
        if not nrn.lif:
            # "li" neurons have no threshold: their distance to theta means nothing.
            continue
        own = [float(t) for t in np.asarray(spikes[i], dtype=float).ravel()]
        arrivals = _arrivals_at(desc, inputs, spikes, i)
        arrivals = [r for r in arrivals if r[0] <= t_max]
        arr_times = np.array([r[0] for r in arrivals])
        for t_k in own:
            tmx = min(tmx, abs(t_max - t_k))
            for (a, _, src, t_s, dly) in arrivals:
                if src == n_in + i and t_s == t_k and dly == 0.0:
                    continue
                arr = min(arr, abs(a - t_k))
        # Events in time order, spikes before arrivals at equal times (as simulated).
        events = sorted([(t, 0, 0.0) for t in own] + [(r[0], 1, r[1]) for r in arrivals],
                        key=lambda e: (e[0], e[1]))
        events.append((t_max, 2, 0.0))
        for (te, kind, dJ) in events:
            start, piece = nrn.free_start()
            if piece is not None and start < te:
                if kind == 0:
                    later = arr_times[arr_times > te]
                    e_ext = min(float(later[0]) if later.size else t_max, t_max)
                    e_ext = max(e_ext, te)
                    tang = min(tang, abs(_maximum(piece, e_ext - start, start) - nrn.theta))
                    slope = min(slope, nrn.tm * piece.dV(te - start))
                else:
                    tang = min(tang, abs(_maximum(piece, te - start, start) - nrn.theta))
            if kind == 0:
                _, J = nrn.state_at(te)
                nrn.set_state(te, nrn.v_reset, J, te + nrn.t_ref)
            elif kind == 1:
                V, J = nrn.state_at(te)
                nrn.set_state(te, V, J + dJ, nrn.t_rel if nrn.t_rel > te else -math.inf)
    out = dict(tangency=tang, slope=slope, arrival=arr, t_max=tmx)
    out["min"] = min(out.values())
    return out


# --------------------------------------------------------------------------- strategy

try:  # the strategy is optional: the reference itself needs only numpy and scipy
    from hypothesis import strategies as _st
except ImportError:  # pragma: no cover
    _st = None

TAU_RATIOS = (0.3, 1.0, 1.0 + 1e-9, 2.0, 10.0)


def _kernel_peak(tau_mem, tau_syn):
    # Peak of kappa, by dense sampling (only used to scale weights; no precision needed).
    s = np.linspace(0.0, 10.0 * max(tau_mem, tau_syn), 4001)
    return float(np.max(kappa(s, tau_mem, tau_syn)))


if _st is not None:

    @_st.composite
    def spiketrain_networks(draw, n_inputs_range=(1, 5), n_range=(2, 12), max_neurons=None,
                            t_refs=(0.0, 0.5), tau_ratios=TAU_RATIOS, delays=None,
                            t_max_range=(5.0, 20.0), li_fraction=0.15, weight_scale=1.0):
        """Random recurrent networks with inputs: ``(desc, inputs, t_max)``.

        Scalars that shape the network (sizes, time-constant ratio, refractory
        time, delay mode, connection probability, weight scale) are drawn by
        hypothesis; the bulk arrays (up to 50 x 55 synapses) come from a numpy
        Generator seeded by a drawn integer, because drawing each of them through
        hypothesis would be slow and shrink poorly.  Weights are normalised by each
        neuron's kernel peak so that an input spike moves V by roughly
        ``0.3 .. 1.2 theta`` whatever the time constants; recurrence is weaker and
        mixed in sign.  Networks may still run away: simulate with a small
        ``max_spikes`` and ``assume()`` the RuntimeError away.

        Parameters
        ----------
        n_inputs_range, n_range : (int, int)
            Inclusive ranges of input channels and neurons (neurons 2..50).
        max_neurons : int, optional
            Overrides the upper end of ``n_range``.
        t_refs : sequence of float
            Refractory times to draw from (per network).
        tau_ratios : sequence of float
            ``tau_mem / tau_syn`` values to draw from (per neuron).
        delays : {None, "zero", "random"}
            All zero, uniform in ``[0, 1]``, or drawn (None).
        t_max_range : (float, float)
            Range of ``t_max``.
        li_fraction : float
            Probability that a neuron is ``"li"`` (never spikes).
        weight_scale : float
            Multiplies all weights.
        """
        hi = n_range[1] if max_neurons is None else max_neurons
        N = draw(_st.integers(max(1, n_range[0]), max(n_range[0], min(hi, 50))))
        n_in = draw(_st.integers(*n_inputs_range))
        t_ref = draw(_st.sampled_from(list(t_refs)))
        delay_mode = delays if delays is not None else draw(_st.sampled_from(["zero", "random"]))
        t_max = draw(_st.floats(*t_max_range, allow_nan=False))
        p_conn = draw(_st.floats(0.1, 0.4))
        rec_gain = draw(_st.floats(0.0, 1.0))
        use_bias = draw(_st.booleans())
        seed = draw(_st.integers(0, 2**32 - 1))
        rng = np.random.default_rng(seed)
        neurons = []
        scale = np.empty(N)
        for i in range(N):
            ratio = draw(_st.sampled_from(list(tau_ratios)))
            tau_mem = float(rng.uniform(1.0, 5.0))
            tau_syn = tau_mem / ratio
            g = float(rng.uniform(0.5, 2.0))
            theta = float(rng.uniform(0.5, 1.5))
            v_reset = float(rng.uniform(-0.5, 0.5))
            while v_reset == 0.0 or v_reset >= theta:
                v_reset = float(rng.uniform(-0.5, 0.5))
            bias = 0.0
            if use_bias and rng.random() < 0.5:
                # b = bias / g in [-0.5, 1.3] theta: some neurons fire tonically.
                bias = float(rng.uniform(-0.5, 1.3)) * theta * g
            v_init = float(rng.uniform(-0.5, 0.9)) * theta
            model = "li" if rng.random() < li_fraction else "lif"
            neurons.append(dict(tau_mem=tau_mem, tau_syn=tau_syn, g_leak=g, theta=theta,
                                v_reset=v_reset, t_ref=float(t_ref), bias=bias,
                                v_init=v_init, model=model))
            scale[i] = g * theta / _kernel_peak(tau_mem, tau_syn)
        pre, post, weight = [], [], []
        for j in range(N):
            for src in range(n_in + N):
                is_input = src < n_in
                if rng.random() < (max(p_conn, 0.5) if is_input else p_conn):
                    pre.append(src)
                    post.append(n_in + j)
                    if is_input:
                        weight.append(scale[j] * rng.uniform(0.3, 1.2))
                    else:
                        # Mixed signs, about 60 % excitatory, fan-in normalised.
                        mag = scale[j] * rec_gain * rng.uniform(0.2, 1.0) / math.sqrt(p_conn * N + 1)
                        weight.append(mag if rng.random() < 0.6 else -1.5 * mag)
        pre = np.asarray(pre, dtype=np.int64)
        post = np.asarray(post, dtype=np.int64)
        weight = np.asarray(weight, dtype=float) * weight_scale
        if delay_mode == "zero":
            delay = np.zeros(pre.size)
        else:
            delay = rng.uniform(0.0, 1.0, pre.size)
        inputs = []
        for _ in range(n_in):
            k = int(rng.integers(0, 5))
            inputs.append(np.sort(rng.uniform(0.0, t_max, k)))
        desc = dict(n_inputs=n_in, neurons=neurons, pre=pre, post=post, weight=weight, delay=delay)
        return desc, inputs, float(t_max)

    #: Alias under the name used in the brief.
    random_desc = spiketrain_networks
