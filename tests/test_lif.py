"""LIF neurons (exponential current synapses, first spike only; docs/math.md B and 0).

The engine against the kernel-generic brute-force reference (tests/reference_lif.py)
on LIF-only and mixed alpha / LIF networks, closed forms worked by hand, exact
gradients against finite differences and the identities of docs/math.md 0.4,
invariants (time shift, thread count) and parameter validation.

Solver paths of the engine (``Network._lower``): ``tau_mem == tau_syn``
(Lambert W, run as an alpha kernel), ``tau_mem == 2 tau_syn`` (quadratic), any
other ratio (safeguarded Newton).  Every path is covered explicitly.
"""

import math

import mpmath
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy.special import lambertw

import eventsim
from eventsim.testing import strategies as es
from reference_lif import (Kernel, assert_times_equal, causal_sets, network_code,
                           neuron_potential, potential_maximum, simulate_reference)

FAST = settings(max_examples=50, deadline=None)
SMALL = settings(max_examples=25, deadline=None)
LIF = ("lif",)
MIXED = ("alpha", "lif")
# ratio tau_mem / tau_syn -> engine path
PATHS = {1.0: "lambert", 2.0: "quadratic", 0.3: "newton", 0.5: "newton", 0.7: "newton",
         1.5: "newton", 3.0: "newton", 1.0011: "newton", 0.9989: "newton"}


def lif_net(weights, *, tau_mem=1.0, tau_syn=1.0, g_leak=1.0, theta=1.0, delays=0.0):
    """One LIF neuron fed by ``len(weights)`` inputs; returns (net, neuron id)."""
    net = eventsim.Network()
    x = net.add_inputs(len(weights))
    h = net.add_population(1, model="lif", tau_mem=tau_mem, tau_syn=tau_syn, g_leak=g_leak,
                           theta=theta)
    net.connect(x.ids, h.start, np.asarray(weights, float), delays)
    return net, h.start


def check_against_reference(net, x, *, t_max=np.inf, peak=1e-7, tol=1e-9):
    ref = simulate_reference(net, x, t_max=t_max)
    # Near-tangent touches and spikes within 1e-9 of t_max are decided by rounding.
    assume(ref.well_conditioned(peak=peak, q=0.0, tmax=1e-9))
    res = eventsim.simulate(net, x, t_max=t_max, record_tape=True)
    assert res.times.shape == (x.shape[0], net.n_neurons)
    try:
        assert_times_equal(res.times, ref.times, tol=tol)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n--- reproducer ---\n{network_code(net, x)}\n"
                             f"# t_max = {t_max!r}") from None
    return res, ref


# =========================================================================== forward
@FAST
@given(st.data())
def test_lif_recurrent_with_delays(data):
    net = data.draw(es.networks(models=LIF, max_neurons=6, continuous_ratios=(0.25, 4.0)))
    x = data.draw(es.input_times(net, max_examples=3))
    check_against_reference(net, x)


@FAST
@given(st.data())
def test_mixed_recurrent_with_delays(data):
    net = data.draw(es.networks(models=MIXED, max_neurons=7, max_populations=3))
    x = data.draw(es.input_times(net, max_examples=3))
    check_against_reference(net, x)


@FAST
@given(st.data())
def test_mixed_feedforward(data):
    net = data.draw(es.feedforward_networks(models=MIXED, max_layers=3, max_width=4,
                                            skip_connections=data.draw(st.booleans()),
                                            delays=True))
    x = data.draw(es.input_times(net, max_examples=3))
    check_against_reference(net, x)


@SMALL
@given(st.data())
def test_lif_strong_inhibition(data):
    net = data.draw(es.networks(models=LIF, max_neurons=5, weights=(-2.5, 2.5),
                                density=(0.6, 1.0)))
    x = data.draw(es.input_times(net, max_examples=3))
    check_against_reference(net, x)


@SMALL
@given(st.data())
def test_lif_dense_excitatory_recurrence(data):
    """Mostly excitatory, dense, zero-delay recurrence: cascades of same-time spikes."""
    net = data.draw(es.networks(models=MIXED, min_neurons=3, max_neurons=7, weights=(-0.3, 1.5),
                                density=(0.7, 1.0), delays=False))
    x = data.draw(es.input_times(net, max_examples=3, resolution=0.5))
    check_against_reference(net, x)


@SMALL
@given(st.data())
def test_lif_continuous_times_no_ties(data):
    net = data.draw(es.networks(models=MIXED, max_neurons=5, recurrent=data.draw(st.booleans()),
                                continuous_ratios=(0.2, 5.0)))
    x = data.draw(es.input_times(net, coincident=False, allow_silent=False, max_examples=3))
    check_against_reference(net, x)


@SMALL
@given(st.data())
def test_lif_horizon(data):
    net = data.draw(es.networks(models=MIXED, max_neurons=5))
    x = data.draw(es.input_times(net, max_examples=2))
    t_max = data.draw(st.floats(0.0, 6.0))
    res, _ = check_against_reference(net, x, t_max=t_max)
    assert (res.times[np.isfinite(res.times)] <= t_max).all()


@pytest.mark.parametrize("ratio", sorted(PATHS))
@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_each_solver_path(ratio, data):
    """Networks whose LIF populations all have the same ratio tau_mem / tau_syn."""
    if data.draw(st.booleans()):
        net = data.draw(es.networks(models=LIF, max_neurons=5, tau_ratios=(ratio,)))
    else:
        net = data.draw(es.feedforward_networks(models=LIF, max_layers=2, max_width=3,
                                                tau_ratios=(ratio,), delays=True))
    x = data.draw(es.input_times(net, max_examples=3))
    for tm, ts in zip(net.tau_mem, net.tau_syn):
        assert tm == ts if ratio == 1.0 else (tm == 2 * ts if ratio == 2.0 else tm != ts)
    # next to the refused gap (|ratio - 1| ~ 1e-3) the two-exponential form loses ~3 digits
    check_against_reference(net, x, tol=1e-9)


@SMALL
@given(st.data())
def test_equal_time_constants_are_a_scaled_alpha_network(data):
    """LIF with tau_mem = tau_syn = tau is alpha with rate 1/tau and weights w/(g tau)."""
    net = data.draw(es.networks(models=LIF, tau_ratios=(1.0,), max_neurons=6))
    x = data.draw(es.input_times(net, max_examples=3))
    ref = simulate_reference(net, x)
    assume(ref.well_conditioned(peak=1e-7, q=1e-4))
    alpha = eventsim.Network()
    for p in net.populations:
        if p.kind == "input":
            alpha.add_inputs(p.size, name=p.name)
        elif p.kind == "pulse":
            alpha.add_pulses(net.pulse_times[net.source_index[p.start:p.stop]], name=p.name)
        else:
            alpha.add_population(p.size, tau=1.0 / net.tau_mem[p.index],
                                 theta=net.theta[p.index], name=p.name)
    pop = net.population_index[net.post]
    scale = 1.0 / (net.g_leak[pop] * net.tau_mem[pop])
    if net.n_synapses:
        alpha.connect(net.pre, net.post, net.weights * scale, net.delays)
    a = eventsim.simulate(net, x).times
    b = eventsim.simulate(alpha, x).times
    assert_times_equal(a, b, tol=1e-10, what="LIF(tau, tau) vs alpha(1/tau)")


@SMALL
@given(st.data())
def test_ratio_two_is_continuous_with_newton_path(data):
    """tau_mem = 2 tau_syn (quadratic closed form) against tau_mem = 2 tau_syn (1 +- d),
    d = 1e-7, solved by the general Newton path.

    t(d) is smooth in d, so (t(+d) + t(-d)) / 2 = t(0) + O(d^2 t''): with t'' bounded
    by the q >= 0.05 assumption (t'' ~ 1/q^3 near tangency, so d^2 t'' <~ 1e-10), the
    average must equal the closed form to 1e-9.  The one-sided difference
    t(+d) - t(0) = d t'(0) + O(d^2) is checked against the reference's own derivative
    t'(0) (central difference, step 1e-4, error O(1e-8 t''')) to 1e-9 + 1e-3 d |t'|."""
    d = 1e-7
    net = data.draw(es.feedforward_networks(models=LIF, max_layers=2, max_width=3,
                                            tau_ratios=(2.0,), delays=data.draw(st.booleans())))
    x = data.draw(es.input_times(net, max_examples=2))
    ref = simulate_reference(net, x)
    assume(ref.well_conditioned(peak=1e-5, q=0.05, arrival=1e-6))

    def with_factor(f):
        other = net.copy()
        other.tau_mem = net.tau_mem * f
        return other

    t0 = eventsim.simulate(net, x).times
    tp = eventsim.simulate(with_factor(1 + d), x).times
    tm = eventsim.simulate(with_factor(1 - d), x).times
    h = 1e-4
    rp, rm = (simulate_reference(with_factor(1 + s * h), x).times for s in (1, -1))
    assume(np.array_equal(np.isfinite(rp), np.isfinite(ref.times))
           and np.array_equal(np.isfinite(rm), np.isfinite(ref.times)))
    assert_times_equal(t0, ref.times, tol=1e-9, what="ratio 2 vs reference")
    assert_times_equal(tp, ref.times, tol=1e-5, what="ratio 2(1+d)")  # same silent set
    assert_times_equal(tm, ref.times, tol=1e-5, what="ratio 2(1-d)")
    fin = np.isfinite(t0)
    assert_times_equal(0.5 * (tp + tm)[fin], t0[fin], tol=1e-9, what="central average")
    with np.errstate(invalid="ignore"):
        slope = np.where(fin, (rp - rm) / (2 * h), 0.0)
        fwd = np.where(fin, (rp - ref.times) / h, 0.0)
        bwd = np.where(fin, (ref.times - rm) / h, 0.0)
    # A step of h moves a spike by h |t'|, which may carry it across an input arrival (a
    # kink of t(tau)): then the reference's central difference is no derivative.  Smooth
    # means the one-sided differences agree to O(h t'').
    assume(np.all(np.abs(fwd - bwd) <= 1e-3 * (1 + np.abs(slope))))
    pred = np.where(fin, t0 + d * slope, np.inf)
    err = np.abs(tp[fin] - pred[fin])
    assert (err <= 1e-9 + 1e-3 * d * np.abs(slope[fin])).all(), (err.max(), slope[fin])


@pytest.mark.parametrize("tau,g,theta,t0,u", [(1.0, 1.0, 1.0, 0.0, 2.0), (0.5, 2.0, 0.7, 3.0, 1.5),
                                              (2.5, 0.6, 1.3, 1.25, 10.0),
                                              (1.0, 1.0, 1.0, 0.5, 1.0001)])
def test_single_input_equal_time_constants_lambert_w(tau, g, theta, t0, u):
    """docs/math.md B.1 with one input of weight w: t = t0 - tau W0(-g theta / w)."""
    w = u * math.e * g * theta
    net, out = lif_net([w], tau_mem=tau, tau_syn=tau, g_leak=g, theta=theta)
    t = eventsim.simulate(net, [t0]).times[out]
    want = t0 - tau * lambertw(-g * theta / w, 0).real
    assert t == pytest.approx(want, rel=1e-12, abs=1e-11 if u > 1.01 else 1e-7)
    assert t0 < t <= t0 + tau


@pytest.mark.parametrize("ts,g,theta,u", [(1.0, 1.0, 1.0, 1.5), (0.4, 1.7, 0.6, 4.0),
                                          (3.0, 0.5, 2.0, 1.001)])
def test_single_input_ratio_two_quadratic(ts, g, theta, u):
    """tau_m = 2 tau_s: g V = w (x - x^2), x = exp(-s / tau_m); the earlier root of
    x^2 - x + g theta / w = 0 is x = (1 + sqrt(1 - 4 g theta / w)) / 2."""
    w = u * 4 * g * theta  # the kernel's peak is 1 / (4 g)
    net, out = lif_net([w], tau_mem=2 * ts, tau_syn=ts, g_leak=g, theta=theta)
    t = eventsim.simulate(net, [0.75]).times[out]
    x = (1 + math.sqrt(1 - 4 * g * theta / w)) / 2
    want = 0.75 - 2 * ts * math.log(x)
    assert t == pytest.approx(want, rel=1e-12, abs=1e-11 if u > 1.01 else 1e-8)


def test_several_inputs_ratio_two_closed_form():
    """docs/math.md B.2 with shifted sums: t = r + tau_m ln(2 a1' / (a2' + D'))."""
    ts, g, theta = 0.8, 1.3, 0.9
    tm = 2 * ts
    a = np.array([0.0, 0.1, 0.25, 0.3])
    w = np.array([0.5, -0.2, 0.6, 0.5]) * 4 * g * theta
    net, out = lif_net(w, tau_mem=tm, tau_syn=ts, g_leak=g, theta=theta)
    t = eventsim.simulate(net, a).times[out]
    r = a.max()
    a1 = np.sum(w * np.exp((a - r) / ts))
    a2 = np.sum(w * np.exp((a - r) / tm))
    D = math.sqrt(a2 ** 2 - 4 * a1 * g * theta)
    want = r + tm * math.log(2 * a1 / (a2 + D))
    assert want > r
    assert t == pytest.approx(want, rel=1e-12, abs=1e-12)


def test_several_inputs_tau_syn_twice_tau_mem_closed_form():
    """docs/math.md B.4, tau_s = 2 tau_m (the engine's Newton path): b1 y - b2 y^2 = c/2."""
    tm, g, theta = 0.6, 0.9, 1.1
    ts = 2 * tm
    k = Kernel("lif", tau_mem=tm, tau_syn=ts, g_leak=g)
    a = np.array([0.0, 0.2, 0.2, 0.5])
    w = np.array([0.6, 0.3, -0.15, 0.5]) * theta / k.peak
    net, out = lif_net(w, tau_mem=tm, tau_syn=ts, g_leak=g, theta=theta)
    t = eventsim.simulate(net, a).times[out]
    r = a.max()
    b1 = np.sum(w * np.exp((a - r) / ts))
    b2 = np.sum(w * np.exp(2 * (a - r) / ts))
    c = g * theta
    want = r + ts * math.log(2 * b2 / (b1 + math.sqrt(b1 ** 2 - 2 * b2 * c)))
    assert want > r
    assert t == pytest.approx(want, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("ratio", [0.3, 0.7, 1.5, 3.0, 10.0, 1.002])
@pytest.mark.parametrize("u", [1.001, 1.3, 5.0])
def test_single_input_general_ratio_mpmath(ratio, u):
    """One input, general ratio: the crossing solved at 40 digits by mpmath."""
    ts, g, theta, t0 = 0.9, 1.2, 0.8, 0.5
    tm = ratio * ts
    k = Kernel("lif", tau_mem=tm, tau_syn=ts, g_leak=g)
    w = u * theta / k.peak
    net, out = lif_net([w], tau_mem=tm, tau_syn=ts, g_leak=g, theta=theta)
    t = eventsim.simulate(net, [t0]).times[out]
    with mpmath.workdps(40):
        mtm, mts = mpmath.mpf(tm), mpmath.mpf(ts)

        def f(s):
            return (mpmath.mpf(w) * mts / (mpmath.mpf(g) * (mtm - mts))
                    * (mpmath.exp(-s / mtm) - mpmath.exp(-s / mts)) - mpmath.mpf(theta))

        s = mpmath.findroot(f, (mpmath.mpf("1e-30"), mpmath.mpf(k.peak_time)), solver="anderson")
    want = t0 + float(s)
    # near the tangency (u = 1.001) the crossing is ill-conditioned: dt ~ dV / sqrt(u - 1)
    assert t == pytest.approx(want, rel=0, abs=1e-12 if u > 1.01 else 1e-9)


@SMALL
@given(st.data())
def test_lif_near_tangent_spike_or_silence(data):
    """Weights scaled so that the membrane peak is theta (1 +- delta): the engine
    must fire (at the reference time) for +delta and stay silent for -delta."""
    n = data.draw(st.integers(1, 4))
    a = np.array(data.draw(st.lists(st.sampled_from(np.arange(0, 3.01, 0.25).tolist()),
                                    min_size=n, max_size=n)))
    # No subnormal weights: theta (1 + delta) / peak cannot be scaled to 1e-6 from there.
    normal = st.floats(-0.5, 1.0).filter(lambda x: x == 0 or abs(x) > 1e-300)
    u = np.array(data.draw(st.lists(normal, min_size=n, max_size=n)))
    ts = data.draw(st.sampled_from([0.5, 1.0, 2.0]))
    ratio = data.draw(st.sampled_from(sorted(PATHS)))
    tm = ts if ratio == 1.0 else ratio * ts
    g, theta = data.draw(st.sampled_from([(1.0, 1.0), (0.7, 1.7), (2.0, 0.5)]))
    delta = data.draw(st.sampled_from([1e-6, 1e-5, 1e-4, 1e-3]))
    k = Kernel("lif", tau_mem=tm, tau_syn=ts, g_leak=g)
    _, peak = potential_maximum(a, u, k)
    assume(peak > 1e-2 * np.abs(u).sum() * k.peak)  # not a cancellation residue
    for sign in (1, -1):
        w = u * theta * (1 + sign * delta) / peak
        net, out = lif_net(w, tau_mem=tm, tau_syn=ts, g_leak=g, theta=theta)
        t = eventsim.simulate(net, a).times[out]
        ref = simulate_reference(net, a)
        assert np.isfinite(ref.times[0, out]) == (sign == 1)
        assert_times_equal(t, ref.times[0, out], tol=1e-9 if delta > 1e-5 else 1e-8,
                           what=f"peak theta(1{sign:+d}e{np.log10(delta):.0f}), ratio {ratio}")


def test_lif_inhibition_cancels_delays_and_recovers():
    ts, tm = 1.0, 3.0
    k = Kernel("lif", tau_mem=tm, tau_syn=ts, g_leak=1.0)
    unit = 1.0 / k.peak
    net, out = lif_net([1.2 * unit], tau_mem=tm, tau_syn=ts)
    t_exc = eventsim.simulate(net, [0.0]).times[out]
    assert 0.0 < t_exc < k.peak_time
    # strong early inhibition cancels it
    net, out = lif_net([1.2 * unit, -2.0 * unit], tau_mem=tm, tau_syn=ts)
    assert np.isinf(eventsim.simulate(net, [0.0, 0.2]).times[out])
    # weak inhibition delays it
    net, out = lif_net([1.2 * unit, -0.05 * unit], tau_mem=tm, tau_syn=ts)
    t = eventsim.simulate(net, [0.0, 0.2]).times[out]
    assert t_exc < t < np.inf
    assert t == pytest.approx(simulate_reference(net, [0.0, 0.2]).times[0, out], abs=1e-12)
    # inhibition after the spike changes nothing
    net, out = lif_net([1.2 * unit, -2.0 * unit], tau_mem=tm, tau_syn=ts)
    assert eventsim.simulate(net, [0.0, t_exc + 0.01]).times[out] == t_exc
    # cancelled, then re-created by later excitation
    net, out = lif_net([1.2 * unit, -2.0 * unit, 3.0 * unit], tau_mem=tm, tau_syn=ts)
    x = [0.0, 0.2, 6.0]
    t = eventsim.simulate(net, x).times[out]
    assert 6.0 < t < 6.0 + k.peak_time
    assert t == pytest.approx(simulate_reference(net, x).times[0, out], abs=1e-12)


@pytest.mark.parametrize("tm,ts", [(3.0, 0.3), (0.3, 3.0), (10.0, 0.5)])
def test_lif_crossing_in_unbounded_last_interval(tm, ts):
    """A slow kernel (peak at 0.77 or 1.58 after the input) crosses long after the
    last input, in the unbounded last interval."""
    k = Kernel("lif", tau_mem=tm, tau_syn=ts, g_leak=1.0)
    net, out = lif_net([1.3 / k.peak, -0.1 / k.peak], tau_mem=tm, tau_syn=ts)
    x = [0.0, 0.05]
    t = eventsim.simulate(net, x).times[out]
    want = simulate_reference(net, x).times[0, out]
    assert 0.2 < want < k.peak_time
    assert t == pytest.approx(want, abs=1e-12)


@SMALL
@given(st.data())
def test_swapping_time_constants(data):
    """kappa with (tau_m, tau_s) swapped is kappa * tau_m / tau_s: swapping them and
    scaling the weights into the population by tau_s / tau_m changes no spike time.
    (Ratio 2 becomes ratio 1/2: the quadratic path against the Newton path.)"""
    net = data.draw(es.networks(models=MIXED, max_neurons=6, tau_ratios=(2.0, 0.3, 3.0),
                                continuous_ratios=(0.25, 4.0)))
    x = data.draw(es.input_times(net, max_examples=3))
    assume(simulate_reference(net, x).well_conditioned(peak=1e-7, q=1e-4))
    swapped = net.copy()
    lif = np.array([m == "lif" for m in net.models])
    tm, ts = net.tau_mem.copy(), net.tau_syn.copy()
    swapped.tau_syn = np.where(lif, tm, np.nan)  # (tm, tm) on the way: never a near-1 ratio
    swapped.tau_mem = np.where(lif, ts, np.nan)
    pop = net.population_index[net.post]
    factor = np.where(lif[pop], ts[pop] / tm[pop], 1.0)
    swapped.weights = net.weights * factor
    a = eventsim.simulate(net, x).times
    b = eventsim.simulate(swapped, x).times
    assert_times_equal(b, a, tol=1e-10, what="swapped tau_mem, tau_syn")


def test_crossing_with_far_interval_end():
    """A fast kernel (tau_m = 0.05) crosses right after an input, and the next input
    comes 100 time constants later: dV/dt underflows to 0 at the interval's end.
    (The first version of the reference missed this crossing.)"""
    tm, ts, g, theta = 0.05, 0.1, 0.1, 100.0
    k = Kernel("lif", tau_mem=tm, tau_syn=ts, g_leak=g)
    w = 3.0 * theta / k.peak
    net, out = lif_net([w, -w], tau_mem=tm, tau_syn=ts, g_leak=g, theta=theta)
    x = [0.0, 78.0]
    want = simulate_reference(net, x).times[0, out]
    alone = simulate_reference(lif_net([w], tau_mem=tm, tau_syn=ts, g_leak=g,
                                       theta=theta)[0], [0.0]).times[0, 1]
    assert want == alone and 0 < want < k.peak_time
    assert eventsim.simulate(net, x).times[out] == pytest.approx(want, abs=1e-13)


def test_large_fan_in_and_extreme_scales():
    """Single neurons with 1..150 inputs over [0, 1], [0, 20] or [0, 200], weights up
    to 1e4 times threshold / peak, tau_syn in {0.1, 1, 5}, g_l in {0.1, 1, 10},
    theta in {0.01, 1, 100}, ratios from 0.02 to 50 (and next to the refused gap)."""
    rng = np.random.default_rng(20240611)
    checked = 0
    for _ in range(60):
        r = rng.choice([1.0, 2.0, 0.5, 0.3, 3.0, 1.0011, 50.0, 0.02])
        ts = rng.choice([0.1, 1.0, 5.0])
        tm = ts if r == 1 else r * ts
        g, theta = rng.choice([0.1, 1.0, 10.0]), rng.choice([0.01, 1.0, 100.0])
        k = Kernel("lif", tau_mem=tm, tau_syn=ts, g_leak=g)
        n = int(rng.integers(1, 150))
        w = (rng.normal(0.05, 1.0, n) * theta / k.peak * rng.choice([1.0, 0.1, 1e4])
             / np.sqrt(n))
        a = np.sort(rng.uniform(0, rng.choice([1, 20, 200]), n))
        net, out = lif_net(w, tau_mem=tm, tau_syn=ts, g_leak=g, theta=theta)
        ref = simulate_reference(net, a)
        if not ref.well_conditioned(peak=1e-7, q=1e-6):
            continue
        assert_times_equal(eventsim.simulate(net, a).times[out], ref.times[0, out], tol=1e-9,
                           what=f"ratio {r}, tau_syn {ts}, g {g}, theta {theta}, n {n}")
        checked += np.isfinite(ref.times[0, out])
    assert checked >= 15


def test_coincident_lif_inputs_sum():
    for tm, ts in [(1.0, 1.0), (2.0, 1.0), (0.7, 1.0)]:
        net2, o2 = lif_net([1.5, 1.5], tau_mem=tm, tau_syn=ts, theta=0.4)
        net1, o1 = lif_net([3.0], tau_mem=tm, tau_syn=ts, theta=0.4)
        a = eventsim.simulate(net2, [0.75, 0.75]).times[o2]
        b = eventsim.simulate(net1, [0.75]).times[o1]
        assert np.isfinite(b) and a == pytest.approx(b, abs=1e-13)


# =========================================================================== gradients
from finite_differences import (H, RTOL, FiniteDifferences,  # noqa: E402,F401
                                assert_gradient_identities, linear_loss, setter)


def assert_close(got, want, what, net, x):
    tol = RTOL * np.maximum(1.0, np.abs(want))
    assert not np.any(np.abs(got - want) > tol), (
        f"{what}: backward {got!r} vs finite differences {want!r}\n--- reproducer ---\n"
        f"{network_code(net, x)}")


def check_all_gradients(net, x, c):
    """Every parameter kind against finite differences; returns #derivatives checked."""
    res = eventsim.simulate(net, x, record_tape=True)
    g = eventsim.backward(net, res, c)
    assert g.theta.shape == net.theta.shape and g.input_times.shape == x.shape
    fd = FiniteDifferences(net, x, c)
    n = 0
    for k in range(net.n_synapses):
        d = fd.derivative(setter(net, "weights", k))
        if d is not None:
            assert_close(g.weights[k], d.sum(), f"dL/dw[{k}]", net, x)
            n += 1
        d = fd.derivative(setter(net, "delays", k), one_sided=net.delays[k] < 3 * H)
        if d is not None:
            assert_close(g.delays[k], d.sum(), f"dL/dd[{k}]", net, x)
            n += 1
    for p in range(net.n_populations):
        d = fd.derivative(setter(net, "theta", p))
        if d is not None:
            assert_close(g.theta[p], d.sum(), f"dL/dtheta[{p}] ({net.models[p]})", net, x)
            n += 1
    for p in range(net.n_pulses):
        if not np.isfinite(net.pulse_times[p]):
            assert g.pulse_times[p] == 0.0
            continue
        d = fd.derivative(setter(net, "pulse_times", p))
        if d is not None:
            assert_close(g.pulse_times[p], d.sum(), f"dL/dpulse[{p}]", net, x)
            n += 1
    for i in range(net.n_inputs):

        def apply(delta, i=i):
            xx = x.copy()
            xx[:, i] += delta
            return xx

        d = fd.derivative(apply)
        if d is not None:
            for e in range(x.shape[0]):
                if np.isfinite(x[e, i]):
                    assert_close(g.input_times[e, i], d[e], f"dL/dx[{e}, {i}]", net, x)
                    n += 1
                else:
                    assert g.input_times[e, i] == 0.0
    return n


def draw_c(data, shape):
    return np.random.default_rng(data.draw(st.integers(0, 2**32 - 1))).normal(size=shape)


def gradient_ready(net, x):
    return simulate_reference(net, x).well_conditioned(peak=1e-6, q=1e-2, arrival=1e-5)


@settings(max_examples=30, deadline=None)
@given(st.data())
def test_gradients_lif_recurrent(data):
    net = data.draw(es.networks(models=LIF, max_neurons=4, max_inputs=3, max_delay=1.0,
                                weights=(-0.7, 2.5), density=(0.4, 1.0),
                                continuous_ratios=(0.25, 4.0)))
    x = data.draw(es.input_times(net, max_examples=2))
    assume(gradient_ready(net, x))
    check_all_gradients(net, x, draw_c(data, (x.shape[0], net.n_neurons)))


@settings(max_examples=30, deadline=None)
@given(st.data())
def test_gradients_mixed_feedforward(data):
    net = data.draw(es.feedforward_networks(models=MIXED, max_layers=2, max_width=3,
                                            max_inputs=3, delays=data.draw(st.booleans()),
                                            skip_connections=data.draw(st.booleans())))
    x = data.draw(es.input_times(net, max_examples=2, coincident=data.draw(st.booleans())))
    assume(gradient_ready(net, x))
    check_all_gradients(net, x, draw_c(data, (x.shape[0], net.n_neurons)))


@pytest.mark.parametrize("ratio", [1.0, 2.0, 0.5, 3.0])
@settings(max_examples=8, deadline=None)
@given(data=st.data())
def test_gradients_each_solver_path(ratio, data):
    net = data.draw(es.feedforward_networks(models=LIF, max_layers=2, max_width=3, max_inputs=3,
                                            tau_ratios=(ratio,), delays=True))
    x = data.draw(es.input_times(net, max_examples=2))
    assume(gradient_ready(net, x))
    check_all_gradients(net, x, draw_c(data, (x.shape[0], net.n_neurons)))


@pytest.mark.parametrize("tm,ts", [(1.3, 1.3), (2.0, 1.0), (0.6, 1.1), (4.0, 1.0)])
def test_gradients_single_lif_neuron_closed_form(tm, ts):
    """docs/math.md 0 with the LIF kernel: dt/dw_i = -kappa(t - a_i)/Vdot,
    dt/da_i = w_i kappa'(t - a_i)/Vdot, dt/dtheta = 1/Vdot; and the identities
    sum_i dt/da_i = 1, sum_i w_i dt/dw_i = -theta dt/dtheta."""
    g, theta = 0.8, 0.7
    k = Kernel("lif", tau_mem=tm, tau_syn=ts, g_leak=g)
    w = np.array([1.1, -0.4, 0.9]) * theta / k.peak
    a = np.array([0.0, 0.2, 0.35])
    net, out = lif_net(w, tau_mem=tm, tau_syn=ts, g_leak=g, theta=theta)
    res = eventsim.simulate(net, a, record_tape=True)
    t = res.times[out]
    assert np.isfinite(t) and t > a.max()
    s = t - a
    vdot = np.sum(w * k.ds(s))
    gr = eventsim.backward(net, res, np.eye(net.n_neurons)[out])
    np.testing.assert_allclose(gr.weights, -k(s) / vdot, rtol=1e-10)
    np.testing.assert_allclose(gr.delays, w * k.ds(s) / vdot, rtol=1e-10)
    np.testing.assert_allclose(gr.input_times[0], gr.delays, rtol=1e-12)
    np.testing.assert_allclose(gr.theta, [1 / vdot], rtol=1e-10)
    assert gr.input_times.sum() == pytest.approx(1.0, abs=1e-12)
    assert np.sum(w * gr.weights) == pytest.approx(-theta * gr.theta[0], rel=1e-12)


@SMALL
@given(st.data())
def test_lif_time_shift_and_scaling_identities(data):
    """The gradient identities of docs/math.md 0 on mixed alpha/LIF networks, every solver path."""
    net = data.draw(es.networks(models=MIXED, max_neurons=6, continuous_ratios=(0.25, 4.0)))
    x = data.draw(es.input_times(net, max_examples=3))
    assume(simulate_reference(net, x).well_conditioned(peak=1e-7, q=1e-3))
    c = draw_c(data, (x.shape[0], net.n_neurons))
    res = eventsim.simulate(net, x, record_tape=True)
    assert_gradient_identities(net, res, eventsim.backward(net, res, c), c)


@pytest.mark.parametrize("tm,ts", [(1.0, 1.0), (2.0, 1.0), (0.5, 1.0)])
@pytest.mark.parametrize("clip", [1e-3, 0.05, 0.3])
def test_clip_derivative_lif_one_layer(rng, tm, ts, clip):
    """clip_derivative clips each local dt_j/dw_k = -kappa/Vdot and dt_j/da_k =
    w kappa'/Vdot (in the model's own units, not dt/dtheta), for every solver path."""
    g_l, theta = 0.7, 0.6
    k = Kernel("lif", tau_mem=tm, tau_syn=ts, g_leak=g_l)
    net = eventsim.Network()
    x = net.add_inputs(3)
    p = net.add_pulses([0.3])
    h = net.add_population(4, model="lif", tau_mem=tm, tau_syn=ts, g_leak=g_l, theta=theta)
    net.connect_dense(x, h, rng.uniform(-0.3, 1.5, (3, 4)) * theta / k.peak, 0.05)
    net.connect_dense(p, h, np.full((1, 4), 0.4 * theta / k.peak))
    xx = rng.uniform(0, 1, (5, 3))
    res = eventsim.simulate(net, xx, record_tape=True)
    ref = simulate_reference(net, xx)
    assert ref.well_conditioned(peak=1e-6, q=1e-3, arrival=1e-9)
    t = res.times
    assert np.isfinite(t[:, h.ids]).sum() >= 5
    pre, post = net.pre, net.post
    s = t[:, post] - (t[:, pre] + net.delays)  # (examples, synapses)
    causal = np.isfinite(t[:, post]) & np.isfinite(s) & (s > 0)
    ss = np.where(causal, s, 1.0)
    vdot = np.zeros(t.shape)
    np.add.at(vdot.T, post, (np.where(causal, net.weights * k.ds(ss), 0.0)).T)
    vd = np.where(causal, vdot[:, post], 1.0)
    dw = np.where(causal, -k(ss) / vd, 0.0)
    da = np.where(causal, net.weights * k.ds(ss) / vd, 0.0)
    assert np.abs(np.concatenate([dw, da])).max() > clip
    c = rng.normal(size=t.shape)
    cj = np.where(np.isfinite(t), c, 0.0)[:, post]
    g = eventsim.backward(net, res, c, clip_derivative=clip)
    g0 = eventsim.backward(net, res, c)
    np.testing.assert_allclose(g0.weights, (cj * dw).sum(0), rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(g.weights, (cj * np.clip(dw, -clip, clip)).sum(0),
                               rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(g.delays, (cj * np.clip(da, -clip, clip)).sum(0),
                               rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(g.theta, g0.theta, rtol=1e-12)


@SMALL
@given(st.data())
def test_penalty_no_spike_lif(data):
    """Each example in which neuron j stays silent adds -penalty to the gradient of
    every weight into j, whatever its model; nothing else changes."""
    net = data.draw(es.networks(models=MIXED, max_neurons=6))
    x = data.draw(es.input_times(net, max_examples=4))
    penalty = data.draw(st.sampled_from([0.5, 1e-3, 7.0]))
    c = draw_c(data, (x.shape[0], net.n_neurons))
    res = eventsim.simulate(net, x, record_tape=True)
    g0 = eventsim.backward(net, res, c)
    g = eventsim.backward(net, res, c, penalty_no_spike=penalty)
    n_silent = (~np.isfinite(res.times)).sum(axis=0)
    want = g0.weights - penalty * n_silent[net.post]
    np.testing.assert_allclose(g.weights, want, rtol=1e-12, atol=1e-12 * max(1.0, penalty))
    for field in ("delays", "theta", "pulse_times", "input_times"):
        np.testing.assert_array_equal(getattr(g, field), getattr(g0, field))


def test_value_and_grad_lif(rng):
    net = eventsim.Network()
    x = net.add_inputs(3, name="x")
    p = net.add_pulses([0.2], name="p")
    h = net.add_population(4, model="lif", tau_mem=2.0, tau_syn=1.0, theta=0.3, name="h")
    o = net.add_population(2, model="lif", tau_mem=1.0, tau_syn=0.6, theta=0.2, name="out")
    net.connect_dense(x, h, rng.uniform(0.5, 2.0, (3, 4)))
    net.connect_dense(p, h, np.full((1, 4), 0.5))
    net.connect_dense(h, o, rng.uniform(0.2, 1.5, (4, 2)))
    xx = rng.uniform(0, 1, (5, 3))
    c = rng.normal(size=(5, 2))
    loss, g, res = eventsim.value_and_grad(net, xx, lambda t: (linear_loss(t, c).sum(), c),
                                           outputs=o.ids)
    assert np.isfinite(res.times[:, o.ids]).all()
    g2 = eventsim.backward(net, eventsim.simulate(net, xx, record_tape=True), c, outputs=o.ids)
    for field in ("weights", "delays", "theta", "pulse_times", "input_times"):
        np.testing.assert_array_equal(getattr(g, field), getattr(g2, field))
    assert np.abs(g.theta).min() > 0  # both LIF populations have a threshold gradient


# =========================================================================== invariants
@SMALL
@given(st.data())
def test_lif_time_shift(data):
    """Shifting every input and pulse by c shifts every spike by c (delays fixed);
    large c exercises the rebasing of exponentials (e^{t/tau} overflows at t ~ 709 tau)."""
    net = data.draw(es.networks(models=data.draw(st.sampled_from([LIF, MIXED])), max_neurons=6,
                                continuous_ratios=(0.25, 4.0)))
    x = data.draw(es.input_times(net, max_examples=3))
    c = data.draw(st.sampled_from([0.25, -1.5, 17.75, 1000.0, 1e5, 123456.5]))
    assume(simulate_reference(net, x).well_conditioned(peak=1e-7, q=1e-3))
    base = eventsim.simulate(net, x).times
    shifted_net = net.copy()
    shifted_net.pulse_times = net.pulse_times + c
    shifted = eventsim.simulate(shifted_net, x + c).times
    # a few thousand ulp of |c| (rounding of t - a_i at |t| ~ |c|), and 1e-9 absolute
    fin = np.isfinite(base)
    assert np.array_equal(np.isfinite(shifted), fin), "silent set changed under the shift"
    err = np.abs(shifted[fin] - (base[fin] + c))
    assert (err <= 1e-9 + 1e-12 * abs(c)).all(), (
        f"shift {c}: max error {err.max():.3g}\n{network_code(net, x)}")


@SMALL
@given(st.data())
def test_lif_thread_count_bit_identical(data):
    net = data.draw(es.networks(models=MIXED, max_neurons=7, continuous_ratios=(0.25, 4.0)))
    x = data.draw(es.input_times(net, n_examples=data.draw(st.integers(5, 9))))
    c = draw_c(data, (x.shape[0], net.n_neurons))
    runs = []
    for k in (1, 3):
        r = eventsim.simulate(net, x, record_tape=True, n_threads=k)
        runs.append((r, eventsim.backward(net, r, c, n_threads=k, penalty_no_spike=0.25)))
    (r1, g1), (r3, g3) = runs
    assert np.array_equal(r1.times, r3.times)
    assert np.array_equal(r1.n_events, r3.n_events)
    assert np.array_equal(r1.tape.q, r3.tape.q, equal_nan=True)
    for field in ("weights", "delays", "theta", "pulse_times", "input_times"):
        assert np.array_equal(getattr(g1, field), getattr(g3, field)), field


# =========================================================================== membrane potential
@SMALL
@given(st.data())
def test_membrane_potential_lif_matches_kernel_sum(data):
    net = data.draw(es.networks(models=MIXED, max_neurons=5, continuous_ratios=(0.25, 4.0)))
    x = data.draw(es.input_times(net, n_examples=1))
    times = eventsim.simulate(net, x[0]).times
    t = np.linspace(-0.5, 8.0, 57)
    for j in np.flatnonzero(net.kind == eventsim.NEURON):
        got = eventsim.membrane_potential(net, times, j, t)
        want = neuron_potential(net, times, j, t)
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12,
                                   err_msg=f"neuron {j} ({net.models[net.population_index[j]]})")
        if np.isfinite(times[j]):  # it reaches theta exactly at its spike
            theta = net.theta[net.population_index[j]]
            v = eventsim.membrane_potential(net, times, j, [times[j]])[0]
            assert v == pytest.approx(theta, rel=1e-9)


# =========================================================================== errors
@pytest.mark.parametrize("tm,ts", [(1.0, 1.0005), (1.0, 0.9995), (2.0, 2.0 * (1 + 1e-9)),
                                   (1.0, 1.0 + 9.9e-4)])
def test_near_one_ratio_refused(tm, ts):
    net = eventsim.Network()
    with pytest.raises(ValueError, match="tau_syn / tau_mem"):
        net.add_population(1, model="lif", tau_mem=tm, tau_syn=ts)
    net.add_population(1, model="lif", tau_mem=1.0, tau_syn=1.0)
    with pytest.raises(ValueError, match="tau_syn / tau_mem"):
        net.tau_syn = [ts / tm]
    with pytest.raises(ValueError, match="tau_syn / tau_mem"):
        net.tau_mem = [tm / ts]
    assert net.tau_mem[0] == 1.0 and net.tau_syn[0] == 1.0  # unchanged after refusal


@pytest.mark.parametrize("tm,ts", [(1.0, 1.0), (1.0, 1.0011), (2.0, 1.0), (1.0, 0.998)])
def test_ratio_allowed(tm, ts):
    net = eventsim.Network()
    net.add_population(1, model="lif", tau_mem=tm, tau_syn=ts)
    assert net.tau_mem[0] == tm and net.tau_syn[0] == ts


@pytest.mark.parametrize("key", ["tau_mem", "tau_syn", "g_leak", "theta"])
@pytest.mark.parametrize("bad", [0.0, -1.0, np.inf, np.nan])
def test_lif_parameters_must_be_positive(key, bad):
    net = eventsim.Network()
    kw = {"tau_mem": 1.0, "tau_syn": 1.0, key: bad}
    with pytest.raises(ValueError):
        net.add_population(1, model="lif", **kw)
    net.add_population(1, model="lif", tau_mem=1.0, tau_syn=1.0)
    with pytest.raises(ValueError):
        setattr(net, key, [bad])


def test_model_parameter_arrays_and_nan_rules():
    net = eventsim.Network()
    net.add_inputs(1)
    a = net.add_population(2, model="alpha", tau=1.5, theta=0.5, name="a")
    b = net.add_population(1, model="lif", tau_mem=2.0, tau_syn=0.5, g_leak=0.3, theta=0.7,
                           name="b")
    assert net.models == ("alpha", "lif")
    assert net.tau[0] == 1.5 and np.isnan(net.tau[1])
    assert np.isnan(net.tau_mem[0]) and net.tau_mem[1] == 2.0
    assert np.isnan(net.tau_syn[0]) and net.tau_syn[1] == 0.5
    assert np.isnan(net.g_leak[0]) and net.g_leak[1] == 0.3
    np.testing.assert_array_equal(net.theta, [0.5, 0.7])
    assert net.population_params("b") == {"model": "lif", "tau_mem": 2.0, "tau_syn": 0.5,
                                          "g_leak": 0.3, "theta": 0.7}
    assert net.population_params(a) == {"model": "alpha", "tau": 1.5, "theta": 0.5}
    assert net.population_params(1)["model"] == "lif"
    # a LIF population has no tau: setting it is refused unless NaN
    with pytest.raises(ValueError, match="no parameter 'tau'"):
        net.tau = [1.0, 1.0]
    net.tau = [2.0, np.nan]
    assert net.tau[0] == 2.0
    # and an alpha population has no tau_mem / tau_syn / g_leak
    for key in ("tau_mem", "tau_syn", "g_leak"):
        with pytest.raises(ValueError, match=f"no parameter '{key}'"):
            setattr(net, key, [1.0, getattr(net, key)[1]])
    net.theta = [0.9, 0.8]
    np.testing.assert_array_equal(net.theta, [0.9, 0.8])
    # wrong-model keyword arguments
    with pytest.raises(ValueError, match="unknown parameters"):
        net.add_population(1, model="lif", tau=1.0)
    with pytest.raises(ValueError, match="unknown parameters"):
        net.add_population(1, model="alpha", tau_mem=1.0)
    with pytest.raises(ValueError, match="unknown neuron model"):
        net.add_population(1, model="izhikevich")
    assert b.size == 1


def test_copy_keeps_lif_parameters():
    net, out = lif_net([3.0], tau_mem=1.5, tau_syn=0.5, g_leak=0.9, theta=0.4)
    other = net.copy()
    other.tau_mem = [1.0]
    assert net.tau_mem[0] == 1.5 and other.population_params(0)["tau_mem"] == 1.0
    t1 = eventsim.simulate(net, [0.0]).times[out]
    t2 = eventsim.simulate(other, [0.0]).times[out]
    assert np.isfinite(t1) and np.isfinite(t2) and t1 != t2


# =========================================================================== strategies
@settings(max_examples=30, deadline=None)
@given(st.data())
def test_strategies_draw_lif_populations(data):
    ratios = data.draw(st.sampled_from([(1.0,), (2.0,), (0.3, 3.0), es.LIF_RATIOS]))
    net = data.draw(es.networks(models=LIF, tau_ratios=ratios))
    assert set(net.models) == {"lif"} and np.isnan(net.tau).all()
    r = net.tau_mem / net.tau_syn
    for tm, ts, rr in zip(net.tau_mem, net.tau_syn, r):
        assert any(tm == ts if q == 1.0 else (tm == 2 * ts if q == 2.0 else abs(rr - q) < 1e-12)
                   for q in ratios)
    # weights in units of theta / kernel peak
    pop = net.population_index[net.post]
    peaks = np.array([Kernel("lif", tau_mem=tm, tau_syn=ts, g_leak=g).peak
                      for tm, ts, g in zip(net.tau_mem, net.tau_syn, net.g_leak)])
    u = net.weights * peaks[pop] / net.theta[pop]
    assert (u >= -1.0 - 1e-9).all() and (u <= 2.5 + 1e-9).all()
    ff = data.draw(es.feedforward_networks(models=MIXED, continuous_ratios=(0.25, 4.0)))
    assert set(ff.models) <= {"alpha", "lif"}
    for tm, ts in zip(ff.tau_mem, ff.tau_syn):
        assert np.isnan(tm) or tm == ts or abs(ts / tm - 1) >= 1e-2


def test_strategies_reject_bad_model_arguments():
    with pytest.raises(ValueError):
        es.networks(models=("alpha", "hh"))
    with pytest.raises(ValueError):
        es.networks(models=())
    with pytest.raises(ValueError):
        es.networks(models=LIF, tau_ratios=(1.0005,))
    with pytest.raises(ValueError):
        es.feedforward_networks(models=LIF, tau_syn=(0.0, 1.0))
    with pytest.raises(ValueError):
        es.networks(models=LIF, tau_ratios=(), continuous_ratios=None)
