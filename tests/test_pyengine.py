"""Tests of the pure-Python engine (eventsim.pyengine).

* Lambert W0 against a high-precision reference (decimal Newton; mpmath too when
  installed).
* Hand-computed single-neuron cases: closed forms, Comsa et al. Figure 1b,
  inhibition that cancels or delays a prediction, spurious crossings, ties.
* Random networks against a brute-force oracle (dense grid + brentq on the summed
  potential), gradients against central finite differences, and exact identities.
* Agreement with the compiled engine (eventsim.simulate / eventsim.backward) on a
  few hundred random feed-forward and recurrent networks.
"""

from __future__ import annotations

import math
from decimal import Decimal, localcontext

import numpy as np
import pytest
from scipy.optimize import brentq

import eventsim
from eventsim import pyengine as pe

# ---------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------


def _q_reference(ell):
    """``1 + W0(-exp(ell))`` to ~60 digits, for ``ell < -1`` (a float, taken as exact, or a Decimal).

    Newton's method in 80-digit decimals on a log form of ``w exp(w) = z``:

    * near the branch point, on ``g(q) = q + ln(1 - q) = ell + 1`` for ``q = 1 + w``
      itself, which keeps full relative accuracy as ``q -> 0``;
    * elsewhere, on ``f(w) = w + ln(-w) = ell``.

    Both functions are decreasing and concave, so Newton started right of the root
    converges monotonically: ``sqrt(-2T)`` and ``1 - exp(T - 1)`` (``T = ell + 1``)
    lie right of the root of ``g``, and ``z = -exp(ell)`` right of that of ``f``.
    """
    with localcontext() as ctx:
        ctx.prec = 80
        one = Decimal(1)
        ell = Decimal(ell)
        target = ell + 1
        assert target < 0
        if target > Decimal("-0.5"):
            q = min((-2 * target).sqrt(), one - (target - 1).exp())
            for _ in range(500):
                step = (q + (one - q).ln() - target) / (one - one / (one - q))
                q -= step
                if abs(step) <= q * Decimal("1e-40"):
                    return q  # quadratic convergence: now good to ~1e-70
        else:
            w = -ell.exp()
            for _ in range(500):
                step = (w + (-w).ln() - ell) / (one + one / w)
                w -= step
                if abs(step) <= -w * Decimal("1e-40"):
                    return 1 + w
        raise AssertionError("reference Newton did not converge")


def _ell_of_z(z):
    with localcontext() as ctx:
        ctx.prec = 60
        return (-Decimal(z)).ln()


def _rel(a, b):
    return abs((Decimal(a) - b) / b)


def one_neuron(weights, times, *, tau=1.0, theta=1.0):
    """Network of len(weights) inputs into one alpha neuron; returns (net, input_times)."""
    net = eventsim.Network()
    x = net.add_inputs(len(weights))
    h = net.add_population(1, tau=tau, theta=theta)
    net.connect(x.ids, h.start, np.asarray(weights, float))
    return net, np.asarray(times, float)


def spike_time(weights, times, **kw):
    net, x = one_neuron(weights, times, **kw)
    return pe.simulate(net, x).times[-1]


def random_network(rng, *, recurrent, delays=True, quantized=False):
    """A small random network: inputs, pulses, one or two alpha populations.

    ``quantized`` puts input times and delays on a coarse grid, so that many spikes
    arrive at the same time (batches) and parallel paths tie.
    """
    net = eventsim.Network()
    n_in = int(rng.integers(2, 6))
    x = net.add_inputs(n_in)
    n_p = int(rng.integers(0, 3))
    pulses = net.add_pulses(np.round(rng.uniform(0.0, 2.0, n_p), 1)) if n_p else None
    pops = [net.add_population(int(rng.integers(2, 6)), tau=float(rng.choice([0.5, 1.0, 2.0])),
                               theta=float(rng.uniform(0.5, 1.5)))
            for _ in range(int(rng.integers(1, 3)))]
    alpha = np.concatenate([p.ids for p in pops])

    def delay(size):
        if not delays:
            return np.zeros(size)
        if quantized:
            return rng.integers(0, 4, size) * 0.5
        d = rng.uniform(0.0, 1.5, size)
        d[rng.random(size) < 0.3] = 0.0
        return d

    def weight(post, fan_in):
        # a lone input needs w = e tau theta to reach threshold; spread that over
        # about half of the fan-in, with mixed signs
        p = net.population_index[post]
        scale = math.e * net.tau[p] * net.theta[p] / np.maximum(1.0, 0.5 * fan_in)
        return rng.normal(1.2, 1.5, post.size) * scale

    sources = x.ids if pulses is None else np.concatenate([x.ids, pulses.ids])
    if recurrent:
        # any graph over the alpha neurons (self-loops and cycles included)
        pre = np.concatenate([sources, alpha])
        mask = rng.random((pre.size, alpha.size)) < 0.45
        P, Q = np.nonzero(mask)
        net.connect(pre[P], alpha[Q], weight(alpha[Q], mask.sum(0)[Q]), delay(P.size))
    else:
        prev = sources
        for p in pops:
            mask = rng.random((prev.size, p.size)) < 0.8
            P, Q = np.nonzero(mask)
            net.connect(prev[P], p.ids[Q], weight(p.ids[Q], mask.sum(0)[Q]), delay(P.size))
            prev = p.ids
    return net


def random_inputs(rng, net, n_examples, *, quantized=False):
    if quantized:
        x = rng.integers(0, 5, (n_examples, net.n_inputs)) * 0.5
    else:
        x = rng.uniform(0.0, 3.0, (n_examples, net.n_inputs))
    x[rng.random(x.shape) < 0.1] = np.inf
    return x


def _arrivals(net, times, j):
    """Arrival times and weights of all spikes reaching neuron j in one example."""
    in_indptr, in_syn = net.incoming()
    syn = in_syn[in_indptr[j]:in_indptr[j + 1]]
    a = times[net.pre[syn]] + net.delays[syn]
    ok = np.isfinite(a)
    return a[ok], net.weights[syn][ok]


def brute_first_crossing(a, w, tau, theta, n_grid=20001):
    """First upward crossing of sum_k w_k eps(t - a_k) through theta, by brute force.

    ``V`` is sampled on a uniform grid (plus the arrival times) up to 30 / tau after
    the last arrival, where every term has decayed below 1e-11; the first sample at
    or above ``theta`` is refined with brentq.  Returns ``(t, margin)``: ``t`` (inf
    if none) and ``margin = theta - max V`` over the samples before the crossing
    (all samples if none): when it is tiny, an excursion above ``theta`` between
    two samples may have been missed, and the grid cannot decide.
    """
    if a.size == 0:
        return math.inf, math.inf

    def V(t):
        s = np.subtract.outer(np.atleast_1d(t), a)
        return np.where(s > 0, w * s * np.exp(-tau * np.maximum(s, 0)), 0.0).sum(-1)

    grid = np.union1d(np.linspace(a.min(), a.max() + 30.0 / tau, n_grid), a)
    v = V(grid) - theta
    above = np.flatnonzero(v >= 0)
    if above.size == 0:
        return math.inf, float(-v.max())
    i = above[0]
    t = brentq(lambda s: V(s)[0] - theta, grid[i - 1], grid[i], xtol=1e-15, rtol=1e-15)
    return t, float(-v[:i].max())


def linear_loss(times, c):
    """L = sum over spiking neurons of c_j t_j."""
    fin = np.isfinite(times)
    return float((c * np.where(fin, times, 0.0)).sum())


def min_q(result):
    return min((r.q for tape in result.tapes for r in tape
                if isinstance(r, pe.Spike) and not math.isnan(r.q)), default=1.0)


# ---------------------------------------------------------------------------------
# Lambert W0
# ---------------------------------------------------------------------------------

def test_branch_point_series_coefficients():
    from fractions import Fraction as F

    lit = [F(1), F(-1, 3), F(11, 72), F(-43, 540), F(769, 17280), F(-221, 8505),
           F(680863, 43545600), F(-1963, 204120), F(226287557, 37623398400)]
    assert pe._MU[: len(lit)] == tuple(float(m) for m in lit)
    assert len(pe._MU) == 23


@pytest.mark.parametrize("form", ["log", "z"])
def test_lambertw0_near_branch_point(form):
    # 1 + e z from 3e-17 up to the end of the series region (p = 0.3), log-spaced.
    worst_q = worst_w = 0.0
    for delta in np.logspace(-16.5, np.log10(0.045), 400):
        ell = math.log1p(-delta) - 1.0   # d = 1 + e z = delta
        if form == "z":
            z = -math.exp(ell)
            ell_exact = _ell_of_z(z)
            w, q = pe.lambertw0(z)
        else:
            ell_exact = Decimal(ell)
            w, q = pe.lambertw0_from_log(ell)
        if ell_exact >= -1:
            continue
        q_ref = _q_reference(ell_exact)
        worst_q = max(worst_q, float(_rel(q, q_ref)))
        worst_w = max(worst_w, float(abs(Decimal(w) - (q_ref - 1))))
    assert worst_q <= 1e-15
    assert worst_w <= 5e-16


def test_lambertw0_whole_range():
    rng = np.random.default_rng(0)
    zs = np.concatenate([-rng.uniform(0, 1 / math.e, 500), -np.logspace(-300, -0.44, 200)])
    worst_q = worst_w = 0.0
    for z in zs:
        if z == 0.0:
            continue
        w, q = pe.lambertw0(z)
        q_ref = _q_reference(_ell_of_z(z))
        worst_q = max(worst_q, float(_rel(q, q_ref)))
        worst_w = max(worst_w, float(abs(Decimal(w) - (q_ref - 1))))
        assert -1.0 <= w < 0.0
    assert worst_w <= 5e-16
    assert worst_q <= 1e-15


def test_lambertw0_from_log_whole_range():
    # Away from the branch point z = -exp(ell) is rounded before Halley's iteration,
    # which costs up to ~1.4e-15 relative in q (the conditioning of q in z, not the
    # iteration); W itself stays within a few 1e-16.
    worst_w = 0.0
    for ell in np.concatenate([-1.0 - np.logspace(-15.5, 1.5, 300), -np.linspace(1.001, 700, 300)]):
        w, q = pe.lambertw0_from_log(ell)
        q_ref = _q_reference(ell)
        assert _rel(q, q_ref) <= 2e-15
        worst_w = max(worst_w, float(abs(Decimal(w) - (q_ref - 1))))
    assert worst_w <= 5e-16


def test_lambertw0_edges():
    assert pe.lambertw0(-1 / math.e) == (-1.0, 0.0)
    w, q = pe.lambertw0_from_log(-1.0)
    assert w == -1.0 and q == 0.0 and math.copysign(1.0, q) == 1.0  # not -0.0
    w, q = pe.lambertw0(-1e-300)
    assert w == -1e-300 and q == 1.0
    for bad in (0.0, 0.1, -0.37, math.nan):
        with pytest.raises(ValueError):
            pe.lambertw0(bad)
    with pytest.raises(ValueError):
        pe.lambertw0_from_log(-0.5)


def test_lambertw0_against_mpmath():
    mp = pytest.importorskip("mpmath")
    with mp.workdps(50):
        for delta in np.logspace(-15, 0, 120):
            z = -math.exp(math.log1p(-min(delta, 0.999999)) - 1.0)
            w_ref = mp.lambertw(mp.mpf(z))
            w, q = pe.lambertw0(z)
            assert abs(q - (1 + w_ref)) <= 1e-15 * abs(1 + w_ref)
            assert abs(w - w_ref) <= 5e-16


# ---------------------------------------------------------------------------------
# single neurons, by hand
# ---------------------------------------------------------------------------------

@pytest.mark.parametrize("tau,theta,w,t0", [(1.0, 1.0, 3.0, 0.0), (2.0, 1.0, 8.0, 0.5),
                                             (0.5, 2.0, 2.8, 10.0), (1.0, 1.0, math.e + 1e-6, 1.0)])
def test_single_input_closed_form(tau, theta, w, t0):
    # V = w (t - t0) exp(-tau (t - t0)) = theta  =>  t = t0 - W0(-tau theta / w) / tau
    ell = Decimal(tau * theta).ln() - Decimal(w).ln()
    q_ref = _q_reference(ell)
    expected = Decimal(t0) - (q_ref - 1) / Decimal(tau)
    t = spike_time([w], [t0], tau=tau, theta=theta)
    # ell itself carries a few ulp of rounding, which moves q by ~ulp / q (docs/math.md A.5)
    tol = 4e-16 * (1 + float(abs(expected))) + 1e-15 / (tau * float(q_ref))
    assert abs(float(Decimal(t) - expected)) <= tol


def test_single_input_below_threshold_is_silent():
    # max of w eps is w / (e tau): just below theta -> no spike
    assert spike_time([math.e * 0.999999], [0.0]) == math.inf
    assert spike_time([-5.0], [0.0]) == math.inf


def test_comsa_figure_1b():
    # Comsa et al. (2020) Fig. 1b: tau = 1, these weights and times; with theta = 0.5
    # the neuron fires at 18.64 (reference root by 40-digit mpmath: 18.6357364622866857738).
    w = [0.3, -0.4, 0.5, 0.7, 0.5, 0.8]
    t = [1, 8, 12, 15, 17, 18]
    assert abs(spike_time(w, t, theta=0.5) - 18.6357364622866857738) <= 1e-13
    assert round(spike_time(w, t, theta=0.5), 2) == 18.64
    # theta = 1 stays silent (the peak is 0.5015)
    assert spike_time(w, t, theta=1.0) == math.inf
    assert spike_time(w, t, theta=0.5016) == math.inf


def test_inhibition_cancels_prediction():
    # alone, w = 4 at 0 fires at -W0(-1/4) = 0.357...; an equal inhibition at 0.1
    # turns V around at once: the pending prediction must be withdrawn.
    t_alone = spike_time([4.0], [0.0])
    assert 0.35 < t_alone < 0.36
    net, x = one_neuron([4.0, -4.0], [0.0, 0.1])
    res = pe.simulate(net, x, record_tape=True)
    assert res.times[-1] == math.inf
    # the brute-force potential agrees
    a, w = _arrivals(net, np.array([0.0, 0.1, np.inf]), 2)
    assert brute_first_crossing(a, w, 1.0, 1.0)[0] == math.inf
    # the tape has both deliveries and no spike of the neuron
    tape = res.tapes[0]
    assert [type(r).__name__ for r in tape] == ["Spike", "Delivery", "Spike", "Delivery"]


def test_inhibition_delays_prediction():
    t_alone = spike_time([4.0], [0.0])
    t = spike_time([4.0, -0.5], [0.0, 0.1])
    net, x = one_neuron([4.0, -0.5], [0.0, 0.1])
    a, w = _arrivals(net, np.array([0.0, 0.1, np.inf]), 2)
    t_ref, _ = brute_first_crossing(a, w, 1.0, 1.0)
    assert t_alone < t < math.inf
    assert abs(t - t_ref) <= 1e-13


def test_excitation_moves_prediction_earlier_and_revives():
    t_alone = spike_time([4.0], [0.0])
    assert spike_time([4.0, 1.0], [0.0, 0.2]) < t_alone
    # cancelled by inhibition, then revived by a late strong input
    t = spike_time([4.0, -4.0, 6.0], [0.0, 0.1, 3.0])
    net, x = one_neuron([4.0, -4.0, 6.0], [0.0, 0.1, 3.0])
    a, w = _arrivals(net, np.r_[x, np.inf], 3)
    t_ref, _ = brute_first_crossing(a, w, 1.0, 1.0)
    assert 3.0 < t < 4.0
    assert abs(t - t_ref) <= 1e-13


def test_spurious_crossing_before_latest_input_is_rejected():
    # w = 2.5 at 0 peaks at 2.5/e = 0.92 < 1: silent.  A small inhibition at 3 makes
    # the closed form exp(-t)(A t - B) of the new interval cross theta near t = 1,
    # before the input that created it: that crossing must be discarded.
    net, x = one_neuron([2.5, -0.01], [0.0, 3.0])
    st = pe._AlphaNeuron(1.0, 1.0)
    st.receive(0.0, 2.5)
    assert st.predict() is None
    st.receive(3.0, -0.01)
    ell = math.log(1.0) - math.log(st.a) + st.b / st.a
    assert st.a > 0 and ell <= -1  # a crossing of the closed form exists ...
    assert st.r + st.b / st.a - pe.lambertw0_from_log(ell)[0] < 3.0  # ... before t = 3
    assert st.predict() is None
    assert pe.simulate(net, x).times[-1] == math.inf


def test_inputs_at_or_after_the_spike_are_ignored():
    t0 = spike_time([3.0], [0.0])
    # a huge inhibition exactly at the spike time, or after it, changes nothing
    assert spike_time([3.0, -100.0], [0.0, t0]) == t0
    assert spike_time([3.0, -100.0], [0.0, t0 + 1.0]) == t0
    # ... but one ulp earlier it cancels the spike
    assert spike_time([3.0, -100.0], [0.0, math.nextafter(t0, -math.inf)]) == math.inf


def test_simultaneous_inputs_act_as_a_batch():
    t0 = spike_time([3.0], [0.0])
    # +5 and -5 at the same time cancel exactly (as one batch, in either order)
    for w in ([3.0, 5.0, -5.0], [3.0, -5.0, 5.0]):
        t = spike_time(w, [0.0, 0.3, 0.3])
        assert abs(t - t0) <= 1e-14
    # two halves at the same time == one whole input
    assert spike_time([1.5, 1.5], [0.0, 0.0]) == pytest.approx(t0, abs=1e-15)


def test_t_max_and_sources():
    net, x = one_neuron([3.0, 1.0], [0.0, 5.0])
    t0 = pe.simulate(net, x).times[-1]
    res = pe.simulate(net, x, t_max=t0)
    assert res.times[-1] == t0  # a spike exactly at t_max is produced
    res = pe.simulate(net, x, t_max=math.nextafter(t0, -math.inf))
    assert res.times[-1] == math.inf
    assert res.times[0] == 0.0 and res.times[1] == math.inf  # later source spikes too


def test_one_example_and_batch_shapes():
    net, x = one_neuron([3.0, 1.0], [0.0, 5.0])
    single = pe.simulate(net, x)
    batch = pe.simulate(net, np.stack([x, x + 1.0]))
    assert single.times.shape == (3,) and batch.times.shape == (2, 3)
    assert batch.times[1, -1] == pytest.approx(single.times[-1] + 1.0, abs=1e-14)
    with pytest.raises(ValueError):
        pe.simulate(net, [0.0])
    with pytest.raises(ValueError):
        pe.backward(net, single, np.ones(3))  # no tape


def test_delays_and_recurrence_by_hand():
    # input -> a (delay 1); a -> b (delay 0.5); b -> a self-inhibition ignored (a fired)
    net = eventsim.Network()
    x = net.add_inputs(1)
    h = net.add_population(2, tau=1.0, theta=1.0)
    a, b = h.ids
    net.connect([x.start, a, b, a], [a, b, a, a], [3.0, 4.0, -9.0, 5.0], [1.0, 0.5, 0.0, 0.0])
    res = pe.simulate(net, [0.0], record_tape=True)
    ta = 1.0 + spike_time([3.0], [0.0])
    tb = ta + 0.5 + spike_time([4.0], [0.0])
    assert res.times[a] == pytest.approx(ta, abs=1e-14)
    assert res.times[b] == pytest.approx(tb, abs=1e-14)
    # tape: in time order, deliveries follow their spikes
    tape = res.tapes[0]
    assert [r.time for r in tape] == sorted(r.time for r in tape)
    assert sum(isinstance(r, pe.Spike) for r in tape) == 3


# ---------------------------------------------------------------------------------
# random networks against brute force
# ---------------------------------------------------------------------------------

def check_against_brute_force(net, x, t_max=np.inf):
    res = pe.simulate(net, x, t_max=t_max, record_tape=True)
    times = np.atleast_2d(res.times)
    alpha = np.flatnonzero(net.kind == eventsim.ALPHA)
    q = [{r.neuron: r.q for r in tape if isinstance(r, pe.Spike)} for tape in res.tapes]
    checked = 0
    for e in range(times.shape[0]):
        for j in alpha:
            a, w = _arrivals(net, times[e], j)
            p = net.population_index[j]
            t_ref, margin = brute_first_crossing(a, w, net.tau[p], net.theta[p])
            if t_ref > t_max:
                t_ref = math.inf
            t = times[e, j]
            if (math.isinf(t) != math.isinf(t_ref)) and (margin < 1e-6 or q[e].get(j, 1.0) < 1e-2):
                continue  # near-tangent: beyond the grid's resolution
            if math.isinf(t) or math.isinf(t_ref):
                assert t == t_ref, (e, j, t, t_ref)
            else:
                assert abs(t - t_ref) <= 1e-12 * (1 + abs(t_ref)) + 1e-15 / q[e][j], (e, j, t, t_ref)
            checked += 1
    return checked


@pytest.mark.parametrize("recurrent", [False, True])
def test_random_networks_against_brute_force(recurrent):
    rng = np.random.default_rng(11 + recurrent)
    n_spikes = n_checked = 0
    for k in range(12):
        net = random_network(rng, recurrent=recurrent, quantized=k % 3 == 0)
        x = random_inputs(rng, net, 3, quantized=k % 3 == 0)
        t_max = np.inf if k % 4 else 3.5
        n_checked += check_against_brute_force(net, x, t_max)
        n_spikes += np.isfinite(pe.simulate(net, x, t_max=t_max).times[:, net.kind == 2]).sum()
    assert n_checked > 80 and n_spikes > 30


def test_long_times_do_not_overflow():
    # tau t ~ 1e5: the shifted state keeps every exponential <= 1
    net, x = one_neuron([3.0, 0.5], [0.0, 0.2])
    t0 = pe.simulate(net, x).times[-1]
    T0 = 1e5
    t1 = pe.simulate(net, x + T0).times[-1]
    assert abs((t1 - T0) - t0) <= 1e-10


# ---------------------------------------------------------------------------------
# gradients
# ---------------------------------------------------------------------------------

def _loss_with(net, x, name, i, value, c, spiking):
    """L = sum c_j t_j after setting parameter ``name``[i] (a Gradients field) to ``value``.

    ``None`` if a spike appeared or vanished, or came close to doing so: L is not
    differentiable there.
    """
    net, x = net.copy(), x.copy()
    if name == "input_times":
        x.flat[i] = value
    else:
        arr = getattr(net, name).copy()
        arr[i] = value
        setattr(net, name, arr)
    r = pe.simulate(net, x, record_tape=True)
    if not np.array_equal(np.isfinite(r.times), spiking) or min_q(r) < 0.02:
        return None
    return linear_loss(r.times, c)


def _fd_check(net, x, rng, h=1e-6):
    """Compare pe.backward with central differences of L = sum c_j t_j; returns #checks."""
    res = pe.simulate(net, x, record_tape=True)
    if min_q(res) < 0.05:
        return 0  # a spike near tangency: derivatives are huge and FD meaningless
    c = rng.normal(size=res.times.shape)
    grads = pe.backward(net, res, c)
    spiking = np.isfinite(res.times)
    n = 0
    for name in ("weights", "delays", "theta", "pulse_times", "input_times"):
        values = (x if name == "input_times" else getattr(net, name)).ravel()
        grad = getattr(grads, name).ravel()
        for i, v in enumerate(values):
            if not np.isfinite(v) or (name == "delays" and v < h):
                continue  # a silent source; or a delay at 0, which must stay >= 0
            lp = _loss_with(net, x, name, i, v + h, c, spiking)
            lm = _loss_with(net, x, name, i, v - h, c, spiking)
            if lp is None or lm is None:
                continue
            fd = (lp - lm) / (2 * h)
            assert abs(fd - grad[i]) <= 2e-6 * (1 + abs(fd)), (name, i, fd, grad[i])
            n += 1
    return n


@pytest.mark.parametrize("recurrent", [False, True])
def test_gradients_against_finite_differences(recurrent):
    rng = np.random.default_rng(5 + recurrent)
    n = 0
    for _ in range(10):
        net = random_network(rng, recurrent=recurrent)
        x = random_inputs(rng, net, 2)
        n += _fd_check(net, x, rng)
    assert n > 150


def test_gradient_of_single_input_by_hand():
    tau, theta, w, t0 = 1.0, 1.0, 3.0, 0.5
    net, x = one_neuron([w], [t0], tau=tau, theta=theta)
    res = pe.simulate(net, x, record_tape=True)
    t = res.times[-1]
    W = -(t - t0) * tau  # t = t0 - W / tau
    vdot = tau * theta * (1 + W) / (-W)
    g = pe.backward(net, res, [0.0, 2.0])
    assert g.weights[0] == pytest.approx(-2.0 * (t - t0) * math.exp(-tau * (t - t0)) / vdot, rel=1e-13)
    assert g.theta[0] == pytest.approx(2.0 / vdot, rel=1e-13)
    # one input: the spike moves with it
    assert g.input_times[0, 0] == pytest.approx(2.0, rel=1e-13)
    assert g.delays[0] == pytest.approx(2.0, rel=1e-13)
    # clipping the local derivatives
    dw = -(t - t0) * math.exp(-tau * (t - t0)) / vdot
    gc = pe.backward(net, res, [0.0, 2.0], clip_derivative=0.1)
    assert abs(dw) > 0.1 and gc.weights[0] == pytest.approx(2.0 * math.copysign(0.1, dw))
    assert gc.input_times[0, 0] == pytest.approx(0.2)
    assert gc.theta[0] == g.theta[0]  # dt/dtheta is not clipped
    gc = pe.backward(net, res, [0.0, 2.0], clip_derivative=1e6)
    assert gc.weights[0] == g.weights[0]


def test_gradient_identities_on_random_networks():
    # shift every source by s: every spike moves by s  ->  sum of source gradients = sum dL/dt
    # scale every weight and theta by s: nothing moves  ->  sum w gw + sum theta gtheta = 0
    rng = np.random.default_rng(3)
    for k in range(20):
        net = random_network(rng, recurrent=k % 2 == 1)
        x = random_inputs(rng, net, 1)
        res = pe.simulate(net, x, record_tape=True)
        c = rng.normal(size=res.times.shape)
        g = pe.backward(net, res, c)
        fin = np.isfinite(res.times)
        total = g.input_times.sum() + g.pulse_times[np.isfinite(net.pulse_times)].sum()
        assert total == pytest.approx(c[fin].sum(), rel=1e-9, abs=1e-9)
        scale = (net.weights * g.weights).sum() + (net.theta * g.theta).sum()
        mag = np.abs(net.weights * g.weights).sum() + np.abs(net.theta * g.theta).sum()
        assert abs(scale) <= 1e-9 * (1 + mag)


def test_silent_neuron_penalty_and_ignored_dL():
    rng = np.random.default_rng(8)
    for k in range(10):
        net = random_network(rng, recurrent=k % 2 == 1)
        x = random_inputs(rng, net, 3)
        res = pe.simulate(net, x, record_tape=True)
        c = rng.normal(size=res.times.shape)
        g0 = pe.backward(net, res, c)
        # entries of silent neurons do not matter, even inf / huge ones
        c2 = np.where(np.isfinite(res.times), c, 1e300)
        g2 = pe.backward(net, res, c2)
        np.testing.assert_array_equal(g0.weights, g2.weights)
        g1 = pe.backward(net, res, c, penalty_no_spike=0.7)
        silent = (~np.isfinite(res.times)) & (net.kind == eventsim.ALPHA)
        count = silent[:, net.post].sum(0)  # per synapse: examples where its target was silent
        np.testing.assert_allclose(g1.weights - g0.weights, -0.7 * count, atol=1e-12)
        np.testing.assert_array_equal(g1.delays, g0.delays)


# ---------------------------------------------------------------------------------
# agreement with the compiled engine
# ---------------------------------------------------------------------------------

def _check_agrees_with_compiled(net, x, rng, t_max=np.inf, clip=None, penalty=0.0):
    py = pe.simulate(net, x, t_max=t_max, record_tape=True)
    cy = eventsim.simulate(net, x, t_max=t_max, record_tape=True)
    assert py.times.shape == cy.times.shape
    np.testing.assert_array_equal(np.isinf(py.times), np.isinf(cy.times))
    fin = np.isfinite(py.times)
    np.testing.assert_allclose(py.times[fin], cy.times[fin], rtol=1e-12, atol=1e-12)
    c = rng.normal(size=py.times.shape)
    gp = pe.backward(net, py, c, clip_derivative=clip, penalty_no_spike=penalty)
    gc = eventsim.backward(net, cy, c, clip_derivative=clip, penalty_no_spike=penalty)
    for name in ("weights", "delays", "theta", "pulse_times", "input_times"):
        a, b = getattr(gp, name), getattr(gc, name)
        assert a.shape == b.shape, name
        scale = 1.0 + np.abs(a).max(initial=0.0)
        np.testing.assert_allclose(b, a, rtol=1e-9, atol=1e-12 * scale, err_msg=name)
    return int(np.atleast_2d(fin)[:, net.kind == eventsim.ALPHA].sum())


@pytest.mark.parametrize("recurrent", [False, True])
def test_agrees_with_compiled_engine(recurrent):
    rng = np.random.default_rng(100 + recurrent)
    spikes = 0
    for k in range(150):
        net = random_network(rng, recurrent=recurrent, delays=k % 5 != 0, quantized=k % 3 == 0)
        x = random_inputs(rng, net, int(rng.integers(1, 5)), quantized=k % 3 == 0)
        t_max = 2.5 if k % 7 == 0 else np.inf
        clip = 0.5 if k % 4 == 1 else None
        penalty = 0.3 if k % 4 == 2 else 0.0
        spikes += _check_agrees_with_compiled(net, x, rng, t_max, clip, penalty)
    assert spikes > 500


def test_agrees_with_compiled_engine_single_example_and_feedforward_helper():
    rng = np.random.default_rng(7)
    net = eventsim.feedforward(4, [6, 5], 3, n_pulses=1, rng=1, nonpulse_init_multiplier=2.0,
                               pulse_init_multiplier=2.0, delays=0.1)
    x = rng.uniform(0, 2, 4)
    py = pe.simulate(net, x, record_tape=True)
    cy = eventsim.simulate(net, x, record_tape=True)
    assert py.times.shape == cy.times.shape == (net.n_neurons,)
    fin = np.isfinite(py.times)
    np.testing.assert_array_equal(fin, np.isfinite(cy.times))
    np.testing.assert_allclose(py.times[fin], cy.times[fin], rtol=1e-12, atol=1e-12)
    c = rng.normal(size=net.n_neurons)
    gp = pe.backward(net, py, c)
    gc = eventsim.backward(net, cy, c)
    for name in ("weights", "delays", "theta", "pulse_times", "input_times"):
        np.testing.assert_allclose(getattr(gc, name), getattr(gp, name), rtol=1e-9, atol=1e-12)


def test_agrees_with_compiled_engine_on_larger_nets_and_long_times():
    # tau t up to ~3e3: a naive exp(tau t) would overflow (> 709)
    rng = np.random.default_rng(21)
    for k in range(12):
        net = eventsim.feedforward(10, [20, 15], 5, n_pulses=2, rng=k, pulse_init_multiplier=2.0,
                                   nonpulse_init_multiplier=float(rng.uniform(0, 4)),
                                   delays=float(rng.choice([0.0, 0.1])),
                                   tau=float(rng.choice([0.5, 1.0, 3.0])))
        x = rng.uniform(0, 2, (6, 10))
        if k % 2:
            x += 1e3
            net.pulse_times = net.pulse_times + 1e3
        _check_agrees_with_compiled(net, x, rng, clip=2.0 if k % 3 == 0 else None, penalty=0.5)


def test_agrees_with_compiled_engine_on_ties():
    rng = np.random.default_rng(0)
    t0 = spike_time([3.0], [0.0])
    cases = [
        ([3.0, -100.0], [0.0, t0]),                              # input exactly at the spike
        ([3.0, -100.0], [0.0, math.nextafter(t0, -math.inf)]),   # one ulp before: cancels
        ([3.0, 5.0, -5.0], [0.0, 0.3, 0.3]),                     # simultaneous batch
        ([1.5, 1.5, -1.0, 2.0], [0.0, 0.0, 0.5, 0.5]),
        ([2.5, -0.01], [0.0, 3.0]),                              # spurious crossing
        ([4.0, -4.0, 6.0], [0.0, 0.1, 3.0]),                     # cancel, then revive
    ]
    for w, t in cases:
        net, x = one_neuron(w, t)
        _check_agrees_with_compiled(net, x, rng)
    # zero-delay fan-out and fan-in with ties at every layer
    net = eventsim.feedforward(3, [4, 4], 2, rng=3, nonpulse_init_multiplier=3.0)
    x = np.array([[0.0, 0.0, 0.0], [0.0, 1.0, 1.0], [0.5, 0.5, np.inf]])
    _check_agrees_with_compiled(net, x, rng)
