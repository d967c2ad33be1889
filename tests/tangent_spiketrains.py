"""Exact event-driven LIF simulator with forward-mode tangents (tests only).

An independent reference for eventsim's EventProp gradients.  It does not import
eventsim: everything is plain numpy plus :func:`scipy.optimize.brentq`.

Model
-----
Global ids ``0 .. n_inputs-1`` are input channels, ``n_inputs .. n_inputs+N-1``
are neurons (neuron index ``i = id - n_inputs``).  For ``t >= 0``, from
``V(0) = v_init`` and ``I(0) = 0``::

    tau_mem dV/dt = -V + (I + bias) / g_leak,      tau_syn dI/dt = -I

A synapse ``(pre, post, w, d)`` makes ``I_post`` jump by ``w`` at ``t_s + d`` for
every spike ``t_s`` of ``pre``.  A ``"lif"`` neuron spikes when V reaches
``theta`` from below; then ``V := v_reset``, clamped on ``[t_k, t_k + t_ref]``
while I keeps decaying (and jumping).  An ``"li"`` neuron never spikes (readout).
Spikes after ``t_max`` are not produced.

Between events (``s = t - t0``, ``J = I/g_leak``, ``U = V - bias/g_leak``)::

    J(s) = J0 e^{-s/tau_syn},    U(s) = e^{-s/tau_mem} U0 + J0 kappa(s),
    kappa(s) = M0(s) / tau_mem,  M_n(s) = int_0^s u^n e^{-(s-u)/tau_mem - u/tau_syn} du

so ``kappa(s) = (s/tau_mem) phi(s c) e^{-s/tau_mem}`` with ``c = 1/tau_mem -
1/tau_syn`` and ``phi(x) = expm1(x)/x``; ``M1`` gives the time-constant
derivatives (see :func:`kernel_moments`).  ``V - theta`` has at most one extremum
between events, so the first crossing in an event-free window is bracketed and
solved with brentq to full precision.

Tangents
--------
Forward mode, for a list of parameters at once (a tangent is an array with one
entry per parameter).  Every neuron stores its state at its last event ``t0``
together with the *total* derivatives ``(dt0, dV0, dI0)`` of the event time and of
the state there.  This is the chain rule applied to the composition "flow, jump,
flow, ...", with the implicit-function theorem at each threshold crossing; it
equals the saltation form of tangent dynamics (the fixed-time tangent is
``delta x = dx_total - f dt_e``, so ``delta x+ = g_x delta x- + g_p + (g_x f- -
f+) dt_e``).  Rules, with ``Vdot`` the free-flow slope:

* flow to ``t`` (moving with ``dt``): ``dV = E_m dV0 + (kappa/g) dI0 + Vdot (dt -
  dt0) + dV/dp|_flow`` and ``dI = E_s dI0 + Idot (dt - dt0) + dI/dp|_flow``,
  ``E_m = e^{-s/tau_mem}``, ``E_s = e^{-s/tau_syn}``; ``dV/dp|_flow`` is the
  partial of the analytic flow w.r.t. ``bias``, ``tau_mem``, ``tau_syn`` of the
  neuron (:func:`flow_partials`).  While clamped, ``V = v_reset`` and ``dV =
  d v_reset``.
* arrival of synapse k (time ``a = t_s + d_k``): ``da = dt_s + d d_k``; flow to
  ``a`` then ``I += w_k``, ``dI += d w_k``.  An input spike has ``dt_s = 1`` for
  its own parameter ``("input", c, j)``.
* crossing: ``V(t_k) = theta`` gives ``dt_k = (d theta - dV|_{t fixed}) / Vdot(t_k-)``.
  Then ``V0 = v_reset`` (``dV0 = d v_reset``), ``I`` continuous (total derivative
  at ``t_k``), ``dt0 = dt_k``.
* release at ``T = t_k + t_ref``: ``dT = dt_k`` (the release moves with the
  spike); V leaves the clamp from ``v_reset`` (total ``dV = d v_reset``).  In
  fixed-time form this is C.2's ``delta V = -((I(T)+bias)/g - V_r)/tau_mem dt_k``.
* LI readout: ``V(t)`` at a fixed ``t`` gets the fixed-time tangent; ``max_t V``
  gets (envelope theorem) the tangent at the maximiser: fixed-time at an interior
  stationary point or at ``t_max``, total (moving with the event) when the
  maximum sits on an event kink.
"""

from __future__ import annotations

import bisect
import copy
import heapq
import math

import numpy as np
from scipy.optimize import brentq

NEURON_PARAMS = ("bias", "theta", "v_reset", "tau_mem", "tau_syn")

__all__ = [
    "kernel_moments",
    "free_flow",
    "flow_partials",
    "simulate",
    "simulate_tangent",
    "simulate_tangents",
    "readout_tangent",
    "readout_tangents",
    "readout_values",
    "all_params",
    "perturb",
    "finite_difference",
    "spike_time_sum",
    "spike_time_sum_gradient",
    "loss_gradient_fd",
]


# ---------------------------------------------------------------------------------------------
# The analytic free flow and its partial derivatives
# ---------------------------------------------------------------------------------------------

def kernel_moments(s, tau_mem, tau_syn):
    """Moments ``M0, M1`` of the synaptic kernel over ``[0, s]``.

    ``M_n(s) = int_0^s u^n exp(-(s - u)/tau_mem - u/tau_syn) du``, so that
    ``kappa = M0 / tau_mem``, ``d kappa/d tau_syn = M1 / (tau_mem tau_syn^2)`` and
    ``d kappa/d tau_mem = -kappa/tau_mem + (s M0 - M1)/tau_mem^3``.

    Parameters
    ----------
    s : float
        Time since the last event, ``>= 0``.
    tau_mem, tau_syn : float
        Time constants (any ratio, equal allowed).

    Returns
    -------
    (float, float)
        ``M0, M1``.

    Notes
    -----
    With ``x = s (1/tau_mem - 1/tau_syn)``: ``M0 = s E_m phi(x)`` and
    ``M1 = s^2 E_m psi(x)``, ``psi(x) = int_0^1 v e^{xv} dv``.  For ``|x| < 0.5``
    ``phi`` uses expm1 and ``psi`` its Taylor series (no cancellation, exact for
    equal time constants); otherwise the two-exponential forms are used, which
    multiply ``E_m e^x = E_s`` before anything can overflow.
    """
    if s <= 0.0:
        return 0.0, 0.0
    c = 1.0 / tau_mem - 1.0 / tau_syn
    x = s * c
    e_m = math.exp(-s / tau_mem)
    if abs(x) < 0.5:
        phi = math.expm1(x) / x if x != 0.0 else 1.0
        # psi(x) = sum_n (n+1) x^n / (n+2)!; 25 terms are far below 1 ulp for |x| < 0.5
        psi, term = 0.0, 0.5
        for n in range(25):
            psi += term
            term *= x * (n + 2) / ((n + 1) * (n + 3))
        return s * e_m * phi, s * s * e_m * psi
    e_s = math.exp(-s / tau_syn)
    m0 = (e_s - e_m) / c
    m1 = s * s * (e_s * (x - 1.0) + e_m) / (x * x)
    return m0, m1


def free_flow(v0, i0, s, nrn):
    """Free (unclamped) flow of one neuron over a time ``s >= 0``.

    Parameters
    ----------
    v0, i0 : float
        State at the start.
    s : float
        Elapsed time.
    nrn : dict
        Neuron parameters (``tau_mem``, ``tau_syn``, ``g_leak``, ``bias``).

    Returns
    -------
    (V, I, Vdot, Idot) : tuple of float
    """
    tm, ts, g = nrn["tau_mem"], nrn["tau_syn"], nrn["g_leak"]
    v_inf = nrn["bias"] / g
    m0, _ = kernel_moments(s, tm, ts)
    e_m = math.exp(-s / tm)
    i = i0 * math.exp(-s / ts)
    v = v_inf + e_m * (v0 - v_inf) + (i0 / g) * (m0 / tm)
    return v, i, (-(v - v_inf) + i / g) / tm, -i / ts


def flow_partials(v0, i0, s, nrn):
    """Partial derivatives of the free flow at fixed ``s``.

    Returns
    -------
    dict
        ``V_v0, V_i0, V_bias, V_tau_mem, V_tau_syn, I_i0, I_tau_syn`` (the other
        partials are 0), plus ``Vdot, Idot`` (the partials w.r.t. ``s``).

    Notes
    -----
    From ``V = b/g + E_m (V0 - b/g) + (I0/g) kappa``: ``dV/dbias = (1 - E_m)/g``,
    ``dV/dtau_mem = (s/tau_mem^2) E_m (V0 - b/g) + (I0/g) dkappa/dtau_mem``,
    ``dV/dtau_syn = (I0/g) dkappa/dtau_syn`` (kernel derivatives in
    :func:`kernel_moments`); from ``I = I0 E_s``: ``dI/dtau_syn = I s/tau_syn^2``.
    """
    tm, ts, g = nrn["tau_mem"], nrn["tau_syn"], nrn["g_leak"]
    v_inf = nrn["bias"] / g
    m0, m1 = kernel_moments(s, tm, ts)
    kappa = m0 / tm
    e_m = math.exp(-s / tm)
    e_s = math.exp(-s / ts)
    i = i0 * e_s
    v = v_inf + e_m * (v0 - v_inf) + (i0 / g) * kappa
    dk_dtm = -kappa / tm + (s * m0 - m1) / tm**3
    dk_dts = m1 / (tm * ts * ts)
    return dict(
        V=v, I=i,
        V_v0=e_m, V_i0=kappa / g, V_bias=(1.0 - e_m) / g,
        V_tau_mem=(s / tm**2) * e_m * (v0 - v_inf) + (i0 / g) * dk_dtm,
        V_tau_syn=(i0 / g) * dk_dts,
        I_i0=e_s, I_tau_syn=i * s / ts**2,
        Vdot=(-(v - v_inf) + i / g) / tm, Idot=-i / ts,
    )


# ---------------------------------------------------------------------------------------------
# Crossing search
# ---------------------------------------------------------------------------------------------

def _brentq(f, a, b):
    # rtol at its minimum (4 eps) and a negligible xtol: "full precision"
    return brentq(f, a, b, xtol=1e-300, rtol=4 * np.finfo(float).eps, maxiter=500)


def first_crossing(v0, i0, nrn, s_lo, s_hi, margins=None):
    """First upward crossing of ``theta`` by the free flow in ``[s_lo, s_hi]``.

    Parameters
    ----------
    v0, i0 : float
        State at ``s = 0``.
    nrn : dict
        Neuron parameters.
    s_lo, s_hi : float
        Window (no event inside it changes the flow).
    margins : dict, optional
        If given, ``margins["peak_gap"]`` is lowered to ``theta - max V`` for an
        interior maximum that stays below threshold (a near-miss: FD unreliable).

    Returns
    -------
    float or None
        ``s`` of the crossing, or None.

    Notes
    -----
    ``V - theta`` has at most one extremum on the window.  If ``V(s_hi) >=
    theta > V(s_lo)`` the root is unique (rise; rise-fall ending above; fall-rise)
    and brentq on the whole window finds it.  Otherwise a crossing needs an
    interior maximum above theta; then the first root is in ``[s_lo, s*]``, where
    V increases.
    """
    if s_hi <= s_lo:
        return None
    theta = nrn["theta"]

    def f(s):
        return free_flow(v0, i0, s, nrn)[0] - theta

    def fdot(s):
        return free_flow(v0, i0, s, nrn)[2]

    f_lo = f(s_lo)
    if f_lo >= 0.0:
        # Only reachable by rounding when a crossing sat exactly on the previous
        # window's end: it is a crossing at s_lo if V is rising.
        return s_lo if fdot(s_lo) > 0.0 else None
    if f(s_hi) >= 0.0:
        return _brentq(f, s_lo, s_hi)
    if fdot(s_lo) <= 0.0 or fdot(s_hi) >= 0.0:
        return None
    s_star = _brentq(fdot, s_lo, s_hi)
    f_star = f(s_star)
    if f_star >= 0.0:
        return _brentq(f, s_lo, s_star)
    if margins is not None:
        margins["peak_gap"] = min(margins["peak_gap"], -f_star)
    return None


# ---------------------------------------------------------------------------------------------
# The simulator with tangents
# ---------------------------------------------------------------------------------------------

class _Seeds:
    """Indicator tangents ``d(parameter)/d(params[p])`` for every parameter."""

    def __init__(self, desc, inputs, params):
        n_syn = len(desc["pre"])
        n = len(desc["neurons"])
        p = len(params)
        self.p = p
        self.weight = np.zeros((n_syn, p))
        self.delay = np.zeros((n_syn, p))
        self.input = {}
        self.neuron = {name: np.zeros((n, p)) for name in NEURON_PARAMS}
        for col, par in enumerate(params):
            kind = par[0]
            if kind == "weight":
                self.weight[par[1], col] = 1.0
            elif kind == "delay":
                self.delay[par[1], col] = 1.0
            elif kind == "input":
                key = (int(par[1]), int(par[2]))
                if not (0 <= key[0] < len(inputs) and 0 <= key[1] < len(inputs[key[0]])):
                    raise ValueError(f"no input spike {key}")
                self.input.setdefault(key, np.zeros(p))[col] = 1.0
            elif kind in NEURON_PARAMS:
                self.neuron[kind][par[1], col] = 1.0
            else:
                raise ValueError(f"unknown parameter {par!r}")
        self.zero = np.zeros(p)

    def input_spike(self, c, j):
        return self.input.get((c, j), self.zero)


class _Snapshot:
    """State of one neuron right after an event, with total derivatives."""

    __slots__ = ("t0", "dt0", "v0", "dv0", "i0", "di0", "clamped")

    def __init__(self, t0, dt0, v0, dv0, i0, di0, clamped):
        self.t0, self.dt0, self.v0, self.dv0 = t0, dt0, v0, dv0
        self.i0, self.di0, self.clamped = i0, di0, clamped


def _check_desc(desc, inputs):
    n_in = int(desc["n_inputs"])
    if len(inputs) != n_in:
        raise ValueError("inputs must have one array per input channel")
    n = len(desc["neurons"])
    for key in ("pre", "post", "weight", "delay"):
        if len(desc[key]) != len(desc["pre"]):
            raise ValueError(f"{key} has the wrong length")
    for pre, post, d in zip(desc["pre"], desc["post"], desc["delay"]):
        if not (0 <= pre < n_in + n) or not (n_in <= post < n_in + n):
            raise ValueError(f"bad synapse {pre} -> {post}")
        if d < 0:
            raise ValueError("delays must be >= 0")
    for nrn in desc["neurons"]:
        if nrn.get("model", "lif") == "lif":
            if not nrn["v_reset"] < nrn["theta"]:
                raise ValueError("v_reset must be below theta")
            if not nrn["v_init"] < nrn["theta"]:
                raise ValueError("v_init must be below theta")


def _eval(snap, t, dt, nrn, seeds, i):
    """Value and total derivative of ``(V, I)`` at time ``t`` moving with ``dt``.

    ``dt = 0`` gives the fixed-time tangent.  Returns ``(V, dV, I, dI, Vdot)``.
    """
    s = t - snap.t0
    ds = dt - snap.dt0
    fp = flow_partials(snap.v0, snap.i0, s, nrn)
    d_ts = seeds.neuron["tau_syn"][i]
    i_val = fp["I"]
    di = fp["I_i0"] * snap.di0 + fp["Idot"] * ds + fp["I_tau_syn"] * d_ts
    if snap.clamped:
        return nrn["v_reset"], seeds.neuron["v_reset"][i].copy(), i_val, di, 0.0
    dv = (fp["V_v0"] * snap.dv0 + fp["V_i0"] * snap.di0 + fp["Vdot"] * ds
          + fp["V_bias"] * seeds.neuron["bias"][i]
          + fp["V_tau_mem"] * seeds.neuron["tau_mem"][i]
          + fp["V_tau_syn"] * d_ts)
    return fp["V"], dv, i_val, di, fp["Vdot"]


def simulate_tangents(desc, inputs, t_max, params, *, max_spikes=20000, return_info=False):
    """Exact simulation with tangents w.r.t. several parameters at once.

    Parameters
    ----------
    desc : dict
        ``n_inputs``, ``neurons`` (list of dicts: ``tau_mem, tau_syn, g_leak,
        theta, v_reset, t_ref, bias, v_init, model``), ``pre``, ``post`` (global
        ids), ``weight``, ``delay``.
    inputs : list of array_like
        Sorted spike times of each input channel.
    t_max : float
        End of the simulation.
    params : list of tuple
        ``("weight", k)``, ``("delay", k)``, ``("input", c, j)`` or ``(name, i)``
        with ``name`` in ``bias, theta, v_reset, tau_mem, tau_syn`` and ``i`` a
        neuron index.
    max_spikes : int
        Guard against runaway networks (RuntimeError).
    return_info : bool
        Also return diagnostics (see Returns).

    Returns
    -------
    spikes : list of ndarray
        Spike times of each neuron (sorted).
    dspikes : list of ndarray
        ``dspikes[i][k, p] = d spikes[i][k] / d params[p]``.
    info : dict, only if ``return_info``
        ``history`` (per neuron, list of :class:`_Snapshot`), ``min_slope``
        (smallest ``tau_mem * Vdot`` at a crossing), ``peak_gap`` (smallest
        ``theta - max V`` of a sub-threshold interior maximum), ``event_gap``
        (smallest distance between a spike or release of a neuron and an arrival
        at it: order changes there), ``arrivals`` (per neuron, arrival times).
    """
    _check_desc(desc, inputs)
    n_in = int(desc["n_inputs"])
    neurons = desc["neurons"]
    n = len(neurons)
    pre = np.asarray(desc["pre"], dtype=int)
    post = np.asarray(desc["post"], dtype=int)
    weight = np.asarray(desc["weight"], dtype=float)
    delay = np.asarray(desc["delay"], dtype=float)
    seeds = _Seeds(desc, inputs, params)
    zero = seeds.zero
    out_syn = [np.flatnonzero(pre == gid) for gid in range(n_in + n)]

    state = [_Snapshot(0.0, zero.copy(), float(nrn["v_init"]), zero.copy(), 0.0, zero.copy(), False)
             for nrn in neurons]
    history = [[s] for s in state]
    release = [None] * n              # (T, dT) while clamped with a finite t_ref
    spikes = [[] for _ in range(n)]
    dspikes = [[] for _ in range(n)]
    arrivals_at = [[] for _ in range(n)]   # (time, source spike id, synapse): diagnostics
    releases_of = [[] for _ in range(n)]
    margins = dict(peak_gap=math.inf, min_slope=math.inf)

    heap, counter = [], 0

    def push_arrivals(gid, t_s, dt_s, spike_id):
        # every outgoing synapse of gid delivers at t_s + d; arrivals after t_max do nothing
        nonlocal counter
        for k in out_syn[gid]:
            a = t_s + delay[k]
            if a <= t_max:
                heapq.heappush(heap, (a, counter, int(k), dt_s + seeds.delay[k], spike_id))
                counter += 1

    for c in range(n_in):
        for j, t_s in enumerate(np.asarray(inputs[c], dtype=float)):
            push_arrivals(c, float(t_s), seeds.input_spike(c, j), ("input", c, j))

    def set_state(i, snap):
        state[i] = snap
        history[i].append(snap)

    t_now = 0.0
    n_spikes = 0
    while True:
        t_arr = heap[0][0] if heap else math.inf
        t_rel = min((r[0] for r in release if r is not None), default=math.inf)
        t_next = min(t_arr, t_rel, t_max)
        # earliest threshold crossing before the next external event
        best = None
        for i, nrn in enumerate(neurons):
            snap = state[i]
            if nrn.get("model", "lif") != "lif" or snap.clamped:
                continue
            s = first_crossing(snap.v0, snap.i0, nrn, t_now - snap.t0, t_next - snap.t0, margins)
            if s is not None and (best is None or snap.t0 + s < best[1]):
                best = (i, snap.t0 + s)
        if best is not None:
            i, t_k = best
            nrn = neurons[i]
            snap = state[i]
            # implicit function theorem on V(t_k) = theta
            _, dv_fixed, _, _, vdot = _eval(snap, t_k, zero, nrn, seeds, i)
            dt_k = (seeds.neuron["theta"][i] - dv_fixed) / vdot
            margins["min_slope"] = min(margins["min_slope"], nrn["tau_mem"] * vdot)
            _, _, i_k, di_k, _ = _eval(snap, t_k, dt_k, nrn, seeds, i)
            clamp = nrn["t_ref"] > 0
            set_state(i, _Snapshot(t_k, dt_k, nrn["v_reset"], seeds.neuron["v_reset"][i].copy(),
                                   i_k, di_k, clamp))
            if clamp and math.isfinite(nrn["t_ref"]):
                release[i] = (t_k + nrn["t_ref"], dt_k)   # the release moves with the spike
            spike_id = ("spike", i, len(spikes[i]))
            spikes[i].append(t_k)
            dspikes[i].append(dt_k)
            n_spikes += 1
            if n_spikes > max_spikes:
                raise RuntimeError("too many spikes")
            push_arrivals(n_in + i, t_k, dt_k, spike_id)
            t_now = t_k
            continue
        if t_next >= t_max and not (t_arr <= t_max or t_rel <= t_max):
            break
        if t_rel <= t_arr:
            i = next(j for j, r in enumerate(release) if r is not None and r[0] == t_rel)
            t_r, dt_r = release[i]
            release[i] = None
            _, _, i_r, di_r, _ = _eval(state[i], t_r, dt_r, neurons[i], seeds, i)
            set_state(i, _Snapshot(t_r, dt_r, neurons[i]["v_reset"],
                                   seeds.neuron["v_reset"][i].copy(), i_r, di_r, False))
            releases_of[i].append((t_r, spikes[i][-1] if spikes[i] else None))
            t_now = t_r
            continue
        a, _, k, da, spike_id = heapq.heappop(heap)
        i = int(post[k]) - n_in
        v_a, dv_a, i_a, di_a, _ = _eval(state[i], a, da, neurons[i], seeds, i)
        set_state(i, _Snapshot(a, da, v_a, dv_a, i_a + weight[k], di_a + seeds.weight[k],
                               state[i].clamped))
        arrivals_at[i].append((a, spike_id, k))
        t_now = a

    spikes_out = [np.asarray(s, dtype=float) for s in spikes]
    dspikes_out = [np.asarray(d, dtype=float).reshape(len(d), seeds.p) for d in dspikes]
    if not return_info:
        return spikes_out, dspikes_out
    # order-change hazards: an arrival at neuron i near one of i's spikes or releases
    gap = math.inf
    for i in range(n):
        own = [(t, ("spike", i, k)) for k, t in enumerate(spikes[i])]
        own += [(t, None) for t, _ in releases_of[i]]
        for t_e, sid in own:
            for a, src, k in arrivals_at[i]:
                if src == sid and delay[k] == 0.0:
                    continue   # a delay-0 autapse lands with its own spike: a fixed order
                gap = min(gap, abs(a - t_e))
    info = dict(history=history, min_slope=margins["min_slope"], peak_gap=margins["peak_gap"],
                event_gap=gap, arrivals=[np.array([a for a, _, _ in arr]) for arr in arrivals_at])
    return spikes_out, dspikes_out, info


def simulate_tangent(desc, inputs, t_max, param):
    """Spike times and their derivatives w.r.t. one parameter.

    Parameters
    ----------
    desc, inputs, t_max
        See :func:`simulate_tangents`.
    param : tuple
        One parameter, e.g. ``("weight", 3)``, ``("input", 0, 2)``, ``("tau_mem", 1)``.

    Returns
    -------
    spikes, dspikes : list of ndarray
        Spike times per neuron and ``d(spike time)/d(param)``.
    """
    spikes, dspikes = simulate_tangents(desc, inputs, t_max, [param])
    return spikes, [d[:, 0] for d in dspikes]


def simulate(desc, inputs, t_max, **kw):
    """Spike times only (a tangent run with no parameters)."""
    return simulate_tangents(desc, inputs, t_max, [], **kw)[0]


# ---------------------------------------------------------------------------------------------
# Readout
# ---------------------------------------------------------------------------------------------

def _readout_from_history(hist, nrn, seeds, i, t_max, times):
    """Voltages at fixed times and the maximum over ``[0, t_max]`` with tangents."""
    starts = [h.t0 for h in hist]
    v_out, dv_out = [], []
    for t in np.asarray(times, dtype=float):
        j = bisect.bisect_right(starts, t) - 1   # the state after every event at <= t
        v, dv, _, _, _ = _eval(hist[j], t, seeds.zero, nrn, seeds, i)
        v_out.append(v)
        dv_out.append(dv)
    # maximum: candidates are segment starts and ends (event kinks, moving with the event:
    # total derivative), interior stationary maxima and t_max (fixed time: envelope theorem)
    best_v, best_dv = -math.inf, None
    for j, h in enumerate(hist):
        if h.t0 > t_max:
            break
        if j + 1 < len(hist) and hist[j + 1].t0 <= t_max:
            t_end, dt_end = hist[j + 1].t0, hist[j + 1].dt0
        else:
            t_end, dt_end = t_max, seeds.zero
        if h.clamped:
            cands = [(nrn["v_reset"], seeds.neuron["v_reset"][i])]
        else:
            v_end, dv_end, _, _, _ = _eval(h, t_end, dt_end, nrn, seeds, i)
            cands = [(h.v0, h.dv0), (v_end, dv_end)]
            s_end = t_end - h.t0
            vd0 = free_flow(h.v0, h.i0, 0.0, nrn)[2]
            vd1 = free_flow(h.v0, h.i0, s_end, nrn)[2]
            if s_end > 0 and vd0 > 0 and vd1 < 0:
                s_star = _brentq(lambda s: free_flow(h.v0, h.i0, s, nrn)[2], 0.0, s_end)
                v_s, dv_s, _, _, _ = _eval(h, h.t0 + s_star, seeds.zero, nrn, seeds, i)
                cands.append((v_s, dv_s))
        for v, dv in cands:
            if v > best_v:
                best_v, best_dv = v, dv
    return np.array(v_out), np.array(dv_out).reshape(len(v_out), seeds.p), best_v, best_dv


def readout_tangents(desc, inputs, t_max, params, neuron, times):
    """Readout voltages with tangents w.r.t. several parameters.

    Returns
    -------
    V : ndarray, shape (len(times),)
    dV : ndarray, shape (len(times), len(params))
    Vmax : float
        ``max_{0 <= t <= t_max} V_neuron(t)``.
    dVmax : ndarray, shape (len(params),)
    """
    params = list(params)
    _, _, info = simulate_tangents(desc, inputs, t_max, params, return_info=True)
    seeds = _Seeds(desc, inputs, params)
    return _readout_from_history(info["history"][neuron], desc["neurons"][neuron], seeds,
                                 neuron, t_max, times)


def readout_values(desc, inputs, t_max, neuron, times, **kw):
    """Readout voltages, their maximum and all spike trains, from one run (for FD).

    Returns
    -------
    V : ndarray
    Vmax : float
    spikes : list of ndarray
    """
    spikes, _, info = simulate_tangents(desc, inputs, t_max, [], return_info=True, **kw)
    seeds = _Seeds(desc, inputs, [])
    v, _, vmax, _ = _readout_from_history(info["history"][neuron], desc["neurons"][neuron],
                                          seeds, neuron, t_max, times)
    return v, vmax, spikes


def readout_tangent(desc, inputs, t_max, param, neuron, times):
    """Voltage of one neuron (usually ``model="li"``) at fixed times and its maximum.

    Parameters
    ----------
    desc, inputs, t_max, param
        See :func:`simulate_tangent`.
    neuron : int
        Neuron index (``global id - n_inputs``).
    times : array_like
        Fixed times in ``[0, t_max]``.

    Returns
    -------
    V, dV : ndarray
        ``V(times)`` and ``dV/dparam`` at fixed times.
    Vmax, dVmax : float
        ``max_t V`` over ``[0, t_max]`` and its derivative (envelope theorem).
    """
    v, dv, vmax, dvmax = readout_tangents(desc, inputs, t_max, [param], neuron, times)
    return v, dv[:, 0], vmax, float(dvmax[0])


# ---------------------------------------------------------------------------------------------
# Helpers for tests: parameters, perturbation, finite differences, a loss
# ---------------------------------------------------------------------------------------------

def all_params(desc, inputs):
    """Every parameter the tangent supports, for a network and its inputs."""
    out = [("weight", k) for k in range(len(desc["pre"]))]
    out += [("delay", k) for k in range(len(desc["pre"]))]
    out += [("input", c, j) for c in range(len(inputs)) for j in range(len(inputs[c]))]
    out += [(name, i) for name in NEURON_PARAMS for i in range(len(desc["neurons"]))]
    return out


def get_param(desc, inputs, param):
    """Current value of a parameter."""
    kind = param[0]
    if kind in ("weight", "delay"):
        return float(desc[kind][param[1]])
    if kind == "input":
        return float(inputs[param[1]][param[2]])
    return float(desc["neurons"][param[1]][kind])


def perturb(desc, inputs, param, delta):
    """Copies of ``desc`` and ``inputs`` with ``param`` increased by ``delta``."""
    desc = copy.deepcopy(desc)
    inputs = [np.array(x, dtype=float) for x in inputs]
    kind = param[0]
    if kind in ("weight", "delay"):
        arr = np.array(desc[kind], dtype=float)
        arr[param[1]] += delta
        desc[kind] = arr
    elif kind == "input":
        inputs[param[1]][param[2]] += delta
    else:
        desc["neurons"][param[1]][kind] += delta
    return desc, inputs


def finite_difference(fun, desc, inputs, param, h):
    """Second-order finite difference of ``fun(desc, inputs)`` w.r.t. ``param``.

    Central, except for a delay or an input time closer than ``2h`` to 0: there the
    derivative is one-sided (right), taken as ``(-3 f0 + 4 f(h) - f(2h)) / (2h)``.
    ``fun`` returns a float array (or raises ``ValueError`` when the perturbed run
    is not comparable, which propagates).
    """
    x0 = get_param(desc, inputs, param)
    if param[0] in ("delay", "input") and x0 < 2 * h:
        f0 = np.asarray(fun(desc, inputs), dtype=float)
        f1 = np.asarray(fun(*perturb(desc, inputs, param, h)), dtype=float)
        f2 = np.asarray(fun(*perturb(desc, inputs, param, 2 * h)), dtype=float)
        return (-3 * f0 + 4 * f1 - f2) / (2 * h)
    fp = np.asarray(fun(*perturb(desc, inputs, param, h)), dtype=float)
    fm = np.asarray(fun(*perturb(desc, inputs, param, -h)), dtype=float)
    return (fp - fm) / (2 * h)


def spike_time_sum(desc, inputs, t_max):
    """The loss ``sum of all spike times`` and the spike count per neuron."""
    spikes = simulate(desc, inputs, t_max)
    return float(sum(s.sum() for s in spikes)), tuple(len(s) for s in spikes)


def spike_time_sum_gradient(desc, inputs, t_max, params):
    """``L = sum_k t_k`` over all spikes, and ``dL/dparams`` from the tangents."""
    spikes, dspikes = simulate_tangents(desc, inputs, t_max, list(params))
    loss = float(sum(s.sum() for s in spikes))
    grad = sum((d.sum(axis=0) for d in dspikes), np.zeros(len(params)))
    return loss, grad


def loss_gradient_fd(desc, inputs, t_max, params, rel_h=1e-6):
    """Finite-difference gradient of ``sum of spike times`` w.r.t. ``params``.

    Returns None if any perturbed run changes a neuron's spike count (the loss is
    then not differentiable at this scale).
    """
    _, counts0 = spike_time_sum(desc, inputs, t_max)

    def fun(d, x):
        loss, counts = spike_time_sum(d, x, t_max)
        if counts != counts0:
            raise ValueError("spike count changed")
        return loss

    grad = []
    for par in params:
        h = rel_h * max(1.0, abs(get_param(desc, inputs, par)))
        try:
            grad.append(float(finite_difference(fun, desc, inputs, par, h)))
        except ValueError:
            return None
    return np.array(grad)
