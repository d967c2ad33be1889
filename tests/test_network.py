"""Building networks: dense, sparse and edge-list connections agree; layer helpers."""

import numpy as np
import pytest
import scipy.sparse as sp

import eventsim


def _three_ways(rng):
    w = rng.normal(1.0, 1.0, (4, 5))
    w[rng.uniform(size=w.shape) < 0.4] = 0.0
    d = np.where(w != 0, rng.uniform(0, 0.5, w.shape), 0.0)
    nets = []
    for how in ("dense", "sparse", "edges"):
        net = eventsim.Network()
        x = net.add_inputs(4)
        h = net.add_population(5, tau=1.0, theta=0.5)
        if how == "dense":
            net.connect_dense(x, h, w, d)       # zero entries become zero-weight synapses
        elif how == "sparse":
            net.connect_sparse(x, h, sp.csr_array(w), delays=sp.csr_array(d) if d.any() else None)
        else:
            r, c = np.nonzero(w)
            net.connect(x.ids[r], h.ids[c], w[r, c], d[r, c])
        nets.append(net)
    return nets, w


def test_dense_sparse_and_edges_agree(rng):
    nets, w = _three_ways(rng)
    x = rng.uniform(0, 1, (10, 4))
    times = [eventsim.simulate(n, x).times for n in nets]
    for t in times[1:]:
        np.testing.assert_array_equal(t, times[0])
    for n in nets:
        np.testing.assert_array_equal(n.weight_matrix(n.input_ids, np.arange(4, 9)), w)
    assert nets[0].n_synapses == w.size
    assert nets[1].n_synapses == nets[2].n_synapses == np.count_nonzero(w)


def test_synapse_order_and_lookup():
    net = eventsim.Network()
    x = net.add_inputs(3)
    h = net.add_population(2)
    net.connect([2, 0, 1, 0], [3, 4, 3, 3], [0.1, 0.2, 0.3, 0.4])
    assert list(net.pre) == [0, 0, 1, 2]            # sorted by presynaptic neuron, stable
    assert list(net.weights) == [0.2, 0.4, 0.3, 0.1]
    assert list(net.indptr) == [0, 2, 3, 4, 4, 4]
    np.testing.assert_array_equal(net.synapse_ids([0], [3]), [1])
    ind, syn = net.incoming()
    assert sorted(syn[ind[3]:ind[4]]) == [1, 2, 3]


def test_connect_after_neurons_added_later():
    net = eventsim.Network()
    x = net.add_inputs(1)
    h = net.add_population(1)
    net.connect(x, h, [3.0])
    assert net.n_synapses == 1
    h2 = net.add_population(1, name="late")
    net.connect(h, h2, [3.0])
    res = eventsim.simulate(net, [0.0])
    assert np.isfinite(res.times).all()
    assert res.times[2] > res.times[1] > 0


def test_feedforward_structure(rng):
    per_layer = eventsim.feedforward(6, [5, 4], 3, n_pulses=2, pulses="per_layer", rng=rng)
    names = [p.name for p in per_layer.populations]
    assert names == ["input", "pulses0", "hidden0", "pulses1", "hidden1", "pulses2", "output"]
    assert per_layer.n_synapses == (6 + 2) * 5 + (5 + 2) * 4 + (4 + 2) * 3
    np.testing.assert_allclose(per_layer.pulse_times, np.tile([1 / 3, 2 / 3], 3))
    per_net = eventsim.feedforward(6, [5, 4], 3, n_pulses=2, pulses="per_network", rng=rng)
    assert per_net.n_pulses == 2
    # the one pulse set reaches every non-input neuron
    assert set(per_net.post[np.isin(per_net.pre, per_net.pulse_ids)]) == set(
        np.flatnonzero(per_net.kind == eventsim.ALPHA))


def test_glorot_statistics():
    net = eventsim.feedforward(400, [300], 10, n_pulses=10, nonpulse_init_multiplier=-0.5,
                               pulse_init_multiplier=3.0, rng=1)
    w = net.weight_matrix(net["input"], net["hidden0"])
    std = np.sqrt(2.0 / (410 + 300))
    assert w.std() == pytest.approx(std, rel=0.02)
    assert w.mean() == pytest.approx(-0.5 * std, abs=0.02 * std)
    wp = net.weight_matrix(net["pulses0"], net["hidden0"])
    assert wp.mean() == pytest.approx(3.0 * std, rel=0.05)


def test_copy_is_independent():
    net = eventsim.feedforward(3, [4], 2, rng=0)
    other = net.copy()
    other.weights = other.weights * 2
    assert not np.array_equal(net.weights, other.weights)


# ------------------------------------------------------------------ compact storage
def _expand_lowering(monkeypatch):
    """Make every run read one delay and one order entry per synapse (the layout a
    network had before equal delays and the identity order were kept compact)."""
    lower = eventsim.Network._lower

    def expanded(self, **kwargs):
        low = lower(self, **kwargs)
        low.delays = np.ascontiguousarray(low.delay_array())
        low.order = np.ascontiguousarray(low.order_array())
        return low

    monkeypatch.setattr(eventsim.Network, "_lower", expanded)


def _recurrent(rng, model, delays, n_in=3, n=12, p=0.5):
    net = eventsim.Network()
    x = net.add_inputs(n_in)
    params = dict(tau=1.0, theta=1.0) if model == "alpha" else dict(
        model="lif", tau_mem=2.0, tau_syn=1.0, g_leak=1.0, theta=0.3)
    h = net.add_population(n, **params)
    w_in = rng.uniform(0.5, 2.0, (n_in, n))
    net.connect_dense(x, h, w_in, delays(rng, w_in.shape))
    mask = rng.uniform(size=(n, n)) < p
    r, c = np.nonzero(mask)
    net.connect(h.ids[r], h.ids[c], rng.normal(0.2, 0.6, r.size), delays(rng, r.size))
    return net, rng.uniform(0, 1, (5, n_in))


_DELAYS = {
    "equal": lambda rng, shape: 0.25,
    "equal array": lambda rng, shape: np.full(shape, 0.25),
    "zero": lambda rng, shape: 0.0,
    "unsorted": lambda rng, shape: rng.uniform(0, 0.5, shape),
}


def _run_first_spike(net, x):
    res = eventsim.simulate(net, x, record_tape=True)
    g = np.where(np.isfinite(res.times), 1.0, 0.0)
    return res, eventsim.backward(net, res, g)


@pytest.mark.parametrize("model", ["alpha", "lif"])
@pytest.mark.parametrize("how", list(_DELAYS))
def test_compact_delays_and_order_match_the_expanded_layout(rng, monkeypatch, model, how):
    net, x = _recurrent(rng, model, _DELAYS[how])
    res, grads = _run_first_spike(net, x)
    if how != "unsorted":
        assert net._delays is None and res.tape.delay_order.size == 0
    _expand_lowering(monkeypatch)
    res2, grads2 = _run_first_spike(net, x)
    assert res2.tape.delay_order.size == net.n_synapses
    np.testing.assert_array_equal(res.times, res2.times)
    np.testing.assert_array_equal(res.tape.deliveries, res2.tape.deliveries)
    for name in ("weights", "delays", "theta", "pulse_times", "input_times"):
        np.testing.assert_array_equal(getattr(grads, name), getattr(grads2, name))


def test_equal_delays_as_a_number_or_an_array_give_identical_runs(rng):
    nets = []
    for how in ("equal", "equal array"):
        net, x = _recurrent(np.random.default_rng(5), "alpha", _DELAYS[how])
        nets.append(net)
    a, b = (_run_first_spike(n, x) for n in nets)
    np.testing.assert_array_equal(a[0].times, b[0].times)
    np.testing.assert_array_equal(a[1].weights, b[1].weights)
    np.testing.assert_array_equal(a[1].delays, b[1].delays)


@pytest.mark.parametrize("how", ["sorted", "unsorted"])
def test_unequal_delays_match_the_brute_force_reference(rng, how):
    import reference

    net, x = _recurrent(rng, "alpha", _DELAYS["zero"])
    d = rng.uniform(0, 0.5, net.n_synapses)
    if how == "sorted":
        # Non-decreasing within each presynaptic neuron: the identity delivery order.
        ind = net.indptr
        for i in range(net.n_neurons):
            d[ind[i]:ind[i + 1]] = np.sort(d[ind[i]:ind[i + 1]])
    net.delays = d
    res = eventsim.simulate(net, x, record_tape=True)
    assert (res.tape.delay_order.size == 0) == (how == "sorted")
    if how == "unsorted":
        np.testing.assert_array_equal(res.tape.delay_order, net.delay_order())
    reference.assert_times_equal(res.times, reference.simulate_reference(net, x).times)


def _spiking(delay, seed=3, n=40, k=8):
    rng = np.random.default_rng(seed)
    net = eventsim.Network()
    net.add_inputs(0)
    drive = net.add_poisson(1, 2.0, name="drive")
    pop = net.add_population(n, model="lif", multispike=True, tau_mem=10.0, tau_syn=1.0,
                             g_leak=1.0, theta=1.0, v_reset=0.0, t_ref=1.0, name="pop")
    pre = rng.integers(0, n, (n, k))
    w = np.where(pre < int(0.8 * n), 0.5, -1.5).ravel()
    net.connect(pop.ids[0] + pre.ravel(), np.repeat(pop.ids, k), w,
                delay(rng, w.size) if callable(delay) else delay)
    net.connect(np.full(n, drive.ids[0]), pop.ids, 1.2, 0.0 if delay == 0.0 else 0.5)
    return net


def _run_trains(net):
    res = eventsim.simulate(net, np.zeros((1, 0)), t_max=40.0, seed=7, record_tape=True)
    return res.spikes.times, res.spikes.index, res.tape.log


@pytest.mark.parametrize("loop", ["heap", "window"])
@pytest.mark.parametrize("delay", [0.5, "unsorted"])
def test_spike_train_engine_compact_layout_matches_the_expanded_one(monkeypatch, loop, delay):
    from eventsim import simulation

    monkeypatch.setattr(simulation, "_TRAIN_LOOP", loop)
    net = _spiking(delay if delay != "unsorted" else (lambda rng, k: rng.uniform(0.2, 1.0, k)))
    a = _run_trains(net)
    assert a[0].size > 100
    _expand_lowering(monkeypatch)
    b = _run_trains(net)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)


def test_equal_delays_take_twelve_bytes_per_synapse():
    net = _spiking(0.5, n=1000, k=200)
    m = net.n_synapses
    eventsim.simulate(net, np.zeros((1, 0)), t_max=2.0, seed=1, record_tape=True)
    assert net.nbytes / m <= 12.5
    # Reading the delays creates the live array (8 bytes more per synapse);
    # assigning equal delays makes them compact again.
    assert (net.delays == 0.5).all() and net.delays.shape == (m,)
    assert net.nbytes / m >= 20.0
    eventsim.simulate(net, np.zeros((1, 0)), t_max=2.0, seed=1)
    net.delays = net.delays
    assert net._delays is None and net.nbytes / m <= 12.5


def test_delays_property_after_compaction_and_in_place_edits(rng):
    net, x = _recurrent(rng, "alpha", _DELAYS["equal"])
    m = net.n_synapses
    np.testing.assert_array_equal(net.delays, np.full(m, 0.25))
    want = eventsim.simulate(net, x).times
    d = net.delays
    d[0] = 0.75                                     # live: edits in place take effect
    assert net._delays is d
    edited = eventsim.simulate(net, x).times
    net.delays = np.full(m, 0.25)                   # equal again: compact
    assert net._delays is None and net._delay_value == 0.25
    np.testing.assert_array_equal(eventsim.simulate(net, x).times, want)
    uneven = rng.uniform(0, 0.5, m)
    net.delays = uneven
    assert net._delays is not None
    np.testing.assert_array_equal(net.delays, uneven)
    net.delays = 0.25 * np.ones(m)
    assert net._delays is None
    np.testing.assert_array_equal(net.delays, np.full(m, 0.25))
    d = net.delays
    d[0] = 0.75
    np.testing.assert_array_equal(eventsim.simulate(net, x).times, edited)
    # -0.0 and 0.0 are different bits: they are not one delay.
    net.delays = np.where(np.arange(m) % 2, -0.0, 0.0)
    assert net._delays is not None
    with pytest.raises(ValueError, match="delays must have shape"):
        net.delays = np.zeros(m + 1)
    with pytest.raises(ValueError, match="delays must be >= 0"):
        net.delays = np.full(m, -1.0)


def test_presynaptic_neurons_are_derived_from_indptr(rng):
    net, _ = _recurrent(rng, "alpha", _DELAYS["unsorted"])
    pre = net.pre
    ind = net.indptr
    np.testing.assert_array_equal(pre, np.repeat(np.arange(net.n_neurons), np.diff(ind)))
    for k in (0, net.n_synapses // 2, net.n_synapses - 1):
        assert net._pre_of(k) == pre[k]
    assert "_pre" not in vars(net)


@pytest.mark.parametrize("how", ["equal", "unsorted"])
def test_compact_networks_round_trip_through_pickle_and_checkpoints(rng, tmp_path, how):
    import pickle

    from eventsim.training import network_from_arrays, network_to_arrays

    net, x = _recurrent(rng, "alpha", _DELAYS[how])
    want = eventsim.simulate(net, x).times
    desc, arrays = network_to_arrays(net)
    assert arrays["delays"].shape == (net.n_synapses,) and arrays["delays"].flags.writeable
    np.savez(tmp_path / "net.npz", **arrays)
    with np.load(tmp_path / "net.npz") as f:
        loaded = network_from_arrays(desc, dict(f))
    for other in (pickle.loads(pickle.dumps(net)), net.copy(), loaded):
        assert (other._delays is None) == (how == "equal")
        assert other.nbytes <= net.nbytes
        np.testing.assert_array_equal(other.delays, net.delays)
        np.testing.assert_array_equal(other.pre, net.pre)
        np.testing.assert_array_equal(eventsim.simulate(other, x).times, want)


def test_networks_pickled_with_the_old_layout_load(rng):
    import pickle

    net, x = _recurrent(rng, "alpha", _DELAYS["equal"])
    want = eventsim.simulate(net, x).times
    state = dict(net.__getstate__() if hasattr(net, "__getstate__") else vars(net))
    # The layout before compact storage: every presynaptic neuron and delay.
    state["_pre"] = net.pre.copy()
    state["_delays"] = np.full(net.n_synapses, 0.25)
    del state["_delay_value"]
    old = eventsim.Network.__new__(eventsim.Network)
    old.__setstate__(state)
    assert old._delays is None and old._delay_value == 0.25
    np.testing.assert_array_equal(eventsim.simulate(old, x).times, want)
