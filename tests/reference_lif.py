"""Brute-force reference simulator for networks of alpha and/or LIF neurons (tests only).

Kernel-generic and independent of eventsim's engines: it reads only the public
arrays of a :class:`eventsim.Network` (``kind``, ``source_index``,
``population_index``, ``models``, ``tau``, ``tau_mem``, ``tau_syn``, ``g_leak``,
``theta``, ``pulse_times``, ``pre``, ``post``, ``weights``, ``delays``) and uses
plain numpy and :func:`scipy.optimize.brentq`.  No Lambert W, no quadratic
formula, no incremental state, no closed-form extremum: the membrane potential of
a neuron is summed kernel by kernel,

    V(t) = sum_{k: a_k < t} w_k kappa(t - a_k),        a_k = t_pre + delay_k,

and threshold crossings are bracketed on monotone pieces and found with brentq.

Kernels (``s > 0``; both are 0 for ``s <= 0``)
----------------------------------------------
``alpha`` (rate ``tau``):  ``kappa(s) = s exp(-tau s)``.
``lif`` (``tau_m``, ``tau_s``, ``g_l``):
``kappa(s) = tau_s / (g_l (tau_m - tau_s)) (exp(-s/tau_m) - exp(-s/tau_s))``,
and ``s exp(-s/tau) / (g_l tau)`` when ``tau_m = tau_s = tau``.

Per interval
------------
Time is split at the sorted distinct arrival times.  On an interval
``[lo, hi)`` the causal set is fixed and ``V`` is a combination of at most two
exponential-type terms (``(A s + B) e^{-s/T}`` or ``alpha e^{-s/tau_m} + beta
e^{-s/tau_s}``), so ``dV/dt`` changes sign at most once (docs/math.md B.0).  The
reference evaluates the right derivative at ``lo``.  If V rises there, the
bracket for its maximum is found by expanding ``lo + T 2^k`` (``T`` the kernel's
peak time, ``k = -4, -3, ...``, capped at ``hi``) until ``dV/dt <= 0``, and brentq
on ``dV/dt`` locates it (plain bisection on the sign of ``dV/dt`` if it underflowed
to exactly 0 at the bracket's end).  If V falls at ``lo``, it can only rise later
towards ``V(inf) = 0``, i.e. below ``theta > 0``.  The first increasing piece whose
end reaches ``theta`` holds the crossing, found by brentq (unique on a monotone
piece).

Event order
-----------
As in ``tests/reference.py``: known spikes start as the sources; repeatedly, for
every unfired neuron compute the first crossing given the known spikes, fire the
earliest one, and stop when none is left or the next one is after ``t_max``.  An
unknown spike is not earlier than the earliest crossing, and delays are ``>= 0``,
so no unknown spike can change it (an arrival exactly at the crossing contributes
``kappa(0) = 0``).

Margins (``hypothesis.assume`` them away)
-----------------------------------------
``peak_gap``
    ``min |interval max of V - theta| / theta`` over the intervals examined (up to
    the crossing interval; all of them for silent neurons).
``slope``, ``q``
    ``dV/dt`` at the crossing and ``q = slope / (slope + theta / T_peak)`` with
    ``T_peak`` the time of the kernel's maximum (for alpha ``1/tau``, so ``q = 1 +
    W`` of docs/math.md A.4; also for LIF with equal time constants).  ``nan`` for
    silent neurons and sources.
``arrival_gap``
    ``min |t_spike - a_k|`` over arrivals at the neuron other than through its own
    self-synapses.
``tmax_gap``
    Per example, distance between ``t_max`` and the closest spike (produced or
    suppressed by ``t_max``).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from scipy.optimize import brentq

# Test helpers (not simulation code) shared with the alpha reference.
from reference import assert_times_equal, causal_sets  # noqa: F401

__all__ = ["alpha_kernel", "alpha_kernel_ds", "lif_kernel", "lif_kernel_ds", "Kernel",
           "kernels_of", "first_crossing", "potential", "potential_maximum",
           "ReferenceResult", "simulate_reference", "causal_sets", "assert_times_equal",
           "network_code"]

_INPUT, _PULSE, _NEURON = 0, 1, 2
_RTOL = 4 * np.finfo(float).eps


# ----------------------------------------------------------------------------- kernels
def alpha_kernel(s, tau):
    """Alpha kernel ``kappa(s) = s exp(-tau s)`` for ``s > 0``, else 0 (``tau``: rate)."""
    s = np.asarray(s, np.float64)
    sp = np.where(s > 0, s, 0.0)
    return np.where(s > 0, sp * np.exp(-tau * sp), 0.0)


def alpha_kernel_ds(s, tau):
    """``d kappa/ds = (1 - tau s) exp(-tau s)`` for ``s >= 0`` (right derivative at 0), else 0."""
    s = np.asarray(s, np.float64)
    sp = np.where(s >= 0, s, 0.0)
    return np.where(s >= 0, (1.0 - tau * sp) * np.exp(-tau * sp), 0.0)


def lif_kernel(s, tau_mem, tau_syn, g_leak):
    """LIF kernel (exponential current synapse), for ``s > 0``, else 0::

        kappa(s) = tau_s / (g_l (tau_m - tau_s)) (exp(-s/tau_m) - exp(-s/tau_s))   (tau_m != tau_s)
        kappa(s) = s exp(-s/tau) / (g_l tau)                                (tau_m = tau_s = tau)

    It is evaluated as ``tau_s / (g_l |tau_m - tau_s|) exp(-s/tau_slow) (-expm1(-s |1/tau_s
    - 1/tau_m|))`` with ``tau_slow = max(tau_m, tau_s)``: no cancellation for small
    ``s``, no overflow for large ``s``."""
    s = np.asarray(s, np.float64)
    sp = np.where(s > 0, s, 0.0)
    tm, ts, g = float(tau_mem), float(tau_syn), float(g_leak)
    if tm == ts:
        v = sp * np.exp(-sp / tm) / (g * tm)
    else:
        slow = max(tm, ts)
        v = ts / (g * abs(tm - ts)) * np.exp(-sp / slow) * -np.expm1(-sp * abs(1.0 / ts - 1.0 / tm))
    return np.where(s > 0, v, 0.0)


def lif_kernel_ds(s, tau_mem, tau_syn, g_leak):
    """``d kappa/ds`` of :func:`lif_kernel` for ``s >= 0`` (right derivative at 0: ``1/g_l``)::

        kappa'(s) = (exp(-s/tau_s) - (tau_s/tau_m) exp(-s/tau_m)) / (g_l (tau_m - tau_s))
        kappa'(s) = (1 - s/tau) exp(-s/tau) / (g_l tau)                       (equal)
    """
    s = np.asarray(s, np.float64)
    sp = np.where(s >= 0, s, 0.0)
    tm, ts, g = float(tau_mem), float(tau_syn), float(g_leak)
    if tm == ts:
        v = (1.0 - sp / tm) * np.exp(-sp / tm) / (g * tm)
    else:
        v = (np.exp(-sp / ts) - (ts / tm) * np.exp(-sp / tm)) / (g * (tm - ts))
    return np.where(s >= 0, v, 0.0)


@dataclasses.dataclass(frozen=True)
class Kernel:
    """A neuron model's PSP kernel: ``kernel(s)``, ``kernel.ds(s)``, ``peak_time``, ``peak``."""

    model: str
    tau: float = math.nan
    tau_mem: float = math.nan
    tau_syn: float = math.nan
    g_leak: float = math.nan

    def __call__(self, s):
        if self.model == "alpha":
            return alpha_kernel(s, self.tau)
        return lif_kernel(s, self.tau_mem, self.tau_syn, self.g_leak)

    def ds(self, s):
        if self.model == "alpha":
            return alpha_kernel_ds(s, self.tau)
        return lif_kernel_ds(s, self.tau_mem, self.tau_syn, self.g_leak)

    @property
    def peak_time(self) -> float:
        """``argmax kappa``: ``1/tau`` (alpha), ``tau`` (LIF, equal), else
        ``tau_m tau_s ln(tau_m/tau_s) / (tau_m - tau_s)``."""
        if self.model == "alpha":
            return 1.0 / self.tau
        tm, ts = self.tau_mem, self.tau_syn
        if tm == ts:
            return tm
        return tm * ts * math.log(tm / ts) / (tm - ts)

    @property
    def peak(self) -> float:
        """``max kappa``."""
        return float(self(self.peak_time))


def kernels_of(net):
    """One :class:`Kernel` per neuron population of ``net``."""
    out = []
    for p, m in enumerate(net.models):
        if m == "alpha":
            out.append(Kernel("alpha", tau=float(net.tau[p])))
        elif m == "lif":
            out.append(Kernel("lif", tau_mem=float(net.tau_mem[p]), tau_syn=float(net.tau_syn[p]),
                              g_leak=float(net.g_leak[p])))
        else:  # pragma: no cover
            raise ValueError(f"unknown model {m!r}")
    return out


# ----------------------------------------------------------------------------- one neuron
def _brentq(f, a, b):
    return brentq(f, a, b, xtol=1e-300, rtol=_RTOL, maxiter=1000)


def _intervals(a):
    """(lo, hi, causal mask) per interval between the sorted distinct arrivals."""
    starts = np.unique(a)
    for k, lo in enumerate(starts):
        hi = starts[k + 1] if k + 1 < starts.size else np.inf
        yield lo, hi, a <= lo


def _maximum(dV, a, b):
    """The point in ``(a, b]`` where ``dV`` turns from ``> 0`` (at ``a``) to ``<= 0`` (at
    ``b``): brentq on ``dV`` if ``dV(b) < 0``; if ``dV(b)`` underflowed to exactly 0
    (far in the tail, where brentq would just return ``b``), bisection on the sign."""
    if dV(b) < 0:
        return _brentq(dV, a, b)
    while True:
        m = 0.5 * (a + b)
        if not a < m < b:
            return b
        if dV(m) > 0:
            a = m
        else:
            b = m


def _increasing_pieces(lo, hi, dV, kernel):
    """Increasing monotone pieces ``[(a, b), ...]`` of V on ``[lo, hi]`` in time order,
    given that dV changes sign at most once there (for ``hi = inf``: up to the
    maximum).

    If V falls first (``dV(lo+) <= 0``), any later rise is towards ``V(inf) = 0``, so V
    stays below 0 < theta there; that piece is still returned on a finite interval
    (for the maximum of V), and left out on the unbounded one.
    """
    d_lo = dV(lo)
    T = kernel.peak_time
    if not d_lo > 0:
        if np.isfinite(hi) and dV(hi) > 0:
            return [(_brentq(dV, lo, hi), hi)]
        return []
    # V rises at lo: find its maximum, bracketed by lo + T/16, lo + T/8, ... (capped at
    # hi; by lo + 8192 T every exponential has underflowed).
    prev = lo
    for k in range(-4, 14):
        b = min(lo + T * 2.0 ** k, hi)
        if b <= prev:
            continue
        if not dV(b) > 0:
            return [(lo, _maximum(dV, prev, b))]
        if b == hi:
            return [(lo, hi)]
        prev = b
    return [(lo, prev)]


def first_crossing(arrivals, weights, kernel, theta):
    """First time ``V(t) >= theta`` (upward) for a single neuron.

    Parameters
    ----------
    arrivals, weights : 1-D arrays
        Arrival times (``inf`` entries are ignored) and weights.
    kernel : Kernel
    theta : float

    Returns
    -------
    (t, peak_gap, slope)
        Crossing time (``inf`` if none), ``min |interval max V - theta| / theta``
        over the intervals examined, and ``dV/dt`` at the crossing (``nan`` if none).
    """
    a = np.asarray(arrivals, np.float64)
    w = np.asarray(weights, np.float64)
    keep = np.isfinite(a)
    a, w = a[keep], w[keep]
    peak_gap = np.inf
    for lo, hi, causal in _intervals(a):
        ac, wc = a[causal], w[causal]

        def V(t, ac=ac, wc=wc):
            return float(np.sum(wc * kernel(t - ac)))

        def dV(t, ac=ac, wc=wc):
            return float(np.sum(wc * kernel.ds(t - ac)))

        v_lo = V(lo)
        if v_lo >= theta:  # degenerate: reached exactly at an arrival
            return lo, 0.0, dV(lo)
        pieces = _increasing_pieces(lo, hi, dV, kernel)
        ends = [V(b) for _, b in pieces]
        peak_gap = min(peak_gap, abs(max([v_lo, *ends]) - theta) / theta)
        for (pa, pb), vb in zip(pieces, ends):
            if vb >= theta:
                if V(pa) >= theta:  # cannot happen: pa is lo (V < theta) or a minimum
                    t = pa
                else:
                    t = _brentq(lambda t: V(t) - theta, pa, pb)
                return t, peak_gap, dV(t)
    return np.inf, peak_gap, np.nan


def potential(arrivals, weights, kernel, t):
    """``V(t) = sum_k w_k kappa(t - a_k)`` by direct summation (any shape of ``t``)."""
    a = np.asarray(arrivals, np.float64)
    w = np.asarray(weights, np.float64)
    keep = np.isfinite(a)
    a, w = a[keep], w[keep]
    t = np.asarray(t, np.float64)
    return np.sum(w * kernel(t[..., None] - a), axis=-1)


def potential_maximum(arrivals, weights, kernel):
    """Global maximum ``(t*, V(t*))`` over ``t >= min(a)`` with every input counted."""
    a = np.asarray(arrivals, np.float64)
    w = np.asarray(weights, np.float64)
    keep = np.isfinite(a)
    a, w = a[keep], w[keep]
    best_t, best_v = (np.min(a) if a.size else 0.0), 0.0
    for lo, hi, causal in _intervals(a):
        ac, wc = a[causal], w[causal]

        def V(t, ac=ac, wc=wc):
            return float(np.sum(wc * kernel(t - ac)))

        def dV(t, ac=ac, wc=wc):
            return float(np.sum(wc * kernel.ds(t - ac)))

        cands = [lo] + [b for _, b in _increasing_pieces(lo, hi, dV, kernel)]
        for t in cands:
            v = V(t) if np.isfinite(t) else 0.0
            if v > best_v:
                best_t, best_v = t, v
    return best_t, best_v


# ----------------------------------------------------------------------------- networks
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
        """True if no neuron is within the given margins of a degenerate case."""
        qq = self.q[np.isfinite(self.q)]
        return bool(self.peak_gap.min(initial=np.inf) > peak
                    and qq.min(initial=np.inf) > q
                    and self.arrival_gap.min(initial=np.inf) > arrival
                    and self.tmax_gap.min(initial=np.inf) > tmax)


def _simulate_one(net, kernels, x, t_max):
    kind = np.asarray(net.kind)
    src = np.asarray(net.source_index)
    pop = np.asarray(net.population_index)
    theta = np.asarray(net.theta, np.float64)
    pre, post = np.asarray(net.pre, np.int64), np.asarray(net.post, np.int64)
    w, d = np.asarray(net.weights, np.float64), np.asarray(net.delays, np.float64)
    n = kind.size
    times = np.full(n, np.inf)
    fired = kind != _NEURON
    inp, pul = kind == _INPUT, kind == _PULSE
    times[inp] = x[src[inp]]
    times[pul] = np.asarray(net.pulse_times, np.float64)[src[pul]]
    times[times > t_max] = np.inf
    into = [np.flatnonzero(post == j) for j in range(n)]
    out_of = [np.flatnonzero(pre == j) for j in range(n)]
    peak_gap = np.full(n, np.inf)
    slope = np.full(n, np.nan)
    cand = np.full(n, np.inf)
    dirty = ~fired.copy()
    next_after = np.inf
    while True:
        for j in np.flatnonzero(dirty & ~fired):
            syn = into[j]
            cand[j], peak_gap[j], slope[j] = first_crossing(
                times[pre[syn]] + d[syn], w[syn], kernels[pop[j]], theta[pop[j]])
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

    neuron = kind == _NEURON
    slope[neuron & ~np.isfinite(times)] = np.nan
    arrival_gap = np.full(n, np.inf)
    for j in np.flatnonzero(neuron & np.isfinite(times)):
        syn = into[j]
        syn = syn[pre[syn] != j]
        a = times[pre[syn]] + d[syn]
        a = a[np.isfinite(a)]
        if a.size:
            arrival_gap[j] = np.min(np.abs(times[j] - a))
    if np.isfinite(t_max):
        spk = times[neuron & np.isfinite(times)]
        tmax_gap = min(np.min(np.abs(spk - t_max), initial=np.inf), next_after - t_max)
    else:
        tmax_gap = np.inf
    peak_gap[~neuron] = np.inf
    scale = np.ones(n)
    for j in np.flatnonzero(neuron):
        scale[j] = theta[pop[j]] / kernels[pop[j]].peak_time
    q = slope / (slope + scale)
    return times, peak_gap, slope, q, arrival_gap, tmax_gap


def simulate_reference(net, input_times, *, t_max=np.inf) -> ReferenceResult:
    """Spike times of every neuron of a mixed alpha / LIF network, by brute force.

    ``input_times``: shape ``(n_inputs,)`` or ``(n_examples, n_inputs)``.  Spikes
    later than ``t_max`` (sources included) are not produced.  Arrays of the result
    are 2-D (examples x neurons)."""
    x = np.atleast_2d(np.asarray(input_times, np.float64))
    kernels = kernels_of(net)
    out = [_simulate_one(net, kernels, row, float(t_max)) for row in x]
    if not out:
        empty = np.zeros((0, net.n_neurons))
        return ReferenceResult(empty, empty, empty, empty, empty, np.zeros(0))
    return ReferenceResult(*(np.array(v) for v in zip(*out)))


def neuron_potential(net, times, neuron, t):
    """Potential of ``neuron`` given one example's spike times, counting only the
    arrivals strictly before its own spike (what it integrated)."""
    times = np.asarray(times, np.float64)
    syn = np.flatnonzero(np.asarray(net.post) == neuron)
    a = times[net.pre[syn]] + net.delays[syn]
    keep = np.isfinite(a) & (a < times[neuron])
    k = kernels_of(net)[net.population_index[neuron]]
    return potential(a[keep], net.weights[syn][keep], k, t)


def network_code(net, x=None) -> str:
    """Python source that rebuilds ``net`` (and ``x``): for failure reports."""
    lines = ["import numpy as np, eventsim", "net = eventsim.Network()"]
    for p in net.populations:
        if p.kind == "input":
            lines.append(f"net.add_inputs({p.size}, name={p.name!r})")
        elif p.kind == "pulse":
            pt = net.pulse_times[net.source_index[p.start:p.stop]].tolist()
            lines.append(f"net.add_pulses(np.array({pt!r}), name={p.name!r})".replace(
                "inf", "np.inf"))
        else:
            prm = net.population_params(p.index)
            model = prm.pop("model")
            args = ", ".join(f"{k}={v!r}" for k, v in prm.items())
            lines.append(f"net.add_population({p.size}, model={model!r}, {args}, name={p.name!r})")
    if net.n_synapses:
        lines.append(f"net.connect({net.pre.tolist()!r}, {net.post.tolist()!r}, "
                     f"{net.weights.tolist()!r}, {net.delays.tolist()!r})")
    if x is not None:
        lines.append(f"x = np.array({np.asarray(x).tolist()!r})".replace("inf", "np.inf"))
    return "\n".join(lines)
