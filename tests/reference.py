"""Brute-force reference simulator for alpha-kernel networks (tests only).

Independent of eventsim's engines: it reads only the public arrays of a
:class:`eventsim.Network` (``kind``, ``source_index``, ``population_index``,
``tau``, ``theta``, ``pulse_times``, ``pre``, ``post``, ``weights``, ``delays``)
and uses plain numpy and scipy.  No Lambert W, no incremental ``(A, B)`` state:
the membrane potential is summed term by term and threshold crossings are
bracketed and found with :func:`scipy.optimize.brentq`.

Algorithm (one example)
-----------------------
Known spikes start as the sources (inputs at their given times, pulses at their
pulse times).  Repeat:

1. For every alpha neuron that has not fired, collect the arrivals
   ``a_k = t_pre + delay_k`` of the already-known presynaptic spikes and find the
   first upward threshold crossing of
   ``V(t) = sum_k w_k (t - a_k) exp(-tau (t - a_k))`` (terms with ``t > a_k``).
   Time is split at the sorted distinct arrival times; on each interval ``V`` is
   ``exp(-tau t) (A t - B)``, which has at most one extremum (a maximum iff
   ``A > 0``, at ``1/tau + B/A`` after the interval start in shifted
   coordinates).  If the interval maximum reaches ``theta``, ``brentq`` finds the
   crossing between the interval start and the argmax.
2. The neuron with the smallest crossing time fires next.  No spike that is not
   yet known can change it: an unknown spike is not earlier than this one, and
   delays are ``>= 0``, so it arrives no earlier either (and an input that arrives
   exactly at the crossing contributes ``0 * exp(0) = 0`` there).
3. Stop when no neuron can fire, or the next spike is after ``t_max``.

Margins
-------
Besides the times, the reference reports how close each neuron came to a
degenerate case where float rounding legitimately decides the outcome, so that
property tests can ``hypothesis.assume`` those away:

``peak_gap``
    ``min_k |max_{interval k} V - theta| / theta`` over the intervals examined
    (up to and including the crossing interval; all of them for silent neurons).
    Small: a near-tangent touch (spike vs no spike), or a crossing right at an
    arrival.
``slope``, ``q``
    ``dV/dt`` at the crossing, and ``q = slope / (slope + tau theta)``, which is
    ``1 + W`` in docs/math.md A.4 (both ``nan`` for silent neurons and sources).  All
    gradients scale like ``1 / slope``.
``arrival_gap``
    ``min_k |t_spike - a_k|`` over all arrivals at the neuron, except those through
    its own self-synapses (``inf`` for silent neurons).  Small: an input arriving
    (almost) exactly at the spike, where the gradient is one-sided.
``tmax_gap``
    Per example, the distance between ``t_max`` and the closest alpha spike time
    (produced, or the first one suppressed by ``t_max``).
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy.optimize import brentq

__all__ = ["ReferenceResult", "simulate_reference", "first_crossing", "potential_maximum",
           "causal_sets",
           "assert_times_equal", "network_arrays", "network_from_arrays"]

# Neuron kinds as documented for Network.kind.
_INPUT, _PULSE, _ALPHA = 0, 1, 2


@dataclasses.dataclass
class ReferenceResult:
    """Spike times and margins; arrays have shape (n_examples, n_neurons)."""

    times: np.ndarray
    peak_gap: np.ndarray
    slope: np.ndarray
    q: np.ndarray
    arrival_gap: np.ndarray
    tmax_gap: np.ndarray  # shape (n_examples,)

    def well_conditioned(self, *, peak=1e-7, q=1e-6, arrival=0.0, tmax=1e-9):
        """True if no neuron is within the given margins of a degenerate case.

        ``q`` bounds ``slope / (slope + tau theta)`` (= ``1 + W`` of docs/math.md A.4)
        from below; the other bounds are on ``peak_gap``, ``arrival_gap`` and
        ``tmax_gap``."""
        qq = self.q[np.isfinite(self.q)]
        return bool(self.peak_gap.min(initial=np.inf) > peak
                    and qq.min(initial=np.inf) > q
                    and self.arrival_gap.min(initial=np.inf) > arrival
                    and self.tmax_gap.min(initial=np.inf) > tmax)


def _potential(t, a, w, tau):
    """V(t) for arrivals a (all < t or not), by direct summation."""
    s = t - a
    pos = s > 0
    return float(np.sum(w[pos] * s[pos] * np.exp(-tau * s[pos])))


def _potential_dot(t, a, w, tau):
    s = t - a
    pos = s > 0
    return float(np.sum(w[pos] * (1.0 - tau * s[pos]) * np.exp(-tau * s[pos])))



def _intervals(a, w, tau):
    """Per interval between distinct arrival times: ``(lo, hi, a, w, s_star)`` with the
    arrivals up to ``lo`` and the offset ``s_star`` of the interval's closed-form
    extremum from ``lo`` (``-inf`` if ``V`` has no interior maximum)."""
    starts = np.unique(a)
    for k, lo in enumerate(starts):
        hi = starts[k + 1] if k + 1 < starts.size else np.inf
        causal = a <= lo
        ac, wc = a[causal], w[causal]
        # V(lo + s) = exp(-tau s) (A s - B), shifted to the interval start (no overflow:
        # every exponent is <= 0).
        e = np.exp(tau * (ac - lo))
        A = float(np.sum(wc * e))
        B = float(np.sum(wc * (ac - lo) * e))
        yield lo, hi, ac, wc, (1.0 / tau + B / A if A > 0 else -np.inf)

def first_crossing(arrivals, weights, tau, theta):
    """First time ``V(t) >= theta`` for a single alpha neuron.

    Parameters
    ----------
    arrivals, weights : 1-D arrays
        Arrival times (finite) and weights of the inputs.
    tau, theta : float

    Returns
    -------
    t : float
        Crossing time, ``inf`` if ``V`` never reaches ``theta``.
    peak_gap : float
        ``min |interval max of V - theta| / theta`` over the intervals examined.
    slope : float
        ``dV/dt`` at the crossing (``nan`` if none).
    """
    a = np.asarray(arrivals, np.float64)
    w = np.asarray(weights, np.float64)
    keep = np.isfinite(a)
    a, w = a[keep], w[keep]
    order = np.argsort(a, kind="stable")
    a, w = a[order], w[order]
    peak_gap = np.inf
    for lo, hi, ac, wc, s_star in _intervals(a, w, tau):
        v_lo = _potential(lo, ac, wc, tau)
        if s_star > 0:
            t_arg = lo + s_star if lo + s_star < hi else hi
            v_max = max(v_lo, _potential(t_arg, ac, wc, tau))
        else:
            t_arg = lo
            v_max = v_lo
        peak_gap = min(peak_gap, abs(v_max - theta) / theta)
        if v_max >= theta:
            f_lo = v_lo - theta
            if f_lo >= 0:
                t = lo
            else:
                f = lambda t: _potential(t, ac, wc, tau) - theta  # noqa: E731
                if f(t_arg) < 0:  # v_max came from v_lo (cannot happen: f_lo < 0)
                    continue
                t = brentq(f, lo, t_arg, xtol=1e-300, rtol=4 * np.finfo(float).eps, maxiter=500)
            return t, peak_gap, _potential_dot(t, ac, wc, tau)
    return np.inf, peak_gap, np.nan


def potential_maximum(arrivals, weights, tau):
    """Global maximum ``(t*, V(t*))`` of ``V(t) = sum_k w_k (t - a_k) exp(-tau (t - a_k))``
    over ``t >= min(a)``, with every input counted (no spike)."""
    a = np.asarray(arrivals, np.float64)
    w = np.asarray(weights, np.float64)
    best_t, best_v = np.min(a), 0.0
    for lo, hi, ac, wc, s_star in _intervals(a, w, tau):
        cands = [lo] if hi == np.inf else [lo, hi]
        if s_star > 0:
            cands.append(min(lo + s_star, hi))
        for t in cands:
            v = _potential(t, ac, wc, tau) if t < np.inf else 0.0
            if v > best_v:
                best_t, best_v = t, v
    return best_t, best_v


def _network_arrays(net):
    return dict(
        kind=np.asarray(net.kind),
        source_index=np.asarray(net.source_index),
        pop=np.asarray(net.population_index),
        tau=np.asarray(net.tau, np.float64),
        theta=np.asarray(net.theta, np.float64),
        pulse_times=np.asarray(net.pulse_times, np.float64),
        pre=np.asarray(net.pre, np.int64),
        post=np.asarray(net.post, np.int64),
        weights=np.asarray(net.weights, np.float64),
        delays=np.asarray(net.delays, np.float64),
    )


def _simulate_one(arr, x, t_max):
    kind, src, pop = arr["kind"], arr["source_index"], arr["pop"]
    pre, post, w, d = arr["pre"], arr["post"], arr["weights"], arr["delays"]
    n = kind.size
    times = np.full(n, np.inf)
    fired = kind != _ALPHA
    inp = kind == _INPUT
    pul = kind == _PULSE
    times[inp] = x[src[inp]]
    times[pul] = arr["pulse_times"][src[pul]]
    times[times > t_max] = np.inf  # sources after the horizon are not produced either
    into = [np.flatnonzero(post == j) for j in range(n)]
    out_of = [np.flatnonzero(pre == j) for j in range(n)]
    peak_gap = np.full(n, np.inf)
    slope = np.full(n, np.nan)
    cand = np.full(n, np.inf)
    dirty = ~fired.copy()

    def compute(j):
        syn = into[j]
        arrivals = times[pre[syn]] + d[syn]
        p = pop[j]
        cand[j], peak_gap[j], slope[j] = first_crossing(arrivals, w[syn], arr["tau"][p],
                                                        arr["theta"][p])

    next_after = np.inf
    while True:
        for j in np.flatnonzero(dirty & ~fired):
            compute(j)
        dirty[:] = False
        alive = np.flatnonzero(~fired)
        if alive.size == 0:
            break
        j = alive[np.argmin(cand[alive])]
        if not np.isfinite(cand[j]):
            break
        if cand[j] > t_max:
            next_after = cand[j]
            break
        times[j] = cand[j]
        fired[j] = True
        dirty[post[out_of[j]]] = True

    # Neurons that did not fire: their last computation saw every arrival there is.
    silent = (kind == _ALPHA) & ~np.isfinite(times)
    slope[silent] = np.nan
    arrival_gap = np.full(n, np.inf)
    for j in np.flatnonzero((kind == _ALPHA) & np.isfinite(times)):
        syn = into[j]
        syn = syn[pre[syn] != j]
        a = times[pre[syn]] + d[syn]
        a = a[np.isfinite(a)]
        if a.size:
            arrival_gap[j] = np.min(np.abs(times[j] - a))
    if np.isfinite(t_max):
        spk = times[(kind == _ALPHA) & np.isfinite(times)]
        tmax_gap = min(np.min(np.abs(spk - t_max), initial=np.inf), next_after - t_max)
    else:
        tmax_gap = np.inf
    peak_gap[kind != _ALPHA] = np.inf
    tt = np.ones(n)
    alpha = kind == _ALPHA
    tt[alpha] = arr["tau"][pop[alpha]] * arr["theta"][pop[alpha]]
    q = slope / (slope + tt)
    return times, peak_gap, slope, q, arrival_gap, tmax_gap


def simulate_reference(net, input_times, *, t_max=np.inf) -> ReferenceResult:
    """Spike times of every neuron, by brute force.

    Parameters
    ----------
    net : eventsim.Network
    input_times : array_like, shape (n_inputs,) or (n_examples, n_inputs)
    t_max : float
        Spikes later than ``t_max`` are not produced (``inf``), source spikes
        included; sources report their given times otherwise.

    Returns
    -------
    ReferenceResult
        Arrays are 2-D (examples x neurons) even for 1-D input.
    """
    x = np.atleast_2d(np.asarray(input_times, np.float64))
    arr = _network_arrays(net)
    out = [_simulate_one(arr, row, float(t_max)) for row in x]
    if not out:
        empty = np.zeros((0, arr["kind"].size))
        return ReferenceResult(empty, empty, empty, empty, empty, np.zeros(0))
    return ReferenceResult(*(np.array(v) for v in zip(*out)))


def causal_sets(net, times):
    """Boolean (n_examples, n_synapses): synapse delivered strictly before its
    target fired (the inputs the target integrated; a silent target integrates
    every finite arrival)."""
    times = np.atleast_2d(times)
    pre = np.asarray(net.pre)
    post = np.asarray(net.post)
    a = times[:, pre] + np.asarray(net.delays)[None, :]
    return np.isfinite(a) & (a < times[:, post])


# ----------------------------------------------------------------------- test helpers
def assert_times_equal(got, want, *, tol=1e-9, what="spike times"):
    """Same silent set exactly; finite times equal to ``tol * max(1, |t|)``."""
    got = np.atleast_2d(np.asarray(got, np.float64))
    want = np.atleast_2d(np.asarray(want, np.float64))
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    fg, fw = np.isfinite(got), np.isfinite(want)
    bad = np.argwhere(fg != fw)
    assert bad.size == 0, (
        f"{what}: spike/no-spike mismatch at (example, neuron) {bad[:5].tolist()}: "
        f"got {[got[tuple(i)] for i in bad[:5]]}, want {[want[tuple(i)] for i in bad[:5]]}")
    both = fg & fw
    err = np.zeros_like(got)
    err[both] = np.abs(got[both] - want[both]) / np.maximum(1.0, np.abs(want[both]))
    worst = np.unravel_index(np.argmax(err), err.shape) if err.size else None
    assert err.size == 0 or err.max() <= tol, (
        f"{what}: max scaled error {err.max():.3g} > {tol} at (example, neuron) "
        f"{tuple(int(i) for i in worst)}: got {got[worst]!r}, want {want[worst]!r}")


def network_arrays(net) -> dict:
    """Everything needed to rebuild ``net`` (for failure reports)."""
    return dict(kind=net.kind.tolist(), population_index=net.population_index.tolist(),
                tau=net.tau.tolist(), theta=net.theta.tolist(),
                pulse_times=net.pulse_times.tolist(), pre=net.pre.tolist(),
                post=net.post.tolist(), weights=net.weights.tolist(),
                delays=net.delays.tolist())


def network_from_arrays(arrays):
    """Rebuild a network from :func:`network_arrays` output (contiguous blocks)."""
    import eventsim

    kind = np.asarray(arrays["kind"])
    pop = np.asarray(arrays["population_index"])
    net = eventsim.Network()
    i, n_pulse = 0, 0
    while i < kind.size:
        j = i
        while j < kind.size and kind[j] == kind[i] and pop[j] == pop[i]:
            j += 1
        if kind[i] == _INPUT:
            net.add_inputs(j - i)
        elif kind[i] == _PULSE:
            net.add_pulses(np.asarray(arrays["pulse_times"][n_pulse:n_pulse + j - i], np.float64))
            n_pulse += j - i
        else:
            net.add_population(j - i, tau=arrays["tau"][pop[i]], theta=arrays["theta"][pop[i]])
        i = j
    if len(arrays["pre"]):
        net.connect(np.asarray(arrays["pre"]), np.asarray(arrays["post"]),
                    np.asarray(arrays["weights"]), np.asarray(arrays["delays"]))
    return net
