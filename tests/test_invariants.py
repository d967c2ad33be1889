"""Symmetries of the exact simulation: time shifts, relabelling, thread counts."""

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import eventsim
from eventsim.testing import strategies as es
from reference import assert_times_equal, simulate_reference


def _well_conditioned(net, x):
    ref = simulate_reference(net, x)
    return ref.well_conditioned(peak=1e-7, q=0.0)


# --------------------------------------------------------------------------- time shift
@settings(max_examples=50, deadline=None)
@given(st.data())
def test_time_shift(data):
    """Shifting every input and pulse by c shifts every spike by c (delays fixed)."""
    net = data.draw(es.networks(max_neurons=6))
    x = data.draw(es.input_times(net, max_examples=3))
    c = data.draw(st.sampled_from([0.25, -1.5, 3.0, 17.75, 1000.0, 123456.5]))
    assume(_well_conditioned(net, x))
    base = eventsim.simulate(net, x).times
    shifted_net = net.copy()
    shifted_net.pulse_times = net.pulse_times + c  # inf stays inf
    shifted = eventsim.simulate(shifted_net, x + c).times
    assert_times_equal(shifted, base + c, tol=1e-9, what=f"times shifted by {c}")


# --------------------------------------------------------------------------- relabelling
def relabelled(net, x, rng):
    """The same network built with shuffled block order, shuffled ids within every
    block and shuffled synapse insertion order.

    Returns (new_net, new_x, newid) with ``newid[old_id] = new_id``.
    """
    new = eventsim.Network()
    newid = np.empty(net.n_neurons, np.int64)
    perms = {}
    for b in rng.permutation(len(net.populations)):
        pop = net.populations[b]
        perm = rng.permutation(pop.size)
        old_ids = pop.start + perm  # old id that lands at position j of the new block
        if pop.kind == "input":
            blk = new.add_inputs(pop.size, name=pop.name)
        elif pop.kind == "pulse":
            blk = new.add_pulses(net.pulse_times[net.source_index[old_ids]], name=pop.name)
        else:
            blk = new.add_population(pop.size, tau=net.tau[pop.index], theta=net.theta[pop.index],
                                     name=pop.name)
        newid[old_ids] = blk.ids
        perms[b] = perm
    order = rng.permutation(net.n_synapses)
    if order.size:
        new.connect(newid[net.pre[order]], newid[net.post[order]], net.weights[order],
                    net.delays[order])
    old_inputs = net.input_ids
    new_x = np.full_like(x, np.inf)
    new_x[:, new.source_index[newid[old_inputs]]] = x[:, net.source_index[old_inputs]]
    return new, new_x, newid


@settings(max_examples=50, deadline=None)
@given(st.data())
def test_relabelling_permutes_outputs(data):
    net = data.draw(es.networks(max_neurons=7, max_populations=3))
    x = data.draw(es.input_times(net, max_examples=3))
    seed = data.draw(st.integers(0, 2**32 - 1))
    assume(_well_conditioned(net, x))
    new, new_x, newid = relabelled(net, x, np.random.default_rng(seed))
    # the permuted network is really a different labelling of the same graph
    assert new.n_neurons == net.n_neurons and new.n_synapses == net.n_synapses
    a = eventsim.simulate(net, x).times
    b = eventsim.simulate(new, new_x).times
    assert_times_equal(b[:, newid], a, tol=1e-12, what="relabelled network")


def test_relabelling_helper_is_a_permutation(rng):
    net = eventsim.feedforward(3, [4], 2, n_pulses=2, rng=1)
    x = rng.uniform(0, 1, (2, 3))
    new, new_x, newid = relabelled(net, x, rng)
    assert sorted(newid.tolist()) == list(range(net.n_neurons))
    assert np.array_equal(new.kind[newid], net.kind)
    np.testing.assert_array_equal(np.sort(new_x, axis=1), np.sort(x, axis=1))


# --------------------------------------------------------------------------- threads
def _run(net, x, c, n_threads):
    res = eventsim.simulate(net, x, record_tape=True, n_threads=n_threads)
    g = eventsim.backward(net, res, c, n_threads=n_threads, penalty_no_spike=0.25)
    return res, g


@settings(max_examples=25, deadline=None)
@given(st.data())
def test_thread_count_bit_identical(data):
    net = data.draw(es.networks(max_neurons=8))
    x = data.draw(es.input_times(net, n_examples=data.draw(st.integers(5, 11))))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    c = rng.normal(size=(x.shape[0], net.n_neurons))
    runs = [_run(net, x, c, k) for k in (1, 2, 3)]
    r1, g1 = runs[0]
    for k, (r, g) in zip((2, 3), runs[1:]):
        assert np.array_equal(r.times, r1.times), f"times differ with n_threads={k}"
        assert np.array_equal(r.n_events, r1.n_events), f"n_events differ with n_threads={k}"
        assert np.array_equal(r.tape.q, r1.tape.q)
        assert np.array_equal(r.tape.deliveries, r1.tape.deliveries)
        assert np.array_equal(r.tape.offsets, r1.tape.offsets)
        for field in ("weights", "delays", "theta", "pulse_times", "input_times"):
            assert np.array_equal(getattr(g, field), getattr(g1, field)), (
                f"gradient of {field} differs with n_threads={k}")


def test_thread_count_bit_identical_large_batch(rng):
    net = eventsim.feedforward(6, [12, 8], 3, n_pulses=2, nonpulse_init_multiplier=1.0,
                               pulse_init_multiplier=1.0, theta=0.7, rng=3)
    x = rng.uniform(0, 1, (200, 6))
    x[rng.random(x.shape) < 0.1] = np.inf
    c = rng.normal(size=(200, net.n_neurons))
    r1, g1 = _run(net, x, c, 1)
    out = np.isfinite(r1.times[:, net["output"].ids])
    assert out.any() and not out.all()
    for k in (2, 3, 7):
        r, g = _run(net, x, c, k)
        assert np.array_equal(r.times, r1.times)
        for field in ("weights", "delays", "theta", "pulse_times", "input_times"):
            assert np.array_equal(getattr(g, field), getattr(g1, field)), field
