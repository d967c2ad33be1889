"""eventsim.lyapunov: the tangent replay against closed forms, the independent forward-mode
reference (tests/tangent_spiketrains.py) and finite perturbations of eventsim itself;
Benettin's exponent on cases with a known answer; bad input."""

import copy
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import eventsim
import lyapunov_vectorised as lv
import tangent_spiketrains as ts
from eventsim import SpikeTrains, lyapunov
from test_window_loop import loop as train_loop

# Random networks with delay-free excitatory loops and no refractory period can burst
# without end; such draws are skipped at this budget.
BUDGET = 20000
SETTINGS = settings(max_examples=20, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])


def single_neuron(**params):
    net = eventsim.Network()
    net.add_inputs(0)
    pop = net.add_population(1, model="lif", multispike=True, **params)
    return net, pop


def random_network(seed, n=6, n_in=2, poisson=False, zero_delays=0.3,
                   t_refs=(0.0, 0.7, np.inf), n_li=1):
    """A small recurrent network, one population per neuron (so that every neuron has its
    own parameters), with the same network as a ``desc`` of tests/tangent_spiketrains.py."""
    rng = np.random.default_rng(seed)
    net = eventsim.Network()
    inp = net.add_inputs(n_in)
    drive = net.add_poisson(1, 1.5) if poisson else None
    neurons, ids = [], []
    for i in range(n + n_li):
        tau_syn = rng.uniform(0.5, 3.0)
        ratio = rng.choice([0.3, 1.0, 2.0, 5.0])
        p = dict(tau_mem=float(ratio * tau_syn), tau_syn=float(tau_syn),
                 g_leak=float(rng.uniform(0.5, 2.0)), bias=0.0,
                 v_init=float(rng.uniform(-0.2, 0.5)))
        if i < n:
            p.update(theta=1.0, v_reset=float(rng.uniform(-0.4, 0.3)),
                     t_ref=float(t_refs[i % len(t_refs)]))
            p["bias"] = float(p["g_leak"] * rng.uniform(0.3, 1.3))
            ids.append(int(net.add_population(1, model="lif", multispike=True, **p).ids[0]))
            neurons.append(dict(p, model="lif"))
        else:
            ids.append(int(net.add_population(1, model="li", **p).ids[0]))
            neurons.append(dict(p, model="li", theta=np.inf, v_reset=0.0, t_ref=0.0))
    pre, post, w, d = [], [], [], []
    for a in list(inp.ids) + ids[:n]:
        for j, b in enumerate(ids):
            if j >= n or rng.random() < 0.4:
                pre.append(int(a))
                post.append(b)
                w.append(rng.uniform(-0.6, 1.5) if a < n_in else rng.uniform(-1.0, 0.6))
                d.append(0.0 if rng.random() < zero_delays else rng.uniform(0.1, 1.5))
    pre, post, w, d = (np.array(x) for x in (pre, post, w, d))
    net.connect(pre, post, w, d)
    if poisson:
        net.connect(np.full(n, drive.ids[0]), np.array(ids[:n]), 0.4, 0.0)
    desc = dict(n_inputs=n_in, neurons=neurons, pre=pre, post=post, weight=w, delay=d)
    inputs = [np.sort(rng.uniform(0.0, 8.0, rng.integers(1, 5))) for _ in range(n_in)]
    return net, desc, inputs, np.array(ids)


# ------------------------------------------------------------------ known answers
@pytest.mark.parametrize("t_ref", [0.0, 1.5])
def test_constant_drive_phase_shift_persists_and_exponent_is_zero(t_ref):
    # Under a constant drive b > theta the neuron is an autonomous oscillator: a
    # perturbation of V(0) only shifts its phase, so every spike moves by the same
    # dt = -exp(-t_1 / tau_m) dV / Vdot (t_1 = tau_m ln(b / (b - theta)) from V(0) = 0),
    # and the exponent is 0.
    tm, tsyn, theta, b = 10.0, 2.0, 1.0, 1.5
    net, pop = single_neuron(tau_mem=tm, tau_syn=tsyn, theta=theta, v_reset=0.0, t_ref=t_ref,
                             bias=b)
    isi = t_ref + tm * math.log(b / (b - theta))
    dv0 = np.zeros(net.n_neurons)
    dv0[pop.ids[0]] = 1.0
    tg = lyapunov.tangent(net, np.zeros(0), t_max=5 * isi, dv0=dv0)
    want = -math.exp(-tm * math.log(b / (b - theta)) / tm) / ((b - theta) / tm)
    assert tg.dt.size == 5
    np.testing.assert_allclose(tg.dt, want, rtol=1e-12)
    # renormalised once per period, the tangent comes back to the same phase each time;
    # started from v_init so that the spikes fall half a free period away from the
    # checkpoints (at a spike time a checkpoint would see the tangent before or after
    # that spike's jump, as rounding puts the spike)
    net, pop = single_neuron(tau_mem=tm, tau_syn=tsyn, theta=theta, v_reset=0.0, t_ref=t_ref,
                             bias=b, v_init=b - math.sqrt(b * (b - theta)))
    r = lyapunov.largest_lyapunov(net, np.zeros(0), t_max=40 * isi, renorm_interval=isi,
                                  transient=10 * isi)
    assert abs(r.exponent) < 1e-12
    assert r.exponent_per_s == 1000 * r.exponent
    assert np.abs(r.log_growth[10:]).max() < 1e-10


@pytest.mark.parametrize("tau_mem,tau_syn", [(10.0, 3.0), (2.0, 6.0)])
def test_silent_network_decays_at_the_slowest_time_constant(tau_mem, tau_syn):
    # Neurons that never fire are linear: the input spikes (not perturbed) leave the
    # tangent alone and it decays as exp(-t / tau_m) in V and exp(-t / tau_s) in J, with
    # V also fed by J.  Once the faster mode has died out each interval of length h
    # shrinks the norm by exactly exp(-h / max(tau_m, tau_s)).
    net = eventsim.Network()
    inp = net.add_inputs(2)
    pop = net.add_population(4, model="lif", multispike=True, tau_mem=tau_mem,
                             tau_syn=tau_syn, theta=100.0)
    net.connect(np.repeat(inp.ids, 4), np.tile(pop.ids, 2), 0.3, 0.5)
    net.connect(pop.ids, np.roll(pop.ids, 1), 0.2, 1.0)
    x = SpikeTrains.from_lists([[np.arange(1, 50, 3.0), np.arange(2, 50, 5.0)]])
    r = lyapunov.largest_lyapunov(net, x, t_max=300.0, renorm_interval=5.0, transient=100.0)
    assert r.n_spikes == 0
    assert r.exponent == pytest.approx(-1.0 / max(tau_mem, tau_syn), rel=1e-9)
    np.testing.assert_allclose(r.log_growth[20:], -5.0 / max(tau_mem, tau_syn), rtol=1e-8)


def test_strongly_inhibitory_network_is_stable():
    # Neurons driven close to threshold by bias and Poisson input, inhibiting each other
    # strongly, with a long refractory period: perturbations die out.
    rng = np.random.default_rng(0)
    net = eventsim.Network()
    net.add_inputs(0)
    drive = net.add_poisson(1, 1.0)
    n = 40
    pop = net.add_population(n, model="lif", multispike=True, tau_mem=10.0, tau_syn=2.0,
                             theta=1.0, v_reset=0.0, t_ref=3.0, bias=0.9)
    pre, post = np.nonzero(rng.random((n, n)) < 0.3)
    net.connect(pop.ids[pre], pop.ids[post], -1.0, 1.0)
    net.connect(np.full(n, drive.ids[0]), pop.ids, 0.3, 0.0)
    r = lyapunov.largest_lyapunov(net, np.zeros(0), t_max=200.0, seed=0, renorm_interval=2.0,
                                  transient=50.0)
    assert r.n_spikes > 100
    assert r.exponent < -0.005
    assert np.isfinite(r.running_estimate()).all()
    # a finite perturbation shrinks too (no spike flips)
    g = lyapunov.perturbation_growth(net, np.zeros(0), eps=1e-6, t_max=200.0, seed=0,
                                     sample_times=[50.0, 200.0])
    assert g.n_flips[0, -1] == 0
    assert g.dist_state[0, 1] < 0.3 * g.dist_state[0, 0]


def test_renormalisation_does_not_change_a_linear_growth():
    # The tangent is linear, so renormalising only rescales it: the total growth, and so
    # the exponent over the same span, cannot depend on the interval.
    net, desc, inputs, ids = random_network(11, n=8, poisson=True, zero_delays=0.0)
    x = SpikeTrains.from_lists([inputs])
    res = eventsim.simulate(net, x, t_max=40.0, seed=2, record_tape=True)
    lams = [lyapunov.largest_lyapunov(net, x, t_max=40.0, seed=2, renorm_interval=h,
                                      transient=8.0, result=res).exponent
            for h in (0.5, 2.0, 4.0)]
    assert np.ptp(lams) <= 1e-9 * (1 + abs(lams[0]))


# ------------------------------------------------------------------ tangent vs references
@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), zero_delays=st.sampled_from([0.0, 0.3]),
       loop=st.sampled_from(["heap", "window"]), poisson=st.booleans())
def test_compiled_replay_matches_the_vectorised_numpy_replay(seed, zero_delays, loop, poisson):
    # The compiled entry-by-entry replay against the numpy replay it replaced
    # (tests/lyapunov_vectorised.py: per-neuron segments, events in rounds), on tapes of
    # both event loops (the windowed loop writes neuron by neuron, not in time order):
    # states, spike shifts and Benettin's log growth.
    net, desc, inputs, ids = random_network(seed, n=8, poisson=poisson, zero_delays=zero_delays)
    x = SpikeTrains.from_lists([inputs])
    t_max = 12.0
    rng = np.random.default_rng(seed)
    dv0, dj0 = rng.standard_normal((2, net.n_neurons))
    shift = rng.standard_normal(x.n_spikes)
    times = np.sort(rng.choice(np.linspace(0.25, t_max, 48), 12, replace=False))
    with train_loop(loop):
        try:
            res = eventsim.simulate(net, x, t_max=t_max, seed=3, record_tape=True,
                                    max_events=BUDGET)
        except (eventsim.EventBudgetExceeded, ValueError):
            assume(False)      # runaway bursts; delay-free cycles refuse the windowed loop
        tg = lyapunov.tangent(net, x, t_max=t_max, seed=3, dv0=dv0, dj0=dj0, input_shift=shift,
                              sample_times=times, result=res)
        t_ref, dv, dj, dt, tang = lv.tangent_vectorised(net, x, t_max=t_max, seed=3, dv0=dv0,
                                                        dj0=dj0, input_shift=shift,
                                                        sample_times=times)
        k = times.size
        scale = 1 + max(np.abs(dv).max(), np.abs(dj).max())
        np.testing.assert_allclose(tg.dv, dv[:k], rtol=1e-10, atol=1e-10 * scale)
        np.testing.assert_allclose(tg.dj, dj[:k], rtol=1e-10, atol=1e-10 * scale)
        neuron_sp = ~np.isin(res.spikes.index, np.asarray(net.input_ids))
        np.testing.assert_allclose(tg.dt[neuron_sp], dt[neuron_sp], rtol=1e-10,
                                   atol=1e-10 * (1 + np.abs(dt).max(initial=0)))
        assert tg.tangencies == tang
        h = t_max / 8
        r = lyapunov.largest_lyapunov(net, x, t_max=t_max, seed=3, renorm_interval=h, result=res)
        sn = np.flatnonzero(lyapunov._Params(net).state)
        x0 = np.random.default_rng(0).standard_normal((2, sn.size))
        x0 /= np.sqrt((x0 * x0).sum())
        v0, j0 = np.zeros((2, net.n_neurons))
        v0[sn], j0[sn] = x0
        try:
            want = lv.log_growth_vectorised(net, x, t_max=t_max, seed=3, times=r.times,
                                            dv0=v0, dj0=j0)
        except FloatingPointError:
            assume(False)     # every neuron inert: the tangent dies out
    np.testing.assert_allclose(r.log_growth, want, rtol=1e-9, atol=1e-9)


def test_long_runs_neither_overflow_nor_underflow():
    # The replay runs unnormalised and divides everything by the norm only when it
    # leaves [1e-100, 1e100]: over 6,000 ms the silent network's tangent shrinks by
    # e^-600, and the exponent is still exact.
    net = eventsim.Network()
    inp = net.add_inputs(1)
    pop = net.add_population(3, model="lif", multispike=True, tau_mem=10.0, tau_syn=3.0,
                             theta=100.0)
    net.connect(np.repeat(inp.ids, 3), pop.ids, 0.3, 0.5)
    net.connect(pop.ids, np.roll(pop.ids, 1), 0.2, 1.0)
    x = SpikeTrains.from_lists([[np.arange(1, 50, 3.0)]])
    r = lyapunov.largest_lyapunov(net, x, t_max=6000.0, renorm_interval=50.0, transient=200.0)
    np.testing.assert_allclose(r.log_growth[4:], -5.0, rtol=1e-9)
    assert r.exponent == pytest.approx(-0.1, rel=1e-9)
    # and a growing tangent: a neuron's own excitatory loop, at its limit of stability
    tg = lyapunov.tangent(net, x, t_max=6000.0, dv0=np.r_[0.0, 1.0, 0.0, 0.0],
                          sample_times=[100.0, 6000.0])
    assert tg.dv[-1, 1:].max() < 1e-200 and np.isfinite(tg.dv).all()


def test_a_damaged_tape_raises():
    net, desc, inputs, ids = random_network(4, n=6, poisson=True)
    x = SpikeTrains.from_lists([inputs])
    res = eventsim.simulate(net, x, t_max=10.0, seed=1, record_tape=True)
    log = res.tape.log
    before = log.copy()
    for field, value in (("neuron", 10**6), ("type", 9), ("ref", 10**9), ("syn", -5)):
        bad = copy.copy(res)
        bad.tape = copy.copy(res.tape)
        bad.tape.log = log.copy()
        k = int(np.flatnonzero(log["type"] == (1 if field != "type" else 2))[0])
        bad.tape.log[field][k] = value
        with pytest.raises(ValueError, match="damaged"):
            lyapunov.tangent(net, x, t_max=10.0, seed=1, result=bad)
    assert np.array_equal(res.tape.log, before)


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), zero_delays=st.sampled_from([0.0, 0.3]))
def test_tangent_matches_the_independent_forward_mode_reference(seed, zero_delays):
    # Shifting one input spike: eventsim's replay against tests/tangent_spiketrains.py,
    # which integrates the same model with brentq crossings and its own tangent rules.
    net, desc, inputs, ids = random_network(seed, zero_delays=zero_delays)
    x = SpikeTrains.from_lists([inputs])
    t_max = 10.0
    try:
        res = eventsim.simulate(net, x, t_max=t_max, record_tape=True, max_events=BUDGET)
    except eventsim.EventBudgetExceeded:
        assume(False)
    j = seed % x.n_spikes
    c, k = int(x.index[j]), int(np.sum(x.index[:j] == x.index[j]))
    try:
        spikes, dspikes = ts.simulate_tangent(desc, inputs, t_max, ("input", c, k))
    except RuntimeError:          # runaway excitation in the reference
        assume(False)
    trains = res.spikes.trains(0)
    assume(all(len(spikes[i]) == len(trains[q]) for i, q in enumerate(ids)))
    assume(all(np.allclose(spikes[i], trains[q], atol=1e-9) for i, q in enumerate(ids)))
    shift = np.zeros(x.n_spikes)
    shift[j] = 1.0
    tg = lyapunov.tangent(net, x, t_max=t_max, input_shift=shift, result=res)
    for i, q in enumerate(ids):
        mine = tg.dt[res.spikes.index == q]
        np.testing.assert_allclose(mine, dspikes[i], rtol=1e-9,
                                   atol=1e-9 * (1 + np.abs(dspikes[i]).max(initial=0)))
    # the shifted input spike itself is reported with its shift (inputs come first: id = channel)
    own = (res.spikes.index == x.index[j]) & (res.spikes.times == x.times[j])
    assert tg.dt[own].tolist() == [1.0]


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), kind=st.sampled_from(["current", "v_init"]))
def test_tangent_matches_finite_perturbation(seed, kind):
    # eps = 1e-7 on eventsim itself (same Poisson seed): spike shifts and the state
    # distance over time agree with the tangent while no spike flips.
    net, _, inputs, ids = random_network(seed, n=8, poisson=True)
    x = SpikeTrains.from_lists([inputs])
    t_max, eps = 15.0, 1e-7
    q = int(ids[seed % 8])
    times = np.linspace(1.0, t_max, 15)
    ref_net, ref_in = lyapunov._perturbed_network(net, x, kind, q, 0.0)
    pert_net, pert_in = lyapunov._perturbed_network(net, x, kind, q, eps)
    try:
        r0 = eventsim.simulate(ref_net, ref_in, t_max=t_max, seed=7, record_tape=True,
                               max_events=BUDGET)
        r1 = eventsim.simulate(pert_net, pert_in, t_max=t_max, seed=7, max_events=BUDGET)
    except eventsim.EventBudgetExceeded:
        assume(False)
    assume(np.array_equal(r0.spikes.index, r1.spikes.index))
    fd = (r1.spikes.times - r0.spikes.times) / eps
    assume(np.abs(fd).max(initial=0) < 1e3)
    # A spike or a refractory release that the perturbation moves across a sample time
    # changes the state there by a jump, not in proportion to eps: the tangent describes
    # the states away from those instants (shifts here are at most 1e3 * eps = 1e-4).
    t_ref = np.asarray(ref_net.t_ref, dtype=float)
    edges = r0.spikes.times[:, None] + np.unique(np.r_[0.0, t_ref[np.isfinite(t_ref)]])
    assume(np.abs(edges.ravel()[:, None] - times[None, :]).min(initial=np.inf) > 1e-3)
    d0 = np.zeros(ref_net.n_neurons)
    if kind == "current":
        d0[q] = 1.0
        tg = lyapunov.tangent(ref_net, ref_in, t_max=t_max, seed=7, dj0=d0, result=r0,
                              sample_times=times)
    else:
        pop = int(net.population_index[q])
        d0[np.asarray(net.population_index) == pop] = 1.0
        tg = lyapunov.tangent(ref_net, ref_in, t_max=t_max, seed=7, dv0=d0, result=r0,
                              sample_times=times)
    np.testing.assert_allclose(tg.dt, fd, rtol=1e-4, atol=1e-4 * (1 + np.abs(fd).max(initial=0)))
    # the same, through perturbation_growth's distances
    g = lyapunov.perturbation_growth(net, x, eps=eps, t_max=t_max, seed=7, kind=kind, neuron=q,
                                     sample_times=times, max_events=BUDGET)
    assert (g.n_flips == 0).all()
    st_ = lyapunov._Params(ref_net).state
    norm = np.sqrt((tg.dv[:, st_] ** 2 + tg.dj[:, st_] ** 2).sum(1))
    np.testing.assert_allclose(g.dist_state[0] / eps, norm, rtol=1e-3, atol=1e-5 * (1 + norm.max()))


def test_perturbation_growth_scales_with_eps_and_counts_flips():
    # A neuron whose potential peaks just below threshold: a kick of 1e-3 makes it
    # fire (one flip), kicks of 1e-6 and 1e-5 only move the potential, in proportion.
    tm, tsyn = 10.0, 2.0
    net = eventsim.Network()
    inp = net.add_inputs(1)
    pop = net.add_population(1, model="lif", multispike=True, tau_mem=tm, tau_syn=tsyn,
                             theta=1.0)
    s_peak = math.log(tm / tsyn) * tm * tsyn / (tm - tsyn)
    k_peak = tsyn / (tm - tsyn) * (math.exp(-s_peak / tm) - math.exp(-s_peak / tsyn))
    net.connect(inp.ids, pop.ids, (1.0 - 1e-4) / k_peak, 0.0)
    g = lyapunov.perturbation_growth(net, np.zeros(1), eps=[1e-6, 1e-5, 1e-3], t_max=30.0,
                                     sample_times=np.arange(1.0, 30.5, 1.0))
    assert g.n_flips[:2].max() == 0 and np.isinf(g.first_flip[:2]).all()
    assert g.n_flips[2, -1] == 1
    assert g.first_flip[2] == pytest.approx(s_peak, abs=0.5)
    np.testing.assert_allclose(g.dist_v[1] / 1e-5, g.dist_v[0] / 1e-6, rtol=1e-4)
    assert (g.dist_timing[:2] == 0).all()


def test_match_spikes_separates_shifts_from_flips():
    pairs, ua, ub = lyapunov.match_spikes([1.0, 5.0, 9.0], [1.1, 9.05, 12.0], tol=0.5)
    assert pairs.tolist() == [[0, 0], [2, 1]]
    assert ua.tolist() == [1] and ub.tolist() == [2]
    pairs, ua, ub = lyapunov.match_spikes([2.0, 3.0], [2.0 + 1e-9, 3.0 - 1e-9], tol=0.5)
    assert pairs.tolist() == [[0, 0], [1, 1]] and ua.size == ub.size == 0


# ------------------------------------------------------------------ errors
def test_bad_input_raises():
    net, pop = single_neuron(tau_mem=10.0, tau_syn=2.0, bias=1.5)
    x = np.zeros(0)
    for bad in (0.0, -1.0, np.nan, np.inf):
        with pytest.raises(ValueError, match="renorm_interval"):
            lyapunov.largest_lyapunov(net, x, t_max=10.0, renorm_interval=bad)
    for bad in (np.inf, np.nan, 0.0):
        with pytest.raises(ValueError, match="t_max"):
            lyapunov.largest_lyapunov(net, x, t_max=bad)
        with pytest.raises(ValueError, match="t_max"):
            lyapunov.perturbation_growth(net, x, eps=1e-6, t_max=bad)
    for bad in (np.nan, 0.0, [1e-6, np.inf]):
        with pytest.raises(ValueError, match="eps"):
            lyapunov.perturbation_growth(net, x, eps=bad, t_max=10.0)
    with pytest.raises(ValueError, match="transient"):
        lyapunov.largest_lyapunov(net, x, t_max=10.0, transient=10.0)
    with pytest.raises(ValueError, match="sample_times"):
        lyapunov.tangent(net, x, t_max=10.0, sample_times=[5.0, 11.0])
    with pytest.raises(ValueError, match="kind"):
        lyapunov.perturbation_growth(net, x, eps=1e-6, t_max=10.0, kind="weights")
    with pytest.raises(ValueError, match="one example"):
        lyapunov.largest_lyapunov(net, np.zeros((2, 0)), t_max=10.0)
    with pytest.raises(ValueError, match="dv0"):
        lyapunov.tangent(net, x, t_max=10.0, dv0=np.zeros(3))
    res = eventsim.simulate(net, x, t_max=10.0, record_tape="full")
    with pytest.raises(ValueError, match="t_max"):
        lyapunov.largest_lyapunov(net, x, t_max=12.0, result=res)
    # A delay-free feed-forward run keeps only what backward needs with record_tape=True.
    lean = eventsim.simulate(net, x, t_max=10.0, record_tape=True)
    assert not lean.tape.complete and res.tape.complete
    with pytest.raises(ValueError, match="record_tape='full'"):
        lyapunov.tangent(net, x, t_max=10.0, result=lean)
    with pytest.raises(ValueError, match="record_tape"):
        eventsim.simulate(net, x, t_max=10.0, record_tape="lean")
    with pytest.raises(ValueError, match="record_tape"):
        lyapunov.tangent(net, x, t_max=10.0, result=eventsim.simulate(net, x, t_max=10.0))
    net.bias = net.bias + 0.1
    with pytest.raises(ValueError, match="changed"):
        lyapunov.tangent(net, x, t_max=10.0, result=res)
    first_spike = eventsim.Network()
    inp = first_spike.add_inputs(1)
    out = first_spike.add_population(1, model="alpha")
    first_spike.connect(inp.ids, out.ids, 1.0)
    with pytest.raises(ValueError):
        lyapunov.largest_lyapunov(first_spike, np.zeros(1), t_max=10.0)


def test_states_from_the_tape_match_membrane_potential():
    # perturbation_growth reads V from the tape (Poisson-driven neurons have no other
    # record); without Poisson input eventsim.membrane_potential replays the same.
    net, _, inputs, ids = random_network(5, n=6, t_refs=(1.0, 0.0))
    x = SpikeTrains.from_lists([inputs])
    res = eventsim.simulate(net, x, t_max=12.0, record_tape=True)
    times = np.linspace(0.3, 12.0, 40)
    V, _ = lyapunov._states_at(net, res, times)
    for q in ids:
        np.testing.assert_allclose(V[:, q], eventsim.membrane_potential(net, res.spikes, q, times),
                                   rtol=0, atol=1e-12)
    assert np.isin(res.spikes.index, ids).any()
