"""The spike-train engine's two loops: the windowed loop (per-neuron buckets, one window
of the smallest nonzero delay at a time, delay-free synapses in topological order) against
the heap loop and against the brute-force reference, and the plan that chooses between
them (docs/engine.md 13, "The windowed loop")."""

import contextlib

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import eventsim
from eventsim import SpikeTrains, simulation

from reference_spiketrains import crossing_margins, simulate_reference, spiketrain_networks
from test_multispike_reference import compare, mismatch, to_network

SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@contextlib.contextmanager
def loop(name):
    """Run the spike-train engine's ``name`` loop inside the block."""
    old = simulation._TRAIN_LOOP
    simulation._TRAIN_LOOP = name
    try:
        yield
    finally:
        simulation._TRAIN_LOOP = old


def layered(desc):
    """The network with its recurrent synapses split: forward ones (lower to higher
    neuron) without delay, backward ones and autapses delayed by at least 0.05, so that
    the windowed loop runs delay-free synapses in topological order inside windows."""
    desc = dict(desc)
    n_in = desc["n_inputs"]
    pre, post = np.asarray(desc["pre"]), np.asarray(desc["post"])
    delay = np.array(desc["delay"], float)
    rec = pre >= n_in
    forward = rec & (pre < post)
    delay[forward] = 0.0
    delay[rec & ~forward] = np.maximum(delay[rec & ~forward], 0.05)
    desc["delay"] = delay
    return desc


def well_conditioned_reference(desc, inputs, t_max):
    """The brute-force reference's spikes; runaway networks and spikes within 1e-7 of
    tangency, of an arrival or of t_max, ill-conditioned for any simulator (as in
    test_multispike_reference), are assumed away."""
    try:
        ref = simulate_reference(desc, inputs, t_max, max_spikes=2000)
    except RuntimeError:
        assume(False)
    assume(crossing_margins(desc, inputs, t_max, ref)["min"] > 1e-7)
    return ref


def run(net, x, t_max, name, **kw):
    with loop(name):
        return eventsim.simulate(net, x, t_max=t_max, max_events=10**7, **kw)


def plan_of(net, t_max):
    low = net._lower()
    li = np.zeros(net.n_neurons, bool)
    for pop in net.populations:
        if pop.kind == "li":
            li[pop.ids] = True
    return simulation._window_plan(net, low, li, t_max)


@SETTINGS
@given(case=spiketrain_networks(n_range=(2, 20), delays="random"), split=st.booleans())
def test_the_windowed_loop_matches_the_heap_loop(case, split):
    desc, inputs, t_max = case
    if split:
        desc = layered(desc)
    net = to_network(desc)
    x = SpikeTrains.from_lists([inputs], n_channels=desc["n_inputs"])
    try:
        heap = run(net, x, t_max, "heap", readout_times=[0.5 * t_max, t_max]
                   if any(p["model"] == "li" for p in desc["neurons"]) else None)
        win = run(net, x, t_max, "window", readout_times=[0.5 * t_max, t_max]
                  if any(p["model"] == "li" for p in desc["neurons"]) else None)
    except eventsim.EventBudgetExceeded:
        assume(False)
    n_in = desc["n_inputs"]
    counts, err = mismatch(heap.spikes.trains(0)[n_in:], win.spikes.trains(0)[n_in:])
    # Both loops do the same arithmetic up to where decays are shared: spikes agree to
    # rounding unless a crossing is within rounding of tangency.
    assert not counts, f"spike counts differ for neurons {counts}"
    assert err <= 1e-9, f"|dt| = {err:.3g}"
    if heap.voltages is not None and heap.voltages.size:
        np.testing.assert_allclose(win.voltages, heap.voltages, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(win.v_max, heap.v_max, rtol=1e-9, atol=1e-9)


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(case=spiketrain_networks(n_range=(2, 12), delays="random"))
def test_the_windowed_loop_matches_the_brute_force_reference(case):
    desc, inputs, t_max = layered(case[0]), case[1], case[2]
    ref = well_conditioned_reference(desc, inputs, t_max)
    net = to_network(desc)
    x = SpikeTrains.from_lists([inputs], n_channels=desc["n_inputs"])
    with loop("window"):
        assert plan_of(net, t_max) is not None
    compare(ref, run(net, x, t_max, "window").spikes.trains(0)[desc["n_inputs"]:])


def recurrent_with_poisson(n=60, seed=0, delay=0.4):
    rng = np.random.default_rng(seed)
    net = eventsim.Network()
    net.add_inputs(2)
    drive = net.add_poisson(n, 0.8)
    pop = net.add_population(n, model="lif", multispike=True, tau_mem=10.0, tau_syn=2.5,
                             theta=1.0, v_reset=0.1, t_ref=1.0)
    out = net.add_population(3, model="li", tau_mem=10.0, tau_syn=5.0)
    net.connect(drive.ids, pop.ids, 0.9, delay)
    pre = rng.integers(0, n, 6 * n)
    post = np.repeat(np.arange(n), 6)
    net.connect(pop.ids[pre], pop.ids[post], np.where(rng.random(6 * n) < 0.7, 0.5, -1.0),
                rng.uniform(delay, 3 * delay, 6 * n))
    net.connect(np.repeat(pop.ids, 3), np.tile(out.ids, n), rng.normal(0, 0.3, 3 * n), 0.0)
    net.connect([0, 1], pop.ids[:2], 3.0, 0.0)
    return net


def test_poisson_driven_recurrent_networks_agree_between_the_loops():
    net = recurrent_with_poisson()
    x = SpikeTrains.from_lists([[np.array([1.0]), np.array([2.5])]] * 3, n_channels=2)
    heap = run(net, x, 40.0, "heap", seed=11, readout_times=[10.0, 40.0])
    win = run(net, x, 40.0, "window", seed=11, readout_times=[10.0, 40.0])
    assert heap.spikes.n_spikes > 500
    # The same streams: every example's spikes agree one to one.
    np.testing.assert_array_equal(win.spikes.index, heap.spikes.index)
    np.testing.assert_allclose(win.spikes.times, heap.spikes.times, rtol=0, atol=1e-9)
    np.testing.assert_allclose(win.voltages, heap.voltages, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(win.v_max, heap.v_max, rtol=1e-9, atol=1e-9)


def test_windowed_gradients_equal_heap_gradients():
    net = recurrent_with_poisson(n=30, seed=2)
    x = SpikeTrains.from_lists([[np.array([1.0]), np.array([2.5])]] * 2, n_channels=2)
    grads = {}
    for name in ("heap", "window"):
        res = run(net, x, 25.0, name, seed=5, record_tape=True)
        g = eventsim.backward(net, res, dL_dvmax=np.ones((2, 3)))
        grads[name] = g
    scale = np.abs(grads["heap"].weights).max()
    assert scale > 0
    np.testing.assert_allclose(grads["window"].weights, grads["heap"].weights, rtol=0,
                               atol=1e-9 * scale)
    np.testing.assert_allclose(grads["window"].delays, grads["heap"].delays, rtol=0,
                               atol=1e-9 * np.abs(grads["heap"].delays).max())
    np.testing.assert_allclose(grads["window"].tau_mem, grads["heap"].tau_mem, rtol=1e-9)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31), n=st.integers(2, 25), t_ref=st.sampled_from([0.0, 0.5, np.inf]),
       ratio=st.sampled_from([0.3, 1.0, 2.0, 4.0]), streams=st.sampled_from([0, 1, 2]),
       record=st.booleans(), delay=st.sampled_from([0.2, 0.7]))
def test_poisson_driven_networks_of_any_shape_agree_between_the_loops(seed, n, t_ref, ratio,
                                                                      streams, record, delay):
    """The windowed loop draws a neuron's Poisson drive for a whole window up front
    (run_neuron, draw_window): the same spikes as the heap loop, which draws each
    Poisson spike when it arrives, for no, one or two streams per neuron, first-spike
    neurons (t_ref = inf), t_ref = 0, time constants with and without a power relation,
    with and without the tape."""
    rng = np.random.default_rng(seed)
    net = eventsim.Network()
    net.add_inputs(1)
    pop = net.add_population(n, model="lif", multispike=True, tau_mem=10.0,
                             tau_syn=10.0 / ratio, theta=1.0, v_reset=0.2, t_ref=t_ref)
    for _ in range(streams):
        drive = net.add_poisson(n, float(rng.uniform(0.2, 1.5)))
        net.connect(drive.ids, pop.ids, rng.uniform(-0.3, 1.2, n), delay)
    k = 4 * n
    net.connect(pop.ids[rng.integers(0, n, k)], pop.ids[rng.integers(0, n, k)],
                np.where(rng.random(k) < 0.7, rng.uniform(0.1, 0.6, k), -rng.uniform(0.2, 1.0, k)),
                rng.uniform(delay, 3 * delay, k))
    net.connect([0], pop.ids[:1], 3.0, 0.0)
    x = SpikeTrains.from_lists([[np.array([0.5 + e])] for e in range(2)], n_channels=1)
    try:
        heap = run(net, x, 20.0, "heap", seed=seed % 1000, record_tape=record)
        win = run(net, x, 20.0, "window", seed=seed % 1000, record_tape=record)
    except eventsim.EventBudgetExceeded:
        assume(False)
    np.testing.assert_array_equal(win.spikes.index, heap.spikes.index)
    np.testing.assert_allclose(win.spikes.times, heap.spikes.times, rtol=0, atol=1e-9)
    # The same events, but for the Poisson spikes that reach a first-spike neuron after
    # it fired: the windowed loop skips them, the heap loop pops and counts them.
    if np.isfinite(t_ref):
        np.testing.assert_array_equal(win.n_events, heap.n_events)
    else:
        assert np.all(win.n_events <= heap.n_events)


def test_both_loops_draw_bit_identical_poisson_trains():
    """The windowed loop draws a window's Poisson spikes ahead, their logarithms in
    batches (draw_window); the heap loop draws one at a time through the same vector
    code: the same trains to the bit, as the tapes' arrival times show (silent neurons,
    so the trains are all that reaches them)."""
    net = eventsim.Network()
    net.add_inputs(1)
    pop = net.add_population(3, model="lif", multispike=True, tau_mem=10.0, tau_syn=2.5,
                             theta=1e6, v_reset=0.0, t_ref=0.5)
    drive = net.add_poisson(3, 2.0)
    net.connect(drive.ids, pop.ids, 0.5, 0.5)
    net.connect([0], pop.ids[:1], 1.0, 0.7)
    x = SpikeTrains.from_lists([[np.array([0.5])]] * 2, n_channels=1)
    heap = run(net, x, 50.0, "heap", seed=3, record_tape=True)
    win = run(net, x, 50.0, "window", seed=3, record_tape=True)

    def poisson_arrivals(res):
        log = res.tape.log
        # arrivals (type 1, _train_tape.pxd) of no recorded spike: the Poisson ones
        sel = (log["type"] == 1) & (log["ref"] == -1)
        key = np.lexsort((log["t"][sel], log["neuron"][sel]))
        return log["neuron"][sel][key], log["t"][sel][key]

    n_h, t_h = poisson_arrivals(heap)
    n_w, t_w = poisson_arrivals(win)
    assert t_h.size > 400           # about 2 per ms, 3 neurons, 2 examples, 50 ms
    np.testing.assert_array_equal(n_w, n_h)
    np.testing.assert_array_equal(t_w.view(np.int64), t_h.view(np.int64))


@pytest.mark.parametrize("name", ["heap", "window"])
def test_the_poisson_drive_is_the_same_with_the_scalar_and_the_vector_math(name):
    """The Poisson drive's logarithms and decays go through the C library's vector
    functions where the CPU has them (draw_window): a machine without them runs the
    scalar ones, within an ulp, so the same spikes to rounding."""
    from eventsim import _spiketrain_engine
    net = recurrent_with_poisson(n=40, seed=6)
    x = SpikeTrains.from_lists([[np.array([1.0]), np.array([2.5])]] * 2, n_channels=2)
    vector = run(net, x, 30.0, name, seed=8)
    _spiketrain_engine._set_scalar_math(True)
    try:
        scalar = run(net, x, 30.0, name, seed=8)
    finally:
        _spiketrain_engine._set_scalar_math(False)
    assert vector.spikes.n_spikes > 100
    np.testing.assert_array_equal(scalar.spikes.index, vector.spikes.index)
    np.testing.assert_allclose(scalar.spikes.times, vector.spikes.times, rtol=0, atol=1e-9)


def test_the_windowed_loop_is_bit_identical_for_any_thread_count():
    net = recurrent_with_poisson(n=40, seed=4)
    x = SpikeTrains.from_lists([[np.array([1.0 + e]), np.array([2.5])] for e in range(12)],
                               n_channels=2)
    one = run(net, x, 30.0, "window", seed=3, n_threads=1)
    two = run(net, x, 30.0, "window", seed=3, n_threads=2)
    assert one.spikes.n_spikes > 100
    np.testing.assert_array_equal(one.spikes.times, two.spikes.times)
    np.testing.assert_array_equal(one.spikes.index, two.spikes.index)
    np.testing.assert_array_equal(one.v_max, two.v_max)


def test_runaway_activity_ends_in_the_budget_error_in_the_windowed_loop():
    net = eventsim.Network()
    net.add_inputs(1)
    pop = net.add_population(20, model="lif", multispike=True, tau_mem=5.0, tau_syn=1.0,
                             theta=1.0, v_reset=0.0, t_ref=0.05, bias=3.0)
    net.connect(np.repeat(pop.ids, 20), np.tile(pop.ids, 20), 0.5, 0.1)
    assert plan_of(net, 1e3) is not None
    with loop("window"), pytest.raises(eventsim.EventBudgetExceeded, match="event budget"):
        eventsim.simulate(net, np.zeros((1, 1)), t_max=1e3, max_events=20_000)


def test_the_plan_takes_the_smallest_delay_of_spiking_neurons_and_orders_delay_free_synapses():
    net = eventsim.Network()
    net.add_inputs(2)
    a = net.add_population(2, model="lif", multispike=True)
    b = net.add_population(2, model="lif", multispike=True)
    net.connect([0, 1], [b.ids[0], a.ids[1]], 1.0, [0.0, 0.01])    # inputs: any delay
    net.connect([b.ids[0]], [a.ids[0]], 1.0, 0.0)                  # delay-free: b0 -> a0
    net.connect([a.ids[0]], [a.ids[1]], 1.0, 0.0)                  # a0 -> a1
    net.connect([a.ids[1]], [b.ids[0]], 1.0, 0.3)                  # delayed back edge
    net.connect([b.ids[1]], [b.ids[1]], 1.0, 0.7)                  # delayed autapse
    window, topo, levels = plan_of(net, 10.0)
    assert window == 0.3
    where = np.argsort(topo)
    assert where[b.ids[0]] < where[a.ids[0]] < where[a.ids[1]]
    # Levels: b0 -> a0 -> a1 are three, each delay-free target in a later level than
    # its source (its spikes are delivered when the source's level is done).
    level = np.searchsorted(levels, where, side="right") - 1
    assert levels[0] == 0 and levels[-1] == net.n_neurons and (np.diff(levels) > 0).all()
    assert level[b.ids[0]] < level[a.ids[0]] < level[a.ids[1]]
    assert sorted(topo.tolist()) == list(range(net.n_neurons))


def test_delay_free_cycles_take_the_heap_loop():
    net = eventsim.Network()
    net.add_inputs(1)
    pop = net.add_population(2, model="lif", multispike=True)
    net.connect([pop.ids[0], pop.ids[1]], [pop.ids[1], pop.ids[0]], 1.0, 0.0)
    assert plan_of(net, 10.0) is None
    with loop("window"), pytest.raises(ValueError, match="form no cycle"):
        eventsim.simulate(net, np.zeros((1, 1)), t_max=10.0)


def test_feedforward_networks_without_delays_run_in_one_window():
    net = eventsim.Network()
    net.add_inputs(3)
    h = net.add_population(5, model="lif", tau_mem=4.0, tau_syn=1.0)
    o = net.add_population(2, model="lif", tau_mem=4.0, tau_syn=1.0)
    rng = np.random.default_rng(1)
    net.connect(np.repeat(np.arange(3), 5), np.tile(h.ids, 3), rng.uniform(2.0, 8.0, 15))
    # Hidden spikes reach the outputs out of order: their buckets need sorting.
    net.connect(np.repeat(h.ids, 2), np.tile(o.ids, 5), rng.uniform(1.0, 6.0, 10))
    # Left to choose, the engine runs such stacks in the heap loop (they would need
    # sorting in one window); forced, the windowed loop runs them in one window.
    assert plan_of(net, 20.0) is None
    with loop("window"):
        window, topo, levels = plan_of(net, 20.0)
    assert window == np.inf
    assert (np.argsort(topo)[h.ids].max() < np.argsort(topo)[o.ids].min())
    x = np.array([[0.5, 1.0, 1.5], [0.2, 0.3, 3.0]])
    win = run(net, SpikeTrains.from_first_spikes(x), 20.0, "window")
    heap = run(net, SpikeTrains.from_first_spikes(x), 20.0, "heap")
    assert np.isfinite(heap.times[:, o.ids]).any()
    np.testing.assert_allclose(win.times, heap.times, rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", ["heap", "window"])
def test_runaway_without_refractory_period_ends_in_the_budget_error(name):
    # t_ref = 0: the current grows without bound and crossings come ever closer; the
    # crossing solver once failed to converge here (ConvergenceError) instead of the
    # budget ending the run.
    net = eventsim.Network()
    net.add_inputs(1)
    pop = net.add_population(20, model="lif", multispike=True, tau_mem=5.0, tau_syn=1.0,
                             theta=1.0, v_reset=0.0, t_ref=0.0, bias=3.0)
    net.connect(np.repeat(pop.ids, 20), np.tile(pop.ids, 20), 0.5, 0.1)
    with loop(name), pytest.raises(eventsim.EventBudgetExceeded) as err:
        eventsim.simulate(net, np.zeros((1, 1)), t_max=1e3)
    assert "event budget" in str(err.value)


def test_pulses_first_spike_neurons_and_piecewise_rates_agree_between_the_loops():
    rng = np.random.default_rng(7)
    net = eventsim.Network()
    net.add_inputs(3)
    pulses = net.add_pulses([2.0, 4.5, 7.0])
    drive = net.add_poisson(1, [[0.2, 1.5, 0.4]], rate_times=[0.0, 5.0, 12.0])
    once = net.add_population(15, model="lif", tau_mem=6.0, tau_syn=2.0)        # fire once
    multi = net.add_population(25, model="lif", multispike=True, tau_mem=8.0, tau_syn=2.0,
                               theta=1.0, v_reset=-0.2, t_ref=0.3, bias=0.2)
    out = net.add_population(2, model="li", tau_mem=5.0, tau_syn=2.0)
    hidden = np.concatenate([once.ids, multi.ids])
    net.connect(np.repeat(np.arange(3), 40), np.tile(hidden, 3), rng.uniform(0.5, 2.5, 120),
                rng.uniform(0.0, 0.5, 120))
    net.connect(np.repeat(pulses.ids, 40), np.tile(hidden, 3), 1.0, 0.25)
    net.connect(np.full(25, drive.ids[0]), multi.ids, 0.8, 0.2)
    pre = rng.choice(hidden, 300)
    post = rng.choice(hidden, 300)
    net.connect(pre, post, rng.normal(0.3, 0.6, 300), rng.uniform(0.2, 1.0, 300))
    net.connect(np.repeat(hidden, 2), np.tile(out.ids, 40), rng.normal(0.0, 0.4, 80), 0.1)
    x = SpikeTrains.from_lists([[np.array([0.5, 3.0]), np.array([1.0]), np.array([])],
                                [np.array([]), np.array([2.0, 2.2, 9.0]), np.array([6.0])]],
                               n_channels=3)
    with loop("window"):
        assert plan_of(net, 20.0)[0] == 0.1
    heap = run(net, x, 20.0, "heap", seed=9, readout_times=[5.0, 10.0, 20.0])
    win = run(net, x, 20.0, "window", seed=9, readout_times=[5.0, 10.0, 20.0])
    assert np.isfinite(heap.times[:, once.ids]).sum() >= 5
    assert heap.spikes.n_spikes > 100
    np.testing.assert_array_equal(win.spikes.index, heap.spikes.index)
    np.testing.assert_allclose(win.spikes.times, heap.spikes.times, rtol=0, atol=1e-9)
    np.testing.assert_allclose(win.times, heap.times, rtol=0, atol=1e-9)
    np.testing.assert_allclose(win.voltages, heap.voltages, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(win.t_v_max, heap.t_v_max, rtol=1e-9, atol=1e-9)
