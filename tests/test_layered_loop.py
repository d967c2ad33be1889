"""The spike-train engine's layered loop (feedforward stacks of dense projections without
delays, run block by block and neuron by neuron: docs/engine.md 13, "The layered loop")
against the heap loop and the brute-force reference, its gradients against the heap loop's,
and the plan that decides where it applies."""

from contextlib import contextmanager

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import eventsim
from eventsim import SpikeTrains, simulation

from reference_spiketrains import (TAU_RATIOS, _kernel_peak, crossing_margins,
                                   simulate_reference, spiketrain_networks)
from test_multispike_reference import mismatch, to_network
from test_window_loop import loop, well_conditioned_reference

SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def run(net, x, t_max, name, **kw):
    with loop(name):
        return eventsim.simulate(net, x, t_max=t_max, max_events=10**6, **kw)


def feedforward(desc):
    """The network without delays and with its recurrent synapses and autapses dropped
    (a DAG in neuron order), and no LI neurons: one population per neuron is then a
    stack of dense one-neuron blocks."""
    desc = dict(desc)
    n_in = desc["n_inputs"]
    pre, post = np.asarray(desc["pre"]), np.asarray(desc["post"])
    keep = (pre < n_in) | (pre < post)
    desc["pre"], desc["post"] = pre[keep], post[keep]
    desc["weight"] = np.asarray(desc["weight"])[keep]
    desc["delay"] = np.zeros(int(keep.sum()))
    desc["neurons"] = [dict(p, model="lif") for p in desc["neurons"]]
    return desc


@st.composite
def stacks(draw):
    """A stack of 2 to 4 populations of 1 to 8 neurons with dense projections, from the
    inputs and from any earlier population (skip connections), as a plain description
    the reference reads, plus the population sizes and input trains."""
    n_in = draw(st.integers(1, 4))
    sizes = draw(st.lists(st.integers(1, 8), min_size=2, max_size=4))
    ratio = draw(st.sampled_from(TAU_RATIOS))
    t_ref = draw(st.sampled_from([0.0, 0.5, np.inf]))
    t_max = draw(st.floats(5.0, 20.0))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    neurons, pre, post, weight = [], [], [], []
    starts = np.concatenate([[n_in], n_in + np.cumsum(sizes)])
    for k, size in enumerate(sizes):
        tau_mem = float(rng.uniform(1.0, 5.0))
        p = dict(tau_mem=tau_mem, tau_syn=tau_mem / ratio, g_leak=float(rng.uniform(0.5, 2.0)),
                 theta=float(rng.uniform(0.5, 1.5)), t_ref=float(t_ref), model="lif")
        p["v_reset"] = float(rng.uniform(0.05, 0.4)) * rng.choice([-1, 1])
        p["bias"] = float(rng.uniform(-0.5, 1.2)) * p["theta"] * p["g_leak"] \
            if rng.random() < 0.3 else 0.0
        p["v_init"] = float(rng.uniform(-0.5, 0.9)) * p["theta"]
        neurons += [p] * size
        scale = p["g_leak"] * p["theta"] / _kernel_peak(p["tau_mem"], p["tau_syn"])
        # Sources: the inputs and a random subset of the earlier populations (at least one).
        sources = [np.arange(n_in)] if k == 0 or rng.random() < 0.5 else []
        sources += [np.arange(starts[i], starts[i + 1]) for i in range(k) if rng.random() < 0.7]
        if not sources:
            sources = [np.arange(starts[k - 1], starts[k])]
        src = np.concatenate(sources)
        for j in range(starts[k], starts[k + 1]):
            for i in src:
                pre.append(i)
                post.append(j)
                fan = np.sqrt(src.size)
                w = scale * rng.uniform(0.3, 1.5) * (2.0 if i < n_in else 1.0) / fan
                weight.append(w if rng.random() < 0.75 else -1.5 * w)
    inputs = [np.sort(rng.uniform(0.0, t_max, int(rng.integers(0, 5)))) for _ in range(n_in)]
    desc = dict(n_inputs=n_in, neurons=neurons, pre=np.array(pre), post=np.array(post),
                weight=np.array(weight), delay=np.zeros(len(pre)))
    return desc, sizes, inputs, float(t_max)


def stack_network(desc, sizes):
    """The stack as eventsim populations (one per layer), synapses in a shuffled order."""
    net = eventsim.Network()
    net.add_inputs(desc["n_inputs"])
    i = 0
    for k, size in enumerate(sizes):
        p = desc["neurons"][i]
        net.add_population(size, model="lif", multispike=True, name=f"L{k}",
                           **{q: p[q] for q in ("tau_mem", "tau_syn", "g_leak", "theta",
                                                "v_reset", "t_ref", "bias", "v_init")})
        i += size
    order = np.random.default_rng(0).permutation(len(desc["pre"]))
    net.connect(desc["pre"][order], desc["post"][order], desc["weight"][order])
    return net, order


def first_trains(res, n_in):
    return res.spikes.trains(0)[n_in:]


@SETTINGS
@given(case=stacks())
def test_stacks_match_the_heap_loop_and_the_reference(case):
    desc, sizes, inputs, t_max = case
    net, _ = stack_network(desc, sizes)
    x = SpikeTrains.from_lists([inputs], n_channels=desc["n_inputs"])
    try:
        heap = run(net, x, t_max, "heap")
    except eventsim.EventBudgetExceeded:
        assume(False)
    lay = run(net, x, t_max, "layered")
    n_in = desc["n_inputs"]
    counts, err = mismatch(first_trains(heap, n_in), first_trains(lay, n_in))
    assert not counts, f"spike counts differ for neurons {counts}"
    assert err <= 1e-9, f"|dt| = {err:.3g}"
    np.testing.assert_array_equal(np.isinf(lay.times), np.isinf(heap.times))
    ok = np.isfinite(heap.times)
    np.testing.assert_allclose(lay.times[ok], heap.times[ok], rtol=1e-9, atol=1e-9)
    if not np.isinf(desc["neurons"][0]["t_ref"]):
        ref = simulate_reference(desc, inputs, t_max, max_spikes=10**5)
        assume(crossing_margins(desc, inputs, t_max, ref)["min"] > 1e-7)
        counts, err = mismatch(ref, first_trains(lay, n_in))
        assert not counts, f"spike counts differ from the reference for neurons {counts}"
        assert err <= 1e-9, f"|dt| = {err:.3g} against the reference"


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(case=spiketrain_networks(n_range=(2, 12), delays="zero", li_fraction=0.0))
def test_random_dags_match_the_brute_force_reference(case):
    # One population per neuron: any DAG without delays is a stack of dense blocks.
    desc, inputs, t_max = feedforward(case[0]), case[1], case[2]
    ref = well_conditioned_reference(desc, inputs, t_max)
    net = to_network(desc)
    x = SpikeTrains.from_lists([inputs], n_channels=desc["n_inputs"])
    counts, err = mismatch(ref, first_trains(run(net, x, t_max, "layered"), desc["n_inputs"]))
    assert not counts and err <= 1e-9, f"spike counts differ for {counts}; |dt| = {err:.3g}"


def yin_yang_like(seed=0, t_ref=0.0, n_hidden=40):
    rng = np.random.default_rng(seed)
    net = eventsim.Network()
    inp = net.add_inputs(5)
    hid = net.add_population(n_hidden, model="lif", multispike=True, tau_mem=20.0, tau_syn=5.0,
                             theta=1.0, v_reset=0.0, t_ref=t_ref)
    out = net.add_population(3, model="lif", multispike=True, tau_mem=20.0, tau_syn=5.0,
                             theta=1.0, v_reset=0.0, t_ref=t_ref)
    net.connect_dense(inp, hid, rng.normal(1.5, 0.78, (5, n_hidden)))
    net.connect_dense(hid, out, rng.normal(0.93, 0.1, (n_hidden, 3)))
    x = np.concatenate([rng.uniform(0, 30, (16, 4)), np.zeros((16, 1))], axis=1)
    return net, out, x


@pytest.mark.parametrize("t_ref", [0.0, 0.7])
def test_gradients_equal_the_heap_loops(t_ref):
    net, out, x = yin_yang_like(t_ref=t_ref)
    grads, res = {}, {}
    for name in ("heap", "layered"):
        res[name] = run(net, x, 100.0, name, record_tape=True)
        t = res[name].times[:, out.ids]
        dl = np.where(np.isfinite(t), 1.0, 0.0)
        grads[name] = eventsim.backward(net, res[name], dl, outputs=out.ids)
    assert np.isfinite(res["heap"].times[:, out.ids]).sum() > 20
    np.testing.assert_array_equal(res["layered"].spikes.index, res["heap"].spikes.index)
    np.testing.assert_allclose(res["layered"].spikes.times, res["heap"].spikes.times,
                               rtol=0, atol=1e-9)
    for what in ("weights", "theta", "tau_mem", "tau_syn", "v_reset"):
        a, b = np.asarray(getattr(grads["layered"], what)), np.asarray(getattr(grads["heap"], what))
        scale = np.abs(b).max()
        assert scale > 0 or what == "v_reset"
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-9 * max(scale, 1.0), err_msg=what)
    g_in = {k: eventsim.backward(net, res[k], dL_dspikes=np.ones(res[k].spikes.n_spikes))
            for k in res}
    np.testing.assert_allclose(g_in["layered"].input_times, g_in["heap"].input_times,
                               rtol=0, atol=1e-9 * np.abs(g_in["heap"].input_times).max())


@pytest.mark.parametrize("t_ref", [0.0, 0.7])
def test_the_lean_tape_leaves_out_silent_neurons_and_gives_the_same_gradients(t_ref):
    # record_tape=True drops the entries of neurons that never fire (zero adjoints);
    # "full" keeps them.  Gradients of every kind must not change, bit for bit.
    net, out, x = yin_yang_like(t_ref=t_ref)
    lean = run(net, x, 100.0, "layered", record_tape=True)
    full = run(net, x, 100.0, "layered", record_tape="full")
    assert not lean.tape.complete and full.tape.complete
    np.testing.assert_array_equal(lean.spikes.times, full.spikes.times)
    n_lean, n_full = len(lean.tape.log), len(full.tape.log)
    for e in range(x.shape[0]):
        a, b = lean.tape.log_offsets[e:e + 2]
        o = lean.spikes.offsets
        fired = set(lean.spikes.index[o[e]:o[e + 1]].tolist())
        logged = set(lean.tape.log["neuron"][a:b].tolist())
        assert logged == fired, e          # sources, and the neurons that fired
        c, d = full.tape.log_offsets[e:e + 2]
        assert set(full.tape.log["neuron"][c:d].tolist()) >= set(range(net.n_inputs, net.n_neurons))
    assert n_lean < 0.8 * n_full
    t = lean.times[:, out.ids]
    dl = np.where(np.isfinite(t), 1.0 + np.arange(t.shape[1]), 0.0)
    spikes = np.linspace(-1.0, 1.0, lean.spikes.n_spikes)
    g = {k: eventsim.backward(net, r, dl, outputs=out.ids, dL_dspikes=spikes)
         for k, r in (("lean", lean), ("full", full))}
    assert np.abs(g["full"].weights).max() > 0
    for what in ("weights", "delays", "theta", "v_reset", "t_ref", "bias", "v_init", "tau_mem",
                 "tau_syn", "input_times", "spikes"):
        np.testing.assert_array_equal(np.asarray(getattr(g["lean"], what)),
                                      np.asarray(getattr(g["full"], what)), err_msg=what)


@pytest.mark.parametrize("t_ref", [0.0, 0.7, np.inf])
def test_the_full_tape_holds_the_heap_loops_events_neuron_by_neuron(t_ref):
    # record_tape="full": each neuron's entries (written once it has run, its arrivals
    # merged with its spikes and releases) are the heap loop's, in the same order, with
    # the same states to rounding; only the interleaving across neurons differs.
    net, out, x = yin_yang_like(seed=5, t_ref=t_ref, n_hidden=30)
    tapes = {k: run(net, x, 100.0, k, record_tape="full").tape for k in ("heap", "layered")}
    n_checked = n_released = 0
    for e in range(x.shape[0]):
        per = {}
        for k, tape in tapes.items():
            log = tape.log[tape.log_offsets[e]:tape.log_offsets[e + 1]]
            per[k] = {j: log[log["neuron"] == j] for j in range(net.n_inputs, net.n_neurons)}
        for j in range(net.n_inputs, net.n_neurons):
            a, b = per["layered"][j], per["heap"][j]
            assert a.size == b.size, (e, j)
            np.testing.assert_array_equal(a["type"], b["type"])
            np.testing.assert_array_equal(a["mode"], b["mode"])
            np.testing.assert_array_equal(a["syn"][a["type"] == 1], b["syn"][b["type"] == 1])
            for f in ("t", "V", "J"):
                np.testing.assert_allclose(a[f], b[f], rtol=0, atol=1e-9, err_msg=f"{e} {j} {f}")
            n_checked += int((a["type"] == 2).sum())
            n_released += int((a["type"] == 3).sum())
    assert n_checked > 50
    assert (n_released > 0) == (0 < t_ref < np.inf)     # releases only with a finite t_ref


def test_the_layered_loop_is_bit_identical_for_any_thread_count():
    net, out, x = yin_yang_like(seed=3, n_hidden=60)
    x = np.tile(x, (3, 1))
    one = run(net, x, 100.0, "layered", n_threads=1, record_tape=True)
    two = run(net, x, 100.0, "layered", n_threads=2, record_tape=True)
    assert one.spikes.n_spikes > 500
    np.testing.assert_array_equal(one.spikes.times, two.spikes.times)
    np.testing.assert_array_equal(one.spikes.index, two.spikes.index)
    np.testing.assert_array_equal(one.tape.log, two.tape.log)


def test_runaway_without_refractory_period_ends_in_the_budget_error():
    net = eventsim.Network()
    net.add_inputs(1)
    net.add_population(5, model="lif", multispike=True, tau_mem=5.0, tau_syn=1.0, theta=1.0,
                       v_reset=0.0, t_ref=0.0, bias=1e6)
    with loop("layered"), pytest.raises(eventsim.EventBudgetExceeded, match="event budget"):
        eventsim.simulate(net, np.zeros((1, 1)), t_max=1e3, max_events=10_000)


def plan(net):
    low = net._lower()
    li = np.zeros(net.n_neurons, bool)
    for p in net.populations:
        if p.kind == "li":
            li[p.ids] = True
    with loop("auto"):
        return simulation._layer_plan(net, low, li)


def test_the_plan_orders_blocks_and_lays_out_dense_matrices():
    net = eventsim.Network()
    inp = net.add_inputs(2)
    b = net.add_population(2, model="lif", multispike=True, name="b")
    a = net.add_population(3, model="lif", multispike=True, name="a")
    c = net.add_population(1, model="lif", multispike=True, name="c")
    # Synapses added in an order unrelated to the blocks': a -> c first.
    net.connect_dense(a, c, np.ones((3, 1)))
    net.connect_dense(inp, b, np.arange(4.0).reshape(2, 2))
    net.connect_dense(b, a, np.ones((2, 3)))
    net.connect_dense(inp, a, np.ones((2, 3)))
    nrn, ptr, pop, row, npre, soff, syn = plan(net)
    assert list(pop) == [0, 1, 2]
    np.testing.assert_array_equal(nrn, np.arange(2, 8))
    np.testing.assert_array_equal(npre, [2, 4, 3])
    row = row.reshape(3, -1)
    np.testing.assert_array_equal(row[1, :4], [0, 1, 2, 3])     # inputs and b, in id order
    # Block b's matrix, neuron-major: neuron 2 from inputs 0, 1 has weights 0, 2.
    np.testing.assert_array_equal(net.weights[syn[:4]], [0.0, 2.0, 1.0, 3.0])
    pre = np.asarray(net.pre)
    for blk in range(3):
        m = syn[soff[blk]:soff[blk + 1]].reshape(ptr[blk + 1] - ptr[blk], npre[blk])
        assert (np.asarray(net.post)[m] == nrn[ptr[blk]:ptr[blk + 1], None]).all()
        assert (row[blk][pre[m]] == np.arange(npre[blk])).all()


def test_the_plan_refuses_what_the_loop_cannot_run():
    def base():
        net = eventsim.Network()
        inp = net.add_inputs(2)
        hid = net.add_population(3, model="lif", multispike=True, name="h")
        net.connect_dense(inp, hid, np.ones((2, 3)))
        return net, inp, hid
    net, inp, hid = base()
    assert plan(net) is not None
    sparse, inp, hid = base()
    o = sparse.add_population(2, model="lif", multispike=True, name="o")
    sparse.connect([2, 3], o.ids, [1.0, 1.0])                   # not every pair
    assert plan(sparse) is None
    rec, inp, hid = base()
    rec.connect([2], [3], [0.5])                                # within a population
    assert plan(rec) is None
    delayed, inp, hid = base()
    delayed.delays = np.full(delayed.n_synapses, 0.5)
    assert plan(delayed) is None
    ro, inp, hid = base()
    r = ro.add_population(1, model="li", name="r")
    ro.connect_dense(hid, r, np.ones((3, 1)))
    assert plan(ro) is None
    dup, inp, hid = base()
    dup.connect([0], [2], [1.0])                                # a second synapse 0 -> 2
    assert plan(dup) is None
    for net in (sparse, rec, delayed, ro, dup):
        with loop("layered"), pytest.raises(ValueError, match="layered loop needs"):
            eventsim.simulate(net, np.zeros((1, 2)), t_max=10.0)


def test_yin_yang_runs_the_layered_loop_by_default():
    import sys
    import pathlib
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "examples"))
    import yin_yang_eventprop as yy
    net, hid, out = yy.build(0)
    assert plan(net) is not None


@pytest.mark.parametrize("name", ["heap", "window", "layered"])
def test_runs_with_and_without_tape_in_turn_agree(name):
    # Workspaces are kept between calls (per network size, loop and recording): a run
    # with a tape after one without, and the other way round, must not see each
    # other's buffers.
    if name == "window":
        from test_window_loop import recurrent_with_poisson
        net = recurrent_with_poisson(n=30, seed=1)
        x = SpikeTrains.from_lists([[np.array([1.0]), np.array([2.5])]] * 4, n_channels=2)
        kw = dict(seed=5)
    else:
        net, out, x = yin_yang_like(seed=2)
        kw = {}
    runs = []
    for record in (False, True, False, True, True):
        res = run(net, x, 30.0, name, record_tape=record, **kw)
        runs.append(res)
        if record:
            g = eventsim.backward(net, res, dL_dspikes=np.ones(res.spikes.n_spikes))
            assert np.isfinite(g.weights).all()
    assert runs[0].spikes.n_spikes > 50
    for res in runs[1:]:
        np.testing.assert_array_equal(res.spikes.times, runs[0].spikes.times)
        np.testing.assert_array_equal(res.spikes.index, runs[0].spikes.index)
    np.testing.assert_array_equal(runs[3].tape.log, runs[1].tape.log)
    np.testing.assert_array_equal(runs[4].tape.log, runs[1].tape.log)


def test_edge_cases_agree_with_the_heap_loop():
    # A population with no inputs (bias alone), input spikes at equal times, at t_max
    # itself and after it, a zero weight, and a first-spike population downstream.
    net = eventsim.Network()
    inp = net.add_inputs(3)
    tonic = net.add_population(2, model="lif", multispike=True, tau_mem=4.0, tau_syn=1.0,
                               theta=1.0, v_reset=0.2, t_ref=0.3, bias=1.6, name="tonic")
    hid = net.add_population(4, model="lif", multispike=True, tau_mem=4.0, tau_syn=2.0,
                             theta=1.0, v_reset=-0.1, t_ref=0.0, name="hid")
    out = net.add_population(2, model="lif", tau_mem=3.0, tau_syn=1.0, theta=0.8, name="out")
    w = np.array([[2.0, 0.0, 1.5, 3.0], [1.0, 2.5, 0.0, 1.2], [0.7, 0.9, 2.2, -1.0]])
    net.connect_dense(inp, hid, w)
    net.connect_dense(tonic, hid, np.full((2, 4), 0.6))
    net.connect_dense(hid, out, np.array([[1.0, 0.5], [0.8, 1.1], [-0.4, 0.9], [1.2, 0.3]]))
    t_max = 12.0
    x = SpikeTrains.from_lists([[np.array([1.0, 4.0, 12.0, 13.0]), np.array([1.0, 6.5]),
                                 np.array([2.0, 2.0 + 1e-9, 12.0])],
                                [np.array([0.0]), np.array([0.0]), np.array([])]],
                               n_channels=3)
    heap = run(net, x, t_max, "heap", record_tape=True)
    lay = run(net, x, t_max, "layered", record_tape=True)
    assert (np.diff(heap.spikes.offsets) > 5).all()
    np.testing.assert_array_equal(lay.spikes.index, heap.spikes.index)
    np.testing.assert_allclose(lay.spikes.times, heap.spikes.times, rtol=0, atol=1e-12)
    assert lay.spikes.times.max() <= t_max
    np.testing.assert_allclose(lay.times, heap.times, rtol=0, atol=1e-12)
    n = lay.spikes.n_spikes
    g = {k: eventsim.backward(net, r, dL_dspikes=np.ones(n)) for k, r in (("heap", heap), ("lay", lay))}
    np.testing.assert_allclose(g["lay"].weights, g["heap"].weights, rtol=0,
                               atol=1e-9 * np.abs(g["heap"].weights).max())
    np.testing.assert_allclose(g["lay"].input_times, g["heap"].input_times, rtol=0,
                               atol=1e-9 * np.abs(g["heap"].input_times).max())
    np.testing.assert_allclose(g["lay"].bias, g["heap"].bias, rtol=1e-9, equal_nan=True)


@contextmanager
def scan_from(n):
    """Blocks of at least n neurons run through lay_scan, the others neuron by neuron."""
    from eventsim import _spiketrain_engine
    old = _spiketrain_engine._set_lay_scan_min(n)
    try:
        yield
    finally:
        _spiketrain_engine._set_lay_scan_min(old)


@SETTINGS
@given(case=stacks(), record=st.sampled_from([False, True, "full"]))
def test_the_block_scan_changes_no_bit(case, record):
    # The scan runs a block's neurons together up to the first interval where one could
    # fire, and lay_neuron takes it up from there: spikes, first spikes and every tape
    # entry (the lean tape's prefilled ones included) must be those of lay_neuron run
    # from 0, for every ratio of the time constants, reset, refractory period, bias and
    # initial potential the stacks draw.  The full tape never scans (nothing to compare
    # but the same run), so it checks the switch.
    desc, sizes, inputs, t_max = case
    net, _ = stack_network(desc, sizes)
    x = SpikeTrains.from_lists([inputs, inputs[::-1]] if len(inputs) > 1 else [inputs],
                               n_channels=desc["n_inputs"])
    res = {}
    for name, n in (("scan", 1), ("plain", 10**9)):
        with scan_from(n):
            try:
                res[name] = run(net, x, t_max, "layered", record_tape=record)
            except eventsim.EventBudgetExceeded as e:
                res[name] = e
    runaway = [isinstance(r, eventsim.EventBudgetExceeded) for r in (res["scan"], res["plain"])]
    assert runaway[0] == runaway[1]
    assume(not runaway[0])
    scan, plain = res["scan"], res["plain"]
    np.testing.assert_array_equal(scan.spikes.times, plain.spikes.times)
    np.testing.assert_array_equal(scan.spikes.index, plain.spikes.index)
    np.testing.assert_array_equal(scan.spikes.offsets, plain.spikes.offsets)
    np.testing.assert_array_equal(scan.times, plain.times)
    np.testing.assert_array_equal(*[r.tape.log if record else np.zeros(0) for r in (scan, plain)])


def test_the_block_scan_runs_on_wide_blocks_and_agrees_with_the_heap_loop():
    # Yin-Yang's 200 hidden neurons are one block the scan runs by default; most of
    # them cross threshold in some interval, so lay_neuron takes up many, at various
    # intervals.
    net, out, x = yin_yang_like(seed=2)
    assert max(p.size for p in net.populations) >= 8
    lay = run(net, x, 30.0, "layered", record_tape=True)
    with scan_from(10**9):
        plain = run(net, x, 30.0, "layered", record_tape=True)
    heap = run(net, x, 30.0, "heap")
    assert lay.spikes.n_spikes > 50
    np.testing.assert_array_equal(lay.spikes.times, plain.spikes.times)
    np.testing.assert_array_equal(lay.tape.log, plain.tape.log)
    np.testing.assert_array_equal(lay.spikes.index, heap.spikes.index)
    np.testing.assert_allclose(lay.spikes.times, heap.spikes.times, rtol=0, atol=1e-9)
