"""Self-tests of ``tests/tangent_spiketrains.py`` (the forward-mode reference).

The reference is only useful as a check of eventsim's EventProp gradients if it is
itself right, so every tangent is compared with finite differences of the exact
simulator (or with closed forms evaluated by mpmath):

* tangents of spike times w.r.t. every kind of parameter on random recurrent
  networks (2-8 neurons, mixed time-constant ratios, refractoriness, resets away
  from 0, bias, autapses, delays, inhibition);
* the gradient of ``sum of all spike times`` w.r.t. all weights (the check of
  Wunderlich & Pehle 2021);
* constant drive, where ``t_k`` is a closed form in bias, theta, v_reset, tau_mem;
* one input into a neuron that fires once (``t_ref = inf``): the crossing by
  mpmath's root finder on the kernel's phi form, differentiated by mpmath (time
  constants equal and unequal);
* the LI readout: ``V(t)`` at fixed times and ``max_t V``.

Finite differences use ``h = 1e-6 * max(1, |p|)`` and require the same spike
count in every perturbed run; ill-conditioned draws (slope near 0 at a crossing,
a sub-threshold maximum near theta, an arrival near a spike or release) are
``assume``-d away because no finite difference is reliable there.  Where the
plain difference misses 1e-6 because the spike time is strongly curved in the
parameter, its Richardson extrapolation is compared instead (``fd_compare``).

Hypothesis loads the ``eventsim`` plugin entry point at import time; if the
installed eventsim does not import, run with ``HYPOTHESIS_NO_PLUGINS=1`` (this
file does not use eventsim).
"""

import math

import mpmath as mp
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import tangent_spiketrains as ts

T_MAX = 10.0
REL_H = 1e-6
# |tangent - FD| <= RTOL (|tangent| + 1): spike times are O(1..10), so "+1" is the
# natural floor of a relative error for derivatives that happen to be near 0
RTOL = 1e-6
KINDS = ("weight", "delay", "input") + ts.NEURON_PARAMS
SETTINGS = settings(max_examples=25, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])


# ---------------------------------------------------------------------------------------------
# Random networks
# ---------------------------------------------------------------------------------------------

def kappa_peak(tau_mem, tau_syn):
    """Maximum of the synaptic kernel ``kappa`` (for scaling the weights)."""
    if tau_mem == tau_syn:
        s = tau_mem
    else:
        s = tau_mem * tau_syn / (tau_mem - tau_syn) * math.log(tau_mem / tau_syn)
    return ts.kernel_moments(s, tau_mem, tau_syn)[0] / tau_mem


def make_network(rng, n, n_in, ratios, t_refs, p_conn, n_li=0, w_scale=1.0):
    """A random recurrent network (``n`` LIF neurons, then ``n_li`` LI readouts).

    Weights are drawn in units of the weight that lifts ``V`` by ``theta`` at the
    kernel's peak, about a third inhibitory; a third of the delays are 0;
    autapses are allowed; LI readouts receive from everything and project to
    nothing.
    """
    neurons = []
    for i in range(n + n_li):
        tau_syn = rng.uniform(0.5, 2.0)
        g = rng.uniform(0.5, 2.0)
        theta = rng.uniform(0.5, 1.5)
        v_reset = theta * rng.choice([-1, 1]) * rng.uniform(0.1, 0.5)   # never 0
        neurons.append(dict(
            tau_mem=float(ratios[i % len(ratios)] * tau_syn), tau_syn=float(tau_syn),
            g_leak=float(g), theta=float(theta), v_reset=float(v_reset),
            t_ref=float(t_refs[i % len(t_refs)]),
            bias=float(g * theta * rng.uniform(-0.3, 1.2)),      # some neurons fire tonically
            v_init=float(theta * rng.uniform(-0.3, 0.8)),
            model="lif" if i < n else "li"))
    pre, post, weight, delay = [], [], [], []
    for a in range(n_in + n):
        for b in range(n + n_li):
            if rng.random() < (p_conn if b < n else 0.8):
                nb = neurons[b]
                unit = nb["g_leak"] * nb["theta"] / kappa_peak(nb["tau_mem"], nb["tau_syn"])
                pre.append(a)
                post.append(n_in + b)
                # recurrent weights weaker than input weights: with t_ref = 0 a strong
                # excitatory loop bursts without bound (legitimate, but useless for FD)
                lo, hi = (-0.6, 1.8) if a < n_in else (-1.0, 0.7)
                weight.append(w_scale * unit * rng.uniform(lo, hi))
                delay.append(0.0 if rng.random() < 0.3 else rng.uniform(0.05, 1.5))
    desc = dict(n_inputs=n_in, neurons=neurons, pre=np.array(pre, dtype=int),
                post=np.array(post, dtype=int), weight=np.array(weight), delay=np.array(delay))
    inputs = [np.sort(rng.uniform(0.2, 8.0, rng.integers(1, 5))) for _ in range(n_in)]
    return desc, inputs


@st.composite
def networks(draw, n_li=0):
    n = draw(st.integers(2, 8))
    n_in = draw(st.integers(1, 3))
    ratios = draw(st.lists(st.sampled_from([0.3, 1.0, 2.0, 10.0]), min_size=n + n_li,
                           max_size=n + n_li))
    t_refs = draw(st.lists(st.sampled_from([0.0, 0.5]), min_size=n + n_li, max_size=n + n_li))
    p_conn = draw(st.sampled_from([0.3, 0.6]))
    seed = draw(st.integers(0, 2**32 - 1))
    return make_network(np.random.default_rng(seed), n, n_in, ratios, t_refs, p_conn, n_li)


def well_conditioned(desc, inputs, params):
    """Tangent run, or ``assume`` it away when finite differences cannot be trusted."""
    try:
        spikes, dspikes, info = ts.simulate_tangents(desc, inputs, T_MAX, params,
                                                      max_spikes=150, return_info=True)
    except RuntimeError:          # runaway excitation: too slow, and chaotic
        assume(False)
    assume(sum(len(s) for s in spikes) > 0)
    assume(info["min_slope"] > 1e-2 and info["peak_gap"] > 1e-3)
    # every event moves by about h |dt/dp|: no arrival may cross a spike or release
    biggest = max((float(np.abs(d).max()) for d in dspikes if d.size), default=0.0)
    assume(biggest < 1e3 and info["event_gap"] > 1e-4 * (1.0 + biggest))
    return spikes, dspikes, info


def pick_params(desc, inputs, data, per_kind=2):
    """Up to ``per_kind`` parameters of every kind, chosen by hypothesis."""
    everything = ts.all_params(desc, inputs)
    out = []
    for kind in KINDS:
        group = [p for p in everything if p[0] == kind]
        if group:
            idx = data.draw(st.lists(st.integers(0, len(group) - 1), min_size=1,
                                     max_size=per_kind, unique=True))
            out += [group[j] for j in idx]
    return out


def step(desc, inputs, param):
    return REL_H * max(1.0, abs(ts.get_param(desc, inputs, param)))


def spike_fun(counts):
    """``(desc, inputs) -> all spike times``, refusing a different spike count."""
    def fun(desc, inputs):
        spikes = ts.simulate(desc, inputs, T_MAX, max_spikes=1000)
        if [len(s) for s in spikes] != counts:
            raise ValueError("spike count changed")
        return np.concatenate(spikes) if spikes else np.zeros(0)
    return fun


def rel_error(tangent, fd):
    tangent, fd = np.asarray(tangent), np.asarray(fd)
    if tangent.size == 0:
        return 0.0
    return float(np.max(np.abs(tangent - fd) / (np.abs(tangent) + 1.0)))


def fd_compare(fun, desc, inputs, par, tangent, f0_for_kink=None):
    """Relative error of ``tangent`` against finite differences of ``fun``.

    Central difference with ``h = 1e-6 max(1, |p|)`` (one-sided second order for a
    delay or input time at 0).  If that misses ``RTOL / 10``, the difference with ``2h``
    is computed too and the Richardson extrapolation ``(4 D(h) - D(2h)) / 3`` is
    compared instead: strongly curved spike times (tonic firing with ``bias/g``
    just above ``theta``: ``t_k ~ ln(b - theta)``) have an ``O(h^2)`` truncation
    error above ``1e-6``, and the extrapolation removes it (the rounding error
    stays ``~ eps t / h``).  With ``f0_for_kink`` (``fun`` at the base point) a
    kink of the last output (``max_t V``) is ``assume``-d away: there the one-sided
    differences disagree.  A changed spike count raises ValueError.
    """
    h = step(desc, inputs, par)
    if ts.get_param(desc, inputs, par) < 2 * h:
        fd = ts.finite_difference(fun, desc, inputs, par, h)
    else:
        fp = fun(*ts.perturb(desc, inputs, par, h))
        fm = fun(*ts.perturb(desc, inputs, par, -h))
        fd = (fp - fm) / (2 * h)
        if f0_for_kink is not None:
            up, down = (fp[-1] - f0_for_kink[-1]) / h, (f0_for_kink[-1] - fm[-1]) / h
            assume(abs(up - down) < 1e-4 * (1 + abs(up)))
    err = rel_error(tangent, fd)
    if err > 0.1 * RTOL:
        fd2 = ts.finite_difference(fun, desc, inputs, par, 2 * h)
        err = rel_error(tangent, (4 * fd - fd2) / 3)
    return err


MAX_SEEN = {}


def record(name, err):
    """Largest error seen per test (printed with ``-s``: the figures in the report)."""
    MAX_SEEN[name] = max(MAX_SEEN.get(name, 0.0), err)
    print(f"max {name} error so far: {MAX_SEEN[name]:.2e}")


# ---------------------------------------------------------------------------------------------
# Kernel and flow
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("ratio", [0.3, 1.0 - 1e-9, 1.0, 1.0 + 1e-9, 1.6, 2.0, 10.0])
@mp.workdps(30)
def test_kernel_moments_match_mpmath(ratio):
    """``M0, M1`` (both branches, and across the switch at |x| = 0.5) vs quadrature."""
    tau_syn = 0.8
    tau_mem = ratio * tau_syn
    for s in [1e-3, 0.1, 0.7, 1.0, 2.5, 7.0, 25.0]:
        m0, m1 = ts.kernel_moments(s, tau_mem, tau_syn)
        for n, got in ((0, m0), (1, m1)):
            ref = mp.quad(lambda u: u**n * mp.exp(-(s - u) / mp.mpf(tau_mem) - u / mp.mpf(tau_syn)),
                          [0, s])
            assert abs(got - float(ref)) <= 1e-14 * abs(float(ref)) + 1e-300


@pytest.mark.parametrize("ratio", [0.3, 1.0, 2.0, 10.0])
def test_flow_partials_match_finite_differences(ratio):
    """Partials of the analytic flow w.r.t. state, bias, tau_mem, tau_syn."""
    nrn = dict(tau_mem=ratio * 1.1, tau_syn=1.1, g_leak=0.7, bias=0.4)
    v0, i0, s = -0.3, 1.9, 1.3
    fp = ts.flow_partials(v0, i0, s, nrn)
    h = 1e-6

    def at(**kw):
        x = dict(v0=v0, i0=i0, s=s)
        x.update({k: v for k, v in kw.items() if k in x})
        p = dict(nrn)
        p.update({k: v for k, v in kw.items() if k in p})
        return np.array(ts.free_flow(x["v0"], x["i0"], x["s"], p)[:2])

    checks = {"v0": (fp["V_v0"], 0.0), "i0": (fp["V_i0"], fp["I_i0"]),
              "s": (fp["Vdot"], fp["Idot"]), "bias": (fp["V_bias"], 0.0), "tau_mem": (fp["V_tau_mem"], 0.0),
              "tau_syn": (fp["V_tau_syn"], fp["I_tau_syn"])}
    base = dict(v0=v0, i0=i0, s=s, **nrn)
    for name, want in checks.items():
        fd = (at(**{name: base[name] + h}) - at(**{name: base[name] - h})) / (2 * h)
        assert np.allclose(fd, want, rtol=1e-8, atol=1e-9), name


# ---------------------------------------------------------------------------------------------
# Closed forms
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("t_ref", [0.0, 0.5, math.inf])
@pytest.mark.parametrize("tau_syn", [0.6, 1.7])
@mp.workdps(40)
def test_constant_drive_matches_closed_form(t_ref, tau_syn):
    """``t_k = tau ln((b-v0)/(b-theta)) + (k-1) ISI``, ``ISI = t_ref + tau ln((b-v_r)/(b-theta))``.

    ``b = bias/g_leak``; the first spike starts from ``v_init``.  Derivatives of the
    closed form by mpmath; tau_syn has no effect (no synaptic current).
    """
    p0 = dict(bias=1.3, theta=1.0, v_reset=-0.2, tau_mem=1.7)
    g, v_init = 0.8, 0.3
    nrn = dict(p0, tau_syn=tau_syn, g_leak=g, t_ref=t_ref, v_init=v_init, model="lif")
    desc = dict(n_inputs=0, neurons=[nrn], pre=np.zeros(0, int), post=np.zeros(0, int),
                weight=np.zeros(0), delay=np.zeros(0))
    params = [(name, 0) for name in ts.NEURON_PARAMS]
    spikes, dspikes = ts.simulate_tangents(desc, [], 12.0, params)
    isi_ref = 0.0 if math.isinf(t_ref) else t_ref

    def t_k(k, bias, theta, v_reset, tau_mem):
        b = bias / g
        return (tau_mem * mp.log((b - v_init) / (b - theta))
                + (k - 1) * (isi_ref + tau_mem * mp.log((b - v_reset) / (b - theta))))

    expected_count = 1 if math.isinf(t_ref) else sum(
        1 for k in range(1, 100) if t_k(k, *p0.values()) <= 12.0)
    assert len(spikes[0]) == expected_count >= 1
    worst = 0.0
    for k in range(1, expected_count + 1):
        assert abs(spikes[0][k - 1] - float(t_k(k, *p0.values()))) < 1e-13
        for col, name in enumerate(params):
            if name[0] == "tau_syn":
                want = 0.0
            else:
                args = dict(p0)

                def f(x, name=name[0], k=k):
                    return t_k(k, **{**args, name: x})
                want = float(mp.diff(f, p0[name[0]]))
            err = abs(dspikes[0][k - 1, col] - want)
            worst = max(worst, err)
            assert err <= 1e-12 * (1 + abs(want)), (k, name)
    record("constant drive (abs)", worst)


@pytest.mark.parametrize("ratio", [0.5, 1.0, 3.0])
@mp.workdps(30)
def test_single_input_crossing_matches_mpmath(ratio):
    """One input spike into a once-firing neuron: mpmath root of the phi-form kernel.

    ``V(t) = b/g + e^{-t/tm}(v0 - b/g) + (w/g) kappa(t - t_in)`` with ``kappa`` in
    its phi form at 30 digits; the crossing is found by ``mp.findroot`` and
    differentiated with ``mp.diff`` w.r.t. w, t_in (= the delay), tau_mem, tau_syn,
    bias, theta.  Ratio 1 checks the equal-time-constant derivatives, where the
    two-exponential formula is singular.
    """
    tau_syn = 0.9
    g, v_init = 1.3, 0.1
    w = 1.6 * g / kappa_peak(ratio * tau_syn, tau_syn)     # peak 1.6 theta above rest
    base = dict(w=w, t_in=0.4, tau_mem=ratio * tau_syn, tau_syn=tau_syn, bias=0.2, theta=1.0)

    def kappa(s, tm, ts_):
        c = 1 / tm - 1 / ts_
        phi = mp.expm1(s * c) / (s * c) if c != 0 else mp.mpf(1)
        return s / tm * phi * mp.exp(-s / tm)

    def voltage(t, p):
        b = p["bias"] / g
        return b + mp.exp(-t / p["tau_mem"]) * (v_init - b) + p["w"] / g * kappa(
            t - p["t_in"], p["tau_mem"], p["tau_syn"])

    def crossing(p):
        # V rises after the input: step until it is above theta, then a bracketing solver
        lo = hi = mp.mpf(p["t_in"]) + mp.mpf("1e-9")
        while voltage(hi, p) < p["theta"]:
            hi += mp.mpf("0.05")
        return mp.findroot(lambda t: voltage(t, p) - p["theta"], (lo, hi),
                           solver="anderson")

    nrn = dict(tau_mem=base["tau_mem"], tau_syn=tau_syn, g_leak=g, theta=1.0, v_reset=-0.1,
               t_ref=math.inf, bias=base["bias"], v_init=v_init, model="lif")
    desc = dict(n_inputs=1, neurons=[nrn], pre=np.array([0]), post=np.array([1]),
                weight=np.array([base["w"]]), delay=np.array([0.0]))
    params = [("weight", 0), ("input", 0, 0), ("tau_mem", 0), ("tau_syn", 0), ("bias", 0),
              ("theta", 0), ("delay", 0)]
    keys = ["w", "t_in", "tau_mem", "tau_syn", "bias", "theta", "t_in"]
    spikes, dspikes = ts.simulate_tangents(desc, [np.array([base["t_in"]])], 10.0, params)
    assert len(spikes[0]) == 1
    t_ref = crossing({k: mp.mpf(v) for k, v in base.items()})
    assert abs(spikes[0][0] - float(t_ref)) < 1e-13
    for col, key in enumerate(keys):
        def f(x, key=key):
            p = {k: mp.mpf(v) for k, v in base.items()}
            p[key] = x
            return crossing(p)
        want = float(mp.diff(f, mp.mpf(base[key])))
        err = abs(dspikes[0][0, col] - want)
        record("single input vs mpmath (abs)", err)
        assert err <= 1e-12 * (1 + abs(want)), key


# ---------------------------------------------------------------------------------------------
# Networks: tangents vs finite differences
# ---------------------------------------------------------------------------------------------

# The reference's own check against finite differences: long, so in the slow run
# (CI runs both); tests/test_eventprop_tangent.py relies on it.
@pytest.mark.slow
@SETTINGS
@given(net=networks(), data=st.data())
def test_spike_time_tangents_match_finite_differences(net, data):
    """Every parameter kind on random recurrent networks, to ~1e-6 relative."""
    desc, inputs = net
    params = pick_params(desc, inputs, data)
    spikes, dspikes, _ = well_conditioned(desc, inputs, params)
    counts = [len(s) for s in spikes]
    fun = spike_fun(counts)
    worst = 0.0
    for col, par in enumerate(params):
        tangent = np.concatenate([d[:, col] for d in dspikes])
        try:
            err = fd_compare(fun, desc, inputs, par, tangent)
        except ValueError:
            assume(False)
        worst = max(worst, err)
        assert err <= RTOL, (par, err, tangent)
    record("network spike-time tangent (rel)", worst)


# The reference's own check against finite differences: long, so in the slow run
# (CI runs both); tests/test_eventprop_tangent.py relies on it.
@pytest.mark.slow
@SETTINGS
@given(net=networks())
def test_sum_of_spike_times_gradient_wrt_all_weights(net):
    """``L = sum of all spike times`` (Wunderlich & Pehle 2021's check), every weight."""
    desc, inputs = net
    params = [("weight", k) for k in range(len(desc["pre"]))]
    assume(params)
    well_conditioned(desc, inputs, params)
    loss, grad = ts.spike_time_sum_gradient(desc, inputs, T_MAX, params)
    fd = ts.loss_gradient_fd(desc, inputs, T_MAX, params, rel_h=REL_H)
    assume(fd is not None)
    assert loss == pytest.approx(ts.spike_time_sum(desc, inputs, T_MAX)[0], rel=1e-15, abs=1e-12)
    scale = 1.0 + np.abs(grad).max()
    err = float(np.abs(grad - fd).max() / scale)
    if err > 0.1 * RTOL:   # curvature: Richardson-extrapolate the difference (see fd_compare)
        fd2 = ts.loss_gradient_fd(desc, inputs, T_MAX, params, rel_h=2 * REL_H)
        assume(fd2 is not None)
        fd = (4 * fd - fd2) / 3
        err = float(np.abs(grad - fd).max() / scale)
    record("sum-of-spike-times gradient (rel to max)", err)
    assert err <= RTOL, (grad, fd)


def test_sum_of_spike_times_gradient_can_fail():
    """The comparison is not vacuous: a wrong tangent (one weight's seed dropped) fails it."""
    desc, inputs = make_network(np.random.default_rng(3), 4, 2, [2.0], [0.5], 0.6)
    params = [("weight", k) for k in range(len(desc["pre"]))]
    _, grad = ts.spike_time_sum_gradient(desc, inputs, T_MAX, params)
    fd = ts.loss_gradient_fd(desc, inputs, T_MAX, params, rel_h=REL_H)
    assert fd is not None and np.abs(grad).max() > 0.1
    assert np.abs(grad - fd).max() <= RTOL * (1 + np.abs(grad).max())
    broken = grad.copy()
    broken[np.argmax(np.abs(grad))] = 0.0
    assert np.abs(broken - fd).max() > RTOL * (1 + np.abs(grad).max())


# ---------------------------------------------------------------------------------------------
# LI readout
# ---------------------------------------------------------------------------------------------

# The reference's own check against finite differences: long, so in the slow run
# (CI runs both); tests/test_eventprop_tangent.py relies on it.
@pytest.mark.slow
@SETTINGS
@given(net=networks(n_li=1), data=st.data())
def test_readout_tangents_match_finite_differences(net, data):
    """``V(t)`` at fixed times and ``max_t V`` of an LI readout vs finite differences."""
    desc, inputs = net
    n_lif = sum(1 for nrn in desc["neurons"] if nrn["model"] == "lif")
    readout = n_lif    # the LI neuron is last
    params = pick_params(desc, inputs, data, per_kind=1)
    spikes, _, info = well_conditioned(desc, inputs, params)
    arrivals = info["arrivals"][readout]
    times = np.sort(np.array(data.draw(st.lists(st.floats(0.05, T_MAX), min_size=1, max_size=4))))
    if arrivals.size:
        # a fixed time on an arrival is a kink of V in the arrival time
        assume(np.min(np.abs(times[:, None] - arrivals[None, :])) > 1e-4)
    v, dv, vmax, dvmax = ts.readout_tangents(desc, inputs, T_MAX, params, readout, times)
    counts = [len(s) for s in spikes]

    def fun(d, x):
        vv, m, sp = ts.readout_values(d, x, T_MAX, readout, times, max_spikes=1000)
        if [len(a) for a in sp] != counts:
            raise ValueError("spike count changed")
        return np.concatenate([vv, [m]])

    f0 = fun(desc, inputs)
    assert np.allclose(f0, np.concatenate([v, [vmax]]), rtol=0, atol=1e-14)
    worst = 0.0
    for col, par in enumerate(params):
        tangent = np.concatenate([dv[:, col], [dvmax[col]]])
        try:
            err = fd_compare(fun, desc, inputs, par, tangent, f0_for_kink=f0)
        except ValueError:
            assume(False)
        worst = max(worst, err)
        assert err <= RTOL, (par, err, tangent)
    record("LI readout tangent (rel)", worst)
